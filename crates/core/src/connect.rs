//! Opening a session: which hosts to try and in what order (libpq's rules for several hosts,
//! `load_balance_hosts`, `connect_timeout` per host, `target_session_attrs`), the socket and its encryption
//! (`sslmode`), the startup message, authentication (`auth.rs`) and the server's greeting.

use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::auth::{authenticate, protocol_error, server_refusal, AuthError};
use crate::conninfo::{ConnInfo, LoadBalanceHosts, SslMode, Target, TargetSessionAttrs, TcpSettings};
use crate::error::{ConnectFailure, Error, Result};
use crate::session_attrs;
use crate::stream::Stream;
use crate::tls::{Tls, TlsMaterial};
use crate::wire::{Socket, Wire};

mod socket_options;

/// A freshly authenticated session, idle and ready for queries.
pub struct Opened {
    pub wire: Wire,
    pub target: Target,
    pub backend_pid: i32,
    pub secret_key: i32,
    /// The ParameterStatus values the server sent with its greeting.
    pub parameters: HashMap<String, String>,
}

/// Tries each target in turn, as libpq does, until one gives a session that fits
/// `target_session_attrs`; reports every failure if none does. `tls_material` (PEM in memory)
/// takes the place of the conninfo's certificate files.
pub async fn connect(info: &ConnInfo, tls_material: Option<&TlsMaterial>) -> Result<Opened> {
    let tls = Tls::new(info, tls_material)?;
    let mut failures = Vec::new();
    let order = host_order(info);
    let limit = host_time_limit(info);
    for &wanted in passes(info.target_session_attrs) {
        for &index in &order {
            // libpq's default host is looked up on the filesystem now, not when parsing.
            let target = info.targets[index].resolved();
            let attempt = open_fitting(info, tls.as_ref(), &target, wanted);
            match within(limit, attempt).await {
                Ok(session) => return Ok(session),
                Err(Error::Config(message)) => return Err(Error::Config(message)),
                Err(e) => failures.push((target, e)),
            }
        }
    }
    Err(all_failed(failures))
}

/// Every target's failure in one error. Its code is the last target's (libpq reports the
/// hosts in order, so that is the one read last); no retry fixes it only if none fixes any.
fn all_failed(failures: Vec<(Target, Error)>) -> Error {
    let message = failures
        .iter()
        .map(|(target, e)| format!("connection to server at {} failed: {e}", target.describe()))
        .collect::<Vec<_>>()
        .join("\n");
    let permanent = !failures.is_empty() && failures.iter().all(|(_, e)| e.retry_cannot_fix());
    let code = failures.last().and_then(|(_, e)| match e {
        Error::Connect(failure) => failure.code.clone(),
        _ => None,
    });
    if code.is_none() && !permanent {
        return Error::Operational(message);
    }
    Error::connect(ConnectFailure {
        message,
        code,
        permanent,
    })
}

/// `prefer-standby` goes through the hosts twice: for a standby, then for any server.
fn passes(attrs: TargetSessionAttrs) -> &'static [TargetSessionAttrs] {
    match attrs {
        TargetSessionAttrs::PreferStandby => &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any],
        TargetSessionAttrs::Any => &[TargetSessionAttrs::Any],
        TargetSessionAttrs::ReadWrite => &[TargetSessionAttrs::ReadWrite],
        TargetSessionAttrs::ReadOnly => &[TargetSessionAttrs::ReadOnly],
        TargetSessionAttrs::Primary => &[TargetSessionAttrs::Primary],
        TargetSessionAttrs::Standby => &[TargetSessionAttrs::Standby],
    }
}

/// How long one host may take when the conninfo lists several and sets no `connect_timeout`
/// (libpq waits forever): a host that accepts TCP and never answers must not stop the others
/// from being tried. Long enough for a loaded server's startup and authentication.
pub const SEVERAL_HOSTS_TIMEOUT: Duration = Duration::from_secs(10);

/// Each host's bound: `connect_timeout` when set; otherwise `SEVERAL_HOSTS_TIMEOUT` when there
/// are other hosts to try, none for a single host (as libpq; a pool bounds the whole attempt).
fn host_time_limit(info: &ConnInfo) -> Option<Duration> {
    info.connect_timeout
        .or_else(|| (info.targets.len() > 1).then_some(SEVERAL_HOSTS_TIMEOUT))
}

