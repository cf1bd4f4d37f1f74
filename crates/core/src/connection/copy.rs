//! COPY over the simple protocol: `COPY ... FROM STDIN` fed by `CopyIn::write`, and
//! `COPY ... TO STDOUT` read by `CopyOut::read` only as fast as the caller takes it (the server
//! blocks on a full socket meanwhile). Each holds the connection's session from its start to
//! its end, as a cursor does (`hold.rs`): other requests on the connection wait.
//!
//! A COPY FROM that fails on our side ends with CopyFail: the server rejects the whole COPY,
//! so no row of it is written, and the connection is ready for the next request. A COPY TO
//! stopped early is cancelled on the server and read out to its end.

use std::sync::Arc;

use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::exchange::{encode_error, is_fatal, protocol, Mode};
use super::hold::OwnedHold;
use super::query::check_sql;
use super::{Connection, Session};
use crate::cancel::AbortHandle;
use crate::error::{Error, Result};
use crate::server_message::db_fields;

/// The most one CopyData message carries: larger writes are split.
const COPY_DATA_LIMIT: usize = 1 << 20;

/// How the server said the COPY's data is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Binary,
}

/// Which way a COPY statement moves data, as the caller expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// A running `COPY ... FROM STDIN`.
pub struct CopyIn {
    conn: Arc<Connection>,
    hold: Option<OwnedHold>,
    format: CopyFormat,
}

/// A running `COPY ... TO STDOUT`.
pub struct CopyOut {
    conn: Arc<Connection>,
    hold: Option<OwnedHold>,
    format: CopyFormat,
    /// Cancels the COPY when it is stopped early.
    abort: Arc<AbortHandle>,
    /// The command tag, once the COPY ended (`COPY n`).
    tag: Option<String>,
}

impl Connection {
    /// Starts `sql`, which must be a `COPY ... FROM STDIN`; its data is then sent with
    /// `CopyIn::write` and ended with `finish` (or `fail`).
    pub async fn copy_in(self: &Arc<Self>, sql: &str) -> Result<CopyIn> {
        let (hold, format) = self.start_copy(sql, Direction::In, None).await?;
        Ok(CopyIn {
            conn: self.clone(),
            hold: Some(hold),
            format,
        })
    }

    /// Starts `sql`, which must be a `COPY ... TO STDOUT`; its data is read with `CopyOut::read`.
    pub async fn copy_out(self: &Arc<Self>, sql: &str) -> Result<CopyOut> {
        let abort = AbortHandle::new();
        let (hold, format) = self.start_copy(sql, Direction::Out, Some(&abort)).await?;
        Ok(CopyOut {
            conn: self.clone(),
            hold: Some(hold),
            format,
            abort,
            tag: None,
        })
    }

    async fn start_copy(
        self: &Arc<Self>,
        sql: &str,
        direction: Direction,
        abort: Option<&Arc<AbortHandle>>,
    ) -> Result<(OwnedHold, CopyFormat)> {
        check_sql(sql)?;
        let mut hold = self.take_session_owned().await;
        self.ensure_usable()?;
        self.cancels.settled().await;
        self.cancels.request_started(abort);
        hold.exchanging = true;
        let outcome = self.send_copy(hold.session(), sql, direction).await;
        hold.exchanging = false;
        let format = self.settle(outcome)?;
        Ok((hold, format))
    }

    /// Sends the statement (after the implicit BEGIN, if one is due) and reads up to the
    /// server's CopyInResponse or CopyOutResponse. Anything else is read out to the
    /// ReadyForQuery and reported.
    async fn send_copy(&self, session: &mut Session, sql: &str, direction: Direction) -> Result<CopyFormat> {
        let begin_outcome = self.send_simple_after_begin(session, sql).await?;
        if self.broken() {
            return begin_outcome.map(|()| CopyFormat::Text);
        }
        let mut failure: Option<Error> = None;
        loop {
            let message = session.wire.read().await.inspect_err(|_| self.mark_broken())?;
            match message {
                Message::CopyInResponse(body) if direction == Direction::In && failure.is_none() => {
                    return Ok(format_of(body.format()));
                }
                Message::CopyOutResponse(body) if direction == Direction::Out && failure.is_none() => {
                    return Ok(format_of(body.format()));
                }
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("pgtide: not the COPY direction asked for", &mut session.wire.out)
                        .map_err(encode_error)?;
                    session.wire.flush().await?;
                    failure.get_or_insert(wrong_statement(direction));
                }
                Message::CopyOutResponse(_) => {
                    failure.get_or_insert(wrong_statement(direction));
                }
                Message::ReadyForQuery(body) => {
                    self.record_status(body.status());
                    begin_outcome?;
                    return Err(failure.unwrap_or_else(|| wrong_statement(direction)));
                }
                Message::ErrorResponse(body) => {
                    let db = db_fields(body.fields());
                    if is_fatal(&db) {
                        self.mark_broken();
                        return Err(Error::Database(Box::new(db)));
                    }
                    failure.get_or_insert(Error::Database(Box::new(db)));
                }
                message @ (Message::NoticeResponse(_)
                | Message::NotificationResponse(_)
                | Message::ParameterStatus(_)) => self.hand_over(message),
                // Rows, tags, CopyData of a COPY TO we refused: read past them.
                _ => {}
            }
        }
    }

    pub(super) fn record_status(&self, status: u8) {
        let status = super::TransactionStatus::from_ready_for_query(status);
        self.status.store(status as u8, std::sync::atomic::Ordering::Release);
    }
}

