//! Holds on the session: a request's (`Hold`, for one call) and a cursor's, COPY's or
//! pipeline's (`OwnedHold`, across calls). Either one, dropped mid-exchange, leaves the socket
//! out of step with the server, so it marks the connection broken.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{MutexGuard, OwnedMutexGuard};

use super::{Connection, Session};
use crate::cancel::AbortHandle;
use crate::error::{Error, Result};

impl Connection {
    /// Takes the session for one request: lets the idle reader go, waits for the session and
    /// for any CancelRequest still on its way, and refuses if the connection is unusable or
    /// the request was aborted before it started.
    pub(super) async fn acquire(&self, abort: Option<&Arc<AbortHandle>>) -> Result<Hold<'_>> {
        let hold = self.take_session().await;
        self.ensure_usable()?;
        self.cancels.settled().await;
        if !self.cancels.request_started(abort) {
            return Err(Error::aborted());
        }
        Ok(hold)
    }

    /// Takes the session whatever the connection's state (closing needs it too).
    pub(super) async fn take_session(&self) -> Hold<'_> {
        self.idle_reading.want_session();
        let session = self.session.lock().await;
        self.idle_reading.got_session();
        self.active.store(true, Ordering::Release);
        Hold {
            conn: self,
            session: Some(session),
            exchanging: false,
        }
    }

    /// `take_session` for a hold that outlives one call.
    pub(super) async fn take_session_owned(self: &Arc<Self>) -> OwnedHold {
        self.idle_reading.want_session();
        let session = self.session.clone().lock_owned().await;
        self.idle_reading.got_session();
        self.active.store(true, Ordering::Release);
        OwnedHold {
            conn: self.clone(),
            session: Some(session),
            exchanging: false,
        }
    }
}

/// A request's hold on the session. Dropped before `done()`, mid-exchange (its future was
/// dropped: a caller gave up on it), it marks the connection broken, since the socket is then
/// out of step with the server.
pub(super) struct Hold<'a> {
    conn: &'a Connection,
    session: Option<MutexGuard<'a, Session>>,
    exchanging: bool,
}

impl Hold<'_> {
    pub(super) fn exchange(&mut self) -> &mut Session {
        self.exchanging = true;
        self.session.as_mut().expect("the session is held until the hold drops")
    }

    pub(super) fn done(&mut self) {
        self.exchanging = false;
        if let Some(session) = self.session.as_mut() {
            // Whatever a failed request queued and never sent must not ride with the next one.
            session.wire.out.clear();
        }
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let session = self.session.take();
        self.conn.end_hold(self.exchanging, move || drop(session));
    }
}

impl Connection {
    /// What ends every hold on the session (a request's or a cursor's), `release` letting go
    /// of the lock itself. A hold ended mid-exchange leaves the socket out of step: broken.
    pub(super) fn end_hold(&self, out_of_step: bool, release: impl FnOnce()) {
        if out_of_step {
            self.mark_broken();
        }
        self.cancels.request_ended();
        self.active.store(false, Ordering::Release);
        // Let go of the session before telling the idle reader it may take it.
        release();
        self.idle_reading.released_session();
    }
}

/// A hold on the session across calls (a cursor's, a COPY's, a pipeline's), owning its
/// connection.
pub(super) struct OwnedHold {
    pub(super) conn: Arc<Connection>,
    session: Option<OwnedMutexGuard<Session>>,
    /// A call was interrupted mid-exchange (its future dropped): the socket is out of step.
    pub(super) exchanging: bool,
}

impl OwnedHold {
    pub(super) fn session(&mut self) -> &mut Session {
        self.session.as_mut().expect("the session is held until the hold drops")
    }

    /// Ends, on the connection's runtime, an exchange whose owner (a cursor, a COPY, a
    /// pipeline) was dropped unfinished: `finish` closes the portal, aborts the COPY or sends
    /// the last Sync. Until it has run the hold counts as mid-exchange, so a runtime shutting
    /// down that refuses the task drops the hold here and the connection is marked broken.
    pub(super) fn finish_in_background<F, Fut>(mut self, finish: F)
    where
        F: FnOnce(Arc<Connection>, OwnedHold) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.exchanging = true;
        let conn = self.conn.clone();
        let runtime = conn.runtime.clone();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            runtime.spawn(finish(conn, self));
        }));
    }
}

impl Drop for OwnedHold {
    fn drop(&mut self) {
        let session = self.session.take();
        self.conn.end_hold(self.exchanging, move || drop(session));
    }
}
