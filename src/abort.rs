//! `NativeAbort`: a pool call's AbortSignal as the engine takes it (`pool::Abort`). The
//! JavaScript side makes one per call with a signal and calls `abort()` when the signal fires.

use std::sync::Arc;

use napi::bindgen_prelude::{BufferSlice, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use pgtide_core::params;
use pgtide_core::pool::Abort;

use crate::connection::result_formats;
use crate::connection::NativeConnection;
use crate::errors::IntoNapi;
use crate::pool::{optional_seconds, pooled, NativePool};
use crate::promise::eager_promise;
use crate::result::NativeResult;
use crate::rows::row_sink;

#[napi]
pub struct NativeAbort {
    abort: Arc<Abort>,
}

#[napi]
impl NativeAbort {
    #[napi(constructor)]
    pub fn new() -> NativeAbort {
        NativeAbort { abort: Abort::new() }
    }

    /// Stops the call: out of the queue if it waits, cancelled on the server if its statement
    /// runs; a no-op once it is done.
    #[napi(catch_unwind)]
    pub async fn abort(&self) -> napi::Result<()> {
        self.abort.abort().await.into_napi()
    }
}

impl Default for NativeAbort {
    fn default() -> Self {
        NativeAbort::new()
    }
}

#[napi]
impl NativePool {
    /// `getconn` that `abort` can stop while it waits: always a Promise.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeConnection>")]
    pub fn getconn_abortable<'env>(
        &self,
        env: &'env Env,
        timeout: Option<f64>,
        abort: &NativeAbort,
    ) -> napi::Result<PromiseRaw<'env, NativeConnection>> {
        let timeout = optional_seconds("getconn() timeout", timeout)?;
        let pool = self.pool.clone();
        let abort = abort.abort.clone();
        eager_promise(env, async move {
            let lease = pool.getconn_abortable(timeout, &abort).await.into_napi()?;
            Ok(pooled(lease))
        })
    }

    /// `query` that `abort` can stop, in the queue or on the server.
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[]>")]
    #[allow(clippy::too_many_arguments)]
    pub fn query_abortable<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: BufferSlice,
        timeout: Option<f64>,
        rows_id: Option<u32>,
        text_results: Option<bool>,
        abort: &NativeAbort,
    ) -> napi::Result<PromiseRaw<'env, NativeResult>> {
        let timeout = optional_seconds("query() timeout", timeout)?;
        let sink = row_sink(env, rows_id)?;
        let formats = result_formats(text_results);
        let pool = self.pool.clone();
        let abort = abort.abort.clone();
        let params = params.to_vec();
        eager_promise(env, async move {
            let params = params::decode(&params).into_napi()?;
            let result = pool
                .query_abortable(&sql, &params, timeout, sink, formats, &abort)
                .await;
            result.map(NativeResult::from).into_napi()
        })
    }
}
