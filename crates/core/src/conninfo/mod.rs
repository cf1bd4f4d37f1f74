//! Connection strings, as libpq reads them: a `postgres://` URL or `key=value` pairs, with the
//! libpq environment variables (`PGHOST`, `PGPORT`, ...) filling what the string leaves out.

mod key_values;
mod keywords;
mod raw;
mod target;
mod tcp;
#[cfg(test)]
mod tests;
mod uri;
mod validate;

use std::time::Duration;

use crate::error::{Error, Result};
use keywords::AFTER_PASSWORD;
use raw::RawParams;
pub use target::Target;
pub use tcp::TcpSettings;

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

/// libpq 16's `load_balance_hosts`: the order several hosts are tried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalanceHosts {
    /// As listed.
    Disable,
    /// Shuffled anew for every connection, spreading a pool's connections over the hosts.
    Random,
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
    pub load_balance_hosts: LoadBalanceHosts,
    /// libpq's `keepalives*` and `tcp_user_timeout`: how a TCP socket finds out its peer went silent.
    pub tcp: TcpSettings,
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
            .field("load_balance_hosts", &self.load_balance_hosts)
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
            uri::parse_url(trimmed)?
        } else {
            uri::refuse_other_uris(trimmed)?;
            key_values::parse_key_values(trimmed)?
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
