//! Pipeline mode: statements written one after another without waiting for each answer, their
//! results read in order. Between two Syncs the server runs them as one unit: the first error
//! makes it skip every message up to the next Sync (those statements are reported aborted), and
//! outside a transaction block the statements since the last Sync share one implicit
//! transaction, so the error rolls back the ones before it too.
//!
//! The pipeline holds the session from `open_pipeline` to `close` (as a cursor does:
//! `hold.rs`). `run` may be called many times: each writes its steps in chunks of about
//! `CHUNK` bytes ending with Flush, and reads the chunk's answers before the next chunk, so
//! neither side can block the other on a full socket.
//!
//! Every statement runs as a prepared statement of the statement cache, as `query` runs it. One
//! the cache does not hold yet is prepared inside the pipeline (Parse/Describe/Flush, no Sync),
//! which costs a round trip per distinct new statement: its parameter types are needed to
//! encode its parameters.

use std::sync::Arc;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::exchange::{encode_error, is_fatal, protocol, queue_closes, Mode};
use super::hold::OwnedHold;
use super::query::{check_query, copy_field, described_fields, is_stale_statement, queue_bind};
use super::{Connection, Session};
use crate::error::{Error, Result};
use crate::params::{self, Param};
use crate::result::{result_format, Field, QueryResult, ResultFormats};
use crate::server_message::db_fields;
use crate::statement_cache::{drops_all_statements, Prepared};

/// About this many bytes of messages are written before their answers are read.
const CHUNK: usize = 64 * 1024;

/// One step of a pipeline.
pub enum PipelineStep<'a> {
    Query {
        sql: &'a str,
        params: Vec<Param<'a>>,
    },
    /// A sync point: the end of the unit an error aborts.
    Sync,
}

pub struct Pipeline {
    conn: Arc<Connection>,
    hold: Option<OwnedHold>,
    /// An error aborted the statements up to the next Sync.
    aborted: bool,
}

/// What one written step expects back.
enum Sent {
    Statement {
        sql: String,
        fields: Arc<[Field]>,
    },
    /// Refused before anything was written for it.
    Refused(Error),
    Sync,
}

fn aborted_error() -> Error {
    Error::operational(
        "pipeline aborted: an earlier statement of the pipeline failed, so the server skipped this one (up to the next sync point)",
    )
}

impl Connection {
    /// Takes the session for a pipeline. With autocommit off a transaction is opened first,
    /// as every request does; the pipeline's statements then all run inside it.
    pub async fn open_pipeline(self: &Arc<Self>) -> Result<Pipeline> {
        let mut hold = self.take_session_owned().await;
        self.ensure_usable()?;
        self.cancels.settled().await;
        self.cancels.request_started(None);
        if self.needs_implicit_begin() {
            hold.exchanging = true;
            let outcome = self.simple(hold.session(), "BEGIN").await;
            hold.exchanging = false;
            self.settle(outcome)?;
        }
        Ok(Pipeline {
            conn: self.clone(),
            hold: Some(hold),
            aborted: false,
        })
    }
}

