//! `NativePool`: the engine's pool, with JavaScript functions as its hooks. The policy is all
//! in `pgtide_core::pool`; this file only converts.

use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use napi::bindgen_prelude::{
    within_runtime_if_available, BufferSlice, Either, FnArgs, Function, FunctionRef, Promise, PromiseRaw,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use pgtide_core::pool::{self, Callbacks, Level, Outcome, PoolConfig, PoolKind, PoolOptions};
use pgtide_core::statement_timeout::{set_statement_timeout, statement_timeout_ms};
use pgtide_core::{params, ConnInfo, ConnectOptions, Connection, Error, Pool, ResultFormats, RowSink, TlsMaterial};

use crate::blocking::block_on;
use crate::connection::{result_formats, NativeConnection, NativeTls};
use crate::eager::{eager_promise, in_scope};
use crate::errors::IntoNapi;
use crate::result::NativeResult;
use crate::rows::row_sink;
use crate::shared_pools;

/// A connection's ticket back to the pool that handed it out.
#[derive(Clone)]
pub struct PoolLease {
    pub pool: Pool,
    pub id: u64,
}

/// Pool options as the user gave them: numbers unchecked (the engine checks them, naming the
/// option), `None` for the engine's default.
#[napi(object)]
pub struct NativePoolOptions {
    /// A null pool (no idle connections kept) rather than a regular one.
    pub null: bool,
    pub name: String,
    pub min_size: Option<f64>,
    pub max_size: Option<f64>,
    pub num_workers: Option<f64>,
    pub close_returns: bool,
    pub timeout: Option<f64>,
    pub max_waiting: Option<f64>,
    pub max_lifetime: Option<f64>,
    pub max_idle: Option<f64>,
    pub reconnect_timeout: Option<f64>,
    pub leak_detection_threshold: Option<f64>,
    /// The least severe log record to send to `log`: "debug", "info" or "warning".
    pub log_level: String,
}

/// What a connection attempt needs; a function returning it is called at every attempt.
#[napi(object)]
pub struct NativeConnectParams {
    pub conninfo: String,
    pub autocommit: bool,
    pub statement_cache_size: u32,
    pub tls: Option<NativeTls>,
    /// `connectionOptions.statementTimeout` in seconds, unchecked (`statement_timeout.rs`).
    pub statement_timeout: Option<f64>,
}

#[napi(object)]
pub struct NativeStats {
    pub pool_min: f64,
    pub pool_max: f64,
    pub pool_size: f64,
    pub pool_available: f64,
    pub requests_waiting: f64,
    pub requests_num: f64,
    pub requests_queued: f64,
    pub requests_wait_ms: f64,
    pub requests_errors: f64,
    pub usage_ms: f64,
    pub returns_bad: f64,
    pub connections_num: f64,
    pub connections_ms: f64,
    pub connections_errors: f64,
    pub connections_lost: f64,
    pub connections_leaked: f64,
}

type HookFn = ThreadsafeFunction<NativeConnection, Promise<()>, NativeConnection, Status, false, true>;
type ParamsFn = ThreadsafeFunction<(), Promise<NativeConnectParams>, (), Status, false, true>;
type NotifyFn = ThreadsafeFunction<(), Promise<()>, (), Status, false, true>;
type LogFn = ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;

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

fn connect_options(params: &NativeConnectParams) -> ConnectOptions {
    ConnectOptions {
        autocommit: params.autocommit,
        statement_cache_size: params.statement_cache_size as usize,
        tls: params.tls.as_ref().map(TlsMaterial::from),
    }
}

/// A JavaScript hook failed: keep its message for the pool's log lines.
fn callback_error(error: napi::Error) -> Error {
    Error::Callback(error.reason.clone())
}

/// A JavaScript function the runtime's threads can call, which never keeps Node alive.
fn background<Args, Return>(
    function: Function<Args, Return>,
) -> napi::Result<ThreadsafeFunction<Args, Return, Args, Status, false, true>>
where
    Args: napi::bindgen_prelude::JsValuesTupleIntoVec + 'static,
    Return: napi::bindgen_prelude::FromNapiValue + 'static,
{
    function
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
}

fn hook(function: HookFn) -> pool::ConnectionHook {
    let function = Arc::new(function);
    Arc::new(move |conn: Arc<Connection>| {
        let function = function.clone();
        Box::pin(async move {
            let promise = function
                .call_async_catch(NativeConnection::standalone(conn))
                .await
                .map_err(callback_error)?;
            promise.await.map_err(callback_error)
        })
    })
}

fn level(name: &str) -> napi::Result<Level> {
    match name {
        "debug" => Ok(Level::Debug),
        "info" => Ok(Level::Info),
        "warning" => Ok(Level::Warning),
        other => Err(napi::Error::from_reason(format!("invalid log level {other:?}"))),
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warning => "warning",
    }
}

/// A JavaScript function a sync pool calls directly, on the thread that created the pool: the
/// JS thread, blocked in a sync call that reached the hook. Anywhere else it refuses.
struct JsThreadFunction<Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return> {
    function: FunctionRef<Args, Return>,
    env: napi::sys::napi_env,
    thread: ThreadId,
}

// Safety: the function and env are only touched on `thread`, the JS thread that made them;
// elsewhere `call` refuses before touching either (FunctionRef releases itself on its own thread).
unsafe impl<Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return> Send for JsThreadFunction<Args, Return> {}
unsafe impl<Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return> Sync for JsThreadFunction<Args, Return> {}

impl<Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return: napi::bindgen_prelude::FromNapiValue>
    JsThreadFunction<Args, Return>
{
    fn new(env: &Env, function: &Function<Args, Return>) -> napi::Result<Self> {
        Ok(JsThreadFunction {
            function: function.create_ref()?,
            env: env.raw(),
            thread: thread::current().id(),
        })
    }

    fn on_js_thread(&self) -> bool {
        thread::current().id() == self.thread
    }

    fn call(&self, args: Args) -> Result<Return, Error> {
        if !self.on_js_thread() {
            return Err(Error::Callback(
                "a sync pool's callback can only run on the JavaScript thread".into(),
            ));
        }
        let env = Env::from_raw(self.env);
        self.function
            .borrow_back(&env)
            .and_then(|f| f.call(args))
            .map_err(callback_error)
    }
}

fn inline_hook(
    env: &Env,
    function: Option<Function<NativeConnection, ()>>,
) -> napi::Result<Option<pool::ConnectionHook>> {
    let Some(function) = function else { return Ok(None) };
    let function = Arc::new(JsThreadFunction::new(env, &function)?);
    Ok(Some(Arc::new(move |conn: Arc<Connection>| {
        let outcome = function.call(NativeConnection::standalone(conn));
        Box::pin(async move { outcome })
    })))
}

fn async_hook(function: Option<Function<NativeConnection, Promise<()>>>) -> napi::Result<Option<pool::ConnectionHook>> {
    function.map(|f| Ok(hook(background(f)?))).transpose()
}

fn parse_params(params: &NativeConnectParams) -> pgtide_core::Result<(ConnInfo, ConnectOptions)> {
    let mut info = ConnInfo::parse(&params.conninfo)?;
    if let Some(timeout) = params.statement_timeout {
        set_statement_timeout(&mut info, statement_timeout_ms(timeout)?);
    }
    Ok((info, connect_options(params)))
}

fn fixed_params(params: &NativeConnectParams) -> napi::Result<pool::ConnectParams> {
    let (info, options) = parse_params(params).into_napi()?;
    Ok(Callbacks::fixed(info, options).connect_params)
}

/// A sync pool calls a conninfo function on the JS thread when a pool call connects there;
/// background reconnections on the runtime's threads reuse the last parameters it returned.
fn inline_params(env: &Env, function: Function<(), NativeConnectParams>) -> napi::Result<pool::ConnectParams> {
    let first = parse_params(&function.call(())?).into_napi()?;
    let latest = Arc::new(Mutex::new(first));
    let function = Arc::new(JsThreadFunction::new(env, &function)?);
    Ok(Arc::new(move || {
        let outcome = if function.on_js_thread() {
            function
                .call(())
                .and_then(|params| parse_params(&params))
                .inspect(|fresh| {
                    *latest.lock().unwrap() = fresh.clone();
                })
        } else {
            Ok(latest.lock().unwrap().clone())
        };
        Box::pin(async move { outcome })
    }))
}

fn async_params(function: Function<(), Promise<NativeConnectParams>>) -> napi::Result<pool::ConnectParams> {
    let function: Arc<ParamsFn> = Arc::new(background(function)?);
    Ok(Arc::new(move || {
        let function = function.clone();
        Box::pin(async move {
            let promise = function.call_async_catch(()).await.map_err(callback_error)?;
            parse_params(&promise.await.map_err(callback_error)?)
        })
    }))
}

/// `reconnectFailed` is a notification from a worker: async pools await it, sync pools post it.
fn reconnect_failed_notice(
    function: Option<Function<(), Promise<()>>>,
    wait: bool,
) -> napi::Result<Option<pool::ReconnectFailed>> {
    let Some(function) = function else { return Ok(None) };
    let function: Arc<NotifyFn> = Arc::new(background(function)?);
    Ok(Some(Arc::new(move || {
        let function = function.clone();
        Box::pin(async move {
            if !wait {
                function.call((), ThreadsafeFunctionCallMode::NonBlocking);
                return;
            }
            // The JS wrapper reports a failing callback itself; the pool goes on either way.
            if let Ok(promise) = function.call_async_catch(()).await {
                let _ = promise.await;
            }
        })
    })))
}

fn logger(function: Option<Function<FnArgs<(String, String)>, ()>>) -> napi::Result<Option<pool::Logger>> {
    let Some(function) = function else { return Ok(None) };
    let function: LogFn = background(function)?;
    Ok(Some(Arc::new(move |level, message| {
        function.call(
            (level_name(level).to_string(), message).into(),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    })))
}

impl NativePool {
    fn build(options: NativePoolOptions, mut callbacks: Callbacks, thread_bound: bool) -> napi::Result<NativePool> {
        let kind = if options.null {
            PoolKind::Null
        } else {
            PoolKind::Regular
        };
        callbacks.log_level = level(&options.log_level)?;
        let numbers = PoolOptions {
            min_size: options.min_size,
            max_size: options.max_size,
            num_workers: options.num_workers,
            timeout: options.timeout,
            max_waiting: options.max_waiting,
            max_lifetime: options.max_lifetime,
            max_idle: options.max_idle,
            reconnect_timeout: options.reconnect_timeout,
            leak_detection_threshold: options.leak_detection_threshold,
        };
        let config = PoolConfig::from_options(kind, options.name, options.close_returns, &numbers).into_napi()?;
        Ok(NativePool {
            pool: Pool::new(config, callbacks),
            thread_bound,
        })
    }
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

    /// `timeout` in seconds; `None` uses the pool's. The request joins the pool's queue during
    /// this call, so concurrent callers are served in the order they called. A connection that
    /// is ready comes back directly; otherwise a Promise of it.
    #[napi(catch_unwind, ts_return_type = "NativeConnection | Promise<NativeConnection>")]
    pub fn getconn<'env>(
        &self,
        env: &'env Env,
        timeout: Option<f64>,
    ) -> napi::Result<Either<NativeConnection, PromiseRaw<'env, NativeConnection>>> {
        let pool = self.pool.clone();
        match self.pool.getconn(optional_seconds("getconn() timeout", timeout)?) {
            Outcome::Now(lease) => Ok(Either::A(pooled(pool, lease.into_napi()?))),
            Outcome::Later(future) => {
                let lease = eager_promise(env, async move { Ok(pooled(pool, future.await.into_napi()?)) })?;
                Ok(Either::B(lease))
            }
        }
    }

    /// Nothing when the connection went straight back; else a Promise of the return.
    #[napi(catch_unwind, ts_return_type = "Promise<void> | undefined")]
    pub fn putconn<'env>(&self, env: &'env Env, conn: &NativeConnection) -> napi::Result<Option<PromiseRaw<'env, ()>>> {
        let id = self.own_lease(conn)?;
        in_scope(env, || promise_of(env, self.pool.putconn(id)))
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
        let id = self.own_lease(conn)?;
        in_scope(env, || promise_of(env, self.pool.finish_use(id, succeeded)))
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
    pub fn getconn_sync(&self, timeout: Option<f64>) -> napi::Result<NativeConnection> {
        let timeout = optional_seconds("getconn() timeout", timeout)?;
        let lease = block_on(self.pool.getconn(timeout).finish())?.into_napi()?;
        Ok(pooled(self.pool.clone(), lease))
    }

    #[napi(catch_unwind)]
    pub fn putconn_sync(&self, conn: &NativeConnection) -> napi::Result<()> {
        let id = self.own_lease(conn)?;
        block_on(self.pool.putconn(id).finish())?.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn finish_use_sync(&self, conn: &NativeConnection, succeeded: bool) -> napi::Result<()> {
        let id = self.own_lease(conn)?;
        block_on(self.pool.finish_use(id, succeeded).finish())?.into_napi()
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

/// A connection handed out by `pool`, carrying its lease.
pub(crate) fn pooled(pool: Pool, lease: pgtide_core::Lease) -> NativeConnection {
    NativeConnection {
        inner: lease.conn,
        lease: Some(PoolLease { pool, id: lease.id }),
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

impl NativePool {
    /// The lease id of a connection this pool handed out, or psycopg's error naming the culprit.
    pub(crate) fn own_lease(&self, conn: &NativeConnection) -> napi::Result<u64> {
        let name = self.pool.name();
        match &conn.lease {
            Some(lease) if lease.pool.same_pool(&self.pool) => Ok(lease.id),
            Some(lease) => Err(Error::Interface(format!(
                "can't return connection to pool '{name}', it comes from pool '{}'",
                lease.pool.name()
            ))),
            None => Err(Error::Interface(format!(
                "can't return connection to pool '{name}', it doesn't come from any pool"
            ))),
        }
        .into_napi()
    }
}

fn native_stats(stats: pool::Stats) -> NativeStats {
    let c = &stats.counters;
    NativeStats {
        pool_min: stats.pool_min as f64,
        pool_max: stats.pool_max as f64,
        pool_size: stats.pool_size as f64,
        pool_available: stats.pool_available as f64,
        requests_waiting: stats.requests_waiting as f64,
        requests_num: c.requests_num as f64,
        requests_queued: c.requests_queued as f64,
        requests_wait_ms: c.requests_wait_ms as f64,
        requests_errors: c.requests_errors as f64,
        usage_ms: c.usage_ms as f64,
        returns_bad: c.returns_bad as f64,
        connections_num: c.connections_num as f64,
        connections_ms: c.connections_ms as f64,
        connections_errors: c.connections_errors as f64,
        connections_lost: c.connections_lost as f64,
        connections_leaked: c.connections_leaked as f64,
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
    let params = params::decode(&params).into_napi()?;
    let result = pool.query(&sql, &params, timeout, rows, formats).await;
    result.map(NativeResult::from).into_napi()
}

async fn pool_simple_query(pool: Pool, sql: String, timeout: Option<Duration>) -> napi::Result<Vec<NativeResult>> {
    let results = pool.simple_query(&sql, timeout).await;
    results
        .map(|results| results.into_iter().map(NativeResult::from).collect())
        .into_napi()
}