/// The order the targets are tried in: as listed, or shuffled anew each time with
/// `load_balance_hosts=random` (prefer-standby's two passes keep one order, as in libpq).
fn host_order(info: &ConnInfo) -> Vec<usize> {
    let mut order: Vec<usize> = (0..info.targets.len()).collect();
    if info.load_balance_hosts == LoadBalanceHosts::Random {
        // Fisher-Yates; the std hasher's random keys are all the randomness spreading needs.
        use std::hash::{BuildHasher, RandomState};
        let random = RandomState::new();
        for i in (1..order.len()).rev() {
            let j = (random.hash_one(i) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
    order
}

/// An attempt bounded by `limit`, failing as libpq's `connect_timeout` does.
pub(crate) async fn within<T>(
    limit: Option<Duration>,
    attempt: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, attempt).await.unwrap_or_else(|_| {
            Err(Error::connect(ConnectFailure::timed_out(format!(
                "timeout expired after {}s",
                limit.as_secs()
            ))))
        }),
        None => attempt.await,
    }
}

/// A session on `target` that is what `wanted` asks for; one that is not is closed again.
async fn open_fitting(
    info: &ConnInfo,
    tls: Option<&Tls>,
    target: &Target,
    wanted: TargetSessionAttrs,
) -> Result<Opened> {
    let mut opened = open_session(info, tls, target).await?;
    if let Err(unfit) = session_attrs::check(&mut opened, wanted).await {
        frontend::terminate(&mut opened.wire.out);
        let _ = opened.wire.flush().await;
        opened.wire.shutdown().await;
        return Err(unfit);
    }
    Ok(opened)
}

/// A session on `target`, encrypted as `sslmode` says: `allow` starts plain and tries TLS if
/// the server refuses; `prefer` uses TLS if the server accepts it and tries plain if the TLS
/// session does not come up or is refused. Unix sockets are local: never TLS.
async fn open_session(info: &ConnInfo, tls: Option<&Tls>, target: &Target) -> Result<Opened> {
    let Some(tls) = tls.filter(|_| !target.is_unix_socket()) else {
        return plain(info, target).await;
    };
    match info.sslmode {
        SslMode::Disable => plain(info, target).await,
        SslMode::Allow => match startup(info, target, open_socket(target, Some(&info.tcp)).await?).await {
            Err(AuthError::Refused(_)) => encrypted(info, tls, target).await,
            outcome => Ok(outcome?),
        },
        SslMode::Prefer => match request_tls(info, target).await? {
            Negotiated::Declined(tcp) => Ok(startup(info, target, plain_socket(tcp, target)?).await?),
            Negotiated::Accepted(tcp) => {
                // A TLS session that fails to come up, or that the server refuses, is tried
                // again in plain, as libpq does.
                if let Ok(stream) = tls.handshake(stream_of(tcp, target)?, &target.server_name()).await {
                    match startup(info, target, Socket::Tls(Box::new(stream))).await {
                        Err(AuthError::Refused(_)) => {}
                        outcome => return Ok(outcome?),
                    }
                }
                plain(info, target).await
            }
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => encrypted(info, tls, target).await,
    }
}

async fn plain(info: &ConnInfo, target: &Target) -> Result<Opened> {
    Ok(startup(info, target, open_socket(target, Some(&info.tcp)).await?).await?)
}

async fn encrypted(info: &ConnInfo, tls: &Tls, target: &Target) -> Result<Opened> {
    match request_tls(info, target).await? {
        Negotiated::Accepted(tcp) => {
            let stream = tls.handshake(stream_of(tcp, target)?, &target.server_name()).await?;
            Ok(startup(info, target, Socket::Tls(Box::new(stream))).await?)
        }
        Negotiated::Declined(_) => Err(Error::operational(format!(
            "the server does not support TLS, but sslmode={} requires it",
            info.sslmode.as_str()
        ))),
    }
}

/// The server's answer to an SSLRequest.
enum Negotiated {
    Accepted(TcpStream),
    Declined(TcpStream),
}

async fn request_tls(info: &ConnInfo, target: &Target) -> Result<Negotiated> {
    let mut tcp = tcp_connect(target, Some(&info.tcp)).await?;
    let mut request = BytesMut::new();
    frontend::ssl_request(&mut request);
    let lost = |e: std::io::Error| Error::connect(ConnectFailure::socket(format!("could not request TLS: {e}"), &e));
    tcp.write_all(&request).await.map_err(lost)?;
    // Exactly one byte: anything after 'S' belongs to the TLS handshake, never to the plain stream.
    let mut answer = [0u8];
    tcp.read_exact(&mut answer).await.map_err(lost)?;
    match answer[0] {
        b'S' => Ok(Negotiated::Accepted(tcp)),
        b'N' => Ok(Negotiated::Declined(tcp)),
        other => Err(Error::operational(format!(
            "the server answered the TLS request with {:?} instead of 'S' or 'N'",
            char::from(other)
        ))),
    }
}

/// Startup message, authentication and greeting on a socket whose encryption is settled.
async fn startup(info: &ConnInfo, target: &Target, socket: Socket) -> Result<Opened, AuthError> {
    let mut wire = Wire::new(socket);
    let mut params: Vec<(&str, &str)> = vec![
        ("user", &info.user),
        ("database", &info.dbname),
        ("client_encoding", "UTF8"),
    ];
    if let Some(name) = &info.application_name {
        params.push(("application_name", name));
    }
    if let Some(options) = &info.options {
        params.push(("options", options));
    }
    frontend::startup_message(params, &mut wire.out).map_err(protocol_error)?;
    wire.flush().await?;
    authenticate(&mut wire, info).await?;
    Ok(read_greeting(wire, target.clone()).await?)
}

fn refused(target: &Target) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| {
        let hint = if target.is_unix_socket() {
            "Is the server running locally and accepting connections on that socket?"
        } else {
            "Is the server running on that host and accepting TCP/IP connections?"
        };
        Error::connect(ConnectFailure::socket(format!("{e}\n\t{hint}"), &e))
    }
}

/// `keepalive`: the session's keepalive settings (none for a short-lived cancel socket). The
/// socket goes to `hostaddr` when the conninfo gives one, with no name lookup, as in libpq.
async fn tcp_connect(target: &Target, keepalive: Option<&TcpSettings>) -> Result<TcpStream> {
    let stream = TcpStream::connect((target.connect_host().as_str(), target.port))
        .await
        .map_err(refused(target))?;
    // Queries are small request/response exchanges: never wait to coalesce packets.
    stream.set_nodelay(true).map_err(refused(target))?;
    if let Some(settings) = keepalive {
        socket_options::apply(std::os::fd::AsRawFd::as_raw_fd(&stream), settings)
            .map_err(|e| Error::operational(format!("could not set up the socket to {}: {e}", target.describe())))?;
    }
    Ok(stream)
}

async fn open_socket(target: &Target, keepalive: Option<&TcpSettings>) -> Result<Socket> {
    if target.is_unix_socket() {
        let path = format!("{}/.s.PGSQL.{}", target.host, target.port);
        let unix = UnixStream::connect(path).await.map_err(refused(target))?;
        Ok(Socket::Plain(Stream::unix(unix).map_err(refused(target))?))
    } else {
        plain_socket(tcp_connect(target, keepalive).await?, target)
    }
}

fn stream_of(tcp: TcpStream, target: &Target) -> Result<Stream> {
    Stream::tcp(tcp).map_err(refused(target))
}

fn plain_socket(tcp: TcpStream, target: &Target) -> Result<Socket> {
    Ok(Socket::Plain(stream_of(tcp, target)?))
}

async fn read_greeting(mut wire: Wire, target: Target) -> Result<Opened> {
    let (mut backend_pid, mut secret_key) = (0, 0);
    let mut parameters = HashMap::new();
    loop {
        match wire.read().await? {
            Message::BackendKeyData(body) => {
                backend_pid = body.process_id();
                secret_key = body.secret_key();
            }
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(protocol_error)?.to_string();
                parameters.insert(name, body.value().map_err(protocol_error)?.to_string());
            }
            Message::ReadyForQuery(_) => {
                return Ok(Opened {
                    wire,
                    target,
                    backend_pid,
                    secret_key,
                    parameters,
                });
            }
            Message::ErrorResponse(body) => return Err(server_refusal(body)),
            _ => {}
        }
    }
}

