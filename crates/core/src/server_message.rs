//! Reading the server's error and notice reports into `DbError`.

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{ErrorFields, ErrorResponseBody};

use crate::error::DbError;

/// Every field of an ErrorResponse.
pub fn db_error(body: &ErrorResponseBody) -> DbError {
    db_fields(body.fields())
}

/// The fields of an ErrorResponse or a NoticeResponse (they share the layout).
pub fn db_fields(mut fields: ErrorFields<'_>) -> DbError {
    let mut db = DbError::default();
    while let Ok(Some(field)) = fields.next() {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            // 'V' is the untranslated severity; prefer it over the localised 'S'.
            b'S' if db.severity.is_empty() => db.severity = value,
            b'V' => db.severity = value,
            b'C' => db.sqlstate = value,
            b'M' => db.message = value,
            b'D' => db.detail = Some(value),
            b'H' => db.hint = Some(value),
            b'P' => db.position = Some(value),
            b'p' => db.internal_position = Some(value),
            b'q' => db.internal_query = Some(value),
            b'W' => db.where_ = Some(value),
            b's' => db.schema = Some(value),
            b't' => db.table = Some(value),
            b'c' => db.column = Some(value),
            b'd' => db.data_type = Some(value),
            b'n' => db.constraint = Some(value),
            b'F' => db.file = Some(value),
            b'L' => db.line = Some(value),
            b'R' => db.routine = Some(value),
            _ => {}
        }
    }
    db
}
