//! libuv handles as owned values: each allocates its handle, sets it up on a loop, and closes
//! it when dropped; libuv's close callback then frees the memory and what the handle held.
//!
//! libuv is Node's own (its symbols come from the node process), so it is declared here, not
//! linked: the declarations are libuv 1.x's public, ABI-stable API (`uv.h`), which every
//! supported Node ships. The `libuv-sys2` crate is not used: it is not in this machine's
//! offline crate cache, and by default it builds and links a libuv of its own, a second copy
//! beside Node's.
//!
//! A handle's memory holds, in libuv's `data` slot, a pointer to its `HandleData`: the same
//! value from setup to close.

use std::ffi::{c_int, c_void};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use napi::sys;

/// libuv's opaque handle (`uv_handle_t`; a `uv_poll_t` or `uv_prepare_t` starts with one).
#[repr(C)]
struct RawHandle {
    _opaque: [u8; 0],
}

/// `uv_handle_type`: a handle kind's number is its position in uv.h's `UV_HANDLE_TYPE_MAP`
/// (after `UV_UNKNOWN_HANDLE = 0`: async, check, fs_event, fs_poll, handle, idle, named_pipe,
/// poll, prepare, ...), fixed for all of libuv 1.x.
#[repr(C)]
#[derive(Clone, Copy)]
enum HandleType {
    Poll = 8,
    Prepare = 9,
}

/// `uv_poll_event` bits.
const UV_READABLE: c_int = 1;
const UV_WRITABLE: c_int = 2;
const UV_DISCONNECT: c_int = 4;

type PollCallback = unsafe extern "C" fn(*mut RawHandle, c_int, c_int);
type HandleCallback = unsafe extern "C" fn(*mut RawHandle);

extern "C" {
    fn uv_handle_size(kind: HandleType) -> usize;
    fn uv_handle_get_data(handle: *const RawHandle) -> *mut c_void;
    fn uv_handle_set_data(handle: *mut RawHandle, data: *mut c_void);
    fn uv_close(handle: *mut RawHandle, callback: HandleCallback);
    fn uv_unref(handle: *mut RawHandle);
    fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut RawHandle, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut RawHandle, events: c_int, callback: PollCallback) -> c_int;
    fn uv_poll_stop(handle: *mut RawHandle) -> c_int;
    fn uv_prepare_init(event_loop: *mut sys::uv_loop_s, handle: *mut RawHandle) -> c_int;
    fn uv_prepare_start(handle: *mut RawHandle, callback: HandleCallback) -> c_int;
    fn uv_backend_fd(event_loop: *const sys::uv_loop_s) -> c_int;
}

/// A JS thread's libuv loop (from `napi_get_uv_event_loop`), which outlives every handle made
/// on it here: handles are closed by the environment's cleanup, before the loop ends.
#[derive(Clone, Copy)]
pub struct Loop(NonNull<sys::uv_loop_s>);

impl Loop {
    /// This environment's loop, if N-API gives it.
    pub fn of(env: sys::napi_env) -> Option<Loop> {
        let mut uv = std::ptr::null_mut();
        // SAFETY: `env` is the caller's live environment, on its thread; `uv` is written once.
        let status = unsafe { sys::napi_get_uv_event_loop(env, &mut uv) };
        NonNull::new(uv).filter(|_| status == sys::Status::napi_ok).map(Loop)
    }

    /// The descriptor the loop sleeps on (epoll's, on Linux): readable when it would wake.
    pub fn backend_fd(self) -> RawFd {
        // SAFETY: a live loop (see `Loop`); the call only reads it.
        unsafe { uv_backend_fd(self.0.as_ptr()) }
    }
}

/// What a handle's `data` slot points to: freed by `on_closed`, with the handle.
enum HandleData {
    /// A poll handle's: the descriptor it watches (closed only once libuv let go of it, so the
    /// number is never reused under libuv) and who to tell when it is ready.
    Poll { _fd: OwnedFd, key: u64, on_ready: fn(u64) },
    /// A prepare handle's callback.
    Prepare(fn()),
}

/// A handle allocated, initialised and given its data; closed and freed when dropped.
struct Handle(NonNull<RawHandle>);

impl Handle {
    /// Allocates a handle of `kind`, runs `init` on it, then gives it `data`; on failure,
    /// frees both (`data`'s descriptor included).
    fn new(kind: HandleType, data: HandleData, init: impl FnOnce(*mut RawHandle) -> c_int) -> Option<Handle> {
        // SAFETY: `uv_handle_size` only reads a constant table; calloc's result is checked.
        let raw = NonNull::new(unsafe { libc::calloc(1, uv_handle_size(kind)) }.cast::<RawHandle>())?;
        if init(raw.as_ptr()) != 0 {
            // SAFETY: the failed init left nothing registered with the loop: plain memory.
            unsafe { libc::free(raw.as_ptr().cast()) };
            return None;
        }
        let data = Box::into_raw(Box::new(data));
        // SAFETY: an initialised handle; `data` stays valid until `on_closed` frees it.
        unsafe { uv_handle_set_data(raw.as_ptr(), data.cast()) };
        Some(Handle(raw))
    }

