//! `check()` and the static `check_connection`, as psycopg's
//! (https://www.psycopg.org/psycopg3/docs/api/pool.html).

use std::sync::Arc;

use tokio::time::Instant;

use super::shared::describe;
use super::tasks::Task;
use super::{Level, PoolConnection, PoolKind, Shared};
use crate::connection::Connection;
use crate::error::Result;

/// Proves a connection alive with an empty query, leaving autocommit as it found it.
pub async fn check_connection(conn: &Connection) -> Result<()> {
    if conn.autocommit() {
        return conn.exec("").await;
    }
    conn.set_autocommit(true)?;
    let outcome = conn.exec("").await;
    // A lost connection can't change mode any more; its error is the one that matters.
    let _ = conn.set_autocommit(false);
    outcome
}

impl<C: PoolConnection> Shared<C> {
    /// Tests every idle connection; replaces the broken and the expired ones.
    pub(super) async fn check(self: &Arc<Self>) {
        if self.kind == PoolKind::Null {
            return;
        }
        let mut idle = {
            let mut state = self.state();
            let idle = std::mem::take(&mut state.idle);
            // Refill an emptied pool (a deliberate difference from psycopg: never beyond min_size).
            if state.nconns < state.min_size {
                self.maybe_grow(&mut state);
            }
            idle
        };
        while let Some(slot) = idle.pop_back() {
            let conn = slot.conn.clone();
            if slot.expire_at <= Instant::now() {
                self.log(Level::Info, || {
                    format!("discarding expired connection {}", describe(&*conn))
                });
                conn.close().await;
                let state = self.state();
                self.run_task(&state, Task::add_connection());
                continue;
            }
            match conn.check().await {
                Ok(()) => {
                    let mut state = self.state();
                    self.add_to_pool(&mut state, slot);
                }
                Err(_) => {
                    let mut state = self.state();
                    state.counters.connections_lost += 1;
                    self.log(Level::Warning, || {
                        format!("discarding broken connection: {}", describe(&*conn))
                    });
                    self.run_task(&state, Task::add_connection());
                }
            }
        }
    }
}
