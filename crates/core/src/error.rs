//! The engine's errors. Each becomes one JavaScript class (`Error::class_name`; the binding
//! sends its name, `lib/errors.ts` makes it), so the split here follows psycopg's hierarchy.

use std::fmt;

pub use crate::connect_failure::{ConnectCode, ConnectFailure};

/// A server-side error report (ErrorResponse), every field the server sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbError {
    pub severity: String,
    pub sqlstate: String,
    pub message: String,
    /// The optional fields the server sent, by their JavaScript names (`SERVER_FIELDS`).
    pub fields: Vec<(&'static str, String)>,
}

impl DbError {
    /// An optional field by its JavaScript name (`"detail"`, `"routine"`...), if the server sent it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The optional fields of a server report (ErrorResponse, NoticeResponse): the protocol's code
/// for each and the name JavaScript gives it. The one list of them: `server_message.rs` keeps
/// these, the binding sends them under these names (and exports the list, which a test holds
/// `lib/errors.ts`'s `ServerErrorFields` to).
pub const SERVER_FIELDS: [(u8, &str); 14] = [
    (b'D', "detail"),
    (b'H', "hint"),
    (b'P', "position"),
    (b'p', "internalPosition"),
    (b'q', "internalQuery"),
    (b'W', "where"),
    (b's', "schema"),
    (b't', "table"),
    (b'c', "column"),
    (b'd', "dataType"),
    (b'n', "constraint"),
    (b'F', "file"),
    (b'L', "line"),
    (b'R', "routine"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server rejected a statement; the connection is still usable.
    Database(Box<DbError>),
    /// The connection could not be made, or was lost: the database is unreachable or gone.
    Operational(String),
    /// A connection attempt failed for a reason with a name (a SQLSTATE, a socket error, a
    /// rejected certificate): an OperationalError with that `code`.
    Connect(Box<ConnectFailure>),
    /// The client used the API wrongly (a closed connection, an unsupported server request).
    Interface(String),
    /// A programming error psycopg reports as such (e.g. autocommit changed inside a transaction).
    Programming(String),
    /// A parameter value cannot be sent as its parameter's type.
    /// `position` is 1-based, as in `$1`; the connection stays usable.
    ParamType {
        position: usize,
        pg_type: String,
        message: String,
    },
    /// A connection string or option is malformed; names the culprit.
    Config(String),
    /// A value is out of its allowed range (pool sizes, timeouts): a RangeError in JavaScript.
    Value(String),
    /// A user callback (configure, check, reset, a conninfo function) failed or misbehaved.
    Callback(String),
    /// The pool could not hand out a connection in time.
    PoolTimeout(String),
    /// The pool is closed, or not open yet.
    PoolClosed(String),
    /// The pool's waiting queue is full.
    TooManyRequests(String),
    /// The request was aborted (JavaScript's AbortSignal) before or while it ran.
    Aborted(String),
    /// `error`, with what caused it: a pool time-out with the pool's last connection failure.
    /// It is `error` in every respect; JavaScript gets `cause` as the error's `cause`.
    Caused { error: Box<Error>, cause: Box<Error> },
}

impl Error {
    pub fn operational(message: impl Into<String>) -> Self {
        Error::Operational(message.into())
    }

    pub fn interface(message: impl Into<String>) -> Self {
        Error::Interface(message.into())
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    pub fn connect(failure: ConnectFailure) -> Self {
        Error::Connect(Box::new(failure))
    }

    /// `self`, caused by `cause`.
    pub fn caused_by(self, cause: Error) -> Self {
        Error::Caused {
            error: Box::new(self),
            cause: Box::new(cause),
        }
    }

    /// The error itself, without the cause a `Caused` adds.
    pub fn itself(&self) -> &Error {
        match self {
            Error::Caused { error, .. } => error.itself(),
            other => other,
        }
    }

    /// Whether connecting again with the same parameters cannot succeed: a malformed
    /// conninfo, or a refusal that someone must fix first (see `connect_failure.rs`).
    pub fn retry_cannot_fix(&self) -> bool {
        match self.itself() {
            Error::Config(_) => true,
            Error::Connect(failure) => failure.permanent,
            _ => false,
        }
    }

    /// The code a connection failure carries: a SQLSTATE, or a socket error's name.
    pub fn connect_code(&self) -> Option<&str> {
        match self.itself() {
            Error::Connect(failure) => failure.code.as_ref().map(ConnectCode::as_str),
            _ => None,
        }
    }

    /// The JavaScript class this error becomes: the one table of it (the binding sends the name,
    /// `lib/errors.ts` makes that class), also read by log lines that name it.
    pub fn class_name(&self) -> &'static str {
        match self {
            Error::Database(db) => class_for_sqlstate(&db.sqlstate),
            Error::Operational(_) | Error::Connect(_) => "OperationalError",
            Error::Interface(_) => "InterfaceError",
            Error::Programming(_) | Error::Config(_) => "ProgrammingError",
            Error::ParamType { .. } => "TypeError",
            Error::Value(_) => "RangeError",
            Error::Callback(_) => "PgError",
            Error::PoolTimeout(_) => "PoolTimeout",
            Error::PoolClosed(_) => "PoolClosed",
            Error::TooManyRequests(_) => "TooManyRequests",
            Error::Aborted(_) => "AbortError",
            Error::Caused { error, .. } => error.class_name(),
        }
    }

    pub fn aborted() -> Self {
        Error::Aborted("the query was aborted".into())
    }

    /// The SQLSTATE of a server error, if this is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Database(db) => Some(&db.sqlstate),
            Error::Caused { error, .. } => error.sqlstate(),
            _ => None,
        }
    }
}

