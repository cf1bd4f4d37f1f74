//! The null pool: no idle connections, a connection per client, hand-offs to waiters.

use std::sync::atomic::Ordering;

use pgtide_core::pool::PoolConnection;
use pgtide_core::{Error, TransactionStatus};

use crate::fake::{secs, Server, Setup};

#[tokio::test(start_paused = true)]
async fn each_client_gets_a_fresh_connection_closed_when_returned() {
    let server = Server::new();
    let (pool, _) = Setup::null(4).open(&server).await;
    let probe = server.opened_count();
    let a = pool.getconn(None).finish().await.unwrap();
    pool.putconn(Some(&a.ticket)).finish().await.unwrap();
    assert!(a.conn.is_closed());
    let b = pool.getconn(None).finish().await.unwrap();
    assert_ne!(a.conn.pid, b.conn.pid);
    assert_eq!(server.opened_count(), probe + 2);
    pool.putconn(Some(&b.ticket)).finish().await.unwrap();
    let stats = pool.stats();
    assert_eq!((stats.pool_size, stats.pool_available), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_returned_connection_goes_to_a_waiter_instead_of_closing() {
    let server = Server::new();
    let (pool, _) = Setup::null(1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    let waiting = pool.getconn(Some(secs(5.0)));
    held.conn.set_status(TransactionStatus::InTrans);
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    let lease = waiting.finish().await.unwrap();
    assert_eq!(lease.conn.pid, held.conn.pid);
    assert!(!lease.conn.is_closed());
    assert_eq!(
        lease.conn.rollbacks.load(Ordering::SeqCst),
        1,
        "rolled back before the hand-off"
    );
    assert_eq!(lease.conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test(start_paused = true)]
async fn max_size_caps_the_connections_open_at_once() {
    let server = Server::new();
    let (pool, _) = Setup::null(2).open(&server).await;
    let probe = server.opened_count();
    let _a = pool.getconn(None).finish().await.unwrap();
    let _b = pool.getconn(None).finish().await.unwrap();
    let err = pool.getconn(Some(secs(1.0))).finish().await.err().unwrap();
    assert!(matches!(err, Error::PoolTimeout(_)), "{err:?}");
    assert_eq!(server.opened_count(), probe + 2);
    assert_eq!(pool.stats().pool_size, 2);
}

#[tokio::test(start_paused = true)]
async fn wait_proves_it_can_connect_with_one_connection_it_closes() {
    let server = Server::new();
    let (pool, _) = Setup::null(2).open(&server).await;
    assert_eq!(server.opened_count(), 1);
    assert_eq!(server.open_count(), 0);
    assert_eq!(pool.stats().pool_size, 0);
}

#[tokio::test(start_paused = true)]
async fn a_broken_connection_returned_counts_bad_and_frees_its_slot() {
    let server = Server::new();
    let (pool, _) = Setup::null(1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.break_it();
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    let stats = pool.stats();
    assert_eq!(stats.counters.returns_bad, 1);
    assert_eq!(stats.pool_size, 0);
    pool.getconn(Some(secs(1.0))).finish().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn resize_changes_the_sizes_but_opens_nothing() {
    let server = Server::new();
    let (pool, _) = Setup::null(2).open(&server).await;
    let opened = server.opened_count();
    pool.resize(0, Some(5)).unwrap();
    tokio::time::sleep(secs(1.0)).await;
    assert_eq!(pool.sizes(), (0, 5));
    assert_eq!(server.opened_count(), opened);
    let err = pool.resize(1, Some(5)).err().unwrap();
    assert!(err.to_string().contains("null pools must have minSize = 0"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_connect_frees_the_slot() {
    let server = Server::new();
    let (pool, _) = Setup::null(1).open(&server).await;
    server.set_down(true);
    let err = pool.getconn(Some(secs(5.0))).finish().await.err().unwrap();
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert_eq!(pool.stats().pool_size, 0);
    server.set_down(false);
    pool.getconn(Some(secs(5.0))).finish().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_slow_connect_is_cut_at_the_request_timeout() {
    let server = Server::new();
    let (pool, _) = Setup::null(1).open(&server).await;
    server.set_connect_delay(secs(10.0));
    let started = tokio::time::Instant::now();
    let err = pool.getconn(Some(secs(2.0))).finish().await.err().unwrap();
    assert!(matches!(err, Error::PoolTimeout(_)), "{err:?}");
    assert!(started.elapsed() >= secs(2.0) && started.elapsed() < secs(2.1));
    assert_eq!(pool.stats().pool_size, 0, "the slot is free again");
}
