//! Node's own event loop (libuv) as the engine's `EventLoop` on the JS thread: a query polled
//! on the JS thread waits for its answer with a libuv poll handle, so the server's answer wakes
//! the JS thread directly and the query finishes there, as pg's sockets do, instead of waking a
//! runtime worker that then wakes the JS thread.
//!
//! - libuv watches a duplicate of the socket's descriptor, owned here and closed only after its
//!   handle is, so a descriptor number libuv knows is never reused under it, whichever thread
//!   closes the connection (the engine shuts the socket down at once and tells us through
//!   `Release`; the JS thread then closes handle and duplicate).
//! - Waits are one-shot: the handle stops before it wakes the operation.
//! - Before the loop sleeps, a query that just started waiting gets one short spin
//!   (`spin_before_sleep`): see `pgtide_core::spin`.
//! - Every query polled on the JS thread waits here, however many are in flight: reading the
//!   answers where they are settled measured faster than runtime workers reading them beside
//!   the JS thread (100 callers on a pool of 10: 40k → 46k queries/s, p99 9.8 → 5.1 ms). The
//!   queries still run side by side, each on its own connection, as Node's own sockets do.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::mem::ManuallyDrop;
use std::os::fd::RawFd;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use napi::sys;
use pgtide_core::wait::{any_ready, EventLoop, Release, Spin};

use crate::eager::{self, JsThread};

const UV_POLL: c_int = 8;
const UV_PREPARE: c_int = 9;
const UV_READABLE: c_int = 1;
const UV_WRITABLE: c_int = 2;
const UV_DISCONNECT: c_int = 4;

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, callback: extern "C" fn(*mut c_void, c_int, c_int)) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, callback: extern "C" fn(*mut c_void));
    fn uv_prepare_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void) -> c_int;
    fn uv_prepare_start(handle: *mut c_void, callback: extern "C" fn(*mut c_void)) -> c_int;
    fn uv_unref(handle: *mut c_void);
    fn uv_backend_fd(event_loop: *const sys::uv_loop_s) -> c_int;
}

/// One socket libuv watches: its handle (whose first field, `data`, holds the socket's key)
/// and the descriptor it watches.
struct Watch {
    handle: *mut c_void,
    fd: RawFd,
    waker: Option<Waker>,
    /// What the wait is for, as poll(2) events.
    events: libc::c_short,
    /// Whether the loop has spun for this wait already: once per wait, so that a long query
    /// does not hold back other work (immediates, timers) at every turn of the loop.
    spun: bool,
}

struct Loop {
    uv: *mut sys::uv_loop_s,
    env: sys::napi_env,
    /// The async context the callback scopes of `on_ready` run in.
    context: sys::napi_async_context,
    watches: RefCell<HashMap<u64, Watch>>,
    release: Arc<Remote>,
    /// Runs each time the loop is about to sleep, to spin a little first (`spin_before_sleep`).
    prepare: *mut c_void,
    spin: RefCell<Spin>,
}

thread_local! {
    /// Emptied by the environment's cleanup hook (`close_all`). `ManuallyDrop`: the slot has no
    /// destructor, so it is never dropped with the thread's other thread-locals, nor refused to
    /// code running then. A loop still here at thread exit means the process is exiting
    /// without tearing the environment down (`process.exit`): dropping it then would drop the
    /// queries it waits for, whose sockets tell this very slot (`Remote`), mid-destruction (a
    /// panic, so an abort). It is left to the exiting process instead.
    static LOOP: ManuallyDrop<RefCell<Option<Rc<Loop>>>> = const { ManuallyDrop::new(RefCell::new(None)) };
}

/// This thread's loop, if it has one.
fn this_loop() -> Option<Rc<Loop>> {
    LOOP.with(|l| l.borrow().clone())
}

