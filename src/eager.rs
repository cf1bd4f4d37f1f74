//! Promises for the hot operations (checkout, return, query), at the least cost per call.
//!
//! - The operation's future is first polled on the JS thread, inside the runtime's context (as
//!   the `*Sync` twins poll it). A checkout from a pool with an idle connection or a return that
//!   needs no rollback finishes there, and its Promise settles with no thread hand-off; a query
//!   is written to the socket at once.
//! - A future that has to wait is not handed to the runtime until something wakes it. Woken by
//!   the runtime (the server answered, a timer fired), it runs on the runtime from then on; its
//!   outcome comes back through one threadsafe function per JS thread, shared by every call
//!   (napi-rs's `spawn_future` creates one, and so a libuv handle, per Promise), and outcomes
//!   that arrive together are delivered in one turn of the event loop.
//! - Woken on the JS thread during one of these calls (a connection returned by `finishUse` is
//!   handed to a queued `getconn`), it is polled on the JS thread before the call returns: the
//!   hand-off settles the waiter's Promise without leaving the thread. So is one woken by Node's
//!   event loop (`event_loop.rs`: the socket of a query polled here became readable).
//! - The shared function is reached through a `Link` that the environment's teardown empties,
//!   so work finishing after a worker thread ended never calls a freed function.
//!
//! While any such Promise is pending the shared function is ref'd, so Node stays alive for it
//! as it would for a socket; with none pending it is unref'd.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
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

/// What the JS thread does with an outcome: settle its Promise.
type Settle = Box<dyn FnOnce(sys::napi_env) + Send>;

/// What the shared threadsafe function carries to the JS thread.
enum Delivery {
    /// A Promise's outcome.
    Settle(Settle),
    /// Anything else to run there (rows of a result that is still arriving).
    Run(Settle),
}

/// An operation on its way to an outcome.
type Operation = Pin<Box<dyn Future<Output = Settle> + Send>>;

/// An operation woken on the JS thread, with its task, waiting to be polled there.
type Woken = (Arc<Task>, Operation);

/// The shared threadsafe function of this JS thread and the number of Promises waiting on it.
struct Bridge {
    tsfn: sys::napi_threadsafe_function,
    link: Arc<Link>,
    pending: usize,
}

thread_local! {
    static BRIDGE: RefCell<Option<Bridge>> = const { RefCell::new(None) };
    /// How many `eager_promise` calls are under way on this thread (nested through sync hooks).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Operations woken on this thread during such a call, polled before the outermost returns.
    /// Without a destructor (`ManuallyDrop`; empty outside such calls), so that a waker fired
    /// while the thread's thread-locals are destroyed at `process.exit` still finds it.
    static READY: ManuallyDrop<RefCell<VecDeque<Woken>>> = const { ManuallyDrop::new(RefCell::new(VecDeque::new())) };
}

