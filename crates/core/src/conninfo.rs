//! Connection strings, as libpq reads them: a `postgres://` URL or `key=value` pairs, with the
//! libpq environment variables (`PGHOST`, `PGPORT`, ...) filling what the string leaves out.

use std::time::Duration;

use crate::error::{Error, Result};

const DEFAULT_PORT: u16 = 5432;
/// Where libpq looks for a Unix socket when no host is given (Debian's folder, then upstream's).
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// libpq's `sslmode`: whether to use TLS and how much of the server's certificate to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// Plain first; TLS if the server refuses the plain session.
    Allow,
    /// TLS if the server accepts it; plain if it does not, or refuses the TLS session.
    Prefer,
    /// TLS, no certificate check (unless a root certificate is given: then as verify-ca).
    Require,
    /// TLS, the certificate chain checked against the root certificates.
    VerifyCa,
    /// TLS, the chain checked and the certificate's names matched against the host.
    VerifyFull,
}

impl SslMode {
    /// The name libpq gives it, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// libpq's `channel_binding`: whether SCRAM binds the authentication to the TLS channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    Disable,
    /// Bind when the server offers SCRAM-SHA-256-PLUS over TLS.
    Prefer,
    /// Refuse any authentication that is not channel-bound SCRAM.
    Require,
}

/// libpq's `target_session_attrs`: which of several hosts is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSessionAttrs {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    /// A standby if any host is one, else any host.
    PreferStandby,
}

/// Where the TLS files are. `None`: libpq's default file under `~/.postgresql/`, if it exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslFiles {
    /// A PEM file of root certificates, or `system` for the operating system's store.
    pub rootcert: Option<String>,
    /// The client certificate (PEM) and its private key (PEM), for certificate authentication.
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// One place to connect to: a TCP host or a Unix socket folder (a host starting with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// How error messages name this target: never with credentials.
    pub fn describe(&self) -> String {
        if self.is_unix_socket() {
            format!("socket \"{}/.s.PGSQL.{}\"", self.host, self.port)
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Everything needed to open a connection. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnInfo {
    pub targets: Vec<Target>,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub application_name: Option<String>,
    pub options: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub sslmode: SslMode,
    pub ssl_files: SslFiles,
    /// Send the host name in the TLS handshake (SNI), as libpq's `sslsni=1` does.
    pub sslsni: bool,
    pub channel_binding: ChannelBinding,
    pub target_session_attrs: TargetSessionAttrs,
    /// libpq's `keepalives*` and `tcp_user_timeout`: how a TCP socket finds out its peer went silent.
    pub tcp: TcpSettings,
}

/// How a TCP socket finds out its peer went silent, as libpq's keys say: `None` leaves the
/// system's setting (libpq's "0 or unset"). Unix sockets ignore them, as in libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSettings {
    /// `keepalives`: probe an idle connection at all (libpq: on unless `keepalives=0`).
    pub keepalives: bool,
    /// `keepalives_idle`: idle time before the first probe.
    pub keepalives_idle: Option<Duration>,
    /// `keepalives_interval`: time between unanswered probes.
    pub keepalives_interval: Option<Duration>,
    /// `keepalives_count`: unanswered probes before the connection is dropped.
    pub keepalives_count: Option<u32>,
    /// `tcp_user_timeout` (Linux only, as in libpq): how long sent data may stay unacknowledged.
    pub user_timeout: Option<Duration>,
}

impl Default for TcpSettings {
    fn default() -> Self {
        TcpSettings {
            keepalives: true,
            keepalives_idle: None,
            keepalives_interval: None,
            keepalives_count: None,
            user_timeout: None,
        }
    }
}

impl TcpSettings {
    /// What a pool uses where the conninfo says nothing (docs/connecting.md says why): a peer
    /// gone silent is found within about a minute, idle (30 s + 3 × 10 s of unanswered probes)
    /// or with data unacknowledged (60 s), where the system's defaults take hours or minutes.
    pub fn fill_pool_defaults(&mut self) {
        self.keepalives_idle.get_or_insert(Duration::from_secs(30));
        self.keepalives_interval.get_or_insert(Duration::from_secs(10));
        self.keepalives_count.get_or_insert(3);
        self.user_timeout.get_or_insert(Duration::from_secs(60));
    }
}

impl std::fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnInfo")
            .field("targets", &self.targets)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("connect_timeout", &self.connect_timeout)
            .field("sslmode", &self.sslmode)
            .field("ssl_files", &self.ssl_files)
            .field("sslsni", &self.sslsni)
            .field("channel_binding", &self.channel_binding)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("tcp", &self.tcp)
            .finish()
    }
}

