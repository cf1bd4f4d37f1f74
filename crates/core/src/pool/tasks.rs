//! Maintenance work, run by the pool's `num_workers` worker tasks: adding
//! connections with reconnection backoff, returns that run the `reset` hook,
//! and shrinking idle connections.

use std::sync::{Arc, Weak};

use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

use super::shared::Slot;
use super::{Attempt, Level, PoolConnection, Shared};

pub(super) enum Task<C: PoolConnection> {
    AddConnection {
        attempt: Option<Attempt>,
        growing: bool,
        /// Attempting every `PROMPT_RETRY` for the clients waiting (reconnect.rs).
        prober: bool,
    },
    ReturnConnection {
        slot: Slot<C>,
        from_getconn: bool,
    },
    /// Starts the periodic shrink check, `max_idle` after a worker picks this up.
    ScheduleShrink,
    ShrinkPool,
    Stop,
}

impl<C: PoolConnection> Task<C> {
    /// A first attempt at a connection that fills or replaces a slot already counted.
    pub(super) fn add_connection() -> Task<C> {
        Task::AddConnection {
            attempt: None,
            growing: false,
            prober: false,
        }
    }

    /// A first attempt at one growth connection (growth is serial: see `add_connection`).
    pub(super) fn grow() -> Task<C> {
        Task::AddConnection {
            attempt: None,
            growing: true,
            prober: false,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Task::AddConnection { .. } => "AddConnection",
            Task::ReturnConnection { .. } => "ReturnConnection",
            Task::ScheduleShrink => "Schedule",
            Task::ShrinkPool => "ShrinkPool",
            Task::Stop => "StopWorker",
        }
    }
}

/// One worker: takes tasks until told to stop or until the pool is gone. Workers hold the
/// pool weakly, so a pool nobody references can be dropped while they wait.
pub(super) async fn worker<C: PoolConnection>(
    pool: Weak<Shared<C>>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Task<C>>>>,
) {
    loop {
        let next = queue.lock().await.recv().await;
        let task = match next {
            None | Some(Task::Stop) => return,
            Some(task) => task,
        };
        let Some(shared) = pool.upgrade() else { return };
        let name = task.name();
        if shared.state().closed {
            shared.log(Level::Debug, || format!("task run discarded: {name}"));
            continue;
        }
        // Each task runs in a task of its own, so a panic in one is logged, not fatal.
        let outcome = tokio::spawn({
            let shared = shared.clone();
            async move { shared.run(task).await }
        })
        .await;
        if let Err(e) = outcome {
            shared.log(Level::Warning, || format!("task run {name} failed: {e}"));
        }
    }
}

impl<C: PoolConnection> Shared<C> {
    async fn run(self: Arc<Self>, task: Task<C>) {
        match task {
            Task::AddConnection {
                attempt,
                growing,
                prober,
            } => self.add_connection(attempt, growing, prober).await,
            Task::ReturnConnection { slot, from_getconn } => self.return_connection(slot, from_getconn).await,
            Task::ScheduleShrink => {
                let state = self.state();
                self.schedule_task(&state, Task::ShrinkPool, self.settings().max_idle);
            }
            Task::ShrinkPool => self.shrink(),
            Task::Stop => {}
        }
    }

    /// Opens one connection; on failure retries with backoff until `reconnect_timeout`, then
    /// gives the slot up and calls `reconnect_failed`. While clients wait, a retry may come
    /// sooner than the backoff says (reconnect.rs).
    async fn add_connection(self: &Arc<Self>, attempt: Option<Attempt>, growing: bool, prober: bool) {
        let now = Instant::now();
        let mut attempt = attempt.unwrap_or_else(|| Attempt::new(self.settings().reconnect_timeout));
        let slot = match self.connect(!self.callbacks.hooks_inline).await {
            Ok(slot) => slot,
            Err(e) => {
                self.log(Level::Warning, || {
                    format!("error connecting in {}: {e}", self.quoted_name())
                });
                if attempt.time_to_give_up(now) {
                    let budget = self.settings().reconnect_timeout.as_secs_f64();
                    self.log(Level::Warning, || {
                        format!(
                            "reconnection attempt in pool {} failed after {budget:?} sec",
                            self.quoted_name()
                        )
                    });
                    {
                        let mut state = self.state();
                        state.nconns = state.nconns.saturating_sub(1);
                        if growing {
                            state.growing = false;
                        }
                        state.reconnection.gave_up(prober);
                    }
                    if let Some(reconnect_failed) = &self.callbacks.reconnect_failed {
                        reconnect_failed().await;
                    }
                } else {
                    // A prober keeps its place in the backoff schedule: its quick attempts are
                    // the clients', and the schedule resumes where it was once they are served.
                    if !prober || attempt.delay.is_zero() {
                        attempt.update_delay(now);
                    }
                    let mut state = self.state();
                    self.schedule_reconnect(&mut state, attempt, growing, prober);
                }
                return;
            }
        };
        self.log(Level::Info, || "adding new connection to the pool".into());
        let mut state = self.state();
        self.add_to_pool(&mut state, slot);
        state.reconnection.succeeded(prober);
        if growing {
            // Growth is serial: the next growth connection starts when this one is in.
            if state.nconns < state.min_size || (state.nconns < state.max_size && !state.waiting.is_empty()) {
                state.nconns += 1;
                let size = state.nconns;
                self.log(Level::Info, || format!("growing pool {} to {size}", self.quoted_name()));
                self.run_task(&state, Task::grow());
            } else {
                state.growing = false;
            }
        }
    }

    /// Closes the longest-idle connection if the pool never ran out of idle connections in
    /// the last `max_idle` window. At most one per window.
    fn shrink(self: &Arc<Self>) {
        let max_idle = self.settings().max_idle;
        let mut state = self.state();
        self.schedule_task(&state, Task::ShrinkPool, max_idle);
        let fewest_idle = state.nconns_min;
        state.nconns_min = state.idle.len();
        if state.nconns > state.min_size && fewest_idle > 0 {
            if let Some(slot) = state.idle.pop_front() {
                state.nconns -= 1;
                state.nconns_min = state.nconns_min.saturating_sub(1);
                let size = state.nconns;
                self.log(Level::Info, || {
                    format!(
                        "shrinking pool {} to {size} because {fewest_idle} unused connections in the last {:?} sec",
                        self.quoted_name(),
                        max_idle.as_secs_f64()
                    )
                });
                slot.conn.close_in_background();
            }
        }
    }
}
