//! `ResultFormats::AllText`: every column in text, as node-postgres receives them, without
//! disturbing the statement cache or the default formats.

mod common;

use common::{connect, connect_with, text_rows};
use pgtide_core::params::{FORMAT_BINARY, FORMAT_TEXT};
use pgtide_core::pool::{Callbacks, PoolKind, Settings, Statement};
use pgtide_core::{ConnInfo, ConnectOptions, Param, Pool, PoolConfig, ResultFormats};

const EVERY_TYPE: &str = "SELECT 42::int4 AS i, true AS b, \
     '2024-01-02 03:04:05.5+00'::timestamptz AS t, '\\x01ff'::bytea AS y, \
     ARRAY[1,2]::int4[] AS a, 'x'::text AS s, NULL::int8 AS n, 1.50::numeric AS d, \
     '{\"k\": 1}'::jsonb AS j, '2024-01-02'::date AS day";

#[tokio::test]
async fn every_column_comes_back_as_text_when_asked() {
    let conn = connect(true).await;
    conn.exec("SET TimeZone = 'UTC'").await.unwrap();
    let result = conn
        .query_with(EVERY_TYPE, &[], None, None, ResultFormats::AllText)
        .await
        .unwrap();
    assert!(result.fields.iter().all(|f| f.format == FORMAT_TEXT));
    let row = &text_rows(&result)[0];
    let expected = [
        Some("42"),
        Some("t"),
        Some("2024-01-02 03:04:05.5+00"),
        Some("\\x01ff"),
        Some("{1,2}"),
        Some("x"),
        None,
        Some("1.50"),
        Some("{\"k\": 1}"),
        Some("2024-01-02"),
    ];
    let row: Vec<Option<&str>> = row.iter().map(Option::as_deref).collect();
    assert_eq!(row, expected);
}

#[tokio::test]
async fn one_cached_statement_serves_both_formats() {
    let conn = connect(true).await;
    let sql = "SELECT $1::int4 + 1 AS n";
    let preferred = conn.query(sql, &[Param::Text("1")]).await.unwrap();
    let text = conn
        .query_with(sql, &[Param::Text("1")], None, None, ResultFormats::AllText)
        .await
        .unwrap();
    let again = conn.query(sql, &[Param::Text("1")]).await.unwrap();
    let text_again = conn
        .query_with(sql, &[Param::Text("1")], None, None, ResultFormats::AllText)
        .await
        .unwrap();

    assert_eq!(preferred.fields[0].format, FORMAT_BINARY);
    assert_eq!(preferred.rows, [0, 0, 0, 4, 0, 0, 0, 2]);
    assert_eq!(again.fields[0].format, FORMAT_BINARY);
    assert_eq!(text.fields[0].format, FORMAT_TEXT);
    assert_eq!(text_rows(&text), [[Some("2".to_string())]]);
    // The statement was prepared once: both formats share its column description, each
    // format's results the same `Arc` (the binding keys its JS column arrays on it).
    assert!(std::sync::Arc::ptr_eq(&preferred.fields, &again.fields));
    assert!(std::sync::Arc::ptr_eq(&text.fields, &text_again.fields));
    assert_eq!(text.fields[0].name, preferred.fields[0].name);
    let prepared = conn
        .query("SELECT count(*)::int4 FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    // `SELECT $1::int4 + 1` and the count itself.
    assert_eq!(prepared.rows, [0, 0, 0, 4, 0, 0, 0, 2]);
}

#[tokio::test]
async fn text_results_work_without_the_statement_cache_and_for_copy() {
    let conn = connect_with(ConnectOptions {
        autocommit: true,
        statement_cache_size: 0,
        ..Default::default()
    })
    .await;
    let result = conn
        .query_with("SELECT 7::int8, 'a'::varchar", &[], None, None, ResultFormats::AllText)
        .await
        .unwrap();
    assert_eq!(text_rows(&result), [[Some("7".to_string()), Some("a".to_string())]]);
    let copy = conn
        .query_with("COPY (SELECT 1) TO STDOUT", &[], None, None, ResultFormats::AllText)
        .await
        .unwrap();
    assert_eq!(copy.fields[0].format, FORMAT_TEXT);
    assert_eq!(text_rows(&copy), [[Some("1\n".to_string())]]);
}

/// A pool of one connection (autocommit off, as pools hand them out by default).
pub fn one_connection_pool() -> Pool {
    let info = ConnInfo::parse(&common::database_url()).unwrap();
    let config = PoolConfig {
        kind: PoolKind::Regular,
        name: "text-results".into(),
        min_size: 1,
        max_size: 1,
        num_workers: 1,
        close_returns: false,
        pipeline_depth: pgtide_core::pool::DEFAULT_PIPELINE_DEPTH,
        idle_order: Default::default(),
        settings: Settings::default(),
    };
    Pool::new(config, Callbacks::fixed(info, ConnectOptions::default()))
}

fn statement(sql: &str, formats: ResultFormats) -> Statement {
    Statement {
        sql: sql.into(),
        params: Vec::new(),
        formats,
        rows: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_passes_the_formats_on() {
    let pool = one_connection_pool();
    pool.open().unwrap();
    let result = pool
        .query(statement("SELECT true", ResultFormats::AllText), None)
        .await
        .unwrap();
    assert_eq!(text_rows(&result), [[Some("t".to_string())]]);
    let preferred = pool
        .query(statement("SELECT true", ResultFormats::Preferred), None)
        .await
        .unwrap();
    assert_eq!(preferred.rows, [0, 0, 0, 1, 1]);
    pool.close(std::time::Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_runs_a_simple_query_and_ends_its_transaction() {
    let pool = one_connection_pool();
    pool.open().unwrap();
    let results = pool.simple_query("SELECT 1; SELECT 'two'", None).await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(text_rows(&results[1]), [[Some("two".to_string())]]);
    let lease = pool.getconn(None).finish().await.unwrap();
    // The pool committed what its autocommit-off connection opened.
    assert_eq!(lease.conn.transaction_status(), pgtide_core::TransactionStatus::Idle);
    pool.putconn(Some(&lease.ticket)).finish().await.unwrap();
    pool.close(std::time::Duration::from_secs(5)).await;
}
