//! A pool call's AbortSignal (`getconn`, `connection`, `query` with `{ signal }`): aborted
//! while waiting for a connection, the request leaves the queue (its future is dropped, see
//! `unclaimed.rs`); aborted while its statement runs, the statement is cancelled on the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::one_shot::Held;
use super::{Lease, Outcome, Pool, PoolConnection};
use crate::cancel::AbortHandle;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::params::Param;
use crate::result::{QueryResult, ResultFormats, RowSink};

#[derive(Default)]
pub struct Abort {
    /// The statement's switch, as a connection's own abortable requests have one.
    request: Arc<AbortHandle>,
    woken: Notify,
    /// The connection the statement runs on, once the call has one.
    running_on: Mutex<Option<Arc<Connection>>>,
}

impl Abort {
    pub fn new() -> Arc<Abort> {
        Arc::default()
    }

    pub fn aborted(&self) -> bool {
        self.request.aborted()
    }

    /// Stops the call: a wait for a connection ends, a statement not started never starts,
    /// a statement running is cancelled on the server. A no-op once the call is done.
    pub async fn abort(&self) -> Result<()> {
        let conn = {
            let running_on = self.running_on.lock().unwrap();
            self.request.set_aborted();
            running_on.clone()
        };
        self.woken.notify_waiters();
        match conn {
            Some(conn) => conn.abort(&self.request).await,
            None => Ok(()),
        }
    }

    async fn until_aborted(&self) {
        loop {
            let woken = self.woken.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.aborted() {
                return;
            }
            woken.await;
        }
    }

    fn run_on(&self, conn: Option<Arc<Connection>>) {
        *self.running_on.lock().unwrap() = conn;
    }
}

fn aborted_waiting() -> Error {
    Error::Aborted("the request was aborted while waiting for a connection".into())
}

impl<C: PoolConnection> Pool<C> {
    /// `getconn` that `abort` can stop while it waits. A connection that arrives together
    /// with the abort is handed out: an abort never hides work done.
    pub async fn getconn_abortable(&self, timeout: Option<Duration>, abort: &Abort) -> Result<Lease<C>> {
        if abort.aborted() {
            return Err(aborted_waiting());
        }
        match self.getconn(timeout) {
            Outcome::Now(lease) => lease,
            Outcome::Later(getconn) => tokio::select! {
                biased;
                lease = getconn => lease,
                () = abort.until_aborted() => Err(aborted_waiting()),
            },
        }
    }
}

impl Pool {
    /// `query` that `abort` can stop: in the queue, or on the server while it runs.
    pub async fn query_abortable(
        &self,
        sql: &str,
        params: &[Param<'_>],
        timeout: Option<Duration>,
        rows: Option<RowSink>,
        formats: ResultFormats,
        abort: &Abort,
    ) -> Result<QueryResult> {
        let lease = self.getconn_abortable(timeout, abort).await?;
        let mut held = Held::new(self, lease.id());
        abort.run_on(Some(lease.conn.clone()));
        let outcome = lease
            .conn
            .query_with(sql, params, Some(&abort.request), rows, formats)
            .await;
        abort.run_on(None);
        held.release();
        let returned = self.finish_use(Some(&lease.ticket), outcome.is_ok()).finish().await;
        let result = outcome?;
        returned.map(|()| result)
    }
}
