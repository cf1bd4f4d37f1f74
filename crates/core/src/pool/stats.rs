//! The pool's counters (psycopg's `Counter`, reset by `pop_stats`) and its instantaneous
//! measures. All 15 keys are always reported.

use std::time::Duration;

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
