//! libpq's `target_session_attrs`: whether a freshly opened session is one the connection
//! string accepts. PostgreSQL 14+ reports `in_hot_standby` and `default_transaction_read_only`
//! in its greeting; older servers are asked, as libpq does.

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use crate::auth::{protocol_error, server_refusal};
use crate::connect::Opened;
use crate::conninfo::TargetSessionAttrs;
use crate::error::{Error, Result};

/// Ok if `session` fits `wanted`; otherwise libpq's words for what the server is instead.
pub async fn check(session: &mut Opened, wanted: TargetSessionAttrs) -> Result<()> {
    let (fits, instead) = match wanted {
        TargetSessionAttrs::Any | TargetSessionAttrs::PreferStandby => return Ok(()),
        TargetSessionAttrs::ReadWrite => (!read_only(session).await?, "session is read-only"),
        TargetSessionAttrs::ReadOnly => (read_only(session).await?, "session is not read-only"),
        TargetSessionAttrs::Primary => (!hot_standby(session).await?, "server is in hot standby mode"),
        TargetSessionAttrs::Standby => (hot_standby(session).await?, "server is not in hot standby mode"),
    };
    if fits {
        Ok(())
    } else {
        Err(Error::operational(instead))
    }
}

/// A standby, or a server whose new transactions are read-only by default.
async fn read_only(session: &mut Opened) -> Result<bool> {
    match (
        reported(session, "in_hot_standby"),
        reported(session, "default_transaction_read_only"),
    ) {
        (Some(standby), Some(read_only)) => Ok(standby || read_only),
        _ => Ok(ask(session, "SHOW transaction_read_only").await? == "on"),
    }
}

async fn hot_standby(session: &mut Opened) -> Result<bool> {
    match reported(session, "in_hot_standby") {
        Some(standby) => Ok(standby),
        None => Ok(ask(session, "SELECT pg_catalog.pg_is_in_recovery()").await? == "t"),
    }
}

/// A boolean setting from the greeting's ParameterStatus messages, if the server sent it.
fn reported(session: &Opened, name: &str) -> Option<bool> {
    session.parameters.get(name).map(|value| value == "on")
}

/// The one value `sql` returns, as text, over the simple protocol.
async fn ask(session: &mut Opened, sql: &str) -> Result<String> {
    let wire = &mut session.wire;
    frontend::query(sql, &mut wire.out).map_err(protocol_error)?;
    wire.flush().await?;
    let mut value = None;
    let mut failure = None;
    loop {
        match wire.read().await? {
            Message::DataRow(body) => {
                let first = body.ranges().next().map_err(protocol_error)?.flatten();
                value = first.map(|range| String::from_utf8_lossy(&body.buffer()[range]).into_owned());
            }
            Message::ErrorResponse(body) => failure = Some(server_refusal(body)),
            Message::ReadyForQuery(_) => break,
            _ => {}
        }
    }
    match (failure, value) {
        (Some(error), _) => Err(error),
        (None, Some(value)) => Ok(value),
        (None, None) => Err(Error::operational(format!("\"{sql}\" returned no value"))),
    }
}
