//! Authentication after the startup message: cleartext password, md5 and SCRAM-SHA-256 (bound
//! to the TLS channel as SCRAM-SHA-256-PLUS when the server offers it), under libpq's
//! `channel_binding`. No message built here ever holds the password.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{AuthenticationSaslBody, ErrorResponseBody, Message};
use postgres_protocol::message::frontend;

use crate::conninfo::{ChannelBinding, ConnInfo};
use crate::error::{ConnectFailure, Error, Result};
use crate::server_message::db_error;
use crate::tls;
use crate::wire::{Socket, Wire};

/// Why authentication did not succeed. A refusal by the server is told apart because under
/// `sslmode` allow and prefer libpq then tries again with the other encryption.
pub enum AuthError {
    /// The server answered with an ErrorResponse (pg_hba.conf, wrong password, no such role).
    Refused(Error),
    Failed(Error),
}

impl From<Error> for AuthError {
    fn from(error: Error) -> Self {
        AuthError::Failed(error)
    }
}

impl From<AuthError> for Error {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Refused(e) | AuthError::Failed(e) => e,
        }
    }
}

/// Answers the server's authentication requests up to AuthenticationOk.
pub async fn authenticate(wire: &mut Wire, info: &ConnInfo) -> Result<(), AuthError> {
    let mut channel_bound = false;
    loop {
        match wire.read().await? {
            Message::AuthenticationOk => {
                if info.channel_binding == ChannelBinding::Require && !channel_bound {
                    return Err(Error::operational(
                        "channel binding required (channel_binding=require), but the server authenticated the client without it",
                    )
                    .into());
                }
                return Ok(());
            }
            Message::AuthenticationCleartextPassword => {
                refuse_unbound(info)?;
                frontend::password_message(password(info)?, &mut wire.out).map_err(protocol_error)?;
            }
            Message::AuthenticationMd5Password(body) => {
                refuse_unbound(info)?;
                let hashed = md5_hash(info.user.as_bytes(), password(info)?, body.salt());
                frontend::password_message(hashed.as_bytes(), &mut wire.out).map_err(protocol_error)?;
            }
            Message::AuthenticationSasl(body) => {
                channel_bound = scram(wire, info, body).await?;
                continue;
            }
            Message::ErrorResponse(body) => return Err(AuthError::Refused(server_refusal(body))),
            Message::AuthenticationKerberosV5
            | Message::AuthenticationGss
            | Message::AuthenticationSspi
            | Message::AuthenticationScmCredential => {
                return Err(Error::operational(
                    "the server asked for Kerberos, GSSAPI or SSPI authentication, which pgtide does not support",
                )
                .into())
            }
            _ => return Err(Error::operational("unexpected message from the server during authentication").into()),
        }
        wire.flush().await?;
    }
}

fn password(info: &ConnInfo) -> Result<&[u8]> {
    info.password.as_deref().map(str::as_bytes).ok_or_else(|| {
        Error::operational(format!(
            "the server asked for a password for user \"{}\", and none was given (set password in the connection string, or PGPASSWORD)",
            info.user
        ))
    })
}

/// `channel_binding=require` accepts nothing but SCRAM bound to the channel.
fn refuse_unbound(info: &ConnInfo) -> Result<()> {
    match info.channel_binding {
        ChannelBinding::Require => Err(Error::operational(
            "channel binding required (channel_binding=require), but the server asked for a plain password",
        )),
        _ => Ok(()),
    }
}

/// Runs SCRAM-SHA-256 (or -PLUS); says whether it was bound to the TLS channel.
async fn scram(wire: &mut Wire, info: &ConnInfo, offer: AuthenticationSaslBody) -> Result<bool, AuthError> {
    let (mut plain_offered, mut plus_offered) = (false, false);
    let mut mechanisms = offer.mechanisms();
    while let Some(mechanism) = mechanisms.next().map_err(protocol_error)? {
        plain_offered |= mechanism == sasl::SCRAM_SHA_256;
        plus_offered |= mechanism == sasl::SCRAM_SHA_256_PLUS;
    }
    let (mechanism, binding, bound) =
        choose_mechanism(wire.socket(), info.channel_binding, plain_offered, plus_offered)?;
    let mut scram = sasl::ScramSha256::new(password(info)?, binding);
    frontend::sasl_initial_response(mechanism, scram.message(), &mut wire.out).map_err(protocol_error)?;
    wire.flush().await?;
    match wire.read().await? {
        Message::AuthenticationSaslContinue(body) => scram.update(body.data()).map_err(scram_failed)?,
        Message::ErrorResponse(body) => return Err(AuthError::Refused(server_refusal(body))),
        _ => return Err(Error::operational("unexpected message during SCRAM authentication").into()),
    }
    frontend::sasl_response(scram.message(), &mut wire.out).map_err(protocol_error)?;
    wire.flush().await?;
    match wire.read().await? {
        Message::AuthenticationSaslFinal(body) => scram.finish(body.data()).map_err(scram_failed)?,
        Message::ErrorResponse(body) => return Err(AuthError::Refused(server_refusal(body))),
        _ => return Err(Error::operational("unexpected message during SCRAM authentication").into()),
    }
    Ok(bound)
}

/// libpq's choice: bind when the server offers -PLUS over TLS (unless disabled); over TLS
/// without that offer, say "could have bound" so a server that dropped the offer is caught.
fn choose_mechanism(
    socket: &Socket,
    setting: ChannelBinding,
    plain_offered: bool,
    plus_offered: bool,
) -> Result<(&'static str, sasl::ChannelBinding, bool)> {
    let on_tls = matches!(socket, Socket::Tls(_));
    if plus_offered && !on_tls {
        return Err(Error::operational(
            "the server offered SCRAM-SHA-256-PLUS over a connection without TLS, which no genuine server does",
        ));
    }
    let end_point = socket.server_certificate().and_then(tls::server_end_point);
    match (setting, end_point) {
        (ChannelBinding::Prefer | ChannelBinding::Require, Some(hash)) if plus_offered => {
            return Ok((
                sasl::SCRAM_SHA_256_PLUS,
                sasl::ChannelBinding::tls_server_end_point(hash),
                true,
            ))
        }
        (ChannelBinding::Require, _) => {
            return Err(Error::operational(if on_tls {
                "channel binding required (channel_binding=require), but the server did not offer SCRAM-SHA-256-PLUS"
            } else {
                "channel binding required (channel_binding=require), but the connection does not use TLS"
            }))
        }
        _ => {}
    }
    if !plain_offered {
        return Err(Error::operational(
            "the server offered no SASL mechanism pgtide can use (SCRAM-SHA-256, or SCRAM-SHA-256-PLUS over TLS)",
        ));
    }
    let binding = if on_tls && !plus_offered && setting != ChannelBinding::Disable {
        sasl::ChannelBinding::unrequested()
    } else {
        sasl::ChannelBinding::unsupported()
    };
    Ok((sasl::SCRAM_SHA_256, binding, false))
}

/// The server refused the session (bad database, role, password, too many clients...), with
/// its SQLSTATE as the failure's code.
pub fn server_refusal(body: ErrorResponseBody) -> Error {
    let db = db_error(&body);
    let message = format!("{}:  {}", db.severity, db.message);
    Error::connect(ConnectFailure::refused_by_server(message, db.sqlstate))
}

fn scram_failed(e: std::io::Error) -> Error {
    Error::operational(format!("SCRAM authentication failed: {e}"))
}

pub fn protocol_error(e: std::io::Error) -> Error {
    Error::operational(format!("protocol error: {e}"))
}
