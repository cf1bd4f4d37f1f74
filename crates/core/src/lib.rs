//! pgtide's engine: PostgreSQL connections (and, on top of them, the pool) on tokio.
//! Nothing here knows about JavaScript; `src/` binds it to Node.

pub mod connection;
pub mod conninfo;
pub mod error;
pub mod params;
pub mod pool;
pub mod result;

mod connect;
mod server_message;
mod wire;

pub use connection::{ConnectOptions, Connection, TransactionStatus};
pub use conninfo::ConnInfo;
pub use error::{DbError, Error, Result};
pub use params::{Param, ParamBuffer};
pub use pool::{Lease, Pool, PoolConfig, PoolKind};
pub use result::{Field, QueryResult};
