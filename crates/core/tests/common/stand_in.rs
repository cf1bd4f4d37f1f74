//! A stand-in server's side of the protocol, for tests that need a server to misbehave on cue:
//! message framing and the trust-auth greeting.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Declines SSLRequests, reads the startup message, and greets: trust auth, backend key data,
/// ReadyForQuery (idle).
pub async fn accept_startup(socket: &mut TcpStream) -> std::io::Result<()> {
    const SSL_REQUEST: [u8; 4] = 80877103_i32.to_be_bytes();
    // Untagged messages first: SSLRequest (declined), then the startup message.
    loop {
        let body = read_body(socket).await?;
        if body[..4] != SSL_REQUEST {
            break;
        }
        socket.write_all(b"N").await?;
    }
    let mut greeting = message(b'R', &0_i32.to_be_bytes());
    greeting.extend(message(b'K', &[0, 0, 0, 42, 0, 0, 0, 7]));
    greeting.extend(message(b'Z', b"I"));
    socket.write_all(&greeting).await
}

/// A message body after its length word.
pub async fn read_body(socket: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let length = socket.read_i32().await?;
    let mut body = vec![0; (length - 4).max(0) as usize];
    socket.read_exact(&mut body).await?;
    Ok(body)
}

/// A tagged backend message.
pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend((body.len() as i32 + 4).to_be_bytes());
    out.extend(body);
    out
}
