//! The calls that hand out connections, take them back, and run statements on the pool's
//! connections: each an eager Promise (or nothing, when done at once) and a blocking twin.

use std::time::Duration;

use napi::bindgen_prelude::{BufferSlice, Either, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use pgtide_core::pool::{Outcome, Statement};
use pgtide_core::{Pool, ResultFormats, RowSink};

use super::{optional_seconds, NativePool};
use crate::blocking::block_on;
use crate::connection::{result_formats, NativeConnection};
use crate::errors::IntoNapi;
use crate::promise::{eager_promise, in_scope};
use crate::result::NativeResult;
use crate::rows::row_sink;

#[napi]
impl NativePool {
    /// `timeout` in seconds; `None` uses the pool's. The request joins the pool's queue during
    /// this call, so concurrent callers are served in the order they called. A connection that
    /// is ready comes back directly; otherwise a Promise of it.
    #[napi(catch_unwind, ts_return_type = "NativeConnection | Promise<NativeConnection>")]
    pub fn getconn<'env>(
        &self,
        env: &'env Env,
        timeout: Option<f64>,
    ) -> napi::Result<Either<NativeConnection, PromiseRaw<'env, NativeConnection>>> {
        match self.pool.getconn(optional_seconds("getconn() timeout", timeout)?) {
            Outcome::Now(lease) => Ok(Either::A(pooled(lease.into_napi()?))),
            Outcome::Later(future) => {
                let lease = eager_promise(env, async move { Ok(pooled(future.await.into_napi()?)) })?;
                Ok(Either::B(lease))
            }
        }
    }

    /// Nothing when the connection went straight back; else a Promise of the return.
    #[napi(catch_unwind, ts_return_type = "Promise<void> | undefined")]
    pub fn putconn<'env>(&self, env: &'env Env, conn: &NativeConnection) -> napi::Result<Option<PromiseRaw<'env, ()>>> {
        in_scope(env, || promise_of(env, self.pool.putconn(conn.lease.as_ref())))
    }

    /// Ends a `connection(fn)` block: commit or rollback, return, count the usage. Nothing when
    /// that took no I/O; else a Promise.
    #[napi(catch_unwind, ts_return_type = "Promise<void> | undefined")]
    pub fn finish_use<'env>(
        &self,
        env: &'env Env,
        conn: &NativeConnection,
        succeeded: bool,
    ) -> napi::Result<Option<PromiseRaw<'env, ()>>> {
        in_scope(env, || {
            promise_of(env, self.pool.finish_use(conn.lease.as_ref(), succeeded))
        })
    }

    /// One statement on a connection of the pool, taken and given back by the engine
    /// (`Pool::query`): one call across the boundary and one Promise, where a `connection(fn)`
    /// block takes three. `rows_id` tags the query for the row sink (`rows.rs`).
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[]>")]
    pub fn query<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: BufferSlice,
        timeout: Option<f64>,
        rows_id: Option<u32>,
        text_results: Option<bool>,
    ) -> napi::Result<PromiseRaw<'env, NativeResult>> {
        let timeout = optional_seconds("query() timeout", timeout)?;
        let sink = row_sink(env, rows_id)?;
        let formats = result_formats(text_results);
        eager_promise(
            env,
            pool_query(self.pool.clone(), sql, params.to_vec(), timeout, sink, formats),
        )
    }

    #[napi(catch_unwind, ts_return_type = "unknown[]")]
    pub fn query_sync(
        &self,
        sql: String,
        params: BufferSlice,
        timeout: Option<f64>,
        text_results: Option<bool>,
    ) -> napi::Result<NativeResult> {
        let timeout = optional_seconds("query() timeout", timeout)?;
        let formats = result_formats(text_results);
        block_on(pool_query(
            self.pool.clone(),
            sql,
            params.to_vec(),
            timeout,
            None,
            formats,
        ))?
    }

    /// `Pool::simple_query`: any number of statements without parameters on a connection of
    /// the pool, one `NativeResult`-shaped array per statement, every column text.
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[][]>")]
    pub fn simple_query<'env>(
        &self,
        env: &'env Env,
        sql: String,
        timeout: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, Vec<NativeResult>>> {
        let timeout = optional_seconds("query() timeout", timeout)?;
        eager_promise(env, pool_simple_query(self.pool.clone(), sql, timeout))
    }

    #[napi(catch_unwind, ts_return_type = "unknown[][]")]
    pub fn simple_query_sync(&self, sql: String, timeout: Option<f64>) -> napi::Result<Vec<NativeResult>> {
        let timeout = optional_seconds("query() timeout", timeout)?;
        block_on(pool_simple_query(self.pool.clone(), sql, timeout))?
    }

    #[napi(catch_unwind)]
    pub fn getconn_sync(&self, timeout: Option<f64>) -> napi::Result<NativeConnection> {
        let timeout = optional_seconds("getconn() timeout", timeout)?;
        let lease = block_on(self.pool.getconn(timeout).finish())?.into_napi()?;
        Ok(pooled(lease))
    }

    #[napi(catch_unwind)]
    pub fn putconn_sync(&self, conn: &NativeConnection) -> napi::Result<()> {
        block_on(self.pool.putconn(conn.lease.as_ref()).finish())?.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn finish_use_sync(&self, conn: &NativeConnection, succeeded: bool) -> napi::Result<()> {
        block_on(self.pool.finish_use(conn.lease.as_ref(), succeeded).finish())?.into_napi()
    }
}

/// A connection handed out by a pool, carrying its ticket.
pub(crate) fn pooled(lease: pgtide_core::Lease) -> NativeConnection {
    NativeConnection {
        inner: lease.conn,
        lease: Some(lease.ticket),
    }
}

/// An engine call's outcome as JavaScript sees it: thrown or done now, or a Promise.
fn promise_of<'env>(
    env: &'env Env,
    outcome: Outcome<pgtide_core::Result<()>>,
) -> napi::Result<Option<PromiseRaw<'env, ()>>> {
    match outcome {
        Outcome::Now(result) => result.into_napi().map(|()| None),
        Outcome::Later(future) => Ok(Some(eager_promise(env, async move { future.await.into_napi() })?)),
    }
}

async fn pool_query(
    pool: Pool,
    sql: String,
    params: Vec<u8>,
    timeout: Option<Duration>,
    rows: Option<RowSink>,
    formats: ResultFormats,
) -> napi::Result<NativeResult> {
    let statement = Statement {
        sql,
        params,
        formats,
        rows,
    };
    pool.query(statement, timeout).await.map(NativeResult::from).into_napi()
}

async fn pool_simple_query(pool: Pool, sql: String, timeout: Option<Duration>) -> napi::Result<Vec<NativeResult>> {
    let results = pool.simple_query(&sql, timeout).await;
    results
        .map(|results| results.into_iter().map(NativeResult::from).collect())
        .into_napi()
}
