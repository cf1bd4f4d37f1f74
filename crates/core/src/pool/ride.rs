//! Automatic pipelining of `Pool::query`: statements that would wait in the queue for a
//! connection ride on the round trip of the client just served instead.
//!
//! When a one-statement call gets a connection, it takes the clients queued right behind it
//! that also wait to run one statement (at most `pipeline_depth - 1`, in queue order, stopping
//! at the first client that cannot ride) and writes all their statements in one go, each with
//! its own Sync (`Connection::query_batch`). The server then runs them back to back without
//! waiting for the client in between, and each rider is answered as soon as its result is read.
//!
//! What keeps it safe:
//! - only in autocommit, outside a transaction, with no `reset` hook (the riders would skip
//!   the reset the pool runs between two users); each statement is its own implicit
//!   transaction, so an error fails that statement alone;
//! - only statements that neither control a transaction nor change the session: the first
//!   keyword must be one of `RIDES` (a `BEGIN` would pull the statements behind it into its
//!   transaction; a `SET` would change what they run under; `COPY FROM STDIN` needs its data);
//! - riders come only from the queue, so a statement never waits behind others when a
//!   connection is free for it; and a statement seen taking `SLOW` or more neither carries
//!   riders nor rides, until it is seen running quickly again;
//! - a rider whose statement never reached the server (the session ended at a statement before
//!   it) queues again, so a terminated backend fails only the statement it was running.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::stats::millis;
use super::waiter::{Turn, Waiter};
use super::{Pool, PoolConnection, Shared};
use crate::connection::{BatchStatement, Connection};
use crate::error::{Error, Result};
use crate::params::{self, Param};
use crate::result::{QueryResult, ResultFormats, RowSink};

/// The first keywords of the statements that may share a round trip.
const RIDES: &[&str] = &[
    "select", "with", "insert", "update", "delete", "merge", "values", "table",
];

/// How many times a statement that never reached the server (its carrier's session ended
/// first) queues again before it fails with the reason.
const MAX_RERUNS: usize = 3;

/// A statement that takes this long keeps the ones behind it waiting: it runs alone. Well above
/// what a busy event loop adds to a quick statement (a few ms), which must not count as slow.
const SLOW: Duration = Duration::from_millis(20);

/// One statement for `Pool::query`, owned: another client's call may run it.
pub struct Statement {
    pub sql: String,
    /// The parameters in the tagged encoding of `ParamBuffer`.
    pub params: Vec<u8>,
    pub formats: ResultFormats,
    /// Streams a large result's rows as they arrive.
    pub rows: Option<RowSink>,
}

/// A statement that may ride, and its key in the pool's memory of slow statements.
pub(super) struct Ride {
    pub(super) statement: Statement,
    key: u64,
}

impl Ride {
    pub(super) fn new(statement: Statement) -> Ride {
        Ride {
            key: key_of(&statement.sql),
            statement,
        }
    }
}

impl Pool {
    /// Whether `Pool::query` may pipeline `sql` on this pool.
    pub(super) fn may_pipeline(&self, sql: &str) -> bool {
        self.shared.pipeline_depth > 1 && self.shared.callbacks.reset.is_none() && may_ride(sql)
    }

    /// `Pool::query` for a statement that may ride: it waits in the queue like any request,
    /// unless a carrier boards it first, and carries the riders behind it once served. A
    /// statement whose carrier's session ended before the server ran it queues again (a few
    /// times at most: then it fails with the reason).
    pub(super) async fn query_riding(&self, ride: Arc<Ride>, timeout: Option<Duration>) -> Result<QueryResult> {
        let shared = &self.shared;
        let mut reruns = 0;
        let checkout = loop {
            let request = shared.request(timeout, Some(ride.clone()))?;
            match shared.ready_now(request) {
                Ok(checkout) => break checkout,
                Err(request) => match shared.serve_turn(request).await? {
                    Turn::Lease(checkout) => break checkout,
                    Turn::Answer(answer) => return answer,
                    Turn::Rerun(why) if reruns == MAX_RERUNS => return Err(why),
                    Turn::Rerun(_) => reruns += 1,
                },
            }
        };
        self.use_and_return(checkout, |conn| async move { self.carry(&conn, &ride).await })
            .await
    }

