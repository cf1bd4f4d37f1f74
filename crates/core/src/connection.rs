//! One PostgreSQL connection: queries over the extended protocol, scripts over the simple one,
//! and the session state a pool needs to know (transaction status, broken, closed).
//!
//! The transaction status is the server's own, read from every ReadyForQuery, so it stays true
//! whatever SQL the user sends (`BEGIN`, `COMMIT`, `SAVEPOINT` as text included).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::sync::Mutex;

use crate::connect::{connect, Session};
use crate::conninfo::{ConnInfo, Target};
use crate::error::{Error, Result};
use crate::params::{self, Param};
use crate::result::{result_format, Field, QueryResult};
use crate::server_message::db_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a transaction.
    Idle,
    /// A request is in flight.
    Active,
    /// In a transaction block.
    InTrans,
    /// In a failed transaction block: only ROLLBACK helps.
    InError,
    /// Broken or closed: nobody knows.
    Unknown,
}

impl TransactionStatus {
    fn from_ready_for_query(status: u8) -> TransactionStatus {
        match status {
            b'I' => TransactionStatus::Idle,
            b'T' => TransactionStatus::InTrans,
            b'E' => TransactionStatus::InError,
            _ => TransactionStatus::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Idle => "idle",
            TransactionStatus::Active => "active",
            TransactionStatus::InTrans => "intrans",
            TransactionStatus::InError => "inerror",
            TransactionStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// psycopg's default is false: the first statement opens a transaction.
    pub autocommit: bool,
}

pub struct Connection {
    /// The socket is used by one request at a time; holding this lock means "active".
    session: Mutex<Session>,
    target: Target,
    backend_pid: i32,
    secret_key: i32,
    /// The last ReadyForQuery status, as `TransactionStatus as u8`.
    status: AtomicU8,
    autocommit: AtomicBool,
    broken: AtomicBool,
    closed: AtomicBool,
}

impl Connection {
    pub async fn connect(info: &ConnInfo, options: ConnectOptions) -> Result<Arc<Connection>> {
        let session = connect(info).await?;
        Ok(Arc::new(Connection {
            target: session.target.clone(),
            backend_pid: session.backend_pid,
            secret_key: session.secret_key,
            session: Mutex::new(session),
            status: AtomicU8::new(TransactionStatus::Idle as u8),
            autocommit: AtomicBool::new(options.autocommit),
            broken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }))
    }

    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Where this connection went (host and port, or socket folder and port).
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The connection was lost (not closed on purpose).
    pub fn broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    pub fn autocommit(&self) -> bool {
        self.autocommit.load(Ordering::Acquire)
    }

    /// Changing autocommit inside a transaction would leave it dangling, so psycopg refuses.
    pub fn set_autocommit(&self, on: bool) -> Result<()> {
        self.ensure_usable()?;
        match self.transaction_status() {
            TransactionStatus::Idle => {
                self.autocommit.store(on, Ordering::Release);
                Ok(())
            }
            status => Err(Error::Programming(format!(
                "can't change 'autocommit' now: connection in transaction status {}",
                status.as_str().to_uppercase()
            ))),
        }
    }

    pub fn transaction_status(&self) -> TransactionStatus {
        if self.closed() || self.broken() {
            return TransactionStatus::Unknown;
        }
        if self.session.try_lock().is_err() {
            return TransactionStatus::Active;
        }
        self.last_status()
    }

    fn last_status(&self) -> TransactionStatus {
        match self.status.load(Ordering::Acquire) {
            s if s == TransactionStatus::Idle as u8 => TransactionStatus::Idle,
            s if s == TransactionStatus::InTrans as u8 => TransactionStatus::InTrans,
            s if s == TransactionStatus::InError as u8 => TransactionStatus::InError,
            _ => TransactionStatus::Unknown,
        }
    }

    fn ensure_usable(&self) -> Result<()> {
        if self.closed() {
            return Err(Error::interface("the connection is closed"));
        }
        if self.broken() {
            return Err(Error::operational(
                "the connection is lost: the server closed it or the network failed",
            ));
        }
        Ok(())
    }

    /// Runs one statement with `$1..$n` parameters and returns its rows.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<QueryResult> {
        let mut session = self.session.lock().await;
        self.ensure_usable()?;
        let abandoned = AbandonGuard(self);
        let outcome = self.run_query(&mut session, sql, params).await;
        std::mem::forget(abandoned);
        self.settle(outcome)
    }

    /// Runs a script of any number of statements, without parameters or rows.
    pub async fn exec(&self, sql: &str) -> Result<()> {
        let mut session = self.session.lock().await;
        self.ensure_usable()?;
        let abandoned = AbandonGuard(self);
        let outcome = self.run_script(&mut session, sql).await;
        std::mem::forget(abandoned);
        self.settle(outcome)
    }

    /// Commits the current transaction, if there is one.
    pub async fn commit(&self) -> Result<()> {
        self.end_transaction("COMMIT").await
    }

    /// Rolls back the current transaction, if there is one.
    pub async fn rollback(&self) -> Result<()> {
        self.end_transaction("ROLLBACK").await
    }

    async fn end_transaction(&self, command: &str) -> Result<()> {
        let mut session = self.session.lock().await;
        self.ensure_usable()?;
        if self.last_status() == TransactionStatus::Idle {
            return Ok(());
        }
        let abandoned = AbandonGuard(self);
        let outcome = self.simple(&mut session, command).await;
        std::mem::forget(abandoned);
        self.settle(outcome)
    }

    /// Asks the server to cancel whatever this connection is running, over a separate socket
    /// (the CancelRequest of the protocol). Harmless when nothing runs.
    pub async fn cancel(&self) -> Result<()> {
        crate::connect::send_cancel(&self.target, self.backend_pid, self.secret_key).await
    }

    /// Ends the session politely; the server rolls back any open transaction.
    pub async fn close(&self) {
        let mut session = self.session.lock().await;
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if !self.broken() {
            frontend::terminate(&mut session.wire.out);
            let _ = session.wire.flush().await;
        }
        session.wire.shutdown().await;
    }

    /// A lost connection is marked broken for good; other errors leave it usable.
    fn settle<T>(&self, outcome: Result<T>) -> Result<T> {
        if let Err(Error::Operational(_)) = &outcome {
            self.broken.store(true, Ordering::Release);
        }
        outcome
    }

    /// Opens the implicit transaction psycopg opens when autocommit is off: the BEGIN rides
    /// in the same write as the statement, so it costs no round trip.
    fn queue_implicit_begin(&self, session: &mut Session) -> bool {
        let begin = !self.autocommit() && self.last_status() == TransactionStatus::Idle;
        if begin {
            frontend::query("BEGIN", &mut session.wire.out).map_err(|_| ()).ok();
        }
        begin
    }

    async fn run_query(&self, session: &mut Session, sql: &str, params: &[Param<'_>]) -> Result<QueryResult> {
        let began = self.queue_implicit_begin(session);
        let out = &mut session.wire.out;
        frontend::parse("", sql, std::iter::empty(), out).map_err(encode_error)?;
        frontend::describe(b'S', "", out).map_err(encode_error)?;
        frontend::sync(out);
        session.wire.flush().await?;
        let begin_outcome = if began {
            self.read_until_ready(session, |_| Ok(())).await
        } else {
            Ok(())
        };

        let mut param_types = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        self.read_until_ready(session, |message| {
            match message {
                Message::ParameterDescription(body) => {
                    param_types = body.parameters().collect().map_err(protocol)?;
                }
                Message::RowDescription(body) => {
                    let mut described = body.fields();
                    while let Some(f) = described.next().map_err(protocol)? {
                        fields.push(Field {
                            name: f.name().to_string(),
                            table_oid: f.table_oid(),
                            column_id: f.column_id(),
                            type_oid: f.type_oid(),
                            type_size: f.type_size(),
                            type_modifier: f.type_modifier(),
                            format: result_format(f.type_oid()),
                        });
                    }
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
        begin_outcome?;

        let encoded = params::encode(params, &param_types)?;
        let out = &mut session.wire.out;
        let values = encoded
            .values
            .iter()
            .map(|range| range.clone().map(|r| &encoded.data[r]));
        frontend::bind(
            "",
            "",
            encoded.formats.iter().copied(),
            values,
            |value, buf| match value {
                Some(bytes) => {
                    buf.extend_from_slice(bytes);
                    Ok(postgres_protocol::IsNull::No)
                }
                None => Ok(postgres_protocol::IsNull::Yes),
            },
            fields.iter().map(|f| f.format),
            out,
        )
        .map_err(|_| Error::Programming("too many parameters or values too large for one message".into()))?;
        frontend::execute("", 0, out).map_err(encode_error)?;
        frontend::sync(out);
        session.wire.flush().await?;

        let mut result = QueryResult {
            tag: String::new(),
            fields: fields.into(),
            rows: Vec::new(),
            row_count: 0,
        };
        self.read_until_ready(session, |message| {
            match message {
                Message::DataRow(body) => {
                    result.rows.extend_from_slice(body.buffer());
                    result.row_count += 1;
                }
                Message::CommandComplete(body) => {
                    result.tag = body.tag().map_err(protocol)?.to_string();
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
        Ok(result)
    }

    async fn run_script(&self, session: &mut Session, sql: &str) -> Result<()> {
        let began = self.queue_implicit_begin(session);
        frontend::query(sql, &mut session.wire.out).map_err(encode_error)?;
        session.wire.flush().await?;
        let begin_outcome = if began {
            self.read_until_ready(session, |_| Ok(())).await
        } else {
            Ok(())
        };
        let script_outcome = self.read_until_ready(session, |_| Ok(())).await;
        begin_outcome.and(script_outcome)
    }

    async fn simple(&self, session: &mut Session, sql: &str) -> Result<()> {
        frontend::query(sql, &mut session.wire.out).map_err(encode_error)?;
        session.wire.flush().await?;
        self.read_until_ready(session, |_| Ok(())).await
    }

    /// Hands each message of one exchange to `on_message` until ReadyForQuery, then records the
    /// transaction status. A server error is returned after the exchange ends, so the
    /// connection is left in step with the server.
    async fn read_until_ready(
        &self,
        session: &mut Session,
        mut on_message: impl FnMut(Message) -> Result<()>,
    ) -> Result<()> {
        let mut failure = None;
        loop {
            match session.wire.read().await? {
                Message::ReadyForQuery(body) => {
                    let status = TransactionStatus::from_ready_for_query(body.status());
                    self.status.store(status as u8, Ordering::Release);
                    return failure.map_or(Ok(()), Err);
                }
                Message::ErrorResponse(body) => {
                    failure.get_or_insert(Error::Database(Box::new(db_error(&body))));
                }
                message => {
                    if failure.is_none() {
                        on_message(message)?;
                    }
                }
            }
        }
    }
}

/// Dropped only when a request's future is dropped mid-exchange (a caller gave up on it): the
/// socket is then out of step with the server, so the connection cannot be trusted again.
struct AbandonGuard<'a>(&'a Connection);

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        self.0.broken.store(true, Ordering::Release);
    }
}

fn encode_error(e: std::io::Error) -> Error {
    Error::Programming(format!("the query cannot be sent: {e}"))
}

fn protocol(e: std::io::Error) -> Error {
    Error::operational(format!("invalid message from the server: {e}"))
}
