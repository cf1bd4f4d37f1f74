//! What the pool needs from a connection, and nothing more: the seam that lets its policy run
//! against a stand-in connection in tests (no server, tokio's paused clock). The real
//! `Connection` is the default everywhere; the pool is generic over this trait, so the
//! binding's calls are resolved at compile time, with no dynamic dispatch on the hot path.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::connection::{ConnectOptions, Connection, IdleSocket, TransactionStatus};
use crate::conninfo::ConnInfo;
use crate::error::Result;

/// How long a pool waits for a connection attempt (every host of it) when the conninfo sets no
/// `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub trait PoolConnection: Send + Sync + Sized + 'static {
    /// What opening one takes; the pool's `connect_params` callback yields it at every attempt.
    type Params: Send + 'static;

    fn connect(params: Self::Params) -> impl Future<Output = Result<Arc<Self>>> + Send;

    /// `Unknown` once broken or closed.
    fn transaction_status(&self) -> TransactionStatus;

    /// Closed, or lost (not closed on purpose).
    fn unusable(&self) -> bool;

    /// Known lost while it sat idle: unusable, or its server ended the session (a FATAL or the
    /// end of the stream waiting on its socket). Asked before every hand-out, so it must be cheap.
    fn lost_while_idle(&self) -> bool;

    fn commit(&self) -> impl Future<Output = Result<()>> + Send;

    fn rollback(&self) -> impl Future<Output = Result<()>> + Send;

    /// Proves it alive (`check()`): an error means "discard it".
    fn check(&self) -> impl Future<Output = Result<()>> + Send;

    fn close(&self) -> impl Future<Output = ()> + Send;

    /// Closes it without waiting, from any thread.
    fn close_in_background(self: Arc<Self>);

    /// How log lines name it, after its status: `backend_pid=… at …`.
    fn describe(&self) -> String;
}

impl PoolConnection for Connection {
    type Params = (ConnInfo, ConnectOptions);

    async fn connect((mut info, options): Self::Params) -> Result<Arc<Connection>> {
        // libpq would wait forever on a server that accepts and says nothing; a pool worker
        // (and with it the pool's growth) must not.
        let limit = info.connect_timeout.is_none().then_some(DEFAULT_CONNECT_TIMEOUT);
        // Nor on a server gone silent: keepalive and user timeout find one within about a minute.
        info.tcp.fill_pool_defaults();
        crate::connect::within(limit, Connection::connect(&info, options)).await
    }

    fn transaction_status(&self) -> TransactionStatus {
        Connection::transaction_status(self)
    }

    fn unusable(&self) -> bool {
        self.closed() || self.broken()
    }

    fn lost_while_idle(&self) -> bool {
        self.broken() || self.closed() || self.idle_socket() == IdleSocket::Ended
    }

    fn commit(&self) -> impl Future<Output = Result<()>> + Send {
        Connection::commit(self)
    }

    fn rollback(&self) -> impl Future<Output = Result<()>> + Send {
        Connection::rollback(self)
    }

    fn check(&self) -> impl Future<Output = Result<()>> + Send {
        super::check_connection(self)
    }

    fn close(&self) -> impl Future<Output = ()> + Send {
        Connection::close(self)
    }

    fn close_in_background(self: Arc<Self>) {
        Connection::close_in_background(self)
    }

    fn describe(&self) -> String {
        format!("backend_pid={} at {}", self.backend_pid(), self.target().describe())
    }
}
