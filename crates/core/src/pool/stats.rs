//! The pool's counters (psycopg's `Counter`, reset by `pop_stats`) and its instantaneous
//! measures. psycopg's 15 keys are always reported, and pgtide's own beside them.

use std::time::Duration;

use super::histogram::Histogram;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests_num: u64,
    pub requests_queued: u64,
    pub requests_wait_ms: u64,
    pub requests_errors: u64,
    pub usage_ms: u64,
    pub returns_bad: u64,
    pub connections_num: u64,
    pub connections_ms: u64,
    pub connections_errors: u64,
    pub connections_lost: u64,
    /// Checkouts held past `leakDetectionThreshold` (HikariCP's leak detection; not psycopg's).
    pub connections_leaked: u64,
    /// Statements run on another client's round trip (`ride.rs`; not psycopg's).
    pub requests_pipelined: u64,
    /// The durations behind `requests_wait_ms` (queued requests only), `usage_ms` and
    /// `connections_ms`, by bucket.
    pub durations: Durations,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations {
    pub requests_wait: Histogram,
    pub usage: Histogram,
    pub connections: Histogram,
}

/// Whole milliseconds of `elapsed`, truncated as psycopg does.
pub fn millis(elapsed: Duration) -> u64 {
    elapsed.as_millis() as u64
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub pool_min: u64,
    pub pool_max: u64,
    pub pool_size: u64,
    pub pool_available: u64,
    pub requests_waiting: u64,
    pub counters: Counters,
}