fn format_of(code: u8) -> CopyFormat {
    if code == 1 {
        CopyFormat::Binary
    } else {
        CopyFormat::Text
    }
}

fn wrong_statement(direction: Direction) -> Error {
    Error::Programming(match direction {
        Direction::In => "copyFrom() runs a COPY ... FROM STDIN statement, and this is not one".into(),
        Direction::Out => "copyTo() runs a COPY ... TO STDOUT statement, and this is not one".into(),
    })
}

/// The row count of a `COPY n` tag.
fn copied_rows(tag: &str) -> u64 {
    tag.strip_prefix("COPY ").and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Reads to the ReadyForQuery that ends the COPY, returning its command tag.
async fn read_to_end(conn: &Connection, session: &mut Session) -> Result<String> {
    let mut tag = None;
    conn.read_until_ready(session, Mode::Simple, |message| {
        if let Message::CommandComplete(body) = message {
            tag.get_or_insert(body.tag().map_err(protocol)?.to_string());
        }
        Ok(())
    })
    .await?;
    Ok(tag.unwrap_or_default())
}

impl CopyIn {
    pub fn format(&self) -> CopyFormat {
        self.format
    }

    /// Whether the COPY has ended (finished, failed, or refused by the server).
    pub fn done(&self) -> bool {
        self.hold.is_none()
    }

    fn hold(&mut self) -> Result<&mut OwnedHold> {
        self.hold
            .as_mut()
            .ok_or_else(|| Error::Programming("the COPY has ended: no more data can be sent".into()))
    }

    /// Sends `data` (any slice of the COPY's stream: rows need not be whole). If the server has
    /// already given up on the COPY (bad data), its error is returned and the COPY is over.
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let conn = self.conn.clone();
        let hold = self.hold()?;
        hold.exchanging = true;
        let outcome = send_data(&conn, hold.session(), data).await;
        hold.exchanging = false;
        match conn.settle(outcome) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.hold = None;
                Err(e)
            }
        }
    }

    /// Ends the COPY: the server commits its rows to the statement (or reports why not).
    /// Returns how many rows were copied.
    pub async fn finish(&mut self) -> Result<u64> {
        let conn = self.conn.clone();
        let mut hold = self
            .hold
            .take()
            .ok_or_else(|| Error::Programming("the COPY has ended".into()))?;
        hold.exchanging = true;
        let session = hold.session();
        frontend::copy_done(&mut session.wire.out);
        let outcome = async {
            session.wire.flush().await?;
            read_to_end(&conn, session).await
        }
        .await;
        hold.exchanging = false;
        conn.settle(outcome).map(|tag| copied_rows(&tag))
    }

    /// Aborts the COPY with `reason`: the server rejects all of it. Harmless once ended.
    pub async fn fail(&mut self, reason: &str) -> Result<()> {
        let Some(mut hold) = self.hold.take() else {
            return Ok(());
        };
        abort_copy_in(&self.conn, &mut hold, reason).await
    }
}

