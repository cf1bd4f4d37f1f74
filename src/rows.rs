//! Rows of a large result handed to JavaScript while the rest still arrives, so that decoding
//! them overlaps the server sending more (`pgtide_core::RowSink`). JavaScript registers one
//! function per thread, `setRowSink`, and tags each query with a number; the rows come to that
//! function as `(id, fields, rows, count)` before the query's own result.

use std::cell::Cell;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, ToNapiValue};
use napi::{check_status, sys, Env, JsValue, Unknown};
use napi_derive::napi;
use pgtide_core::{Field, RowSink};

use crate::js_thread::JsThread;
use crate::result::shared_fields;

thread_local! {
    static SINK: Cell<Option<sys::napi_ref>> = const { Cell::new(None) };
}

/// The function rows of a streamed result go to: `(id, fields, rows, count) => void`.
#[napi(ts_args_type = "sink: (id: number, fields: unknown[], rows: Buffer, count: number) => void")]
pub fn set_row_sink(env: Env, sink: Unknown) -> napi::Result<()> {
    let mut reference = ptr::null_mut();
    // SAFETY: a call from JS: `env` is this thread's environment and `sink` one of its values.
    check_status!(unsafe { sys::napi_create_reference(env.raw(), sink.raw(), 1, &mut reference) })?;
    if let Some(old) = SINK.replace(Some(reference)) {
        // SAFETY: the reference this thread made before, no longer in `SINK`: deleted once.
        unsafe { sys::napi_delete_reference(env.raw(), old) };
    }
    Ok(())
}

/// A sink for the query JavaScript tagged `id`, or none if it did not ask (or set no sink).
pub fn row_sink(env: &Env, id: Option<u32>) -> napi::Result<Option<RowSink>> {
    let Some(id) = id.filter(|_| SINK.get().is_some()) else {
        return Ok(None);
    };
    let js = JsThread::on(env.raw())?;
    Ok(Some(Arc::new(
        move |rows: Vec<u8>, count: usize, fields: &Arc<[Field]>| {
            let fields = fields.clone();
            // SAFETY: `run` calls this on the JS thread, with its environment.
            js.run(Box::new(move |env| unsafe { deliver(env, id, rows, count, &fields) }));
        },
    )))
}

/// Calls the sink; its exceptions are its own (it only decodes), and never leave it pending.
///
/// # Safety
/// `env` is the live environment of the JS thread this runs on.
unsafe fn deliver(env: sys::napi_env, id: u32, rows: Vec<u8>, count: usize, fields: &Arc<[Field]>) {
    let Some(reference) = SINK.get() else {
        return;
    };
    let call = || -> napi::Result<()> {
        let mut sink = ptr::null_mut();
        // SAFETY: `reference` is this thread's live reference to the sink (`SINK` is
        // thread-local and deletes a reference only when it replaces it).
        check_status!(unsafe { sys::napi_get_reference_value(env, reference, &mut sink) })?;
        let mut receiver = ptr::null_mut();
        // SAFETY: `env` per this function's contract; a live out-pointer.
        check_status!(unsafe { sys::napi_get_undefined(env, &mut receiver) })?;
        // SAFETY: each conversion only needs `env`.
        let args = unsafe {
            [
                ToNapiValue::to_napi_value(env, id)?,
                shared_fields(env, fields)?,
                Buffer::to_napi_value(env, rows.into())?,
                ToNapiValue::to_napi_value(env, count as u32)?,
            ]
        };
        let mut result = ptr::null_mut();
        // SAFETY: `sink`, `receiver` and `args` are values of `env`; `args` is live for the call.
        check_status!(unsafe { sys::napi_call_function(env, receiver, sink, args.len(), args.as_ptr(), &mut result) })
    };
    if call().is_err() {
        let mut exception = ptr::null_mut();
        // SAFETY: `env` per this function's contract; a live out-pointer.
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) };
    }
}
