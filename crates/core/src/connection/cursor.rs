//! A cursor over one query's rows (pg-cursor, pg-query-stream): the query is bound to the
//! unnamed portal, and each `read(n)` executes it for n more rows, so a result of any size
//! streams through bounded memory. Every column comes in text, as node-postgres reads it, or
//! in pgtide's preferred formats (`open_cursor_in`), as `query` gives them.
//!
//! The portal lives until a Sync ends the exchange (outside a transaction block, Sync also
//! ends the implicit transaction that holds it), so between reads the exchange is left open
//! with Flush, and the cursor holds the connection's session for its whole life: other
//! requests on the connection wait until it is read to the end or closed. The end (or a
//! `close`, or an error) sends the Sync and lets the session go.
//!
//! A cursor dropped while open is closed by a task on the connection's runtime, so a
//! forgotten cursor costs a round trip, not the connection.

use std::sync::Arc;

use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::exchange::{encode_error, is_fatal, protocol, Mode};
use super::hold::OwnedHold;
use super::query::{check_query, is_stale_statement, queue_bind};
use super::{Connection, Session};
use crate::error::{Error, Result};
use crate::params::{self, Param};
use crate::result::{Field, QueryResult, ResultFormats};

/// The portal the cursor runs in: the unnamed one, as no other request runs meanwhile.
const PORTAL: &str = "";

pub struct Cursor {
    conn: Arc<Connection>,
    /// The session, held from `open_cursor` until the portal is done; `None` after.
    hold: Option<OwnedHold>,
    fields: Arc<[Field]>,
}

/// How one Execute ended.
enum Batch {
    /// n rows came and there are more.
    Suspended,
    /// The last rows came, with the command tag.
    Complete(String),
}