/// This JS thread's loop, made on first use; none if libuv cannot be reached.
pub fn current(env: sys::napi_env) -> Option<Rc<dyn EventLoop>> {
    if let Some(event_loop) = this_loop() {
        return Some(event_loop);
    }
    let mut uv = ptr::null_mut();
    if unsafe { sys::napi_get_uv_event_loop(env, &mut uv) } != sys::Status::napi_ok || uv.is_null() {
        return None;
    }
    let js = JsThread::on(env).ok()?;
    let context = async_context(env)?;
    let prepare = prepare_handle(uv)?;
    let event_loop = Rc::new(Loop {
        uv,
        env,
        context,
        watches: RefCell::new(HashMap::new()),
        release: Arc::new(Remote(js)),
        prepare,
        spin: RefCell::new(Spin::new()),
    });
    if unsafe { sys::napi_add_env_cleanup_hook(env, Some(close_all), ptr::null_mut()) } != sys::Status::napi_ok {
        unsafe { uv_close(event_loop.prepare, free_handle) };
        return None;
    }
    LOOP.with(|l| *l.borrow_mut() = Some(event_loop.clone()));
    Some(event_loop)
}

/// A prepare handle running `spin_before_sleep`, which does not keep the loop alive.
fn prepare_handle(uv: *mut sys::uv_loop_s) -> Option<*mut c_void> {
    let handle = unsafe { libc::calloc(1, uv_handle_size(UV_PREPARE)) };
    if handle.is_null() || unsafe { uv_prepare_init(uv, handle) } != 0 {
        unsafe { libc::free(handle) };
        return None;
    }
    unsafe {
        uv_prepare_start(handle, spin_before_sleep);
        uv_unref(handle);
    }
    Some(handle)
}

/// The loop is about to wait for I/O. Unless something it watches is ready already, each query
/// that started waiting on this loop since it last slept gets one spin (`pgtide_core::spin`, at
/// most tens of µs), so that a short query's answer finds the thread still on its CPU. Anything
/// else the loop watches becoming ready ends the spin too; work due without I/O (timers,
/// immediates) waits at most that once per query.
extern "C" fn spin_before_sleep(_handle: *mut c_void) {
    let Some(event_loop) = this_loop() else {
        return;
    };
    let mut watches = event_loop.watches.borrow_mut();
    let new_wait = |watch: &Watch| watch.waker.is_some() && !watch.spun;
    if !watches.values().any(new_wait) {
        return;
    }
    let mut fds = vec![libc::pollfd {
        fd: unsafe { uv_backend_fd(event_loop.uv) },
        events: libc::POLLIN,
        revents: 0,
    }];
    if any_ready(&mut fds) {
        return;
    }
    for watch in watches.values_mut().filter(|watch| new_wait(watch)) {
        watch.spun = true;
        fds.push(libc::pollfd {
            fd: watch.fd,
            events: watch.events,
            revents: 0,
        });
    }
    drop(watches);
    event_loop.spin.borrow_mut().until(|| any_ready(&mut fds));
}

fn async_context(env: sys::napi_env) -> Option<sys::napi_async_context> {
    let name = "pgtide";
    let mut label = ptr::null_mut();
    let mut context = ptr::null_mut();
    let made = unsafe {
        sys::napi_create_string_utf8(env, name.as_ptr().cast(), name.len() as isize, &mut label) == sys::Status::napi_ok
            && sys::napi_async_init(env, ptr::null_mut(), label, &mut context) == sys::Status::napi_ok
    };
    made.then_some(context)
}

impl EventLoop for Loop {
    fn wait(&self, key: u64, fd: RawFd, events: libc::c_short, waker: &Waker) -> Option<Arc<dyn Release>> {
        let mut watches = self.watches.borrow_mut();
        let watch = match watches.entry(key) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(self.watch(key, fd)?),
        };
        let wanted = UV_DISCONNECT
            | if events == libc::POLLIN {
                UV_READABLE
            } else {
                UV_WRITABLE
            };
        if unsafe { uv_poll_start(watch.handle, wanted, on_ready) } != 0 {
            // Nobody will release a watch the stream does not know of: close it now.
            close(watches.remove(&key)?);
            return None;
        }
        watch.waker = Some(waker.clone());
        watch.events = events;
        watch.spun = false;
        Some(self.release.clone())
    }
}

