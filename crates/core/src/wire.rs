//! The byte stream to one server: buffered writes of frontend messages, and backend messages
//! parsed straight out of the read buffer (row data is never copied until it leaves for JS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::client::TlsStream;

use crate::error::{Error, Result};
use crate::stream::Stream;

const READ_CHUNK: usize = 64 * 1024;

pub enum Socket {
    Plain(Stream),
    Tls(Box<TlsStream<Stream>>),
    /// After `Wire::shutdown`: the descriptor is released at once, not when the last handle
    /// to the connection is dropped (which, from JavaScript, waits for garbage collection).
    Closed,
}

impl Socket {
    /// The descriptor under it, and whether the bytes there are the protocol's own (not TLS).
    pub fn raw_fd(&self) -> Option<(std::os::fd::RawFd, bool)> {
        match self {
            Socket::Plain(stream) => Some((stream.raw_fd(), true)),
            Socket::Tls(tls) => Some((tls.get_ref().0.raw_fd(), false)),
            Socket::Closed => None,
        }
    }

    /// The server's own certificate, on a TLS socket (for SCRAM channel binding).
    pub fn server_certificate(&self) -> Option<&rustls_pki_types::CertificateDer<'static>> {
        match self {
            Socket::Tls(tls) => tls.get_ref().1.peer_certificates()?.first(),
            Socket::Plain(_) | Socket::Closed => None,
        }
    }
}

/// Calls the poll method on whichever stream the socket is (each is `Unpin`).
macro_rules! on_stream {
    ($socket:expr, $method:ident($($arg:expr),*)) => {
        match $socket.get_mut() {
            Socket::Plain(stream) => Pin::new(stream).$method($($arg),*),
            Socket::Tls(stream) => Pin::new(stream.as_mut()).$method($($arg),*),
            Socket::Closed => Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected))),
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        on_stream!(self, poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        on_stream!(self, poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_stream!(self, poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_stream!(self, poll_shutdown(cx))
    }
}

pub struct Wire {
    socket: Socket,
    read_buf: BytesMut,
    /// Frontend messages are encoded here, then sent with one write by `flush`.
    pub out: BytesMut,
}

impl Wire {
    pub fn new(socket: Socket) -> Wire {
        Wire {
            socket,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::with_capacity(1024),
        }
    }

    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    pub async fn flush(&mut self) -> Result<()> {
        // TLS may keep written records buffered until flushed; for TCP the flush costs nothing.
        let result = match self.socket.write_all(&self.out).await {
            Ok(()) => self.socket.flush().await,
            Err(e) => Err(e),
        };
        self.out.clear();
        result.map_err(|e| Error::operational(format!("consuming input failed: could not send data to server: {e}")))
    }

    /// The next message from the server.
    pub async fn read(&mut self) -> Result<Message> {
        loop {
            match Message::parse(&mut self.read_buf) {
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {}
                Err(e) => return Err(Error::operational(format!("invalid message from the server: {e}"))),
            }
            if self.read_buf.capacity() - self.read_buf.len() < READ_CHUNK / 4 {
                self.read_buf.reserve(READ_CHUNK);
            }
            match self.socket.read_buf(&mut self.read_buf).await {
                Ok(0) => {
                    return Err(Error::operational(
                        "server closed the connection unexpectedly: the server may have been restarted or the backend terminated",
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(Error::operational(format!("connection to server lost: {e}"))),
            }
        }
    }

    /// Releases the descriptor without a goodbye (the server stopped listening).
    pub fn drop_socket(&mut self) {
        self.socket = Socket::Closed;
    }

    /// Ends the stream and releases its descriptor.
    pub async fn shutdown(&mut self) {
        let _ = self.socket.shutdown().await;
        self.socket = Socket::Closed;
    }
}
