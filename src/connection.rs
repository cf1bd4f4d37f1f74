//! `NativeConnection`: one engine connection, with a Promise method and a blocking `*Sync` twin
//! for each operation. The sync twins block the JS thread while the runtime's threads do the I/O.

use std::sync::Arc;

use napi::bindgen_prelude::{BufferSlice, PromiseRaw};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};
use napi_derive::napi;
use pgtide_core::statement_timeout::{set_statement_timeout, statement_timeout_ms};
use pgtide_core::{params, AbortHandle, ConnInfo, ConnectOptions, Connection, ResultFormats, RowSink, TlsMaterial};

use crate::blocking::block_on;
use crate::cursor::{open_cursor, NativeCursor};
use crate::errors::IntoNapi;
use crate::notifications::{notice_handler, JsListener, NativeNotification};
use crate::pool::PoolLease;
use crate::promise::eager_promise;
use crate::result::NativeResult;
use crate::rows::row_sink;

#[napi]
pub struct NativeConnection {
    pub(crate) inner: Arc<Connection>,
    /// Set when a pool handed this connection out.
    pub(crate) lease: Option<PoolLease>,
}

impl NativeConnection {
    pub(crate) fn standalone(inner: Arc<Connection>) -> NativeConnection {
        NativeConnection { inner, lease: None }
    }

    /// The engine connection, while this wrapper may use it: a pooled connection's wrapper is
    /// refused once its checkout ended, as the connection may be serving another client by then.
    pub(crate) fn conn(&self) -> napi::Result<&Arc<Connection>> {
        if let Some(lease) = &self.lease {
            lease.check().into_napi()?;
        }
        Ok(&self.inner)
    }
}

/// A pooled connection whose JavaScript object is collected while still checked out goes back
/// to its pool, so a forgotten `putconn` costs a warning, not a pool slot forever.
impl Drop for NativeConnection {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.reclaim();
        }
    }
}

/// `connectionOptions` after `lib/options.ts` has checked them.
#[napi(object)]
pub struct NativeConnectOptions {
    pub autocommit: bool,
    pub statement_cache_size: u32,
    pub tls: Option<NativeTls>,
    /// Seconds, unchecked (`statement_timeout.rs`).
    pub statement_timeout: Option<f64>,
}

/// TLS material as PEM text (`connectionOptions.tls`, pg's `ssl`), in place of the conninfo's
/// certificate files. Several CA certificates come concatenated in `ca`.
#[napi(object)]
pub struct NativeTls {
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub servername: Option<String>,
}

impl From<&NativeTls> for TlsMaterial {
    fn from(tls: &NativeTls) -> TlsMaterial {
        TlsMaterial {
            ca: tls.ca.clone(),
            cert: tls.cert.clone(),
            key: tls.key.clone(),
            servername: tls.servername.clone(),
        }
    }
}

async fn open(conninfo: String, options: NativeConnectOptions) -> napi::Result<NativeConnection> {
    let mut info = ConnInfo::parse(&conninfo).into_napi()?;
    if let Some(timeout) = options.statement_timeout {
        set_statement_timeout(&mut info, statement_timeout_ms(timeout).into_napi()?);
    }
    let options = ConnectOptions {
        autocommit: options.autocommit,
        statement_cache_size: options.statement_cache_size as usize,
        tls: options.tls.as_ref().map(TlsMaterial::from),
    };
    let inner = Connection::connect(&info, options).await.into_napi()?;
    Ok(NativeConnection::standalone(inner))
}

/// `close()` on a connection checked out of a pool with `closeReturns` gives it back instead
/// (the engine decides, in one step).
async fn close(inner: Arc<Connection>, lease: Option<PoolLease>) -> napi::Result<()> {
    match lease.as_ref().and_then(PoolLease::close_or_return) {
        Some(returned) => returned.finish().await.into_napi(),
        None => {
            inner.close().await;
            Ok(())
        }
    }
}

async fn run_query(
    conn: Arc<Connection>,
    sql: String,
    params: Vec<u8>,
    abort: Option<Arc<AbortHandle>>,
    rows: Option<RowSink>,
    formats: ResultFormats,
) -> napi::Result<NativeResult> {
    let params = params::decode(&params).into_napi()?;
    let outcome = conn.query_with(&sql, &params, abort.as_ref(), rows, formats).await;
    outcome.map(NativeResult::from).into_napi()
}

/// Each result of a simple-protocol query, in `NativeResult`'s shape.
async fn run_simple_query(
    conn: Arc<Connection>,
    sql: String,
    abort: Option<Arc<AbortHandle>>,
) -> napi::Result<Vec<NativeResult>> {
    let outcome = conn.simple_query(&sql, abort.as_ref()).await;
    outcome
        .map(|results| results.into_iter().map(NativeResult::from).collect())
        .into_napi()
}

