//! Pipeline mode through the engine: results in order, an error aborting up to the sync point.

mod common;

use common::{connect, sqlstate, text_rows};
use pgtide_core::connection::PipelineStep;
use pgtide_core::{Error, Param, TransactionStatus};

#[tokio::test]
async fn an_error_aborts_the_rest_up_to_the_sync_point() {
    let conn = connect(true).await;
    let mut pipeline = conn.open_pipeline().await.unwrap();
    let query = |sql| PipelineStep::Query {
        sql,
        params: Vec::new(),
    };
    let steps = vec![
        query("SELECT 'a'::text"),
        PipelineStep::Query {
            sql: "SELECT $1::text",
            params: vec![Param::Text("b")],
        },
        query("SELECT 1 / 0"),
        query("SELECT 'skipped'::text"),
        PipelineStep::Sync,
        query("SELECT 'after'::text"),
    ];
    let outcomes = pipeline.run(&steps).await.unwrap();
    assert_eq!(outcomes.len(), 5);
    let text = |i: usize| text_rows(outcomes[i].as_ref().unwrap())[0][0].clone();
    assert_eq!(text(0).as_deref(), Some("a"));
    assert_eq!(text(1).as_deref(), Some("b"));
    assert_eq!(sqlstate(outcomes[2].as_ref().unwrap_err()), "22012");
    assert!(matches!(outcomes[3], Err(Error::Operational(_))));
    assert_eq!(text(4).as_deref(), Some("after"));
    pipeline.close().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert!(!conn.broken());
}

#[tokio::test]
async fn a_thousand_statements_in_chunks() {
    let conn = connect(true).await;
    let mut pipeline = conn.open_pipeline().await.unwrap();
    let numbers: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let steps: Vec<PipelineStep<'_>> = numbers
        .iter()
        .map(|n| PipelineStep::Query {
            sql: "SELECT $1::text || repeat('x', 200)",
            params: vec![Param::Text(n)],
        })
        .collect();
    let outcomes = pipeline.run(&steps).await.unwrap();
    for (i, outcome) in outcomes.iter().enumerate() {
        let row = &text_rows(outcome.as_ref().unwrap())[0];
        assert!(row[0].as_deref().unwrap().starts_with(&format!("{i}x")));
    }
    pipeline.close().await.unwrap();
}
