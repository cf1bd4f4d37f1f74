//! A `getconn` future dropped midway (its caller aborted, or went away) must leave nothing
//! behind: a connection checked out for it while its `configure` or `check` ran goes back.

use std::sync::Arc;

use super::{PoolConnection, Shared};

/// A checkout not yet handed to its client; given back if dropped before `claim`.
pub(super) struct Unclaimed<'a, C: PoolConnection> {
    shared: &'a Arc<Shared<C>>,
    id: Option<u64>,
}

impl<'a, C: PoolConnection> Unclaimed<'a, C> {
    pub(super) fn new(shared: &'a Arc<Shared<C>>, id: u64) -> Unclaimed<'a, C> {
        Unclaimed { shared, id: Some(id) }
    }

    /// The client has it now.
    pub(super) fn claim(mut self) {
        self.id = None;
    }
}

impl<C: PoolConnection> Drop for Unclaimed<'_, C> {
    fn drop(&mut self) {
        // Paths that discard the connection take it out of `checked_out` first: then this finds
        // nothing to do.
        let Some(id) = self.id else { return };
        let Ok(slot) = self.shared.take_checked_out(id) else {
            return;
        };
        let Err(slot) = self.shared.return_now(slot) else {
            return;
        };
        let shared = self.shared.clone();
        let runtime = shared.runtime.lock().unwrap().clone();
        if let Some(runtime) = runtime {
            runtime.spawn(async move { shared.give_back(slot).await });
        }
    }
}

/// A null pool's slot counted (`nconns`) for a client's own connect; freed if the connect is
/// dropped before it settles (settled, the caller keeps or frees it).
pub(super) struct CountedConnect<'a, C: PoolConnection> {
    shared: &'a Arc<Shared<C>>,
    settled: bool,
}

impl<'a, C: PoolConnection> CountedConnect<'a, C> {
    pub(super) fn new(shared: &'a Arc<Shared<C>>) -> CountedConnect<'a, C> {
        CountedConnect { shared, settled: false }
    }

    pub(super) fn settle(mut self) {
        self.settled = true;
    }
}

impl<C: PoolConnection> Drop for CountedConnect<'_, C> {
    fn drop(&mut self) {
        if !self.settled {
            let mut state = self.shared.state();
            state.nconns = state.nconns.saturating_sub(1);
        }
    }
}
