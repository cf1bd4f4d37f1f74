//! A query over the simple protocol, results and all: one Query message, any number of
//! statements separated by `;`, one result per statement, every value in text (the simple
//! protocol has no say in formats). This is how node-postgres runs a query without parameters,
//! so code written for it (several statements in one string, `BEGIN; ...; COMMIT`) runs the same.
//!
//! The server runs the statements of one Query in one implicit transaction unless they manage
//! their own: an error stops the script, rolls back what that implicit transaction did, and is
//! the whole call's error (as node-postgres rejects the query), the connection staying usable.

use std::sync::Arc;

use postgres_protocol::message::backend::Message;

use super::exchange::{protocol, Mode};
use super::query::{copy_field, described_fields};
use super::{Connection, Session};
use crate::cancel::AbortHandle;
use crate::error::Result;
use crate::params::FORMAT_BINARY;
use crate::result::{Field, QueryResult, ResultFormats};

const BYTEA_OID: u32 = 17;

impl Connection {
    /// Runs `sql` (any number of statements) over the simple protocol and returns each
    /// statement's result in order. Statements without rows (`BEGIN`, `LISTEN`, `CREATE`) give
    /// a result without columns; an empty query string gives one result without a command tag
    /// (the server's EmptyQueryResponse). With autocommit off a transaction is opened first,
    /// as `exec` does. `abort` stops it as it stops `query_with`.
    pub async fn simple_query(&self, sql: &str, abort: Option<&Arc<AbortHandle>>) -> Result<Vec<QueryResult>> {
        super::query::check_sql(sql)?;
        let mut hold = self.acquire(abort).await?;
        let outcome = super::within_abort_grace(abort, self.run_simple_query(hold.exchange(), sql)).await;
        let Some(outcome) = outcome else {
            self.abandon_after_abort();
            return Err(crate::error::Error::aborted());
        };
        hold.done();
        self.settle(outcome)
    }

    async fn run_simple_query(&self, session: &mut Session, sql: &str) -> Result<Vec<QueryResult>> {
        // Like `run_script`: evicted statements are closed by the next extended-protocol
        // request, since a Close must not precede a simple Query unsynced.
        let begin_outcome = self.send_simple_after_begin(session, sql).await?;

        let mut results = Vec::new();
        // The statement whose rows are arriving: opened by its RowDescription (or
        // CopyOutResponse), closed by its CommandComplete.
        let mut current: Option<QueryResult> = None;
        let outcome = self
            .read_until_ready(session, Mode::Simple, |message| {
                match message {
                    Message::RowDescription(body) => {
                        let fields = described_fields(&body, |f| f.format())?;
                        current = Some(empty_result(fields.into()));
                    }
                    Message::DataRow(body) => {
                        let result = current.get_or_insert_with(|| empty_result(Arc::new([])));
                        result.rows.extend_from_slice(body.buffer());
                        result.row_count += 1;
                    }
                    // COPY ... TO STDOUT: each CopyData becomes a row of one column, as
                    // `query()` returns it (binary COPY data as bytes, chunk by chunk).
                    Message::CopyOutResponse(body) => {
                        let field = if body.format() == 0 {
                            copy_field(ResultFormats::AllText)
                        } else {
                            binary_copy_field()
                        };
                        current = Some(empty_result(Arc::new([field])));
                    }
                    Message::CopyData(body) => {
                        let result = current.get_or_insert_with(|| empty_result(Arc::new([])));
                        let line = body.data();
                        let length = i32::try_from(line.len())
                            .map_err(|_| protocol(std::io::Error::other("a COPY data message over 2 GiB")))?;
                        result.rows.extend_from_slice(&length.to_be_bytes());
                        result.rows.extend_from_slice(line);
                        result.row_count += 1;
                    }
                    Message::CommandComplete(body) => {
                        let mut result = current.take().unwrap_or_else(|| empty_result(Arc::new([])));
                        result.tag = body.tag().map_err(protocol)?.to_string();
                        results.push(result);
                    }
                    Message::EmptyQueryResponse => results.push(empty_result(Arc::new([]))),
                    _ => {}
                }
                Ok(())
            })
            .await;
        begin_outcome.and(outcome).map(|()| results)
    }
}

fn empty_result(fields: Arc<[Field]>) -> QueryResult {
    QueryResult {
        tag: String::new(),
        fields,
        rows: Vec::new(),
        row_count: 0,
    }
}

/// The one column of a `COPY ... TO STDOUT (FORMAT binary)` result: raw bytes.
fn binary_copy_field() -> Field {
    Field {
        format: FORMAT_BINARY,
        type_oid: BYTEA_OID,
        ..copy_field(ResultFormats::AllText)
    }
}
