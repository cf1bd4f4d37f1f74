//! Notices and notifications, including notifications that arrive while the connection is idle.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{connect, scalar};
use pgtide_core::{Notice, Notification, NotificationListener};
use tokio::sync::mpsc;

struct Channel(mpsc::UnboundedSender<Option<Notification>>);

impl NotificationListener for Channel {
    fn notification(&self, notification: Notification) {
        let _ = self.0.send(Some(notification));
    }
    fn ended(&self) {
        let _ = self.0.send(None);
    }
}

fn listener() -> (
    Arc<dyn NotificationListener>,
    mpsc::UnboundedReceiver<Option<Notification>>,
) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (Arc::new(Channel(sender)), receiver)
}

async fn next(receiver: &mut mpsc::UnboundedReceiver<Option<Notification>>) -> Option<Notification> {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("nothing arrived within 10 s")
        .expect("the listener was dropped")
}

#[tokio::test]
async fn notices_reach_the_handler_with_their_fields() {
    let conn = connect(true).await;
    let seen: Arc<Mutex<Vec<Notice>>> = Arc::default();
    let sink = seen.clone();
    conn.set_notice_handler(Some(Arc::new(move |notice| sink.lock().unwrap().push(notice))));
    conn.exec("DO $$ BEGIN RAISE NOTICE 'hello' USING DETAIL = 'd', HINT = 'h'; END $$")
        .await
        .unwrap();
    let notices = seen.lock().unwrap().clone();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].message, "hello");
    assert_eq!(notices[0].severity, "NOTICE");
    assert_eq!(notices[0].sqlstate, "00000");
    assert_eq!(notices[0].field("detail"), Some("d"));
    assert_eq!(notices[0].field("hint"), Some("h"));
    conn.set_notice_handler(None);
    conn.exec("DO $$ BEGIN RAISE NOTICE 'dropped'; END $$").await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn notifications_arrive_while_idle_and_requests_never_wait_for_the_reader() {
    let conn = connect(true).await;
    let other = connect(true).await;
    let (listener, mut received) = listener();
    conn.listen(Some(listener));
    conn.exec("LISTEN pgtide_idle").await.unwrap();
    other.exec("NOTIFY pgtide_idle, 'while idle'").await.unwrap();
    // `conn` runs nothing: the idle reader has to pick it up.
    let n = next(&mut received).await.unwrap();
    assert_eq!((n.channel.as_str(), n.payload.as_str()), ("pgtide_idle", "while idle"));
    assert_eq!(n.process_id, other.backend_pid());

    // Requests go first: many short ones in a row, each taking the session from the reader.
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert_eq!(scalar(&conn, "SELECT 'ok'").await.as_deref(), Some("ok"));
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(conn.transaction_status(), pgtide_core::TransactionStatus::Idle);

    // During a request too, from the connection's own NOTIFY.
    conn.exec("NOTIFY pgtide_idle, 'own'").await.unwrap();
    assert_eq!(next(&mut received).await.unwrap().payload, "own");

    conn.listen(None);
    assert!(next(&mut received).await.is_none(), "the listener is told it ended");
    other.exec("NOTIFY pgtide_idle, 'nobody listens'").await.unwrap();
    assert_eq!(
        scalar(&conn, "SELECT 'still fine'").await.as_deref(),
        Some("still fine")
    );
}

#[tokio::test]
async fn a_listening_connection_notices_its_loss_while_idle() {
    let conn = connect(true).await;
    let killer = connect(true).await;
    let (listener, mut received) = listener();
    conn.listen(Some(listener));
    conn.exec("LISTEN pgtide_lost").await.unwrap();
    killer
        .exec(&format!("SELECT pg_terminate_backend({})", conn.backend_pid()))
        .await
        .unwrap();
    assert!(next(&mut received).await.is_none(), "the listener is told it ended");
    assert!(conn.broken());
}

#[tokio::test]
async fn closing_ends_the_listener() {
    let conn = connect(true).await;
    let (first, mut received) = listener();
    conn.listen(Some(first));
    conn.close().await;
    assert!(next(&mut received).await.is_none());
    let (late, mut late_received) = listener();
    conn.listen(Some(late));
    assert!(
        next(&mut late_received).await.is_none(),
        "a closed connection ends a new listener at once"
    );
}