impl Loop {
    fn watch(&self, key: u64, fd: RawFd) -> Option<Watch> {
        let fd = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return None;
        }
        let handle = unsafe { libc::calloc(1, uv_handle_size(UV_POLL)) };
        if handle.is_null() || unsafe { uv_poll_init(self.uv, handle, fd) } != 0 {
            unsafe {
                libc::free(handle);
                libc::close(fd);
            }
            return None;
        }
        unsafe { *handle.cast::<*mut c_void>() = key as *mut c_void };
        Some(Watch {
            handle,
            fd,
            waker: None,
            events: 0,
            spun: false,
        })
    }

    fn forget(&self, key: u64) {
        // Not borrowed while the watch is closed: dropping its waker may drop a query whose
        // socket closing forgets its own watch here.
        let watch = self.watches.borrow_mut().remove(&key);
        if let Some(watch) = watch {
            close(watch);
        }
    }
}

/// Stops and closes the handle; the descriptor is closed once libuv has let go of it.
fn close(watch: Watch) {
    unsafe {
        uv_poll_stop(watch.handle);
        *watch.handle.cast::<*mut c_void>() = watch.fd as isize as *mut c_void;
        uv_close(watch.handle, on_closed);
    }
}

extern "C" fn free_handle(handle: *mut c_void) {
    unsafe { libc::free(handle) };
}

extern "C" fn on_closed(handle: *mut c_void) {
    unsafe {
        let fd = *handle.cast::<*mut c_void>() as isize as RawFd;
        libc::close(fd);
        libc::free(handle);
    }
}

/// The socket is ready (or failed: the next read says how): stop watching, wake the operation,
/// which is then polled here, on the JS thread.
extern "C" fn on_ready(handle: *mut c_void, _status: c_int, _events: c_int) {
    unsafe { uv_poll_stop(handle) };
    let key = unsafe { *handle.cast::<*mut c_void>() } as u64;
    let Some(event_loop) = this_loop() else {
        return;
    };
    let waker = event_loop
        .watches
        .borrow_mut()
        .get_mut(&key)
        .and_then(|w| w.waker.take());
    if let Some(waker) = waker {
        unsafe { in_callback_scope(&event_loop, || eager::wake_here(event_loop.env, waker)) };
    }
}

/// What Node does around its own callbacks: a handle scope for the values made, and a
/// callback scope whose end runs the microtasks (the `then`s of the Promises settled).
unsafe fn in_callback_scope(event_loop: &Loop, f: impl FnOnce()) {
    let env = event_loop.env;
    let mut handles = ptr::null_mut();
    if unsafe { sys::napi_open_handle_scope(env, &mut handles) } != sys::Status::napi_ok {
        return;
    }
    let mut resource = ptr::null_mut();
    let mut scope = ptr::null_mut();
    let opened = unsafe {
        sys::napi_create_object(env, &mut resource) == sys::Status::napi_ok
            && sys::napi_open_callback_scope(env, resource, event_loop.context, &mut scope) == sys::Status::napi_ok
    };
    f();
    if opened {
        unsafe { sys::napi_close_callback_scope(env, scope) };
    }
    unsafe { sys::napi_close_handle_scope(env, handles) };
}

/// The environment is going away: close every handle (libuv runs their close callbacks).
unsafe extern "C" fn close_all(_arg: *mut c_void) {
    let event_loop = LOOP.with(|l| l.borrow_mut().take());
    if let Some(event_loop) = event_loop {
        for (_, watch) in event_loop.watches.borrow_mut().drain() {
            close(watch);
        }
        // SAFETY: `prepare` is this loop's open prepare handle (made by `prepare_handle` with
        // `calloc`, closed only here, once: the loop was just taken out of `LOOP`), and this
        // cleanup hook runs on the loop's own thread; `free_handle` frees it once closed.
        unsafe { uv_close(event_loop.prepare, free_handle) };
    }
}

/// How a socket closing on any thread reaches the JS thread's loop.
struct Remote(JsThread);

impl Release for Remote {
    fn release(&self, key: u64) {
        self.0.run(Box::new(move |_env| {
            if let Some(event_loop) = this_loop() {
                event_loop.forget(key);
            }
        }));
    }
}
