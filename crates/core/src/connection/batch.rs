//! Independent statements written together and answered in order: the pool's automatic
//! pipelining (`pool/ride.rs`). Each statement ends with its own Sync, so it runs in its own
//! implicit transaction and an error fails that statement alone. Only in autocommit outside a
//! transaction, where that is what running them one after another would do.
//!
//! A statement the connection has not prepared yet, or whose prepared statement the server no
//! longer accepts (`cached plan must not change result type` after an `ALTER TABLE`), runs alone
//! after the others, through the ordinary path that prepares it.
//!
//! If the session ends midway, the statements not answered yet share its error, and each says
//! whether the server may have run it: after a FATAL error the backend reads nothing more, so
//! the statements written behind it never ran; after any other loss nobody knows.

use std::time::{Duration, Instant};

use super::exchange::is_fatal;
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

/// What a batch statement's caller gets: its outcome, how long the server took on it (from the
/// previous answer, or from the write, to its own), and whether the server may have run it.
pub struct Answered {
    pub outcome: Result<QueryResult>,
    pub took: Duration,
    /// False when the server certainly never ran it: the session ended before it (a FATAL error
    /// on an earlier statement, after which the backend reads nothing more), or it was never
    /// written. Such a statement may run elsewhere as if for the first time.
    pub reached_server: bool,
}

/// How a batch ended early: the error the statements not answered yet share, and whether the
/// written ones among them may have run.
struct Broken {
    error: Error,
    written_may_have_run: bool,
}

impl From<Error> for Broken {
    /// A failure before anything was written.
    fn from(error: Error) -> Broken {
        Broken {
            error,
            written_may_have_run: false,
        }
    }
}

impl Connection {
    /// Whether `query_batch` may run now: autocommit, outside a transaction.
    pub fn pipelines(&self) -> bool {
        self.autocommit() && self.last_status() == TransactionStatus::Idle
    }

    /// Runs `statements`, handing each outcome to `answer(index, ...)` as soon as it is read.
    /// Every statement is answered exactly once, whatever happens to the connection.
    pub async fn query_batch(&self, statements: &[BatchStatement<'_>], mut answer: impl FnMut(usize, Answered)) {
        let mut unanswered = vec![true; statements.len()];
        let mut written = vec![false; statements.len()];
        let ended = {
            let mut reply = |index: usize, outcome: Result<QueryResult>, took: Duration| {
                unanswered[index] = false;
                let reached_server = true;
                answer(
                    index,
                    Answered {
                        outcome,
                        took,
                        reached_server,
                    },
                );
            };
            self.run_batch(statements, &mut written, &mut reply).await
        };
        let Err(broken) = ended else {
            return;
        };
        for (index, _) in unanswered.iter().enumerate().filter(|(_, open)| **open) {
            answer(
                index,
                Answered {
                    outcome: Err(broken.error.clone()),
                    took: Duration::ZERO,
                    reached_server: written[index] && broken.written_may_have_run,
                },
            );
        }
    }

    /// Marks in `written` what it writes; an early end leaves the statements not answered yet
    /// to the caller.
    async fn run_batch(
        &self,
        statements: &[BatchStatement<'_>],
        written: &mut [bool],
        reply: &mut impl FnMut(usize, Result<QueryResult>, Duration),
    ) -> Result<(), Broken> {
        if !self.pipelines() {
            return Err(Error::Interface(
                "a pipelined batch needs an autocommit connection outside a transaction".into(),
            )
            .into());
        }
        let mut hold = self.acquire(None).await?;
        let session = hold.exchange();
        let mut alone = Vec::new();
        let mut pipelined = Vec::new();
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
                Ok(fields) => pipelined.push((index, fields)),
                Err(e) => {
                    // It fails alone: the server never hears of it.
                    session.wire.out.truncate(mark);
                    reply(index, Err(e), Duration::ZERO);
                }
            }
        }
        if !pipelined.is_empty() {
            for (index, _) in &pipelined {
                written[*index] = true;
            }
            session.wire.flush().await.map_err(|error| self.lost(error))?;
        }
        let mut since = Instant::now();
        for (index, fields) in pipelined {
            let statement = &statements[index];
            let outcome = self.read_answer(session, statement, fields).await;
            let took = since.elapsed();
            since = Instant::now();
            match outcome {
                Err(Executed::BeforeBind(Error::Database(db))) if is_stale_statement(&db) => {
                    session.statements.remove(statement.sql);
                    written[index] = false;
                    alone.push(index);
                }
                outcome => self.answer_one(index, outcome.map_err(Executed::into_error), took, reply)?,
            }
        }
        for index in alone {
            let statement = &statements[index];
            let started = Instant::now();
            written[index] = true;
            session.rows = statement.rows.clone();
            let outcome = self
                .run_query(session, statement.sql, &statement.params, None, statement.formats)
                .await;
            session.rows = None;
            self.answer_one(index, outcome, started.elapsed(), reply)?;
        }
        hold.done();
        Ok(())
    }

    /// Gives statement `index` its outcome; a connection that broke on it ends the batch there.
    fn answer_one(
        &self,
        index: usize,
        outcome: Result<QueryResult>,
        took: Duration,
        reply: &mut impl FnMut(usize, Result<QueryResult>, Duration),
    ) -> Result<(), Broken> {
        let outcome = self.settle(outcome);
        let broken = self.broken().then(|| self.ended_at(&outcome));
        reply(index, outcome, took);
        broken.map_or(Ok(()), Err)
    }

    /// The connection broke at a statement with `outcome`. A FATAL error is the server ending
    /// the session there: it reads nothing after it, so what follows never ran. Any other loss
    /// leaves unknown how far the server got.
    fn ended_at(&self, outcome: &Result<QueryResult>) -> Broken {
        let fatal = matches!(outcome, Err(Error::Database(db)) if is_fatal(db));
        let error = match outcome {
            Err(e) => e.clone(),
            Ok(_) => Error::operational("the connection was lost"),
        };
        Broken {
            error,
            written_may_have_run: !fatal,
        }
    }

    /// A write that failed: the server may have read part of it.
    fn lost(&self, error: Error) -> Broken {
        self.mark_broken();
        Broken {
            error,
            written_may_have_run: true,
        }
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
