//! The recognised keys of a connection string as text, from the string then the environment.

use super::keywords::quotable_key;
use crate::error::{Error, Result};

/// The recognised keys before defaults and validation; later values win, as in libpq.
#[derive(Default)]
pub(super) struct RawParams {
    pub(super) host: Option<String>,
    pub(super) hostaddr: Option<String>,
    pub(super) port: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) dbname: Option<String>,
    pub(super) application_name: Option<String>,
    pub(super) fallback_application_name: Option<String>,
    pub(super) options: Option<String>,
    pub(super) connect_timeout: Option<String>,
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
    pub(super) sslcert: Option<String>,
    pub(super) sslkey: Option<String>,
    pub(super) sslsni: Option<String>,
    pub(super) channel_binding: Option<String>,
    pub(super) target_session_attrs: Option<String>,
    pub(super) load_balance_hosts: Option<String>,
    pub(super) keepalives: Option<String>,
    pub(super) keepalives_idle: Option<String>,
    pub(super) keepalives_interval: Option<String>,
    pub(super) keepalives_count: Option<String>,
    pub(super) tcp_user_timeout: Option<String>,
}

impl RawParams {
    /// `place`: where the key is ("number 3"), to name a key that is not quoted.
    pub(super) fn set(&mut self, key: &str, value: String, place: &str) -> Result<()> {
        let slot = match key {
            "host" => &mut self.host,
            "hostaddr" => &mut self.hostaddr,
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
            "load_balance_hosts" => &mut self.load_balance_hosts,
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

    /// libpq's environment variables, for the keys the string leaves unset or empty.
    pub(super) fn fill_from_env(&mut self, env: &impl Fn(&str) -> Option<String>) {
        let pairs: [(&mut Option<String>, &str); 17] = [
            (&mut self.host, "PGHOST"),
            (&mut self.hostaddr, "PGHOSTADDR"),
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
            (&mut self.load_balance_hosts, "PGLOADBALANCEHOSTS"),
        ];
        for (slot, name) in pairs {
            if slot.as_deref().is_none_or(str::is_empty) {
                if let Some(value) = env(name).filter(|v| !v.is_empty()) {
                    *slot = Some(value);
                }
            }
        }
    }
}
