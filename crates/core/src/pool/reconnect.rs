//! Reconnecting promptly while clients wait: a deliberate difference from psycopg_pool.
//!
//! A lost connection is replaced by a chain of attempts spaced by the reconnection backoff
//! (1 s, 2 s, 4 s... within `reconnect_timeout`). Left alone, that schedule decides when a
//! recovered server is used again: clients keep timing out for seconds after it is back, and
//! capacity returns one chain at a time. Two rules change that:
//!
//! - While clients wait and chains are backing off, one chain (the prober) attempts every
//!   `PROMPT_RETRY` instead of at its next step: a queued client calls it early. One prober
//!   per pool, so a server that is down sees a few attempts a second from it, not a storm.
//! - When any attempt succeeds, every chain still backing off attempts at once, so the pool
//!   refills to its size as soon as the server accepts connections.
//!
//! Every decision is taken under the pool lock: chains sleep on a signal that only tells them
//! to look at `Reconnection` again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::shared::State;
use super::tasks::Task;
use super::{Attempt, PoolConnection, Shared};

/// How often the prober attempts while clients wait.
pub const PROMPT_RETRY: Duration = Duration::from_millis(250);

/// The reconnection chains' shared state (in the pool's `State`).
pub(super) struct Reconnection {
    /// Chains sleeping until their next attempt.
    backing_off: usize,
    /// A queued client asked for an attempt now; the next chain to attempt answers it.
    early_call: bool,
    /// A chain is attempting every `PROMPT_RETRY` for the clients waiting.
    prober: bool,
    /// Attempts that succeeded (a count chains compare against the one they went to sleep on).
    successes: u64,
    /// Wakes the sleeping chains to look at the above again.
    signal: watch::Sender<()>,
}

impl Default for Reconnection {
    fn default() -> Self {
        Reconnection {
            backing_off: 0,
            early_call: false,
            prober: false,
            successes: 0,
            signal: watch::Sender::new(()),
        }
    }
}

impl Reconnection {
    /// A client joined the queue: if chains are backing off and none is probing yet, the next
    /// one to wake attempts now.
    pub(super) fn client_waits(&mut self) {
        if self.backing_off > 0 && !self.prober {
            self.prober = true;
            self.early_call = true;
            self.signal.send_replace(());
        }
    }

    /// An attempt succeeded: every chain backing off attempts at once.
    pub(super) fn succeeded(&mut self, was_prober: bool) {
        if was_prober {
            self.prober = false;
        }
        self.successes += 1;
        if self.backing_off > 0 {
            self.signal.send_replace(());
        }
    }

    /// A chain gave up: it no longer probes.
    pub(super) fn gave_up(&mut self, was_prober: bool) {
        if was_prober {
            self.prober = false;
        }
    }

    /// A chain starts an attempt: whether it is (now) the prober. A pending early call is
    /// answered by whichever chain attempts first, woken by its timer or by the call.
    fn starts_attempt(&mut self, was_prober: bool) -> bool {
        let answers_call = std::mem::take(&mut self.early_call);
        was_prober || answers_call
    }
}

impl<C: PoolConnection> Shared<C> {
    /// After a failed attempt: the chain's next attempt at its backoff step, or within
    /// `PROMPT_RETRY` if it is the prober and clients still wait.
    pub(super) fn schedule_reconnect(
        self: &Arc<Self>,
        state: &mut State<C>,
        attempt: Attempt,
        growing: bool,
        prober: bool,
    ) {
        let Some(closing) = &state.closing else { return };
        let mut closing = closing.subscribe();
        let reconnection = &mut state.reconnection;
        let probing = prober && !state.waiting.is_empty();
        if prober && !probing {
            reconnection.prober = false;
        }
        let delay = if probing {
            attempt.delay.min(PROMPT_RETRY)
        } else {
            attempt.delay
        };
        reconnection.backing_off += 1;
        let successes = reconnection.successes;
        let mut signal = reconnection.signal.subscribe();
        signal.mark_unchanged();
        let wake_at = Instant::now() + delay;
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let timer_fired = tokio::select! {
                    () = tokio::time::sleep_until(wake_at) => true,
                    changed = signal.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        false
                    }
                    _ = closing.wait_for(|closed| *closed) => return,
                };
                let Some(pool) = pool.upgrade() else { return };
                let mut state = pool.state();
                let reconnection = &mut state.reconnection;
                let now = timer_fired || reconnection.successes != successes || reconnection.early_call;
                if !now {
                    continue;
                }
                reconnection.backing_off -= 1;
                let prober = reconnection.starts_attempt(probing);
                pool.run_task(
                    &state,
                    Task::AddConnection {
                        attempt: Some(attempt),
                        growing,
                        prober,
                    },
                );
                return;
            }
        });
    }
}
