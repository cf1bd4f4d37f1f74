//! Opening, waiting for, configuring and closing a pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pgtide_core::{Error, TransactionStatus};
use tokio::time::Instant;

use crate::fake::{eventually, secs, settle, Fake, Server, Setup};

#[tokio::test(start_paused = true)]
async fn a_pool_not_open_yet_refuses_getconn() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).build_with(&server, |_| {});
    let err = pool.getconn(None).finish().await.err().unwrap();
    assert!(matches!(err, Error::PoolClosed(_)), "{err:?}");
    assert!(err.to_string().contains("not open yet"), "{err}");
    assert_eq!(server.attempt_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn open_fills_the_pool_to_min_size() {
    let server = Server::new();
    let (pool, _) = Setup::regular(4, 8).open(&server).await;
    let stats = pool.stats();
    assert_eq!((stats.pool_size, stats.pool_available), (4, 4));
    assert_eq!(server.opened_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_closed_pool_refuses_getconn_and_cannot_reopen() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    pool.close(secs(5.0)).await;
    assert!(pool.closed());
    let err = pool.getconn(None).finish().await.err().unwrap();
    assert!(err.to_string().contains("is already closed"), "{err}");
    let reopened = pool.open().err().unwrap();
    assert!(matches!(reopened, Error::PoolClosed(_)), "{reopened:?}");
}

#[tokio::test(start_paused = true)]
async fn close_fails_the_waiters_with_pool_closed_and_closes_idle_connections() {
    let server = Server::new();
    let (pool, _) = Setup::regular(2, 2).open(&server).await;
    let a = pool.getconn(None).finish().await.unwrap();
    let idle_pid = {
        let b = pool.getconn(None).finish().await.unwrap();
        let pid = b.conn.pid;
        pool.putconn(Some(&b.ticket)).finish().await.unwrap();
        pid
    };
    let c = pool.getconn(None).finish().await.unwrap();
    let waiter = tokio::spawn(pool.getconn(Some(secs(60.0))).finish());
    settle().await;
    pool.close(secs(5.0)).await;
    let err = waiter.await.unwrap().err().unwrap();
    assert!(matches!(err, Error::PoolClosed(_)), "{err:?}");
    assert_eq!(idle_pid, c.conn.pid, "round robin handed out the idle one");
    assert!(
        !a.conn.is_closed(),
        "a client's connection is left alone until it comes back"
    );
    // What comes back after the close is closed.
    pool.putconn(Some(&a.ticket)).finish().await.unwrap();
    assert!(a.conn.is_closed());
}

#[tokio::test(start_paused = true)]
async fn close_closes_the_idle_connections() {
    let server = Server::new();
    let (pool, _) = Setup::regular(3, 3).open(&server).await;
    assert_eq!(server.open_count(), 3);
    pool.close(secs(5.0)).await;
    assert_eq!(server.open_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn wait_times_out_with_pool_timeout_and_closes_the_pool() {
    let server = Server::new();
    server.set_down(true);
    let (pool, _) = Setup::regular(2, 2).build_with(&server, |_| {});
    pool.open().unwrap();
    let started = Instant::now();
    let err = pool.wait(secs(3.0)).await.err().unwrap();
    assert!(started.elapsed() >= secs(3.0) && started.elapsed() < secs(3.5));
    assert!(matches!(err.itself(), Error::PoolTimeout(_)), "{err:?}");
    assert!(
        err.to_string().contains("pool initialization incomplete after 3.0 sec"),
        "{err}"
    );
    assert!(err.to_string().contains("last connection error"), "{err}");
    assert!(pool.closed());
}

#[tokio::test(start_paused = true)]
async fn configure_runs_once_on_every_new_connection() {
    let server = Server::new();
    let configured = Arc::new(AtomicUsize::new(0));
    let (pool, _) = Setup::regular(3, 3)
        .open_with(&server, |callbacks| {
            let configured = configured.clone();
            callbacks.configure = Some(Arc::new(move |_| {
                configured.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(()) })
            }));
        })
        .await;
    for _ in 0..6 {
        let lease = pool.getconn(None).finish().await.unwrap();
        pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    }
    assert_eq!(configured.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_connection_configure_leaves_in_a_transaction_is_discarded() {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1).build_with(&server, |callbacks| {
        callbacks.configure = Some(Arc::new(|conn: Arc<Fake>| {
            Box::pin(async move {
                if conn.pid == 100 {
                    conn.set_status(TransactionStatus::InTrans);
                }
                Ok(())
            })
        }));
    });
    pool.open().unwrap();
    // The first attempt is discarded; the reconnection (after about a second) succeeds.
    pool.wait(secs(10.0)).await.unwrap();
    assert!(server.by_pid(100).is_closed());
    assert!(log.contains("connection left in status INTRANS by configure function"));
    let lease = pool.getconn(None).finish().await.unwrap();
    assert_eq!(lease.conn.pid, 101);
}

#[tokio::test(start_paused = true)]
async fn sync_pools_defer_configure_to_the_first_hand_out() {
    let server = Server::new();
    let configured = Arc::new(AtomicUsize::new(0));
    let (pool, _) = Setup::regular(2, 2)
        .open_with(&server, |callbacks| {
            callbacks.hooks_inline = true;
            let configured = configured.clone();
            callbacks.configure = Some(Arc::new(move |_| {
                configured.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(()) })
            }));
        })
        .await;
    assert_eq!(configured.load(Ordering::SeqCst), 0, "no hook runs on a worker");
    let lease = pool.getconn(None).finish().await.unwrap();
    assert_eq!(configured.load(Ordering::SeqCst), 1);
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    let again = pool.getconn(None).finish().await.unwrap();
    pool.putconn(Some(&again.ticket)).finish().await.unwrap();
    let third = pool.getconn(None).finish().await.unwrap();
    assert_eq!(third.conn.pid, lease.conn.pid);
    eventually(secs(1.0), "each configured once", || {
        configured.load(Ordering::SeqCst) == 2
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn parameters_that_cannot_be_asked_for_now_are_the_latest_given() {
    // A sync pool's conninfo function, seen from the engine: sometimes it can be called (the
    // JS thread), sometimes not (a reconnection on the runtime's threads).
    let (first, second) = (Server::new(), Server::new());
    let answer: Arc<std::sync::Mutex<Option<Arc<Server>>>> = Default::default();
    let params = pgtide_core::pool::remembered_params::<Fake>(first.clone(), {
        let answer = answer.clone();
        move || answer.lock().unwrap().clone().map(Ok)
    });
    let (pool, _) = Setup::regular(0, 3).build_with(&first, |callbacks| callbacks.connect_params = params);
    pool.open().unwrap();
    let _a = pool.getconn(Some(secs(1.0))).finish().await.unwrap();
    assert_eq!(first.opened_count(), 1, "the parameters given when the pool was made");
    *answer.lock().unwrap() = Some(second.clone());
    let _b = pool.getconn(Some(secs(1.0))).finish().await.unwrap();
    assert_eq!(second.opened_count(), 1, "fresh ones when it can be asked");
    *answer.lock().unwrap() = None;
    let _c = pool.getconn(Some(secs(1.0))).finish().await.unwrap();
    assert_eq!(
        (first.opened_count(), second.opened_count()),
        (1, 2),
        "then the latest again"
    );
}
