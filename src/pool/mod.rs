//! `NativePool`: the engine's pool, with JavaScript functions as its hooks. The policy is all
//! in `pgtide_core::pool`; these files only convert: options and stats here and in
//! options.rs, the JavaScript hooks in hooks.rs, the calls that hand out connections and run
//! statements in calls.rs.

mod calls;
mod hooks;
mod options;

use std::time::Duration;

use napi::bindgen_prelude::{within_runtime_if_available, Either, FnArgs, Function, Promise};
use napi::Env;
use napi_derive::napi;
use pgtide_core::pool::{self, Callbacks, Level};
use pgtide_core::{Error, Pool};

use crate::blocking::block_on;
use crate::connection::NativeConnection;
use crate::errors::IntoNapi;
use crate::shared_pools;
use hooks::{async_hook, async_params, fixed_params, inline_hook, inline_params, logger, reconnect_failed_notice};
use options::native_stats;

pub(crate) use calls::pooled;
pub use options::{NativeConnectParams, NativePoolOptions, NativeStats};

/// A connection's ticket back to the pool that handed it out: the engine checks it (one atomic
/// load) before every use of the connection, and takes it back with the connection.
pub type PoolLease = pgtide_core::pool::Ticket;

#[napi]
pub struct NativePool {
    pub(crate) pool: Pool,
    /// Its hooks or conninfo function are functions of the thread that made it (sync pools),
    /// so it cannot be shared with other threads.
    thread_bound: bool,
}

/// A call's duration argument in seconds, checked by the engine's rule (`what` names it).
fn seconds(what: &str, value: f64) -> napi::Result<Duration> {
    pool::seconds(what, value).into_napi()
}

/// An optional duration argument: `None` takes the pool's setting.
pub(crate) fn optional_seconds(what: &str, value: Option<f64>) -> napi::Result<Option<Duration>> {
    value.map(|v| seconds(what, v)).transpose()
}

#[napi]
impl NativePool {
    /// An async pool. `connect` is either fixed parameters or a function returning a Promise of
    /// them; hooks are async functions taking a native connection, awaited by the engine.
    #[napi(catch_unwind, constructor)]
    pub fn new(
        options: NativePoolOptions,
        connect: Either<NativeConnectParams, Function<(), Promise<NativeConnectParams>>>,
        configure: Option<Function<NativeConnection, Promise<()>>>,
        check: Option<Function<NativeConnection, Promise<()>>>,
        reset: Option<Function<NativeConnection, Promise<()>>>,
        reconnect_failed: Option<Function<(), Promise<()>>>,
        log: Option<Function<FnArgs<(String, String)>, ()>>,
    ) -> napi::Result<NativePool> {
        let callbacks = Callbacks {
            connect_params: match connect {
                Either::A(params) => fixed_params(&params)?,
                Either::B(function) => async_params(function)?,
            },
            configure: async_hook(configure)?,
            check: async_hook(check)?,
            reset: async_hook(reset)?,
            reconnect_failed: reconnect_failed_notice(reconnect_failed, true)?,
            logger: logger(log)?,
            log_level: Level::Warning,
            hooks_inline: false,
        };
        NativePool::build(options, callbacks, false)
    }

    /// A sync pool: hooks are plain functions, run on the JS thread inside the sync calls.
    #[napi(catch_unwind, factory)]
    #[allow(clippy::too_many_arguments)]
    pub fn create_sync(
        env: Env,
        options: NativePoolOptions,
        connect: Either<NativeConnectParams, Function<(), NativeConnectParams>>,
        configure: Option<Function<NativeConnection, ()>>,
        check: Option<Function<NativeConnection, ()>>,
        reset: Option<Function<NativeConnection, ()>>,
        reconnect_failed: Option<Function<(), Promise<()>>>,
        log: Option<Function<FnArgs<(String, String)>, ()>>,
    ) -> napi::Result<NativePool> {
        let thread_bound = configure.is_some() || check.is_some() || reset.is_some() || matches!(connect, Either::B(_));
        let callbacks = Callbacks {
            connect_params: match connect {
                Either::A(params) => fixed_params(&params)?,
                Either::B(function) => inline_params(&env, function)?,
            },
            configure: inline_hook(&env, configure)?,
            check: inline_hook(&env, check)?,
            reset: inline_hook(&env, reset)?,
            reconnect_failed: reconnect_failed_notice(reconnect_failed, false)?,
            logger: logger(log)?,
            log_level: Level::Warning,
            hooks_inline: true,
        };
        NativePool::build(options, callbacks, thread_bound)
    }

