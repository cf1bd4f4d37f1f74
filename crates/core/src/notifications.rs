//! Messages the server sends on its own: notices (`RAISE NOTICE`, warnings) and notifications
//! (`NOTIFY`), and where they go.
//!
//! Both can arrive in the middle of any request and are handed over as they are read. A
//! notification can also arrive while the connection is idle, so while someone listens the
//! connection runs an idle reader (see `connection/idle.rs`): a task that holds the session
//! while no request wants it and reads the socket. `IdleReading` is how the two take turns
//! without a request ever waiting on the reader: a request announces itself before it queues for
//! the session, the reader lets go at once and stays away while any request is queued.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::DbError;

/// A NoticeResponse: the same fields as an error report (`severity` is e.g. NOTICE, WARNING).
pub type Notice = DbError;

/// A NotificationResponse: `NOTIFY channel, 'payload'` from the backend `process_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub channel: String,
    pub payload: String,
    pub process_id: i32,
}

pub type NoticeHandler = Arc<dyn Fn(Notice) + Send + Sync>;

/// Receives a connection's notifications while it listens.
pub trait NotificationListener: Send + Sync {
    fn notification(&self, notification: Notification);
    /// The connection ended (closed or lost): nothing more will come.
    fn ended(&self);
}

/// Where the connection's notices and notifications go.
#[derive(Default)]
pub(crate) struct Handlers {
    notice: Mutex<Option<NoticeHandler>>,
    listener: Mutex<Option<Arc<dyn NotificationListener>>>,
}

impl Handlers {
    pub fn set_notice(&self, handler: Option<NoticeHandler>) {
        *lock(&self.notice) = handler;
    }

    /// Sets or clears the listener; a listener being replaced is told it ended.
    pub fn set_listener(&self, listener: Option<Arc<dyn NotificationListener>>) {
        let previous = std::mem::replace(&mut *lock(&self.listener), listener);
        if let Some(previous) = previous {
            previous.ended();
        }
    }

    pub fn listening(&self) -> bool {
        lock(&self.listener).is_some()
    }

    /// Notices nobody asked for are dropped.
    pub fn notice(&self, notice: Notice) {
        let handler = lock(&self.notice).clone();
        if let Some(handler) = handler {
            handler(notice);
        }
    }

    /// Notifications nobody listens to are dropped.
    pub fn notification(&self, notification: Notification) {
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener.notification(notification);
        }
    }

    /// The connection ended: the handlers are told so and let go (releasing whatever they hold,
    /// e.g. what keeps a Node process alive).
    pub fn end(&self) {
        self.set_listener(None);
        self.set_notice(None);
    }
}

/// How requests and the idle reader take turns on the session.
#[derive(Default)]
pub(crate) struct IdleReading {
    /// Requests queued for the session: the reader stays away while there are any.
    waiting: AtomicUsize,
    /// Raised when a request wants the session, or listening stops: the reader lets go.
    let_go: Notify,
    /// Raised when a request releases the session: the reader may take it.
    released: Notify,
    /// Whether a reader task runs.
    running: AtomicBool,
}

impl IdleReading {
    /// A request is about to queue for the session. Call `got_session` once it has it.
    pub fn want_session(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.let_go.notify_one();
    }

    pub fn got_session(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn released_session(&self) {
        self.released.notify_one();
    }

    /// Asks the reader to let go and look again at whether it should run.
    pub fn nudge(&self) {
        self.let_go.notify_one();
        self.released.notify_one();
    }

    pub fn requests_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Resolves when a request wants the session.
    pub async fn let_go(&self) {
        self.let_go.notified().await
    }

    /// Resolves when the session may be free (or the reader was nudged).
    pub async fn session_released(&self) {
        self.released.notified().await
    }

    /// Claims the right to run the reader task; false if one already runs.
    pub fn start(&self) -> bool {
        !self.running.swap(true, Ordering::AcqRel)
    }

    pub fn stopped(&self) {
        self.running.store(false, Ordering::Release);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain slots: a panic elsewhere cannot leave them half-written.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
