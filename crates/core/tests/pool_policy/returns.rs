//! Giving a connection back: by transaction status, the `reset` hook, `finish_use`, tickets.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pgtide_core::pool::{Outcome, PoolConnection};
use pgtide_core::{Error, TransactionStatus};

use crate::fake::{eventually, secs, Fake, Server, Setup};

#[tokio::test(start_paused = true)]
async fn an_idle_connection_goes_back_at_once_without_a_rollback() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    assert!(matches!(pool.putconn(Some(&lease.ticket)), Outcome::Now(Ok(()))));
    assert_eq!(lease.conn.rollbacks.load(Ordering::SeqCst), 0);
    assert_eq!(pool.stats().pool_available, 1);
}

async fn returned_in(status: TransactionStatus) -> (Arc<Fake>, crate::fake::Log, pgtide_core::pool::Stats) {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.set_status(status);
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    let back = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    assert_eq!(back.conn.transaction_status(), TransactionStatus::Idle);
    (back.conn.clone(), log, pool.stats())
}

#[tokio::test(start_paused = true)]
async fn a_connection_left_in_a_transaction_is_rolled_back_and_kept() {
    let (conn, log, stats) = returned_in(TransactionStatus::InTrans).await;
    assert_eq!(conn.pid, 100, "the same connection, kept");
    assert_eq!(conn.rollbacks.load(Ordering::SeqCst), 1);
    assert!(log.contains("rolling back returned connection: <connection [INTRANS] backend_pid=100"));
    assert_eq!(stats.counters.returns_bad, 0);
}

#[tokio::test(start_paused = true)]
async fn a_connection_left_in_a_failed_transaction_is_rolled_back_and_kept() {
    let (conn, log, _) = returned_in(TransactionStatus::InError).await;
    assert_eq!(conn.pid, 100);
    assert_eq!(conn.rollbacks.load(Ordering::SeqCst), 1);
    assert!(log.contains("[INERROR]"));
}

#[tokio::test(start_paused = true)]
async fn a_connection_returned_mid_request_is_closed_and_replaced() {
    let (conn, log, _) = returned_in(TransactionStatus::Active).await;
    assert_eq!(conn.pid, 101, "a replacement");
    assert!(log.contains("closing returned connection: <connection [ACTIVE]"));
}

#[tokio::test(start_paused = true)]
async fn a_broken_connection_is_discarded_replaced_and_counted_bad() {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.break_it();
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    assert_eq!(pool.stats().counters.returns_bad, 1);
    assert!(log.contains("discarding closed connection: <connection [BAD]"));
    let next = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    assert_eq!(next.conn.pid, 101);
    assert_eq!(pool.stats().pool_size, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollback_discards_the_connection() {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1).open(&server).await;
    server.rollback_fails.store(true, Ordering::SeqCst);
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.set_status(TransactionStatus::InTrans);
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    assert!(lease.conn.is_closed());
    assert!(log.contains("rollback failed"));
    let next = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    assert_eq!(next.conn.pid, 101);
}

#[tokio::test(start_paused = true)]
async fn reset_runs_on_every_return_and_a_failing_reset_discards() {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1)
        .open_with(&server, |callbacks| {
            callbacks.reset = Some(Arc::new(|conn: Arc<Fake>| {
                Box::pin(async move {
                    conn.commits.fetch_add(1, Ordering::SeqCst); // counts the resets
                    if conn.pid == 100 && conn.commits.load(Ordering::SeqCst) == 2 {
                        return Err(Error::operational("reset failed"));
                    }
                    Ok(())
                })
            }));
        })
        .await;
    let lease = pool.getconn(None).finish().await.unwrap();
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    eventually(secs(1.0), "back after its reset", || pool.stats().pool_available == 1).await;
    assert!(!lease.conn.is_closed());
    let again = pool.getconn(None).finish().await.unwrap();
    assert_eq!(again.conn.pid, 100);
    pool.putconn(Some(&again.ticket)).finish().await.unwrap();
    eventually(secs(1.0), "discarded", || lease.conn.is_closed()).await;
    assert!(log.contains("error resetting connection"));
    let third = pool.getconn(Some(secs(5.0))).finish().await.unwrap();
    assert_eq!(third.conn.pid, 101);
}

#[tokio::test(start_paused = true)]
async fn a_reset_that_leaves_a_transaction_open_discards_the_connection() {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1)
        .open_with(&server, |callbacks| {
            callbacks.reset = Some(Arc::new(|conn: Arc<Fake>| {
                conn.set_status(TransactionStatus::InTrans);
                Box::pin(async { Ok(()) })
            }));
        })
        .await;
    let lease = pool.getconn(None).finish().await.unwrap();
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    eventually(secs(1.0), "discarded", || lease.conn.is_closed()).await;
    assert!(log.contains("connection left in status INTRANS by reset function"));
}

