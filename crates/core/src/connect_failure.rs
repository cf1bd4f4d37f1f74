//! Why a connection attempt failed, as a code a program can act on, and whether trying again
//! with the same parameters could ever succeed. A pool uses the latter to fail its waiting
//! clients at once instead of letting them wait out their timeout (see `pool/failfast.rs`).

use std::io;

/// A failed connection attempt: the message says what happened, `code` names it for programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFailure {
    pub message: String,
    pub code: Option<ConnectCode>,
    /// Retrying with the same parameters cannot succeed (a wrong password, an unknown
    /// database, a rejected certificate); someone has to change something first.
    pub permanent: bool,
}

/// What `ConnectFailure::code` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectCode {
    /// The server refused the session with this SQLSTATE (28P01, 3D000, 57P03...).
    Sqlstate(String),
    /// The socket failed, named as Node names it (ECONNREFUSED, ENOTFOUND, ETIMEDOUT...).
    Socket(&'static str),
    /// The server's certificate was rejected, named as Node's TLS names it.
    Certificate(&'static str),
}

impl ConnectCode {
    pub fn as_str(&self) -> &str {
        match self {
            ConnectCode::Sqlstate(sqlstate) => sqlstate,
            ConnectCode::Socket(name) | ConnectCode::Certificate(name) => name,
        }
    }
}

impl ConnectFailure {
    /// The server refused the session (an ErrorResponse before ReadyForQuery).
    pub fn refused_by_server(message: String, sqlstate: String) -> ConnectFailure {
        ConnectFailure {
            message,
            permanent: permanent_refusal(&sqlstate),
            code: Some(ConnectCode::Sqlstate(sqlstate)),
        }
    }

    /// The socket could not be opened or set up. Always worth retrying: servers restart.
    pub fn socket(message: String, error: &io::Error) -> ConnectFailure {
        ConnectFailure {
            message,
            code: socket_code(error).map(ConnectCode::Socket),
            permanent: false,
        }
    }

    /// `connect_timeout` ran out.
    pub fn timed_out(message: String) -> ConnectFailure {
        ConnectFailure {
            message,
            code: Some(ConnectCode::Socket("ETIMEDOUT")),
            permanent: false,
        }
    }

    /// The server's certificate failed the check `sslmode` asks for: the same certificate
    /// will fail it again.
    pub fn certificate(message: String, code: &'static str) -> ConnectFailure {
        ConnectFailure {
            message,
            code: Some(ConnectCode::Certificate(code)),
            permanent: true,
        }
    }
}

/// Refusals no retry fixes: class 28 (invalid authorization: a wrong password, an unknown
/// role, no pg_hba.conf entry), 3D000 (no such database) and 42501 (no CONNECT privilege).
/// Anything else (57P03 the database is starting up, 53300 too many connections...) may pass.
pub fn permanent_refusal(sqlstate: &str) -> bool {
    sqlstate.starts_with("28") || sqlstate == "3D000" || sqlstate == "42501"
}

/// Node's name for a socket error (its `code`), where there is one. Host-name lookups fail
/// without an OS error kind: std reports them by message.
pub fn socket_code(error: &io::Error) -> Option<&'static str> {
    use io::ErrorKind::*;
    let name = match error.kind() {
        ConnectionRefused => "ECONNREFUSED",
        ConnectionReset => "ECONNRESET",
        ConnectionAborted => "ECONNABORTED",
        TimedOut => "ETIMEDOUT",
        NotFound => "ENOENT",
        PermissionDenied => "EACCES",
        HostUnreachable => "EHOSTUNREACH",
        NetworkUnreachable => "ENETUNREACH",
        NetworkDown => "ENETDOWN",
        AddrNotAvailable => "EADDRNOTAVAIL",
        BrokenPipe => "EPIPE",
        UnexpectedEof => "ECONNRESET",
        _ if error.to_string().contains("failed to lookup address") => "ENOTFOUND",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_no_retry_fixes_are_permanent() {
        for sqlstate in ["28P01", "28000", "3D000", "42501"] {
            assert!(permanent_refusal(sqlstate), "{sqlstate}");
        }
        // Starting up, shutting down, too many clients, out of memory: a retry may pass.
        for sqlstate in ["57P03", "57P01", "53300", "53200", "08006", "XX000", ""] {
            assert!(!permanent_refusal(sqlstate), "{sqlstate}");
        }
    }

    #[test]
    fn a_server_refusal_carries_its_sqlstate() {
        let failure = ConnectFailure::refused_by_server("FATAL:  no".into(), "28P01".into());
        assert_eq!(failure.code.as_ref().map(ConnectCode::as_str), Some("28P01"));
        assert!(failure.permanent);
        let busy = ConnectFailure::refused_by_server("FATAL:  busy".into(), "53300".into());
        assert!(!busy.permanent);
    }

    #[test]
    fn socket_errors_are_named_as_node_names_them_and_are_transient() {
        for (kind, name) in [
            (io::ErrorKind::ConnectionRefused, "ECONNREFUSED"),
            (io::ErrorKind::ConnectionReset, "ECONNRESET"),
            (io::ErrorKind::TimedOut, "ETIMEDOUT"),
            (io::ErrorKind::NotFound, "ENOENT"),
        ] {
            let failure = ConnectFailure::socket("x".into(), &io::Error::from(kind));
            assert_eq!(failure.code, Some(ConnectCode::Socket(name)));
            assert!(!failure.permanent);
        }
        let lookup = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(socket_code(&lookup), Some("ENOTFOUND"));
        assert_eq!(socket_code(&io::Error::other("something else")), None);
    }

    #[test]
    fn a_refused_os_error_is_econnrefused() {
        let refused = io::Error::from_raw_os_error(libc_econnrefused());
        assert_eq!(socket_code(&refused), Some("ECONNREFUSED"));
    }

    /// ECONNREFUSED's number on the platforms pgtide builds for.
    fn libc_econnrefused() -> i32 {
        if cfg!(target_os = "linux") {
            111
        } else if cfg!(windows) {
            10061
        } else {
            61
        }
    }

    #[test]
    fn a_rejected_certificate_is_permanent() {
        let failure = ConnectFailure::certificate("bad".into(), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
        assert!(failure.permanent);
        assert_eq!(failure.code.unwrap().as_str(), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    }
}