impl ConnInfo {
    /// Parses a connection string with the process environment as defaults.
    pub fn parse(conninfo: &str) -> Result<ConnInfo> {
        Self::parse_with_env(conninfo, |name| std::env::var(name).ok())
    }

    /// Parses a connection string, taking defaults from `env` (injectable for tests).
    ///
    /// No error this returns quotes text that may be part of a password: keys are quoted only
    /// when they are (or are a near miss of) a libpq keyword, values only when they have the
    /// shape their key takes (a port is digits), and anything else is described, not echoed.
    pub fn parse_with_env(conninfo: &str, env: impl Fn(&str) -> Option<String>) -> Result<ConnInfo> {
        let trimmed = conninfo.trim();
        let is_uri = trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://");
        let pairs = if is_uri {
            parse_url(trimmed)?
        } else {
            refuse_other_uris(trimmed)?;
            parse_key_values(trimmed)?
        };
        let mut raw = RawParams::default();
        let mut previous_key = "";
        for (index, (key, value)) in pairs.iter().enumerate() {
            // A URI's keys other than its query parameters are always known ones.
            let place = if is_uri {
                "in the URI's query".to_string()
            } else {
                format!("number {}", index + 1)
            };
            raw.set(key, value.clone(), &place).map_err(|e| {
                // `password=two words` makes "words" a key: never echo what may be part of a password.
                if previous_key == "password" {
                    Error::config(format!(
                        "{AFTER_PASSWORD} (quote a value that contains spaces: password='...')"
                    ))
                } else {
                    e
                }
            })?;
            previous_key = key;
        }
        raw.fill_from_env(&env);
        raw.finish(&env)
    }
}

/// A string whose first word has a `:` is meant as a URI (no libpq keyword has one), but it is
/// not a `postgres://` or `postgresql://` one: say so, rather than read it as `key=value` text
/// and quote it (password included) as a malformed key.
fn refuse_other_uris(text: &str) -> Result<()> {
    let first_word = text.split(|c: char| c == '=' || c.is_whitespace()).next().unwrap_or("");
    if !first_word.contains(':') {
        return Ok(());
    }
    let scheme = first_word.split_once("://").map(|(scheme, _)| scheme);
    let scheme_shaped = |s: &str| {
        (1..=16).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
    };
    Err(Error::config(match scheme {
        Some(scheme) if scheme_shaped(scheme) => {
            let case = if matches!(scheme.to_ascii_lowercase().as_str(), "postgres" | "postgresql") {
                " (the scheme is lower case)"
            } else {
                ""
            };
            format!("invalid connection URI: the scheme \"{scheme}\" is not postgres:// or postgresql://{case}")
        }
        _ => "invalid connection string: it looks like a URI but does not start with postgres:// or postgresql:// \
              (the string is not shown: it may hold a password)"
            .to_string(),
    }))
}

