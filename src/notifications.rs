//! Notices and notifications on their way to JavaScript through ThreadsafeFunctions: each call
//! is queued on the JS thread's event loop and runs when that thread is free (for a sync
//! connection, after the blocking call returns), so the engine never waits on JavaScript.
//! The notice function is weak (it never keeps the process alive); the notification function
//! is strong while the connection listens, as a listening socket would be.

use std::sync::Arc;

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use pgtide_core::{Notice, NoticeHandler, Notification, NotificationListener};
use serde_json::json;

use crate::errors::optional_fields;

/// Called with a notice as a JSON record; weak: never keeps Node alive. (`#[napi]` signatures
/// spell the type out: the TypeScript generator does not see through aliases.)
pub type NoticeFunction = ThreadsafeFunction<String, (), String, Status, false, true>;
/// Called with each notification, then with `null` once the connection has ended; strong.
pub type NotificationFunction =
    ThreadsafeFunction<Option<NativeNotification>, (), Option<NativeNotification>, Status, false, false>;

#[napi(object)]
pub struct NativeNotification {
    pub channel: String,
    pub payload: String,
    pub process_id: i32,
}

pub fn notice_handler(function: NoticeFunction) -> NoticeHandler {
    Arc::new(move |notice: Notice| {
        let record = json!({
            "message": notice.message,
            "severity": notice.severity,
            "sqlstate": notice.sqlstate,
            "fields": optional_fields(&notice),
        });
        // Fails only while Node shuts down, when nobody is left to tell.
        let _ = function.call(record.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
    })
}

pub struct JsListener(pub NotificationFunction);

impl NotificationListener for JsListener {
    fn notification(&self, n: Notification) {
        let n = NativeNotification {
            channel: n.channel,
            payload: n.payload,
            process_id: n.process_id,
        };
        let _ = self.0.call(Some(n), ThreadsafeFunctionCallMode::NonBlocking);
    }

    fn ended(&self) {
        let _ = self.0.call(None, ThreadsafeFunctionCallMode::NonBlocking);
    }
}
