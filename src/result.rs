//! A query result as it crosses to JavaScript, at the least cost per query: one array
//! `[command, rowCount, fields, rows, rowsLength]` (`lib/native.ts` names its slots).
//!
//! - `fields` is built once per prepared statement and then shared by all its results: this
//!   thread keeps a reference to the frozen JS array of each statement's column descriptions,
//!   keyed by the engine's `Arc<[Field]>` (which the statement cache hands every result of the
//!   statement). JavaScript keys its compiled row decoders on that array, so a repeated query
//!   neither builds column objects nor looks its shape up by name.
//! - `rows` holds the DataRow bodies back to back (per value an int32 length, -1 for NULL, then
//!   the bytes): copied into a fresh Buffer when small, handed over without a copy when large.
//!
//! Every function here runs on a JS thread with `env`, that thread's live environment (the
//! contract of `ToNapiValue::to_napi_value` and of this file's `unsafe fn`s): the SAFETY
//! comments say why each N-API call's other arguments are sound.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Weak};

use napi::bindgen_prelude::{Buffer, ToNapiValue, TypeName, ValueType};
use napi::{check_status, sys};
use pgtide_core::{Field, QueryResult};

/// Rows up to this size are copied (cheaper than an external Buffer and its finalizer).
const COPY_LIMIT: usize = 64 * 1024;

pub struct NativeResult(pub QueryResult);

impl From<QueryResult> for NativeResult {
    fn from(result: QueryResult) -> Self {
        NativeResult(result)
    }
}

impl TypeName for NativeResult {
    fn type_name() -> &'static str {
        "unknown[]"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for NativeResult {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let result = val.0;
        let (command, count) = result.command_and_count();
        // SAFETY: each conversion only needs `env` (see the module comment).
        let slots = unsafe {
            [
                ToNapiValue::to_napi_value(env, command)?,
                ToNapiValue::to_napi_value(env, count.map(|n| n as f64))?,
                shared_fields(env, &result.fields)?,
                rows(env, result.rows)?,
                ToNapiValue::to_napi_value(env, result.row_count as u32)?,
            ]
        };
        let mut array = ptr::null_mut();
        // SAFETY: `array` is a live out-pointer.
        check_status!(unsafe { sys::napi_create_array_with_length(env, slots.len(), &mut array) })?;
        for (index, value) in slots.into_iter().enumerate() {
            // SAFETY: `array` and `value` are values of this environment, made in this call.
            check_status!(unsafe { sys::napi_set_element(env, array, index as u32, value) })?;
        }
        Ok(array)
    }
}

unsafe fn rows(env: sys::napi_env, rows: Vec<u8>) -> napi::Result<sys::napi_value> {
    if rows.len() > COPY_LIMIT {
        // SAFETY: only needs `env`; the Buffer takes the vector and frees it when collected.
        return unsafe { Buffer::to_napi_value(env, rows.into()) };
    }
    let mut buffer = ptr::null_mut();
    let mut data = ptr::null_mut();
    // SAFETY: `rows` is readable for `rows.len()` bytes, which the call copies; the
    // out-pointers are live.
    check_status!(unsafe {
        sys::napi_create_buffer_copy(env, rows.len(), rows.as_ptr().cast::<c_void>(), &mut data, &mut buffer)
    })?;
    Ok(buffer)
}

/// The JS column descriptions of each live statement on this thread, by the address of its
/// fields. The `Weak` pins that address (a freed statement's address is not reused while
/// its entry stays) and tells live entries from dead ones.
struct Entry {
    fields: Weak<[Field]>,
    array: sys::napi_ref,
}

thread_local! {
    static SHARED: RefCell<Shared> = RefCell::new(Shared { entries: HashMap::new(), sweep_at: 256 });
}

struct Shared {
    entries: HashMap<usize, Entry>,
    /// Dead entries are swept when the map grows to this size.
    sweep_at: usize,
}