/// The keys pgtide reads, and libpq's others (refused as unsupported): the names an error may
/// quote, with the near misses of them (a misspelt key is quoted, anything else is not).
const KEYWORDS: &[&str] = &[
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
fn quotable_key(key: &str) -> Option<String> {
    let shaped = (1..=40).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (shaped && KEYWORDS.iter().any(|known| edit_distance(key, known) <= 2)).then(|| format!("\"{key}\""))
}

/// How an error names a key: quoted (see `quotable_key`), or by its place in the string.
fn name_key(key: &str, index: usize) -> String {
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
fn quotable_value(value: &str) -> bool {
    (1..=24).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
}

const AFTER_PASSWORD: &str = "invalid connection option after the password in connection info string";

/// The recognised keys before defaults and validation; later values win, as in libpq.
#[derive(Default)]
struct RawParams {
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    options: Option<String>,
    connect_timeout: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    sslcert: Option<String>,
    sslkey: Option<String>,
    sslsni: Option<String>,
    channel_binding: Option<String>,
    target_session_attrs: Option<String>,
    keepalives: Option<String>,
    keepalives_idle: Option<String>,
    keepalives_interval: Option<String>,
    keepalives_count: Option<String>,
    tcp_user_timeout: Option<String>,
}

impl RawParams {
    /// `place`: where the key is ("number 3"), to name a key that is not quoted.
    fn set(&mut self, key: &str, value: String, place: &str) -> Result<()> {
        let slot = match key {
            "host" | "hostaddr" => &mut self.host,
            "port" => &mut self.port,
            "user" => &mut self.user,
            "password" => &mut self.password,
            "dbname" => &mut self.dbname,
            "application_name" => &mut self.application_name,
            "fallback_application_name" => &mut self.fallback_application_name,
            "options" => &mut self.options,
            "connect_timeout" => &mut self.connect_timeout,
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "sslcert" => &mut self.sslcert,
            "sslkey" => &mut self.sslkey,
            "sslsni" => &mut self.sslsni,
            "channel_binding" => &mut self.channel_binding,
            "target_session_attrs" => &mut self.target_session_attrs,
            "keepalives" => &mut self.keepalives,
            "keepalives_idle" => &mut self.keepalives_idle,
            "keepalives_interval" => &mut self.keepalives_interval,
            "keepalives_count" => &mut self.keepalives_count,
            "tcp_user_timeout" => &mut self.tcp_user_timeout,
            // Accepted for compatibility; they change nothing here.
            "client_encoding" | "gssencmode" => return Ok(()),
            _ => {
                return Err(Error::config(match quotable_key(key) {
                    Some(quoted) => format!("invalid connection option {quoted}"),
                    None => format!(
                        "invalid connection option {place} (not shown: it is no libpq keyword, and may be part of a password)"
                    ),
                }))
            }
        };
        *slot = Some(value);
        Ok(())
    }

    fn fill_from_env(&mut self, env: &impl Fn(&str) -> Option<String>) {
        let pairs: [(&mut Option<String>, &str); 15] = [
            (&mut self.host, "PGHOST"),
            (&mut self.port, "PGPORT"),
            (&mut self.user, "PGUSER"),
            (&mut self.password, "PGPASSWORD"),
            (&mut self.dbname, "PGDATABASE"),
            (&mut self.application_name, "PGAPPNAME"),
            (&mut self.options, "PGOPTIONS"),
            (&mut self.connect_timeout, "PGCONNECT_TIMEOUT"),
            (&mut self.sslmode, "PGSSLMODE"),
            (&mut self.sslrootcert, "PGSSLROOTCERT"),
            (&mut self.sslcert, "PGSSLCERT"),
            (&mut self.sslkey, "PGSSLKEY"),
            (&mut self.sslsni, "PGSSLSNI"),
            (&mut self.channel_binding, "PGCHANNELBINDING"),
            (&mut self.target_session_attrs, "PGTARGETSESSIONATTRS"),
        ];
        for (slot, name) in pairs {
            if slot.as_deref().is_none_or(str::is_empty) {
                if let Some(value) = env(name).filter(|v| !v.is_empty()) {
                    *slot = Some(value);
                }
            }
        }
    }

    fn finish(self, env: &impl Fn(&str) -> Option<String>) -> Result<ConnInfo> {
        // A URI given as a value (`host=postgres://u:pw@h`, `dbname=postgres://...`) would end
        // up, password and all, in a connection error or the server's "does not exist".
        for (key, value) in [("host", &self.host), ("user", &self.user), ("dbname", &self.dbname)] {
            if value
                .as_deref()
                .is_some_and(|v| v.contains("://") || (key == "host" && v.contains('@')))
            {
                return Err(Error::config(format!(
                    "the {key} value looks like a connection URI (not shown: it may hold a password); \
                     give the URI as the whole connection string"
                )));
            }
        }
        let tcp = self.tcp_settings()?;
        let ports = match self.port.as_deref().filter(|p| !p.is_empty()) {
            None => vec![DEFAULT_PORT],
            Some(list) => list.split(',').map(parse_port).collect::<Result<Vec<_>>>()?,
        };
        let hosts: Vec<String> = match self.host.as_deref().filter(|h| !h.is_empty()) {
            Some(list) => list.split(',').map(|h| h.trim().to_string()).collect(),
            None => vec![default_host(ports[0])],
        };
        if ports.len() != 1 && ports.len() != hosts.len() {
            return Err(Error::config(format!(
                "could not match {} port numbers to {} hosts",
                ports.len(),
                hosts.len()
            )));
        }
        let targets = hosts
            .into_iter()
            .enumerate()
            .map(|(i, host)| Target {
                host: if host.is_empty() {
                    default_host(DEFAULT_PORT)
                } else {
                    host
                },
                port: if ports.len() == 1 { ports[0] } else { ports[i] },
            })
            .collect();
        let user = self
            .user
            .filter(|u| !u.is_empty())
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".to_string());
        let connect_timeout = match self.connect_timeout.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let seconds: i64 = text.parse().map_err(|_| {
                    Error::config(if quotable_value(text) {
                        format!("invalid integer value \"{text}\" for connection option \"connect_timeout\"")
                    } else {
                        "invalid integer value for connection option \"connect_timeout\" (a number of seconds)"
                            .to_string()
                    })
                })?;
                // libpq: zero or negative means wait indefinitely; below 2 s is raised to 2 s.
                (seconds > 0).then(|| Duration::from_secs(seconds.max(2) as u64))
            }
        };
        let system_roots = self.sslrootcert.as_deref() == Some("system");
        let sslmode = match self.sslmode.as_deref() {
            // libpq 16: trusting the whole system store only makes sense with the host name checked.
            None if system_roots => SslMode::VerifyFull,
            value => choose("sslmode", value, SslMode::Prefer, SSL_MODES)?,
        };
        if system_roots && sslmode != SslMode::VerifyFull {
            let weak = self.sslmode.unwrap_or_default();
            return Err(Error::config(format!(
                "weak sslmode \"{weak}\" may not be used with sslrootcert=system (use \"verify-full\")"
            )));
        }
        let sslsni = choose("sslsni", self.sslsni.as_deref(), true, &[("1", true), ("0", false)])?;
        let channel_binding = choose(
            "channel_binding",
            self.channel_binding.as_deref(),
            ChannelBinding::Prefer,
            CHANNEL_BINDINGS,
        )?;
        let target_session_attrs = choose(
            "target_session_attrs",
            self.target_session_attrs.as_deref(),
            TargetSessionAttrs::Any,
            TARGET_SESSION_ATTRS,
        )?;
        Ok(ConnInfo {
            targets,
            dbname: self.dbname.filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone()),
            user,
            password: self.password,
            application_name: self
                .application_name
                .filter(|a| !a.is_empty())
                .or(self.fallback_application_name),
            options: self.options,
            connect_timeout,
            sslmode,
            ssl_files: SslFiles {
                rootcert: self.sslrootcert.filter(|p| !p.is_empty()),
                cert: self.sslcert.filter(|p| !p.is_empty()),
                key: self.sslkey.filter(|p| !p.is_empty()),
            },
            sslsni,
            channel_binding,
            target_session_attrs,
            tcp,
        })
    }

    /// The keepalive keys as libpq reads them: whole numbers, seconds (`tcp_user_timeout`:
    /// milliseconds); zero or unset leaves the system's value; `keepalives=0` turns probes off.
    fn tcp_settings(&self) -> Result<TcpSettings> {
        // Checked as a number; `whole_number` reads 0 as unset, and 0 is what turns probes off.
        whole_number("keepalives", self.keepalives.as_deref())?;
        let keepalives = self
            .keepalives
            .as_deref()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .is_none_or(|on| on != 0);
        let seconds = |key, value| Ok::<_, Error>(whole_number(key, value)?.map(Duration::from_secs));
        Ok(TcpSettings {
            keepalives,
            keepalives_idle: seconds("keepalives_idle", self.keepalives_idle.as_deref())?,
            keepalives_interval: seconds("keepalives_interval", self.keepalives_interval.as_deref())?,
            keepalives_count: whole_number("keepalives_count", self.keepalives_count.as_deref())?
                .map(|count| count.min(u64::from(u32::MAX)) as u32),
            user_timeout: whole_number("tcp_user_timeout", self.tcp_user_timeout.as_deref())?
                .map(Duration::from_millis),
        })
    }
}

