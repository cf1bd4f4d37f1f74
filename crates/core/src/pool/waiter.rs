//! A client waiting in the pool's queue. The pool offers it a connection (or an error) under
//! the pool lock; a client that has given up refuses the offer, so nothing is ever handed to
//! nobody.

use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::shared::Checkout;
use crate::error::Error;

enum Slot<C> {
    Waiting,
    Served(Result<Checkout<C>, Error>),
    Gone,
}

pub(super) struct Waiter<C> {
    slot: Mutex<Slot<C>>,
    ready: Notify,
}

impl<C> Waiter<C> {
    pub fn new() -> Waiter<C> {
        Waiter {
            slot: Mutex::new(Slot::Waiting),
            ready: Notify::new(),
        }
    }

    /// Hands `lease` over, or gives it back if the client has gone.
    pub fn offer(&self, lease: Checkout<C>) -> Result<(), Checkout<C>> {
        let mut slot = self.slot.lock().unwrap();
        if !matches!(*slot, Slot::Waiting) {
            return Err(lease);
        }
        *slot = Slot::Served(Ok(lease));
        self.ready.notify_one();
        Ok(())
    }

    /// Fails the client (the pool closed); false if it had already gone or been served.
    pub fn fail(&self, error: Error) -> bool {
        let mut slot = self.slot.lock().unwrap();
        if !matches!(*slot, Slot::Waiting) {
            return false;
        }
        *slot = Slot::Served(Err(error));
        self.ready.notify_one();
        true
    }

    /// Waits until served or until `deadline`; `None` on timeout.
    pub async fn wait(&self, deadline: Instant) -> Option<Result<Checkout<C>, Error>> {
        loop {
            if let Some(outcome) = self.take() {
                return Some(outcome);
            }
            if tokio::time::timeout_at(deadline, self.ready.notified()).await.is_err() {
                return self.take();
            }
        }
    }

    fn take(&self) -> Option<Result<Checkout<C>, Error>> {
        let mut slot = self.slot.lock().unwrap();
        match std::mem::replace(&mut *slot, Slot::Gone) {
            Slot::Served(outcome) => Some(outcome),
            other => {
                *slot = other;
                None
            }
        }
    }

    /// The client gives up: later offers are refused. Returns a lease that arrived meanwhile,
    /// which the caller must give back to the pool.
    pub fn leave(&self) -> Option<Checkout<C>> {
        match std::mem::replace(&mut *self.slot.lock().unwrap(), Slot::Gone) {
            Slot::Served(Ok(lease)) => Some(lease),
            _ => None,
        }
    }
}
