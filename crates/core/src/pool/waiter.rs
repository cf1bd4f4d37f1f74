//! A client waiting in the pool's queue. The pool offers it a connection (or an error) under
//! the pool lock; a client that has given up refuses the offer, so nothing is ever handed to
//! nobody. A client waiting to run one statement may instead board another client's connection
//! (`ride.rs`): it then waits, with no deadline, for that statement's answer.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::ride::Ride;
use super::shared::Checkout;
use crate::error::{Error, Result};
use crate::result::QueryResult;

enum Slot<C> {
    Waiting,
    Served(Result<Checkout<C>, Error>),
    /// Boarded: another client runs this one's statement.
    Riding,
    Answered(Result<QueryResult>),
    /// The carrier's connection ended before the server ran the statement: run it again.
    Rerun(Error),
    Gone,
}

/// What a wait ends with.
pub(super) enum Turn<C> {
    Lease(Checkout<C>),
    /// The statement ran on another client's connection: its outcome.
    Answer(Result<QueryResult>),
    /// The statement never reached the server (why, in case it cannot be run again).
    Rerun(Error),
}

impl<C> Turn<C> {
    /// The connection of a request that cannot have boarded (only one with a ride does).
    pub fn into_lease(self) -> Result<Checkout<C>> {
        match self {
            Turn::Lease(lease) => Ok(lease),
            Turn::Answer(_) | Turn::Rerun(_) => Err(Error::Interface(
                "a statement was answered where a connection was expected".into(),
            )),
        }
    }
}

pub(super) struct Waiter<C> {
    slot: Mutex<Slot<C>>,
    ready: Notify,
    /// The statement this client would run, if it may board another's connection.
    pub ride: Option<Arc<Ride>>,
    /// When it joined the queue: its wait is counted from here.
    pub queued_at: Instant,
}

impl<C> Waiter<C> {
    pub fn new(ride: Option<Arc<Ride>>) -> Waiter<C> {
        Waiter {
            slot: Mutex::new(Slot::Waiting),
            ready: Notify::new(),
            ride,
            queued_at: Instant::now(),
        }
    }

    /// Takes the client out of waiting to ride; false if it has gone or been served.
    pub fn board(&self) -> bool {
        let mut slot = self.slot.lock().unwrap();
        if !matches!(*slot, Slot::Waiting) {
            return false;
        }
        *slot = Slot::Riding;
        true
    }

    /// The boarded client's outcome; dropped if it has gone.
    pub fn answer(&self, outcome: Result<QueryResult>) {
        self.settle_ride(Slot::Answered(outcome));
    }

    /// Sends the boarded client back to run its statement itself (it never reached the server).
    pub fn rerun(&self, why: Error) {
        self.settle_ride(Slot::Rerun(why));
    }

    fn settle_ride(&self, outcome: Slot<C>) {
        let mut slot = self.slot.lock().unwrap();
        if matches!(*slot, Slot::Riding) {
            *slot = outcome;
            self.ready.notify_one();
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

    /// Waits until served or until `deadline`; `None` on timeout. A boarded client is served
    /// already: it waits for its answer past the deadline.
    pub async fn wait(&self, deadline: Instant) -> Option<Result<Turn<C>, Error>> {
        loop {
            let riding = match self.take() {
                Ok(outcome) => return Some(outcome),
                Err(riding) => riding,
            };
            if riding {
                self.ready.notified().await;
            } else if tokio::time::timeout_at(deadline, self.ready.notified()).await.is_err() {
                match self.take() {
                    Ok(outcome) => return Some(outcome),
                    Err(true) => continue,
                    Err(false) => return None,
                }
            }
        }
    }

    /// The outcome, or whether the client is still riding.
    fn take(&self) -> Result<Result<Turn<C>, Error>, bool> {
        let mut slot = self.slot.lock().unwrap();
        match std::mem::replace(&mut *slot, Slot::Gone) {
            Slot::Served(outcome) => Ok(outcome.map(Turn::Lease)),
            Slot::Answered(outcome) => Ok(Ok(Turn::Answer(outcome))),
            Slot::Rerun(why) => Ok(Ok(Turn::Rerun(why))),
            other => {
                let riding = matches!(other, Slot::Riding);
                *slot = other;
                Err(riding)
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
