//! The connection against a real server: `DATABASE_URL` (the test runner starts a throwaway
//! server when the caller has none).

mod common;

use common::{connect, raw_values};
use pgtide_core::{ConnInfo, ConnectOptions, Connection, Error, Param, TransactionStatus};

#[tokio::test]
async fn query_with_parameters_and_nulls() {
    let conn = connect(true).await;
    assert!(conn.backend_pid() > 0);
    let result = conn
        .query(
            "SELECT $1::int4 AS n, $2::text AS t, $3::text AS missing",
            &[Param::Number(7.0), Param::Text("hi"), Param::Null],
        )
        .await
        .unwrap();
    assert_eq!(result.command_and_count(), ("SELECT", Some(1)));
    assert_eq!(
        result.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["n", "t", "missing"]
    );
    let row = raw_values(&result);
    assert_eq!(row[0].as_deref(), Some(&7i32.to_be_bytes()[..]));
    assert_eq!(row[1].as_deref(), Some(&b"hi"[..]));
    assert_eq!(row[2], None);
}

#[tokio::test]
async fn syntax_error_leaves_the_connection_usable() {
    let conn = connect(true).await;
    let err = conn.query("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some("42601"));
    let ok = conn.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(ok.row_count, 1);
}

#[tokio::test]
async fn autocommit_off_opens_a_transaction_and_tracks_the_server_status() {
    let conn = connect(false).await;
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    conn.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    conn.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(conn.transaction_status(), TransactionStatus::InError);
    conn.rollback().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert!(matches!(conn.set_autocommit(true), Ok(())));
    conn.exec("BEGIN; SELECT 1").await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTrans);
    assert!(matches!(conn.set_autocommit(false), Err(Error::Programming(_))));
    conn.exec("COMMIT").await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn a_parameter_that_does_not_fit_is_named_and_harmless() {
    let conn = connect(true).await;
    let err = conn.query("SELECT $1::int2", &[Param::Number(1e6)]).await.unwrap_err();
    assert!(matches!(err, Error::ParamType { position: 1, .. }), "{err:?}");
    assert_eq!(conn.query("SELECT 1", &[]).await.unwrap().row_count, 1);
}

#[tokio::test]
async fn closed_connection_refuses_work() {
    let conn = connect(true).await;
    conn.close().await;
    assert!(conn.closed());
    assert_eq!(conn.transaction_status(), TransactionStatus::Unknown);
    assert!(matches!(conn.query("SELECT 1", &[]).await, Err(Error::Interface(_))));
}

#[tokio::test]
async fn refused_connection_names_host_and_port_not_password() {
    // Port 1 on loopback: nothing listens there.
    let info = ConnInfo::parse("postgres://someone:sekrit@127.0.0.1:1/db").unwrap();
    let err = match Connection::connect(&info, ConnectOptions::default()).await {
        Err(e) => e,
        Ok(_) => panic!("connected to port 1"),
    };
    let message = err.to_string();
    assert!(matches!(err, Error::Connect(_)));
    assert_eq!(err.connect_code(), Some("ECONNREFUSED"));
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("sekrit"), "{message}");
}
