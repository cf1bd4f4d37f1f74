//! When connections are replaced: `max_lifetime`, `drain()`, `check()`.

use crate::fake::{eventually, secs, settle, Server, Setup};

#[tokio::test(start_paused = true)]
async fn an_idle_connection_past_max_lifetime_is_replaced_not_served() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.settings.max_lifetime = secs(100.0);
    let (pool, log) = setup.open(&server).await;
    tokio::time::sleep(secs(101.0)).await;
    let lease = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    assert_eq!(lease.conn.pid, 101);
    assert!(server.by_pid(100).is_closed());
    assert!(log.contains("replacing expired or lost idle connection"));
    assert_eq!(pool.stats().counters.connections_lost, 0, "expired is not lost");
}

#[tokio::test(start_paused = true)]
async fn max_lifetime_is_shortened_by_at_most_five_percent_of_jitter() {
    let server = Server::new();
    let mut setup = Setup::regular(20, 20);
    setup.settings.max_lifetime = secs(100.0);
    let (pool, _) = setup.open(&server).await;
    // At 94 s no connection has expired yet...
    tokio::time::sleep(secs(94.0)).await;
    for _ in 0..20 {
        let lease = pool.getconn(None).finish().await.unwrap();
        assert!(lease.conn.pid < 120, "replaced too early");
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    assert_eq!(server.opened_count(), 20);
    // ...at 100 s every one has, and each is replaced when it is next asked for or returned.
    tokio::time::sleep(secs(6.5)).await;
    for _ in 0..20 {
        let lease = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
        assert!(lease.conn.pid >= 120, "served past its lifetime");
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_returned_past_max_lifetime_is_closed_and_replaced() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.settings.max_lifetime = secs(100.0);
    let (pool, log) = setup.open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    tokio::time::sleep(secs(150.0)).await;
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    assert!(lease.conn.is_closed());
    assert!(log.contains("discarding expired connection"));
    eventually(secs(1.0), "replacement idle", || pool.stats().pool_available == 1).await;
    assert_eq!(server.opened_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn drain_replaces_idle_connections_now_and_checked_out_ones_on_return() {
    let server = Server::new();
    let (pool, _) = Setup::regular(3, 3).open(&server).await;
    let out = pool.getconn(None).finish().await.unwrap();
    pool.drain().await;
    for pid in [101, 102] {
        assert!(server.by_pid(pid).is_closed(), "idle {pid} closed by drain");
    }
    assert!(!out.conn.is_closed(), "the client's connection is left alone");
    pool.putconn(Some(&out.ticket)).finish().await.unwrap();
    assert!(out.conn.is_closed(), "closed when it came back");
    eventually(secs(1.0), "three fresh connections", || {
        pool.stats().pool_available == 3
    })
    .await;
    assert_eq!(server.opened_count(), 6);
    assert_eq!(pool.stats().pool_size, 3);
    // The fresh ones, opened after the drain (at the same instant of the paused clock), stay.
    for _ in 0..3 {
        let lease = pool.getconn(None).finish().await.unwrap();
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    settle().await;
    assert_eq!(
        server.opened_count(),
        6,
        "no fresh connection was taken for a drained one"
    );
}

#[tokio::test(start_paused = true)]
async fn check_replaces_broken_idle_connections_and_counts_them_lost() {
    let server = Server::new();
    let (pool, log) = Setup::regular(3, 3).open(&server).await;
    server.by_pid(101).break_it();
    pool.check().await;
    for pid in [100, 102] {
        assert_eq!(server.by_pid(pid).checks.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
    assert_eq!(pool.stats().counters.connections_lost, 1);
    assert!(log.contains("discarding broken connection"));
    eventually(secs(1.0), "replaced", || pool.stats().pool_available == 3).await;
    assert_eq!(server.opened_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn check_discards_expired_idle_connections_without_checking_them() {
    let server = Server::new();
    let mut setup = Setup::regular(2, 2);
    setup.settings.max_lifetime = secs(10.0);
    let (pool, _) = setup.open(&server).await;
    tokio::time::sleep(secs(11.0)).await;
    pool.check().await;
    for pid in [100, 101] {
        let conn = server.by_pid(pid);
        assert!(conn.is_closed());
        assert_eq!(conn.checks.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
    eventually(secs(1.0), "replaced", || pool.stats().pool_available == 2).await;
}

#[tokio::test(start_paused = true)]
async fn check_refills_an_emptied_pool_up_to_min_size_only() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 5).open(&server).await;
    for pid in [100, 101] {
        server.by_pid(pid).break_it();
    }
    pool.check().await;
    settle().await;
    eventually(secs(1.0), "refilled", || pool.stats().pool_available == 2).await;
    tokio::time::sleep(secs(5.0)).await;
    assert_eq!(pool.stats().pool_size, 2);
    assert_eq!(server.opened_count(), 4, "two replacements, no more");
}

#[tokio::test(start_paused = true)]
async fn check_on_a_null_pool_does_nothing() {
    let server = Server::new();
    let (pool, _) = Setup::null(2).open(&server).await;
    let opened = server.opened_count();
    pool.check().await;
    assert_eq!(server.opened_count(), opened);
    assert_eq!(pool.stats().pool_size, 0);
    assert_eq!(server.open_count(), 0, "wait()'s probe connection was closed");
}
