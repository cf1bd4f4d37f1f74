//! The counters psycopg's `get_stats()` reports, measured on the paused clock (exact times).

use crate::fake::{secs, Server, Setup};

#[tokio::test(start_paused = true)]
async fn requests_and_their_waits_are_counted() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    let waiting = tokio::spawn(pool.getconn(Some(secs(10.0))).finish());
    tokio::time::sleep(secs(2.0)).await;
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    waiting.await.unwrap().unwrap();
    let counters = pool.stats().counters;
    assert_eq!(counters.requests_num, 2);
    assert_eq!(counters.requests_queued, 1);
    assert_eq!(counters.requests_wait_ms, 2000);
    assert_eq!(counters.requests_errors, 0);
    let waits = counters.durations.requests_wait;
    assert_eq!(waits.buckets.iter().sum::<u64>(), 1, "one queued request recorded");
}

#[tokio::test(start_paused = true)]
async fn connection_times_are_counted() {
    let server = Server::new();
    server.set_connect_delay(secs(0.25));
    let (pool, _) = Setup::regular(2, 2).open(&server).await;
    let counters = pool.stats().counters;
    assert_eq!(counters.connections_num, 2);
    assert_eq!(counters.connections_ms, 500);
    assert_eq!(counters.durations.connections.buckets.iter().sum::<u64>(), 2);
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_refusals_count_as_request_errors() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.settings.max_waiting = 1;
    let (pool, _) = setup.open(&server).await;
    let _held = pool.getconn(None).finish().await.unwrap();
    let timing_out = pool.getconn(Some(secs(1.0)));
    assert!(pool.getconn(None).finish().await.is_err(), "queue full");
    assert!(timing_out.finish().await.is_err(), "timed out");
    assert_eq!(pool.stats().counters.requests_errors, 2);
}

#[tokio::test(start_paused = true)]
async fn pop_stats_resets_the_counters_but_not_the_measures() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 3).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    let popped = pool.pop_stats();
    assert_eq!(popped.counters.requests_num, 1);
    assert_eq!(popped.counters.connections_num, 2);
    let after = pool.stats();
    assert_eq!(after.counters, Default::default());
    assert_eq!(
        (after.pool_min, after.pool_max, after.pool_size, after.pool_available),
        (2, 3, 2, 1)
    );
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_measures_follow_the_pool() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 4).open(&server).await;
    let a = pool.getconn(None).finish().await.unwrap();
    let b = pool.getconn(None).finish().await.unwrap();
    let waiting: Vec<_> = (0..3).map(|_| pool.getconn(Some(secs(10.0)))).collect();
    let stats = pool.stats();
    assert_eq!(stats.pool_available, 0);
    assert_eq!(stats.requests_waiting, 3);
    drop(waiting);
    pool.putconn(Some(&a.ticket)).finish().await.unwrap();
    pool.putconn(Some(&b.ticket)).finish().await.unwrap();
    assert_eq!(pool.stats().requests_waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn a_leaked_checkout_is_counted_after_the_threshold() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.settings.leak_detection_threshold = secs(5.0);
    let (pool, log) = setup.open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    pool.watch_for_leak(Some(&lease.ticket), "at the test".into()).unwrap();
    tokio::time::sleep(secs(4.9)).await;
    assert_eq!(pool.stats().counters.connections_leaked, 0);
    tokio::time::sleep(secs(0.2)).await;
    assert_eq!(pool.stats().counters.connections_leaked, 1);
    assert!(log.contains("connection leak detection"));
    // A checkout returned in time is not blamed, even if its connection is out again.
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    let again = pool.getconn(None).finish().await.unwrap();
    pool.watch_for_leak(Some(&again.ticket), "again".into()).unwrap();
    tokio::time::sleep(secs(1.0)).await;
    pool.putconn(Some(&again.ticket)).finish().await.unwrap();
    let _next = pool.getconn(None).finish().await.unwrap();
    tokio::time::sleep(secs(10.0)).await;
    assert_eq!(pool.stats().counters.connections_leaked, 1);
}
