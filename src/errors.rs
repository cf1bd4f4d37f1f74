//! Engine errors cross into JavaScript as an Error whose message is a small JSON record;
//! `lib/errors.ts` turns it into the matching class (DatabaseError, OperationalError, ...).

use pgtide_core::{ConnectCode, DbError, Error};
use serde_json::{json, Map, Value};

/// Marks a native error message as a JSON record for `lib/errors.ts`.
const PREFIX: &str = "pgtide:";

pub fn to_napi(error: Error) -> napi::Error {
    napi::Error::from_reason(format!("{PREFIX}{}", record(&error)))
}

/// The JSON record of `error`; a cause comes as a record of its own under `cause`.
fn record(error: &Error) -> Value {
    match error {
        Error::Database(db) => {
            // The class by SQLSTATE is the engine's (its one table): JavaScript makes that class.
            json!({ "kind": "database", "class": error.class_name(), "message": db.message, "sqlstate": db.sqlstate, "severity": db.severity, "fields": optional_fields(db) })
        }
        Error::Operational(message) => json!({ "kind": "operational", "message": message }),
        Error::Connect(failure) => {
            let mut record = json!({ "kind": "operational", "message": failure.message });
            if let Some(code) = &failure.code {
                record["code"] = json!(code.as_str());
                if let ConnectCode::Sqlstate(sqlstate) = code {
                    record["sqlstate"] = json!(sqlstate);
                }
            }
            record
        }
        Error::Interface(message) => json!({ "kind": "interface", "message": message }),
        Error::Programming(message) => json!({ "kind": "programming", "message": message }),
        Error::Config(message) => json!({ "kind": "config", "message": message }),
        Error::Value(message) => json!({ "kind": "range", "message": message }),
        Error::Callback(message) => json!({ "kind": "callback", "message": message }),
        Error::PoolTimeout(message) => json!({ "kind": "poolTimeout", "message": message }),
        Error::PoolClosed(message) => json!({ "kind": "poolClosed", "message": message }),
        Error::TooManyRequests(message) => json!({ "kind": "tooManyRequests", "message": message }),
        Error::Aborted(message) => json!({ "kind": "aborted", "message": message }),
        Error::ParamType {
            position,
            pg_type,
            message,
        } => {
            json!({ "kind": "param", "message": message, "position": position, "pgType": pg_type })
        }
        Error::Caused { error, cause } => {
            let mut outer = record(error);
            outer["cause"] = record(cause);
            outer
        }
    }
}

/// The optional fields of a server report (error or notice) the server sent, by their
/// JavaScript names.
pub fn optional_fields(db: &DbError) -> Map<String, Value> {
    let optional = [
        ("detail", &db.detail),
        ("hint", &db.hint),
        ("position", &db.position),
        ("internalPosition", &db.internal_position),
        ("internalQuery", &db.internal_query),
        ("where", &db.where_),
        ("schema", &db.schema),
        ("table", &db.table),
        ("column", &db.column),
        ("dataType", &db.data_type),
        ("constraint", &db.constraint),
        ("file", &db.file),
        ("line", &db.line),
        ("routine", &db.routine),
    ];
    optional
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), Value::String(value.clone()?))))
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
