//! One PostgreSQL connection: queries over the extended protocol, scripts over the simple one,
//! transaction blocks, cancellation, notices and notifications, and the session state a pool
//! needs to know (transaction status, broken, closed).
//!
//! The transaction status is the server's own, read from every ReadyForQuery, so it stays true
//! whatever SQL the user sends (`BEGIN`, `COMMIT`, `SAVEPOINT` as text included).
//!
//! The session (socket, prepared statements) sits behind one lock: a request takes it, writes,
//! reads to ReadyForQuery and lets go. While someone listens for notifications, an idle reader
//! holds it between requests (`idle.rs`); requests never wait on it.

mod abort_grace;
mod batch;
mod copy;
mod cursor;
mod exchange;
mod hold;
mod idle;
mod pipeline;
mod query;
mod simple_query;
mod socket_watch;
mod status;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use postgres_protocol::message::frontend;
use tokio::sync::Mutex;

use crate::cancel::{AbortHandle, Cancels};
use crate::connect::connect;
use crate::conninfo::{ConnInfo, Target};
use crate::error::{Error, Result};
use crate::notifications::{Handlers, IdleReading, NoticeHandler, NotificationListener};
use crate::params::Param;
use crate::result::{QueryResult, ResultFormats, RowSink};
use crate::statement_cache::StatementCache;
use crate::tls::TlsMaterial;
use crate::transaction::TransactionBlocks;
use crate::wire::Wire;

pub use batch::{Answered, BatchStatement};
pub use copy::{CopyFormat, CopyIn, CopyOut};
pub use cursor::Cursor;
pub use pipeline::{Pipeline, PipelineStep};
pub use socket_watch::IdleSocket;
pub use status::TransactionStatus;

use abort_grace::within_abort_grace;
use socket_watch::SocketWatch;

/// A CancelRequest that takes longer than this is given up, so the next request is not held
/// back by an unreachable server.
const CANCEL_DELIVERY_LIMIT: Duration = Duration::from_secs(10);

/// How long `close` waits for a request holding the session before cutting the socket off
/// under it (a request stuck on a silent server would hold it forever).
const CLOSE_WAIT_FOR_REQUEST: Duration = Duration::from_secs(2);

/// How long the Terminate message and the TLS close may take: the kernel takes them at once
/// unless the server stopped reading, and then waiting longer helps nobody.
const CLOSE_GOODBYE_LIMIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// psycopg's default is false: the first statement opens a transaction.
    pub autocommit: bool,
    /// How many prepared statements the connection keeps (0: none, never a named statement).
    pub statement_cache_size: usize,
    /// TLS certificates and key as PEM text, in place of the conninfo's files (`tls.rs`).
    pub tls: Option<TlsMaterial>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            autocommit: false,
            statement_cache_size: 100,
            tls: None,
        }
    }
}

/// What one request at a time owns.
struct Session {
    wire: Wire,
    statements: StatementCache,
    /// The running request's row sink, if it streams its rows.
    rows: Option<RowSink>,
}

pub struct Connection {
    /// In an `Arc` so that a cursor can hold it between its calls (`cursor.rs`).
    session: Arc<Mutex<Session>>,
    target: Target,
    backend_pid: i32,
    secret_key: i32,
    /// The last ReadyForQuery status, as `TransactionStatus as u8`.
    status: AtomicU8,
    autocommit: AtomicBool,
    broken: AtomicBool,
    closed: AtomicBool,
    /// A request holds the session (the idle reader holding it does not count).
    active: AtomicBool,
    blocks: StdMutex<TransactionBlocks>,
    cancels: Cancels,
    handlers: Handlers,
    idle_reading: IdleReading,
    /// Where the idle reader runs: the runtime the connection was opened on.
    runtime: tokio::runtime::Handle,
    /// The socket, seen without the session lock.
    socket: SocketWatch,
}

