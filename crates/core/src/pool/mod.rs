//! The pool engine: psycopg_pool's algorithms on tokio, shared by all four JavaScript pool
//! classes. The regular and the null pool differ only where `PoolKind` says.
//!
//! One `std::sync::Mutex` guards the pool's state and is never held across an await: every
//! wait (for a connection, a connect, a rollback, a hook) happens outside it.
//!
//! The pool works on any `PoolConnection` (pooled.rs); `Connection` is the default, and the
//! policy's own tests use a stand-in. Times come from tokio's clock, so those tests run on
//! paused time.

mod abort;
mod backoff;
mod callbacks;
mod check;
mod config;
mod connect;
mod failfast;
mod getconn;
mod histogram;
mod leaks;
mod lifecycle;
mod maintenance;
mod one_shot;
mod pooled;
mod reconnect;
mod returns;
mod ride;
mod shared;
mod stats;
mod tasks;
mod ticket;
mod unclaimed;
mod waiter;

use std::sync::Arc;
use std::time::Duration;

pub use abort::Abort;
pub use backoff::{jitter, Attempt, DELAY_BACKOFF, DELAY_JITTER, INITIAL_DELAY};
pub use callbacks::{
    remembered_params, BoxFuture, Callbacks, ConnectParams, ConnectionHook, Level, Logger, ReconnectFailed,
};
pub use check::check_connection;
pub use config::{
    check_sizes, deadline_after, pool_size, seconds, whole_number, IdleOrder, PoolConfig, PoolKind, PoolOptions,
    Settings, DEFAULT_PIPELINE_DEPTH, MAX_PIPELINE_DEPTH, MAX_POOL_SIZE, MAX_WORKERS, NO_LIMIT,
};
pub use histogram::{Histogram, BUCKET_BOUNDS_MS};
pub use pooled::{PoolConnection, DEFAULT_CONNECT_TIMEOUT};
pub use reconnect::PROMPT_RETRY;
pub use ride::Statement;
pub use stats::{Counters, Durations, Stats};
pub use ticket::{Lease, Ticket};

use crate::connection::Connection;
use crate::error::Result;
use shared::{Checkout, Shared};

/// What a pool call produced: its result already, or the work left for the runtime. Calls
/// that need no I/O finish on the caller's thread, with no hop to the runtime and back.
pub enum Outcome<T> {
    Now(T),
    Later(BoxFuture<T>),
}

impl<T> Outcome<T> {
    pub async fn finish(self) -> T {
        match self {
            Outcome::Now(value) => value,
            Outcome::Later(future) => future.await,
        }
    }
}

pub struct Pool<C: PoolConnection = Connection> {
    shared: Arc<Shared<C>>,
}

impl<C: PoolConnection> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

impl<C: PoolConnection> Pool<C> {
    /// A new pool, not open yet. Sizes must have passed `check_sizes`.
    pub fn new(config: PoolConfig, callbacks: Callbacks<C>) -> Pool<C> {
        Pool {
            shared: Arc::new(Shared::new(config, callbacks)),
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn close_returns(&self) -> bool {
        self.shared.close_returns
    }

    pub fn closed(&self) -> bool {
        self.shared.state().closed
    }

    pub fn sizes(&self) -> (usize, usize) {
        let state = self.shared.state();
        (state.min_size, state.max_size)
    }

    /// Whether two handles are the same pool.
    pub fn same_pool(&self, other: &Pool<C>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Starts the workers and the initial fill. Must run inside the tokio runtime.
    pub fn open(&self) -> Result<()> {
        self.shared.open()
    }

    /// Waits until `min_size` connections are idle; on timeout closes the pool (psycopg).
    pub async fn wait(&self, timeout: Duration) -> Result<()> {
        self.shared.wait(timeout).await
    }

    pub async fn close(&self, timeout: Duration) {
        self.shared.close(timeout).await
    }

    /// Asks for a connection. The request takes an idle connection or joins the queue right
    /// now, in call order. An idle connection with nothing left to run on it (no `check`, no
    /// deferred `configure`) is handed out at once; otherwise the rest is a future.
    pub fn getconn(&self, timeout: Option<Duration>) -> Outcome<Result<Lease<C>>> {
        match self.check_out(timeout) {
            Outcome::Now(checkout) => Outcome::Now(checkout.map(|checkout| Lease::new(self, checkout))),
            Outcome::Later(checkout) => {
                let pool = self.clone();
                Outcome::Later(Box::pin(async move { Ok(Lease::new(&pool, checkout.await?)) }))
            }
        }
    }

    /// `getconn` without the client's ticket, for calls that return the connection themselves.
    fn check_out(&self, timeout: Option<Duration>) -> Outcome<Result<Checkout<C>>> {
        let shared = self.shared.clone();
        match shared.request(timeout, None) {
            Err(e) => Outcome::Now(Err(e)),
            Ok(request) => match shared.ready_now(request) {
                Ok(checkout) => Outcome::Now(Ok(checkout)),
                Err(request) => Outcome::Later(Box::pin(async move { shared.serve(request).await })),
            },
        }
    }

    /// Gives a connection back: `ticket` must be one of this pool's current checkouts (none,
    /// another pool's, or one already returned is refused, naming the culprit). An idle,
    /// unexpired connection with no `reset` to run goes back at once; otherwise the return
    /// (rollback, reset, replacement) is a future.
    pub fn putconn(&self, ticket: Option<&Ticket<C>>) -> Outcome<Result<()>> {
        match self.lease_id(ticket).and_then(|id| self.shared.take_checked_out(id)) {
            Err(e) => Outcome::Now(Err(e)),
            Ok(slot) => self.shared.putconn(slot),
        }
    }

    /// Ends a `connection(fn)` block: commits if `succeeded`, else rolls back, then returns the
    /// connection and counts the usage time. Returns the commit's error, if any, after the
    /// connection is back. With nothing to commit or roll back it may finish at once.
    pub fn finish_use(&self, ticket: Option<&Ticket<C>>, succeeded: bool) -> Outcome<Result<()>> {
        match self.lease_id(ticket).and_then(|id| self.shared.take_checked_out(id)) {
            Err(e) => Outcome::Now(Err(e)),
            Ok(slot) => self.shared.finish_use(slot, succeeded),
        }
    }

    /// A checked-out connection its client dropped without returning it (its JavaScript object
    /// was garbage-collected): give it back rather than lose the slot for good. Callable from
    /// any thread, also while the process exits: an idle connection goes back at once; one that
    /// needs a rollback is returned on the pool's runtime, if that is still running.
    fn reclaim(&self, id: u64) {
        self.shared.reclaim(id)
    }

    pub fn resize(&self, min_size: usize, max_size: Option<usize>) -> Result<()> {
        self.shared.resize(min_size, max_size)
    }

    pub async fn check(&self) {
        self.shared.check().await
    }

    pub async fn drain(&self) {
        self.shared.drain().await
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats(false)
    }

    pub fn pop_stats(&self) -> Stats {
        self.shared.stats(true)
    }
}
