//! A connection lost under the first statement of a transaction (autocommit off): the implicit
//! BEGIN rides in the same write as that statement, so the loss is first read as the BEGIN's
//! answer. The error must say how the connection was lost (the socket's own error: a reset, or
//! the ETIMEDOUT of a peer gone silent that keepalive or tcp_user_timeout gave up on), not the
//! end of the stream that a further read on the dead socket reports.
//!
//! The stand-in server needs no DATABASE_URL: it greets, reads one message, and resets the
//! connection (SO_LINGER 0), so the client's first recv(2) fails with ECONNRESET and the next
//! one returns 0, just as after a keepalive or user timeout.

mod common;

use std::sync::Arc;
use std::time::Duration;

use pgtide_core::{ConnInfo, ConnectOptions, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::stand_in::{accept_startup, message, read_body};

/// A server that accepts connections and resets each one at its first message after start-up
/// but the first `answered` simple Queries, which it answers as in an open transaction.
async fn resetting_server(answered: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, answered));
        }
    });
    port
}

async fn serve(mut socket: TcpStream, mut answered: usize) -> std::io::Result<()> {
    accept_startup(&mut socket).await?;
    loop {
        let tag = socket.read_u8().await?;
        read_body(&mut socket).await?;
        if answered > 0 && tag == b'Q' {
            answered -= 1;
            let mut answer = message(b'C', b"SELECT 0\0");
            answer.extend(message(b'Z', b"T"));
            socket.write_all(&answer).await?;
            continue;
        }
        // Deprecated for blocking the thread on drop, which a zero linger never does.
        #[allow(deprecated)]
        socket.set_linger(Some(Duration::ZERO))?;
        return Ok(()); // dropped with linger 0: a reset
    }
}

async fn open(port: u16) -> Arc<Connection> {
    let info = ConnInfo::parse(&format!("postgres://someone@127.0.0.1:{port}/db?sslmode=disable")).unwrap();
    let options = ConnectOptions {
        autocommit: false,
        ..Default::default()
    };
    Connection::connect(&info, options).await.unwrap()
}

fn assert_says_reset(error: &pgtide_core::Error) {
    let text = error.to_string();
    assert!(text.contains("connection to server lost"), "{text}");
    assert!(!text.contains("server closed the connection unexpectedly"), "{text}");
}

#[tokio::test]
async fn a_statement_prepared_with_the_begin_reports_the_reset() {
    let conn = open(resetting_server(0).await).await;
    let error = conn.query("SELECT 1", &[]).await.unwrap_err();
    assert_says_reset(&error);
    assert!(conn.broken());
}

#[tokio::test]
async fn a_simple_query_with_the_begin_reports_the_reset() {
    let conn = open(resetting_server(0).await).await;
    let error = conn.exec("SELECT 1").await.unwrap_err();
    assert_says_reset(&error);
    assert!(conn.broken());
}

#[tokio::test]
async fn a_statement_after_the_begin_reports_the_reset() {
    // The BEGIN and a first statement are answered (in a transaction now): the reset comes
    // with the next statement itself, no BEGIN before it.
    let conn = open(resetting_server(2).await).await;
    conn.exec("SELECT 0").await.unwrap();
    let error = conn.query("SELECT 1", &[]).await.unwrap_err();
    assert_says_reset(&error);
}
