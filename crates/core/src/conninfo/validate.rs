//! From the keys as text to `ConnInfo`: libpq's defaults, and every value checked with an error
//! that names its key (and quotes the value only when it is shaped like a setting).

use std::time::Duration;

use super::keywords::quotable_value;
use super::raw::RawParams;
use super::target::targets;
use super::{ChannelBinding, ConnInfo, LoadBalanceHosts, SslFiles, SslMode, TargetSessionAttrs};
use crate::error::{Error, Result};

impl RawParams {
    /// Defaults filled in and every value checked: the connection string as `ConnInfo`.
    pub(super) fn finish(self, env: &impl Fn(&str) -> Option<String>) -> Result<ConnInfo> {
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
        let targets = targets(&self)?;
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
        let load_balance_hosts = choose(
            "load_balance_hosts",
            self.load_balance_hosts.as_deref(),
            LoadBalanceHosts::Disable,
            &[
                ("disable", LoadBalanceHosts::Disable),
                ("random", LoadBalanceHosts::Random),
            ],
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
            load_balance_hosts,
            tcp,
        })
    }
}

pub(super) const SSL_MODES: &[(&str, SslMode)] = &[
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
