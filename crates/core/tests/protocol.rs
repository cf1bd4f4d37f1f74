//! The protocol's corners against a real server: lost connections, COPY, empty queries, command
//! tags, aborting a request, and the statement cache.

mod common;

use std::time::{Duration, Instant};

use common::{connect, connect_with, scalar, sqlstate, text_rows};
use pgtide_core::{AbortHandle, ConnectOptions, Error, Param, TransactionStatus};

#[tokio::test]
async fn a_terminated_backend_is_a_broken_connection() {
    let conn = connect(true).await;
    let killer = connect(true).await;
    let pid = conn.backend_pid().to_string();
    killer
        .query("SELECT pg_terminate_backend($1::int4)", &[Param::Text(&pid)])
        .await
        .unwrap();
    let err = conn.query("SELECT 1", &[]).await.unwrap_err();
    // Either the server's goodbye (57P01, FATAL) or the end of the stream: both "lost".
    assert!(
        sqlstate(&err) == "57P01" || matches!(err, Error::Operational(_)),
        "{err:?}"
    );
    assert!(conn.broken());
    assert_eq!(conn.transaction_status(), TransactionStatus::Unknown);
    assert!(matches!(conn.query("SELECT 1", &[]).await, Err(Error::Operational(_))));
    conn.close().await;
    assert!(matches!(conn.query("SELECT 1", &[]).await, Err(Error::Interface(_))));
}

#[tokio::test]
async fn copy_to_stdout_returns_its_lines_and_copy_from_stdin_is_refused() {
    let conn = connect(true).await;
    let result = conn
        .query(
            "COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT (FORMAT csv)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(result.command_and_count(), ("COPY", Some(3)));
    assert_eq!(result.fields.len(), 1);
    assert_eq!(result.fields[0].name, "copy");
    let lines: Vec<String> = text_rows(&result).into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(lines, ["1,x1\n", "2,x2\n", "3,x3\n"]);

    let binary = conn
        .query("COPY (SELECT 1) TO STDOUT (FORMAT binary)", &[])
        .await
        .unwrap_err();
    assert!(matches!(binary, Error::Programming(_)), "{binary:?}");

    conn.exec("CREATE TEMP TABLE c (x int4)").await.unwrap();
    let refused = conn.query("COPY c FROM STDIN", &[]).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Programming(m) if m.contains("FROM STDIN")),
        "{refused:?}"
    );
    let refused = conn.exec("SELECT 1; COPY c FROM STDIN; SELECT 2").await.unwrap_err();
    assert!(matches!(refused, Error::Programming(_)));
    conn.exec("COPY (SELECT 1) TO STDOUT").await.unwrap();
    assert_eq!(
        scalar(&conn, "SELECT 'still in step'").await.as_deref(),
        Some("still in step")
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn an_empty_query_has_no_command_and_no_rows() {
    let conn = connect(false).await;
    let result = conn.query("", &[]).await.unwrap();
    assert_eq!(result.command_and_count(), ("", None));
    assert_eq!(result.row_count, 0);
    conn.exec("").await.unwrap();
    assert_eq!(scalar(&conn, "SELECT 'ok'").await.as_deref(), Some("ok"));
}

#[tokio::test]
async fn command_tags_give_the_command_and_the_row_count() {
    let conn = connect(true).await;
    let tag = |sql: &'static str| {
        let conn = conn.clone();
        async move {
            let result = conn.query(sql, &[]).await.unwrap();
            let (command, count) = result.command_and_count();
            (command.to_string(), count)
        }
    };
    assert_eq!(
        tag("CREATE TEMP TABLE m (k int4 PRIMARY KEY, v text)").await,
        ("CREATE".into(), None)
    );
    assert_eq!(
        tag("INSERT INTO m VALUES (1, 'a'), (2, 'b'), (3, 'c')").await,
        ("INSERT".into(), Some(3))
    );
    assert_eq!(
        tag("UPDATE m SET v = v || '!' WHERE k > 1").await,
        ("UPDATE".into(), Some(2))
    );
    assert_eq!(tag("SELECT * FROM m").await, ("SELECT".into(), Some(3)));
    assert_eq!(
        tag("MERGE INTO m USING (VALUES (3), (4)) s(k) ON m.k = s.k WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.k, 'new')").await,
        ("MERGE".into(), Some(2))
    );
    assert_eq!(tag("DELETE FROM m").await, ("DELETE".into(), Some(3)));
    assert_eq!(tag("COPY m TO STDOUT").await, ("COPY".into(), Some(0)));
    assert_eq!(tag("DROP TABLE m").await, ("DROP".into(), None));
}

