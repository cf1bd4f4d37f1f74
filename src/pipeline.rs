//! `NativePipeline`: the engine's pipeline (`connection/pipeline.rs`), holding its connection
//! until closed. `lib/pipeline.ts` queues the statements and sends them in batches.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Either, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use pgtide_core::connection::{Pipeline, PipelineStep};
use pgtide_core::{params, Connection};
use tokio::sync::Mutex;

use crate::blocking::block_on;
use crate::connection::NativeConnection;
use crate::errors::{to_napi, IntoNapi};
use crate::promise::eager_promise;
use crate::result::NativeResult;

/// One step: a statement (`sql` with its tagged parameters) or, without `sql`, a sync point.
#[napi(object)]
pub struct NativePipelineStep {
    pub sql: Option<String>,
    pub params: Option<Buffer>,
}

#[napi]
pub struct NativePipeline {
    pipeline: Arc<Mutex<Pipeline>>,
}

/// A step's owned parts, so the run can go to the runtime.
type OwnedStep = Option<(String, Vec<u8>)>;

/// Each query step's result, or its error as the record `lib/native-errors.ts` reads.
type Outcomes = Vec<Either<NativeResult, String>>;

async fn open(conn: Arc<Connection>) -> napi::Result<NativePipeline> {
    let pipeline = conn.open_pipeline().await.into_napi()?;
    Ok(NativePipeline {
        pipeline: Arc::new(Mutex::new(pipeline)),
    })
}

fn owned(steps: Vec<NativePipelineStep>) -> Vec<OwnedStep> {
    steps
        .into_iter()
        .map(|step| {
            let params = step.params.map(|p| p.to_vec()).unwrap_or_default();
            step.sql.map(|sql| (sql, params))
        })
        .collect()
}

async fn run(pipeline: Arc<Mutex<Pipeline>>, steps: Vec<OwnedStep>) -> napi::Result<Outcomes> {
    let mut decoded = Vec::with_capacity(steps.len());
    for step in &steps {
        decoded.push(match step {
            Some((sql, params)) => PipelineStep::Query {
                sql,
                params: params::decode(params).into_napi()?,
            },
            None => PipelineStep::Sync,
        });
    }
    let outcomes = pipeline.lock().await.run(&decoded).await.into_napi()?;
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(result) => Either::A(NativeResult::from(result)),
            Err(e) => Either::B(to_napi(e).reason),
        })
        .collect())
}

async fn close(pipeline: Arc<Mutex<Pipeline>>) -> napi::Result<()> {
    pipeline.lock().await.close().await.into_napi()
}

#[napi]
impl NativeConnection {
    /// Takes the connection for a pipeline, until `close()`.
    #[napi(catch_unwind, ts_return_type = "Promise<NativePipeline>")]
    pub fn open_pipeline<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, NativePipeline>> {
        eager_promise(env, open(self.conn()?.clone()))
    }

    #[napi(catch_unwind)]
    pub fn open_pipeline_sync(&self) -> napi::Result<NativePipeline> {
        block_on(open(self.conn()?.clone()))?
    }
}

#[napi]
impl NativePipeline {
    /// Sends the steps and resolves to one entry per statement: a `NativeResult`-shaped array,
    /// or a string holding its error. Rejects only when the connection is lost.
    #[napi(catch_unwind, ts_return_type = "Promise<(unknown[] | string)[]>")]
    pub fn run<'env>(
        &self,
        env: &'env Env,
        steps: Vec<NativePipelineStep>,
    ) -> napi::Result<PromiseRaw<'env, Outcomes>> {
        eager_promise(env, run(self.pipeline.clone(), owned(steps)))
    }

    #[napi(catch_unwind, ts_return_type = "(unknown[] | string)[]")]
    pub fn run_sync(&self, steps: Vec<NativePipelineStep>) -> napi::Result<Outcomes> {
        block_on(run(self.pipeline.clone(), owned(steps)))?
    }

    /// Sends the last Sync and frees the connection; harmless once closed.
    #[napi(catch_unwind)]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        eager_promise(env, close(self.pipeline.clone()))
    }

    #[napi(catch_unwind)]
    pub fn close_sync(&self) -> napi::Result<()> {
        block_on(close(self.pipeline.clone()))?
    }
}
