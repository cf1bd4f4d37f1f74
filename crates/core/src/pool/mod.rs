//! The pool engine: psycopg_pool's algorithms on tokio
//! (https://www.psycopg.org/psycopg3/docs/api/pool.html), shared by all four
//! JavaScript pool classes. The regular and the null pool differ only where `PoolKind` says.
//!
//! One `std::sync::Mutex` guards the pool's state and is never held across an await: every
//! wait (for a connection, a connect, a rollback, a hook) happens outside it.

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
mod returns;
mod stats;
mod tasks;
mod unclaimed;
mod waiter;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

pub use abort::Abort;
pub use backoff::{jitter, Attempt, DELAY_BACKOFF, DELAY_JITTER, INITIAL_DELAY};
pub use callbacks::{BoxFuture, Callbacks, ConnectParams, ConnectionHook, Level, Logger, ReconnectFailed};
pub use check::check_connection;
pub use config::{
    check_sizes, deadline_after, pool_size, seconds, whole_number, PoolConfig, PoolKind, PoolOptions, Settings,
    MAX_POOL_SIZE, MAX_WORKERS, NO_LIMIT,
};
pub use histogram::{Histogram, BUCKET_BOUNDS_MS};
pub use stats::{Counters, Durations, Stats};

use crate::connection::{Connection, TransactionStatus};
use crate::error::Result;
use crate::params::Param;
use crate::result::{QueryResult, ResultFormats, RowSink};
use tasks::Task;
use waiter::Waiter;

/// How long a pool waits for a connection attempt when the conninfo sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Lease ids name one checkout, unique across pools: a connection's older lease (or another
/// pool's) can never return or reclaim it while a later client holds it.
static NEXT_LEASE_ID: AtomicU64 = AtomicU64::new(1);

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

/// A connection handed out by `getconn`; give it back with `putconn(id)`.
#[derive(Clone)]
pub struct Lease {
    pub id: u64,
    pub conn: Arc<Connection>,
}

/// A connection the pool manages, with the times that decide when it is replaced.
struct Slot {
    lease: Lease,
    created_at: Instant,
    expire_at: Instant,
    /// When it was last handed out (for `usage_ms`).
    handed_out_at: Option<Instant>,
    /// False while a deferred `configure` has yet to run (see `Callbacks::hooks_inline`).
    configured: bool,
}

#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    kind: PoolKind,
    num_workers: usize,
    close_returns: bool,
    /// Fixed at construction (psycopg lets them change; pgtide's API does not).
    settings: Settings,
    callbacks: Callbacks,
    state: Mutex<State>,
    /// The runtime the pool was opened on, for work started outside it (`reclaim`).
    runtime: Mutex<Option<tokio::runtime::Handle>>,
}

struct State {
    opened: bool,
    closed: bool,
    min_size: usize,
    max_size: usize,
    /// Idle connections: served from the front, returned to the back (round-robin use).
    idle: VecDeque<Slot>,
    waiting: VecDeque<Arc<Waiter>>,
    checked_out: HashMap<u64, Slot>,
    /// Connections managed: idle, checked out, or being prepared (psycopg's `_nconns`).
    nconns: usize,
    /// The fewest idle connections seen since the last shrink check.
    nconns_min: usize,
    growing: bool,
    drained_at: Option<Instant>,
    counters: Counters,
    /// Why the last connection attempt failed, until one succeeds (failfast.rs).
    last_connect_error: Option<crate::error::Error>,
    /// Set while `wait()` waits for the pool to fill.
    filled: Option<Arc<Notify>>,
    tasks: Option<mpsc::UnboundedSender<Task>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Flips to true at close, so scheduled tasks stop sleeping.
    closing: Option<watch::Sender<bool>>,
}

