//! Reconnection: exponential backoff with jitter, giving up after `reconnect_timeout`, the
//! `reconnect_failed` callback, failing fast when no retry can help.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pgtide_core::pool::{Attempt, DELAY_JITTER, INITIAL_DELAY};
use pgtide_core::Error;
use tokio::time::Instant;

use crate::fake::{eventually, secs, Server, Setup};

/// Seconds between consecutive connection attempts.
fn gaps(server: &Server) -> Vec<f64> {
    let attempts = server.attempts.lock().unwrap();
    attempts.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect()
}

#[tokio::test(start_paused = true)]
async fn failed_connects_are_retried_with_a_doubling_jittered_delay() {
    let server = Server::new();
    server.set_down(true);
    let (pool, log) = Setup::regular(1, 1).build_with(&server, |_| {});
    pool.open().unwrap();
    tokio::time::sleep(secs(20.0)).await;
    let gaps = gaps(&server);
    // 0, d, 3d, 7d, 15d with d = 1 s ± 10%.
    assert_eq!(gaps.len(), 4, "{gaps:?}");
    let first = gaps[0];
    assert!((0.9..=1.1).contains(&first), "{gaps:?}");
    // Each doubles (the timer's millisecond rounding aside).
    for pair in gaps.windows(2) {
        assert!((pair[1] / pair[0] - 2.0).abs() < 0.005, "{gaps:?}");
    }
    assert_eq!(log.count("error connecting in 'policy'"), 5);
}

#[tokio::test(start_paused = true)]
async fn reconnection_gives_up_after_reconnect_timeout_and_calls_reconnect_failed() {
    let server = Server::new();
    server.set_down(true);
    let failed_at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut setup = Setup::regular(1, 1);
    setup.settings.reconnect_timeout = secs(10.0);
    let (pool, log) = setup.build_with(&server, |callbacks| {
        let failed_at = failed_at.clone();
        callbacks.reconnect_failed = Some(Arc::new(move || {
            failed_at.lock().unwrap().push(Instant::now());
            Box::pin(async {})
        }));
    });
    let start = Instant::now();
    pool.open().unwrap();
    tokio::time::sleep(secs(60.0)).await;
    let failed_at = failed_at.lock().unwrap().clone();
    assert_eq!(failed_at.len(), 1, "called once");
    let after = (failed_at[0] - start).as_secs_f64();
    assert!((10.0..10.01).contains(&after), "gave up at {after} s");
    // The last delay is cut so the final attempt falls on the budget's end.
    let last = *server.attempts.lock().unwrap().last().unwrap();
    assert!(((last - start).as_secs_f64() - 10.0).abs() < 0.01);
    assert_eq!(pool.stats().pool_size, 0, "the slot is given up");
    assert!(log.contains("reconnection attempt in pool 'policy' failed after 10.0 sec"));
}

#[tokio::test(start_paused = true)]
async fn a_recovery_within_reconnect_timeout_does_not_call_reconnect_failed() {
    let server = Server::new();
    server.set_down(true);
    let calls = Arc::new(AtomicUsize::new(0));
    let (pool, _) = Setup::regular(2, 2).build_with(&server, |callbacks| {
        let calls = calls.clone();
        callbacks.reconnect_failed = Some(Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }));
    });
    pool.open().unwrap();
    tokio::time::sleep(secs(5.0)).await;
    server.set_down(false);
    pool.wait(secs(30.0)).await.unwrap();
    assert_eq!(pool.stats().pool_available, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn after_giving_up_a_client_request_starts_a_new_connection() {
    let server = Server::new();
    server.set_down(true);
    let mut setup = Setup::regular(1, 1);
    setup.settings.reconnect_timeout = secs(2.0);
    let (pool, _) = setup.build_with(&server, |_| {});
    pool.open().unwrap();
    eventually(secs(10.0), "gave up", || pool.stats().pool_size == 0).await;
    server.set_down(false);
    let lease = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    assert_eq!(lease.conn.pid, 100);
    assert_eq!(pool.stats().pool_size, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_no_retry_can_fix_fails_requests_at_once() {
    let server = Server::new();
    server.refusing_for_good.store(true, Ordering::SeqCst);
    let (pool, _) = Setup::regular(1, 1).build_with(&server, |_| {});
    pool.open().unwrap();
    eventually(secs(1.0), "first attempt made", || server.attempt_count() == 1).await;
    let started = Instant::now();
    let err = pool.getconn(Some(secs(30.0))).finish().await.err().unwrap();
    assert_eq!(started.elapsed(), secs(0.0), "failed without waiting");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("password authentication failed"), "{err}");
    assert_eq!(pool.stats().counters.requests_errors, 1);
}

#[tokio::test(start_paused = true)]
async fn waiting_clients_fail_as_soon_as_a_connect_fails_for_good() {
    let server = Server::new();
    server.set_connect_delay(secs(1.0));
    server.refusing_for_good.store(true, Ordering::SeqCst);
    let (pool, _) = Setup::regular(1, 1).build_with(&server, |_| {});
    pool.open().unwrap();
    let started = Instant::now();
    let err = pool.getconn(Some(secs(30.0))).finish().await.err().unwrap();
    assert!(started.elapsed() <= secs(1.01), "{:?}", started.elapsed());
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_names_the_pool_state_and_the_last_connection_error() {
    let server = Server::new();
    server.set_down(true);
    let (pool, _) = Setup::regular(1, 1).build_with(&server, |_| {});
    pool.open().unwrap();
    let err = pool.getconn(Some(secs(2.0))).finish().await.err().unwrap();
    let message = err.to_string();
    assert!(matches!(err, Error::Caused { .. }), "{err:?}");
    assert!(
        message.contains("(pool 'policy': size 1, idle 0, in use 0, waiting 0)"),
        "{message}"
    );
    assert!(
        message.contains("last connection error: connection refused (stand-in)"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn connection_attempts_and_failures_are_counted() {
    let server = Server::new();
    server.set_down(true);
    let (pool, _) = Setup::regular(1, 1).build_with(&server, |_| {});
    pool.open().unwrap();
    tokio::time::sleep(secs(3.5)).await; // attempts at 0, ~1, ~3
    server.set_down(false);
    pool.wait(secs(30.0)).await.unwrap();
    let counters = pool.stats().counters;
    assert_eq!(counters.connections_num, 4);
    assert_eq!(counters.connections_errors, 3);
}

#[test]
fn backoff_delays_start_within_the_jitter_and_double() {
    let start = Instant::now();
    let low = INITIAL_DELAY.mul_f64(1.0 - DELAY_JITTER);
    let high = INITIAL_DELAY.mul_f64(1.0 + DELAY_JITTER);
    let mut firsts = Vec::new();
    for _ in 0..500 {
        let mut attempt = Attempt::new(secs(1000.0));
        attempt.update_delay(start);
        let first = attempt.delay;
        assert!(first >= low && first < high, "{first:?}");
        attempt.update_delay(start + first);
        assert_eq!(attempt.delay, first * 2);
        firsts.push(first.as_secs_f64());
    }
    let spread = firsts.iter().cloned().fold(f64::MIN, f64::max) - firsts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 0.15, "the jitter spreads the first delay: {spread}");
}
