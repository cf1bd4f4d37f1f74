//! Aborting one request (JavaScript's AbortSignal) without ever cancelling the next one.
//!
//! A CancelRequest cancels whatever the backend runs when it lands, so a cancel aimed at a
//! request that has just finished could hit the statement after it. Two guards prevent that:
//! the CancelRequest is sent only while the aborted request is the one in flight, and the next
//! request waits, before sending anything, until every CancelRequest in flight has been
//! delivered (the server closes the cancel socket after signalling the backend). A cancel that
//! lands after its request finished finds the backend idle, where PostgreSQL ignores it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// One request's abort switch. Aborting before the request starts means it never starts;
/// between its round trips, that it stops; while the server runs it, that it is cancelled
/// (and, if the server does not answer the cancel in time, that the request gives up on the
/// connection: `connection/abort_grace.rs`).
#[derive(Debug, Default)]
pub struct AbortHandle {
    aborted: AtomicBool,
    /// Wakes the request, which starts counting its grace period.
    raised: Notify,
}

impl AbortHandle {
    pub fn new() -> Arc<AbortHandle> {
        Arc::default()
    }

    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    pub(crate) fn set_aborted(&self) {
        self.aborted.store(true, Ordering::Release);
        self.raised.notify_waiters();
    }

    /// Resolves once the handle is aborted (at once if it already is).
    pub(crate) async fn until_aborted(&self) {
        loop {
            let raised = self.raised.notified();
            tokio::pin!(raised);
            raised.as_mut().enable();
            if self.aborted() {
                return;
            }
            raised.await;
        }
    }
}

#[derive(Default)]
struct State {
    /// The abort handle of the request in flight, if it has one.
    running: Option<Arc<AbortHandle>>,
    /// CancelRequests sent and not yet delivered.
    in_flight: usize,
}

/// The connection's side of the guards.
#[derive(Default)]
pub(crate) struct Cancels {
    state: Mutex<State>,
    delivered: Notify,
}

impl Cancels {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state is two plain fields; a panic elsewhere cannot leave them half-written.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until no CancelRequest is on its way, so none can land on the request about to
    /// start.
    pub async fn settled(&self) {
        if self.state().in_flight == 0 {
            return;
        }
        loop {
            let delivered = self.delivered.notified();
            tokio::pin!(delivered);
            delivered.as_mut().enable();
            if self.state().in_flight == 0 {
                return;
            }
            delivered.await;
        }
    }

    /// Registers the request about to start; false if its handle was aborted already. Checked
    /// under the same lock `abort` takes, so an abort either stops the request here or finds it
    /// running and cancels it: it cannot slip between the two.
    pub fn request_started(&self, abort: Option<&Arc<AbortHandle>>) -> bool {
        let mut state = self.state();
        if abort.is_some_and(|a| a.aborted()) {
            return false;
        }
        state.running = abort.cloned();
        true
    }

    pub fn request_ended(&self) {
        self.state().running = None;
    }

    /// Marks `abort` aborted; returns a ticket to send a CancelRequest when its request is the
    /// one in flight (the ticket counts as in flight until dropped), `None` otherwise.
    pub fn abort(&self, abort: &Arc<AbortHandle>) -> Option<CancelTicket<'_>> {
        let mut state = self.state();
        abort.set_aborted();
        let running = state.running.as_ref().is_some_and(|r| Arc::ptr_eq(r, abort));
        running.then(|| {
            state.in_flight += 1;
            CancelTicket { cancels: self }
        })
    }
}

/// A CancelRequest on its way; dropping it (delivered, failed or given up) lets the next request
/// go.
pub(crate) struct CancelTicket<'a> {
    cancels: &'a Cancels,
}

impl Drop for CancelTicket<'_> {
    fn drop(&mut self) {
        self.cancels.state().in_flight -= 1;
        self.cancels.delivered.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_request_in_flight_is_cancelled() {
        let cancels = Cancels::default();
        let first = AbortHandle::new();
        let second = AbortHandle::new();
        assert!(cancels.abort(&first).is_none(), "nothing runs yet");
        assert!(first.aborted());
        assert!(
            !cancels.request_started(Some(&first)),
            "an aborted request does not start"
        );
        assert!(cancels.request_started(Some(&second)));
        assert!(cancels.abort(&first).is_none(), "another request runs");
        assert!(cancels.abort(&second).is_some());
        cancels.request_ended();
        assert!(cancels.abort(&second).is_none(), "it has finished");
    }

    #[tokio::test]
    async fn the_next_request_waits_for_cancels_in_flight() {
        let cancels = Arc::new(Cancels::default());
        let abort = AbortHandle::new();
        assert!(cancels.request_started(Some(&abort)));
        let ticket = cancels.abort(&abort).unwrap();
        cancels.request_ended();
        let waiter = {
            let cancels = cancels.clone();
            tokio::spawn(async move { cancels.settled().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(ticket);
        waiter.await.unwrap();
        cancels.settled().await;
    }
}