/// psycopg's choice of class for a server error, by its SQLSTATE class (the first two
/// characters). The one table of it: the binding sends the class name with the error, and
/// `lib/errors.ts` makes that class.
pub const SQLSTATE_CLASSES: &[(&str, &str)] = &[
    ("08", "OperationalError"),  // connection exception
    ("0A", "NotSupportedError"), // feature not supported
    ("22", "DataError"),         // data exception
    ("23", "IntegrityError"),    // integrity constraint violation
    ("24", "InternalError"),     // invalid cursor state
    ("25", "InternalError"),     // invalid transaction state
    ("26", "ProgrammingError"),  // invalid SQL statement name
    ("27", "OperationalError"),  // triggered data change violation
    ("28", "OperationalError"),  // invalid authorization specification
    ("2B", "InternalError"),     // dependent privilege descriptors still exist
    ("2D", "InternalError"),     // invalid transaction termination
    ("2F", "InternalError"),     // SQL routine exception
    ("34", "ProgrammingError"),  // invalid cursor name
    ("38", "InternalError"),     // external routine exception
    ("39", "InternalError"),     // external routine invocation exception
    ("3B", "InternalError"),     // savepoint exception
    ("3D", "ProgrammingError"),  // invalid catalog name
    ("3F", "ProgrammingError"),  // invalid schema name
    ("40", "OperationalError"),  // transaction rollback (serialization failure, deadlock)
    ("42", "ProgrammingError"),  // syntax error or access rule violation
    ("44", "ProgrammingError"),  // with check option violation
    ("53", "OperationalError"),  // insufficient resources
    ("54", "OperationalError"),  // program limit exceeded
    ("55", "OperationalError"),  // object not in prerequisite state
    ("57", "OperationalError"),  // operator intervention (cancel, shutdown, terminate)
    ("58", "OperationalError"),  // system error
    ("F0", "InternalError"),     // configuration file error
    ("HV", "OperationalError"),  // foreign data wrapper error
    ("P0", "InternalError"),     // PL/pgSQL error
    ("XX", "InternalError"),     // internal error
];

