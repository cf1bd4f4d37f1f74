//! Helpers shared by the suites that run against `DATABASE_URL`.
#![allow(dead_code)]

pub mod stand_in;

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

/// Every value of a result as raw bytes, row after row (NULL as None).
pub fn raw_values(result: &QueryResult) -> Vec<Option<Vec<u8>>> {
    let bytes = &result.rows;
    let mut values = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        at += 4;
        if len < 0 {
            values.push(None);
        } else {
            values.push(Some(bytes[at..at + len as usize].to_vec()));
            at += len as usize;
        }
    }
    values
}

/// The text values of a result, row by row (NULL as None). Only for text-format columns.
pub fn text_rows(result: &QueryResult) -> Vec<Vec<Option<String>>> {
    let text = |value: Option<Vec<u8>>| value.map(|bytes| String::from_utf8(bytes).unwrap());
    let values: Vec<Option<String>> = raw_values(result).into_iter().map(text).collect();
    values.chunks(result.fields.len().max(1)).map(<[_]>::to_vec).collect()
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
