//! The pool engine's algorithms, driven from Rust against a real server (`DATABASE_URL`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgtide_core::pool::{Callbacks, Level, PoolConfig, PoolKind, Settings};
use pgtide_core::{ConnInfo, ConnectOptions, Error, Pool};

type Records = Arc<Mutex<Vec<(Instant, Level, String)>>>;

fn pool_with(
    conninfo: &str,
    min: usize,
    max: usize,
    settings: Settings,
    tweak: impl FnOnce(&mut Callbacks),
) -> (Pool, Records) {
    let records: Records = Arc::default();
    let mut callbacks = Callbacks::fixed(ConnInfo::parse(conninfo).unwrap(), ConnectOptions::default());
    let sink = records.clone();
    callbacks.logger = Some(Arc::new(move |level, message| {
        sink.lock().unwrap().push((Instant::now(), level, message))
    }));
    callbacks.log_level = Level::Info;
    tweak(&mut callbacks);
    let config = PoolConfig {
        kind: PoolKind::Regular,
        name: "test-pool".into(),
        min_size: min,
        max_size: max,
        num_workers: 3,
        close_returns: false,
        pipeline_depth: pgtide_core::pool::DEFAULT_PIPELINE_DEPTH,
        idle_order: Default::default(),
        settings,
    };
    (Pool::new(config, callbacks), records)
}

fn pool(min: usize, max: usize) -> (Pool, Records) {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at a PostgreSQL server (npm test sets it)");
    pool_with(&url, min, max, Settings::default(), |_| {})
}

fn warnings(records: &Records) -> Vec<String> {
    records
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.1 == Level::Warning)
        .map(|r| r.2.clone())
        .collect()
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_and_serves_round_robin() {
    let (pool, _) = pool(3, 3);
    pool.open().unwrap();
    pool.wait(10 * SECOND).await.unwrap();
    let mut pids = Vec::new();
    for _ in 0..6 {
        let lease = pool.getconn(None).finish().await.unwrap();
        pids.push(lease.conn.backend_pid());
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    assert_eq!(pids[0..3], pids[3..6], "idle connections are used in turn: {pids:?}");
    let stats = pool.stats();
    assert_eq!(
        (stats.pool_size, stats.pool_available, stats.counters.requests_num),
        (3, 3, 6)
    );
    pool.close(SECOND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_waiter_leaves_the_queue_and_loses_nothing() {
    let (pool, _) = pool(1, 1);
    pool.open().unwrap();
    let held = pool.getconn(None).finish().await.unwrap();
    let err = pool
        .getconn(Some(Duration::from_millis(100)))
        .finish()
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::PoolTimeout(ref m)
            if m == "couldn't get a connection after 0.10 sec (pool 'test-pool': size 1, idle 0, in use 1, waiting 0)"),
        "{err:?}"
    );
    assert_eq!(pool.stats().requests_waiting, 0);
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    assert_eq!(pool.stats().pool_available, 1);
    pool.close(SECOND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_waiter_never_takes_a_connection_with_it() {
    let (pool, _) = pool(1, 1);
    pool.open().unwrap();
    let held = pool.getconn(None).finish().await.unwrap();
    // The caller gives up on its own (its future is dropped), while the pool would wait longer.
    let abandoned = tokio::time::timeout(Duration::from_millis(100), pool.getconn(Some(10 * SECOND)).finish()).await;
    assert!(abandoned.is_err());
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    let stats = pool.stats();
    assert_eq!((stats.pool_available, stats.requests_waiting), (1, 0));
    pool.close(SECOND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_when_the_queue_is_full() {
    let url = std::env::var("DATABASE_URL").unwrap();
    let settings = Settings {
        max_waiting: 1,
        ..Settings::default()
    };
    let (pool, _) = pool_with(&url, 1, 1, settings, |_| {});
    pool.open().unwrap();
    let held = pool.getconn(None).finish().await.unwrap();
    let queued = tokio::spawn({
        let pool = pool.clone();
        async move { pool.getconn(Some(5 * SECOND)).finish().await }
    });
    while pool.stats().requests_waiting == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = pool.getconn(None).finish().await.err().unwrap();
    assert_eq!(err.to_string(), "the pool 'test-pool' has already 1 requests waiting");
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    let served = queued.await.unwrap().unwrap();
    assert_eq!(
        served.conn.backend_pid(),
        held.conn.backend_pid(),
        "handed straight to the waiter"
    );
    pool.putconn(Some(&served.ticket)).finish().await.unwrap();
    pool.close(SECOND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_returned_in_a_transaction_is_rolled_back() {
    let (pool, records) = pool(1, 1);
    pool.open().unwrap();
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.query("SELECT 1", &[]).await.unwrap();
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    let warnings = warnings(&records);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("rolling back returned connection: <connection [INTRANS]"),
        "{warnings:?}"
    );
    let again = pool.getconn(None).finish().await.unwrap();
    assert_eq!(again.conn.backend_pid(), lease.conn.backend_pid());
    pool.putconn(Some(&again.ticket)).finish().await.unwrap();
    pool.close(SECOND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_the_waiting_clients() {
    let (pool, _) = pool(1, 1);
    pool.open().unwrap();
    let held = pool.getconn(None).finish().await.unwrap();
    let queued = tokio::spawn({
        let pool = pool.clone();
        async move { pool.getconn(Some(10 * SECOND)).finish().await }
    });
    while pool.stats().requests_waiting == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pool.close(SECOND).await;
    let err = queued.await.unwrap().err().unwrap();
    assert!(
        matches!(err, Error::PoolClosed(ref m) if m == "the pool 'test-pool' is closed"),
        "{err:?}"
    );
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    assert!(held.conn.closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnection_backs_off_then_gives_up() {
    let failed: Arc<Mutex<Option<Instant>>> = Arc::default();
    let settings = Settings {
        reconnect_timeout: Duration::from_millis(2500),
        ..Settings::default()
    };
    let (pool, records) = pool_with("postgres://nobody@127.0.0.1:1/x", 1, 1, settings, |callbacks| {
        let failed = failed.clone();
        callbacks.reconnect_failed = Some(Arc::new(move || {
            *failed.lock().unwrap() = Some(Instant::now());
            Box::pin(async {})
        }));
    });
    let started = Instant::now();
    pool.open().unwrap();
    while failed.lock().unwrap().is_none() {
        assert!(started.elapsed() < 10 * SECOND, "reconnect_failed was never called");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts: Vec<f64> = records
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.2.starts_with("error connecting in 'test-pool'"))
        .map(|r| (r.0 - started).as_secs_f64())
        .collect();
    // Attempts at 0, about 1 s (±10% jitter), then clipped to the 2.5 s budget.
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(attempts[0] < 0.3, "{attempts:?}");
    assert!((0.85..1.5).contains(&attempts[1]), "{attempts:?}");
    assert!((2.4..3.2).contains(&attempts[2]), "{attempts:?}");
    assert!(warnings(&records)
        .iter()
        .any(|w| w == "reconnection attempt in pool 'test-pool' failed after 2.5 sec"));
    assert_eq!(pool.stats().pool_size, 0);
    pool.close(SECOND).await;
}
