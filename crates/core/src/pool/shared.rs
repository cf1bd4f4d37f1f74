//! The pool's state behind its lock, and the small operations every part of the engine uses:
//! checking a connection out and in, logging, queuing worker tasks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use super::reconnect::Reconnection;
use super::stats::Counters;
use super::tasks::Task;
use super::waiter::Waiter;
use super::{Callbacks, IdleOrder, Level, PoolConfig, PoolConnection, PoolKind, Settings};

/// Lease ids name one checkout, unique across pools; 0 means "none".
static NEXT_LEASE_ID: AtomicU64 = AtomicU64::new(1);

/// A connection the pool manages, with the times that decide when it is replaced.
pub(super) struct Slot<C> {
    pub(super) conn: Arc<C>,
    /// The checkout holding it (`Ticket::check` reads it without the pool lock); 0 while not
    /// checked out.
    pub(super) holder: Arc<AtomicU64>,
    /// `State::drains` when it was opened: a later `drain()` makes it one to replace.
    pub(super) generation: u64,
    pub(super) expire_at: Instant,
    /// When it was last handed out (for `usage_ms`).
    pub(super) handed_out_at: Option<Instant>,
    /// False while a deferred `configure` has yet to run (see `Callbacks::hooks_inline`).
    pub(super) configured: bool,
}

/// A connection checked out under lease `id`, before the pool wraps it for its client.
pub(super) struct Checkout<C> {
    pub(super) id: u64,
    pub(super) conn: Arc<C>,
    pub(super) holder: Arc<AtomicU64>,
}

pub(super) struct Shared<C: PoolConnection> {
    pub(super) name: String,
    pub(super) kind: PoolKind,
    pub(super) num_workers: usize,
    pub(super) close_returns: bool,
    pub(super) pipeline_depth: usize,
    pub(super) idle_order: IdleOrder,
    /// How many statements `State::slow_statements` holds, read without the lock.
    pub(super) slow_count: AtomicUsize,
    /// Fixed at construction (psycopg lets them change; pgtide's API does not).
    pub(super) settings: Settings,
    pub(super) callbacks: Callbacks<C>,
    state: Mutex<State<C>>,
    /// The runtime the pool was opened on, for work started outside it (`reclaim`).
    pub(super) runtime: Mutex<Option<tokio::runtime::Handle>>,
}

pub(super) struct State<C: PoolConnection> {
    pub(super) opened: bool,
    pub(super) closed: bool,
    pub(super) min_size: usize,
    pub(super) max_size: usize,
    /// Idle connections: served from the front, returned to the back (round-robin use).
    pub(super) idle: VecDeque<Slot<C>>,
    pub(super) waiting: VecDeque<Arc<Waiter<C>>>,
    pub(super) checked_out: HashMap<u64, Slot<C>>,
    /// Connections managed: idle, checked out, or being prepared (psycopg's `_nconns`).
    pub(super) nconns: usize,
    /// The fewest idle connections seen since the last shrink check.
    pub(super) nconns_min: usize,
    pub(super) growing: bool,
    /// How many times `drain()` ran (a count, not a time: exact on any clock).
    pub(super) drains: u64,
    pub(super) counters: Counters,
    /// The reconnection chains backing off, and who may call them early (reconnect.rs).
    pub(super) reconnection: Reconnection,
    /// Why the last connection attempt failed, until one succeeds (failfast.rs).
    pub(super) last_connect_error: Option<crate::error::Error>,
    /// Set while `wait()` waits for the pool to fill.
    pub(super) filled: Option<Arc<Notify>>,
    pub(super) tasks: Option<mpsc::UnboundedSender<Task<C>>>,
    pub(super) workers: Vec<tokio::task::JoinHandle<()>>,
    /// Flips to true at close, so scheduled tasks stop sleeping.
    pub(super) closing: Option<watch::Sender<bool>>,
    /// Statements (by `Ride::key`) last seen running long: they neither carry nor ride.
    pub(super) slow_statements: HashSet<u64>,
}

impl<C: PoolConnection> State<C> {
    /// Checks `slot` out under a fresh lease id.
    pub(super) fn check_out(&mut self, mut slot: Slot<C>) -> Checkout<C> {
        let id = next_lease_id();
        slot.holder.store(id, Ordering::Release);
        slot.handed_out_at = Some(Instant::now());
        let checkout = Checkout {
            id,
            conn: slot.conn.clone(),
            holder: slot.holder.clone(),
        };
        self.checked_out.insert(id, slot);
        checkout
    }

    /// Whether `drain()` ran since `slot` was opened.
    pub(super) fn drained(&self, slot: &Slot<C>) -> bool {
        slot.generation < self.drains
    }

    /// Ends checkout `id`: its ticket no longer holds the connection.
    pub(super) fn check_in(&mut self, id: u64) -> Option<Slot<C>> {
        let slot = self.checked_out.remove(&id)?;
        slot.holder.store(0, Ordering::Release);
        Some(slot)
    }
}

pub(super) fn next_lease_id() -> u64 {
    NEXT_LEASE_ID.fetch_add(1, Ordering::Relaxed)
}

/// How log lines name a connection, with psycopg's status tokens (`[INTRANS]`, `[BAD]`...).
pub(super) fn describe<C: PoolConnection>(conn: &C) -> String {
    use crate::connection::TransactionStatus;
    let status = match conn.transaction_status() {
        TransactionStatus::Idle => "IDLE",
        TransactionStatus::Active => "ACTIVE",
        TransactionStatus::InTrans => "INTRANS",
        TransactionStatus::InError => "INERROR",
        TransactionStatus::Unknown => "BAD",
    };
    format!("<connection [{status}] {}>", conn.describe())
}

impl<C: PoolConnection> Shared<C> {
    pub(super) fn new(config: PoolConfig, callbacks: Callbacks<C>) -> Shared<C> {
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
            drains: 0,
            counters: Counters::default(),
            reconnection: Reconnection::default(),
            last_connect_error: None,
            filled: None,
            tasks: None,
            workers: Vec::new(),
            closing: None,
            slow_statements: HashSet::new(),
        };
        Shared {
            name: config.name,
            kind: config.kind,
            num_workers: config.num_workers,
            close_returns: config.close_returns && config.kind == PoolKind::Regular,
            pipeline_depth: config.pipeline_depth,
            idle_order: config.idle_order,
            slow_count: AtomicUsize::new(0),
            settings: config.settings,
            callbacks,
            state: Mutex::new(state),
            runtime: Mutex::new(None),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State<C>> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than refusing all further work, so recover the guard.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(super) fn log(&self, level: Level, message: impl FnOnce() -> String) {
        if let Some(logger) = &self.callbacks.logger {
            if level >= self.callbacks.log_level {
                logger(level, message());
            }
        }
    }

    pub(super) fn quoted_name(&self) -> String {
        format!("'{}'", self.name)
    }

    pub(super) fn run_task(&self, state: &State<C>, task: Task<C>) {
        if let Some(tasks) = &state.tasks {
            let _ = tasks.send(task);
        }
    }

    /// Queues `task` after `delay`, unless the pool closes first.
    pub(super) fn schedule_task(self: &Arc<Self>, state: &State<C>, task: Task<C>, delay: Duration) {
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
}