    fn as_ptr(&self) -> *mut RawHandle {
        self.0.as_ptr()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: an open handle (closed only here, once), on its loop's thread (handles are
        // not `Send`); libuv calls `on_closed` on a later turn, which frees it.
        unsafe { uv_close(self.as_ptr(), on_closed) };
    }
}

/// libuv is done with the handle: free its data (closing a watched descriptor) and memory.
unsafe extern "C" fn on_closed(handle: *mut RawHandle) {
    // SAFETY: `handle` is one made by `Handle::new`, whose data is a boxed `HandleData`; its
    // close callback runs once, so both are freed once, and nothing uses them after.
    unsafe {
        drop(Box::from_raw(uv_handle_get_data(handle).cast::<HandleData>()));
        libc::free(handle.cast());
    }
}

/// A libuv poll handle watching a socket, one wait at a time.
pub struct PollHandle(Handle);

impl PollHandle {
    /// Watches `fd` (owned from now on) on `event_loop`; each time a wait started with `start`
    /// ends (the socket is ready, or failed), the handle stops and `on_ready(key)` runs on the
    /// loop's thread.
    pub fn new(event_loop: Loop, fd: OwnedFd, key: u64, on_ready: fn(u64)) -> Option<PollHandle> {
        let raw_fd = fd.as_raw_fd();
        let data = HandleData::Poll { _fd: fd, key, on_ready };
        // SAFETY: a live loop, zeroed memory of a poll handle's size, and an open descriptor.
        let handle = Handle::new(HandleType::Poll, data, |raw| unsafe {
            uv_poll_init(event_loop.0.as_ptr(), raw, raw_fd)
        })?;
        Some(PollHandle(handle))
    }

    /// Starts one wait: for reading, or for writing; a hang-up ends either.
    pub fn start(&self, readable: bool) -> bool {
        let events = UV_DISCONNECT | if readable { UV_READABLE } else { UV_WRITABLE };
        // SAFETY: an open, initialised poll handle on its loop's thread.
        unsafe { uv_poll_start(self.0.as_ptr(), events, on_poll) == 0 }
    }
}

impl Drop for PollHandle {
    fn drop(&mut self) {
        // SAFETY: an open poll handle (`Handle`'s drop closes it after this).
        unsafe { uv_poll_stop(self.0.as_ptr()) };
    }
}

/// A poll handle's wait ended: stop it (waits are one-shot) and tell its owner.
unsafe extern "C" fn on_poll(handle: *mut RawHandle, _status: c_int, _events: c_int) {
    // SAFETY: libuv calls this only for a started, open poll handle made by `PollHandle::new`,
    // whose data is a `HandleData::Poll` until it is closed (after this returns, at the
    // earliest: `on_closed` runs on a later turn of the loop).
    let (key, on_ready) = unsafe {
        uv_poll_stop(handle);
        match &*uv_handle_get_data(handle).cast::<HandleData>() {
            HandleData::Poll { key, on_ready, .. } => (*key, *on_ready),
            HandleData::Prepare(_) => return,
        }
    };
    on_ready(key);
}

/// A libuv prepare handle: runs a function each time the loop is about to wait for I/O,
/// without keeping the loop alive.
pub struct PrepareHandle {
    _handle: Handle,
}

impl PrepareHandle {
    pub fn new(event_loop: Loop, each_turn: fn()) -> Option<PrepareHandle> {
        let data = HandleData::Prepare(each_turn);
        // SAFETY: a live loop and zeroed memory of a prepare handle's size.
        let handle = Handle::new(HandleType::Prepare, data, |raw| unsafe {
            uv_prepare_init(event_loop.0.as_ptr(), raw)
        })?;
        // SAFETY: an open, initialised prepare handle on its loop's thread.
        unsafe {
            uv_prepare_start(handle.as_ptr(), on_prepare);
            uv_unref(handle.as_ptr());
        }
        Some(PrepareHandle { _handle: handle })
    }
}

unsafe extern "C" fn on_prepare(handle: *mut RawHandle) {
    // SAFETY: libuv calls this only for an open prepare handle made by `PrepareHandle::new`,
    // whose data is a `HandleData::Prepare` until it is closed.
    let each_turn = match unsafe { &*uv_handle_get_data(handle).cast::<HandleData>() } {
        HandleData::Prepare(each_turn) => *each_turn,
        HandleData::Poll { .. } => return,
    };
    each_turn();
}
