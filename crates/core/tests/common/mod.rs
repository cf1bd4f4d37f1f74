//! Helpers shared by the suites that run against `DATABASE_URL`.
#![allow(dead_code)]

use std::sync::Arc;

use pgtide_core::{ConnInfo, ConnectOptions, Connection, Error, QueryResult};

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL must point at a PostgreSQL server (npm test sets it)")
}

pub async fn connect_with(options: ConnectOptions) -> Arc<Connection> {
    let info = ConnInfo::parse(&database_url()).unwrap();
    Connection::connect(&info, options).await.unwrap()
}

pub async fn connect(autocommit: bool) -> Arc<Connection> {
    connect_with(ConnectOptions {
        autocommit,
        ..Default::default()
    })
    .await
}

/// The text values of a result, row by row (NULL as None). Only for text-format columns.
pub fn text_rows(result: &QueryResult) -> Vec<Vec<Option<String>>> {
    let columns = result.fields.len();
    let mut rows = Vec::new();
    let mut at = 0;
    let bytes = &result.rows;
    while at < bytes.len() {
        let mut row = Vec::new();
        for _ in 0..columns {
            let len = i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
            at += 4;
            if len < 0 {
                row.push(None);
            } else {
                row.push(Some(String::from_utf8(bytes[at..at + len as usize].to_vec()).unwrap()));
                at += len as usize;
            }
        }
        rows.push(row);
    }
    rows
}

/// The single text value of a one-row, one-column result.
pub async fn scalar(conn: &Connection, sql: &str) -> Option<String> {
    let result = conn.query(sql, &[]).await.unwrap();
    text_rows(&result)
        .into_iter()
        .next()
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
}

pub fn sqlstate(error: &Error) -> &str {
    error.sqlstate().unwrap_or("")
}
