//! The way back to a JS thread from the runtime: one threadsafe function per JS thread, shared
//! by every Promise and piece of work that thread is owed (napi-rs's `spawn_future` makes one,
//! and so a libuv handle, per Promise). Work that arrives together is run in one turn of the
//! event loop.
//!
//! - While any Promise is pending the function is ref'd, so Node stays alive for it as it
//!   would for a socket; with none pending it is unref'd (`started` / `finished`).
//! - Other threads reach it through a `Link`, which the environment's teardown empties first:
//!   work finishing after a worker thread ended never calls a freed function.

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use napi::{check_status, sys};

/// Work for the JS thread, given its environment there.
pub type OnJsThread = Box<dyn FnOnce(sys::napi_env) + Send>;

/// What the shared threadsafe function carries to the JS thread.
pub enum Delivery {
    /// Settles a Promise: one fewer pending.
    Settle(OnJsThread),
    /// Anything else to run there (rows of a result that is still arriving).
    Run(OnJsThread),
}

/// A threadsafe function, callable from any thread.
struct Tsfn(sys::napi_threadsafe_function);

// SAFETY: N-API allows `napi_call_threadsafe_function` from any thread, the only use a `Link`
// makes of it off the JS thread; the function is freed only by the environment's teardown,
// whose cleanup hook (`forget`) takes it out of every link, under the link's lock, first.
unsafe impl Send for Tsfn {}
// SAFETY: as for `Send`: shared use is calls through the link's mutex only.
unsafe impl Sync for Tsfn {}

/// This JS thread's shared function and the number of Promises waiting on it.
struct Bridge {
    tsfn: sys::napi_threadsafe_function,
    link: Arc<Link>,
    pending: usize,
}

thread_local! {
    static BRIDGE: RefCell<Option<Bridge>> = const { RefCell::new(None) };
}

/// The way to a JS thread's shared function from any thread, for as long as its environment
/// lives.
pub struct Link {
    tsfn: Mutex<Option<Tsfn>>,
}

impl Link {
    /// Hands an outcome or a piece of work to the JS thread; if the environment is gone,
    /// nobody is left to tell.
    pub fn deliver(&self, delivery: Delivery) {
        let tsfn = self.tsfn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(tsfn) = tsfn.as_ref() else {
            return;
        };
        let data = Box::into_raw(Box::new(delivery));
        // SAFETY: `tsfn` is alive while the lock is held (see `Tsfn`); `data` is a boxed
        // `Delivery`, which `on_js_thread` takes back, or we do below if the call is refused.
        let status = unsafe {
            sys::napi_call_threadsafe_function(tsfn.0, data.cast(), sys::ThreadsafeFunctionCallMode::nonblocking)
        };
        if status != sys::Status::napi_ok {
            // SAFETY: refused, so the function never took `data`: it is still ours, once.
            drop(unsafe { Box::from_raw(data) });
        }
    }
}

/// The threadsafe function's callback, on the JS thread (`env` is null while it is torn down).
unsafe extern "C" fn on_js_thread(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    _context: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: every call of this function passes a `Box<Delivery>` made by `Link::deliver`,
    // and N-API hands each one to this callback exactly once.
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

/// This thread's link, its shared function created on first use (unref'd: idle, it does not
/// keep Node alive) and forgotten when the environment is torn down.
pub fn link(env: sys::napi_env) -> napi::Result<Arc<Link>> {
    if let Some(link) = BRIDGE.with_borrow(|bridge| bridge.as_ref().map(|b| b.link.clone())) {
        return Ok(link);
    }
    let mut name = ptr::null_mut();
    let label = "pgtide";
    // SAFETY: `env` is this JS thread's environment (calls from JS pass their own); `label`
    // is valid UTF-8 of the length given, copied by the call.
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, label.as_ptr().cast(), label.len() as isize, &mut name)
    })?;
    let mut tsfn = ptr::null_mut();
    // SAFETY: as above; no JS function, a native callback (`on_js_thread`) that takes the
    // data it is given, one initial thread, no finalizer and no context.
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
    // SAFETY: `tsfn` was just created on this thread, in `env`.
    check_status!(unsafe { sys::napi_unref_threadsafe_function(env, tsfn) })?;
    // SAFETY: `forget` takes no argument and runs on this thread at the environment's teardown.
    check_status!(unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget), ptr::null_mut()) })?;
    let link = Arc::new(Link {
        tsfn: Mutex::new(Some(Tsfn(tsfn))),
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
unsafe extern "C" fn forget(_arg: *mut c_void) {
    if let Some(bridge) = BRIDGE.take() {
        *bridge.link.tsfn.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// One more Promise waits: the first one refs the shared function.
pub fn started(env: sys::napi_env) -> napi::Result<()> {
    let tsfn = BRIDGE.with_borrow_mut(|bridge| {
        let bridge = bridge.as_mut()?;
        bridge.pending += 1;
        (bridge.pending == 1).then_some(bridge.tsfn)
    });
    if let Some(tsfn) = tsfn {
        // SAFETY: this thread's live function (in `BRIDGE` until teardown), in its `env`.
        check_status!(unsafe { sys::napi_ref_threadsafe_function(env, tsfn) })?;
    }
    Ok(())
}

/// One Promise settled: the last one unrefs the shared function.
pub fn finished(env: sys::napi_env) {
    let tsfn = BRIDGE.with_borrow_mut(|bridge| {
        let bridge = bridge.as_mut()?;
        bridge.pending = bridge.pending.saturating_sub(1);
        (bridge.pending == 0).then_some(bridge.tsfn)
    });
    if let Some(tsfn) = tsfn {
        // SAFETY: this thread's live function (in `BRIDGE` until teardown), in its `env`.
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
    }
}

/// An environment, handed out only on its own thread.
struct ThreadEnv {
    env: sys::napi_env,
    thread: ThreadId,
}

// SAFETY: the pointer is only read back by `here`, on the thread that owns the environment.
unsafe impl Send for ThreadEnv {}
// SAFETY: as for `Send`.
unsafe impl Sync for ThreadEnv {}

impl ThreadEnv {
    fn here(&self) -> Option<sys::napi_env> {
        (std::thread::current().id() == self.thread).then_some(self.env)
    }
}

/// This JS thread, for work an operation hands it while it runs (on any thread).
pub struct JsThread {
    link: Arc<Link>,
    env: ThreadEnv,
}

impl JsThread {
    pub fn on(env: sys::napi_env) -> napi::Result<JsThread> {
        Ok(JsThread {
            link: link(env)?,
            env: ThreadEnv {
                env,
                thread: std::thread::current().id(),
            },
        })
    }

    /// Runs `f` there: at once when called there (operations are only polled there inside
    /// calls from JS or from its event loop), else through the shared threadsafe function, so
    /// it comes before the Promise outcomes sent after it.
    pub fn run(&self, f: OnJsThread) {
        match self.env.here() {
            Some(env) => f(env),
            None => self.link.deliver(Delivery::Run(f)),
        }
    }
}
