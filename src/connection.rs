//! `NativeConnection`: one engine connection, with a Promise method and a blocking `*Sync` twin
//! for each operation. The sync twins block the JS thread while the runtime's threads do the I/O.

use std::sync::Arc;

use napi::bindgen_prelude::{within_runtime_if_available, Buffer};
use napi_derive::napi;
use pgtide_core::{params, ConnInfo, ConnectOptions, Connection};

use crate::blocking::block_on;
use crate::errors::IntoNapi;
use crate::pool::PoolLease;
use crate::result::NativeResult;

#[napi]
pub struct NativeConnection {
    pub(crate) inner: Arc<Connection>,
    /// Set when a pool handed this connection out.
    pub(crate) lease: Option<PoolLease>,
}

impl NativeConnection {
    pub(crate) fn standalone(inner: Arc<Connection>) -> NativeConnection {
        NativeConnection { inner, lease: None }
    }
}

/// A pooled connection whose JavaScript object is collected while still checked out goes back
/// to its pool, so a forgotten `putconn` costs a warning, not a pool slot forever.
impl Drop for NativeConnection {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        if !lease.pool.is_checked_out(lease.id) {
            return;
        }
        within_runtime_if_available(|| {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { lease.pool.reclaim(lease.id).await });
            }
        });
    }
}

async fn open(conninfo: String, autocommit: bool) -> napi::Result<NativeConnection> {
    let info = ConnInfo::parse(&conninfo).into_napi()?;
    let inner = Connection::connect(&info, ConnectOptions { autocommit })
        .await
        .into_napi()?;
    Ok(NativeConnection::standalone(inner))
}

/// `close()` on a connection checked out of a pool with `closeReturns` gives it back instead.
async fn close(inner: Arc<Connection>, lease: Option<PoolLease>) -> napi::Result<()> {
    match lease {
        Some(lease) if lease.pool.close_returns() && lease.pool.is_checked_out(lease.id) => {
            lease.pool.putconn(lease.id).await.into_napi()
        }
        _ => {
            inner.close().await;
            Ok(())
        }
    }
}

async fn run_query(conn: Arc<Connection>, sql: String, params: Buffer) -> napi::Result<NativeResult> {
    let params = params::decode(&params).into_napi()?;
    conn.query(&sql, &params).await.map(NativeResult::from).into_napi()
}

#[napi]
pub async fn connect(conninfo: String, autocommit: bool) -> napi::Result<NativeConnection> {
    open(conninfo, autocommit).await
}

#[napi]
pub fn connect_sync(conninfo: String, autocommit: bool) -> napi::Result<NativeConnection> {
    block_on(open(conninfo, autocommit))
}

#[napi]
impl NativeConnection {
    /// `params` is the tagged parameter form of `pgtide_core::params`.
    #[napi]
    pub async fn query(&self, sql: String, params: Buffer) -> napi::Result<NativeResult> {
        run_query(self.inner.clone(), sql, params).await
    }

    #[napi]
    pub fn query_sync(&self, sql: String, params: Buffer) -> napi::Result<NativeResult> {
        block_on(run_query(self.inner.clone(), sql, params))
    }

    #[napi]
    pub async fn exec(&self, sql: String) -> napi::Result<()> {
        self.inner.exec(&sql).await.into_napi()
    }

    #[napi]
    pub fn exec_sync(&self, sql: String) -> napi::Result<()> {
        block_on(self.inner.exec(&sql)).into_napi()
    }

    #[napi]
    pub async fn commit(&self) -> napi::Result<()> {
        self.inner.commit().await.into_napi()
    }

    #[napi]
    pub fn commit_sync(&self) -> napi::Result<()> {
        block_on(self.inner.commit()).into_napi()
    }

    #[napi]
    pub async fn rollback(&self) -> napi::Result<()> {
        self.inner.rollback().await.into_napi()
    }

    #[napi]
    pub fn rollback_sync(&self) -> napi::Result<()> {
        block_on(self.inner.rollback()).into_napi()
    }

    /// Sends a CancelRequest for whatever this connection runs.
    #[napi]
    pub async fn cancel(&self) -> napi::Result<()> {
        self.inner.cancel().await.into_napi()
    }

    #[napi]
    pub fn cancel_sync(&self) -> napi::Result<()> {
        block_on(self.inner.cancel()).into_napi()
    }

    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        close(self.inner.clone(), self.lease.clone()).await
    }

    #[napi]
    pub fn close_sync(&self) -> napi::Result<()> {
        block_on(close(self.inner.clone(), self.lease.clone()))
    }

    /// psycopg's `check_connection`: an empty query, autocommit left as it was.
    #[napi]
    pub async fn check_connection(&self) -> napi::Result<()> {
        pgtide_core::pool::check_connection(&self.inner).await.into_napi()
    }

    #[napi]
    pub fn check_connection_sync(&self) -> napi::Result<()> {
        block_on(pgtide_core::pool::check_connection(&self.inner)).into_napi()
    }

    #[napi(getter)]
    pub fn backend_pid(&self) -> i32 {
        self.inner.backend_pid()
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.closed()
    }

    #[napi(getter)]
    pub fn broken(&self) -> bool {
        self.inner.broken()
    }

    #[napi(getter)]
    pub fn transaction_status(&self) -> &'static str {
        self.inner.transaction_status().as_str()
    }

    #[napi(getter)]
    pub fn autocommit(&self) -> bool {
        self.inner.autocommit()
    }

    #[napi]
    pub fn set_autocommit(&self, on: bool) -> napi::Result<()> {
        self.inner.set_autocommit(on).into_napi()
    }
}
