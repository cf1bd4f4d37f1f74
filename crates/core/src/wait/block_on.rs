//! Blocking a thread on a future, the way libpq blocks: the thread sleeps in poll(2) on the
//! sockets the future waits for, so the server's answer wakes it directly, with no runtime
//! worker thread woken in between (most of the cost of a short query).
//!
//! - A socket that would block while this thread blocks is noted (`wait_in_block_on`) instead
//!   of registered with the runtime; the loop sleeps on the noted sockets and on a wake-up
//!   socket of this thread (`Signal`), which the future's waker writes to from any thread, so
//!   timers and other wake-ups driven by the runtime reach it too.
//! - Before it sleeps for a socket, the thread spins a little (`Spin`): a short query's answer
//!   then finds it still on its CPU.
//! - Calls nest (a sync pool's hook runs sync queries inside a sync call): a nested call
//!   leaves a wake-up behind for the call it ran inside, whose wake-up it may have consumed,
//!   and puts the thread's state back as it found it, also when the future panics.

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::spin::any_ready;
use super::{Blocking, WAITING};

/// This thread's wake-up: a socket pair (portable, where an eventfd is Linux's only), whose one
/// end the waker writes a byte to, from any thread, and whose other end the loop polls.
pub(super) struct Signal {
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
        WAITING.with(|waiting| {
            let mut signal = waiting.signal.borrow_mut();
            if let Some(signal) = &*signal {
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

/// One `block_on` call's hold on the thread's state, given back when it returns or unwinds.
struct Nest {
    signal: Arc<Signal>,
    /// The sockets noted by the `block_on` this one runs inside.
    outer_sockets: Vec<libc::pollfd>,
    _blocking: Blocking,
}

impl Nest {
    fn enter(signal: Arc<Signal>) -> Nest {
        let blocking = Blocking::set(true);
        let outer_sockets = WAITING.with(|waiting| {
            waiting.block_on_depth.set(waiting.block_on_depth.get() + 1);
            waiting.sockets.take()
        });
        Nest {
            signal,
            outer_sockets,
            _blocking: blocking,
        }
    }
}

impl Drop for Nest {
    fn drop(&mut self) {
        let depth = WAITING.with(|waiting| {
            waiting.sockets.replace(std::mem::take(&mut self.outer_sockets));
            let depth = waiting.block_on_depth.get() - 1;
            waiting.block_on_depth.set(depth);
            depth
        });
        if depth > 0 {
            self.signal.wake_by_ref();
        }
    }
}

/// Polls `future` on this thread until it is ready, sleeping in poll(2) between polls.
pub fn block_on<F: Future>(future: F) -> io::Result<F::Output> {
    let signal = Signal::of_this_thread()?;
    let waker = Waker::from(signal.clone());
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    let _nest = Nest::enter(signal.clone());
    let mut fds = Vec::new();
    loop {
        WAITING.with(|waiting| waiting.sockets.borrow_mut().clear());
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Ok(output);
        }
        fds.clear();
        fds.push(libc::pollfd {
            fd: signal.poll_end.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        WAITING.with(|waiting| fds.extend_from_slice(&waiting.sockets.borrow()));
        // Waiting for a server's answer (not only for a timer or another thread): spin first.
        let answered = fds.len() > 1 && WAITING.with(|waiting| waiting.spin.borrow_mut().until(|| any_ready(&mut fds)));
        if !answered {
            sleep(&mut fds)?;
        }
        if fds[0].revents != 0 {
            signal.clear();
        }
    }
}

fn sleep(fds: &mut [libc::pollfd]) -> io::Result<()> {
    loop {
        // SAFETY: `fds` is a live, writable slice of pollfd structs and its exact length is
        // passed with it; poll(2) keeps no pointer past the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } >= 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}