/// A non-negative integer setting; `None` for unset, empty or zero (libpq's "system default").
fn whole_number(key: &str, value: Option<&str>) -> Result<Option<u64>> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(n) => Ok((n > 0).then_some(n as u64)),
        Err(_) => Err(Error::config(if quotable_value(text) {
            format!("invalid integer value \"{text}\" for connection option \"{key}\"")
        } else {
            format!("invalid integer value for connection option \"{key}\"")
        })),
    }
}

const SSL_MODES: &[(&str, SslMode)] = &[
    ("disable", SslMode::Disable),
    ("allow", SslMode::Allow),
    ("prefer", SslMode::Prefer),
    ("require", SslMode::Require),
    ("verify-ca", SslMode::VerifyCa),
    ("verify-full", SslMode::VerifyFull),
];

const CHANNEL_BINDINGS: &[(&str, ChannelBinding)] = &[
    ("disable", ChannelBinding::Disable),
    ("prefer", ChannelBinding::Prefer),
    ("require", ChannelBinding::Require),
];

const TARGET_SESSION_ATTRS: &[(&str, TargetSessionAttrs)] = &[
    ("any", TargetSessionAttrs::Any),
    ("read-write", TargetSessionAttrs::ReadWrite),
    ("read-only", TargetSessionAttrs::ReadOnly),
    ("primary", TargetSessionAttrs::Primary),
    ("standby", TargetSessionAttrs::Standby),
    ("prefer-standby", TargetSessionAttrs::PreferStandby),
];

