//! A pool that cannot connect says why (issue 14). It remembers its last connection failure
//! until a connection succeeds. A failure no retry can fix (a wrong password, an unknown
//! database: `Error::retry_cannot_fix`) fails at once the clients waiting on a pool that has
//! no connection to give them, and the requests that come while it stays so; the workers
//! keep reconnecting with their backoff all the same, as psycopg's do. Clients that time out
//! get the pool's state in the message and the last failure as the cause.

use std::time::Duration;

use super::shared::{Slot, State};
use super::{Level, PoolConnection, PoolKind, Shared};
use crate::error::{Error, Result};

impl<C: PoolConnection> Shared<C> {
    /// `try_connect`, with its outcome remembered: every pool connection goes through here.
    pub(super) async fn connect(&self, configure_now: bool) -> Result<Slot<C>> {
        let outcome = self.try_connect(configure_now).await;
        match &outcome {
            Ok(_) => self.state().last_connect_error = None,
            Err(e) => self.connect_failed(e),
        }
        outcome
    }

    fn connect_failed(&self, error: &Error) {
        let mut state = self.state();
        state.last_connect_error = Some(error.clone());
        if !error.retry_cannot_fix() || has_connections(&state) || state.waiting.is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut state.waiting);
        drop(state);
        self.log(Level::Warning, || {
            format!(
                "failing {} waiting request(s) of pool {} at once: connecting failed in a way no retry can fix: {error}",
                waiting.len(),
                self.quoted_name()
            )
        });
        for waiter in waiting {
            waiter.fail(error.clone());
        }
    }

    /// A request to a regular pool that has no connection, whose last attempt failed in a way
    /// no retry can fix, while another attempt is pending (`nconns > 0`), fails now with that
    /// failure. With no attempt pending (the reconnection gave up) it queues, which starts one.
    pub(super) fn refuse_if_unconnectable(&self, state: &mut State<C>) -> Result<()> {
        if self.kind != PoolKind::Regular || has_connections(state) || state.nconns == 0 {
            return Ok(());
        }
        match &state.last_connect_error {
            Some(error) if error.retry_cannot_fix() => {
                state.counters.requests_errors += 1;
                Err(error.clone())
            }
            _ => Ok(()),
        }
    }

    /// psycopg's getconn time-out message, with the caller's timeout, plus the pool's state
    /// and its last connection failure, which is also the error's cause.
    pub(super) fn timed_out(&self, error: Error, timeout: Duration) -> Error {
        match error {
            Error::PoolTimeout(_) => self.pool_timeout(format!(
                "couldn't get a connection after {:.2} sec",
                timeout.as_secs_f64()
            )),
            other => other,
        }
    }

    /// A PoolTimeout saying `what`, then the pool's state and its last connection failure.
    pub(super) fn pool_timeout(&self, what: String) -> Error {
        let state = self.state();
        let mut message = format!(
            "{what} (pool {}: size {}, idle {}, in use {}, waiting {})",
            self.quoted_name(),
            state.nconns,
            state.idle.len(),
            state.checked_out.len(),
            state.waiting.len()
        );
        let Some(cause) = state.last_connect_error.clone() else {
            return Error::PoolTimeout(message);
        };
        message.push_str(&format!("; last connection error: {cause}"));
        Error::PoolTimeout(message).caused_by(cause)
    }
}

/// Whether the pool has a connection it can give, now or when its client returns it.
fn has_connections<C: PoolConnection>(state: &State<C>) -> bool {
    !state.idle.is_empty() || !state.checked_out.is_empty()
}