impl Pool {
    /// A new pool, not open yet. Sizes must have passed `check_sizes`.
    pub fn new(config: PoolConfig, callbacks: Callbacks) -> Pool {
        let nconns = match config.kind {
            PoolKind::Regular => config.min_size,
            PoolKind::Null => 0,
        };
        let state = State {
            opened: false,
            closed: true,
            min_size: config.min_size,
            max_size: config.max_size,
            idle: VecDeque::new(),
            waiting: VecDeque::new(),
            checked_out: HashMap::new(),
            nconns,
            nconns_min: config.min_size,
            growing: false,
            drained_at: None,
            counters: Counters::default(),
            last_connect_error: None,
            filled: None,
            tasks: None,
            workers: Vec::new(),
            closing: None,
        };
        Pool {
            shared: Arc::new(Shared {
                name: config.name,
                kind: config.kind,
                num_workers: config.num_workers,
                close_returns: config.close_returns && config.kind == PoolKind::Regular,
                settings: config.settings,
                callbacks,
                state: Mutex::new(state),
                runtime: Mutex::new(None),
            }),
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
    pub fn same_pool(&self, other: &Pool) -> bool {
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
    pub fn getconn(&self, timeout: Option<Duration>) -> Outcome<Result<Lease>> {
        let shared = self.shared.clone();
        match shared.request(timeout) {
            Err(e) => Outcome::Now(Err(e)),
            Ok(request) => match shared.ready_now(request) {
                Ok(lease) => Outcome::Now(Ok(lease)),
                Err(request) => Outcome::Later(Box::pin(async move { shared.serve(request).await })),
            },
        }
    }

    /// Gives a connection back. An idle, unexpired connection with no `reset` to run goes
    /// back at once; otherwise the return (rollback, reset, replacement) is a future.
    pub fn putconn(&self, id: u64) -> Outcome<Result<()>> {
        let shared = self.shared.clone();
        match shared.take_checked_out(id) {
            Err(e) => Outcome::Now(Err(e)),
            Ok(slot) => {
                shared.log(Level::Info, || {
                    format!("returning connection to {}", shared.quoted_name())
                });
                match shared.return_now(slot) {
                    Ok(()) => Outcome::Now(Ok(())),
                    Err(slot) => Outcome::Later(Box::pin(async move {
                        shared.give_back(slot).await;
                        Ok(())
                    })),
                }
            }
        }
    }

    /// Ends a `connection(fn)` block: commits if `succeeded`, else rolls back, then returns the
    /// connection and counts the usage time. Returns the commit's error, if any, after the
    /// connection is back. With nothing to commit or roll back it may finish at once.
    pub fn finish_use(&self, id: u64, succeeded: bool) -> Outcome<Result<()>> {
        let shared = self.shared.clone();
        match shared.take_checked_out(id) {
            Err(e) => Outcome::Now(Err(e)),
            Ok(slot) => shared.finish_use(slot, succeeded),
        }
    }

    /// `connection(fn)` around one statement, in one call: takes a connection, runs `sql`,
    /// commits or rolls back, and gives the connection back. The statement's error wins over
    /// the return's; a caller that goes away midway leaves nothing checked out.
    /// `rows` streams a large result's rows as they arrive (see `RowSink`); the columns come in
    /// `formats`.
    pub async fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
        timeout: Option<Duration>,
        rows: Option<RowSink>,
        formats: ResultFormats,
    ) -> Result<QueryResult> {
        self.one_shot(timeout, |conn| async move {
            conn.query_with(sql, params, None, rows, formats).await
        })
        .await
    }

    /// `query` over the simple protocol (`Connection::simple_query`): any number of statements
    /// without parameters, one result each.
    pub async fn simple_query(&self, sql: &str, timeout: Option<Duration>) -> Result<Vec<QueryResult>> {
        self.one_shot(timeout, |conn| async move { conn.simple_query(sql, None).await })
            .await
    }

    /// Takes a connection, runs `work` on it, commits or rolls back, and gives it back.
    async fn one_shot<T, F, W>(&self, timeout: Option<Duration>, work: W) -> Result<T>
    where
        W: FnOnce(Arc<Connection>) -> F,
        F: std::future::Future<Output = Result<T>>,
    {
        let lease = self.getconn(timeout).finish().await?;
        let mut held = Held {
            pool: self,
            id: Some(lease.id),
        };
        let outcome = work(lease.conn).await;
        held.id = None;
        let returned = self.finish_use(lease.id, outcome.is_ok()).finish().await;
        let result = outcome?;
        returned.map(|()| result)
    }

    /// A checked-out connection its client dropped without returning it (its JavaScript object
    /// was garbage-collected): give it back rather than lose the slot for good. Callable from
    /// any thread, also while the process exits: an idle connection goes back at once; one that
    /// needs a rollback is returned on the pool's runtime, if that is still running.
    pub fn reclaim(&self, id: u64) {
        let Ok(slot) = self.shared.take_checked_out(id) else {
            return;
        };
        self.shared.log(Level::Warning, || {
            format!(
                "a connection of pool {} was dropped without being returned: returning it now (use connection(), or putconn() every getconn())",
                self.shared.quoted_name()
            )
        });
        let Err(slot) = self.shared.return_now(slot) else {
            return;
        };
        let Some(runtime) = self.shared.runtime.lock().unwrap().clone() else {
            return;
        };
        let shared = self.shared.clone();
        // A runtime shutting down may refuse the task: then the connection just closes with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.spawn(async move { shared.give_back(slot).await });
        }));
    }

    /// A checked-out connection's `close()`: returns it when `close_returns` is on; otherwise
    /// the caller closes it (and its slot is replaced when it comes back).
    pub fn is_checked_out(&self, id: u64) -> bool {
        self.shared.state().checked_out.contains_key(&id)
    }

    /// Whether the checkout `id` still holds its connection; once returned, the wrapper that
    /// took it must not touch the connection (it may serve another client by now).
    pub fn check_lease(&self, id: u64) -> Result<()> {
        if self.is_checked_out(id) {
            return Ok(());
        }
        Err(crate::error::Error::Interface(format!(
            "this connection was returned to pool {}: it may be serving another client, so this \
             object can no longer use it (take another with getconn())",
            self.shared.quoted_name()
        )))
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

/// How log lines name a connection, with psycopg's status tokens (`[INTRANS]`, `[BAD]`...).
fn describe(conn: &Connection) -> String {
    let status = match conn.transaction_status() {
        TransactionStatus::Idle => "IDLE",
        TransactionStatus::Active => "ACTIVE",
        TransactionStatus::InTrans => "INTRANS",
        TransactionStatus::InError => "INERROR",
        TransactionStatus::Unknown => "BAD",
    };
    format!(
        "<connection [{status}] backend_pid={} at {}>",
        conn.backend_pid(),
        conn.target().describe()
    )
}

fn next_lease_id() -> u64 {
    NEXT_LEASE_ID.fetch_add(1, Ordering::Relaxed)
}

/// Checks a slot out under a fresh lease id.
fn hand_out(state: &mut State, mut slot: Slot) -> Lease {
    slot.lease.id = next_lease_id();
    slot.handed_out_at = Some(Instant::now());
    let lease = slot.lease.clone();
    state.checked_out.insert(lease.id, slot);
    lease
}

/// Closes a connection the pool is done with, without waiting for it.
impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than refusing all further work, so recover the guard.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn log(&self, level: Level, message: impl FnOnce() -> String) {
        if let Some(logger) = &self.callbacks.logger {
            if level >= self.callbacks.log_level {
                logger(level, message());
            }
        }
    }

    fn quoted_name(&self) -> String {
        format!("'{}'", self.name)
    }

    fn run_task(&self, state: &State, task: Task) {
        if let Some(tasks) = &state.tasks {
            let _ = tasks.send(task);
        }
    }

    /// Queues `task` after `delay`, unless the pool closes first.
    fn schedule_task(self: &Arc<Self>, state: &State, task: Task, delay: Duration) {
        let Some(closing) = &state.closing else { return };
        let mut closing = closing.subscribe();
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {
                    if let Some(pool) = pool.upgrade() {
                        let state = pool.state();
                        pool.run_task(&state, task);
                    }
                }
                _ = closing.wait_for(|closed| *closed) => {}
            }
        });
    }

    fn resize(self: &Arc<Self>, min_size: usize, max_size: Option<usize>) -> Result<()> {
        let (min_size, max_size) = check_sizes(self.kind, min_size, max_size)?;
        let mut state = self.state();
        let grow = min_size.saturating_sub(state.min_size);
        self.log(Level::Info, || {
            format!(
                "resizing {} to min_size={min_size} max_size={max_size}",
                self.quoted_name()
            )
        });
        state.min_size = min_size;
        state.max_size = max_size;
        if self.kind == PoolKind::Null {
            return Ok(());
        }
        state.nconns += grow;
        for _ in 0..grow {
            self.run_task(
                &state,
                Task::AddConnection {
                    attempt: None,
                    growing: false,
                },
            );
        }
        Ok(())
    }

    async fn drain(self: &Arc<Self>) {
        let idle = {
            let mut state = self.state();
            state.drained_at = Some(Instant::now());
            let idle = std::mem::take(&mut state.idle);
            for _ in 0..idle.len() {
                self.run_task(
                    &state,
                    Task::AddConnection {
                        attempt: None,
                        growing: false,
                    },
                );
            }
            idle
        };
        for slot in idle {
            slot.lease.conn.close().await;
        }
    }

    fn stats(&self, pop: bool) -> Stats {
        let mut state = self.state();
        let counters = if pop {
            std::mem::take(&mut state.counters)
        } else {
            state.counters.clone()
        };
        Stats {
            pool_min: state.min_size as u64,
            pool_max: state.max_size as u64,
            pool_size: state.nconns as u64,
            pool_available: state.idle.len() as u64,
            requests_waiting: state.waiting.len() as u64,
            counters,
        }
    }
}

/// A lease `Pool::query` holds: reclaimed if the query is dropped before its return.
struct Held<'a> {
    pool: &'a Pool,
    id: Option<u64>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.pool.reclaim(id);
        }
    }
}
