//! The idle reader: while someone listens for notifications, a task holds the session between
//! requests and reads the socket, so a `NOTIFY` reaches the listener even when the connection
//! runs nothing. It lets go the moment a request announces itself (`IdleReading`), and stays
//! away while any request is queued, so a request never waits on it. It stops when nobody
//! listens any more, or the connection is closed or lost.

use std::sync::Arc;

use postgres_protocol::message::backend::Message;

use super::exchange::{notice, notification};
use super::Connection;
use crate::error::Result;

impl Connection {
    pub(super) fn start_idle_reader(self: &Arc<Self>) {
        if self.idle_reading.start() {
            let conn = self.clone();
            self.runtime.spawn(async move { conn.read_while_idle().await });
        }
    }

    fn should_read_idle(&self) -> bool {
        self.handlers.listening() && !self.closed() && !self.broken()
    }

    async fn read_while_idle(self: Arc<Self>) {
        loop {
            self.idle_turns().await;
            self.idle_reading.stopped();
            // A listener set between the last look and `stopped` saw a reader running and
            // started none: look again.
            if !self.should_read_idle() || !self.idle_reading.start() {
                return;
            }
        }
    }

    async fn idle_turns(&self) {
        while self.should_read_idle() {
            if !self.idle_reading.requests_waiting() {
                if let Ok(mut session) = self.session.try_lock() {
                    tokio::select! {
                        biased;
                        _ = self.idle_reading.let_go() => {}
                        message = session.wire.read() => self.on_idle_message(message),
                    }
                    continue;
                }
            }
            self.idle_reading.session_released().await;
        }
    }

    fn on_idle_message(&self, message: Result<Message>) {
        match message {
            Ok(Message::NotificationResponse(body)) => {
                if let Some(n) = notification(&body) {
                    self.handlers.notification(n)
                }
            }
            Ok(Message::NoticeResponse(body)) => self.handlers.notice(notice(&body)),
            Ok(Message::ParameterStatus(_)) => {}
            // A FATAL report (the backend was terminated) is followed by the end of the stream,
            // which marks the connection broken.
            Ok(Message::ErrorResponse(_)) => {}
            // Anything else while idle means the socket is out of step with the server.
            Ok(_) | Err(_) => self.mark_broken(),
        }
    }
}
