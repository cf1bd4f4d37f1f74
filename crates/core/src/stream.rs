//! The socket under a connection (TCP or Unix), and how a caller waits on it: when the
//! socket is not ready, it asks `wait::strategy()` how this thread waits (the runtime's reactor,
//! `block_on`'s poll(2), or the thread's own event loop; see `wait`).
//!
//! The last two take the socket out of the reactor, so no worker thread is woken for it; it
//! goes back in the next time a task on the runtime has to wait on it.

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::wait::{self, Release, Strategy};

enum Plain {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Plain {
    /// recv(2) into memory that need not be initialised (the read buffer's spare capacity is
    /// large: zeroing it for every read would cost more than the read).
    fn read(&self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
        // SAFETY: `buf` is writable for `buf.len()` bytes (recv(2) only writes, so they need not
        // be initialised) and the descriptor is this socket's own, open while `self` lives.
        let n = unsafe { libc::recv(self.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Plain::Tcp(s) => (&*s).write(buf),
            Plain::Unix(s) => (&*s).write(buf),
        }
    }

    fn shutdown(&self) -> io::Result<()> {
        match self {
            Plain::Tcp(s) => s.shutdown(Shutdown::Write),
            Plain::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
}

impl AsRawFd for Plain {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Plain::Tcp(s) => s.as_raw_fd(),
            Plain::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// A non-blocking socket, registered with the runtime's reactor only while a task waits on it.
pub struct Stream {
    /// Names this socket to the event loops that wait on it.
    key: u64,
    /// The event loops that waited on this socket (one per JS thread), told when it closes.
    watched: Vec<Arc<dyn Release>>,
    socket: Option<Plain>,
    registered: Option<AsyncFd<Plain>>,
    /// Something was just sent: the answer is not there yet (a blocked thread saves the read
    /// that would say so, and goes straight to poll(2)).
    sent: bool,
}

impl Stream {
    pub fn tcp(stream: tokio::net::TcpStream) -> io::Result<Stream> {
        Ok(Stream::new(Plain::Tcp(stream.into_std()?)))
    }

    pub fn unix(stream: tokio::net::UnixStream) -> io::Result<Stream> {
        Ok(Stream::new(Plain::Unix(stream.into_std()?)))
    }

    /// One end of a socket pair, for tests of the ways to wait.
    #[cfg(test)]
    pub(crate) fn unix_pair_end(socket: std::os::unix::net::UnixStream) -> Stream {
        socket
            .set_nonblocking(true)
            .expect("a socket pair end turns non-blocking");
        Stream::new(Plain::Unix(socket))
    }

    fn new(socket: Plain) -> Stream {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(1);
        Stream {
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            watched: Vec::new(),
            socket: Some(socket),
            registered: None,
            sent: false,
        }
    }

    /// The socket's descriptor (the connection watches it from outside the session lock).
    pub fn raw_fd(&self) -> RawFd {
        match &self.registered {
            Some(registered) => registered.get_ref().as_raw_fd(),
            None => self.socket.as_ref().expect("a stream holds its socket").as_raw_fd(),
        }
    }

    fn plain(&mut self) -> &mut Plain {
        match &mut self.registered {
            Some(registered) => registered.get_mut(),
            None => self.socket.as_mut().expect("a stream holds its socket"),
        }
    }

    /// Out of the reactor, for a thread that waits with poll(2).
    fn unregister(&mut self) {
        if let Some(registered) = self.registered.take() {
            self.socket = Some(registered.into_inner());
        }
    }

    /// Into the reactor, for a task that waits through the runtime.
    fn registration(&mut self) -> io::Result<&AsyncFd<Plain>> {
        if self.registered.is_none() {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(io::Error::other("waiting on a socket outside the runtime"));
            }
            let socket = self.socket.take().expect("a stream holds its socket");
            // SAFETY: `Plain` owns its descriptor, open until the stream is dropped, and
            // `AsyncFd` takes that ownership with it (`into_inner` gives it back).
            match unsafe { AsyncFd::register(socket) } {
                Ok(registered) => self.registered = Some(registered),
                Err(refused) => {
                    let (socket, error) = refused.into_parts();
                    self.socket = Some(socket);
                    return Err(error);
                }
            }
        }
        Ok(self.registered.as_ref().unwrap())
    }

    /// Out of the reactor and into the poll(2) of the thread's `block_on`.
    fn leave_to_block_on<T>(&mut self, events: libc::c_short) -> Poll<io::Result<T>> {
        self.unregister();
        wait::wait_in_block_on(self.plain().as_raw_fd(), events);
        Poll::Pending
    }

    /// Does one non-blocking attempt of `op`; when the socket is not ready, waits for it the
    /// way this thread waits (`wait::strategy`) and tries again.
    fn poll_io<T>(
        &mut self,
        cx: &mut Context<'_>,
        events: libc::c_short,
        mut op: impl FnMut(&Plain) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        // Just sent: a blocked thread goes straight to poll(2), without the read that would
        // find nothing yet.
        if events == libc::POLLIN && std::mem::take(&mut self.sent) && matches!(wait::strategy(), Strategy::BlockOn) {
            return self.leave_to_block_on(events);
        }
        loop {
            match op(self.plain()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                outcome => return Poll::Ready(outcome),
            }
            match wait::strategy() {
                Strategy::BlockOn => return self.leave_to_block_on(events),
                Strategy::EventLoop(event_loop) => {
                    let fd = self.plain().as_raw_fd();
                    if let Some(release) = event_loop.wait(self.key, fd, events, cx.waker()) {
                        self.unregister();
                        if !self.watched.iter().any(|known| Arc::ptr_eq(known, &release)) {
                            self.watched.push(release);
                        }
                        return Poll::Pending;
                    }
                }
                Strategy::Reactor => {}
            }
            let registration = self.registration()?;
            let mut guard = if events == libc::POLLIN {
                ready!(registration.poll_read_ready(cx))?
            } else {
                ready!(registration.poll_write_ready(cx))?
            };
            // Readiness the reactor saw may be stale: the next attempt clears it if so.
            guard.clear_ready();
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.watched.is_empty() {
            // The loops watch duplicates of the descriptor, which keep the socket open until
            // they let go of them: shut it down now, so the server sees it close.
            // SAFETY: the descriptor is this stream's own and still open (it closes when
            // `socket` drops, after this); shutdown(2) leaves it open.
            unsafe { libc::shutdown(self.plain().as_raw_fd(), libc::SHUT_RDWR) };
        }
        for watched in self.watched.drain(..) {
            watched.release(self.key);
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // SAFETY: only recv(2) writes to these bytes, and it never de-initialises any.
        let unfilled = unsafe { buf.unfilled_mut() };
        let n = ready!(this.poll_io(cx, libc::POLLIN, |socket| socket.read(unfilled)))?;
        // SAFETY: recv(2) wrote these `n` bytes.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(this.poll_io(cx, libc::POLLOUT, |socket| socket.write(buf)))?;
        this.sent = true;
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(match self.get_mut().plain().shutdown() {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            outcome => outcome,
        })
    }
}
