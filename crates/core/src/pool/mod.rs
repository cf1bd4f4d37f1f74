//! The pool engine: psycopg_pool's algorithms on tokio (spec §3–§4), shared by all four
//! JavaScript pool classes. The regular and the null pool differ only where `PoolKind` says.
//!
//! One `std::sync::Mutex` guards the pool's state and is never held across an await: every
//! wait (for a connection, a connect, a rollback, a hook) happens outside it.

mod backoff;
mod callbacks;
mod check;
mod config;
mod stats;
mod tasks;
mod waiter;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};

pub use backoff::{jitter, Attempt, DELAY_BACKOFF, DELAY_JITTER, INITIAL_DELAY};
pub use callbacks::{BoxFuture, Callbacks, ConnectParams, ConnectionHook, Level, Logger, ReconnectFailed};
pub use check::check_connection;
pub use config::{check_sizes, PoolConfig, PoolKind, Settings};
pub use stats::{Counters, Stats};

use crate::connection::{Connection, TransactionStatus};
use crate::error::{Error, Result};
use stats::millis;
use tasks::Task;
use waiter::Waiter;

/// Lease ids name one checkout, unique across pools: a connection's older lease (or another
/// pool's) can never return or reclaim it while a later client holds it.
/// How long a pool waits for a connection attempt when the conninfo sets no `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

