//! The engine's errors. Each kind maps to one JavaScript class in `lib/errors.ts`
//! (the binding carries the kind across), so the split here follows psycopg's hierarchy.

use std::fmt;

/// A server-side error report (ErrorResponse), every field the server sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbError {
    pub severity: String,
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub position: Option<String>,
    pub internal_position: Option<String>,
    pub internal_query: Option<String>,
    pub where_: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub data_type: Option<String>,
    pub constraint: Option<String>,
    pub file: Option<String>,
    pub line: Option<String>,
    pub routine: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server rejected a statement; the connection is still usable.
    Database(Box<DbError>),
    /// The connection could not be made, or was lost: the database is unreachable or gone.
    Operational(String),
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

    /// The JavaScript class this error becomes, for log lines that name it.
    pub fn class_name(&self) -> &'static str {
        match self {
            Error::Database(_) => "DatabaseError",
            Error::Operational(_) => "OperationalError",
            Error::Interface(_) => "InterfaceError",
            Error::Programming(_) | Error::Config(_) => "ProgrammingError",
            Error::ParamType { .. } => "TypeError",
            Error::Value(_) => "RangeError",
            Error::Callback(_) => "Error",
            Error::PoolTimeout(_) => "PoolTimeout",
            Error::PoolClosed(_) => "PoolClosed",
            Error::TooManyRequests(_) => "TooManyRequests",
            Error::Aborted(_) => "AbortError",
        }
    }

    pub fn aborted() -> Self {
        Error::Aborted("the query was aborted".into())
    }

    /// The SQLSTATE of a server error, if this is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Database(db) => Some(&db.sqlstate),
            _ => None,
        }
    }
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
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
