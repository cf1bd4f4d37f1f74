//! `NativeCursor`: a query's rows a batch at a time (pg-cursor, pg-query-stream), every column
//! text, or in pgtide's formats for its own `stream()`. The cursor holds its connection until read to the end or closed (see the engine's
//! `connection/cursor.rs`).

use std::sync::Arc;

use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use pgtide_core::{params, Connection, Cursor, ResultFormats};
use tokio::sync::Mutex;

use crate::blocking::block_on;
use crate::errors::IntoNapi;
use crate::promise::eager_promise;
use crate::result::NativeResult;

#[napi]
pub struct NativeCursor {
    /// Behind an async lock: a read runs across awaits, and a second read waits for the first.
    cursor: Arc<Mutex<Cursor>>,
}

pub(crate) async fn open_cursor(
    conn: Arc<Connection>,
    sql: String,
    params: Vec<u8>,
    formats: ResultFormats,
) -> napi::Result<NativeCursor> {
    let params = params::decode(&params).into_napi()?;
    let cursor = conn.open_cursor_in(&sql, &params, formats).await.into_napi()?;
    Ok(NativeCursor {
        cursor: Arc::new(Mutex::new(cursor)),
    })
}

async fn read(cursor: Arc<Mutex<Cursor>>, max_rows: u32) -> napi::Result<NativeResult> {
    let mut cursor = cursor.lock().await;
    cursor.read(max_rows).await.map(NativeResult::from).into_napi()
}

async fn close(cursor: Arc<Mutex<Cursor>>) -> napi::Result<()> {
    cursor.lock().await.close().await.into_napi()
}

#[napi]
impl NativeCursor {
    /// The next `maxRows` rows as a `NativeResult`-shaped array; no rows means the end (the
    /// batch that reaches it carries the command tag and count).
    #[napi(catch_unwind, ts_return_type = "Promise<unknown[]>")]
    pub fn read<'env>(&self, env: &'env Env, max_rows: u32) -> napi::Result<PromiseRaw<'env, NativeResult>> {
        eager_promise(env, read(self.cursor.clone(), max_rows))
    }

    #[napi(catch_unwind, ts_return_type = "unknown[]")]
    pub fn read_sync(&self, max_rows: u32) -> napi::Result<NativeResult> {
        block_on(read(self.cursor.clone(), max_rows))?
    }

    /// Closes the portal and frees the connection; harmless once done.
    #[napi(catch_unwind)]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        eager_promise(env, close(self.cursor.clone()))
    }

    #[napi(catch_unwind)]
    pub fn close_sync(&self) -> napi::Result<()> {
        block_on(close(self.cursor.clone()))?
    }

    /// Read to the end, closed, or failed: the connection is free again.
    #[napi(getter)]
    pub fn done(&self) -> bool {
        // A read in progress holds the lock: not done yet.
        self.cursor.try_lock().is_ok_and(|cursor| cursor.done())
    }
}
