//! The byte stream to one server: buffered writes of frontend messages, and backend messages
//! parsed straight out of the read buffer (row data is never copied until it leaves for JS).

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::error::{Error, Result};

const READ_CHUNK: usize = 64 * 1024;

pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
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

    pub async fn flush(&mut self) -> Result<()> {
        let result = match &mut self.socket {
            Socket::Tcp(s) => s.write_all(&self.out).await,
            Socket::Unix(s) => s.write_all(&self.out).await,
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
            let read = match &mut self.socket {
                Socket::Tcp(s) => s.read_buf(&mut self.read_buf).await,
                Socket::Unix(s) => s.read_buf(&mut self.read_buf).await,
            };
            match read {
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

    pub async fn shutdown(&mut self) {
        let _ = match &mut self.socket {
            Socket::Tcp(s) => s.shutdown().await,
            Socket::Unix(s) => s.shutdown().await,
        };
    }
}