/// # Safety
/// `env` is the live environment of the JS thread this runs on.
pub unsafe fn shared_fields(env: sys::napi_env, fields: &Arc<[Field]>) -> napi::Result<sys::napi_value> {
    if fields.is_empty() {
        // SAFETY: this function's contract.
        return unsafe { field_array(env, fields) };
    }
    let key = Arc::as_ptr(fields) as *const Field as usize;
    let known = SHARED.with_borrow(|shared| {
        let entry = shared.entries.get(&key)?;
        (entry.fields.strong_count() > 0).then_some(entry.array)
    });
    let mut array = ptr::null_mut();
    if let Some(reference) = known {
        // SAFETY: `reference` is a live reference made in this thread's environment (entries
        // are thread-local; `napi_delete_reference` removes them only with their entry).
        check_status!(unsafe { sys::napi_get_reference_value(env, reference, &mut array) })?;
        return Ok(array);
    }
    // SAFETY: this function's contract.
    array = unsafe { field_array(env, fields)? };
    // SAFETY: `array` is an object just made in `env`.
    check_status!(unsafe { sys::napi_object_freeze(env, array) })?;
    let mut reference = ptr::null_mut();
    // SAFETY: as above; `reference` is a live out-pointer.
    check_status!(unsafe { sys::napi_create_reference(env, array, 1, &mut reference) })?;
    SHARED.with_borrow_mut(|shared| {
        let entry = Entry {
            fields: Arc::downgrade(fields),
            array: reference,
        };
        if let Some(stale) = shared.entries.insert(key, entry) {
            // SAFETY: a reference this thread made and still owned, deleted once (its entry
            // is gone).
            unsafe { sys::napi_delete_reference(env, stale.array) };
        }
        if shared.entries.len() >= shared.sweep_at {
            shared.entries.retain(|_, entry| {
                let live = entry.fields.strong_count() > 0;
                if !live {
                    // SAFETY: as above: the entry leaves the map with its reference.
                    unsafe { sys::napi_delete_reference(env, entry.array) };
                }
                live
            });
            shared.sweep_at = (shared.entries.len() * 2).max(256);
        }
    });
    Ok(array)
}

/// Column descriptions in pg's shape, each frozen: results of one statement share them.
///
/// # Safety
/// `env` is the live environment of the JS thread this runs on.
unsafe fn field_array(env: sys::napi_env, fields: &[Field]) -> napi::Result<sys::napi_value> {
    let mut array = ptr::null_mut();
    // SAFETY: `env` per this function's contract; `array` is a live out-pointer.
    check_status!(unsafe { sys::napi_create_array_with_length(env, fields.len(), &mut array) })?;
    for (index, field) in fields.iter().enumerate() {
        let mut object = ptr::null_mut();
        // SAFETY: as above.
        check_status!(unsafe { sys::napi_create_object(env, &mut object) })?;
        let format = if field.format == 1 { "binary" } else { "text" };
        // SAFETY: each conversion only needs `env`.
        let properties: [(&str, sys::napi_value); 7] = unsafe {
            [
                ("name", ToNapiValue::to_napi_value(env, field.name.as_str())?),
                ("tableID", ToNapiValue::to_napi_value(env, field.table_oid)?),
                ("columnID", ToNapiValue::to_napi_value(env, field.column_id as i32)?),
                ("dataTypeID", ToNapiValue::to_napi_value(env, field.type_oid)?),
                ("dataTypeSize", ToNapiValue::to_napi_value(env, field.type_size as i32)?),
                (
                    "dataTypeModifier",
                    ToNapiValue::to_napi_value(env, field.type_modifier)?,
                ),
                ("format", ToNapiValue::to_napi_value(env, format)?),
            ]
        };
        for (name, value) in properties {
            let mut key = ptr::null_mut();
            // SAFETY: `name` is UTF-8 of the length given, copied by the call.
            check_status!(unsafe {
                sys::napi_create_string_utf8(env, name.as_ptr().cast(), name.len() as isize, &mut key)
            })?;
            // SAFETY: `object`, `key` and `value` are values of `env` made in this call.
            check_status!(unsafe { sys::napi_set_property(env, object, key, value) })?;
        }
        // SAFETY: as above.
        check_status!(unsafe { sys::napi_object_freeze(env, object) })?;
        // SAFETY: as above.
        check_status!(unsafe { sys::napi_set_element(env, array, index as u32, object) })?;
    }
    Ok(array)
}
