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
//! A statement already in the statement cache runs as its named statement (results in
//! pgtide's formats); any other is parsed unnamed in the pipeline itself, its parameters typed
//! by the server from the statement's text and sent as text, and its results come as text.

use std::sync::Arc;

use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::exchange::{encode_error, is_fatal, protocol, queue_closes, Mode};
use super::hold::OwnedHold;
use super::query::{check_query, copy_field, described_fields, is_stale_statement, queue_bind};
use super::{Connection, Session};
use crate::error::{Error, Result};
use crate::params::{self, Param, FORMAT_TEXT};
use crate::result::{Field, QueryResult, ResultFormats};
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
        fields: Option<Arc<[Field]>>,
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
    let mut steps = steps.iter().peekable();
    while steps.peek().is_some() {
        queue_closes(session);
        let mut sent = Vec::new();
        while session.wire.out.len() < CHUNK {
            let Some(step) = steps.next() else { break };
            let mark = session.wire.out.len();
            // A statement that cannot be written fails alone: the server never hears of it.
            sent.push(queue_step(session, step).unwrap_or_else(|e| {
                session.wire.out.truncate(mark);
                Sent::Refused(e)
            }));
        }
        frontend::flush(&mut session.wire.out);
        session.wire.flush().await?;
        for step in sent {
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
    }
    Ok(())
}

/// Queues one step's messages. A query already in the cache binds its named statement; any
/// other is parsed unnamed, with its parameters' types left to the server.
fn queue_step(session: &mut Session, step: &PipelineStep<'_>) -> Result<Sent> {
    let (sql, params) = match step {
        PipelineStep::Sync => {
            frontend::sync(&mut session.wire.out);
            return Ok(Sent::Sync);
        }
        PipelineStep::Query { sql, params } => (*sql, params),
    };
    check_query(sql, params)?;
    if let Some(statement) = session.statements.get(sql) {
        if let Ok(encoded) = params::encode(params, &statement.param_types) {
            let fields = statement.fields_in(ResultFormats::Preferred).clone();
            queue_bind(&mut session.wire.out, "", &statement, &encoded, &fields)?;
            frontend::execute("", 0, &mut session.wire.out).map_err(encode_error)?;
            return Ok(Sent::Statement {
                sql: sql.to_string(),
                fields: Some(fields),
            });
        }
        // The server, given the text, reports what is wrong with the parameters.
    }
    let unknown = vec![0; params.len()];
    let encoded = match params::encode(params, &unknown) {
        Ok(encoded) => encoded,
        Err(e) => return Ok(Sent::Refused(e)),
    };
    let out = &mut session.wire.out;
    frontend::parse("", sql, std::iter::empty(), out).map_err(encode_error)?;
    let unnamed = Prepared::new(String::new(), unknown, Arc::from(Vec::new()));
    // No result formats: every column text (its types are not known yet).
    queue_bind(out, "", &unnamed, &encoded, &[])?;
    frontend::describe(b'P', "", out).map_err(encode_error)?;
    frontend::execute("", 0, out).map_err(encode_error)?;
    Ok(Sent::Statement {
        sql: sql.to_string(),
        fields: None,
    })
}

/// Reads one statement's answer: its rows, or its error. The outer error is a lost connection.
async fn read_statement(
    conn: &Connection,
    session: &mut Session,
    fields: Option<Arc<[Field]>>,
) -> Result<Result<QueryResult>> {
    let mut result = QueryResult {
        tag: String::new(),
        fields: fields.unwrap_or_else(|| Arc::from(Vec::new())),
        rows: Vec::new(),
        row_count: 0,
    };
    loop {
        let message = session.wire.read().await.inspect_err(|_| conn.mark_broken())?;
        match message {
            Message::ParseComplete | Message::BindComplete | Message::NoData | Message::CopyDone => {}
            Message::RowDescription(body) => {
                result.fields = described_fields(&body, |_| FORMAT_TEXT)?.into();
            }
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
        let Some(mut hold) = self.hold.take() else {
            return;
        };
        hold.exchanging = true;
        let conn = self.conn.clone();
        let runtime = conn.runtime.clone();
        // As a dropped cursor: a runtime that refuses the task leaves the connection broken.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            runtime.spawn(async move {
                let _ = end_pipeline(&conn, &mut hold).await;
            });
        }));
    }
}
