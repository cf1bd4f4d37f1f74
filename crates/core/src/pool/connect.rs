//! Opening a pool connection: its parameters, its `configure`, its expiry.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::time::Instant;

use super::shared::Slot;
use super::stats::millis;
use super::{jitter, PoolConnection, Shared};
use crate::connection::TransactionStatus;
use crate::error::{Error, Result};

impl<C: PoolConnection> Shared<C> {
    /// Opens a connection with the pool's parameters, and runs `configure` on it unless that
    /// is deferred to its first hand-out. Called through `connect` (failfast.rs).
    pub(super) async fn try_connect(&self, configure_now: bool) -> Result<Slot<C>> {
        self.state().counters.connections_num += 1;
        let params = (self.callbacks.connect_params)().await?;
        let started = Instant::now();
        let conn = match C::connect(params).await {
            Ok(conn) => conn,
            Err(e) => {
                self.state().counters.connections_errors += 1;
                return Err(e);
            }
        };
        let connecting = started.elapsed();
        let generation = {
            let mut state = self.state();
            state.counters.connections_ms += millis(connecting);
            state.counters.durations.connections.record(connecting);
            state.drains
        };
        if configure_now {
            self.configure(&conn).await?;
        }
        let created_at = Instant::now();
        let lifetime = jitter(self.settings().max_lifetime, -0.05, 0.0);
        Ok(Slot {
            conn,
            holder: Arc::new(AtomicU64::new(0)),
            generation,
            expire_at: created_at + lifetime,
            handed_out_at: None,
            configured: configure_now || self.callbacks.configure.is_none(),
        })
    }

    /// The user's `configure`, which must leave the connection idle.
    pub(super) async fn configure(&self, conn: &Arc<C>) -> Result<()> {
        let Some(configure) = &self.callbacks.configure else {
            return Ok(());
        };
        configure(conn.clone()).await?;
        let status = conn.transaction_status();
        if status != TransactionStatus::Idle {
            conn.clone().close_in_background();
            return Err(Error::Programming(format!(
                "connection left in status {} by configure function: discarded",
                status.as_str().to_uppercase()
            )));
        }
        Ok(())
    }
}
