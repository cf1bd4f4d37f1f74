//! The pool's callbacks as JavaScript functions: the async pools' hooks run on the JS thread
//! through threadsafe functions the engine awaits; the sync pools' hooks are called directly,
//! on the JS thread, inside the sync call that reached them.

use std::sync::Arc;
use std::thread::{self, ThreadId};

use napi::bindgen_prelude::{FnArgs, Function, FunctionRef, Promise};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use pgtide_core::pool::{self, Callbacks};
use pgtide_core::{Connection, Error};

use super::options::{level_name, parse_params, NativeConnectParams};
use crate::connection::NativeConnection;
use crate::errors::IntoNapi;

type HookFn = ThreadsafeFunction<NativeConnection, Promise<()>, NativeConnection, Status, false, true>;
type ParamsFn = ThreadsafeFunction<(), Promise<NativeConnectParams>, (), Status, false, true>;
type NotifyFn = ThreadsafeFunction<(), Promise<()>, (), Status, false, true>;
type LogFn = ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;

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

/// A JavaScript function a sync pool calls directly, on the thread that created the pool: the
/// JS thread, blocked in a sync call that reached the hook. Anywhere else it refuses.
struct JsThreadFunction<Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return> {
    function: FunctionRef<Args, Return>,
    env: napi::sys::napi_env,
    thread: ThreadId,
}

// SAFETY: the function and env are only touched on `thread`, the JS thread that made them;
// elsewhere `call` refuses before touching either (FunctionRef releases itself on its own thread).
unsafe impl<Args: napi::bindgen_prelude::JsValuesTupleIntoVec, Return> Send for JsThreadFunction<Args, Return> {}
// SAFETY: as for `Send`: shared use goes through `call`, which checks the thread first.
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

pub(super) fn inline_hook(
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

pub(super) fn async_hook(
    function: Option<Function<NativeConnection, Promise<()>>>,
) -> napi::Result<Option<pool::ConnectionHook>> {
    function.map(|f| Ok(hook(background(f)?))).transpose()
}

pub(super) fn fixed_params(params: &NativeConnectParams) -> napi::Result<pool::ConnectParams> {
    let (info, options) = parse_params(params).into_napi()?;
    Ok(Callbacks::fixed(info, options).connect_params)
}

/// A sync pool's conninfo function can be called only on the JS thread (when a pool call
/// connects there); what the engine does elsewhere is its policy (`remembered_params`).
pub(super) fn inline_params(
    env: &Env,
    function: Function<(), NativeConnectParams>,
) -> napi::Result<pool::ConnectParams> {
    let first = parse_params(&function.call(())?).into_napi()?;
    let function = JsThreadFunction::new(env, &function)?;
    Ok(pool::remembered_params::<Connection>(first, move || {
        function
            .on_js_thread()
            .then(|| function.call(()).and_then(|params| parse_params(&params)))
    }))
}

pub(super) fn async_params(function: Function<(), Promise<NativeConnectParams>>) -> napi::Result<pool::ConnectParams> {
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
pub(super) fn reconnect_failed_notice(
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

pub(super) fn logger(function: Option<Function<FnArgs<(String, String)>, ()>>) -> napi::Result<Option<pool::Logger>> {
    let Some(function) = function else { return Ok(None) };
    let function: LogFn = background(function)?;
    Ok(Some(Arc::new(move |level, message| {
        function.call(
            (level_name(level).to_string(), message).into(),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    })))
}
