//! Taking a connection back: rollback by transaction status, the `reset`
//! hook, expiry, then a hand-off to the first live waiter or the idle deque; or a replacement.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;

use super::shared::{describe, next_lease_id, Checkout, Slot, State};
use super::stats::millis;
use super::tasks::Task;
use super::{Level, Outcome, PoolConnection, PoolKind, Shared};
use crate::connection::TransactionStatus;
use crate::error::{Error, Result};

impl<C: PoolConnection> Shared<C> {
    /// Commits or rolls back what the `connection()` block left, then gives the connection back.
    pub(super) fn finish_use(self: &Arc<Self>, slot: Slot<C>, succeeded: bool) -> Outcome<Result<()>> {
        let used_since = slot.handed_out_at;
        let idle = slot.conn.transaction_status() == TransactionStatus::Idle;
        let returned = if idle { self.return_now(slot) } else { Err(slot) };
        match returned {
            Ok(()) => {
                self.count_usage(used_since);
                Outcome::Now(Ok(()))
            }
            Err(slot) => {
                let pool = self.clone();
                Outcome::Later(Box::pin(async move {
                    let outcome = pool.end_transaction(&slot.conn, succeeded).await;
                    pool.give_back(slot).await;
                    pool.count_usage(used_since);
                    outcome
                }))
            }
        }
    }

    fn count_usage(&self, used_since: Option<Instant>) {
        if let Some(since) = used_since {
            let used = since.elapsed();
            let mut state = self.state();
            state.counters.usage_ms += millis(used);
            state.counters.durations.usage.record(used);
        }
    }

    /// psycopg's connection block exit: commit on success, rollback (errors only logged) on failure.
    async fn end_transaction(&self, conn: &C, succeeded: bool) -> Result<()> {
        if conn.unusable() {
            return Ok(());
        }
        if succeeded {
            return conn.commit().await;
        }
        if let Err(e) = conn.rollback().await {
            self.log(Level::Warning, || {
                format!("error ignored in rollback on {}: {e}", describe(conn))
            });
        }
        Ok(())
    }

    /// The return path without I/O: an idle, unexpired connection of a regular pool with no
    /// `reset` to run goes straight to a waiter or the idle deque. Anything else comes back.
    pub(super) fn return_now(&self, slot: Slot<C>) -> Result<(), Slot<C>> {
        let conn = &slot.conn;
        let simple = self.kind == PoolKind::Regular
            && self.callbacks.reset.is_none()
            && conn.transaction_status() == TransactionStatus::Idle
            && slot.expire_at > Instant::now();
        let mut state = self.state();
        let drained = state.drained(&slot);
        if !simple || drained || state.closed {
            return Err(slot);
        }
        self.add_to_pool(&mut state, slot);
        Ok(())
    }

    pub(super) fn take_checked_out(&self, id: u64) -> Result<Slot<C>> {
        self.state().check_in(id).ok_or_else(|| {
            Error::Interface(format!(
                "can't return connection to pool {}, it doesn't come from any pool (or it was returned already)",
                self.quoted_name()
            ))
        })
    }

    /// The return path after a client is done.
    pub(super) async fn give_back(self: &Arc<Self>, slot: Slot<C>) {
        let conn = slot.conn.clone();
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
    fn close_instead_of_returning(&self, conn: &C) -> bool {
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

    /// Brings a connection back to idle and into the pool, or replaces it.
    pub(super) async fn return_connection(self: &Arc<Self>, slot: Slot<C>, from_getconn: bool) {
        let conn = slot.conn.clone();
        self.reset_connection(&conn).await;
        let mut state = self.state();
        if conn.transaction_status() == TransactionStatus::Unknown {
            if from_getconn {
                state.counters.connections_lost += 1;
                self.log(Level::Info, || "not serving connection found broken".into());
            } else {
                state.counters.returns_bad += 1;
                self.log(Level::Warning, || {
                    format!("discarding closed connection: {}", describe(&*conn))
                });
            }
            self.replace(&mut state, conn);
            return;
        }
        let drained = state.drained(&slot);
        if drained || slot.expire_at <= Instant::now() {
            self.log(Level::Info, || "discarding expired connection".into());
            self.replace(&mut state, conn);
            return;
        }
        self.add_to_pool(&mut state, slot);
    }

    /// Discards a connection and starts its replacement.
    pub(super) fn replace(&self, state: &mut State<C>, conn: Arc<C>) {
        conn.close_in_background();
        // The slot stays counted: its new connection goes to a waiter, or (null pool) is closed.
        self.run_task(state, Task::add_connection());
    }

    /// Rolls back what the client left open, then runs the `reset` hook.
    async fn reset_connection(&self, conn: &Arc<C>) {
        match conn.transaction_status() {
            TransactionStatus::Idle => {}
            TransactionStatus::InTrans | TransactionStatus::InError => {
                self.log(Level::Warning, || {
                    format!("rolling back returned connection: {}", describe(&**conn))
                });
                if let Err(e) = conn.rollback().await {
                    self.log(Level::Warning, || {
                        format!(
                            "rollback failed: {}: {e}. Discarding connection {}",
                            e.class_name(),
                            describe(&**conn)
                        )
                    });
                    conn.close().await;
                }
            }
            TransactionStatus::Active => {
                self.log(Level::Warning, || {
                    format!("closing returned connection: {}", describe(&**conn))
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
    pub(super) fn add_to_pool(&self, state: &mut State<C>, mut slot: Slot<C>) {
        if state.closed {
            slot.conn.clone().close_in_background();
            return;
        }
        while let Some(waiter) = state.waiting.pop_front() {
            let id = next_lease_id();
            // Held before it is offered: the client may use it on another thread at once.
            slot.holder.store(id, Ordering::Release);
            let offer = Checkout {
                id,
                conn: slot.conn.clone(),
                holder: slot.holder.clone(),
            };
            if waiter.offer(offer).is_ok() {
                slot.handed_out_at = Some(Instant::now());
                state.checked_out.insert(id, slot);
                return;
            }
        }
        slot.holder.store(0, Ordering::Release);
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
                slot.conn.clone().close_in_background();
                state.nconns = state.nconns.saturating_sub(1);
            }
        }
    }
}