/// Sends a CancelRequest for the backend `pid` on a connection of its own. Like libpq before
/// version 17, without TLS: the request carries only the pid and a one-time key.
pub async fn send_cancel(target: &Target, pid: i32, secret_key: i32) -> Result<()> {
    let mut wire = Wire::new(open_socket(target, None).await?);
    frontend::cancel_request(pid, secret_key, &mut wire.out);
    wire.flush().await?;
    // The server answers by closing the socket; wait for that so the request has landed.
    let _ = wire.read().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(text: &str) -> ConnInfo {
        ConnInfo::parse_with_env(text, |_| None).unwrap()
    }

    #[test]
    fn hosts_in_order_unless_load_balanced() {
        assert_eq!(host_order(&info("host=a,b,c,d")), vec![0, 1, 2, 3]);
        let balanced = info("host=a,b,c,d load_balance_hosts=random");
        let mut firsts = [0usize; 4];
        for _ in 0..400 {
            let order = host_order(&balanced);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2, 3], "a permutation");
            firsts[order[0]] += 1;
        }
        // Each host leads about a quarter of the time; a fixed order would put all 400 on one.
        assert!(firsts.iter().all(|&n| n > 50), "{firsts:?}");
    }

    #[test]
    fn a_bound_per_host_when_there_are_others_to_try() {
        assert_eq!(host_time_limit(&info("host=a")), None);
        assert_eq!(host_time_limit(&info("host=a,b")), Some(SEVERAL_HOSTS_TIMEOUT));
        assert_eq!(
            host_time_limit(&info("host=a,b connect_timeout=3")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            host_time_limit(&info("host=a connect_timeout=3")),
            Some(Duration::from_secs(3))
        );
    }
}
