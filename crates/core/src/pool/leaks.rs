//! Leak detection (HikariCP's `leakDetectionThreshold`): a checkout still held when the
//! threshold passes is counted (`connections_leaked`) and logged with where it was taken.
//! Nothing runs unless the option is on; the caller's stack is the binding's to capture.

use std::sync::Arc;

use super::shared::describe;
use super::{Level, Pool, PoolConnection, Ticket};
use crate::error::Result;

impl<C: PoolConnection> Pool<C> {
    /// Whether checkouts are watched: callers capture their stack only then.
    pub fn detects_leaks(&self) -> bool {
        !self.shared.settings().leak_detection_threshold.is_zero()
    }

    /// Watches checkout `ticket` of this pool (another pool's, or none, is refused naming the
    /// culprit), taken at `origin` (a stack trace): if it is still out when the threshold
    /// passes, counts it and logs a warning. A returned connection gets a new lease id at its
    /// next hand-out, so a later client's checkout is never blamed on this one.
    pub fn watch_for_leak(&self, ticket: Option<&Ticket<C>>, origin: String) -> Result<()> {
        let id = self.lease_id(ticket)?;
        let threshold = self.shared.settings().leak_detection_threshold;
        if threshold.is_zero() {
            return Ok(());
        }
        let Some(runtime) = self.shared.runtime.lock().unwrap().clone() else {
            return Ok(());
        };
        let pool = Arc::downgrade(&self.shared);
        runtime.spawn(async move {
            tokio::time::sleep(threshold).await;
            // A closed or dropped pool has nothing left to report.
            let Some(shared) = pool.upgrade() else { return };
            let held = {
                let mut state = shared.state();
                let held = state.checked_out.get(&id).map(|slot| describe(&*slot.conn));
                if held.is_some() {
                    state.counters.connections_leaked += 1;
                }
                held
            };
            let Some(conn) = held else { return };
            shared.log(Level::Warning, || {
                format!(
                    "connection leak detection: {conn} of pool {} has been checked out for more than {:.3} sec \
                     (leakDetectionThreshold) and is not returned yet; it was taken at:\n{origin}",
                    shared.quoted_name(),
                    threshold.as_secs_f64()
                )
            });
        });
        Ok(())
    }
}