#[tokio::test]
async fn an_abort_cancels_the_running_query_on_the_server() {
    let conn = connect(false).await;
    let abort = AbortHandle::new();
    let running = {
        let (conn, abort) = (conn.clone(), abort.clone());
        tokio::spawn(async move { conn.query_abortable("SELECT pg_sleep(30)", &[], &abort).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(conn.transaction_status(), TransactionStatus::Active);
    let started = Instant::now();
    conn.abort(&abort).await.unwrap();
    let err = running.await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(conn.transaction_status(), TransactionStatus::InError);
    conn.rollback().await.unwrap();
    assert_eq!(scalar(&conn, "SELECT 'usable'").await.as_deref(), Some("usable"));
}

#[tokio::test]
async fn an_abort_before_the_start_sends_nothing() {
    let conn = connect(true).await;
    conn.exec("CREATE TEMP TABLE a (x int4)").await.unwrap();
    let abort = AbortHandle::new();
    conn.abort(&abort).await.unwrap();
    let err = conn
        .query_abortable("INSERT INTO a VALUES (1)", &[], &abort)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Aborted(_)), "{err:?}");
    assert_eq!(
        scalar(&conn, "SELECT count(*)::text FROM a").await.as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn an_abort_racing_completion_never_cancels_the_next_statement() {
    let conn = connect(true).await;
    for round in 0..40u64 {
        let abort = AbortHandle::new();
        let query = {
            let (conn, abort) = (conn.clone(), abort.clone());
            tokio::spawn(async move { conn.query_abortable("SELECT pg_sleep(0.01)", &[], &abort).await })
        };
        // Abort around the moment the query finishes: before, during or just after.
        tokio::time::sleep(Duration::from_micros(2_000 + round * 300)).await;
        let aborting = {
            let (conn, abort) = (conn.clone(), abort.clone());
            tokio::spawn(async move { conn.abort(&abort).await })
        };
        let _ = query.await.unwrap();
        let next = conn.query("SELECT pg_sleep(0.02)", &[]).await;
        assert!(next.is_ok(), "round {round}: the next statement was hit: {next:?}");
        aborting.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_repeated_statement_is_prepared_once() {
    let conn = connect(true).await;
    let sql = "SELECT $1::int4 + 1 AS n";
    for n in 0..3 {
        conn.query(sql, &[Param::Number(n as f64)]).await.unwrap();
    }
    let prepared = conn
        .query(
            "SELECT name, prepare_time::text FROM pg_prepared_statements WHERE statement = $1",
            &[Param::Text(sql)],
        )
        .await
        .unwrap();
    let rows = text_rows(&prepared);
    assert_eq!(rows.len(), 1, "one named statement: {rows:?}");
    assert!(rows[0][0].as_deref().unwrap().starts_with("_pgtide_"));
}

#[tokio::test]
async fn the_cache_evicts_and_closes_past_its_size() {
    let conn = connect_with(ConnectOptions {
        autocommit: true,
        statement_cache_size: 3,
        ..Default::default()
    })
    .await;
    for n in 0..6 {
        conn.query(&format!("SELECT {n} AS n"), &[]).await.unwrap();
    }
    // The count query itself is one of the three.
    let count = scalar(&conn, "SELECT count(*)::text FROM pg_prepared_statements").await;
    assert_eq!(count.as_deref(), Some("3"));
}

#[tokio::test]
async fn size_zero_sends_no_named_statement() {
    let conn = connect_with(ConnectOptions {
        autocommit: true,
        statement_cache_size: 0,
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        conn.query("SELECT $1::text AS t", &[Param::Text("x")]).await.unwrap();
    }
    let count = scalar(&conn, "SELECT count(*)::text FROM pg_prepared_statements").await;
    assert_eq!(count.as_deref(), Some("0"));
}

#[tokio::test]
async fn a_statement_invalidated_by_alter_table_is_prepared_again() {
    for autocommit in [true, false] {
        let conn = connect(autocommit).await;
        conn.exec("CREATE TEMP TABLE inv (a int4)").await.unwrap();
        conn.exec("INSERT INTO inv VALUES (1)").await.unwrap();
        conn.commit().await.unwrap();
        assert_eq!(conn.query("SELECT * FROM inv", &[]).await.unwrap().fields.len(), 1);
        conn.exec("ALTER TABLE inv ADD COLUMN b text").await.unwrap();
        conn.commit().await.unwrap();
        // Outside a transaction (or in the one this very query opens): transparent.
        let again = conn.query("SELECT * FROM inv", &[]).await.unwrap();
        assert_eq!(again.fields.len(), 2, "autocommit {autocommit}");
        conn.commit().await.unwrap();
    }
}

#[tokio::test]
async fn inside_a_transaction_an_invalidated_statement_raises_and_is_evicted() {
    let conn = connect(false).await;
    conn.exec("CREATE TEMP TABLE inv (a int4)").await.unwrap();
    conn.query("SELECT * FROM inv", &[]).await.unwrap();
    conn.exec("ALTER TABLE inv ADD COLUMN b text").await.unwrap();
    // Same transaction, which has done work: retrying is not ours to decide.
    let err = conn.query("SELECT * FROM inv", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "0A000", "{err:?}");
    conn.rollback().await.unwrap();
    // Evicted: its Close rode with the next request.
    let left = scalar(
        &conn,
        "SELECT count(*)::text FROM pg_prepared_statements WHERE statement = 'SELECT * FROM inv'",
    )
    .await;
    assert_eq!(left.as_deref(), Some("0"));
}

#[tokio::test]
async fn statements_dropped_by_discard_or_deallocate_are_prepared_again() {
    let conn = connect(true).await;
    let sql = "SELECT $1::int4 AS n";
    conn.query(sql, &[Param::Number(1.0)]).await.unwrap();
    conn.query("DISCARD ALL", &[]).await.unwrap();
    conn.query(sql, &[Param::Number(2.0)]).await.unwrap();
    conn.exec("DEALLOCATE ALL").await.unwrap();
    conn.query(sql, &[Param::Number(3.0)]).await.unwrap();
    // DEALLOCATE of one statement by name: not seen by the tag, caught at the next Bind.
    let name = scalar(
        &conn,
        "SELECT name FROM pg_prepared_statements WHERE statement = 'SELECT $1::int4 AS n'",
    )
    .await
    .unwrap();
    conn.exec(&format!("DEALLOCATE {name}")).await.unwrap();
    let result = conn.query(sql, &[Param::Number(4.0)]).await.unwrap();
    assert_eq!(result.row_count, 1);
    // With autocommit off, the stale statement fails in the transaction this query opens:
    // rolled back and retried.
    let conn = connect(false).await;
    conn.query(sql, &[Param::Number(1.0)]).await.unwrap();
    conn.commit().await.unwrap();
    conn.exec("DEALLOCATE ALL").await.unwrap();
    conn.commit().await.unwrap();
    conn.query(sql, &[Param::Number(5.0)]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
}