static NEXT_LEASE_ID: AtomicU64 = AtomicU64::new(1);

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
    settings: Mutex<Settings>,
    callbacks: Callbacks,
    state: Mutex<State>,
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
            filled: None,
            tasks: None,
            workers: Vec::new(),
            closing: None,
        };
        Pool {
            shared: Arc::new(Shared {
                name: config.name,
                kind: config.kind,
                num_workers: config.num_workers.max(1),
                close_returns: config.close_returns && config.kind == PoolKind::Regular,
                settings: Mutex::new(config.settings),
                callbacks,
                state: Mutex::new(state),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn kind(&self) -> PoolKind {
        self.shared.kind
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

    pub fn settings(&self) -> Settings {
        self.shared.settings()
    }

    pub fn set_settings(&self, settings: Settings) {
        *self.shared.settings.lock().unwrap() = settings;
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
    /// now, in call order; the returned future waits for it (and runs `configure`/`check`).
    pub fn getconn(&self, timeout: Option<Duration>) -> impl Future<Output = Result<Lease>> + Send + 'static {
        let shared = self.shared.clone();
        let request = shared.request(timeout);
        async move { shared.serve(request?).await }
    }

    pub async fn putconn(&self, id: u64) -> Result<()> {
        self.shared.putconn(id).await
    }

    /// Ends a `connection(fn)` block: commits if `succeeded`, else rolls back, then returns the
    /// connection and counts the usage time. Returns the commit's error, if any, after the
    /// connection is back.
    pub async fn finish_use(&self, id: u64, succeeded: bool) -> Result<()> {
        self.shared.finish_use(id, succeeded).await
    }

    /// A checked-out connection its client dropped without returning it (its JavaScript object
    /// was garbage-collected): give it back rather than lose the slot for good.
    pub async fn reclaim(&self, id: u64) {
        let Ok(slot) = self.shared.take_checked_out(id) else {
            return;
        };
        self.shared.log(Level::Warning, || {
            format!(
                "a connection of pool {} was dropped without being returned: returning it now (use connection(), or putconn() every getconn())",
                self.shared.quoted_name()
            )
        });
        self.shared.give_back(slot).await;
    }

    /// A checked-out connection's `close()`: returns it when `close_returns` is on; otherwise
    /// the caller closes it (and its slot is replaced when it comes back).
    pub fn is_checked_out(&self, id: u64) -> bool {
        self.shared.state().checked_out.contains_key(&id)
    }

    pub fn resize(&self, min_size: i64, max_size: Option<i64>) -> Result<()> {
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
fn close_in_background(conn: Arc<Connection>) {
    tokio::spawn(async move { conn.close().await });
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than refusing all further work, so recover the guard.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
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

    fn open(self: &Arc<Self>) -> Result<()> {
        let mut state = self.state();
        if !state.closed {
            return Ok(());
        }
        if state.opened {
            return Err(Error::PoolClosed(
                "pool has already been opened/closed and cannot be reused".into(),
            ));
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        state.workers = (0..self.num_workers)
            .map(|_| tokio::spawn(tasks::worker(Arc::downgrade(self), receiver.clone())))
            .collect();
        state.tasks = Some(sender);
        state.closing = Some(watch::channel(false).0);
        state.closed = false;
        state.opened = true;
        if self.kind == PoolKind::Regular {
            for _ in 0..state.nconns {
                self.run_task(
                    &state,
                    Task::AddConnection {
                        attempt: None,
                        growing: false,
                    },
                );
            }
            self.run_task(&state, Task::ScheduleShrink);
        }
        Ok(())
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

    fn check_open(&self, state: &State) -> Result<()> {
        if !state.closed {
            Ok(())
        } else if state.opened {
            Err(Error::PoolClosed(format!(
                "the pool {} is already closed",
                self.quoted_name()
            )))
        } else {
            Err(Error::PoolClosed(format!(
                "the pool {} is not open yet",
                self.quoted_name()
            )))
        }
    }

    async fn wait(self: &Arc<Self>, timeout: Duration) -> Result<()> {
        let filled = {
            let mut state = self.state();
            self.check_open(&state)?;
            if state.filled.is_some() {
                return Err(Error::Interface(format!(
                    "wait() is already running on pool {}",
                    self.quoted_name()
                )));
            }
            if self.kind == PoolKind::Regular && state.idle.len() >= state.min_size {
                return Ok(());
            }
            let filled = Arc::new(Notify::new());
            state.filled = Some(filled.clone());
            filled
        };
        self.log(Level::Info, || {
            format!("waiting for pool {} initialization", self.quoted_name())
        });
        let ready = match self.kind {
            PoolKind::Regular => tokio::time::timeout(timeout, filled.notified()).await.is_ok(),
            PoolKind::Null => tokio::time::timeout(timeout, self.probe()).await.is_ok(),
        };
        self.state().filled = None;
        if !ready {
            self.close(Duration::from_secs(5)).await;
            return Err(Error::PoolTimeout(format!(
                "pool initialization incomplete after {:?} sec",
                timeout.as_secs_f64()
            )));
        }
        self.log(Level::Info, || format!("pool {} is ready to use", self.quoted_name()));
        Ok(())
    }

    /// The null pool's `wait()`: proves it can connect (and configure) with one throwaway
    /// connection, retrying with the reconnection backoff until the caller's timeout.
    async fn probe(&self) {
        let mut attempt = Attempt::new(Duration::from_secs(24 * 3600));
        loop {
            match self.connect(true).await {
                Ok(slot) => {
                    slot.lease.conn.close().await;
                    return;
                }
                Err(e) => {
                    self.log(Level::Warning, || {
                        format!("error connecting in {}: {e}", self.quoted_name())
                    });
                    attempt.update_delay(Instant::now());
                    tokio::time::sleep(attempt.delay).await;
                }
            }
        }
    }

    async fn close(self: &Arc<Self>, timeout: Duration) {
        let (waiting, idle, workers) = {
            let mut state = self.state();
            if state.closed {
                return;
            }
            state.closed = true;
            if let Some(closing) = state.closing.take() {
                let _ = closing.send(true);
            }
            for _ in 0..state.workers.len() {
                self.run_task(&state, Task::Stop);
            }
            state.tasks = None;
            (
                std::mem::take(&mut state.waiting),
                std::mem::take(&mut state.idle),
                std::mem::take(&mut state.workers),
            )
        };
        self.log(Level::Debug, || format!("pool {} closed", self.quoted_name()));
        let unfinished = Arc::new(AtomicU64::new(workers.len() as u64));
        let joined = {
            let unfinished = unfinished.clone();
            async move {
                for worker in workers {
                    let _ = worker.await;
                    unfinished.fetch_sub(1, Ordering::Relaxed);
                }
            }
        };
        if tokio::time::timeout(timeout, joined).await.is_err() {
            let left = unfinished.load(Ordering::Relaxed);
            self.log(Level::Warning, || {
                format!(
                    "couldn't stop {left} worker task(s) of pool {} within {:?} seconds",
                    self.quoted_name(),
                    timeout.as_secs_f64()
                )
            });
        }
        for slot in idle {
            slot.lease.conn.close().await;
        }
        for waiter in waiting {
            waiter.fail(Error::PoolClosed(format!("the pool {} is closed", self.quoted_name())));
        }
    }

    /// The synchronous half of `getconn`: counts the request and takes its place.
    fn request(self: &Arc<Self>, timeout: Option<Duration>) -> Result<Request> {
        let timeout = timeout.unwrap_or_else(|| self.settings().timeout);
        let deadline = Instant::now() + timeout;
        self.log(Level::Info, || {
            format!("connection requested from {}", self.quoted_name())
        });
        {
            let mut state = self.state();
            state.counters.requests_num += 1;
            self.check_open(&state)?;
        }
        let first = self.take_or_queue(deadline).map_err(|e| timeout_message(e, timeout))?;
        Ok(Request {
            first,
            deadline,
            timeout,
        })
    }

    async fn serve(self: &Arc<Self>, request: Request) -> Result<Lease> {
        let Request {
            first,
            deadline,
            timeout,
        } = request;
        self.getconn_checked(first, deadline)
            .await
            .map_err(|e| timeout_message(e, timeout))
    }

    /// Serves a connection that passed the user's `check`, retrying with backoff (spec §4.12).
    async fn getconn_checked(self: &Arc<Self>, first: Ready, deadline: Instant) -> Result<Lease> {
        let mut attempt: Option<Attempt> = None;
        let mut next = Some(first);
        loop {
            let ready = match next.take() {
                Some(ready) => ready,
                // A retry after a failed check never serves past the deadline.
                None if Instant::now() >= deadline => return Err(Error::PoolTimeout(String::new())),
                None => self.take_or_queue(deadline)?,
            };
            let lease = self.lease_for(ready, deadline).await?;
            // A hook stuck on a silent connection must not outlive the client's deadline.
            let prepared = tokio::time::timeout_at(deadline.into(), self.prepare_for_client(&lease)).await;
            let Ok(prepared) = prepared else {
                self.log(Level::Warning, || {
                    format!(
                        "discarding connection stuck in configure or check: {}",
                        describe(&lease.conn)
                    )
                });
                let mut state = self.state();
                state.checked_out.remove(&lease.id);
                self.replace(&mut state, lease.conn);
                return Err(Error::PoolTimeout(String::new()));
            };
            match prepared {
                Ok(()) => {
                    self.log(Level::Info, || format!("connection given by {}", self.quoted_name()));
                    return Ok(lease);
                }
                Err(Unfit::Unconfigured(e)) => {
                    self.log(Level::Warning, || {
                        format!("error connecting in {}: {e}", self.quoted_name())
                    });
                    let mut state = self.state();
                    state.checked_out.remove(&lease.id);
                    self.replace(&mut state, lease.conn);
                }
                Err(Unfit::FailedCheck(e)) => {
                    self.log(Level::Info, || format!("connection failed check: {e}"));
                    let slot = self.state().checked_out.remove(&lease.id);
                    if let Some(slot) = slot {
                        self.return_connection(slot, true).await;
                    }
                }
            }
            let now = Instant::now();
            match &mut attempt {
                // The first retry is immediate; the budget is what is left until the deadline.
                None => attempt = Some(Attempt::new(deadline.saturating_duration_since(now))),
                Some(attempt) => attempt.update_delay(now),
            }
            let attempt = attempt.as_ref().expect("set just above");
            if attempt.time_to_give_up(now) {
                return Err(Error::PoolTimeout(String::new()));
            }
            tokio::time::sleep(attempt.delay).await;
        }
    }

    /// Runs a deferred `configure`, then the user's `check`, on the caller's path.
    async fn prepare_for_client(&self, lease: &Lease) -> Result<(), Unfit> {
        let configured = self
            .state()
            .checked_out
            .get(&lease.id)
            .is_none_or(|slot| slot.configured);
        if !configured {
            self.configure(&lease.conn).await.map_err(Unfit::Unconfigured)?;
            if let Some(slot) = self.state().checked_out.get_mut(&lease.id) {
                slot.configured = true;
            }
        }
        match &self.callbacks.check {
            Some(check) => check(lease.conn.clone()).await.map_err(Unfit::FailedCheck),
            None => Ok(()),
        }
    }

    /// Takes an idle connection, or queues for one (spec §4.5).
    /// Turns what `take_or_queue` found into a connection: at once, by connecting (null
    /// pools), or by waiting in the queue.
    async fn lease_for(self: &Arc<Self>, ready: Ready, deadline: Instant) -> Result<Lease> {
        match ready {
            Ready::Lease(lease) => Ok(lease),
            Ready::Connect => self.connect_for_client(deadline).await,
            Ready::Queued(mut client) => client.wait(deadline).await,
        }
    }

    fn take_or_queue(self: &Arc<Self>, deadline: Instant) -> Result<Ready> {
        let mut state = self.state();
        match self.kind {
            PoolKind::Regular => {
                if let Some(slot) = state.idle.pop_front() {
                    state.nconns_min = state.nconns_min.min(state.idle.len());
                    return Ok(Ready::Lease(hand_out(&mut state, slot)));
                }
            }
            PoolKind::Null => {
                if state.max_size == 0 || state.nconns < state.max_size {
                    state.nconns += 1;
                    return Ok(Ready::Connect);
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::PoolTimeout(String::new()));
        }
        let max_waiting = self.settings().max_waiting;
        if max_waiting > 0 && state.waiting.len() >= max_waiting {
            state.counters.requests_errors += 1;
            return Err(Error::TooManyRequests(format!(
                "the pool {} has already {} requests waiting",
                self.quoted_name(),
                state.waiting.len()
            )));
        }
        let waiter = Arc::new(Waiter::new());
        state.waiting.push_back(waiter.clone());
        state.counters.requests_queued += 1;
        self.maybe_grow(&mut state);
        Ok(Ready::Queued(QueuedClient {
            pool: self.clone(),
            waiter,
            started: Instant::now(),
            done: false,
        }))
    }

    /// A queued client gives up (timeout, or its future was dropped): it leaves the queue, and
    /// a connection handed to it meanwhile goes back to the pool, never to nobody.
    fn abandon(&self, waiter: &Arc<Waiter>) {
        let mut state = self.state();
        state.waiting.retain(|w| !Arc::ptr_eq(w, waiter));
        if let Some(lease) = waiter.leave() {
            if let Some(slot) = state.checked_out.remove(&lease.id) {
                self.add_to_pool(&mut state, slot);
            }
        }
    }

    /// Null pools: the client pays for its own connection (concurrent connects don't wait on
    /// each other, unlike psycopg's).
    async fn connect_for_client(self: &Arc<Self>, deadline: Instant) -> Result<Lease> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let outcome = match tokio::time::timeout(remaining, self.connect(true)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::PoolTimeout(String::new())),
        };
        let mut state = self.state();
        match outcome {
            Ok(slot) => Ok(hand_out(&mut state, slot)),
            Err(e) => {
                state.nconns -= 1;
                Err(e)
            }
        }
    }

    /// Starts one growth connection if clients wait and there is room (spec §4.7).
    fn maybe_grow(&self, state: &mut State) {
        if self.kind == PoolKind::Null || state.nconns >= state.max_size || state.growing {
            return;
        }
        state.nconns += 1;
        let size = state.nconns;
        self.log(Level::Info, || format!("growing pool {} to {size}", self.quoted_name()));
        state.growing = true;
        self.run_task(
            state,
            Task::AddConnection {
                attempt: None,
                growing: true,
            },
        );
    }

    /// Opens a connection with the pool's parameters, and runs `configure` on it unless that
    /// is deferred to its first hand-out (spec §4.8).
    async fn connect(&self, configure_now: bool) -> Result<Slot> {
        self.state().counters.connections_num += 1;
        let (mut info, options) = (self.callbacks.connect_params)().await?;
        // libpq would wait forever on a server that accepts and says nothing; a pool worker
        // (and with it the pool's growth) must not.
        info.connect_timeout.get_or_insert(DEFAULT_CONNECT_TIMEOUT);
        let started = Instant::now();
        let conn = match Connection::connect(&info, options).await {
            Ok(conn) => conn,
            Err(e) => {
                self.state().counters.connections_errors += 1;
                return Err(e);
            }
        };
        self.state().counters.connections_ms += millis(started.elapsed());
        if configure_now {
            self.configure(&conn).await?;
        }
        let created_at = Instant::now();
        let lifetime = jitter(self.settings().max_lifetime, -0.05, 0.0);
        let id = next_lease_id();
        Ok(Slot {
            lease: Lease { id, conn },
            created_at,
            expire_at: created_at + lifetime,
            handed_out_at: None,
            configured: configure_now || self.callbacks.configure.is_none(),
        })
    }

    /// The user's `configure`, which must leave the connection idle.
    async fn configure(&self, conn: &Arc<Connection>) -> Result<()> {
        let Some(configure) = &self.callbacks.configure else {
            return Ok(());
        };
        configure(conn.clone()).await?;
        let status = conn.transaction_status();
        if status != TransactionStatus::Idle {
            close_in_background(conn.clone());
            return Err(Error::Programming(format!(
                "connection left in status {} by configure function: discarded",
                status.as_str().to_uppercase()
            )));
        }
        Ok(())
    }

    async fn putconn(self: &Arc<Self>, id: u64) -> Result<()> {
        let slot = self.take_checked_out(id)?;
        self.log(Level::Info, || {
            format!("returning connection to {}", self.quoted_name())
        });
        self.give_back(slot).await;
        Ok(())
    }

    async fn finish_use(self: &Arc<Self>, id: u64, succeeded: bool) -> Result<()> {
        let slot = self.take_checked_out(id)?;
        let conn = &slot.lease.conn;
        let mut outcome = Ok(());
        if !conn.closed() && !conn.broken() {
            if succeeded {
                outcome = conn.commit().await;
            } else if let Err(e) = conn.rollback().await {
                self.log(Level::Warning, || {
                    format!("error ignored in rollback on {}: {e}", describe(conn))
                });
            }
        }
        let used_since = slot.handed_out_at;
        self.give_back(slot).await;
        if let Some(since) = used_since {
            self.state().counters.usage_ms += millis(since.elapsed());
        }
        outcome
    }

    fn take_checked_out(&self, id: u64) -> Result<Slot> {
        self.state().checked_out.remove(&id).ok_or_else(|| {
            Error::Interface(format!(
                "can't return connection to pool {}, it doesn't come from any pool (or it was returned already)",
                self.quoted_name()
            ))
        })
    }

    /// The return path after a client is done (spec §4.10).
    async fn give_back(self: &Arc<Self>, slot: Slot) {
        let conn = slot.lease.conn.clone();
        if self.close_instead_of_returning(&conn) {
            conn.close().await;
            return;
        }
        if self.callbacks.reset.is_some() && !self.callbacks.hooks_inline {
            let state = self.state();
            self.run_task(
                &state,
                Task::ReturnConnection {
                    slot,
                    from_getconn: false,
                },
            );
        } else {
            self.return_connection(slot, false).await;
        }
    }

    /// A closed pool closes what comes back; a null pool too, unless a client waits for it.
    fn close_instead_of_returning(&self, conn: &Connection) -> bool {
        let mut state = self.state();
        let close = state.closed || (self.kind == PoolKind::Null && state.waiting.is_empty());
        if close && self.kind == PoolKind::Null {
            if conn.transaction_status() == TransactionStatus::Unknown {
                state.counters.returns_bad += 1;
            }
            state.nconns = state.nconns.saturating_sub(1);
        }
        close
    }

    /// Brings a connection back to idle and into the pool, or replaces it (spec §4.10).
    async fn return_connection(self: &Arc<Self>, slot: Slot, from_getconn: bool) {
        let conn = slot.lease.conn.clone();
        self.reset_connection(&conn).await;
        let mut state = self.state();
        if conn.transaction_status() == TransactionStatus::Unknown {
            if from_getconn {
                state.counters.connections_lost += 1;
                self.log(Level::Info, || "not serving connection found broken".into());
            } else {
                state.counters.returns_bad += 1;
                self.log(Level::Warning, || {
                    format!("discarding closed connection: {}", describe(&conn))
                });
            }
            self.replace(&mut state, conn);
            return;
        }
        let drained = state.drained_at.is_some_and(|at| slot.created_at <= at);
        if drained || slot.expire_at <= Instant::now() {
            self.log(Level::Info, || "discarding expired connection".into());
            self.replace(&mut state, conn);
            return;
        }
        self.add_to_pool(&mut state, slot);
    }

    /// Discards a connection and starts its replacement.
    fn replace(&self, state: &mut State, conn: Arc<Connection>) {
        close_in_background(conn);
        // The slot stays counted: its new connection goes to a waiter, or (null pool) is closed.
        self.run_task(
            state,
            Task::AddConnection {
                attempt: None,
                growing: false,
            },
        );
    }

    /// Rolls back what the client left open, then runs the `reset` hook (spec §4.10, §4.11).
    async fn reset_connection(&self, conn: &Arc<Connection>) {
        match conn.transaction_status() {
            TransactionStatus::Idle => {}
            TransactionStatus::InTrans | TransactionStatus::InError => {
                self.log(Level::Warning, || {
                    format!("rolling back returned connection: {}", describe(conn))
                });
                if let Err(e) = conn.rollback().await {
                    self.log(Level::Warning, || {
                        format!(
                            "rollback failed: {}: {e}. Discarding connection {}",
                            e.class_name(),
                            describe(conn)
                        )
                    });
                    conn.close().await;
                }
            }
            TransactionStatus::Active => {
                self.log(Level::Warning, || {
                    format!("closing returned connection: {}", describe(conn))
                });
                conn.close().await;
            }
            TransactionStatus::Unknown => return,
        }
        let Some(reset) = &self.callbacks.reset else { return };
        if conn.transaction_status() == TransactionStatus::Unknown {
            return;
        }
        let outcome = match reset(conn.clone()).await {
            Ok(()) if conn.transaction_status() != TransactionStatus::Idle => Err(Error::Programming(format!(
                "connection left in status {} by reset function: discarded",
                conn.transaction_status().as_str().to_uppercase()
            ))),
            outcome => outcome,
        };
        if let Err(e) = outcome {
            self.log(Level::Warning, || format!("error resetting connection: {e}"));
            conn.close().await;
        }
    }

    /// Hands a connection to the first live waiter, or puts it in the idle deque.
    fn add_to_pool(&self, state: &mut State, mut slot: Slot) {
        if state.closed {
            close_in_background(slot.lease.conn.clone());
            return;
        }
        while let Some(waiter) = state.waiting.pop_front() {
            let lease = Lease {
                id: next_lease_id(),
                conn: slot.lease.conn.clone(),
            };
            if waiter.offer(lease.clone()).is_ok() {
                slot.lease = lease;
                slot.handed_out_at = Some(Instant::now());
                state.checked_out.insert(slot.lease.id, slot);
                return;
            }
        }
        match self.kind {
            PoolKind::Regular => {
                slot.handed_out_at = None;
                state.idle.push_back(slot);
                if state.idle.len() >= state.min_size {
                    if let Some(filled) = &state.filled {
                        filled.notify_one();
                    }
                }
            }
            PoolKind::Null => {
                // No waiter: a null pool keeps nothing, and the slot is free again.
                close_in_background(slot.lease.conn.clone());
                state.nconns = state.nconns.saturating_sub(1);
            }
        }
    }

    fn resize(self: &Arc<Self>, min_size: i64, max_size: Option<i64>) -> Result<()> {
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

/// Why a connection taken for a client was not handed out.
enum Unfit {
    Unconfigured(Error),
    FailedCheck(Error),
}

/// What `getconn` found under the lock.
enum Ready {
    Lease(Lease),
    /// A null pool with room: the client connects.
    Connect,
    Queued(QueuedClient),
}

/// A `getconn` call, placed in the pool (or not) at call time.
struct Request {
    first: Ready,
    deadline: Instant,
    timeout: Duration,
}

/// psycopg reports every getconn time-out with the caller's timeout.
fn timeout_message(error: Error, timeout: Duration) -> Error {
    match error {
        Error::PoolTimeout(_) => Error::PoolTimeout(format!(
            "couldn't get a connection after {:.2} sec",
            timeout.as_secs_f64()
        )),
        other => other,
    }
}

/// A client in the queue. Dropped before it is served (its future was dropped), it leaves
/// the queue and gives back a connection that reached it meanwhile.
struct QueuedClient {
    pool: Arc<Shared>,
    waiter: Arc<Waiter>,
    started: Instant,
    done: bool,
}

impl QueuedClient {
    async fn wait(&mut self, deadline: Instant) -> Result<Lease> {
        let outcome = self.waiter.wait(deadline).await;
        self.done = true;
        let mut state = self.pool.state();
        state.counters.requests_wait_ms += millis(self.started.elapsed());
        match outcome {
            Some(Ok(lease)) => Ok(lease),
            Some(Err(e)) => {
                state.counters.requests_errors += 1;
                Err(e)
            }
            None => {
                // Timed out: leave the queue at once, and give back a connection that was
                // offered in the meantime.
                state.counters.requests_errors += 1;
                drop(state);
                self.pool.abandon(&self.waiter);
                Err(Error::PoolTimeout(String::new()))
            }
        }
    }
}

impl Drop for QueuedClient {
    fn drop(&mut self) {
        if !self.done {
            self.pool.state().counters.requests_errors += 1;
            self.pool.abandon(&self.waiter);
        }
    }
}