/// A raw handle that napi lets any thread hold (deferreds are only used back on the JS thread;
/// threadsafe functions are callable from anywhere).
struct Handle<T>(T);
unsafe impl<T> Send for Handle<T> {}
unsafe impl<T> Sync for Handle<T> {}

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
        if DEPTH.get() > 0 {
            READY.with(|ready| ready.borrow_mut().push_back((self.clone(), operation)));
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

/// Marks this thread as inside an `eager_promise` call; the outermost drains `READY` on exit.
struct Scope(sys::napi_env);

impl Scope {
    fn enter(env: sys::napi_env) -> Scope {
        DEPTH.set(DEPTH.get() + 1);
        Scope(env)
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if DEPTH.get() == 1 {
            drain(self.0);
        }
        DEPTH.set(DEPTH.get() - 1);
    }
}

/// Polls the operations woken on the JS thread; those that finish settle here and then.
fn drain(env: sys::napi_env) {
    while let Some((task, mut operation)) = READY.with(|ready| ready.borrow_mut().pop_front()) {
        let waker = Waker::from(task.clone());
        match poll_on_js_thread(env, operation.as_mut(), &waker) {
            Poll::Ready(settle) => {
                settle(env);
                finished(env);
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
    let _scope = Scope::enter(env);
    waker.wake();
}

/// Runs `f` as one of these calls: an operation it wakes on the JS thread (a connection that
/// a return without I/O hands to a queued `getconn`) is polled before `f`'s caller returns.
pub fn in_scope<R>(env: &Env, f: impl FnOnce() -> R) -> R {
    let _scope = Scope::enter(env.raw());
    f()
}

pub fn eager_promise<'env, T, F>(env: &'env Env, future: F) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = napi::Result<T>> + Send + 'static,
{
    let raw_env = env.raw();
    let _scope = Scope::enter(raw_env);
    let task = Arc::new(Task {
        state: Mutex::new(TaskState::default()),
        link: bridge(raw_env)?,
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
    check_status!(unsafe { sys::napi_create_promise(raw_env, &mut deferred, &mut promise) })?;
    started(raw_env)?;
    let deferred = Handle(deferred);
    task.park(Box::pin(async move {
        let outcome = future.await;
        Box::new(move |env| {
            let deferred = deferred;
            unsafe { settle_deferred(env, deferred.0, outcome) }
        }) as Settle
    }));
    Ok(PromiseRaw::new(raw_env, promise))
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

/// This JS thread, for work an operation hands it while it runs.
pub struct JsThread {
    link: Arc<Link>,
    env: Handle<sys::napi_env>,
    thread: std::thread::ThreadId,
}

impl JsThread {
    pub fn on(env: sys::napi_env) -> napi::Result<JsThread> {
        Ok(JsThread {
            link: bridge(env)?,
            env: Handle(env),
            thread: std::thread::current().id(),
        })
    }

    /// Runs `f` there: at once when called there (operations are only polled there inside
    /// calls from JS), else through the shared threadsafe function, so it comes before the
    /// Promise outcomes sent after it.
    pub fn run(&self, f: Settle) {
        if std::thread::current().id() == self.thread {
            f(self.env.0)
        } else {
            self.link.deliver(Delivery::Run(f))
        }
    }
}

/// The way to a JS thread's shared threadsafe function from any thread, for as long as its
/// environment lives: Node frees the function when the environment is torn down (a worker
/// thread ends), and work still running then must not call it. The environment's cleanup
/// hook empties the link first, under its lock.
pub struct Link {
    tsfn: Mutex<Option<Handle<sys::napi_threadsafe_function>>>,
}

impl Link {
    /// Hands an outcome or a piece of work to the JS thread; if the environment is gone,
    /// nobody is left to tell.
    fn deliver(&self, delivery: Delivery) {
        let tsfn = self.tsfn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(tsfn) = tsfn.as_ref() else {
            return;
        };
        let data = Box::into_raw(Box::new(delivery));
        let status = unsafe {
            sys::napi_call_threadsafe_function(tsfn.0, data.cast(), sys::ThreadsafeFunctionCallMode::nonblocking)
        };
        if status != sys::Status::napi_ok {
            drop(unsafe { Box::from_raw(data) });
        }
    }
}

unsafe fn settle_deferred<T: ToNapiValue>(env: sys::napi_env, deferred: sys::napi_deferred, outcome: napi::Result<T>) {
    let value = outcome.and_then(|value| unsafe { T::to_napi_value(env, value) });
    unsafe {
        match value {
            Ok(value) => sys::napi_resolve_deferred(env, deferred, value),
            Err(error) => sys::napi_reject_deferred(env, deferred, JsError::from(error).into_value(env)),
        };
    }
}

/// The threadsafe function's callback, on the JS thread (`env` is null while it is torn down).
unsafe extern "C" fn on_js_thread(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    let delivery = unsafe { Box::from_raw(data.cast::<Delivery>()) };
    if env.is_null() {
        return;
    }
    match *delivery {
        Delivery::Settle(settle) => {
            settle(env);
            finished(env);
        }
        Delivery::Run(run) => run(env),
    }
}

/// This thread's shared threadsafe function, created on first use (unref'd: idle, it does not
/// keep Node alive) and forgotten when the environment is torn down.
fn bridge(env: sys::napi_env) -> napi::Result<Arc<Link>> {
    if let Some(link) = BRIDGE.with_borrow(|bridge| bridge.as_ref().map(|b| b.link.clone())) {
        return Ok(link);
    }
    let mut name = ptr::null_mut();
    let label = "pgtide";
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, label.as_ptr().cast(), label.len() as isize, &mut name)
    })?;
    let mut tsfn = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_threadsafe_function(
            env,
            ptr::null_mut(),
            ptr::null_mut(),
            name,
            0,
            1,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            Some(on_js_thread),
            &mut tsfn,
        )
    })?;
    check_status!(unsafe { sys::napi_unref_threadsafe_function(env, tsfn) })?;
    check_status!(unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget_bridge), ptr::null_mut()) })?;
    let link = Arc::new(Link {
        tsfn: Mutex::new(Some(Handle(tsfn))),
    });
    BRIDGE.with_borrow_mut(|bridge| {
        *bridge = Some(Bridge {
            tsfn,
            link: link.clone(),
            pending: 0,
        })
    });
    Ok(link)
}

/// Runs before Node frees the threadsafe function (cleanup hooks run in reverse order).
unsafe extern "C" fn forget_bridge(_arg: *mut c_void) {
    if let Some(bridge) = BRIDGE.take() {
        *bridge.link.tsfn.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// One more Promise waits: the first one refs the shared function.
fn started(env: sys::napi_env) -> napi::Result<()> {
    let tsfn = BRIDGE.with_borrow_mut(|bridge| {
        let bridge = bridge.as_mut()?;
        bridge.pending += 1;
        (bridge.pending == 1).then_some(bridge.tsfn)
    });
    if let Some(tsfn) = tsfn {
        check_status!(unsafe { sys::napi_ref_threadsafe_function(env, tsfn) })?;
    }
    Ok(())
}

/// One Promise settled: the last one unrefs the shared function.
fn finished(env: sys::napi_env) {
    let tsfn = BRIDGE.with_borrow_mut(|bridge| {
        let bridge = bridge.as_mut()?;
        bridge.pending = bridge.pending.saturating_sub(1);
        (bridge.pending == 0).then_some(bridge.tsfn)
    });
    if let Some(tsfn) = tsfn {
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
    }
}
