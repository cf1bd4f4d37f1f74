//! Promises for the hot operations (checkout, return, query), at the least cost per call,
//! settled on the JS thread whenever the work can finish there.
//!
//! - The operation's future is first polled on the JS thread, inside the runtime's context (as
//!   the `*Sync` twins poll it). A checkout from a pool with an idle connection or a return that
//!   needs no rollback finishes there, and its Promise settles with no thread hand-off; a query
//!   is written to the socket at once.
//! - A future that has to wait is not handed to the runtime until something wakes it. Woken by
//!   the runtime (the server answered, a timer fired), it runs on the runtime from then on, and
//!   its outcome comes back through the JS thread's shared threadsafe function (`js_thread`).
//! - Woken on the JS thread during a call from JS (a connection returned by `finishUse` is
//!   handed to a queued `getconn`), it is polled on the JS thread before the call returns: the
//!   hand-off settles the waiter's Promise without leaving the thread. So is one woken by Node's
//!   event loop (`event_loop.rs`: the socket of a query polled here became readable).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use napi::bindgen_prelude::{within_runtime_if_available, PromiseRaw, ToNapiValue};
use napi::{check_status, sys, Env, JsError};
use pgtide_core::wait::{never_blocking, with_event_loop};

use crate::event_loop;
use crate::js_thread::{self, Delivery, Link, OnJsThread};

/// An operation on its way to an outcome: what the JS thread then does to settle its Promise.
type Operation = Pin<Box<dyn Future<Output = OnJsThread> + Send>>;

/// An operation woken on the JS thread, with its task, waiting to be polled there.
type Woken = (Arc<Task>, Operation);

thread_local! {
    /// How many calls from JS (or from Node's event loop) into these operations are under way
    /// on this thread: they nest through sync hooks.
    static JS_CALLS: Cell<usize> = const { Cell::new(0) };
    /// Operations woken on this thread during such a call, polled before the outermost returns.
    /// Without a destructor (`ManuallyDrop`; empty outside such calls), so that a waker fired
    /// while the thread's thread-locals are destroyed at `process.exit` still finds it.
    static WOKEN_HERE: ManuallyDrop<RefCell<VecDeque<Woken>>> = const { ManuallyDrop::new(RefCell::new(VecDeque::new())) };
}

/// A waiting operation and its waker: parked in `operation` until woken.
struct Task {
    state: Mutex<TaskState>,
    link: Arc<Link>,
    runtime: tokio::runtime::Handle,
}

#[derive(Default)]
struct TaskState {
    operation: Option<Operation>,
    /// Woken while being polled (nothing was parked to take).
    woken: bool,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.lock().unwrap();
        let Some(operation) = state.operation.take() else {
            state.woken = true;
            return;
        };
        drop(state);
        if JS_CALLS.get() > 0 {
            WOKEN_HERE.with(|woken| woken.borrow_mut().push_back((self.clone(), operation)));
        } else {
            self.run_on_runtime(operation);
        }
    }
}

impl Task {
    /// Parks a pending operation until its waker fires; one woken during its own poll would
    /// spin on this thread, so it goes to the runtime.
    fn park(self: &Arc<Self>, operation: Operation) {
        let mut state = self.state.lock().unwrap();
        if state.woken {
            state.woken = false;
            drop(state);
            self.run_on_runtime(operation);
        } else {
            state.operation = Some(operation);
        }
    }

    fn run_on_runtime(self: &Arc<Self>, operation: Operation) {
        let link = self.link.clone();
        self.runtime.spawn(async move {
            let settle = operation.await;
            link.deliver(Delivery::Settle(settle));
        });
    }
}

/// One call from JS under way on this thread; the outermost polls what was woken during it.
struct JsCall(sys::napi_env);

impl JsCall {
    fn enter(env: sys::napi_env) -> JsCall {
        JS_CALLS.set(JS_CALLS.get() + 1);
        JsCall(env)
    }
}

impl Drop for JsCall {
    fn drop(&mut self) {
        if JS_CALLS.get() == 1 {
            poll_woken_here(self.0);
        }
        JS_CALLS.set(JS_CALLS.get() - 1);
    }
}

/// Polls the operations woken on the JS thread; those that finish settle here and then.
fn poll_woken_here(env: sys::napi_env) {
    while let Some((task, mut operation)) = WOKEN_HERE.with(|woken| woken.borrow_mut().pop_front()) {
        let waker = Waker::from(task.clone());
        match poll_on_js_thread(env, operation.as_mut(), &waker) {
            Poll::Ready(settle) => {
                settle(env);
                js_thread::finished(env);
            }
            Poll::Pending => task.park(operation),
        }
    }
}