#[tokio::test(start_paused = true)]
async fn finish_use_commits_on_success_and_rolls_back_on_failure() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.set_status(TransactionStatus::InTrans);
    pool.finish_use(Some(&lease.ticket), true).finish().await.unwrap();
    assert_eq!(lease.conn.commits.load(Ordering::SeqCst), 1);
    assert_eq!(lease.conn.rollbacks.load(Ordering::SeqCst), 0);
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.conn.set_status(TransactionStatus::InTrans);
    pool.finish_use(Some(&lease.ticket), false).finish().await.unwrap();
    assert_eq!(lease.conn.commits.load(Ordering::SeqCst), 1);
    assert_eq!(lease.conn.rollbacks.load(Ordering::SeqCst), 1);
    assert_eq!(pool.stats().pool_available, 1);
}

#[tokio::test(start_paused = true)]
async fn finish_use_counts_the_usage_time() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    tokio::time::sleep(secs(1.25)).await;
    pool.finish_use(Some(&lease.ticket), true).finish().await.unwrap();
    assert_eq!(pool.stats().counters.usage_ms, 1250);
}

#[tokio::test(start_paused = true)]
async fn putconn_refuses_a_connection_of_no_pool_another_pool_or_returned_twice() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let (other, _) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    let none = pool.putconn(None).finish().await.err().unwrap();
    assert!(none.to_string().contains("it doesn't come from any pool"), "{none}");
    let foreign = other.putconn(Some(&lease.ticket)).finish().await.err().unwrap();
    assert!(foreign.to_string().contains("it comes from pool 'policy'"), "{foreign}");
    let watched = other.watch_for_leak(Some(&lease.ticket), String::new()).err().unwrap();
    assert!(watched.to_string().contains("it comes from pool 'policy'"), "{watched}");
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    let twice = pool.putconn(Some(&lease.ticket)).finish().await.err().unwrap();
    assert!(matches!(twice, Error::Interface(_)), "{twice:?}");
    assert!(twice.to_string().contains("returned already"), "{twice}");
}

#[tokio::test(start_paused = true)]
async fn a_ticket_holds_its_connection_only_until_it_is_returned() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let first = pool.getconn(None).finish().await.unwrap();
    assert!(first.ticket.check().is_ok());
    pool.putconn(Some(&first.ticket)).finish().await.unwrap();
    let err = first.ticket.check().err().unwrap();
    assert!(err.to_string().contains("was returned to pool 'policy'"), "{err}");
    let second = pool.getconn(None).finish().await.unwrap();
    assert_eq!(second.conn.pid, first.conn.pid);
    assert!(second.ticket.check().is_ok());
    assert!(
        first.ticket.check().is_err(),
        "the old ticket stays refused while another client holds it"
    );
    // Nor can the old ticket reclaim it from its new client.
    first.ticket.reclaim();
    assert!(second.ticket.check().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_ticket_handed_over_to_a_waiter_holds_at_once() {
    let server = Server::new();
    let (pool, _) = Setup::regular(1, 1).open(&server).await;
    let held = pool.getconn(None).finish().await.unwrap();
    let waiting = pool.getconn(Some(secs(5.0)));
    pool.putconn(Some(&held.ticket)).finish().await.unwrap();
    let lease = waiting.finish().await.unwrap();
    assert!(lease.ticket.check().is_ok());
    assert!(held.ticket.check().is_err());
}

#[tokio::test(start_paused = true)]
async fn close_returns_gives_the_connection_back_instead_of_closing_it() {
    let server = Server::new();
    let mut setup = Setup::regular(1, 1);
    setup.close_returns = true;
    let (pool, _) = setup.open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    let returned = lease.ticket.close_or_return().expect("returned, not closed");
    returned.finish().await.unwrap();
    assert_eq!(pool.stats().pool_available, 1);
    assert!(!lease.conn.is_closed());
    // A stale ticket returns nothing: the caller closes its own connection object.
    assert!(lease.ticket.close_or_return().is_none());
    // Without closeReturns the caller closes.
    let (plain, _) = Setup::regular(1, 1).open(&server).await;
    let lease = plain.getconn(None).finish().await.unwrap();
    assert!(lease.ticket.close_or_return().is_none());
    assert_eq!(plain.stats().pool_available, 0, "still checked out");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_checkout_is_reclaimed_with_a_warning() {
    let server = Server::new();
    let (pool, log) = Setup::regular(1, 1).open(&server).await;
    let lease = pool.getconn(None).finish().await.unwrap();
    lease.ticket.reclaim();
    assert_eq!(pool.stats().pool_available, 1);
    assert!(log.contains("was dropped without being returned"));
    assert!(lease.ticket.check().is_err());
}
