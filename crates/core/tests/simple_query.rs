//! `simple_query`: node-postgres's way to run a query without parameters: one Query message,
//! any number of statements, one result each, every value in text.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{connect, scalar, sqlstate, text_rows};
use pgtide_core::params::FORMAT_TEXT;
use pgtide_core::{AbortHandle, Error, Notification, NotificationListener, QueryResult, TransactionStatus};

fn texts(result: &QueryResult) -> Vec<Vec<Option<String>>> {
    text_rows(result)
}

#[tokio::test]
async fn a_script_returns_one_result_per_statement() {
    let conn = connect(true).await;
    let results = conn
        .simple_query(
            "CREATE TEMP TABLE s (n int4); SELECT g AS n, g::text || 'x' AS t FROM generate_series(1, 3) g; INSERT INTO s VALUES (1), (2)",
            None,
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].tag, "CREATE TABLE");
    assert!(results[0].fields.is_empty());
    assert_eq!(results[0].row_count, 0);

    assert_eq!(results[1].tag, "SELECT 3");
    assert_eq!(results[1].row_count, 3);
    let names: Vec<&str> = results[1].fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["n", "t"]);
    assert!(results[1].fields.iter().all(|f| f.format == FORMAT_TEXT));
    assert_eq!(results[1].fields[0].type_oid, 23);
    assert_eq!(
        texts(&results[1]),
        [
            [Some("1".to_string()), Some("1x".to_string())],
            [Some("2".to_string()), Some("2x".to_string())],
            [Some("3".to_string()), Some("3x".to_string())],
        ]
    );

    assert_eq!(results[2].tag, "INSERT 0 2");
    assert_eq!(results[2].command_and_count(), ("INSERT", Some(2)));
}

#[tokio::test]
async fn values_are_text_of_every_common_type() {
    let conn = connect(true).await;
    let results = conn
        .simple_query(
            "SET TimeZone = 'UTC'; SELECT 42::int4, true, '2024-01-02 03:04:05+00'::timestamptz, '\\x00ff'::bytea, ARRAY[1,2], NULL::text",
            None,
        )
        .await
        .unwrap();
    assert_eq!(results[0].tag, "SET");
    let row: Vec<Option<String>> = texts(&results[1]).remove(0);
    let row: Vec<Option<&str>> = row.iter().map(Option::as_deref).collect();
    assert_eq!(
        row,
        [
            Some("42"),
            Some("t"),
            Some("2024-01-02 03:04:05+00"),
            Some("\\x00ff"),
            Some("{1,2}"),
            None
        ]
    );
}

#[tokio::test]
async fn an_error_in_the_second_statement_rolls_the_script_back_and_the_connection_stays_usable() {
    let conn = connect(true).await;
    conn.exec("CREATE TEMP TABLE e (n int4)").await.unwrap();
    let err = conn
        .simple_query("INSERT INTO e VALUES (1); SELECT 1/0; INSERT INTO e VALUES (2)", None)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22012", "{err:?}");
    assert!(matches!(&err, Error::Database(db) if db.message.contains("division by zero")));
    assert!(!conn.broken());
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    // The implicit transaction of the script took the first INSERT with it.
    assert_eq!(
        scalar(&conn, "SELECT count(*)::text FROM e").await.as_deref(),
        Some("0")
    );
    let after = conn.simple_query("SELECT 'still here'", None).await.unwrap();
    assert_eq!(texts(&after[0]), [[Some("still here".to_string())]]);
}

#[tokio::test]
async fn an_empty_query_gives_one_empty_result() {
    let conn = connect(true).await;
    for sql in ["", "  ", ";"] {
        let results = conn.simple_query(sql, None).await.unwrap();
        assert_eq!(results.len(), 1, "{sql:?}");
        assert_eq!(results[0].tag, "");
        assert!(results[0].fields.is_empty());
        assert_eq!(results[0].row_count, 0);
    }
}

