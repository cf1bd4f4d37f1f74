//! Node's own event loop (libuv) as the engine's `EventLoop` on the JS thread: a query polled
//! on the JS thread waits for its answer with a libuv poll handle, so the server's answer wakes
//! the JS thread directly and the query finishes there, as pg's sockets do, instead of waking a
//! runtime worker that then wakes the JS thread.
//!
//! - libuv watches a duplicate of the socket's descriptor, owned by its handle (`uv.rs`) and
//!   closed only after the handle is, so a descriptor number libuv knows is never reused under
//!   it, whichever thread closes the connection (the engine shuts the socket down at once and
//!   tells us through `Release`; the JS thread then drops the handle).
//! - Waits are one-shot: the handle stops before it wakes the operation.
//! - Before the loop sleeps, a query that just started waiting gets one short spin
//!   (`spin_before_sleep`): see `pgtide_core::wait::Spin`.
//! - Every query polled on the JS thread waits here, however many are in flight: reading the
//!   answers where they are settled measured faster than runtime workers reading them beside
//!   the JS thread (100 callers on a pool of 10: 40k → 46k queries/s, p99 9.8 → 5.1 ms). The
//!   queries still run side by side, each on its own connection, as Node's own sockets do.

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

use napi::sys;
use pgtide_core::wait::{any_ready, EventLoop, Release, Spin};

use crate::js_thread::JsThread;
use crate::promise;
use crate::uv::{self, PollHandle, PrepareHandle};

/// One socket libuv watches.
struct Watch {
    poll: PollHandle,
    /// The descriptor it watches (the handle's own duplicate), for the spin's poll(2).
    fd: RawFd,
    waker: Option<Waker>,
    /// What the wait is for, as poll(2) events.
    events: libc::c_short,
    /// Whether the loop has spun for this wait already: once per wait, so that a long query
    /// does not hold back other work (immediates, timers) at every turn of the loop.
    spun: bool,
}

struct Loop {
    uv: uv::Loop,
    env: sys::napi_env,
    /// The async context the callback scopes of `on_ready` run in.
    context: sys::napi_async_context,
    watches: RefCell<HashMap<u64, Watch>>,
    release: Arc<Remote>,
    /// Runs `spin_before_sleep` each time the loop is about to sleep.
    _prepare: PrepareHandle,
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
    let uv = uv::Loop::of(env)?;
    let js = JsThread::on(env).ok()?;
    let context = async_context(env)?;
    let prepare = PrepareHandle::new(uv, spin_before_sleep)?;
    // SAFETY: `close_all` takes no argument and runs on this thread at the environment's
    // teardown, before libuv's loop ends.
    if unsafe { sys::napi_add_env_cleanup_hook(env, Some(close_all), ptr::null_mut()) } != sys::Status::napi_ok {
        return None;
    }
    let event_loop = Rc::new(Loop {
        uv,
        env,
        context,
        watches: RefCell::new(HashMap::new()),
        release: Arc::new(Remote(js)),
        _prepare: prepare,
        spin: RefCell::new(Spin::new()),
    });
    LOOP.with(|l| *l.borrow_mut() = Some(event_loop.clone()));
    Some(event_loop)
}

/// The loop is about to wait for I/O. Unless something it watches is ready already, each query
/// that started waiting on this loop since it last slept gets one spin (`Spin`, at most tens of
/// µs), so that a short query's answer finds the thread still on its CPU. Anything else the
/// loop watches becoming ready ends the spin too; work due without I/O (timers, immediates)
/// waits at most that once per query.
fn spin_before_sleep() {
    let Some(event_loop) = this_loop() else {
        return;
    };
    let mut watches = event_loop.watches.borrow_mut();
    let new_wait = |watch: &Watch| watch.waker.is_some() && !watch.spun;
    if !watches.values().any(new_wait) {
        return;
    }
    let mut fds = vec![libc::pollfd {
        fd: event_loop.uv.backend_fd(),
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
    // SAFETY: `env` is this JS thread's live environment; `name` is UTF-8 of the length given.
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
        if !watch.poll.start(events == libc::POLLIN) {
            // Nobody will release a watch the stream does not know of: close it now.
            let failed = watches.remove(&key);
            drop(watches);
            drop(failed);
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
        // SAFETY: the stream asking to wait holds its socket open for the whole call.
        let socket = unsafe { BorrowedFd::borrow_raw(fd) };
        let duplicate = socket.try_clone_to_owned().ok()?;
        let fd = duplicate.as_raw_fd();
        Some(Watch {
            poll: PollHandle::new(self.uv, duplicate, key, on_ready)?,
            fd,
            waker: None,
            events: 0,
            spun: false,
        })
    }

    fn forget(&self, key: u64) {
        // Dropped outside the borrow: dropping its waker may drop a query whose socket
        // closing forgets its own watch here.
        let watch = self.watches.borrow_mut().remove(&key);
        drop(watch);
    }

    /// What Node does around its own callbacks: a handle scope for the values made, and a
    /// callback scope whose end runs the microtasks (the `then`s of the Promises settled).
    fn in_callback_scope(&self, f: impl FnOnce()) {
        let env = self.env;
        let mut handles = ptr::null_mut();
        // SAFETY: `env` is this thread's environment (the loop is a thread-local of its JS
        // thread), used from a libuv callback, outside any JS frame; the scopes opened here are
        // closed below, in the reverse order.
        if unsafe { sys::napi_open_handle_scope(env, &mut handles) } != sys::Status::napi_ok {
            return;
        }
        let mut resource = ptr::null_mut();
        let mut scope = ptr::null_mut();
        // SAFETY: as above; `context` was made by `napi_async_init` in this environment.
        let opened = unsafe {
            sys::napi_create_object(env, &mut resource) == sys::Status::napi_ok
                && sys::napi_open_callback_scope(env, resource, self.context, &mut scope) == sys::Status::napi_ok
        };
        f();
        if opened {
            // SAFETY: as above: the scope opened here.
            unsafe { sys::napi_close_callback_scope(env, scope) };
        }
        // SAFETY: as above: the handle scope opened here.
        unsafe { sys::napi_close_handle_scope(env, handles) };
    }
}

/// The socket is ready (or failed: the next read says how): wake the operation, which is then
/// polled here, on the JS thread.
fn on_ready(key: u64) {
    let Some(event_loop) = this_loop() else {
        return;
    };
    let waker = event_loop
        .watches
        .borrow_mut()
        .get_mut(&key)
        .and_then(|w| w.waker.take());
    if let Some(waker) = waker {
        event_loop.in_callback_scope(|| promise::wake_here(event_loop.env, waker));
    }
}

/// The environment is going away: close every handle (libuv runs their close callbacks).
unsafe extern "C" fn close_all(_arg: *mut c_void) {
    let event_loop = LOOP.with(|l| l.borrow_mut().take());
    if let Some(event_loop) = event_loop {
        let watches = std::mem::take(&mut *event_loop.watches.borrow_mut());
        drop(watches);
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
