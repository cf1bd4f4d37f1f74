//! Opening a session: the socket, the startup message, authentication (trust, password, md5,
//! SCRAM-SHA-256) and the server's greeting up to its first ReadyForQuery.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::net::{TcpStream, UnixStream};

use crate::conninfo::{ConnInfo, SslMode, Target};
use crate::error::{Error, Result};
use crate::server_message::db_error;
use crate::wire::{Socket, Wire};

/// A freshly authenticated session, idle and ready for queries.
pub struct Opened {
    pub wire: Wire,
    pub target: Target,
    pub backend_pid: i32,
    pub secret_key: i32,
}

/// Tries each target in turn, as libpq does, and reports every failure if none answers.
pub async fn connect(info: &ConnInfo) -> Result<Opened> {
    if matches!(info.sslmode, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) {
        return Err(Error::config(
            "sslmode \"require\", \"verify-ca\" and \"verify-full\" need TLS, which this build of pgtide does not support yet; use sslmode=prefer or disable",
        ));
    }
    let mut failures = Vec::new();
    for target in &info.targets {
        let attempt = connect_target(info, target);
        let outcome = match info.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, attempt).await.unwrap_or_else(|_| {
                Err(Error::operational(format!(
                    "timeout expired after {}s",
                    limit.as_secs()
                )))
            }),
            None => attempt.await,
        };
        match outcome {
            Ok(session) => return Ok(session),
            Err(Error::Config(message)) => return Err(Error::Config(message)),
            Err(e) => failures.push(format!("connection to server at {} failed: {e}", target.describe())),
        }
    }
    Err(Error::Operational(failures.join("\n")))
}

async fn connect_target(info: &ConnInfo, target: &Target) -> Result<Opened> {
    let socket = open_socket(target).await?;
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
    read_greeting(wire, target.clone()).await
}

async fn open_socket(target: &Target) -> Result<Socket> {
    let refused = |e: std::io::Error| {
        let hint = if target.is_unix_socket() {
            "Is the server running locally and accepting connections on that socket?"
        } else {
            "Is the server running on that host and accepting TCP/IP connections?"
        };
        Error::operational(format!("{e}\n\t{hint}"))
    };
    if target.is_unix_socket() {
        let path = format!("{}/.s.PGSQL.{}", target.host, target.port);
        Ok(Socket::Unix(UnixStream::connect(path).await.map_err(refused)?))
    } else {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(refused)?;
        // Queries are small request/response exchanges: never wait to coalesce packets.
        stream.set_nodelay(true).map_err(refused)?;
        Ok(Socket::Tcp(stream))
    }
}

async fn authenticate(wire: &mut Wire, info: &ConnInfo) -> Result<()> {
    let password = || {
        info.password.as_deref().map(str::as_bytes).ok_or_else(|| {
            Error::operational("the server asked for a password, and none was given (set it in the connection string or in PGPASSWORD)")
        })
    };
    loop {
        match wire.read().await? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(password()?, &mut wire.out).map_err(protocol_error)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hashed = md5_hash(info.user.as_bytes(), password()?, body.salt());
                frontend::password_message(hashed.as_bytes(), &mut wire.out).map_err(protocol_error)?;
            }
            Message::AuthenticationSasl(body) => {
                let mut mechanisms = body.mechanisms();
                let mut scram_offered = false;
                while let Some(mechanism) = mechanisms.next().map_err(protocol_error)? {
                    scram_offered |= mechanism == sasl::SCRAM_SHA_256;
                }
                if !scram_offered {
                    return Err(Error::operational(
                        "the server offered no SASL mechanism pgtide supports (SCRAM-SHA-256)",
                    ));
                }
                scram_exchange(wire, password()?).await?;
                continue;
            }
            Message::ErrorResponse(body) => return Err(server_refusal(body)),
            _ => {
                return Err(Error::operational(
                    "the server asked for an authentication method pgtide does not support",
                ))
            }
        }
        wire.flush().await?;
    }
}

async fn scram_exchange(wire: &mut Wire, password: &[u8]) -> Result<()> {
    // Without TLS there is no channel to bind to.
    let mut scram = sasl::ScramSha256::new(password, sasl::ChannelBinding::unsupported());
    frontend::sasl_initial_response(sasl::SCRAM_SHA_256, scram.message(), &mut wire.out).map_err(protocol_error)?;
    wire.flush().await?;
    match wire.read().await? {
        Message::AuthenticationSaslContinue(body) => scram.update(body.data()).map_err(auth_failed)?,
        Message::ErrorResponse(body) => return Err(server_refusal(body)),
        _ => return Err(Error::operational("unexpected message during SCRAM authentication")),
    }
    frontend::sasl_response(scram.message(), &mut wire.out).map_err(protocol_error)?;
    wire.flush().await?;
    match wire.read().await? {
        Message::AuthenticationSaslFinal(body) => scram.finish(body.data()).map_err(auth_failed),
        Message::ErrorResponse(body) => Err(server_refusal(body)),
        _ => Err(Error::operational("unexpected message during SCRAM authentication")),
    }
}

async fn read_greeting(mut wire: Wire, target: Target) -> Result<Opened> {
    let (mut backend_pid, mut secret_key) = (0, 0);
    loop {
        match wire.read().await? {
            Message::BackendKeyData(body) => {
                backend_pid = body.process_id();
                secret_key = body.secret_key();
            }
            Message::ReadyForQuery(_) => {
                return Ok(Opened {
                    wire,
                    target,
                    backend_pid,
                    secret_key,
                });
            }
            Message::ErrorResponse(body) => return Err(server_refusal(body)),
            _ => {}
        }
    }
}

/// Sends a CancelRequest for the backend `pid` on a connection of its own.
pub async fn send_cancel(target: &Target, pid: i32, secret_key: i32) -> Result<()> {
    let mut wire = Wire::new(open_socket(target).await?);
    frontend::cancel_request(pid, secret_key, &mut wire.out);
    wire.flush().await?;
    // The server answers by closing the socket; wait for that so the request has landed.
    let _ = wire.read().await;
    Ok(())
}

/// The server refused the session (bad database, role, password, too many clients...).
fn server_refusal(body: postgres_protocol::message::backend::ErrorResponseBody) -> Error {
    let db = db_error(&body);
    Error::operational(format!("{}:  {}", db.severity, db.message))
}

fn auth_failed(e: std::io::Error) -> Error {
    Error::operational(format!("SCRAM authentication failed: {e}"))
}

fn protocol_error(e: std::io::Error) -> Error {
    Error::operational(format!("protocol error: {e}"))
}
