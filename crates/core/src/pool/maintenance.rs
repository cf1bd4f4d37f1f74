//! The pool's owner at work: `resize`, `drain`, the stats, and connections given back without
//! a client's call (`reclaim`).

use std::sync::Arc;

use super::shared::Slot;
use super::tasks::Task;
use super::{check_sizes, Level, Outcome, PoolConnection, PoolKind, Shared, Stats};
use crate::error::Result;

impl<C: PoolConnection> Shared<C> {
    /// `putconn` once the checkout is known: the connection goes back now, or in a future.
    pub(super) fn putconn(self: &Arc<Self>, slot: Slot<C>) -> Outcome<Result<()>> {
        self.log(Level::Info, || {
            format!("returning connection to {}", self.quoted_name())
        });
        match self.return_now(slot) {
            Ok(()) => Outcome::Now(Ok(())),
            Err(slot) => {
                let shared = self.clone();
                Outcome::Later(Box::pin(async move {
                    shared.give_back(slot).await;
                    Ok(())
                }))
            }
        }
    }

    /// See `Pool::reclaim`.
    pub(super) fn reclaim(self: &Arc<Self>, id: u64) {
        let Ok(slot) = self.take_checked_out(id) else {
            return;
        };
        self.log(Level::Warning, || {
            format!(
                "a connection of pool {} was dropped without being returned: returning it now (use connection(), or putconn() every getconn())",
                self.quoted_name()
            )
        });
        let Err(slot) = self.return_now(slot) else {
            return;
        };
        let Some(runtime) = self.runtime.lock().unwrap().clone() else {
            return;
        };
        let shared = self.clone();
        // A runtime shutting down may refuse the task: then the connection just closes with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.spawn(async move { shared.give_back(slot).await });
        }));
    }

    pub(super) fn resize(self: &Arc<Self>, min_size: usize, max_size: Option<usize>) -> Result<()> {
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
            self.run_task(&state, Task::add_connection());
        }
        Ok(())
    }

    pub(super) async fn drain(self: &Arc<Self>) {
        let idle = {
            let mut state = self.state();
            state.drains += 1;
            let idle = std::mem::take(&mut state.idle);
            for _ in 0..idle.len() {
                self.run_task(&state, Task::add_connection());
            }
            idle
        };
        for slot in idle {
            slot.conn.close().await;
        }
    }

    pub(super) fn stats(&self, pop: bool) -> Stats {
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