/// The trailing `textResults` flag of the query methods: absent or false keeps pgtide's formats.
pub(crate) fn result_formats(text_results: Option<bool>) -> ResultFormats {
    if text_results == Some(true) {
        ResultFormats::AllText
    } else {
        ResultFormats::Preferred
    }
}

/// A cursor's trailing `textResults` flag: absent keeps text for every column (pg-cursor's
/// form, what `pgtide/pg` needs); false asks for pgtide's formats.
fn cursor_formats(text_results: Option<bool>) -> ResultFormats {
    if text_results == Some(false) {
        ResultFormats::Preferred
    } else {
        ResultFormats::AllText
    }
}

#[napi(catch_unwind)]
pub async fn connect(conninfo: String, options: NativeConnectOptions) -> napi::Result<NativeConnection> {
    open(conninfo, options).await
}

#[napi(catch_unwind)]
pub fn connect_sync(conninfo: String, options: NativeConnectOptions) -> napi::Result<NativeConnection> {
    block_on(open(conninfo, options))?
}

#[napi]
impl NativeConnection {
    /// `params` is the tagged parameter form of `pgtide_core::params`; `text_results` asks for
    /// every column in text (node-postgres's form), else the types in the engine's `BINARY`
    /// list come binary.
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[]>")]
    pub fn query<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: BufferSlice,
        rows_id: Option<u32>,
        text_results: Option<bool>,
    ) -> napi::Result<PromiseRaw<'env, NativeResult>> {
        let sink = row_sink(env, rows_id)?;
        let query = run_query(
            self.conn()?.clone(),
            sql,
            params.to_vec(),
            None,
            sink,
            result_formats(text_results),
        );
        eager_promise(env, query)
    }

    #[napi(catch_unwind, ts_return_type = "unknown[]")]
    pub fn query_sync(
        &self,
        sql: String,
        params: BufferSlice,
        text_results: Option<bool>,
    ) -> napi::Result<NativeResult> {
        let formats = result_formats(text_results);
        block_on(run_query(
            self.conn()?.clone(),
            sql,
            params.to_vec(),
            None,
            None,
            formats,
        ))?
    }

    /// Runs `sql` (any number of statements, no parameters) over the simple protocol: one
    /// `NativeResult`-shaped array per statement, every column text.
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[][]>")]
    pub fn simple_query<'env>(&self, env: &'env Env, sql: String) -> napi::Result<PromiseRaw<'env, Vec<NativeResult>>> {
        eager_promise(env, run_simple_query(self.conn()?.clone(), sql, None))
    }

    #[napi(catch_unwind, ts_return_type = "unknown[][]")]
    pub fn simple_query_sync(&self, sql: String) -> napi::Result<Vec<NativeResult>> {
        block_on(run_simple_query(self.conn()?.clone(), sql, None))?
    }

    /// A cursor over `sql`'s rows, read with `cursor.read(n)`: all columns text (pg's form), or
    /// with `textResults` false, in pgtide's formats as `query` gives them. It holds the
    /// connection (other requests on it wait) until read to the end or closed.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeCursor>")]
    pub fn open_cursor<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: BufferSlice,
        text_results: Option<bool>,
    ) -> napi::Result<PromiseRaw<'env, NativeCursor>> {
        let formats = cursor_formats(text_results);
        eager_promise(env, open_cursor(self.conn()?.clone(), sql, params.to_vec(), formats))
    }

    #[napi(catch_unwind)]
    pub fn open_cursor_sync(
        &self,
        sql: String,
        params: BufferSlice,
        text_results: Option<bool>,
    ) -> napi::Result<NativeCursor> {
        let formats = cursor_formats(text_results);
        block_on(open_cursor(self.conn()?.clone(), sql, params.to_vec(), formats))?
    }

    /// A query that can be aborted: run it with `request.query()`, abort it with
    /// `request.abort()`.
    #[napi(catch_unwind)]
    pub fn request(&self) -> napi::Result<NativeRequest> {
        Ok(NativeRequest {
            conn: self.conn()?.clone(),
            abort: AbortHandle::new(),
        })
    }

    #[napi(catch_unwind)]
    pub async fn exec(&self, sql: String) -> napi::Result<()> {
        self.conn()?.exec(&sql).await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn exec_sync(&self, sql: String) -> napi::Result<()> {
        block_on(self.conn()?.exec(&sql))?.into_napi()
    }

    #[napi(catch_unwind)]
    pub async fn commit(&self) -> napi::Result<()> {
        self.conn()?.commit().await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn commit_sync(&self) -> napi::Result<()> {
        block_on(self.conn()?.commit())?.into_napi()
    }

    #[napi(catch_unwind)]
    pub async fn rollback(&self) -> napi::Result<()> {
        self.conn()?.rollback().await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn rollback_sync(&self) -> napi::Result<()> {
        block_on(self.conn()?.rollback())?.into_napi()
    }

    /// Opens a `transaction()` block (BEGIN or SAVEPOINT, the engine decides).
    #[napi(catch_unwind)]
    pub async fn enter_transaction(&self) -> napi::Result<()> {
        self.conn()?.enter_transaction().await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn enter_transaction_sync(&self) -> napi::Result<()> {
        block_on(self.conn()?.enter_transaction())?.into_napi()
    }

    /// Closes the innermost `transaction()` block, committing it or rolling it back.
    #[napi(catch_unwind)]
    pub async fn exit_transaction(&self, commit: bool) -> napi::Result<()> {
        self.conn()?.exit_transaction(commit).await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn exit_transaction_sync(&self, commit: bool) -> napi::Result<()> {
        block_on(self.conn()?.exit_transaction(commit))?.into_napi()
    }

    /// Sends a CancelRequest for whatever this connection runs.
    #[napi(catch_unwind)]
    pub async fn cancel(&self) -> napi::Result<()> {
        self.conn()?.cancel().await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn cancel_sync(&self) -> napi::Result<()> {
        block_on(self.conn()?.cancel())?.into_napi()
    }

    #[napi(catch_unwind)]
    pub async fn close(&self) -> napi::Result<()> {
        close(self.conn()?.clone(), self.lease.clone()).await
    }

    #[napi(catch_unwind)]
    pub fn close_sync(&self) -> napi::Result<()> {
        block_on(close(self.conn()?.clone(), self.lease.clone()))?
    }

    /// psycopg's `check_connection`: an empty query, autocommit left as it was.
    #[napi(catch_unwind)]
    pub async fn check_connection(&self) -> napi::Result<()> {
        pgtide_core::pool::check_connection(self.conn()?).await.into_napi()
    }

    #[napi(catch_unwind)]
    pub fn check_connection_sync(&self) -> napi::Result<()> {
        block_on(pgtide_core::pool::check_connection(self.conn()?))?.into_napi()
    }

    /// Notices go to `handler` as JSON records (null: they are dropped).
    #[napi(catch_unwind)]
    pub fn set_notice_handler(&self, handler: Option<ThreadsafeFunction<String, (), String, Status, false, true>>) {
        self.inner.set_notice_handler(handler.map(notice_handler));
    }

    /// Notifications go to `handler`, also while idle, then `null` once the connection ended;
    /// while set, the connection keeps Node alive (null: stop listening).
    #[napi(catch_unwind)]
    pub fn set_notification_handler(
        &self,
        handler: Option<
            ThreadsafeFunction<Option<NativeNotification>, (), Option<NativeNotification>, Status, false, false>,
        >,
    ) {
        self.inner
            .listen(handler.map(|f| Arc::new(JsListener(f)) as Arc<dyn pgtide_core::NotificationListener>));
    }

    #[napi(getter)]
    pub fn backend_pid(&self) -> i32 {
        self.inner.backend_pid()
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.closed()
    }

    #[napi(getter)]
    pub fn broken(&self) -> bool {
        self.inner.broken()
    }

    #[napi(getter)]
    pub fn transaction_status(&self) -> &'static str {
        self.inner.transaction_status().as_str()
    }

    #[napi(getter)]
    pub fn autocommit(&self) -> bool {
        self.inner.autocommit()
    }

    #[napi(catch_unwind)]
    pub fn set_autocommit(&self, on: bool) -> napi::Result<()> {
        self.conn()?.set_autocommit(on).into_napi()
    }
}

/// One abortable query on a connection.
#[napi]
pub struct NativeRequest {
    conn: Arc<Connection>,
    abort: Arc<AbortHandle>,
}

#[napi]
impl NativeRequest {
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[]>")]
    pub fn query<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: BufferSlice,
        text_results: Option<bool>,
    ) -> napi::Result<PromiseRaw<'env, NativeResult>> {
        let query = run_query(
            self.conn.clone(),
            sql,
            params.to_vec(),
            Some(self.abort.clone()),
            None,
            result_formats(text_results),
        );
        eager_promise(env, query)
    }

    /// `NativeConnection.simpleQuery`, abortable.
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[][]>")]
    pub fn simple_query<'env>(&self, env: &'env Env, sql: String) -> napi::Result<PromiseRaw<'env, Vec<NativeResult>>> {
        eager_promise(env, run_simple_query(self.conn.clone(), sql, Some(self.abort.clone())))
    }

    /// Stops the query: never started if it has not, cancelled on the server if it runs; a
    /// no-op once it has finished.
    #[napi(catch_unwind)]
    pub async fn abort(&self) -> napi::Result<()> {
        self.conn.abort(&self.abort).await.into_napi()
    }
}
