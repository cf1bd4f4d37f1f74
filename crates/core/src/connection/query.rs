//! One statement over the extended protocol, through the statement cache.
//!
//! Cold: Parse/Describe/Sync (one round trip: the parameter types and result columns), then
//! Bind/Execute/Sync. Cached: Bind/Execute/Sync on the named statement only. A cached statement
//! the server no longer accepts (`DISCARD ALL`, `DEALLOCATE`, or `cached plan must not change
//! result type` after an `ALTER TABLE`) fails at Bind, before anything ran: it is evicted and
//! prepared again, once, when that cannot surprise the user (psycopg's rule): not inside a
//! transaction the error has aborted, unless that transaction is the one this very request
//! opened (then it held nothing else, and is rolled back and opened again).

use std::sync::Arc;

use bytes::BytesMut;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{self, Message, RowDescriptionBody};
use postgres_protocol::message::frontend;

use super::exchange::{encode_error, protocol, queue_closes, Mode};
use super::{Connection, Session, TransactionStatus};
use crate::cancel::AbortHandle;
use crate::error::{DbError, Error, Result};
use crate::params::{self, Param};
use crate::result::{result_format, Field, QueryResult, ResultFormats, ROW_CHUNK};
use crate::statement_cache::Prepared;

/// The one column a `COPY ... TO STDOUT` result has: each row is one line of COPY output.
const COPY_COLUMN: &str = "copy";
const TEXT_OID: u32 = 25;

