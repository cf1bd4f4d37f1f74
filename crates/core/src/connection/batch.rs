//! Independent statements written together and answered in order: the pool's automatic
//! pipelining (`pool/ride.rs`). Each statement ends with its own Sync, so it runs in its own
//! implicit transaction and an error fails that statement alone. Only in autocommit outside a
//! transaction, where that is what running them one after another would do.
//!
//! A statement the connection has not prepared yet, or whose prepared statement the server has
//! dropped (a `DISCARD ALL` earlier in the batch), runs alone after the others, through the
//! ordinary path that prepares it.

use std::time::{Duration, Instant};

use super::query::{check_query, is_stale_statement, queue_execute, Executed};
use super::{Connection, Session, TransactionStatus};
use crate::error::{Error, Result};
use crate::params::Param;
use crate::result::{QueryResult, ResultFormats, RowSink};

/// One statement of a batch.
pub struct BatchStatement<'a> {
    pub sql: &'a str,
    pub params: Vec<Param<'a>>,
    pub formats: ResultFormats,
    pub rows: Option<RowSink>,
}

/// What a batch statement's caller gets: its outcome, and how long the server took on it
/// (from the previous answer, or from the write, to its own).
pub struct Answered {
    pub outcome: Result<QueryResult>,
    pub took: Duration,
}

impl Connection {
    /// Whether `query_batch` may run now: autocommit, outside a transaction.
    pub fn pipelines(&self) -> bool {
        self.autocommit() && self.last_status() == TransactionStatus::Idle
    }

    /// Runs `statements`, handing each outcome to `answer(index, ...)` as soon as it is read.
    /// Every statement is answered exactly once, whatever happens to the connection.
    pub async fn query_batch(&self, statements: &[BatchStatement<'_>], mut answer: impl FnMut(usize, Answered)) {
        let mut unanswered: Vec<bool> = vec![true; statements.len()];
        let failure = {
            let mut reply = |index: usize, outcome: Result<QueryResult>, took: Duration| {
                unanswered[index] = false;
                answer(index, Answered { outcome, took });
            };
            self.run_batch(statements, &mut reply).await.err()
        };
        let failure = failure.unwrap_or_else(|| Error::operational("the connection was lost"));
        for (index, _) in unanswered.iter().enumerate().filter(|(_, open)| **open) {
            let outcome = Err(failure.clone());
            answer(
                index,
                Answered {
                    outcome,
                    took: Duration::ZERO,
                },
            );
        }
    }

    /// The outer error ends the batch: the statements not answered yet share it.
    async fn run_batch(
        &self,
        statements: &[BatchStatement<'_>],
        reply: &mut impl FnMut(usize, Result<QueryResult>, Duration),
    ) -> Result<()> {
        if !self.pipelines() {
            return Err(Error::Interface(
                "a pipelined batch needs an autocommit connection outside a transaction".into(),
            ));
        }
        let mut hold = self.acquire(None).await?;
        let session = hold.exchange();
        let mut alone = Vec::new();
        let mut written = Vec::new();
        for (index, statement) in statements.iter().enumerate() {
            if let Err(e) = check_query(statement.sql, &statement.params) {
                reply(index, Err(e), Duration::ZERO);
                continue;
            }
            let Some(prepared) = session.statements.get(statement.sql) else {
                alone.push(index);
                continue;
            };
            let mark = session.wire.out.len();
            match queue_execute(session, &prepared, &statement.params, statement.formats) {
                Ok(fields) => written.push((index, fields)),
                Err(e) => {
                    // It fails alone: the server never hears of it.
                    session.wire.out.truncate(mark);
                    reply(index, Err(e), Duration::ZERO);
                }
            }
        }
        if !written.is_empty() {
            session.wire.flush().await?;
        }
        let mut since = Instant::now();
        for (index, fields) in written {
            let statement = &statements[index];
            let outcome = self.read_answer(session, statement, fields).await;
            let took = since.elapsed();
            since = Instant::now();
            match outcome {
                Err(Executed::BeforeBind(Error::Database(db))) if is_stale_statement(&db) => {
                    session.statements.remove(statement.sql);
                    alone.push(index);
                }
                outcome => {
                    let outcome = self.settle(outcome.map_err(Executed::into_error));
                    if self.broken() {
                        // Nothing more will come: the rest share this error.
                        return Err(outcome
                            .err()
                            .unwrap_or_else(|| Error::operational("the connection was lost")));
                    }
                    reply(index, outcome, took);
                }
            }
        }
        for index in alone {
            let statement = &statements[index];
            let started = Instant::now();
            session.rows = statement.rows.clone();
            let outcome = self
                .run_query(session, statement.sql, &statement.params, None, statement.formats)
                .await;
            session.rows = None;
            let outcome = self.settle(outcome);
            if self.broken() {
                return Err(outcome
                    .err()
                    .unwrap_or_else(|| Error::operational("the connection was lost")));
            }
            reply(index, outcome, started.elapsed());
        }
        hold.done();
        Ok(())
    }

    async fn read_answer(
        &self,
        session: &mut Session,
        statement: &BatchStatement<'_>,
        fields: std::sync::Arc<[crate::result::Field]>,
    ) -> Result<QueryResult, Executed> {
        session.rows = statement.rows.clone();
        let outcome = self.read_executed(session, fields, statement.formats).await;
        session.rows = None;
        outcome
    }
}
