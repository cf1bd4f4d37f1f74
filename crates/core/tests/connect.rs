//! Opening connections: several hosts, `connect_timeout` per host, `target_session_attrs`
//! (on the real server at `DATABASE_URL`, and on a stand-in for servers older than 14), sslmode
//! against a server without TLS, and session settings. TLS itself and the authentication
//! methods are proven against throwaway servers in `__test__/connect.spec.ts`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgtide_core::conninfo::{SslMode, Target, TargetSessionAttrs};
use pgtide_core::{ConnInfo, ConnectOptions, Connection, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::stand_in::{accept_startup, message, read_body};
use common::{database_url, scalar};

fn real_server() -> ConnInfo {
    ConnInfo::parse(&database_url()).unwrap()
}

fn loopback(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        hostaddr: None,
        port,
    }
}

async fn open(info: &ConnInfo) -> Result<Arc<Connection>, Error> {
    Connection::connect(
        info,
        ConnectOptions {
            autocommit: true,
            ..Default::default()
        },
    )
    .await
}

async fn refusal(info: &ConnInfo) -> String {
    match open(info).await {
        Ok(_) => panic!("connected, but a refusal was expected"),
        Err(e) => {
            assert!(matches!(e, Error::Operational(_) | Error::Connect(_)), "{e:?}");
            e.to_string()
        }
    }
}

/// A port nobody listens on.
async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A host that accepts TCP connections and never says a word.
async fn silent_host() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn a_dead_host_first_is_passed_over() {
    let mut info = real_server();
    let real = info.targets[0].clone();
    info.targets.insert(0, loopback(dead_port().await));
    let conn = open(&info).await.unwrap();
    assert_eq!(conn.target(), &real);
    assert_eq!(scalar(&conn, "SHOW port").await, Some(real.port.to_string()));
}

#[tokio::test]
async fn connect_timeout_bounds_each_host() {
    let mut info = real_server();
    info.targets.insert(0, loopback(silent_host().await));
    info.connect_timeout = Some(Duration::from_secs(2));
    let started = Instant::now();
    let conn = open(&info).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert!(waited < Duration::from_secs(6), "{waited:?}");
    assert!(!conn.broken());
}

#[tokio::test]
async fn when_every_host_fails_each_is_named_with_its_reason() {
    let (dead, silent) = (dead_port().await, silent_host().await);
    let mut info = ConnInfo::parse("host=127.0.0.1 password=hunter2 connect_timeout=2").unwrap();
    info.targets = vec![loopback(dead), loopback(silent)];
    let message = refusal(&info).await;
    let lines: Vec<&str> = message
        .lines()
        .filter(|l| l.starts_with("connection to server"))
        .collect();
    assert_eq!(lines.len(), 2, "{message}");
    assert!(lines[0].starts_with(&format!("connection to server at 127.0.0.1:{dead} failed: ")));
    assert!(lines[0].to_lowercase().contains("refused"), "{message}");
    assert_eq!(
        lines[1],
        format!("connection to server at 127.0.0.1:{silent} failed: timeout expired after 2s")
    );
    assert!(!message.contains("hunter2"));
}

#[tokio::test]
async fn read_write_and_read_only_follow_default_transaction_read_only() {
    let mut info = real_server();
    info.target_session_attrs = TargetSessionAttrs::ReadOnly;
    assert!(refusal(&info).await.ends_with("failed: session is not read-only"));
    info.target_session_attrs = TargetSessionAttrs::ReadWrite;
    open(&info).await.unwrap();

    // Read-only by default for this session: the server reports it in its greeting.
    info.options = Some("-c default_transaction_read_only=on".into());
    assert!(refusal(&info).await.ends_with("failed: session is read-only"));
    info.target_session_attrs = TargetSessionAttrs::ReadOnly;
    let conn = open(&info).await.unwrap();
    assert_eq!(scalar(&conn, "SHOW transaction_read_only").await.as_deref(), Some("on"));
}

#[tokio::test]
async fn primary_standby_and_prefer_standby_on_a_primary() {
    let mut info = real_server();
    info.target_session_attrs = TargetSessionAttrs::Standby;
    assert!(refusal(&info)
        .await
        .ends_with("failed: server is not in hot standby mode"));
    for attrs in [TargetSessionAttrs::Primary, TargetSessionAttrs::PreferStandby] {
        info.target_session_attrs = attrs;
        open(&info).await.unwrap();
    }
}

