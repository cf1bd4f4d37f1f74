//! Growing to `max_size` while clients wait, shrinking after `max_idle`, `resize`.

use pgtide_core::Error;

use crate::fake::{eventually, secs, settle, Server, Setup};

#[tokio::test(start_paused = true)]
async fn waiting_clients_grow_the_pool_up_to_max_size_and_no_further() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 3).open(&server).await;
    let mut leases = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..5 {
        pending.push(tokio::spawn(pool.getconn(Some(secs(1.0))).finish()));
    }
    for request in pending {
        if let Ok(lease) = request.await.unwrap() {
            leases.push(lease);
        }
    }
    assert_eq!(leases.len(), 3, "max_size connections served, the rest timed out");
    assert_eq!(pool.stats().pool_size, 3);
    assert_eq!(server.opened_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn growth_opens_one_connection_at_a_time() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 4).open(&server).await;
    server.set_connect_delay(secs(1.0));
    let _held = pool.getconn(None).finish().await.unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| tokio::spawn(pool.getconn(Some(secs(60.0))).finish()))
        .collect();
    tokio::time::sleep(secs(1.5)).await;
    assert_eq!(server.opened_count(), 2, "one growth connection per connect time");
    tokio::time::sleep(secs(1.0)).await;
    assert_eq!(server.opened_count(), 3);
    for waiter in waiters {
        waiter.await.unwrap().unwrap();
    }
    assert_eq!(server.opened_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn no_growth_while_idle_connections_serve_every_client() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 10).open(&server).await;
    for _ in 0..20 {
        let lease = pool.getconn(None).finish().await.unwrap();
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    settle().await;
    assert_eq!(server.opened_count(), 2);
    assert_eq!(pool.stats().counters.requests_queued, 0);
}

#[tokio::test(start_paused = true)]
async fn an_idle_surplus_shrinks_by_one_connection_per_max_idle_window() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 4);
    setup.settings.max_idle = secs(10.0);
    let (pool, log) = setup.open(&server).await;
    let leases: Vec<_> = {
        let pending: Vec<_> = (0..4).map(|_| tokio::spawn(pool.getconn(None).finish())).collect();
        let mut leases = Vec::new();
        for p in pending {
            leases.push(p.await.unwrap().unwrap());
        }
        leases
    };
    for lease in &leases {
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    assert_eq!(pool.stats().pool_size, 4);
    // The first window saw the pool run dry; the next ones shrink it one by one, to min_size.
    eventually(secs(25.0), "shrunk once", || pool.stats().pool_size == 3).await;
    let once = tokio::time::Instant::now();
    eventually(secs(15.0), "shrunk twice", || pool.stats().pool_size == 2).await;
    let between = once.elapsed();
    assert!(between >= secs(9.0) && between <= secs(11.0), "{between:?}");
    eventually(secs(60.0), "down to min_size", || pool.stats().pool_size == 1).await;
    tokio::time::sleep(secs(60.0)).await;
    assert_eq!(pool.stats().pool_size, 1, "never below min_size");
    assert_eq!(pool.stats().pool_available, 1);
    assert!(log.contains("shrinking pool 'policy' to 3"));
}

#[tokio::test(start_paused = true)]
async fn a_pool_in_constant_use_does_not_shrink() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 2);
    setup.settings.max_idle = secs(10.0);
    let (pool, _) = setup.open(&server).await;
    let a = pool.getconn(None).finish().await.unwrap();
    let b = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    pool.putconn(Some(&b.ticket)).finish().await.unwrap();
    // Every few seconds, both connections are out at once: the idle count touches zero.
    for _ in 0..20 {
        let b = pool.getconn(None).finish().await.unwrap();
        tokio::time::sleep(secs(3.0)).await;
        pool.putconn(Some(&b.ticket)).finish().await.unwrap();
    }
    assert_eq!(pool.stats().pool_size, 2);
    pool.putconn(Some(&a.ticket)).finish().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn resize_up_opens_connections_to_the_new_min_size() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 2).open(&server).await;
    pool.resize(4, Some(6)).unwrap();
    eventually(secs(1.0), "filled to 4", || pool.stats().pool_available == 4).await;
    assert_eq!(pool.sizes(), (4, 6));
    assert_eq!(pool.stats().pool_size, 4);
}

#[tokio::test(start_paused = true)]
async fn resize_down_caps_growth_at_the_new_max_size() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 4).open(&server).await;
    pool.resize(1, Some(1)).unwrap();
    let _held = pool.getconn(None).finish().await.unwrap();
    let err = pool.getconn(Some(secs(2.0))).finish().await.err().unwrap();
    assert!(matches!(err, Error::PoolTimeout(_)), "{err:?}");
    assert_eq!(server.opened_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn resize_refuses_min_size_above_max_size() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 4).open(&server).await;
    let err = pool.resize(5, Some(2)).err().unwrap();
    assert!(matches!(err, Error::Value(_)), "{err:?}");
    assert_eq!(pool.sizes(), (1, 4), "unchanged");
}
