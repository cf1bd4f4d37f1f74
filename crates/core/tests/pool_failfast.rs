//! A pool that cannot connect says why: failures no retry fixes fail waiting clients at once
//! (with the server's SQLSTATE as code), others time out with the pool's state and the last
//! failure as cause. Against `DATABASE_URL` (trust authentication: an unknown database is
//! refused with 3D000) and a port nobody listens on.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgtide_core::pool::{Callbacks, PoolConfig, PoolKind, Settings};
use pgtide_core::{ConnInfo, ConnectOptions, Error, Pool};

fn pool_on(conninfo: &str, min: usize, max: usize) -> Pool {
    let callbacks = Callbacks::fixed(ConnInfo::parse(conninfo).unwrap(), ConnectOptions::default());
    Pool::new(config("failfast", min, max), callbacks)
}

fn config(name: &str, min: usize, max: usize) -> PoolConfig {
    PoolConfig {
        kind: PoolKind::Regular,
        name: name.into(),
        min_size: min,
        max_size: max,
        num_workers: 2,
        close_returns: false,
        pipeline_depth: pgtide_core::pool::DEFAULT_PIPELINE_DEPTH,
        idle_order: Default::default(),
        settings: Settings::default(),
    }
}

/// The same server and user as `DATABASE_URL`, another database.
fn with_database(dbname: &str) -> String {
    let mut url = url_without_query(&common::database_url());
    let slash = url.rfind('/').expect("a database in DATABASE_URL");
    url.truncate(slash + 1);
    format!("{url}{dbname}?sslmode=disable")
}

fn url_without_query(url: &str) -> String {
    url.split('?').next().unwrap().to_string()
}

async fn dead_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_database_fails_getconn_at_once_with_its_sqlstate() {
    let pool = pool_on(&with_database("pgtide_no_such_database"), 1, 2);
    pool.open().unwrap();
    // A request queued before the first attempt failed, then one after it.
    for _ in 0..2 {
        let started = Instant::now();
        let err = pool
            .getconn(Some(Duration::from_secs(10)))
            .finish()
            .await
            .err()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(err.connect_code(), Some("3D000"), "{err:?}");
        assert!(err.retry_cannot_fix());
        assert!(err.to_string().contains("pgtide_no_such_database"), "{err}");
    }
    let stats = pool.stats();
    assert!(stats.counters.connections_errors >= 1);
    assert_eq!(stats.counters.requests_errors, 2);
    pool.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_times_out_with_the_state_and_the_cause() {
    let port = dead_port().await;
    let pool = pool_on(&format!("postgres://nobody@127.0.0.1:{port}/x"), 1, 1);
    pool.open().unwrap();
    let started = Instant::now();
    let err = pool
        .getconn(Some(Duration::from_millis(300)))
        .finish()
        .await
        .err()
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(290));
    let Error::Caused { error, cause } = &err else {
        panic!("a PoolTimeout with its cause expected: {err:?}")
    };
    let Error::PoolTimeout(message) = error.as_ref() else {
        panic!("{err:?}")
    };
    assert!(
        message.starts_with(
            "couldn't get a connection after 0.30 sec (pool 'failfast': size 1, idle 0, in use 0, waiting 0); last connection error: "
        ),
        "{message}"
    );
    assert_eq!(cause.connect_code(), Some("ECONNREFUSED"), "{cause:?}");
    assert!(!cause.retry_cannot_fix());
    assert_eq!(err.class_name(), "PoolTimeout");
    pool.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_with_a_connection_keeps_its_clients_waiting_for_it() {
    // The first connection works; every later attempt asks for a database that does not exist.
    let good = ConnInfo::parse(&common::database_url()).unwrap();
    let bad = ConnInfo::parse(&with_database("pgtide_no_such_database")).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut callbacks = Callbacks::fixed(good.clone(), ConnectOptions::default());
    callbacks.connect_params = Arc::new(move || {
        let info = if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            good.clone()
        } else {
            bad.clone()
        };
        Box::pin(async move { Ok((info, ConnectOptions::default())) })
    });
    let pool = Pool::new(config("failfast", 1, 2), callbacks);
    pool.open().unwrap();
    pool.wait(Duration::from_secs(5)).await.unwrap();
    let held = pool.getconn(None).finish().await.unwrap();
    // This one waits: growth fails for good, but the held connection will come back.
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.getconn(Some(Duration::from_secs(5))).finish().await }
    });
    while pool.stats().counters.connections_errors == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiting.is_finished(),
        "the waiting client failed while a connection was in use"
    );
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    let served = waiting.await.unwrap().unwrap();
    pool.putconn(Some(&served.ticket)).finish().await.unwrap();
    pool.close(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_times_out_with_the_state_and_the_cause() {
    let port = dead_port().await;
    let pool = pool_on(&format!("postgres://nobody@127.0.0.1:{port}/x"), 1, 1);
    pool.open().unwrap();
    let err = pool.wait(Duration::from_millis(300)).await.err().unwrap();
    let message = err.to_string();
    assert!(
        message.starts_with("pool initialization incomplete after 0.3 sec (pool 'failfast': size 1, idle 0"),
        "{message}"
    );
    assert!(message.contains("; last connection error: "), "{message}");
    assert_eq!(err.itself().class_name(), "PoolTimeout");
    let Error::Caused { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(cause.connect_code(), Some("ECONNREFUSED"));
}
