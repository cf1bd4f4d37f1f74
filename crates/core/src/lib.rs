//! pgtide's engine: PostgreSQL connections (and, on top of them, the pool) on tokio.
//! Nothing here knows about JavaScript; `src/` binds it to Node.

pub mod cancel;
pub mod connect_failure;
pub mod connection;
pub mod conninfo;
pub mod error;
pub mod notifications;
pub mod params;
pub mod pool;
pub mod result;
pub mod statement_cache;
pub mod statement_timeout;
pub mod stream;
pub mod transaction;
pub mod wait;

mod auth;
mod connect;
mod server_message;
mod session_attrs;
mod tls;
mod wire;

pub use cancel::AbortHandle;
pub use connection::{ConnectOptions, Connection, Cursor, TransactionStatus};
pub use conninfo::ConnInfo;
pub use error::{ConnectCode, ConnectFailure, DbError, Error, Result};
pub use notifications::{Notice, NoticeHandler, Notification, NotificationListener};
pub use params::{Param, ParamBuffer};
pub use pool::{Lease, Pool, PoolConfig, PoolKind};
pub use result::{Field, QueryResult, ResultFormats, RowSink};
pub use tls::TlsMaterial;