impl Connection {
    pub async fn connect(info: &ConnInfo, options: ConnectOptions) -> Result<Arc<Connection>> {
        let opened = connect(info, options.tls.as_ref()).await?;
        let (fd, plain) = opened.wire.socket().raw_fd().unzip();
        Ok(Arc::new(Connection {
            socket: SocketWatch::new(fd, plain.unwrap_or(false)),
            target: opened.target,
            backend_pid: opened.backend_pid,
            secret_key: opened.secret_key,
            session: Arc::new(Mutex::new(Session {
                wire: opened.wire,
                statements: StatementCache::new(options.statement_cache_size),
                rows: None,
            })),
            status: AtomicU8::new(TransactionStatus::Idle as u8),
            autocommit: AtomicBool::new(options.autocommit),
            broken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            active: AtomicBool::new(false),
            blocks: StdMutex::default(),
            cancels: Cancels::default(),
            handlers: Handlers::default(),
            idle_reading: IdleReading::default(),
            runtime: tokio::runtime::Handle::current(),
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

    /// What the server sent on this socket while nobody asked: one poll(2), nothing read away
    /// (see `IdleSocket`). For an idle connection; a running request's answer looks `Pending`.
    pub fn idle_socket(&self) -> IdleSocket {
        self.socket.idle_state()
    }

    pub fn autocommit(&self) -> bool {
        self.autocommit.load(Ordering::Acquire)
    }

    /// Changing autocommit inside a transaction would leave it dangling, so psycopg refuses.
    pub fn set_autocommit(&self, on: bool) -> Result<()> {
        self.ensure_usable()?;
        if self.transaction_depth() > 0 {
            return Err(Error::Programming(
                "can't change 'autocommit' now: a transaction() block is in progress".into(),
            ));
        }
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
        if self.active.load(Ordering::Acquire) {
            return TransactionStatus::Active;
        }
        self.last_status()
    }

    /// How many `transaction()` blocks are open.
    pub fn transaction_depth(&self) -> usize {
        self.blocks().depth()
    }

    fn last_status(&self) -> TransactionStatus {
        match self.status.load(Ordering::Acquire) {
            s if s == TransactionStatus::Idle as u8 => TransactionStatus::Idle,
            s if s == TransactionStatus::InTrans as u8 => TransactionStatus::InTrans,
            s if s == TransactionStatus::InError as u8 => TransactionStatus::InError,
            _ => TransactionStatus::Unknown,
        }
    }

    fn blocks(&self) -> std::sync::MutexGuard<'_, TransactionBlocks> {
        // A stack of names: a panic elsewhere cannot leave it half-written.
        self.blocks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        self.query_with(sql, params, None, None, ResultFormats::Preferred).await
    }

    /// `query`, stopped (and cancelled on the server if it runs) when `abort` is aborted.
    pub async fn query_abortable(
        &self,
        sql: &str,
        params: &[Param<'_>],
        abort: &Arc<AbortHandle>,
    ) -> Result<QueryResult> {
        self.query_with(sql, params, Some(abort), None, ResultFormats::Preferred)
            .await
    }

    /// `query`, optionally abortable, with a large result's rows streamed to `rows` as they
    /// arrive (see `RowSink`), and its columns in `formats` (all text for node-postgres's
    /// parsers; the statement cache serves both).
    pub async fn query_with(
        &self,
        sql: &str,
        params: &[Param<'_>],
        abort: Option<&Arc<AbortHandle>>,
        rows: Option<RowSink>,
        formats: ResultFormats,
    ) -> Result<QueryResult> {
        query::check_query(sql, params)?;
        let mut hold = self.acquire(abort).await?;
        let session = hold.exchange();
        session.rows = rows;
        let outcome = within_abort_grace(abort, self.run_query(session, sql, params, abort, formats)).await;
        hold.exchange().rows = None;
        let Some(outcome) = outcome else {
            // `hold` drops mid-exchange, which marks the connection broken too.
            self.abandon_after_abort();
            return Err(Error::aborted());
        };
        hold.done();
        self.settle(outcome)
    }

    /// Runs a script of any number of statements, without parameters or rows.
    pub async fn exec(&self, sql: &str) -> Result<()> {
        query::check_sql(sql)?;
        let mut hold = self.acquire(None).await?;
        let outcome = self.run_script(hold.exchange(), sql).await;
        hold.done();
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
        let mut hold = self.acquire(None).await?;
        if self.transaction_depth() > 0 {
            let method = command.to_lowercase();
            return Err(Error::Programming(format!(
                "explicit {method}() is forbidden inside a transaction() block: the block commits when its function returns and rolls back when it throws"
            )));
        }
        if self.last_status() == TransactionStatus::Idle {
            return Ok(());
        }
        let outcome = self.simple(hold.exchange(), command).await;
        hold.done();
        self.settle(outcome)
    }

    /// Opens a `transaction()` block: BEGIN, or a SAVEPOINT inside an open transaction.
    pub async fn enter_transaction(&self) -> Result<()> {
        let mut hold = self.acquire(None).await?;
        let statement = self.blocks().enter(self.last_status())?;
        let outcome = self.simple(hold.exchange(), &statement).await;
        hold.done();
        if outcome.is_err() {
            self.blocks().cancel_enter();
        }
        self.settle(outcome)
    }

    /// Closes the innermost `transaction()` block: commits (or releases its savepoint) when
    /// `commit`, rolls back (to its savepoint) otherwise. The block is closed even when that
    /// fails.
    pub async fn exit_transaction(&self, commit: bool) -> Result<()> {
        let hold = self.acquire(None).await;
        // Popped before anything can fail, so a block never outlives its exit.
        let statement = self.blocks().exit(commit, self.last_status())?;
        let mut hold = hold?;
        let Some(statement) = statement else {
            return Ok(());
        };
        let outcome = self.simple(hold.exchange(), &statement).await;
        hold.done();
        self.settle(outcome)
    }

    /// Asks the server to cancel whatever this connection is running, over a separate socket
    /// (the CancelRequest of the protocol). Harmless when nothing runs. Unlike `abort`, it is
    /// not tied to one request: it can hit whatever statement runs when it lands.
    pub async fn cancel(&self) -> Result<()> {
        crate::connect::send_cancel(&self.target, self.backend_pid, self.secret_key).await
    }

    /// Aborts the request `abort` belongs to: a CancelRequest is sent only while that request
    /// is in flight (see `cancel.rs` for why the next request cannot be hit).
    pub async fn abort(&self, abort: &Arc<AbortHandle>) -> Result<()> {
        let Some(_ticket) = self.cancels.abort(abort) else {
            return Ok(());
        };
        let cancel = crate::connect::send_cancel(&self.target, self.backend_pid, self.secret_key);
        match tokio::time::timeout(CANCEL_DELIVERY_LIMIT, cancel).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::operational("the cancel request was not answered in time")),
        }
    }

    /// Sends notices to `handler` (none: they are dropped).
    pub fn set_notice_handler(&self, handler: Option<NoticeHandler>) {
        self.handlers.set_notice(handler);
    }

    /// Sends notifications to `listener`, also while the connection is idle; `None` stops
    /// listening. The server side is the user's `LISTEN` / `UNLISTEN`.
    pub fn listen(self: &Arc<Self>, listener: Option<Arc<dyn NotificationListener>>) {
        match listener {
            Some(listener) if self.closed() || self.broken() => listener.ended(),
            Some(listener) => {
                self.handlers.set_listener(Some(listener));
                self.start_idle_reader();
            }
            None => {
                self.handlers.set_listener(None);
                self.idle_reading.nudge();
            }
        }
    }

    /// Ends the session politely; the server rolls back any open transaction.
    /// Closes the connection on the runtime it was opened on, from any thread, without waiting
    /// (a caller on the JS thread is outside every runtime).
    pub fn close_in_background(self: Arc<Self>) {
        let runtime = self.runtime.clone();
        runtime.spawn(async move { self.close().await });
    }

    /// Never waits long on a silent server: a request still holding the session after
    /// `CLOSE_WAIT_FOR_REQUEST` has the socket cut off under it (it then fails, as a lost
    /// connection), and the goodbye is bounded by `CLOSE_GOODBYE_LIMIT`.
    pub async fn close(&self) {
        // The session future is never dropped half-way (it counts itself as a waiting request).
        let take = self.take_session();
        tokio::pin!(take);
        let mut hold = tokio::select! {
            biased;
            hold = &mut take => hold,
            () = tokio::time::sleep(CLOSE_WAIT_FOR_REQUEST) => {
                self.socket.sever();
                take.await
            }
        };
        if !self.closed.swap(true, Ordering::AcqRel) {
            let session = hold.exchange();
            let goodbye = async {
                if !self.broken() {
                    frontend::terminate(&mut session.wire.out);
                    let _ = session.wire.flush().await;
                }
                self.socket.forget();
                session.wire.shutdown().await;
            };
            if tokio::time::timeout(CLOSE_GOODBYE_LIMIT, goodbye).await.is_err() {
                self.socket.sever();
                self.socket.forget();
                session.wire.drop_socket();
            }
        }
        hold.done();
        self.handlers.end();
        self.idle_reading.nudge();
    }

    /// A lost connection is marked broken for good; other errors leave it usable.
    fn settle<T>(&self, outcome: Result<T>) -> Result<T> {
        if let Err(Error::Operational(_)) = &outcome {
            self.mark_broken();
        }
        outcome
    }

    fn mark_broken(&self) {
        if !self.broken.swap(true, Ordering::AcqRel) {
            self.handlers.end();
            self.idle_reading.nudge();
        }
    }

    /// Whether the next statement opens the implicit transaction psycopg opens when autocommit
    /// is off.
    fn needs_implicit_begin(&self) -> bool {
        !self.autocommit() && self.last_status() == TransactionStatus::Idle
    }

    /// Queues that implicit BEGIN: it rides in the same write as the statement, so it costs no
    /// round trip.
    fn queue_implicit_begin(&self, session: &mut Session) -> bool {
        let begin = self.needs_implicit_begin();
        if begin {
            // "BEGIN" has no NUL byte, the only thing that can fail here.
            let _ = frontend::query("BEGIN", &mut session.wire.out);
        }
        begin
    }

    /// Sends `sql` as a simple Query, after the implicit BEGIN if one is due, and reads the
    /// BEGIN's answer: the outer error is the send's, the inner one the BEGIN's (which the
    /// caller reports before the statement's own).
    async fn send_simple_after_begin(&self, session: &mut Session, sql: &str) -> Result<Result<()>> {
        let began = self.queue_implicit_begin(session);
        frontend::query(sql, &mut session.wire.out).map_err(exchange::encode_error)?;
        session.wire.flush().await?;
        if !began {
            return Ok(Ok(()));
        }
        Ok(self.read_until_ready(session, exchange::Mode::Simple, |_| Ok(())).await)
    }

    async fn run_script(&self, session: &mut Session, sql: &str) -> Result<()> {
        // Evicted statements are closed by the next extended-protocol request, not here: a
        // Close is an extended-protocol message, and a simple Query must not follow one unsynced.
        let begin_outcome = self.send_simple_after_begin(session, sql).await?;
        let script_outcome = self.read_until_ready(session, exchange::Mode::Simple, |_| Ok(())).await;
        begin_outcome.and(script_outcome)
    }

    async fn simple(&self, session: &mut Session, sql: &str) -> Result<()> {
        frontend::query(sql, &mut session.wire.out).map_err(exchange::encode_error)?;
        session.wire.flush().await?;
        self.read_until_ready(session, exchange::Mode::Simple, |_| Ok(())).await
    }
}
