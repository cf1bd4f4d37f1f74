//! A connection's view of its socket from outside the session lock: what an idle socket holds
//! (the pool looks at hand-out, with one poll(2) and no round trip), and cutting the socket off
//! under a request stuck on a silent peer (close, an abort whose cancel got no answer).
//!
//! The descriptor is the session's own; the lock around it is taken by whoever closes the
//! socket (`forget`) before the descriptor goes, so no look ever lands on a number reused by
//! another file.

use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard};

/// What an idle connection's socket holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleSocket {
    /// Nothing: the usual case.
    Quiet,
    /// Messages a live session may send unasked (a notification, a notice, a parameter
    /// status): left for the next request, which reads and dispatches them.
    Pending,
    /// The session is over: the server ended the stream, reset it, or sent an error (on an
    /// idle session only a FATAL one, which the end of the stream follows).
    Ended,
}

pub(crate) struct SocketWatch {
    /// `None` once the connection has closed its socket.
    fd: Mutex<Option<RawFd>>,
    /// A plain socket shows the server's messages as they are; a TLS one only records.
    plain: bool,
}

/// How much of what waits on an idle plain socket is looked at for an error message: far more
/// than the few notifications or notices that may precede it.
const PEEK_LIMIT: usize = 1024;

impl SocketWatch {
    pub fn new(fd: Option<RawFd>, plain: bool) -> SocketWatch {
        SocketWatch {
            fd: Mutex::new(fd),
            plain,
        }
    }

    fn fd(&self) -> MutexGuard<'_, Option<RawFd>> {
        // One plain value: a panic elsewhere cannot leave it half-written.
        self.fd.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Looks, without blocking and without reading anything away, at what the server sent on
    /// an idle socket. One poll(2); a peek only when something is there.
    pub fn idle_state(&self) -> IdleSocket {
        let fd = self.fd();
        let Some(fd) = *fd else {
            return IdleSocket::Ended;
        };
        let mut watched = libc::pollfd {
            fd,
            events: libc::POLLIN | PEER_CLOSED,
            revents: 0,
        };
        // SAFETY: one valid pollfd, and a zero timeout; `fd` stays open while its lock is held.
        let ready = unsafe { libc::poll(&mut watched, 1, 0) };
        if ready <= 0 {
            // Nothing there (or poll was interrupted: nothing is known, as before the look).
            return IdleSocket::Quiet;
        }
        if watched.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL | PEER_CLOSED) != 0 {
            return IdleSocket::Ended;
        }
        if self.plain {
            return peek_messages(fd);
        }
        IdleSocket::Pending
    }

    /// Shuts the socket down both ways: whatever waits on it (a request, an event loop, a
    /// blocked thread's poll) sees it end at once, and the server sees it close.
    pub fn sever(&self) {
        if let Some(fd) = *self.fd() {
            // SAFETY: `fd` is the session's open socket while its lock is held; shutdown(2)
            // leaves the descriptor itself open (the session still owns and closes it).
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }

    /// The socket is about to be closed: no look may reach its descriptor from now on.
    pub fn forget(&self) {
        *self.fd() = None;
    }
}

/// The end of the peer's stream, reported by poll(2) even with data still unread (Linux);
/// elsewhere the peek finds it once nothing precedes it.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PEER_CLOSED: libc::c_short = libc::POLLRDHUP;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const PEER_CLOSED: libc::c_short = 0;

/// Walks the whole messages waiting on a plain socket, without taking them: an ErrorResponse
/// (or the end of the stream) means the session is over; anything else is left for the next
/// request.
fn peek_messages(fd: RawFd) -> IdleSocket {
    let mut buf = [0u8; PEEK_LIMIT];
    // SAFETY: `buf` is writable for its whole length; MSG_PEEK leaves the bytes in the socket.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => IdleSocket::Ended,
        n if n < 0 => match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => IdleSocket::Quiet,
            _ => IdleSocket::Ended,
        },
        n => classify(&buf[..n as usize]),
    }
}

/// `bytes`: the start of what waits on the socket, messages as the server frames them (a type
/// byte, then a length that counts itself).
fn classify(bytes: &[u8]) -> IdleSocket {
    let mut rest = bytes;
    while let Some(&kind) = rest.first() {
        if kind == b'E' {
            return IdleSocket::Ended;
        }
        let Some(length) = rest.get(1..5) else { break };
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        match rest.get(1 + length..) {
            Some(next) if length >= 4 => rest = next,
            _ => break,
        }
    }
    IdleSocket::Pending
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// Loopback delivers at once, but give the kernel a moment on a loaded machine.
    fn settle_on(watch: &SocketWatch, wanted: IdleSocket) -> IdleSocket {
        let mut seen = watch.idle_state();
        for _ in 0..200 {
            if seen == wanted {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            seen = watch.idle_state();
        }
        seen
    }

    #[test]
    fn notifications_are_left_and_errors_or_the_end_are_not() {
        let (client, mut server) = pair();
        let watch = SocketWatch::new(Some(client.as_raw_fd()), true);
        assert_eq!(watch.idle_state(), IdleSocket::Quiet);
        server.write_all(&message(b'A', b"\0\0\0\x01chan\0payload\0")).unwrap();
        assert_eq!(settle_on(&watch, IdleSocket::Pending), IdleSocket::Pending);
        server.write_all(&message(b'E', b"SFATAL\0C57P01\0\0")).unwrap();
        assert_eq!(settle_on(&watch, IdleSocket::Ended), IdleSocket::Ended);
    }

    #[test]
    fn an_ended_stream_is_seen_behind_unread_data_and_on_tls() {
        let (client, mut server) = pair();
        let watch = SocketWatch::new(Some(client.as_raw_fd()), false);
        server.write_all(b"\x17\x03\x03 some record").unwrap();
        assert_eq!(settle_on(&watch, IdleSocket::Pending), IdleSocket::Pending);
        server.shutdown(Shutdown::Write).unwrap();
        assert_eq!(settle_on(&watch, IdleSocket::Ended), IdleSocket::Ended);
    }

    #[test]
    fn a_severed_or_forgotten_socket_is_ended() {
        let (client, _server) = pair();
        let watch = SocketWatch::new(Some(client.as_raw_fd()), true);
        watch.sever();
        assert_eq!(watch.idle_state(), IdleSocket::Ended);
        watch.forget();
        assert_eq!(watch.idle_state(), IdleSocket::Ended);
        watch.sever(); // nothing to cut any more: no effect
    }

    #[test]
    fn framing_is_followed_to_an_error_behind_other_messages() {
        let mut bytes = message(b'N', b"SNOTICE\0\0");
        bytes.extend(message(b'S', b"TimeZone\0UTC\0"));
        assert_eq!(classify(&bytes), IdleSocket::Pending);
        bytes.extend(message(b'E', b"SFATAL\0\0"));
        assert_eq!(classify(&bytes), IdleSocket::Ended);
        assert_eq!(
            classify(&bytes[..3]),
            IdleSocket::Pending,
            "a partial header is no verdict"
        );
    }
}