    #[napi(catch_unwind)]
    pub fn open(&self) -> napi::Result<()> {
        within_runtime_if_available(|| self.pool.open()).into_napi()
    }

    #[napi(catch_unwind)]
    pub async fn wait(&self, timeout: f64) -> napi::Result<()> {
        self.pool.wait(seconds("wait() timeout", timeout)?).await.into_napi()
    }

    /// A handle other threads can `attach` to. Refused for a pool whose hooks or conninfo
    /// function belong to this thread.
    #[napi(catch_unwind)]
    pub fn share(&self) -> napi::Result<u32> {
        if self.thread_bound {
            return Err(Error::Interface(format!(
                "pool '{}' cannot be shared with other threads: its configure/check/reset hooks or conninfo function run on this thread only",
                self.pool.name()
            )))
            .into_napi();
        }
        Ok(shared_pools::share(&self.pool))
    }

    /// Another face of a pool `share()`d by another thread.
    #[napi(catch_unwind, factory)]
    pub fn attach(handle: f64) -> napi::Result<NativePool> {
        let handle = pool::whole_number("attach() handle", handle, u32::MAX as usize).into_napi()? as u32;
        match shared_pools::attach(handle) {
            Some(pool) => Ok(NativePool {
                pool,
                thread_bound: false,
            }),
            None => Err(Error::Interface(format!(
                "no shared pool has handle {handle} (closed, or never shared)"
            )))
            .into_napi(),
        }
    }

    #[napi(catch_unwind)]
    pub async fn close(&self, timeout: f64) -> napi::Result<()> {
        let timeout = seconds("close() timeout", timeout)?;
        shared_pools::forget(&self.pool);
        self.pool.close(timeout).await;
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn wait_sync(&self, timeout: f64) -> napi::Result<()> {
        let timeout = seconds("wait() timeout", timeout)?;
        block_on(self.pool.wait(timeout))?.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn close_sync(&self, timeout: f64) -> napi::Result<()> {
        let timeout = seconds("close() timeout", timeout)?;
        shared_pools::forget(&self.pool);
        block_on(self.pool.close(timeout))
    }

    #[napi(catch_unwind)]
    pub fn check_sync(&self) -> napi::Result<()> {
        block_on(self.pool.check())
    }

    #[napi(catch_unwind)]
    pub fn drain_sync(&self) -> napi::Result<()> {
        block_on(self.pool.drain())
    }

    #[napi(catch_unwind)]
    pub fn resize(&self, min_size: f64, max_size: Option<f64>) -> napi::Result<()> {
        let min_size = pool::pool_size("minSize", min_size).into_napi()?;
        let max_size = max_size
            .map(|v| pool::pool_size("maxSize", v))
            .transpose()
            .into_napi()?;
        within_runtime_if_available(|| self.pool.resize(min_size, max_size)).into_napi()
    }

    #[napi(catch_unwind)]
    pub async fn check(&self) {
        self.pool.check().await
    }

    #[napi(catch_unwind)]
    pub async fn drain(&self) {
        self.pool.drain().await
    }

    #[napi(catch_unwind)]
    pub fn get_stats(&self) -> NativeStats {
        native_stats(self.pool.stats())
    }

    #[napi(catch_unwind)]
    pub fn pop_stats(&self) -> NativeStats {
        native_stats(self.pool.pop_stats())
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.pool.name().to_string()
    }

    #[napi(getter)]
    pub fn min_size(&self) -> u32 {
        self.pool.sizes().0 as u32
    }

    #[napi(getter)]
    pub fn max_size(&self) -> u32 {
        self.pool.sizes().1 as u32
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.pool.closed()
    }
}