impl Pipeline {
    /// Writes `steps` and reads their answers: one outcome per query step, in order. The outer
    /// error means the connection was lost (every step's outcome is then unknown).
    pub async fn run(&mut self, steps: &[PipelineStep<'_>]) -> Result<Vec<Result<QueryResult>>> {
        let conn = self.conn.clone();
        let Some(hold) = self.hold.as_mut() else {
            return Err(Error::Programming("the pipeline has ended".into()));
        };
        hold.exchanging = true;
        let mut outcomes = Vec::with_capacity(steps.len());
        let outcome = run_steps(&conn, hold.session(), steps, &mut self.aborted, &mut outcomes).await;
        hold.exchanging = false;
        if let Err(e) = conn.settle(outcome) {
            self.hold = None;
            return Err(e);
        }
        Ok(outcomes)
    }

    /// Ends the pipeline with a last Sync and lets the connection go; harmless once ended.
    pub async fn close(&mut self) -> Result<()> {
        let Some(mut hold) = self.hold.take() else {
            return Ok(());
        };
        self.aborted = false;
        end_pipeline(&self.conn, &mut hold).await
    }
}

/// The last Sync, read to its ReadyForQuery.
async fn end_pipeline(conn: &Connection, hold: &mut OwnedHold) -> Result<()> {
    hold.exchanging = true;
    let outcome = conn.sync(hold.session()).await;
    hold.exchanging = false;
    conn.settle(outcome)
}

async fn run_steps(
    conn: &Connection,
    session: &mut Session,
    steps: &[PipelineStep<'_>],
    aborted: &mut bool,
    outcomes: &mut Vec<Result<QueryResult>>,
) -> Result<()> {
    let mut sent = Vec::new();
    for step in steps {
        let statement = match step {
            PipelineStep::Sync => None,
            PipelineStep::Query { sql, params } => {
                if let Err(e) = check_query(sql, params) {
                    sent.push(Sent::Refused(e));
                    continue;
                }
                match session.statements.get(sql) {
                    Some(statement) => Some(statement),
                    None => {
                        // Its parameter types and columns are needed to bind it: what was
                        // written so far is answered first, then the statement is prepared
                        // in the pipeline (a failure there aborts the rest as any error).
                        send_and_read(conn, session, &mut sent, aborted, outcomes).await?;
                        if *aborted {
                            outcomes.push(Err(aborted_error()));
                            continue;
                        }
                        match prepare_in_pipeline(conn, session, sql).await? {
                            Ok(statement) => Some(statement),
                            Err(e) => {
                                *aborted = true;
                                outcomes.push(Err(e));
                                continue;
                            }
                        }
                    }
                }
            }
        };
        let mark = session.wire.out.len();
        // A statement that cannot be written fails alone: the server never hears of it.
        sent.push(queue_step(session, step, statement).unwrap_or_else(|e| {
            session.wire.out.truncate(mark);
            Sent::Refused(e)
        }));
        if session.wire.out.len() >= CHUNK {
            send_and_read(conn, session, &mut sent, aborted, outcomes).await?;
        }
    }
    send_and_read(conn, session, &mut sent, aborted, outcomes).await
}

/// Writes what is queued (with a Flush, so the server answers it now) and reads the answers.
async fn send_and_read(
    conn: &Connection,
    session: &mut Session,
    sent: &mut Vec<Sent>,
    aborted: &mut bool,
    outcomes: &mut Vec<Result<QueryResult>>,
) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    frontend::flush(&mut session.wire.out);
    session.wire.flush().await?;
    for step in sent.drain(..) {
        match step {
            Sent::Sync => {
                conn.read_until_ready(session, Mode::Extended, |_| Ok(())).await?;
                *aborted = false;
            }
            Sent::Refused(e) => outcomes.push(Err(e)),
            Sent::Statement { .. } if *aborted => outcomes.push(Err(aborted_error())),
            Sent::Statement { sql, fields } => {
                let outcome = read_statement(conn, session, fields).await?;
                if let Err(Error::Database(db)) = &outcome {
                    *aborted = true;
                    if is_stale_statement(db) {
                        session.statements.remove(&sql);
                    }
                }
                outcomes.push(outcome);
            }
        }
    }
    Ok(())
}

/// Parse/Describe/Flush of `sql` inside the pipeline, with no Sync: an error is the
/// statement's, and the server then skips the rest up to the next Sync, as for any error.
async fn prepare_in_pipeline(conn: &Connection, session: &mut Session, sql: &str) -> Result<Result<Arc<Prepared>>> {
    queue_closes(session);
    let name = session.statements.name_for_new();
    let out = &mut session.wire.out;
    frontend::parse(&name, sql, std::iter::empty(), out).map_err(encode_error)?;
    frontend::describe(b'S', &name, out).map_err(encode_error)?;
    frontend::flush(out);
    session.wire.flush().await?;
    let mut param_types = Vec::new();
    loop {
        let message = session.wire.read().await.inspect_err(|_| conn.mark_broken())?;
        match message {
            Message::ParseComplete => {}
            Message::ParameterDescription(body) => param_types = body.parameters().collect().map_err(protocol)?,
            Message::RowDescription(_) | Message::NoData => {
                let fields = match message {
                    Message::RowDescription(body) => described_fields(&body, |f| result_format(f.type_oid()))?,
                    _ => Vec::new(),
                };
                let statement = Arc::new(Prepared::new(name, param_types, fields.into()));
                session.statements.insert(sql, statement.clone());
                return Ok(Ok(statement));
            }
            Message::ErrorResponse(body) => {
                let db = db_fields(body.fields());
                if is_fatal(&db) {
                    conn.mark_broken();
                    return Err(Error::Database(Box::new(db)));
                }
                return Ok(Err(Error::Database(Box::new(db))));
            }
            message @ (Message::NoticeResponse(_) | Message::NotificationResponse(_) | Message::ParameterStatus(_)) => {
                conn.hand_over(message)
            }
            _ => {
                conn.mark_broken();
                return Err(Error::operational("unexpected message from the server in a pipeline"));
            }
        }
    }
}

/// Queues one step's messages: a Sync, or a Bind/Execute of the statement prepared for it.
fn queue_step(session: &mut Session, step: &PipelineStep<'_>, statement: Option<Arc<Prepared>>) -> Result<Sent> {
    let (PipelineStep::Query { sql, params }, Some(statement)) = (step, statement) else {
        frontend::sync(&mut session.wire.out);
        return Ok(Sent::Sync);
    };
    let encoded = params::encode(params, &statement.param_types)?;
    let fields = statement.fields_in(ResultFormats::Preferred).clone();
    queue_bind(&mut session.wire.out, "", &statement, &encoded, &fields)?;
    frontend::execute("", 0, &mut session.wire.out).map_err(encode_error)?;
    Ok(Sent::Statement {
        sql: sql.to_string(),
        fields,
    })
}

/// Reads one statement's answer: its rows, or its error. The outer error is a lost connection.
async fn read_statement(conn: &Connection, session: &mut Session, fields: Arc<[Field]>) -> Result<Result<QueryResult>> {
    let mut result = QueryResult {
        tag: String::new(),
        fields,
        rows: Vec::new(),
        row_count: 0,
    };
    loop {
        let message = session.wire.read().await.inspect_err(|_| conn.mark_broken())?;
        match message {
            Message::BindComplete | Message::CopyDone => {}
            Message::DataRow(body) => {
                result.rows.extend_from_slice(body.buffer());
                result.row_count += 1;
            }
            Message::CommandComplete(body) => {
                let tag = body.tag().map_err(protocol)?;
                if drops_all_statements(tag) {
                    session.statements.forget_all();
                }
                result.tag = tag.to_string();
                return Ok(Ok(result));
            }
            Message::EmptyQueryResponse => return Ok(Ok(result)),
            Message::ErrorResponse(body) => {
                let db = db_fields(body.fields());
                if is_fatal(&db) {
                    conn.mark_broken();
                    return Err(Error::Database(Box::new(db)));
                }
                return Ok(Err(Error::Database(Box::new(db))));
            }
            Message::CopyInResponse(_) => {
                // No data to send from here: the server answers the CopyFail with an error.
                frontend::copy_fail(
                    "pgtide: COPY FROM STDIN cannot run in a pipeline",
                    &mut session.wire.out,
                )
                .map_err(encode_error)?;
                frontend::flush(&mut session.wire.out);
                session.wire.flush().await?;
            }
            Message::CopyOutResponse(_) => result.fields = Arc::new([copy_field(ResultFormats::Preferred)]),
            // Each line of COPY output is a row of one text column, as `query` gives it.
            Message::CopyData(body) => {
                let line = body.data();
                result.rows.extend_from_slice(&(line.len() as i32).to_be_bytes());
                result.rows.extend_from_slice(line);
                result.row_count += 1;
            }
            message @ (Message::NoticeResponse(_) | Message::NotificationResponse(_) | Message::ParameterStatus(_)) => {
                conn.hand_over(message)
            }
            _ => {
                conn.mark_broken();
                return Err(Error::operational("unexpected message from the server in a pipeline"));
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let Some(hold) = self.hold.take() else {
            return;
        };
        hold.finish_in_background(|conn, mut hold| async move {
            let _ = end_pipeline(&conn, &mut hold).await;
        });
    }
}