/// Refuses what the server would choke on, before anything is sent.
pub(super) fn check_query(sql: &str, params: &[Param<'_>]) -> Result<()> {
    check_sql(sql)?;
    if params.len() > u16::MAX as usize {
        return Err(Error::Programming(format!(
            "{} parameters passed: the protocol allows at most {}",
            params.len(),
            u16::MAX
        )));
    }
    Ok(())
}

pub(super) fn check_sql(sql: &str) -> Result<()> {
    if sql.contains('\0') {
        return Err(Error::Programming(
            "the query text contains a NUL character, which PostgreSQL cannot accept".into(),
        ));
    }
    Ok(())
}

/// Queues a Bind of `statement`'s `encoded` parameters to `portal`, its result columns in the
/// formats `fields` say.
pub(super) fn queue_bind(
    out: &mut BytesMut,
    portal: &str,
    statement: &Prepared,
    encoded: &params::Encoded,
    fields: &[Field],
) -> Result<()> {
    let values = encoded
        .values
        .iter()
        .map(|range| range.clone().map(|r| &encoded.data[r]));
    frontend::bind(
        portal,
        &statement.name,
        encoded.formats.iter().copied(),
        values,
        |value, buf| match value {
            Some(bytes) => {
                buf.extend_from_slice(bytes);
                Ok(postgres_protocol::IsNull::No)
            }
            None => Ok(postgres_protocol::IsNull::Yes),
        },
        fields.iter().map(|f| f.format),
        out,
    )
    .map_err(|_| Error::Programming("a parameter value is too large for one message".into()))
}

impl Connection {
    pub(super) async fn run_query(
        &self,
        session: &mut Session,
        sql: &str,
        params: &[Param<'_>],
        abort: Option<&Arc<AbortHandle>>,
        formats: ResultFormats,
    ) -> Result<QueryResult> {
        if let Some(statement) = session.statements.get(sql) {
            let opens_transaction = self.needs_implicit_begin();
            match self.execute(session, &statement, params, formats).await {
                Err(Executed::BeforeBind(Error::Database(db))) if is_stale_statement(&db) => {
                    session.statements.remove(sql);
                    if self.last_status() == TransactionStatus::InError {
                        if !opens_transaction {
                            return Err(Error::Database(db));
                        }
                        self.simple(session, "ROLLBACK").await?;
                    }
                }
                outcome => return outcome.map_err(Executed::into_error),
            }
        }
        let statement = self.prepare(session, sql).await?;
        if abort.is_some_and(|a| a.aborted()) {
            // Close the extended-protocol exchange the Describe left open before giving up.
            self.sync(session).await?;
            return Err(Error::aborted());
        }
        self.execute(session, &statement, params, formats)
            .await
            .map_err(Executed::into_error)
    }

    /// Parse/Describe/Flush: the statement's parameter types and columns, cached when the cache
    /// is on. Flush, not Sync: a Sync would end the exchange, and a transaction-pooling
    /// PgBouncer could then give the server connection to another client before our Bind,
    /// which would run that client's unnamed statement with our parameters. The Bind, Execute
    /// and Sync that follow keep the whole statement on one server connection.
    pub(super) async fn prepare(&self, session: &mut Session, sql: &str) -> Result<Arc<Prepared>> {
        let name = session.statements.name_for_new();
        let began = self.queue_implicit_begin(session);
        queue_closes(session);
        let out = &mut session.wire.out;
        frontend::parse(&name, sql, std::iter::empty(), out).map_err(encode_error)?;
        frontend::describe(b'S', &name, out).map_err(encode_error)?;
        frontend::flush(out);
        session.wire.flush().await?;
        let begin_outcome = if began {
            self.read_until_ready(session, Mode::Extended, |_| Ok(())).await
        } else {
            Ok(())
        };
        let begin_outcome = match begin_outcome {
            // The connection was lost reading the BEGIN's answer: nothing more will come, and
            // how it was lost (a reset, a peer timed out) is the error, not the end of the
            // stream that a further read would report.
            Err(lost) if self.broken() => return Err(lost),
            outcome => outcome,
        };

        let mut param_types = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        self.read_description(session, |message| {
            match message {
                Message::ParameterDescription(body) => {
                    param_types = body.parameters().collect().map_err(protocol)?;
                }
                Message::RowDescription(body) => {
                    fields = described_fields(&body, |f| result_format(f.type_oid()))?;
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
        begin_outcome?;

        let statement = Arc::new(Prepared::new(name, param_types, fields.into()));
        session.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Bind/Execute/Sync on a prepared statement: one round trip. The result columns come in
    /// `formats` (Bind's result-format codes say which).
    async fn execute(
        &self,
        session: &mut Session,
        statement: &Prepared,
        params: &[Param<'_>],
        formats: ResultFormats,
    ) -> Result<QueryResult, Executed> {
        let began = self.queue_implicit_begin(session);
        let fields = queue_execute(session, statement, params, formats).map_err(Executed::BeforeBind)?;
        session.wire.flush().await.map_err(Executed::BeforeBind)?;
        if began {
            self.read_until_ready(session, Mode::Extended, |_| Ok(()))
                .await
                .map_err(Executed::BeforeBind)?;
        }
        self.read_executed(session, fields, formats).await
    }

    /// Reads the answer to one queued Bind/Execute/Sync up to its ReadyForQuery, streaming
    /// the rows to the session's row sink if it has one.
    pub(super) async fn read_executed(
        &self,
        session: &mut Session,
        fields: Arc<[Field]>,
        formats: ResultFormats,
    ) -> Result<QueryResult, Executed> {
        let sink = session.rows.clone();
        let mut bound = false;
        let mut copy_out = false;
        let mut result = QueryResult {
            tag: String::new(),
            fields,
            rows: Vec::new(),
            row_count: 0,
        };
        let outcome = self
            .read_until_ready(session, Mode::Extended, |message| {
                match message {
                    Message::BindComplete => bound = true,
                    Message::DataRow(body) => {
                        result.rows.extend_from_slice(body.buffer());
                        result.row_count += 1;
                        if let Some(sink) = sink.as_ref().filter(|_| result.rows.len() >= ROW_CHUNK) {
                            let rows = std::mem::replace(&mut result.rows, Vec::with_capacity(ROW_CHUNK + ROW_CHUNK / 4));
                            sink(rows, std::mem::take(&mut result.row_count), &result.fields);
                        }
                    }
                    Message::CommandComplete(body) => {
                        result.tag = body.tag().map_err(protocol)?.to_string();
                    }
                    Message::CopyOutResponse(body) => {
                        copy_out = true;
                        if body.format() != 0 {
                            return Err(Error::Programming(
                                "COPY ... TO STDOUT (FORMAT binary) cannot be returned by query(): use the text or csv format".into(),
                            ));
                        }
                    }
                    // Each CopyData is one row of COPY output: it becomes a row of one text column.
                    Message::CopyData(body) => {
                        let line = body.data();
                        result.rows.extend_from_slice(&(line.len() as i32).to_be_bytes());
                        result.rows.extend_from_slice(line);
                        result.row_count += 1;
                    }
                    _ => {}
                }
                Ok(())
            })
            .await;
        if copy_out {
            result.fields = Arc::new([copy_field(formats)]);
        }
        match outcome {
            Ok(()) => Ok(result),
            Err(e) if bound => Err(Executed::AfterBind(e)),
            Err(e) => Err(Executed::BeforeBind(e)),
        }
    }
}

/// Queues Bind/Execute/Sync of `statement` (with the Closes of evicted statements before it)
/// and returns the result's columns. Parameters are encoded first: a value that does not fit
/// is reported with nothing queued.
pub(super) fn queue_execute(
    session: &mut Session,
    statement: &Prepared,
    params: &[Param<'_>],
    formats: ResultFormats,
) -> Result<Arc<[Field]>> {
    let fields = statement.fields_in(formats);
    let encoded = params::encode(params, &statement.param_types)?;
    queue_closes(session);
    let out = &mut session.wire.out;
    queue_bind(out, "", statement, &encoded, fields)?;
    frontend::execute("", 0, out).map_err(encode_error)?;
    frontend::sync(out);
    Ok(fields.clone())
}

/// The columns a RowDescription describes, each in the format `format_of` gives it.
pub(super) fn described_fields(
    body: &RowDescriptionBody,
    format_of: impl Fn(&backend::Field<'_>) -> i16,
) -> Result<Vec<Field>> {
    let mut fields = Vec::new();
    let mut described = body.fields();
    while let Some(f) = described.next().map_err(protocol)? {
        fields.push(Field {
            name: f.name().to_string(),
            table_oid: f.table_oid(),
            column_id: f.column_id(),
            type_oid: f.type_oid(),
            type_size: f.type_size(),
            type_modifier: f.type_modifier(),
            format: format_of(&f),
        });
    }
    Ok(fields)
}

/// How far a failed Bind/Execute got: a failure before BindComplete ran nothing.
pub(super) enum Executed {
    BeforeBind(Error),
    AfterBind(Error),
}

impl Executed {
    pub(super) fn into_error(self) -> Error {
        match self {
            Executed::BeforeBind(e) | Executed::AfterBind(e) => e,
        }
    }
}

/// The server no longer accepts a statement we prepared: it was deallocated (26000), or its
/// result columns changed under it (0A000 from the plan cache's revalidation).
pub(super) fn is_stale_statement(db: &DbError) -> bool {
    db.sqlstate == "26000" || (db.sqlstate == "0A000" && db.field("routine") == Some("RevalidateCachedQuery"))
}

pub(super) fn copy_field(formats: ResultFormats) -> Field {
    Field {
        name: COPY_COLUMN.to_string(),
        table_oid: 0,
        column_id: 0,
        type_oid: TEXT_OID,
        type_size: -1,
        type_modifier: -1,
        // A COPY line is UTF-8 text, which is also text's binary form: declare the format the
        // query asked for `text` columns, so the column decodes like any other text column.
        format: match formats {
            ResultFormats::Preferred => crate::result::result_format(TEXT_OID),
            ResultFormats::AllText => crate::params::FORMAT_TEXT,
        },
    }
}