/// One poll on the JS thread, inside the runtime's context. It never blocks, even inside a sync
/// call (a sync pool's hook starting an async query): a socket it must wait on is left to
/// Node's event loop when it can be (`event_loop.rs`), else to the runtime.
fn poll_on_js_thread<F: Future + ?Sized>(env: sys::napi_env, future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    let poll = || never_blocking(|| future.poll(&mut Context::from_waker(waker)));
    within_runtime_if_available(|| match event_loop::current(env) {
        Some(event_loop) => with_event_loop(event_loop, poll),
        None => poll(),
    })
}

/// Wakes an operation from Node's event loop: it is polled here, before this returns.
pub fn wake_here(env: sys::napi_env, waker: Waker) {
    let _call = JsCall::enter(env);
    waker.wake();
}

/// Runs `f` as a call from JS: an operation it wakes on the JS thread (a connection that a
/// return without I/O hands to a queued `getconn`) is polled before `f`'s caller returns.
pub fn in_scope<R>(env: &Env, f: impl FnOnce() -> R) -> R {
    let _call = JsCall::enter(env.raw());
    f()
}

/// A Promise of `future`'s outcome, polled first here, on the JS thread (see the module comment).
pub fn eager_promise<'env, T, F>(env: &'env Env, future: F) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = napi::Result<T>> + Send + 'static,
{
    let raw_env = env.raw();
    let _call = JsCall::enter(raw_env);
    let task = Arc::new(Task {
        state: Mutex::new(TaskState::default()),
        link: js_thread::link(raw_env)?,
        runtime: within_runtime_if_available(tokio::runtime::Handle::current),
    });
    let waker = Waker::from(task.clone());
    let mut future = Box::pin(catch_panic(future));
    match poll_on_js_thread(raw_env, future.as_mut(), &waker) {
        Poll::Ready(Ok(value)) => return PromiseRaw::resolve(env, value),
        Poll::Ready(Err(error)) => return PromiseRaw::reject(env, error),
        Poll::Pending => {}
    }

    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: `raw_env` is the environment of this call from JS, on its own thread.
    check_status!(unsafe { sys::napi_create_promise(raw_env, &mut deferred, &mut promise) })?;
    js_thread::started(raw_env)?;
    let deferred = Deferred(deferred);
    task.park(Box::pin(async move {
        let outcome = future.await;
        Box::new(move |env| deferred.settle(env, outcome)) as OnJsThread
    }));
    Ok(PromiseRaw::new(raw_env, promise))
}

/// A Promise's deferred, on its way to being settled on the JS thread that made it.
struct Deferred(sys::napi_deferred);

// SAFETY: a deferred may be used only on its environment's thread. Elsewhere this one is only
// moved: `settle` runs as `OnJsThread` work, which runs only on the JS thread (polled there,
// or delivered there by `Link`), with that thread's environment.
unsafe impl Send for Deferred {}

impl Deferred {
    /// Settles the Promise (on the JS thread, in `env`, its environment: see `Send` above).
    fn settle<T: ToNapiValue>(self, env: sys::napi_env, outcome: napi::Result<T>) {
        // SAFETY: `env` is the live environment of this JS thread (see above).
        let value = outcome.and_then(|value| unsafe { T::to_napi_value(env, value) });
        // SAFETY: `self.0` is this environment's deferred, settled once: `self` is consumed.
        unsafe {
            match value {
                Ok(value) => sys::napi_resolve_deferred(env, self.0, value),
                Err(error) => sys::napi_reject_deferred(env, self.0, JsError::from(error).into_value(env)),
            };
        }
    }
}

/// `future`, with a panic while polling it turned into its error: unwinding into Node (from
/// the JS thread) would abort the process, and on the runtime it would leave the Promise
/// pending for ever, holding Node alive.
fn catch_panic<T>(future: impl Future<Output = napi::Result<T>>) -> impl Future<Output = napi::Result<T>> {
    let mut future = Box::pin(future);
    let mut panicked = false;
    poll_fn(move |cx| {
        if panicked {
            // Polled again after it panicked (it is not, in practice): it stays failed.
            return Poll::Ready(Err(panic_error(&"polled after a panic")));
        }
        catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))).unwrap_or_else(|payload| {
            panicked = true;
            Poll::Ready(Err(panic_error(&*payload)))
        })
    })
}

/// The error a panic becomes, with its message (already printed by the panic hook).
pub fn panic_error(payload: &(dyn std::any::Any + Send)) -> napi::Error {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("internal error in pgtide: {message}"),
    )
}
