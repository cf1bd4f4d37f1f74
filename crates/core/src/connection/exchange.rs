//! Reading one exchange up to its ReadyForQuery, whatever the server sends on the way: errors
//! (kept until the end, so the connection stays in step), notices and notifications (handed
//! over), COPY (answered so the connection never hangs), and command tags that drop our
//! prepared statements.

use postgres_protocol::message::backend::{Message, NoticeResponseBody, NotificationResponseBody};
use postgres_protocol::message::frontend;

use super::{Connection, Session, TransactionStatus};
use crate::error::{DbError, Error, Result};
use crate::notifications::{Notice, Notification};
use crate::server_message::db_fields;
use crate::statement_cache::drops_all_statements;

/// Which protocol the exchange was started with: it decides how a COPY FROM STDIN is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Simple,
    Extended,
}

const COPY_IN_REFUSED: &str = "COPY ... FROM STDIN cannot run through query() or exec(): send its data with \
     copyFrom(); the COPY was aborted and the connection is usable";

impl Connection {
    /// Hands each message of one exchange to `on_message` until ReadyForQuery, then records the
    /// transaction status. The first error (the server's or `on_message`'s) is returned after
    /// the exchange ends, so the connection is left in step with the server.
    pub(super) async fn read_until_ready(
        &self,
        session: &mut Session,
        mode: Mode,
        mut on_message: impl FnMut(Message) -> Result<()>,
    ) -> Result<()> {
        let mut failure: Option<Error> = None;
        loop {
            let message = match session.wire.read().await {
                Ok(message) => message,
                Err(lost) => {
                    self.mark_broken();
                    // A backend that says why it is leaving (terminated, shut down) is more
                    // useful than the end of the stream that follows.
                    return Err(match failure {
                        Some(Error::Database(db)) if is_fatal(&db) => Error::Database(db),
                        _ => lost,
                    });
                }
            };
            match message {
                Message::ReadyForQuery(body) => {
                    let status = TransactionStatus::from_ready_for_query(body.status());
                    self.status.store(status as u8, std::sync::atomic::Ordering::Release);
                    return failure.map_or(Ok(()), Err);
                }
                Message::ErrorResponse(body) => {
                    let db = db_fields(body.fields());
                    if is_fatal(&db) {
                        self.mark_broken();
                    }
                    failure.get_or_insert(Error::Database(Box::new(db)));
                }
                message @ (Message::NoticeResponse(_)
                | Message::NotificationResponse(_)
                | Message::ParameterStatus(_)) => self.hand_over(message),
                Message::CopyInResponse(_) => {
                    // The server waits for rows we do not have: end the COPY. In the extended
                    // protocol the server then skips to the next Sync (the one sent with Execute
                    // was ignored during the COPY), so send one.
                    frontend::copy_fail("pgtide: COPY FROM STDIN is not supported here", &mut session.wire.out)
                        .map_err(encode_error)?;
                    if mode == Mode::Extended {
                        frontend::sync(&mut session.wire.out);
                    }
                    session.wire.flush().await?;
                    failure.get_or_insert(Error::Programming(COPY_IN_REFUSED.into()));
                }
                message => {
                    if let Message::CommandComplete(body) = &message {
                        if body.tag().is_ok_and(drops_all_statements) {
                            session.statements.forget_all();
                        }
                    }
                    if failure.is_none() {
                        if let Err(e) = on_message(message) {
                            failure = Some(e);
                        }
                    }
                }
            }
        }
    }
}

impl Connection {
    /// Reads the answer to Parse/Describe/Flush up to the statement's row description (or
    /// NoData). After an error the server skips everything up to a Sync: send one, and read the
    /// exchange out to its ReadyForQuery, so the connection stays in step.
    pub(super) async fn read_description(
        &self,
        session: &mut Session,
        mut on_message: impl FnMut(Message) -> Result<()>,
    ) -> Result<()> {
        loop {
            let message = session.wire.read().await.inspect_err(|_| self.mark_broken())?;
            match message {
                Message::ErrorResponse(body) => {
                    let db = db_fields(body.fields());
                    self.sync(session).await?;
                    return Err(Error::Database(Box::new(db)));
                }
                message @ (Message::NoticeResponse(_)
                | Message::NotificationResponse(_)
                | Message::ParameterStatus(_)) => self.hand_over(message),
                message @ (Message::RowDescription(_) | Message::NoData) => return on_message(message),
                message => on_message(message)?,
            }
        }
    }

    /// Ends an extended-protocol exchange left open by a Flush: Sync, then read to ReadyForQuery.
    pub(super) async fn sync(&self, session: &mut Session) -> Result<()> {
        frontend::sync(&mut session.wire.out);
        session.wire.flush().await?;
        self.read_until_ready(session, Mode::Extended, |_| Ok(())).await
    }

    /// Messages the server may send at any time: notices and notifications go to their
    /// handlers; parameter changes are not tracked.
    pub(super) fn hand_over(&self, message: Message) {
        match message {
            Message::NoticeResponse(body) => self.handlers.notice(notice(&body)),
            Message::NotificationResponse(body) => {
                if let Some(n) = notification(&body) {
                    self.handlers.notification(n)
                }
            }
            _ => {}
        }
    }
}

/// Queues Close messages for evicted prepared statements, to ride with the request being
/// written (before its Sync).
pub(super) fn queue_closes(session: &mut Session) {
    for name in session.statements.take_to_close() {
        // Our own names have no NUL byte, the only thing that can fail here.
        let _ = frontend::close(b'S', &name, &mut session.wire.out);
    }
}

pub(super) fn is_fatal(db: &DbError) -> bool {
    db.severity == "FATAL" || db.severity == "PANIC"
}

pub(super) fn notice(body: &NoticeResponseBody) -> Notice {
    db_fields(body.fields())
}

/// `None` for a notification that is not valid UTF-8 (the session is UTF-8, so never).
pub(super) fn notification(body: &NotificationResponseBody) -> Option<Notification> {
    Some(Notification {
        channel: body.channel().ok()?.to_string(),
        payload: body.message().ok()?.to_string(),
        process_id: body.process_id(),
    })
}

pub(super) fn encode_error(e: std::io::Error) -> Error {
    Error::Programming(format!("the query cannot be sent: {e}"))
}

pub(super) fn protocol(e: std::io::Error) -> Error {
    Error::operational(format!("invalid message from the server: {e}"))
}
