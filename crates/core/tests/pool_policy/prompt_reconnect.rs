//! Reconnecting promptly while clients wait (pgtide's difference from psycopg_pool): a queued
//! client calls a backing-off chain early, one chain probes every `PROMPT_RETRY` while clients
//! wait, and one success sends every chain at once.

use pgtide_core::pool::PROMPT_RETRY;
use pgtide_core::Error;
use tokio::time::Instant;

use crate::fake::{eventually, secs, Server, Setup};

/// A pool of `size` whose server has been down for 20 s: every chain is backing off, its next
/// attempt about 16 s away (attempts at 0, 1, 3, 7, 15 s, the next at 31 s).
async fn down_for_20_seconds(size: usize) -> (std::sync::Arc<Server>, pgtide_core::pool::Pool<crate::fake::Fake>) {
    let server = Server::new();
    server.set_down(true);
    let (pool, _) = Setup::regular(size, size).build_with(&server, |_| {});
    pool.open().unwrap();
    tokio::time::sleep(secs(20.0)).await;
    assert_eq!(server.attempt_count(), 5 * size, "each chain's backoff schedule so far");
    (server, pool)
}

fn attempts_since(server: &Server, since: Instant) -> usize {
    server
        .attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|&&at| at >= since)
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_client_arriving_after_the_server_is_back_is_served_at_once() {
    let (server, pool) = down_for_20_seconds(1).await;
    server.set_down(false);
    let asked = Instant::now();
    let lease = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    // psycopg_pool would serve it at the chain's next step, 11 s later (past this timeout).
    assert!(asked.elapsed() < secs(0.01), "served after {:?}", asked.elapsed());
    assert_eq!(lease.conn.pid, 100);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_client_is_served_within_prompt_retry_of_the_server_coming_back() {
    let (server, pool) = down_for_20_seconds(1).await;
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.getconn(Some(secs(30.0)))
                .finish()
                .await
                .map(|_lease| Instant::now())
        }
    });
    tokio::time::sleep(secs(3.3)).await;
    server.set_down(false);
    let back = Instant::now();
    let served_at = waiting.await.unwrap().unwrap();
    let after = served_at - back;
    assert!(
        after <= PROMPT_RETRY + secs(0.01),
        "served {after:?} after the server came back"
    );
}

#[tokio::test(start_paused = true)]
async fn while_clients_wait_one_chain_probes_every_prompt_retry() {
    let (server, pool) = down_for_20_seconds(4).await;
    let since = Instant::now();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.getconn(Some(secs(2.0))).finish().await.err() })
        })
        .collect();
    for client in clients {
        let err = client.await.unwrap().expect("a timeout: the server is down");
        assert!(matches!(err, Error::Caused { .. } | Error::PoolTimeout(_)), "{err:?}");
    }
    // One attempt at once, then one every 250 ms for 2 s: 9, from one chain (four chains
    // probing would make 36; the backoff alone, none before 31 s).
    let made = attempts_since(&server, since);
    assert!((8..=10).contains(&made), "{made} attempts while clients waited");
}

#[tokio::test(start_paused = true)]
async fn probing_stops_when_no_client_waits() {
    let (server, pool) = down_for_20_seconds(2).await;
    let err = pool.getconn(Some(secs(1.0))).finish().await.err();
    assert!(err.is_some());
    // The probe already scheduled when the client left still runs...
    tokio::time::sleep(PROMPT_RETRY).await;
    let after = Instant::now();
    // ...and then no attempt until the chains' next backoff steps (31 s and later).
    tokio::time::sleep(secs(5.0)).await;
    assert_eq!(attempts_since(&server, after), 0, "back on the backoff schedule");
}

#[tokio::test(start_paused = true)]
async fn one_success_sends_every_backing_off_chain_at_once() {
    let (server, pool) = down_for_20_seconds(4).await;
    server.set_down(false);
    let _lease = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    let served = Instant::now();
    eventually(secs(0.05), "the other three chains reconnected", || {
        server.open_count() == 4
    })
    .await;
    assert!(served.elapsed() < secs(0.05));
    assert_eq!(pool.stats().pool_size, 4);
}
