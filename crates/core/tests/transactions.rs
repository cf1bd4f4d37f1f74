//! Transaction blocks and the server's transaction status, against a real server.

mod common;

use common::{connect, scalar};
use pgtide_core::{Error, TransactionStatus};

#[tokio::test]
async fn a_block_commits_and_nested_blocks_are_savepoints() {
    let conn = connect(true).await;
    conn.exec("CREATE TEMP TABLE t (x int4)").await.unwrap();
    conn.enter_transaction().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.exec("INSERT INTO t VALUES (1)").await.unwrap();
    conn.enter_transaction().await.unwrap();
    conn.exec("INSERT INTO t VALUES (2)").await.unwrap();
    conn.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(conn.transaction_status(), TransactionStatus::InError);
    conn.exit_transaction(false).await.unwrap(); // back to the savepoint: 2 is gone
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.exit_transaction(true).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(
        scalar(&conn, "SELECT string_agg(x::text, ',') FROM t").await.as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn an_outermost_block_inside_an_open_transaction_leaves_it_open() {
    let conn = connect(false).await;
    conn.exec("CREATE TEMP TABLE t (x int4)").await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.enter_transaction().await.unwrap();
    conn.exec("INSERT INTO t VALUES (1)").await.unwrap();
    conn.exit_transaction(false).await.unwrap();
    assert_eq!(
        conn.transaction_status(),
        TransactionStatus::InTrans,
        "the outer transaction stays open"
    );
    assert_eq!(
        scalar(&conn, "SELECT count(*)::text FROM t").await.as_deref(),
        Some("0")
    );
    conn.commit().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn commit_rollback_and_autocommit_are_refused_inside_a_block() {
    let conn = connect(false).await;
    conn.enter_transaction().await.unwrap();
    assert!(matches!(conn.commit().await, Err(Error::Programming(_))));
    assert!(matches!(conn.rollback().await, Err(Error::Programming(_))));
    assert!(matches!(conn.set_autocommit(true), Err(Error::Programming(_))));
    conn.exit_transaction(true).await.unwrap();
    assert_eq!(conn.transaction_depth(), 0);
    conn.set_autocommit(true).unwrap();
}

#[tokio::test]
async fn a_failed_enter_opens_no_block() {
    let conn = connect(false).await;
    conn.query("SELECT 1/0", &[]).await.unwrap_err();
    // A SAVEPOINT in a failed transaction is refused by the server.
    assert_eq!(conn.enter_transaction().await.unwrap_err().sqlstate(), Some("25P02"));
    assert_eq!(conn.transaction_depth(), 0);
    conn.rollback().await.unwrap();
}

#[tokio::test]
async fn the_status_follows_transaction_sql_sent_as_text() {
    let conn = connect(true).await;
    conn.query("BEGIN", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.query("SAVEPOINT s", &[]).await.unwrap();
    conn.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(conn.transaction_status(), TransactionStatus::InError);
    conn.query("ROLLBACK TO SAVEPOINT s", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.query("COMMIT", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    conn.exec("BEGIN").await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.exec("ROLLBACK").await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}