    /// Runs the statement of `ride` on `conn`, with the riders queued behind it if any.
    async fn carry(&self, conn: &Arc<Connection>, ride: &Arc<Ride>) -> Result<QueryResult> {
        let boarded = if conn.pipelines() {
            self.shared.take_riders(ride.key, self.shared.pipeline_depth - 1)
        } else {
            Vec::new()
        };
        let started = Instant::now();
        if boarded.is_empty() {
            let params = params::decode(&ride.statement.params)?;
            let outcome = run_alone(conn, &ride.statement, params).await;
            self.shared.note_times(&[(ride.key, started.elapsed())]);
            return outcome;
        }
        // Slot 0 is the carrier's own statement, slot i rider i - 1's.
        let rides: Vec<Arc<Ride>> = std::iter::once(ride.clone())
            .chain(boarded.iter().map(|(_, ride)| ride.clone()))
            .collect();
        let mut riders = Riders::new(boarded);
        let mut own = None;
        let mut batch = Vec::with_capacity(rides.len());
        let mut slots = Vec::with_capacity(rides.len());
        for (slot, ride) in rides.iter().enumerate() {
            match params::decode(&ride.statement.params) {
                Ok(params) => {
                    batch.push(batch_statement(&ride.statement, params));
                    slots.push(slot);
                }
                Err(e) if slot == 0 => own = Some(Err(e)),
                Err(e) => riders.answer(slot - 1, Err(e)),
            }
        }
        let mut times = Vec::with_capacity(rides.len());
        conn.query_batch(&batch, |index, answered| {
            let slot = slots[index];
            times.push((rides[slot].key, answered.took));
            match slot {
                0 => own = Some(answered.outcome),
                rider if answered.reached_server => riders.answer(rider - 1, answered.outcome),
                rider => riders.rerun(rider - 1, answered.outcome.err()),
            }
        })
        .await;
        self.shared.note_times(&times);
        own.unwrap_or_else(|| Err(Error::operational("the statement was not answered")))
    }
}

pub(super) async fn run_alone(conn: &Connection, statement: &Statement, params: Vec<Param<'_>>) -> Result<QueryResult> {
    conn.query_with(&statement.sql, &params, None, statement.rows.clone(), statement.formats)
        .await
}

fn batch_statement<'a>(statement: &'a Statement, params: Vec<Param<'a>>) -> BatchStatement<'a> {
    BatchStatement {
        sql: &statement.sql,
        params,
        formats: statement.formats,
        rows: statement.rows.clone(),
    }
}

/// A client taken out of the queue to ride, with its statement.
pub(super) type Boarded<C> = (Arc<Waiter<C>>, Arc<Ride>);

/// The clients riding on a carrier's round trip. Each is answered exactly once: one the
/// carrier could not answer (its call was dropped midway) gets an error, never silence.
struct Riders(Vec<Option<Arc<Waiter<Connection>>>>);

impl Riders {
    fn new(boarded: Vec<Boarded<Connection>>) -> Riders {
        Riders(boarded.into_iter().map(|(waiter, _)| Some(waiter)).collect())
    }

    fn answer(&mut self, index: usize, outcome: Result<QueryResult>) {
        if let Some(waiter) = self.0.get_mut(index).and_then(Option::take) {
            waiter.answer(outcome);
        }
    }

    /// Rider `index`'s statement never reached the server: it queues again.
    fn rerun(&mut self, index: usize, why: Option<Error>) {
        if let Some(waiter) = self.0.get_mut(index).and_then(Option::take) {
            waiter.rerun(why.unwrap_or_else(|| Error::operational("the connection was lost")));
        }
    }
}

impl Drop for Riders {
    fn drop(&mut self) {
        for waiter in self.0.iter().flatten() {
            waiter.answer(Err(Error::operational(
                "the call carrying this statement on its connection was abandoned before the answer",
            )));
        }
    }
}

