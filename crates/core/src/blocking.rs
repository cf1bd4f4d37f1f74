//! Blocking a thread on a future, the way libpq blocks: the thread sleeps in poll(2) on the
//! sockets the future waits for, so the server's answer wakes it directly, with no runtime
//! worker thread woken in between (most of the cost of a short query).
//!
//! - A socket that would block while this thread blocks (`Stream`, in `stream.rs`) is taken
//!   out of the runtime's reactor and noted here instead; the loop then sleeps on the noted
//!   sockets and on an eventfd of this thread, which the future's waker writes to, so timers
//!   and other wake-ups driven by the runtime reach it too.
//! - Calls nest (a sync pool's hook runs sync queries inside a sync call): a nested call
//!   leaves a wake-up behind for the call it ran inside, whose wake-up it may have consumed.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// How a thread that runs an event loop of its own (Node's JS thread) waits on a socket
/// without blocking: its loop wakes the future when the socket is ready, with no runtime
/// worker in between. Installed around polls with `with_event_loop`.
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

thread_local! {
    static EVENT_LOOP: RefCell<Option<Rc<dyn EventLoop>>> = const { RefCell::new(None) };
    /// Whether a socket that is not ready should be noted for `block_on` (see `wait_on`).
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
    /// The sockets the future's last poll found not ready, with the events it waits for.
    static SOCKETS: RefCell<Vec<libc::pollfd>> = const { RefCell::new(Vec::new()) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static SIGNAL: RefCell<Option<Arc<Signal>>> = const { RefCell::new(None) };
}

/// Whether a socket that is not ready should be left to this thread's `block_on`.
pub(crate) fn blocking() -> bool {
    BLOCKING.get()
}

/// Notes that the future being polled by this thread's `block_on` waits for `events` on `fd`.
pub(crate) fn wait_on(fd: RawFd, events: libc::c_short) {
    SOCKETS.with_borrow_mut(|sockets| match sockets.iter_mut().find(|s| s.fd == fd) {
        Some(socket) => socket.events |= events,
        None => sockets.push(libc::pollfd { fd, events, revents: 0 }),
    });
}

/// This thread's event loop, while one is installed and the thread is not blocked in
/// `block_on` (where the loop does not run: a sync pool's hook starting an async query).
pub(crate) fn event_loop() -> Option<Rc<dyn EventLoop>> {
    if DEPTH.get() > 0 {
        return None;
    }
    EVENT_LOOP.with_borrow(|event_loop| event_loop.clone())
}

/// Runs `f` (polls of futures) with sockets waited on by `event_loop`.
pub fn with_event_loop<R>(event_loop: Rc<dyn EventLoop>, f: impl FnOnce() -> R) -> R {
    struct Uninstall(Option<Rc<dyn EventLoop>>);
    impl Drop for Uninstall {
        fn drop(&mut self) {
            EVENT_LOOP.set(self.0.take());
        }
    }
    let _uninstall = Uninstall(EVENT_LOOP.replace(Some(event_loop)));
    f()
}

/// Runs `f` with socket waits going through the runtime even inside `block_on`: for polls that
/// must never block the thread (a Promise's first poll on the JS thread, in a sync hook).
pub fn never_blocking<R>(f: impl FnOnce() -> R) -> R {
    let _restore = Restore::blocking(false);
    f()
}

/// This thread's wake-up: an eventfd the waker writes to, any thread.
struct Signal {
    fd: OwnedFd,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let one = 1u64.to_ne_bytes();
        // A full counter (never, in practice) still leaves the eventfd readable: nothing lost.
        unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }
}

impl Signal {
    fn of_this_thread() -> io::Result<Arc<Signal>> {
        SIGNAL.with_borrow_mut(|signal| {
            if let Some(signal) = signal {
                return Ok(signal.clone());
            }
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let created = Arc::new(Signal {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
            });
            *signal = Some(created.clone());
            Ok(created)
        })
    }

    fn clear(&self) {
        let mut count = [0u8; 8];
        unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
    }
}

/// Puts the thread's blocking state back as it was, also when the future panics.
struct Restore {
    blocking: bool,
    sockets: Option<Vec<libc::pollfd>>,
}

impl Restore {
    fn blocking(blocking: bool) -> Restore {
        Restore {
            blocking: BLOCKING.replace(blocking),
            sockets: None,
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        BLOCKING.set(self.blocking);
        if let Some(sockets) = self.sockets.take() {
            SOCKETS.set(sockets);
        }
    }
}

/// Polls `future` on this thread until it is ready, sleeping in poll(2) between polls.
pub fn block_on<F: Future>(future: F) -> io::Result<F::Output> {
    let signal = Signal::of_this_thread()?;
    let waker = Waker::from(signal.clone());
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut restore = Restore::blocking(true);
    restore.sockets = Some(SOCKETS.take());
    DEPTH.set(DEPTH.get() + 1);
    let _depth = Depth(signal.clone());
    let mut fds = Vec::new();
    loop {
        SOCKETS.with_borrow_mut(Vec::clear);
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Ok(output);
        }
        fds.clear();
        fds.push(libc::pollfd {
            fd: signal.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        SOCKETS.with_borrow(|sockets| fds.extend_from_slice(sockets));
        sleep(&mut fds)?;
        if fds[0].revents != 0 {
            signal.clear();
        }
    }
}

/// Leaves a wake-up for the `block_on` this one ran inside (it may have consumed that one's).
struct Depth(Arc<Signal>);

impl Drop for Depth {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
        if DEPTH.get() > 0 {
            self.0.wake_by_ref();
        }
    }
}

fn sleep(fds: &mut [libc::pollfd]) -> io::Result<()> {
    loop {
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } >= 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