#[tokio::test]
async fn servers_older_than_14_are_asked() {
    let old = OldServer::start().await;
    let mut info = ConnInfo::parse("host=127.0.0.1 user=u dbname=d sslmode=disable").unwrap();
    info.targets = vec![loopback(old.port)];
    info.target_session_attrs = TargetSessionAttrs::ReadWrite;
    assert!(refusal(&info).await.ends_with("failed: session is read-only"));
    info.target_session_attrs = TargetSessionAttrs::ReadOnly;
    open(&info).await.unwrap();
    info.target_session_attrs = TargetSessionAttrs::Standby;
    assert!(refusal(&info)
        .await
        .ends_with("failed: server is not in hot standby mode"));
    assert_eq!(
        old.queries(),
        vec![
            "SHOW transaction_read_only",
            "SHOW transaction_read_only",
            "SELECT pg_catalog.pg_is_in_recovery()"
        ]
    );
}

#[tokio::test]
async fn sslmode_against_a_server_without_tls() {
    let old = OldServer::start().await;
    let mut info = ConnInfo::parse("host=127.0.0.1 user=u dbname=d").unwrap();
    info.targets = vec![loopback(old.port)];
    for mode in [SslMode::Prefer, SslMode::Allow, SslMode::Disable] {
        info.sslmode = mode;
        open(&info).await.unwrap();
    }
    for (mode, name) in [(SslMode::Require, "require"), (SslMode::VerifyFull, "verify-full")] {
        info.sslmode = mode;
        let message = refusal(&info).await;
        assert_eq!(
            message,
            format!(
                "connection to server at 127.0.0.1:{} failed: the server does not support TLS, but sslmode={name} requires it",
                old.port
            )
        );
    }
}

#[tokio::test]
async fn application_name_and_options_reach_the_session() {
    let mut info = real_server();
    info.application_name = Some("pgtide-connect-test".into());
    info.options = Some("-c search_path=pg_catalog -c work_mem=8MB".into());
    let conn = open(&info).await.unwrap();
    assert_eq!(
        scalar(&conn, "SHOW application_name").await.as_deref(),
        Some("pgtide-connect-test")
    );
    assert_eq!(scalar(&conn, "SHOW search_path").await.as_deref(), Some("pg_catalog"));
    assert_eq!(scalar(&conn, "SHOW work_mem").await.as_deref(), Some("8MB"));
}

/// A stand-in for a server older than PostgreSQL 14: it declines TLS, trusts everyone, reports
/// neither `in_hot_standby` nor `default_transaction_read_only`, and answers
/// `SHOW transaction_read_only` with `on` and anything else with `f`.
struct OldServer {
    port: u16,
    queries: Arc<Mutex<Vec<String>>>,
}

impl OldServer {
    async fn start() -> OldServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let log = queries.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(Self::serve(socket, log.clone()));
            }
        });
        OldServer { port, queries }
    }

    fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }

    async fn serve(mut socket: TcpStream, queries: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
        accept_startup(&mut socket).await?;
        loop {
            let tag = socket.read_u8().await?;
            let body = read_body(&mut socket).await?;
            if tag != b'Q' {
                return Ok(()); // Terminate, or anything this stand-in does not know
            }
            let sql = String::from_utf8_lossy(&body[..body.len() - 1]).into_owned();
            let value: &[u8] = if sql == "SHOW transaction_read_only" {
                b"on"
            } else {
                b"f"
            };
            queries.lock().unwrap().push(sql);
            let mut row = 1_i16.to_be_bytes().to_vec();
            row.extend((value.len() as i32).to_be_bytes());
            row.extend(value);
            let mut answer = message(b'D', &row);
            answer.extend(message(b'C', b"SELECT 1\0"));
            answer.extend(message(b'Z', b"I"));
            socket.write_all(&answer).await?;
        }
    }
}

/// `hostaddr`, as libpq reads it: the socket goes to the address with no name lookup, and the
/// connection still knows the server by its `host` name (what TLS would send and check).
#[tokio::test]
async fn hostaddr_is_where_the_socket_goes_and_host_the_name_kept() {
    let real = real_server();
    let target = real.targets[0].resolved();
    if target.is_unix_socket() {
        return; // a socket folder has no address to give
    }
    let address = tokio::net::lookup_host((target.connect_host().as_str(), target.port))
        .await
        .unwrap()
        .next()
        .unwrap()
        .ip();
    let url = database_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    let unknown = "no-such-host.invalid";
    let with_address = ConnInfo::parse(&format!("{url}{separator}host={unknown}&hostaddr={address}")).unwrap();
    let conn = open(&with_address).await.unwrap();
    assert_eq!(conn.target().host, unknown);
    assert_eq!(conn.target().hostaddr, Some(address));
    assert_eq!(
        scalar(&conn, "SELECT 'reached'::text").await.as_deref(),
        Some("reached")
    );
    // The same host name without the address has to be looked up, and is not found.
    let without = ConnInfo::parse(&format!("{url}{separator}host={unknown}")).unwrap();
    let refused = refusal(&without).await;
    assert!(refused.contains(unknown), "{refused}");
}
