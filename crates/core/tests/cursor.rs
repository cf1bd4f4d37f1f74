//! Cursors: a portal read n rows at a time, outside and inside transactions.

mod common;

use std::time::Duration;

use common::{connect, scalar, sqlstate, text_rows};
use pgtide_core::params::FORMAT_TEXT;
use pgtide_core::{Error, Param, TransactionStatus};

const TEN_THOUSAND: &str = "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, $1::int4) g";

#[tokio::test]
async fn reads_ten_thousand_rows_in_batches_of_a_hundred_outside_a_transaction() {
    let conn = connect(true).await;
    let mut cursor = conn.open_cursor(TEN_THOUSAND, &[Param::Text("10000")]).await.unwrap();
    assert!(cursor.fields().iter().all(|f| f.format == FORMAT_TEXT));
    let mut seen = 0usize;
    let mut batches = 0;
    let mut tag = String::new();
    // The read after the last full batch finds the end: no rows, the command tag.
    while !cursor.done() {
        let batch = cursor.read(100).await.unwrap();
        assert!(batch.row_count <= 100);
        batches += 1;
        for row in text_rows(&batch) {
            seen += 1;
            assert_eq!(row[0].as_deref(), Some(seen.to_string().as_str()));
            assert_eq!(row[1], Some(format!("row {seen}")));
        }
        tag = batch.tag;
    }
    assert_eq!(seen, 10_000);
    assert_eq!(batches, 101);
    assert_eq!(tag, "SELECT 0");
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    // Read to the end, the cursor let the connection go; reading more gives nothing.
    assert_eq!(scalar(&conn, "SELECT 'free'").await.as_deref(), Some("free"));
    assert_eq!(cursor.read(100).await.unwrap().row_count, 0);
}

#[tokio::test]
async fn the_last_batch_carries_the_command_tag() {
    let conn = connect(true).await;
    let mut cursor = conn.open_cursor(TEN_THOUSAND, &[Param::Text("5")]).await.unwrap();
    let first = cursor.read(3).await.unwrap();
    assert_eq!((first.row_count, first.tag.as_str()), (3, ""));
    assert!(!cursor.done());
    let last = cursor.read(3).await.unwrap();
    assert_eq!((last.row_count, last.tag.as_str()), (2, "SELECT 2"));
    assert!(cursor.done());
}

#[tokio::test]
async fn inside_a_transaction_and_with_autocommit_off() {
    let conn = connect(false).await;
    conn.query("CREATE TEMP TABLE cur (n int4)", &[]).await.unwrap();
    conn.query("INSERT INTO cur SELECT generate_series(1, 250)", &[])
        .await
        .unwrap();
    let mut cursor = conn.open_cursor("SELECT n FROM cur ORDER BY n", &[]).await.unwrap();
    let mut total = 0;
    while !cursor.done() {
        total += cursor.read(100).await.unwrap().row_count;
    }
    assert_eq!(total, 250);
    // The transaction the first query opened is still open, with the table in it.
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.rollback().await.unwrap();

    // Autocommit off and no transaction yet: the cursor opens one, as a query would.
    let mut cursor = conn.open_cursor("SELECT 1", &[]).await.unwrap();
    assert_eq!(cursor.read(10).await.unwrap().row_count, 1);
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.rollback().await.unwrap();
}

#[tokio::test]
async fn closing_early_frees_the_connection_and_other_requests_wait_for_it() {
    let conn = connect(true).await;
    let mut cursor = conn.open_cursor(TEN_THOUSAND, &[Param::Text("1000")]).await.unwrap();
    assert_eq!(cursor.read(10).await.unwrap().row_count, 10);
    let waiting = {
        let conn = conn.clone();
        tokio::spawn(async move { scalar(&conn, "SELECT 'after the cursor'").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "a request ran while the cursor held the connection"
    );
    assert_eq!(cursor.read(10).await.unwrap().row_count, 10);
    cursor.close().await.unwrap();
    assert!(cursor.done());
    cursor.close().await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.as_deref(), Some("after the cursor"));
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn an_error_midway_ends_the_cursor_and_the_connection_stays_usable() {
    let conn = connect(true).await;
    let mut cursor = conn
        .open_cursor("SELECT 10 / (5 - g) FROM generate_series(1, 10) g", &[])
        .await
        .unwrap();
    let first = cursor.read(2).await.unwrap();
    assert_eq!(text_rows(&first), [[Some("2".to_string())], [Some("3".to_string())]]);
    let err = cursor.read(5).await.unwrap_err();
    assert_eq!(sqlstate(&err), "22012", "{err:?}");
    assert!(cursor.done());
    assert!(!conn.broken());
    assert_eq!(scalar(&conn, "SELECT 'usable'").await.as_deref(), Some("usable"));

    let parse_error = conn.open_cursor("SELEC 1", &[]).await.err().unwrap();
    assert_eq!(sqlstate(&parse_error), "42601");
    let bad_param = conn
        .open_cursor("SELECT $1::int4", &[Param::Text("x")])
        .await
        .err()
        .unwrap();
    assert_eq!(sqlstate(&bad_param), "22P02");
    let mut cursor = conn.open_cursor("SELECT 1", &[]).await.unwrap();
    assert!(matches!(cursor.read(0).await, Err(Error::Programming(_))));
    drop(cursor);
    assert_eq!(scalar(&conn, "SELECT 'usable'").await.as_deref(), Some("usable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_cursor_is_closed_for_the_next_request() {
    let conn = connect(true).await;
    let mut cursor = conn.open_cursor(TEN_THOUSAND, &[Param::Text("1000")]).await.unwrap();
    assert_eq!(cursor.read(10).await.unwrap().row_count, 10);
    drop(cursor);
    assert_eq!(
        scalar(&conn, "SELECT 'after the drop'").await.as_deref(),
        Some("after the drop")
    );
    assert!(!conn.broken());
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn statements_without_rows_complete_at_the_first_read() {
    let conn = connect(true).await;
    conn.exec("CREATE TEMP TABLE w (n int4)").await.unwrap();
    let mut cursor = conn.open_cursor("INSERT INTO w VALUES (1), (2)", &[]).await.unwrap();
    assert!(cursor.fields().is_empty());
    let done = cursor.read(100).await.unwrap();
    assert_eq!((done.row_count, done.tag.as_str()), (0, "INSERT 0 2"));
    assert!(cursor.done());
}
