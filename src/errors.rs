//! Engine errors cross into JavaScript as an Error whose message is a small JSON record;
//! `lib/native-errors.ts` turns it into the class the record names.

use pgtide_core::{ConnectCode, DbError, Error};
use serde_json::{json, Map, Value};

/// Marks a native error message as a JSON record for `lib/native-errors.ts`.
const PREFIX: &str = "pgtide:";

pub fn to_napi(error: Error) -> napi::Error {
    napi::Error::from_reason(format!("{PREFIX}{}", record(&error)))
}

/// The JSON record of `error`: the JavaScript class to make (the engine's one table of it,
/// `Error::class_name`), its message, and what that class carries; a cause comes as a record of
/// its own under `cause`.
fn record(error: &Error) -> Value {
    let mut record = json!({ "class": error.class_name(), "message": error.to_string() });
    match error {
        Error::Database(db) => {
            record["sqlstate"] = json!(db.sqlstate);
            record["severity"] = json!(db.severity);
            record["fields"] = Value::Object(optional_fields(db));
        }
        Error::Connect(failure) => {
            if let Some(code) = &failure.code {
                record["code"] = json!(code.as_str());
                if let ConnectCode::Sqlstate(sqlstate) = code {
                    record["sqlstate"] = json!(sqlstate);
                }
            }
        }
        Error::ParamType { position, pg_type, .. } => {
            record["position"] = json!(position);
            record["pgType"] = json!(pg_type);
        }
        Error::Caused { error, cause } => {
            record = self::record(error);
            record["cause"] = self::record(cause);
        }
        _ => {}
    }
    record
}

/// The optional fields of a server report (error or notice) the server sent, by their
/// JavaScript names.
pub fn optional_fields(db: &DbError) -> Map<String, Value> {
    db.fields
        .iter()
        .map(|(name, value)| (name.to_string(), Value::String(value.clone())))
        .collect()
}

pub trait IntoNapi<T> {
    fn into_napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for Result<T, Error> {
    fn into_napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}