impl<C: PoolConnection> Shared<C> {
    /// Boards up to `limit` clients from the front of the queue, in order, while they can ride.
    /// None if the carrier's own statement was last seen slow.
    pub(super) fn take_riders(&self, carrier: u64, limit: usize) -> Vec<Boarded<C>> {
        let mut state = self.state();
        if state.waiting.front().is_none_or(|w| w.ride.is_none()) || state.slow_statements.contains(&carrier) {
            return Vec::new();
        }
        let now = Instant::now();
        let mut riders = Vec::new();
        while riders.len() < limit {
            let Some(ride) = state.waiting.front().and_then(|w| w.ride.clone()) else {
                break;
            };
            if state.slow_statements.contains(&ride.key) {
                break;
            }
            let Some(waiter) = state.waiting.pop_front() else {
                break;
            };
            // One that gave up meanwhile just leaves the queue.
            if waiter.board() {
                let waited = now.saturating_duration_since(waiter.queued_at);
                state.counters.requests_wait_ms += millis(waited);
                state.counters.durations.requests_wait.record(waited);
                state.counters.requests_pipelined += 1;
                riders.push((waiter, ride));
            }
        }
        riders
    }

    /// Remembers which statements run long, and forgets those seen running quickly again.
    pub(super) fn note_times(&self, times: &[(u64, Duration)]) {
        if times.iter().all(|(_, took)| *took < SLOW) && self.slow_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut state = self.state();
        for (key, took) in times {
            if *took >= SLOW {
                if state.slow_statements.len() >= SLOW_REMEMBERED {
                    state.slow_statements.clear();
                }
                state.slow_statements.insert(*key);
            } else {
                state.slow_statements.remove(key);
            }
        }
        self.slow_count.store(state.slow_statements.len(), Ordering::Relaxed);
    }
}

/// How many slow statements are remembered at most (then the memory starts over).
const SLOW_REMEMBERED: usize = 1_024;

fn key_of(sql: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    sql.hash(&mut hasher);
    hasher.finish()
}

/// Whether `sql` starts (after blanks, comments and opening parentheses) with one of `RIDES`.
fn may_ride(sql: &str) -> bool {
    let rest = skip_to_first_word(sql);
    let word_end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
    let word = &rest[..word_end];
    RIDES.iter().any(|keyword| keyword.eq_ignore_ascii_case(word))
}

fn skip_to_first_word(mut sql: &str) -> &str {
    loop {
        let trimmed = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(comment) = trimmed.strip_prefix("--") {
            sql = comment.find('\n').map_or("", |end| &comment[end..]);
        } else if trimmed.starts_with("/*") {
            sql = after_block_comment(trimmed);
        } else {
            return trimmed;
        }
    }
}

/// What follows the block comment `sql` starts with (they nest in PostgreSQL).
fn after_block_comment(sql: &str) -> &str {
    let bytes = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match &bytes[i..i + 2] {
            b"/*" => {
                depth += 1;
                i += 2;
            }
            b"*/" => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return &sql[i..];
                }
            }
            _ => i += 1,
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::may_ride;

    #[test]
    fn statements_that_ride() {
        for sql in [
            "SELECT $1::int",
            "  select 1",
            "(SELECT 1) UNION (SELECT 2)",
            "-- why\nSELECT 1",
            "/* a /* nested */ comment */ insert into t values (1)",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "UPDATE t SET a = 1",
            "delete from t",
            "VALUES (1)",
            "TABLE t",
        ] {
            assert!(may_ride(sql), "{sql}");
        }
    }

    #[test]
    fn statements_that_run_alone() {
        for sql in [
            "BEGIN",
            "start transaction",
            "COMMIT",
            "SET search_path TO x",
            "RESET ALL",
            "DISCARD ALL",
            "COPY t FROM STDIN",
            "LISTEN x",
            "DO $$ BEGIN END $$",
            "-- SELECT\nBEGIN",
            "/* SELECT */ SET x = 1",
            "/* unterminated SELECT",
            "SELECTED",
            "",
        ] {
            assert!(!may_ride(sql), "{sql}");
        }
    }
}