/// One of a key's allowed values (unset or empty: the default), or an error naming key and value.
fn choose<T: Copy>(key: &str, value: Option<&str>, default: T, allowed: &[(&str, T)]) -> Result<T> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    match allowed.iter().find(|(name, _)| *name == value) {
        Some((_, choice)) => Ok(*choice),
        None => {
            let names: Vec<&str> = allowed.iter().map(|(name, _)| *name).collect();
            // The value the string gives this key, quoted if shaped like a setting: no misreading
            // puts a piece of a password there (see `parse_with_env`).
            let shown = if quotable_value(value) {
                format!("\"{value}\"")
            } else {
                "(not shown)".to_string()
            };
            Err(Error::config(format!(
                "invalid {key} value: {shown} (expected one of: {})",
                names.join(", ")
            )))
        }
    }
}

fn parse_port(text: &str) -> Result<u16> {
    let text = text.trim();
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        // Only digits are quoted: in a URI missing its '@', the "port" is the password.
        _ if (1..=12).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit() || b == b'-') => {
            Err(Error::config(format!("invalid port number: \"{text}\"")))
        }
        _ => Err(Error::config(
            "invalid port number: not a number (not shown; a URI's password goes in user:password@host)",
        )),
    }
}

fn default_host(port: u16) -> String {
    DEFAULT_SOCKET_DIRS
        .iter()
        .find(|dir| std::path::Path::new(&format!("{dir}/.s.PGSQL.{port}")).exists())
        .map_or_else(|| "localhost".to_string(), |dir| dir.to_string())
}

/// `key=value key2='quoted \' value'`, as libpq accepts it.
fn parse_key_values(text: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let index = pairs.len() + 1;
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            // After `password=two words`, "words" may be part of the password: do not echo it.
            let after_password = pairs.last().is_some_and(|(k, _): &(String, String)| k == "password");
            return Err(Error::config(if after_password {
                "missing \"=\" after the password in connection info string (quote a value that contains spaces: password='...')".to_string()
            } else {
                format!(
                    "missing \"=\" after key {} in connection info string",
                    name_key(&key, index)
                )
            }));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::config(format!(
                            "unterminated quoted string in connection info string (the value of key {})",
                            name_key(&key, index)
                        )))
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// `postgres://user:password@host1:port1,host2/dbname?key=value`, percent-decoded.
fn parse_url(url: &str) -> Result<Vec<(String, String)>> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let mut pairs = Vec::new();
    // Credentials end at the last '@' before any '/' (libpq stops at the first), so '?', ':' or
    // '@' may stand unencoded in a password; the host list ends at '/' or '?'.
    let before_path = rest.split_once('/').map_or(rest, |(before, _)| before);
    let rest = match before_path.rsplit_once('@') {
        Some((userinfo, _)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            if !user.is_empty() {
                pairs.push(("user".to_string(), percent_decode(user, "user")?));
            }
            if userinfo.contains(':') {
                pairs.push(("password".to_string(), percent_decode(password, "password")?));
            }
            &rest[userinfo.len() + 1..]
        }
        None => rest,
    };
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (hostlist, rest) = rest.split_at(host_end);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let dbname = path.strip_prefix('/').unwrap_or(path);
    // No '@' before the first '/', yet one after it, with a ':' in the host part: most likely
    // `user:pass/word@host`, the "host:port" being the user and the start of the password.
    let host_with_colon = hostlist
        .split(',')
        .any(|entry| !entry.starts_with('[') && entry.contains(':'));
    let misplaced_at = !before_path.contains('@') && rest.contains('@') && host_with_colon;
    if dbname.contains('@') || misplaced_at {
        // Most likely a password with a raw '/': the parts around it are not echoed.
        return Err(Error::config(
            "invalid connection URI: '@' after the host part; percent-encode '/' and '@' in the user name and password (as %2F and %40)",
        ));
    }
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for (index, entry) in hostlist.split(',').enumerate() {
            let (host, port) = split_host_port(entry, index + 1)?;
            hosts.push(percent_decode(host, "host")?);
            ports.push(port.to_string());
        }
        pairs.push(("host".to_string(), hosts.join(",")));
        if ports.iter().any(|p| !p.is_empty()) {
            let ports: Vec<String> = ports
                .into_iter()
                .map(|p| if p.is_empty() { DEFAULT_PORT.to_string() } else { p })
                .collect();
            pairs.push(("port".to_string(), ports.join(",")));
        }
    }
    if !dbname.is_empty() {
        pairs.push(("dbname".to_string(), percent_decode(dbname, "dbname")?));
    }
    for (index, param) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        let (key, value) = param.split_once('=').ok_or_else(|| {
            Error::config(format!(
                "missing \"=\" in connection URI query parameter {}",
                name_key(param, index + 1)
            ))
        })?;
        let key = percent_decode(key, "query parameter")?;
        let value = percent_decode(
            value,
            &format!("value of query parameter {}", name_key(&key, index + 1)),
        )?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn split_host_port(entry: &str, index: usize) -> Result<(&str, &str)> {
    if let Some(bracketed) = entry.strip_prefix('[') {
        // The entry is not quoted: without a user:password@ before it, it may be the password.
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| Error::config(format!("missing \"]\" in IPv6 host address number {index} of the URI")))?;
        return Ok((host, after.strip_prefix(':').unwrap_or("")));
    }
    Ok(entry.split_once(':').unwrap_or((entry, "")))
}

