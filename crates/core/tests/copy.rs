//! COPY through the engine: data in (finished, failed, refused by the server) and out (read to
//! the end, stopped early), the connection in step after each.

mod common;

use common::{connect, scalar, sqlstate};
use pgtide_core::connection::CopyFormat;
use pgtide_core::{Error, TransactionStatus};

#[tokio::test]
async fn copies_in_and_out() {
    let conn = connect(true).await;
    conn.exec("CREATE TEMP TABLE c (id int4, name text)").await.unwrap();
    let mut copy = conn.copy_in("COPY c FROM STDIN").await.unwrap();
    assert_eq!(copy.format(), CopyFormat::Text);
    // Rows split across writes.
    copy.write(b"1\tone\n2\tt").await.unwrap();
    copy.write(b"wo\n").await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), 2);
    assert!(copy.done());

    let mut out = conn.copy_out("COPY c TO STDOUT").await.unwrap();
    let mut data = Vec::new();
    while let Some(chunk) = out.read(1 << 16).await.unwrap() {
        data.extend_from_slice(&chunk);
    }
    assert_eq!(data, b"1\tone\n2\ttwo\n");
    assert_eq!(out.rows(), Some(2));
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
}

#[tokio::test]
async fn a_failed_copy_writes_nothing_and_the_connection_goes_on() {
    let conn = connect(true).await;
    conn.exec("CREATE TEMP TABLE f (id int4)").await.unwrap();
    let mut copy = conn.copy_in("COPY f FROM STDIN").await.unwrap();
    copy.write(b"1\n2\n").await.unwrap();
    copy.fail("the source broke").await.unwrap();
    assert_eq!(
        scalar(&conn, "SELECT count(*)::text FROM f").await.as_deref(),
        Some("0")
    );

    // Bad data: the server's error, at a write or at the finish.
    let mut copy = conn.copy_in("COPY f FROM STDIN").await.unwrap();
    let mut failure = None;
    for _ in 0..200 {
        if let Err(e) = copy.write(&b"x\n".repeat(10_000)).await {
            failure = Some(e);
            break;
        }
    }
    let failure = match failure {
        Some(e) => e,
        None => copy.finish().await.unwrap_err(),
    };
    assert!(matches!(failure, Error::Database(_)));
    assert_eq!(sqlstate(&failure), "22P02");
    assert_eq!(
        scalar(&conn, "SELECT count(*)::text FROM f").await.as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn refuses_the_wrong_direction_and_stops_a_copy_out_early() {
    let conn = connect(true).await;
    assert!(matches!(conn.copy_in("SELECT 1").await, Err(Error::Programming(_))));
    assert!(matches!(
        conn.copy_in("COPY (SELECT 1) TO STDOUT").await,
        Err(Error::Programming(_))
    ));
    assert!(matches!(
        conn.copy_out("COPY pg_class FROM STDIN").await,
        Err(Error::Programming(_)) | Err(Error::Database(_))
    ));
    let mut out = conn
        .copy_out("COPY (SELECT g FROM generate_series(1, 20000000) g) TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    assert_eq!(out.format(), CopyFormat::Binary);
    assert!(out.read(1024).await.unwrap().is_some());
    out.close().await.unwrap();
    assert!(out.done());
    assert_eq!(
        scalar(&conn, "SELECT 'still here'").await.as_deref(),
        Some("still here")
    );
}
