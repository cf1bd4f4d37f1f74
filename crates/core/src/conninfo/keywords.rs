//! The keys libpq knows, and what an error may show of a connection string: a key only when it
//! is (or nearly is) a libpq keyword, a value only when it has the shape of a setting. Anything
//! else may be a piece of a password, and is described, never echoed.

/// The keys pgtide reads, and libpq's others (refused as unsupported): the names an error may
/// quote, with the near misses of them (a misspelt key is quoted, anything else is not).
pub(super) const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "application_name",
    "fallback_application_name",
    "options",
    "connect_timeout",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslsni",
    "channel_binding",
    "target_session_attrs",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "gssencmode",
    "gsslib",
    "gssdelegation",
    "krbsrvname",
    "passfile",
    "service",
    "replication",
    "require_auth",
    "requirepeer",
    "load_balance_hosts",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcompression",
    "sslcertmode",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "tcp_user_timeout",
];

/// `key`, quoted, if an error may show it: a libpq keyword or a near miss of one (at most two
/// edits from it). Anything else may be a piece of a password, and is not shown.
pub(super) fn quotable_key(key: &str) -> Option<String> {
    let shaped = (1..=40).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (shaped && KEYWORDS.iter().any(|known| edit_distance(key, known) <= 2)).then(|| format!("\"{key}\""))
}

/// How an error names a key: quoted (see `quotable_key`), or by its place in the string.
pub(super) fn name_key(key: &str, index: usize) -> String {
    quotable_key(key)
        .unwrap_or_else(|| format!("number {index} (not shown: it is no libpq keyword, and may be part of a password)"))
}

/// Levenshtein distance, for short ASCII words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Whether a value may be quoted in an error about its own key: a short word of letters,
/// digits, `-`, `_`, `.`, `+` (what every setting's values are made of), without spaces.
pub(super) fn quotable_value(value: &str) -> bool {
    (1..=24).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
}

pub(super) const AFTER_PASSWORD: &str = "invalid connection option after the password in connection info string";