#[tokio::test]
async fn begin_in_a_script_leaves_the_transaction_open() {
    let conn = connect(true).await;
    let results = conn.simple_query("BEGIN; SELECT 1", None).await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].tag, "BEGIN");
    assert!(results[0].fields.is_empty());
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    let failed = conn.simple_query("SELECT 1/0", None).await.unwrap_err();
    assert_eq!(sqlstate(&failed), "22012");
    assert_eq!(conn.transaction_status(), TransactionStatus::InError);
    conn.simple_query("ROLLBACK", None).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn with_autocommit_off_the_script_runs_in_a_transaction_the_caller_ends() {
    let conn = connect(false).await;
    let results = conn.simple_query("SELECT 1; SELECT 2", None).await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.rollback().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

struct Collect(Arc<Mutex<Vec<Notification>>>);

impl NotificationListener for Collect {
    fn notification(&self, notification: Notification) {
        self.0.lock().unwrap().push(notification);
    }
    fn ended(&self) {}
}

#[tokio::test]
async fn listen_and_notify_in_a_script_deliver_the_notification() {
    let conn = connect(true).await;
    let seen: Arc<Mutex<Vec<Notification>>> = Arc::default();
    conn.listen(Some(Arc::new(Collect(seen.clone()))));
    let notices: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = notices.clone();
    conn.set_notice_handler(Some(Arc::new(move |n| sink.lock().unwrap().push(n.message))));
    let results = conn
        .simple_query(
            "LISTEN simple_q; NOTIFY simple_q, 'hello'; DO $$ BEGIN RAISE NOTICE 'noted'; END $$",
            None,
        )
        .await
        .unwrap();
    let tags: Vec<&str> = results.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(tags, ["LISTEN", "NOTIFY", "DO"]);
    assert!(results.iter().all(|r| r.fields.is_empty()));
    assert_eq!(notices.lock().unwrap().as_slice(), ["noted"]);
    // The notification follows the transaction's commit, within this exchange.
    for _ in 0..100 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].channel, "simple_q");
    assert_eq!(seen[0].payload, "hello");
    conn.listen(None);
}

#[tokio::test]
async fn copy_in_a_script_returns_its_lines_and_copy_from_stdin_is_refused() {
    let conn = connect(true).await;
    let results = conn
        .simple_query(
            "COPY (SELECT g FROM generate_series(1, 2) g) TO STDOUT; SELECT 'after'",
            None,
        )
        .await
        .unwrap();
    assert_eq!(results[0].tag, "COPY 2");
    assert_eq!(
        texts(&results[0]),
        [[Some("1\n".to_string())], [Some("2\n".to_string())]]
    );
    assert_eq!(texts(&results[1]), [[Some("after".to_string())]]);

    conn.exec("CREATE TEMP TABLE ci (n int4)").await.unwrap();
    let refused = conn.simple_query("COPY ci FROM STDIN", None).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Programming(m) if m.contains("FROM STDIN")),
        "{refused:?}"
    );
    assert_eq!(scalar(&conn, "SELECT 'usable'").await.as_deref(), Some("usable"));
}

#[tokio::test]
async fn an_aborted_simple_query_is_cancelled_on_the_server() {
    let conn = connect(true).await;
    let abort = AbortHandle::new();
    let running = {
        let conn = conn.clone();
        let abort = abort.clone();
        tokio::spawn(async move { conn.simple_query("SELECT pg_sleep(30)", Some(&abort)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.abort(&abort).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the cancel did not stop the query")
        .unwrap()
        .unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    assert_eq!(scalar(&conn, "SELECT 'usable'").await.as_deref(), Some("usable"));
}

#[tokio::test]
async fn statements_cached_before_a_discard_all_in_a_script_are_prepared_again() {
    let conn = connect(true).await;
    assert_eq!(scalar(&conn, "SELECT 'cached'").await.as_deref(), Some("cached"));
    conn.simple_query("DISCARD ALL", None).await.unwrap();
    assert_eq!(scalar(&conn, "SELECT 'cached'").await.as_deref(), Some("cached"));
}