/// The class a server error with this SQLSTATE becomes; `DatabaseError` for any other class.
pub fn class_for_sqlstate(sqlstate: &str) -> &'static str {
    let class = sqlstate.get(..2).unwrap_or("");
    SQLSTATE_CLASSES
        .iter()
        .find(|(prefix, _)| *prefix == class)
        .map_or("DatabaseError", |(_, name)| name)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Database(db) => write!(f, "{}", db.message),
            Error::Operational(m)
            | Error::Interface(m)
            | Error::Programming(m)
            | Error::Config(m)
            | Error::Value(m)
            | Error::Callback(m)
            | Error::PoolTimeout(m)
            | Error::PoolClosed(m)
            | Error::TooManyRequests(m)
            | Error::Aborted(m) => f.write_str(m),
            Error::ParamType { message, .. } => f.write_str(message),
            Error::Connect(failure) => f.write_str(&failure.message),
            Error::Caused { error, .. } => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Caused { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(sqlstate: &str) -> Error {
        Error::Database(Box::new(DbError {
            sqlstate: sqlstate.into(),
            ..DbError::default()
        }))
    }

    #[test]
    fn server_errors_are_named_by_sqlstate_class() {
        for (sqlstate, class) in [
            ("57P01", "OperationalError"), // admin_shutdown: a terminated backend
            ("57014", "OperationalError"), // query_canceled
            ("22012", "DataError"),        // division_by_zero
            ("23505", "IntegrityError"),   // unique_violation
            ("42P01", "ProgrammingError"), // undefined_table
            ("40001", "OperationalError"), // serialization_failure
            ("0A000", "NotSupportedError"),
            ("25P02", "InternalError"), // in_failed_sql_transaction
            ("XX000", "InternalError"),
            ("P0001", "InternalError"), // raise_exception
            ("01000", "DatabaseError"), // a class the table leaves out
            ("", "DatabaseError"),
        ] {
            assert_eq!(server_error(sqlstate).class_name(), class, "{sqlstate}");
        }
    }

    #[test]
    fn every_error_names_a_class_lib_errors_ts_makes() {
        let made = [
            "PgError",
            "InterfaceError",
            "DatabaseError",
            "OperationalError",
            "ProgrammingError",
            "TypeError",
            "RangeError",
            "PoolTimeout",
            "PoolClosed",
            "TooManyRequests",
            "AbortError",
        ];
        let message = || "m".to_string();
        for error in [
            Error::Operational(message()),
            Error::Interface(message()),
            Error::Programming(message()),
            Error::Config(message()),
            Error::Value(message()),
            Error::Callback(message()),
            Error::PoolTimeout(message()),
            Error::PoolClosed(message()),
            Error::TooManyRequests(message()),
            Error::Aborted(message()),
        ] {
            assert!(made.contains(&error.class_name()), "{error:?}");
        }
        // A failing user callback is a PgError, as JavaScript has always made it.
        assert_eq!(Error::Callback(message()).class_name(), "PgError");
    }

    #[test]
    fn server_fields_have_one_code_and_one_name_each() {
        for (i, (code, name)) in SERVER_FIELDS.iter().enumerate() {
            assert!(
                !SERVER_FIELDS[..i].iter().any(|(c, n)| c == code || n == name),
                "{name}"
            );
            // The fields every report has are kept apart, never in this list.
            assert!(!b"SVCM".contains(code), "{name}");
        }
        let db = DbError {
            fields: vec![("routine", "r".into())],
            ..DbError::default()
        };
        assert_eq!((db.field("routine"), db.field("detail")), (Some("r"), None));
    }

    #[test]
    fn the_table_is_well_formed() {
        let classes = [
            "OperationalError",
            "NotSupportedError",
            "DataError",
            "IntegrityError",
            "InternalError",
            "ProgrammingError",
        ];
        for (i, (prefix, class)) in SQLSTATE_CLASSES.iter().enumerate() {
            assert_eq!(prefix.len(), 2, "{prefix}");
            assert!(classes.contains(class), "{prefix}: {class}");
            assert!(
                !SQLSTATE_CLASSES[..i].iter().any(|(p, _)| p == prefix),
                "{prefix} twice"
            );
            assert_eq!(class_for_sqlstate(&format!("{prefix}000")), *class);
        }
    }
}
