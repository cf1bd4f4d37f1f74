//! Blocking a thread on a future, the way libpq blocks: the thread sleeps in poll(2) on the
//! sockets the future waits for, so the server's answer wakes it directly, with no runtime
//! worker thread woken in between (most of the cost of a short query).
//!
//! - A socket that would block while this thread blocks (`Stream`, in `stream.rs`) is taken
//!   out of the runtime's reactor and noted here instead; the loop then sleeps on the noted
//!   sockets and on a wake-up socket of this thread, which the future's waker writes to, so timers
//!   and other wake-ups driven by the runtime reach it too.
//! - Before it sleeps for a socket, the thread spins a little (`spin.rs`): a short query's
//!   answer then finds it still on its CPU.
//! - Calls nest (a sync pool's hook runs sync queries inside a sync call): a nested call
//!   leaves a wake-up behind for the call it ran inside, whose wake-up it may have consumed.
//!
//! Also here, how a thread that must not block but runs an event loop of its own (Node's JS
//! thread) lends that loop to the sockets of the futures it polls: `EventLoop`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::spin::{any_ready, Spin};

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
    static SPIN: RefCell<Spin> = const { RefCell::new(Spin::new()) };
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

/// This thread's wake-up: a socket pair (portable, where an eventfd is Linux's only), whose one end
/// the waker writes a byte to, from any thread, and whose other end the loop polls.
struct Signal {
    poll_end: UnixStream,
    wake_end: UnixStream,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A full socket buffer (never, in practice) still leaves the poll end readable.
        let _ = (&self.wake_end).write(&[1]);
    }
}

impl Signal {
    fn of_this_thread() -> io::Result<Arc<Signal>> {
        SIGNAL.with_borrow_mut(|signal| {
            if let Some(signal) = signal {
                return Ok(signal.clone());
            }
            let (poll_end, wake_end) = UnixStream::pair()?;
            poll_end.set_nonblocking(true)?;
            wake_end.set_nonblocking(true)?;
            let created = Arc::new(Signal { poll_end, wake_end });
            *signal = Some(created.clone());
            Ok(created)
        })
    }

    fn clear(&self) {
        let mut bytes = [0u8; 64];
        while matches!((&self.poll_end).read(&mut bytes), Ok(n) if n > 0) {}
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
            fd: signal.poll_end.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        SOCKETS.with_borrow(|sockets| fds.extend_from_slice(sockets));
        // Waiting for a server's answer (not only for a timer or another thread): spin first.
        if fds.len() == 1 || !SPIN.with_borrow_mut(|spin| spin.until(|| any_ready(&mut fds))) {
            sleep(&mut fds)?;
        }
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