async fn send_data(conn: &Connection, session: &mut Session, data: &[u8]) -> Result<()> {
    // The server reports bad data as soon as it reads it, and then ignores the rest: look
    // for its answer, without waiting, before sending more.
    if let Some(message) = ready_message(session).await {
        match message? {
            Message::ErrorResponse(body) => {
                let db = db_fields(body.fields());
                if is_fatal(&db) {
                    conn.mark_broken();
                    return Err(Error::Database(Box::new(db)));
                }
                conn.read_until_ready(session, Mode::Simple, |_| Ok(())).await?;
                return Err(Error::Database(Box::new(db)));
            }
            message => conn.hand_over(message),
        }
    }
    for chunk in data.chunks(COPY_DATA_LIMIT) {
        let out = &mut session.wire.out;
        out.extend_from_slice(b"d");
        out.extend_from_slice(&((chunk.len() + 4) as i32).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    session.wire.flush().await
}

/// The next message if one can be read without waiting. A read cut short here loses nothing:
/// the wire keeps what it has read in its buffer.
async fn ready_message(session: &mut Session) -> Option<Result<Message>> {
    tokio::select! {
        biased;
        message = session.wire.read() => Some(message),
        () = std::future::ready(()) => None,
    }
}

async fn abort_copy_in(conn: &Connection, hold: &mut OwnedHold, reason: &str) -> Result<()> {
    hold.exchanging = true;
    let session = hold.session();
    // A reason with a NUL byte cannot be sent: a plain one does as well.
    if frontend::copy_fail(reason, &mut session.wire.out).is_err() {
        session.wire.out.clear();
        let _ = frontend::copy_fail("the COPY's data source failed", &mut session.wire.out);
    }
    let outcome = async {
        session.wire.flush().await?;
        conn.read_until_ready(session, Mode::Simple, |_| Ok(())).await
    }
    .await;
    hold.exchanging = false;
    match conn.settle(outcome) {
        // The server's answer to CopyFail is the error we asked for.
        Ok(()) | Err(Error::Database(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

impl Drop for CopyIn {
    fn drop(&mut self) {
        let Some(hold) = self.hold.take() else {
            return;
        };
        hold.finish_in_background(|conn, mut hold| async move {
            let _ = abort_copy_in(&conn, &mut hold, "the COPY was abandoned").await;
        });
    }
}

impl CopyOut {
    pub fn format(&self) -> CopyFormat {
        self.format
    }

    /// Whether the COPY has ended: `read` returns nothing more.
    pub fn done(&self) -> bool {
        self.hold.is_none()
    }

    /// The rows copied, once the COPY ended.
    pub fn rows(&self) -> Option<u64> {
        self.tag.as_deref().map(copied_rows)
    }

    /// The next data, about `max_bytes` of it (at least one CopyData message, then whatever
    /// more has already arrived); `None` at the end.
    pub async fn read(&mut self, max_bytes: usize) -> Result<Option<Vec<u8>>> {
        let conn = self.conn.clone();
        let Some(hold) = self.hold.as_mut() else {
            return Ok(None);
        };
        hold.exchanging = true;
        let mut data = Vec::new();
        let outcome = read_data(&conn, hold.session(), max_bytes, &mut data).await;
        hold.exchanging = false;
        match conn.settle(outcome) {
            Ok(None) => Ok(Some(data)),
            Ok(Some(tag)) => {
                self.tag = Some(tag);
                self.hold = None;
                Ok((!data.is_empty()).then_some(data))
            }
            Err(e) => {
                self.hold = None;
                Err(e)
            }
        }
    }

    /// Stops the COPY early: cancelled on the server, read out to its end. Harmless once ended.
    pub async fn close(&mut self) -> Result<()> {
        let Some(mut hold) = self.hold.take() else {
            return Ok(());
        };
        close_copy_out(&self.conn, &mut hold, &self.abort).await
    }
}

/// Appends CopyData to `data` until `max_bytes` or nothing more is at hand; the COPY's tag
/// when it ended.
async fn read_data(
    conn: &Connection,
    session: &mut Session,
    max_bytes: usize,
    data: &mut Vec<u8>,
) -> Result<Option<String>> {
    let mut message = Some(session.wire.read().await);
    while let Some(next) = message {
        match next.inspect_err(|_| conn.mark_broken())? {
            Message::CopyData(body) => data.extend_from_slice(body.data()),
            Message::CopyDone => return read_to_end(conn, session).await.map(Some),
            Message::ErrorResponse(body) => {
                let db = db_fields(body.fields());
                if is_fatal(&db) {
                    conn.mark_broken();
                } else {
                    conn.read_until_ready(session, Mode::Simple, |_| Ok(())).await?;
                }
                return Err(Error::Database(Box::new(db)));
            }
            other => conn.hand_over(other),
        }
        if data.len() >= max_bytes {
            break;
        }
        message = ready_message(session).await;
        if message.is_none() && data.is_empty() {
            message = Some(session.wire.read().await);
        }
    }
    Ok(None)
}

async fn close_copy_out(conn: &Connection, hold: &mut OwnedHold, abort: &Arc<AbortHandle>) -> Result<()> {
    // Delivered before the next request may start (see `cancel.rs`); one that cannot be
    // delivered only means reading the rest.
    let _ = conn.abort(abort).await;
    hold.exchanging = true;
    let session = hold.session();
    let outcome = async {
        loop {
            match session.wire.read().await? {
                Message::CopyDone => return read_to_end(conn, session).await.map(drop),
                Message::ErrorResponse(body) => {
                    let db = db_fields(body.fields());
                    if is_fatal(&db) {
                        conn.mark_broken();
                        return Err(Error::Database(Box::new(db)));
                    }
                    // Most likely the cancel we sent.
                    return conn.read_until_ready(session, Mode::Simple, |_| Ok(())).await;
                }
                Message::CopyData(_) => {}
                other => conn.hand_over(other),
            }
        }
    }
    .await;
    hold.exchanging = false;
    conn.settle(outcome)
}

impl Drop for CopyOut {
    fn drop(&mut self) {
        let Some(hold) = self.hold.take() else {
            return;
        };
        let abort = self.abort.clone();
        hold.finish_in_background(|conn, mut hold| async move {
            let _ = close_copy_out(&conn, &mut hold, &abort).await;
        });
    }
}