impl Connection {
    /// Binds `sql` with `params` to a portal whose rows `Cursor::read` returns a batch at a
    /// time, all columns text. The statement is prepared (and cached) as `query` prepares it.
    /// With autocommit off a transaction is opened first, as every request does.
    pub async fn open_cursor(self: &Arc<Self>, sql: &str, params: &[Param<'_>]) -> Result<Cursor> {
        self.open_cursor_in(sql, params, ResultFormats::AllText).await
    }

    /// `open_cursor` with the columns in `formats`: `Preferred` gives them as `query` does.
    pub async fn open_cursor_in(
        self: &Arc<Self>,
        sql: &str,
        params: &[Param<'_>],
        formats: ResultFormats,
    ) -> Result<Cursor> {
        check_query(sql, params)?;
        let mut hold = self.take_session_owned().await;
        self.ensure_usable()?;
        self.cancels.settled().await;
        // No abort handle: `cancel()` stops a cursor's statement.
        self.cancels.request_started(None);
        hold.exchanging = true;
        let outcome = self.bind_portal(hold.session(), sql, params, formats).await;
        hold.exchanging = false;
        let fields = self.settle(outcome)?;
        Ok(Cursor {
            conn: self.clone(),
            hold: Some(hold),
            fields,
        })
    }

    /// Parse (unless cached) and Bind into the portal, then Flush: the exchange stays open.
    async fn bind_portal(
        &self,
        session: &mut Session,
        sql: &str,
        params: &[Param<'_>],
        formats: ResultFormats,
    ) -> Result<Arc<[Field]>> {
        let (statement, prepared_now) = match session.statements.get(sql) {
            Some(statement) => (statement, false),
            None => (self.prepare(session, sql).await?, true),
        };
        let encoded = match params::encode(params, &statement.param_types) {
            Ok(encoded) => encoded,
            Err(e) => {
                if prepared_now {
                    // The Describe's Flush left the exchange open.
                    self.sync(session).await?;
                }
                return Err(e);
            }
        };
        let fields = statement.fields_in(formats).clone();
        let began = self.queue_implicit_begin(session);
        super::exchange::queue_closes(session);
        let out = &mut session.wire.out;
        if let Err(e) = queue_bind(out, PORTAL, &statement, &encoded, &fields) {
            out.clear();
            self.sync(session).await?;
            return Err(e);
        }
        frontend::flush(out);
        session.wire.flush().await?;
        if began {
            self.read_until_ready(session, Mode::Extended, |_| Ok(())).await?;
        }
        match self.read_batch(session, None).await {
            Ok(_) => Ok(fields),
            Err(Error::Database(db)) if is_stale_statement(&db) => {
                // Prepared again by the next request; this one reports the server's error.
                session.statements.remove(sql);
                Err(Error::Database(db))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the answer to a Bind (up to BindComplete, `rows` None) or an Execute (up to
    /// PortalSuspended or the command's end, its rows into `rows`). An error ends the exchange
    /// (Sync, then read to ReadyForQuery) before it is returned.
    async fn read_batch(&self, session: &mut Session, mut rows: Option<&mut QueryResult>) -> Result<Batch> {
        loop {
            let message = session.wire.read().await.inspect_err(|_| self.mark_broken())?;
            match message {
                Message::BindComplete if rows.is_none() => return Ok(Batch::Suspended),
                Message::DataRow(body) => {
                    if let Some(result) = rows.as_deref_mut() {
                        result.rows.extend_from_slice(body.buffer());
                        result.row_count += 1;
                    }
                }
                Message::PortalSuspended => return Ok(Batch::Suspended),
                Message::CommandComplete(body) => {
                    return Ok(Batch::Complete(body.tag().map_err(protocol)?.to_string()));
                }
                Message::EmptyQueryResponse => return Ok(Batch::Complete(String::new())),
                Message::ErrorResponse(body) => {
                    let db = crate::server_message::db_fields(body.fields());
                    if is_fatal(&db) {
                        self.mark_broken();
                        return Err(Error::Database(Box::new(db)));
                    }
                    self.sync(session).await?;
                    return Err(Error::Database(Box::new(db)));
                }
                Message::CopyInResponse(_) | Message::CopyOutResponse(_) => {
                    // The server skips to the Sync after a CopyFail (COPY FROM STDIN), and
                    // sends a COPY TO STDOUT's data whatever the row limit: end it either way.
                    frontend::copy_fail("pgtide: COPY cannot run in a cursor", &mut session.wire.out)
                        .map_err(encode_error)?;
                    self.sync(session).await?;
                    return Err(Error::Programming(
                        "COPY cannot run in a cursor: use query() (COPY ... TO STDOUT) instead".into(),
                    ));
                }
                message @ (Message::NoticeResponse(_)
                | Message::NotificationResponse(_)
                | Message::ParameterStatus(_)) => self.hand_over(message),
                _ => {}
            }
        }
    }
}

impl Cursor {
    /// The columns of every batch, in the formats the cursor was opened with.
    pub fn fields(&self) -> &Arc<[Field]> {
        &self.fields
    }

    /// Whether the portal is done (read to its end, closed, or failed): `read` returns no rows.
    pub fn done(&self) -> bool {
        self.hold.is_none()
    }

    /// The next `max_rows` rows (fewer at the end). A batch without rows means the end; the
    /// last batch carries the command tag, and lets the connection go.
    pub async fn read(&mut self, max_rows: u32) -> Result<QueryResult> {
        let limit = i32::try_from(max_rows).ok().filter(|&n| n > 0).ok_or_else(|| {
            Error::Programming(format!(
                "a cursor reads 1 to {} rows at a time, not {max_rows}",
                i32::MAX
            ))
        })?;
        let mut result = QueryResult {
            tag: String::new(),
            fields: self.fields.clone(),
            rows: Vec::new(),
            row_count: 0,
        };
        let Some(hold) = self.hold.as_mut() else {
            return Ok(result);
        };
        let conn = self.conn.clone();
        hold.exchanging = true;
        let outcome = execute_batch(&conn, hold.session(), limit, &mut result).await;
        hold.exchanging = false;
        match conn.settle(outcome) {
            Ok(Batch::Suspended) => Ok(result),
            Ok(Batch::Complete(tag)) => {
                result.tag = tag;
                hold.exchanging = true;
                let synced = conn.sync(hold.session()).await;
                hold.exchanging = false;
                self.hold = None;
                conn.settle(synced).map(|()| result)
            }
            Err(e) => {
                self.hold = None;
                Err(e)
            }
        }
    }

    /// Closes the portal and lets the connection go; harmless once done.
    pub async fn close(&mut self) -> Result<()> {
        let Some(mut hold) = self.hold.take() else {
            return Ok(());
        };
        close_portal(&self.conn, &mut hold).await
    }
}

async fn execute_batch(
    conn: &Connection,
    session: &mut Session,
    limit: i32,
    result: &mut QueryResult,
) -> Result<Batch> {
    frontend::execute(PORTAL, limit, &mut session.wire.out).map_err(encode_error)?;
    frontend::flush(&mut session.wire.out);
    session.wire.flush().await?;
    conn.read_batch(session, Some(result)).await
}

/// Close portal + Sync, read to ReadyForQuery.
async fn close_portal(conn: &Connection, hold: &mut OwnedHold) -> Result<()> {
    hold.exchanging = true;
    let session = hold.session();
    let outcome = async {
        frontend::close(b'P', PORTAL, &mut session.wire.out).map_err(encode_error)?;
        conn.sync(session).await
    }
    .await;
    hold.exchanging = false;
    conn.settle(outcome)
}

impl Drop for Cursor {
    fn drop(&mut self) {
        let Some(hold) = self.hold.take() else {
            return;
        };
        // Until the close has run, the portal is open: dropped unrun, the hold breaks the connection.
        hold.finish_in_background(|conn, mut hold| async move {
            let _ = close_portal(&conn, &mut hold).await;
        });
    }
}
