//! Waiting for a connection: FIFO order, hand-off on return, timeouts, `max_waiting`.

use std::sync::{Arc, Mutex};

use pgtide_core::pool::{IdleOrder, Outcome, Pool};
use pgtide_core::Error;
use tokio::time::Instant;

use crate::fake::{eventually, secs, settle, Fake, Server, Setup};

/// Queues `n` requests in call order; each records its index when served, then returns the
/// connection after `hold`.
fn queue_clients(pool: &Pool<Fake>, n: usize, served: &Arc<Mutex<Vec<usize>>>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let getconn = pool.getconn(Some(secs(60.0)));
            let (pool, served) = (pool.clone(), served.clone());
            tokio::spawn(async move {
                let lease = getconn.finish().await.unwrap();
                served.lock().unwrap().push(i);
                tokio::time::sleep(secs(0.01)).await;
                pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
            })
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_the_order_they_asked() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    let served = Arc::new(Mutex::new(Vec::new()));
    let clients = queue_clients(&pool, 5, &served);
    settle().await;
    assert!(
        served.lock().unwrap().is_empty(),
        "nobody is served while the only connection is out"
    );
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(*served.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_returned_connection_goes_straight_to_the_first_waiter() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    let waiting = pool.getconn(Some(secs(10.0)));
    assert_eq!(pool.stats().requests_waiting, 1);
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    // Handed over under the return: it never sat idle.
    assert_eq!(pool.stats().pool_available, 0);
    assert_eq!(pool.stats().requests_waiting, 0);
    let lease = waiting.finish().await.unwrap();
    assert_eq!(lease.conn.pid, held.conn.pid);
    assert_eq!(server.opened_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn idle_connections_are_used_round_robin() {
    let server = Server::new();
    let (pool, _) = Setup::regular(3, 3).open(&server).await;
    let mut pids = Vec::new();
    for _ in 0..6 {
        let lease = pool.getconn(None).finish().await.unwrap();
        pids.push(lease.conn.pid);
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    assert_eq!(pids[0..3], pids[3..6], "{pids:?}");
    assert_ne!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
}

#[tokio::test(start_paused = true)]
async fn idle_order_lifo_lends_the_connection_returned_last() {
    let server = Server::new();
    let setup = Setup {
        idle_order: IdleOrder::Lifo,
        ..Setup::regular(3, 3)
    };
    let (pool, _) = setup.open(&server).await;
    let mut pids = Vec::new();
    for _ in 0..4 {
        let lease = pool.getconn(None).finish().await.unwrap();
        pids.push(lease.conn.pid);
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    assert!(
        pids.iter().all(|pid| *pid == pids[0]),
        "one warm connection does the work: {pids:?}"
    );
    let a = pool.getconn(None).finish().await.unwrap();
    let b = pool.getconn(None).finish().await.unwrap();
    let (a_pid, b_pid) = (a.conn.pid, b.conn.pid);
    pool.putconn(Some(&a.ticket)).finish().await.unwrap();
    pool.putconn(Some(&b.ticket)).finish().await.unwrap();
    assert_eq!(pool.getconn(None).finish().await.unwrap().conn.pid, b_pid);
    assert_ne!(a_pid, b_pid);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_times_out_after_its_timeout_with_pool_timeout() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let _held = pool.getconn(None).finish().await.unwrap();
    let started = Instant::now();
    let err = pool.getconn(Some(secs(2.5))).finish().await.err().unwrap();
    let waited = started.elapsed();
    assert!(matches!(err, Error::PoolTimeout(_)), "{err:?}");
    assert!(
        err.to_string().contains("couldn't get a connection after 2.50 sec"),
        "{err}"
    );
    assert!(waited >= secs(2.5) && waited < secs(2.6), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn the_pool_timeout_setting_applies_when_getconn_gives_none() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.settings.timeout = secs(4.0);
    let (pool, _) = setup.open(&server).await;
    let _held = pool.getconn(None).finish().await.unwrap();
    let started = Instant::now();
    assert!(pool.getconn(None).finish().await.is_err());
    let waited = started.elapsed();
    assert!(waited >= secs(4.0) && waited < secs(4.1), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_waiter_leaves_the_queue_and_takes_nothing() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    assert!(pool.getconn(Some(secs(1.0))).finish().await.is_err());
    assert_eq!(pool.stats().requests_waiting, 0);
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    assert_eq!(
        pool.stats().pool_available,
        1,
        "the connection came back to the idle deque"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_request_leaves_the_queue_and_the_next_one_is_served() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    let dropped = pool.getconn(Some(secs(10.0)));
    let next = pool.getconn(Some(secs(10.0)));
    assert_eq!(pool.stats().requests_waiting, 2);
    drop(dropped);
    assert_eq!(pool.stats().requests_waiting, 1);
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    let lease = next.finish().await.unwrap();
    assert_eq!(lease.conn.pid, held.conn.pid);
}

#[tokio::test(start_paused = true)]
async fn max_waiting_refuses_the_request_past_the_limit() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.settings.max_waiting = 2;
    let (pool, _) = setup.open(&server).await;
    let _held = pool.getconn(None).finish().await.unwrap();
    let _first = pool.getconn(Some(secs(10.0)));
    let _second = pool.getconn(Some(secs(10.0)));
    let third = pool.getconn(Some(secs(10.0)));
    let Outcome::Now(Err(err)) = third else {
        panic!("the third waiter must be refused at once")
    };
    assert!(matches!(err, Error::TooManyRequests(_)), "{err:?}");
    assert!(err.to_string().contains("has already 2 requests waiting"), "{err}");
    assert_eq!(pool.stats().requests_waiting, 2);
    assert_eq!(pool.stats().counters.requests_errors, 1);
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_handed_out_without_a_future() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 2).open(&server).await;
    assert!(matches!(pool.getconn(None), Outcome::Now(Ok(_))));
    let (pool_checked, _) = Setup::regular(1, 1)
        .open_with(&server, |callbacks| {
            callbacks.check = Some(Arc::new(|_| Box::pin(async { Ok(()) })));
        })
        .await;
    // With a check to run, the hand-out is a future.
    assert!(matches!(pool_checked.getconn(None), Outcome::Later(_)));
}

/// A `check` that fails on the connection with pid `failing`, breaking it first if `breaks`
/// (as a real check's query does when the connection is lost).
fn failing_check(failing: i32, breaks: bool) -> pgtide_core::pool::ConnectionHook<Fake> {
    Arc::new(move |conn: Arc<Fake>| {
        Box::pin(async move {
            if conn.pid != failing {
                return Ok(());
            }
            if breaks {
                conn.break_it();
            }
            Err(Error::operational("check failed"))
        })
    })
}

#[tokio::test(start_paused = true)]
async fn a_connection_found_broken_by_check_is_replaced_and_another_served() {
    let server = Server::new();
    let (pool, log) = Setup::regular(2, 2)
        .open_with(&server, |callbacks| callbacks.check = Some(failing_check(100, true)))
        .await;
    let lease = pool.getconn(Some(secs(10.0))).finish().await.unwrap();
    assert_eq!(lease.conn.pid, 101);
    assert!(log.contains("connection failed check: check failed"));
    assert!(log.contains("not serving connection found broken"));
    assert_eq!(pool.stats().counters.connections_lost, 1);
    eventually(secs(5.0), "its replacement opened", || server.opened_count() == 3).await;
    assert!(server.by_pid(100).is_closed());
}

#[tokio::test(start_paused = true)]
async fn a_connection_failing_check_but_still_idle_goes_back_to_the_pool() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 2)
        .open_with(&server, |callbacks| callbacks.check = Some(failing_check(100, false)))
        .await;
    let lease = pool.getconn(Some(secs(10.0))).finish().await.unwrap();
    assert_eq!(lease.conn.pid, 101);
    assert!(!server.by_pid(100).is_closed());
    assert_eq!(pool.stats().pool_available, 1, "100 is idle again");
    assert_eq!(server.opened_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_whose_session_ended_is_replaced_not_served() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    server.by_pid(100).end_session();
    let lease = pool.getconn(Some(secs(10.0))).finish().await.unwrap();
    assert_ne!(lease.conn.pid, 100);
    assert!(server.by_pid(100).is_closed());
    assert_eq!(pool.stats().counters.connections_lost, 1);
}
