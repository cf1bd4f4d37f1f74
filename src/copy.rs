//! `NativeCopyIn` and `NativeCopyOut`: a running COPY FROM STDIN / TO STDOUT (the engine's
//! `connection/copy.rs`), each holding its connection until it ends. `lib/copy.ts` feeds and
//! drains them.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, BufferSlice, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use pgtide_core::connection::{CopyFormat, CopyIn, CopyOut};
use pgtide_core::Connection;
use tokio::sync::Mutex;

use crate::blocking::block_on;
use crate::connection::NativeConnection;
use crate::errors::IntoNapi;
use crate::promise::eager_promise;

#[napi]
pub struct NativeCopyIn {
    /// Behind an async lock: a write runs across awaits, and the next waits for it.
    copy: Arc<Mutex<CopyIn>>,
}

#[napi]
pub struct NativeCopyOut {
    copy: Arc<Mutex<CopyOut>>,
}

fn format_name(format: CopyFormat) -> &'static str {
    match format {
        CopyFormat::Text => "text",
        CopyFormat::Binary => "binary",
    }
}

async fn start_in(conn: Arc<Connection>, sql: String) -> napi::Result<NativeCopyIn> {
    let copy = conn.copy_in(&sql).await.into_napi()?;
    Ok(NativeCopyIn {
        copy: Arc::new(Mutex::new(copy)),
    })
}

async fn start_out(conn: Arc<Connection>, sql: String) -> napi::Result<NativeCopyOut> {
    let copy = conn.copy_out(&sql).await.into_napi()?;
    Ok(NativeCopyOut {
        copy: Arc::new(Mutex::new(copy)),
    })
}

#[napi]
impl NativeConnection {
    /// Starts a `COPY ... FROM STDIN`: the connection is held until it is finished or failed.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeCopyIn>")]
    pub fn copy_in<'env>(&self, env: &'env Env, sql: String) -> napi::Result<PromiseRaw<'env, NativeCopyIn>> {
        eager_promise(env, start_in(self.conn()?.clone(), sql))
    }

    #[napi(catch_unwind)]
    pub fn copy_in_sync(&self, sql: String) -> napi::Result<NativeCopyIn> {
        block_on(start_in(self.conn()?.clone(), sql))?
    }

    /// Starts a `COPY ... TO STDOUT`: the connection is held until it is read out or closed.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeCopyOut>")]
    pub fn copy_out<'env>(&self, env: &'env Env, sql: String) -> napi::Result<PromiseRaw<'env, NativeCopyOut>> {
        eager_promise(env, start_out(self.conn()?.clone(), sql))
    }

    #[napi(catch_unwind)]
    pub fn copy_out_sync(&self, sql: String) -> napi::Result<NativeCopyOut> {
        block_on(start_out(self.conn()?.clone(), sql))?
    }
}

async fn write(copy: Arc<Mutex<CopyIn>>, data: Vec<u8>) -> napi::Result<()> {
    copy.lock().await.write(&data).await.into_napi()
}

async fn finish(copy: Arc<Mutex<CopyIn>>) -> napi::Result<f64> {
    // Row counts stay far below 2^53.
    copy.lock().await.finish().await.map(|n| n as f64).into_napi()
}

async fn fail(copy: Arc<Mutex<CopyIn>>, reason: String) -> napi::Result<()> {
    copy.lock().await.fail(&reason).await.into_napi()
}

#[napi]
impl NativeCopyIn {
    /// Sends a slice of the COPY's data; rejects with the server's error if it gave up.
    #[napi(catch_unwind)]
    pub fn write<'env>(&self, env: &'env Env, data: BufferSlice) -> napi::Result<PromiseRaw<'env, ()>> {
        eager_promise(env, write(self.copy.clone(), data.to_vec()))
    }

    #[napi(catch_unwind)]
    pub fn write_sync(&self, data: BufferSlice) -> napi::Result<()> {
        // The slice is read before anything blocks; no copy needed.
        let copy = self.copy.clone();
        block_on(async move { copy.lock().await.write(&data).await.into_napi() })?
    }

    /// Ends the COPY; resolves to the number of rows copied.
    #[napi(catch_unwind)]
    pub fn finish<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, f64>> {
        eager_promise(env, finish(self.copy.clone()))
    }

    #[napi(catch_unwind)]
    pub fn finish_sync(&self) -> napi::Result<f64> {
        block_on(finish(self.copy.clone()))?
    }

    /// Aborts the COPY (CopyFail): nothing of it is written.
    #[napi(catch_unwind)]
    pub fn fail<'env>(&self, env: &'env Env, reason: String) -> napi::Result<PromiseRaw<'env, ()>> {
        eager_promise(env, fail(self.copy.clone(), reason))
    }

    #[napi(catch_unwind)]
    pub fn fail_sync(&self, reason: String) -> napi::Result<()> {
        block_on(fail(self.copy.clone(), reason))?
    }

    /// `text` or `binary`, as the server announced.
    #[napi(getter)]
    pub fn format(&self) -> &'static str {
        self.copy.try_lock().map_or("text", |copy| format_name(copy.format()))
    }

    #[napi(getter)]
    pub fn done(&self) -> bool {
        self.copy.try_lock().is_ok_and(|copy| copy.done())
    }
}

async fn read(copy: Arc<Mutex<CopyOut>>, max_bytes: u32) -> napi::Result<Option<Buffer>> {
    let data = copy.lock().await.read(max_bytes as usize).await.into_napi()?;
    Ok(data.map(Buffer::from))
}

async fn close(copy: Arc<Mutex<CopyOut>>) -> napi::Result<()> {
    copy.lock().await.close().await.into_napi()
}

#[napi]
impl NativeCopyOut {
    /// The next data (about `maxBytes`, whole CopyData messages); null at the end.
    #[napi(catch_unwind, ts_return_type = "Promise<Buffer | null>")]
    pub fn read<'env>(&self, env: &'env Env, max_bytes: u32) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
        eager_promise(env, read(self.copy.clone(), max_bytes))
    }

    #[napi(catch_unwind)]
    pub fn read_sync(&self, max_bytes: u32) -> napi::Result<Option<Buffer>> {
        block_on(read(self.copy.clone(), max_bytes))?
    }

    /// Stops the COPY early (cancelled on the server); harmless once ended.
    #[napi(catch_unwind)]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        eager_promise(env, close(self.copy.clone()))
    }

    #[napi(catch_unwind)]
    pub fn close_sync(&self) -> napi::Result<()> {
        block_on(close(self.copy.clone()))?
    }

    #[napi(getter)]
    pub fn format(&self) -> &'static str {
        self.copy.try_lock().map_or("text", |copy| format_name(copy.format()))
    }

    #[napi(getter)]
    pub fn done(&self) -> bool {
        self.copy.try_lock().is_ok_and(|copy| copy.done())
    }

    /// The rows copied, once the COPY ended.
    #[napi(getter)]
    pub fn rows(&self) -> Option<f64> {
        self.copy.try_lock().ok()?.rows().map(|n| n as f64)
    }
}
