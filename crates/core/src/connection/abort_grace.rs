//! An aborted request ends soon whatever the network does. The CancelRequest normally stops
//! the statement and the server's answer ends the request, the connection still usable; but
//! a server that went silent never answers, and the cancel may never be delivered. So once
//! aborted, a request waits a short grace period for that answer, then gives up on the
//! connection: it is marked broken (a pool replaces it) and its socket cut off.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Connection;
use crate::cancel::AbortHandle;

/// A live server answers a cancel in milliseconds (one new connection, one signal); a second
/// leaves room for a loaded machine and still settles an aborted request at once to a person.
pub(super) const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Runs `request`; once `abort` is raised, waits at most `ABORT_GRACE` more for it. `None`:
/// it was given up (the request, mid-exchange, is dropped).
pub(super) async fn within_abort_grace<T>(
    abort: Option<&Arc<AbortHandle>>,
    request: impl Future<Output = T>,
) -> Option<T> {
    let Some(abort) = abort else {
        return Some(request.await);
    };
    let give_up = async {
        abort.until_aborted().await;
        tokio::time::sleep(ABORT_GRACE).await;
    };
    tokio::select! {
        biased;
        outcome = request => Some(outcome),
        () = give_up => None,
    }
}

impl Connection {
    /// An aborted request got no answer in time: the socket is out of step with the server,
    /// maybe silent for good. Cut off, anything still waiting on it ends at once.
    pub(super) fn abandon_after_abort(&self) {
        self.mark_broken();
        self.socket.sever();
    }
}
