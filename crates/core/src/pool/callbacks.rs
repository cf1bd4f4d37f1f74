//! What the pool asks of its owner: how to reach the server, the user's hooks, and where log
//! records go. The binding fills these with JavaScript functions; tests with Rust closures.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::PoolConnection;
use crate::connection::{ConnectOptions, Connection};
use crate::conninfo::ConnInfo;
use crate::error::Result;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Resolves the connection parameters; called at every connection attempt, as psycopg calls a
/// `conninfo` or `kwargs` function.
pub type ConnectParams<C = Connection> =
    Arc<dyn Fn() -> BoxFuture<Result<<C as PoolConnection>::Params>> + Send + Sync>;

/// `configure`, `check` or `reset`: runs on a connection; an error means "discard it".
pub type ConnectionHook<C = Connection> = Arc<dyn Fn(Arc<C>) -> BoxFuture<Result<()>> + Send + Sync>;

pub type ReconnectFailed = Arc<dyn Fn() -> BoxFuture<()> + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
}

pub type Logger = Arc<dyn Fn(Level, String) + Send + Sync>;

pub struct Callbacks<C: PoolConnection = Connection> {
    pub connect_params: ConnectParams<C>,
    pub configure: Option<ConnectionHook<C>>,
    pub check: Option<ConnectionHook<C>>,
    pub reset: Option<ConnectionHook<C>>,
    pub reconnect_failed: Option<ReconnectFailed>,
    pub logger: Option<Logger>,
    /// Records below this level are not even formatted (getconn logs at info on every call).
    pub log_level: Level,
    /// Hooks may run only on the caller's path, never on a worker (sync pools: only the JS
    /// thread may run JavaScript, and it is blocked in the call). `configure` then moves from
    /// the worker that connects to the connection's first hand-out, and `reset` runs inside
    /// `putconn` instead of on a worker.
    pub hooks_inline: bool,
}

impl<C: PoolConnection> Clone for Callbacks<C> {
    fn clone(&self) -> Self {
        Callbacks {
            connect_params: self.connect_params.clone(),
            configure: self.configure.clone(),
            check: self.check.clone(),
            reset: self.reset.clone(),
            reconnect_failed: self.reconnect_failed.clone(),
            logger: self.logger.clone(),
            log_level: self.log_level,
            hooks_inline: self.hooks_inline,
        }
    }
}

impl Callbacks {
    /// Fixed connection parameters and no hooks.
    pub fn fixed(info: ConnInfo, options: ConnectOptions) -> Callbacks {
        Callbacks::new(Arc::new(move || {
            let params = (info.clone(), options.clone());
            Box::pin(async move { Ok(params) })
        }))
    }
}

/// Connection parameters from a function that can be asked only sometimes (a sync pool's
/// conninfo function runs on the JS thread, and reconnections run on the runtime's threads):
/// `ask` gives fresh ones, or `None` when it cannot be called here; then the latest it gave
/// are used again. `first` are the parameters it gave when the pool was made.
pub fn remembered_params<C: PoolConnection>(
    first: C::Params,
    ask: impl Fn() -> Option<Result<C::Params>> + Send + Sync + 'static,
) -> ConnectParams<C>
where
    C::Params: Clone + Sync,
{
    let latest = std::sync::Mutex::new(first);
    Arc::new(move || {
        let outcome = match ask() {
            Some(Ok(fresh)) => {
                *latest.lock().unwrap() = fresh.clone();
                Ok(fresh)
            }
            Some(Err(e)) => Err(e),
            None => Ok(latest.lock().unwrap().clone()),
        };
        Box::pin(async move { outcome })
    })
}

impl<C: PoolConnection> Callbacks<C> {
    /// Connection parameters from `connect_params`, and no hooks.
    pub fn new(connect_params: ConnectParams<C>) -> Callbacks<C> {
        Callbacks {
            connect_params,
            configure: None,
            check: None,
            reset: None,
            reconnect_failed: None,
            logger: None,
            log_level: Level::Warning,
            hooks_inline: false,
        }
    }
}
