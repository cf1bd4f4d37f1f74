//! Reading the server's error and notice reports into `DbError`.

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{ErrorFields, ErrorResponseBody};

use crate::error::{DbError, SERVER_FIELDS};

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
            code => {
                if let Some((_, name)) = SERVER_FIELDS.iter().find(|(known, _)| *known == code) {
                    db.fields.push((name, value));
                }
            }
        }
    }
    db
}
