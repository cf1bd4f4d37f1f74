//! How a thread waits: for a socket that is not ready, and for a future it blocks on.
//!
//! A socket (`Stream`) that would block asks `strategy()` how this thread waits, and is told
//! one of three things:
//! - `Strategy::Reactor`: as tokio does, the socket registered with the runtime's reactor and a
//!   worker thread waking the task (a task on the runtime; the default);
//! - `Strategy::BlockOn`: the thread is blocked in `block_on` (a sync call on the JS thread), so
//!   the socket is handed to `block_on`'s poll(2) instead (`wait_in_block_on`), and the server's
//!   answer wakes this thread directly, with no worker thread woken in between;
//! - `Strategy::EventLoop`: the thread runs an event loop of its own (Node's, on the JS thread,
//!   lent with `with_event_loop`), which wakes the task when the socket is ready.
//!
//! Before a thread sleeps for a server's answer it spins a little (`Spin`).
//!
//! All of it is one thread's state, `Waiting`, in this module alone: the binding changes it
//! only through `block_on`, `with_event_loop` and `never_blocking`, each of which puts it back
//! as it found it when it returns or unwinds.

mod block_on;
mod spin;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

pub use block_on::block_on;
pub use spin::{any_ready, Spin};

/// A thread's event loop (Node's, on the JS thread), lent to the sockets of the futures that
/// thread polls: it wakes a future when its socket is ready, with no runtime worker in between.
pub trait EventLoop {
    /// Wakes `waker` once, when socket `key` (descriptor `fd`) is ready for `events`; the
    /// `Release` is to be told (from any thread) when that socket closes. `None`: this loop
    /// will not wait now; the caller waits through the runtime.
    fn wait(&self, key: u64, fd: RawFd, events: libc::c_short, waker: &Waker) -> Option<Arc<dyn Release>>;
}

/// Lets an event loop forget a socket it waited on.
pub trait Release: Send + Sync {
    fn release(&self, key: u64);
}

/// How this thread waits for a socket that is not ready.
pub(crate) enum Strategy {
    Reactor,
    BlockOn,
    EventLoop(Rc<dyn EventLoop>),
}

/// One thread's waiting state.
struct Waiting {
    /// Whether polls on this thread leave their sockets to `block_on` (true inside `block_on`,
    /// false again inside `never_blocking`).
    blocking: Cell<bool>,
    /// How many `block_on` calls this thread is inside (they nest: a sync pool's hook runs
    /// sync queries inside a sync call).
    block_on_depth: Cell<usize>,
    /// The event loop lent by `with_event_loop`, if any.
    event_loop: RefCell<Option<Rc<dyn EventLoop>>>,
    /// The sockets the future `block_on` polls found not ready, with the events they wait for.
    sockets: RefCell<Vec<libc::pollfd>>,
    /// This thread's wake-up for `block_on`, made on first use.
    signal: RefCell<Option<Arc<block_on::Signal>>>,
    /// How long `block_on` spins before it sleeps, learned from this thread's last waits.
    spin: RefCell<Spin>,
}

thread_local! {
    static WAITING: Waiting = const {
        Waiting {
            blocking: Cell::new(false),
            block_on_depth: Cell::new(0),
            event_loop: RefCell::new(None),
            sockets: RefCell::new(Vec::new()),
            signal: RefCell::new(None),
            spin: RefCell::new(Spin::new()),
        }
    };
}

/// How this thread waits for a socket that is not ready (see the module comment).
pub(crate) fn strategy() -> Strategy {
    WAITING.with(|waiting| {
        if waiting.blocking.get() {
            return Strategy::BlockOn;
        }
        // Inside `block_on` the event loop does not run (a sync pool's hook starting an async
        // query): its sockets wait through the runtime.
        if waiting.block_on_depth.get() > 0 {
            return Strategy::Reactor;
        }
        match &*waiting.event_loop.borrow() {
            Some(event_loop) => Strategy::EventLoop(event_loop.clone()),
            None => Strategy::Reactor,
        }
    })
}

/// Notes, for the poll(2) of this thread's `block_on`, that the future waits for `events` on `fd`.
pub(crate) fn wait_in_block_on(fd: RawFd, events: libc::c_short) {
    WAITING.with(|waiting| {
        let mut sockets = waiting.sockets.borrow_mut();
        match sockets.iter_mut().find(|s| s.fd == fd) {
            Some(socket) => socket.events |= events,
            None => sockets.push(libc::pollfd { fd, events, revents: 0 }),
        }
    });
}

/// Runs `f` (polls of futures) with sockets waited on by `event_loop`.
pub fn with_event_loop<R>(event_loop: Rc<dyn EventLoop>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Rc<dyn EventLoop>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            WAITING.with(|waiting| *waiting.event_loop.borrow_mut() = previous);
        }
    }
    let previous = WAITING.with(|waiting| waiting.event_loop.replace(Some(event_loop)));
    let _restore = Restore(previous);
    f()
}

/// Runs `f` with socket waits going through the runtime even inside `block_on`: for polls that
/// must never block the thread (a Promise's first poll on the JS thread, in a sync hook).
pub fn never_blocking<R>(f: impl FnOnce() -> R) -> R {
    let _restore = Blocking::set(false);
    f()
}

/// Puts this thread's `blocking` flag back as it was, also when unwinding.
struct Blocking(bool);

impl Blocking {
    fn set(blocking: bool) -> Blocking {
        Blocking(WAITING.with(|waiting| waiting.blocking.replace(blocking)))
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        WAITING.with(|waiting| waiting.blocking.set(self.0));
    }
}