fn percent_decode(text: &str, what: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            let byte = hex.ok_or_else(|| {
                Error::config(format!(
                    "invalid percent-encoded token in the {what} of a connection URI"
                ))
            })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::config(format!("the {what} of a connection URI is not valid UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConnInfo> {
        ConnInfo::parse_with_env(text, |name| match name {
            "USER" => Some("alice".to_string()),
            _ => None,
        })
    }

    #[test]
    fn url_with_everything() {
        let info =
            parse("postgresql://bob:s%40cret@db.example:6543/shop?application_name=web&connect_timeout=5").unwrap();
        assert_eq!(
            info.targets,
            vec![Target {
                host: "db.example".into(),
                port: 6543
            }]
        );
        assert_eq!(info.user, "bob");
        assert_eq!(info.password.as_deref(), Some("s@cret"));
        assert_eq!(info.dbname, "shop");
        assert_eq!(info.application_name.as_deref(), Some("web"));
        assert_eq!(info.connect_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn url_with_several_hosts_and_ipv6() {
        let info = parse("postgres://h1:5433,[::1]:5434,h3/db").unwrap();
        let ports: Vec<u16> = info.targets.iter().map(|t| t.port).collect();
        assert_eq!(ports, vec![5433, 5434, 5432]);
        assert_eq!(info.targets[1].host, "::1");
        assert_eq!(info.targets[1].describe(), "[::1]:5434");
    }

    #[test]
    fn key_values_with_quotes_and_defaults() {
        let info = parse(r"host=127.0.0.1 port = 5544 password='it\'s' options='-c x=1'").unwrap();
        assert_eq!(info.password.as_deref(), Some("it's"));
        assert_eq!(info.options.as_deref(), Some("-c x=1"));
        assert_eq!(info.user, "alice");
        assert_eq!(info.dbname, "alice");
    }

    #[test]
    fn environment_fills_the_gaps() {
        let info = ConnInfo::parse_with_env("dbname=x", |name| match name {
            "PGHOST" => Some("envhost".into()),
            "PGPORT" => Some("7777".into()),
            "PGUSER" => Some("carol".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            info.targets,
            vec![Target {
                host: "envhost".into(),
                port: 7777
            }]
        );
        assert_eq!(info.user, "carol");
        assert_eq!(info.dbname, "x");
    }

    #[test]
    fn errors_name_the_culprit() {
        let err = parse("host=x dbnmae=1").unwrap_err();
        assert_eq!(err.to_string(), "invalid connection option \"dbnmae\"");
        let err = parse("host=x sslcrl=/crl.pem").unwrap_err();
        assert_eq!(err.to_string(), "invalid connection option \"sslcrl\"");
        // Not a keyword nor a near miss of one: named by its place, not quoted.
        let err = parse("host=x bogus=1").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid connection option number 2 "),
            "{err}"
        );
        let err = parse("postgres://h/db?bogus=1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid connection option in the URI's query "),
            "{err}"
        );
        let err = parse("port=99999").unwrap_err();
        assert_eq!(err.to_string(), "invalid port number: \"99999\"");
        let err = parse("host=x dbname").unwrap_err();
        assert!(err.to_string().contains("\"dbname\""), "{err}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let info = parse("postgres://u:hunter2@h/d?sslmode=require&options=-c%20x%3D1").unwrap();
        let debug = format!("{info:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("Require") && debug.contains("-c x=1"), "{debug}");
    }

    #[test]
    fn tls_and_session_keys() {
        let info = parse(
            "host=db port=5433 sslmode=verify-full sslrootcert=/ca.pem sslcert=/c.pem sslkey=/c.key sslsni=0 \
             channel_binding=require target_session_attrs=read-write fallback_application_name=tool",
        )
        .unwrap();
        assert_eq!(info.sslmode, SslMode::VerifyFull);
        assert_eq!(
            info.ssl_files,
            SslFiles {
                rootcert: Some("/ca.pem".into()),
                cert: Some("/c.pem".into()),
                key: Some("/c.key".into()),
            }
        );
        assert!(!info.sslsni);
        assert_eq!(info.channel_binding, ChannelBinding::Require);
        assert_eq!(info.target_session_attrs, TargetSessionAttrs::ReadWrite);
        assert_eq!(info.application_name.as_deref(), Some("tool"));
        let defaults = parse("host=db").unwrap();
        assert_eq!(
            (
                defaults.sslmode,
                defaults.sslsni,
                defaults.channel_binding,
                defaults.target_session_attrs
            ),
            (SslMode::Prefer, true, ChannelBinding::Prefer, TargetSessionAttrs::Any)
        );
        assert_eq!(defaults.ssl_files, SslFiles::default());
    }

    #[test]
    fn environment_for_tls_and_hosts() {
        let info = ConnInfo::parse_with_env("host=a,b", |name| {
            let value = match name {
                "PGSSLMODE" => "verify-ca",
                "PGSSLROOTCERT" => "/env-ca.pem",
                "PGSSLCERT" => "/env.crt",
                "PGSSLKEY" => "/env.key",
                "PGCHANNELBINDING" => "disable",
                "PGTARGETSESSIONATTRS" => "prefer-standby",
                "PGCONNECT_TIMEOUT" => "1",
                "PGOPTIONS" => "-c work_mem=64MB",
                "PGAPPNAME" => "env-app",
                "PGPASSWORD" => "from-env",
                _ => return None,
            };
            Some(value.to_string())
        })
        .unwrap();
        assert_eq!(info.sslmode, SslMode::VerifyCa);
        assert_eq!(info.ssl_files.rootcert.as_deref(), Some("/env-ca.pem"));
        assert_eq!(info.ssl_files.cert.as_deref(), Some("/env.crt"));
        assert_eq!(info.ssl_files.key.as_deref(), Some("/env.key"));
        assert_eq!(info.channel_binding, ChannelBinding::Disable);
        assert_eq!(info.target_session_attrs, TargetSessionAttrs::PreferStandby);
        assert_eq!(
            info.connect_timeout,
            Some(Duration::from_secs(2)),
            "libpq raises 1 s to 2 s"
        );
        assert_eq!(info.options.as_deref(), Some("-c work_mem=64MB"));
        assert_eq!(info.application_name.as_deref(), Some("env-app"));
        assert_eq!(info.password.as_deref(), Some("from-env"));
        assert_eq!(info.targets.len(), 2);
    }

    #[test]
    fn sslmode_names_read_back() {
        for (name, mode) in SSL_MODES {
            assert_eq!(mode.as_str(), *name);
            assert_eq!(parse(&format!("sslmode={name}")).unwrap().sslmode, *mode);
        }
    }

    #[test]
    fn sslrootcert_system_means_verify_full() {
        assert_eq!(parse("sslrootcert=system").unwrap().sslmode, SslMode::VerifyFull);
        let err = parse("sslrootcert=system sslmode=verify-ca").unwrap_err();
        assert_eq!(
            err.to_string(),
            "weak sslmode \"verify-ca\" may not be used with sslrootcert=system (use \"verify-full\")"
        );
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let cases = [
            ("sslmode=on", "invalid sslmode value: \"on\""),
            (
                "target_session_attrs=primary-ish",
                "invalid target_session_attrs value: \"primary-ish\"",
            ),
            ("channel_binding=yes", "invalid channel_binding value: \"yes\""),
            ("sslsni=true", "invalid sslsni value: \"true\""),
        ];
        for (text, start) in cases {
            let err = parse(text).unwrap_err();
            assert!(matches!(err, Error::Config(_)));
            assert!(err.to_string().starts_with(start), "{err}");
        }
    }

    #[test]
    fn url_passwords_with_special_characters() {
        let info = parse("postgres://u:p?a:s@s@h:5433/db?sslmode=disable").unwrap();
        assert_eq!(info.password.as_deref(), Some("p?a:s@s"));
        assert_eq!(info.targets[0].host, "h");
        assert_eq!(info.sslmode, SslMode::Disable);
    }

    #[test]
    fn malformed_strings_never_echo_what_may_be_a_password() {
        for text in [
            "password=two secret-words",
            "password=two secret-words=x",
            "postgres://u:two/secret-words@h/db",
        ] {
            let err = parse(text).unwrap_err();
            assert!(matches!(err, Error::Config(_)));
            assert!(!err.to_string().contains("secret"), "{text}: {err}");
        }
    }

    #[test]
    fn wrong_schemes_say_so() {
        for (text, scheme) in [
            ("postgress://u:pw@h/db", "postgress"),
            ("postgre://u:pw@h/db", "postgre"),
            ("pg://u:pw@h/db", "pg"),
            ("http://h", "http"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("the scheme \"{scheme}\" is not postgres:// or postgresql://")),
                "{text}: {err}"
            );
        }
        let err = parse("POSTGRES://u:pw@h/db").unwrap_err().to_string();
        assert!(err.contains("lower case"), "{err}");
        let err = parse("postgres:/u:pw@h/db").unwrap_err().to_string();
        assert!(err.contains("does not start with postgres://"), "{err}");
    }

    /// Every malformed string holding a password: the error never shows it, nor any piece of it
    /// longer than a few characters.
    #[test]
    fn no_error_ever_shows_the_password() {
        const SECRET: &str = "Zq7secretXw";
        let templates = [
            // Wrong or broken schemes: read as key=value text, the whole string was quoted.
            "postgress://u:{}@h/db",
            "postgre://u:{}@h/db",
            "pg://u:{}@h/db",
            "POSTGRES://u:{}@h/db",
            "Postgresql://u:{}@h/db",
            "postgres:/u:{}@h/db",
            "postgres:u:{}@h/db",
            "postgres//u:{}@h/db",
            "://u:{}@h/db",
            "u:{}@h/db",
            " postgresql:// u:{}@h",
            "jdbc:postgresql://h/db?user=u&password={}",
            // The password as a key, or where a key or value is expected.
            "{}",
            "{}=1",
            "host=h {}",
            "host=h {}=x",
            "host=h '{}'",
            "host=h {}='unterminated",
            "password {}",
            "password={} {}",
            "password={} more words",
            "password='{}",
            "password={}' x",
            "port={}",
            // The rest of a password broken by a space. (A value the string gives its own key,
            // `sslmode=sometimes`, is quoted when shaped like a setting.)
            "password=x {}",
            "host=postgres://u:{}@h/db",
            "dbname=postgresql://u:{}@h/db",
            "host=u:{}@h",
            // URIs whose password is malformed or misplaced.
            "postgres://u:{}",
            "postgres://u:{}/db",
            "postgres://u:pa/{}@h/db",
            "postgres://u:pa/ss?{}@h",
            "postgres://u:pa/ss?{}=1@h",
            "postgres://u:12/34?application_name={}@h",
            "postgres://[u:{}@",
            "postgres://[u:{}/db",
            "postgres://u:{}%zz@h/db",
            "postgres://u:{}%ff@h/db",
            "postgres://h/db?{}",
            "postgres://h/db?{}=x",
            "postgres://h/db?port={}",
            "postgres://h/db?{}=%zz",
            "postgres://u:{}@h:port/db",
            "postgres://u:{}@[::1/db",
            "postgres://u:{}@h/db?x",
            "postgres://u:{}@h/db?sslmode=on",
            "postgres://u:{}@h/db?connect_timeout=soon",
        ];
        for template in templates {
            let text = template.replace("{}", SECRET);
            // A few parse (the secret is then a password or a user name): their Debug is checked.
            let shown = match parse(&text) {
                Ok(info) => format!(
                    "{:?}",
                    ConnInfo {
                        user: String::new(),
                        ..info
                    }
                ),
                Err(err) => format!("{err} {err:?}"),
            };
            for piece in [SECRET, "Zq7sec", "secret", "cretXw"] {
                assert!(!shown.contains(piece), "{text}: {shown}");
            }
        }
    }

    #[test]
    fn keepalive_keys_are_read_as_libpq_reads_them() {
        let info = parse(
            "host=h keepalives=1 keepalives_idle=7 keepalives_interval=2 keepalives_count=4 tcp_user_timeout=1500",
        )
        .unwrap();
        assert_eq!(
            info.tcp,
            TcpSettings {
                keepalives: true,
                keepalives_idle: Some(Duration::from_secs(7)),
                keepalives_interval: Some(Duration::from_secs(2)),
                keepalives_count: Some(4),
                user_timeout: Some(Duration::from_millis(1500)),
            }
        );
        assert_eq!(parse("postgres://h/db").unwrap().tcp, TcpSettings::default());
        assert!(!parse("postgres://h/db?keepalives=0").unwrap().tcp.keepalives);
        // Zero means the system's value, as in libpq.
        let zero = parse("postgres://h/db?keepalives_idle=0&tcp_user_timeout=0")
            .unwrap()
            .tcp;
        assert_eq!((zero.keepalives_idle, zero.user_timeout), (None, None));
        let err = parse("host=h keepalives_count=many").unwrap_err().to_string();
        assert!(err.contains("\"many\"") && err.contains("keepalives_count"), "{err}");
    }

    #[test]
    fn pool_defaults_fill_only_what_the_conninfo_leaves_out() {
        let mut tcp = parse("host=h keepalives_idle=5").unwrap().tcp;
        tcp.fill_pool_defaults();
        assert_eq!(tcp.keepalives_idle, Some(Duration::from_secs(5)));
        assert_eq!(tcp.keepalives_interval, Some(Duration::from_secs(10)));
        assert_eq!(tcp.keepalives_count, Some(3));
        assert_eq!(tcp.user_timeout, Some(Duration::from_secs(60)));
    }
}
