//! Where to connect: the `host`, `hostaddr` and `port` lists of a connection string, matched by
//! position as libpq matches them, and libpq's default when a target names no host.

use std::net::IpAddr;

use super::raw::RawParams;
use crate::error::{Error, Result};

pub(super) const DEFAULT_PORT: u16 = 5432;
/// Where libpq looks for a Unix socket when no host is given (Debian's folder, then upstream's).
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// One place to connect to: a TCP host, a numeric address, or a Unix socket folder (a host
/// starting with `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A host name, an IP address or a socket folder; empty when the string gives none (then
    /// `hostaddr`, or libpq's default: see `resolved`).
    pub host: String,
    /// libpq's `hostaddr`: the numeric address the socket connects to, with no name lookup.
    /// `host` still names the server: TLS sends and checks it.
    pub hostaddr: Option<IpAddr>,
    pub port: u16,
}

impl Target {
    pub fn is_unix_socket(&self) -> bool {
        self.hostaddr.is_none() && self.host.starts_with('/')
    }

    /// What the socket connects to: `hostaddr` when given, else `host`.
    pub fn connect_host(&self) -> String {
        self.hostaddr.map_or_else(|| self.host.clone(), |addr| addr.to_string())
    }

    /// The name TLS sends and checks the certificate against: `host`, or the address when
    /// only `hostaddr` is given.
    pub fn server_name(&self) -> String {
        if self.host.is_empty() {
            self.connect_host()
        } else {
            self.host.clone()
        }
    }

    /// The target with libpq's default where it names no host and no address: the port's Unix
    /// socket in one of the usual folders if one exists, else `localhost`. It looks at the
    /// filesystem, so it is called when connecting, never while a string is parsed.
    pub fn resolved(&self) -> Target {
        if !self.host.is_empty() || self.hostaddr.is_some() {
            return self.clone();
        }
        let port = self.port;
        let host = DEFAULT_SOCKET_DIRS
            .iter()
            .find(|dir| std::path::Path::new(&format!("{dir}/.s.PGSQL.{port}")).exists())
            .map_or_else(|| "localhost".to_string(), |dir| dir.to_string());
        Target { host, ..self.clone() }
    }

    /// How error messages name this target: never with credentials.
    pub fn describe(&self) -> String {
        if self.is_unix_socket() {
            return format!("socket \"{}/.s.PGSQL.{}\"", self.host, self.port);
        }
        let with_port = |host: &str| {
            if host.contains(':') {
                format!("[{host}]:{}", self.port)
            } else {
                format!("{host}:{}", self.port)
            }
        };
        match self.hostaddr {
            Some(addr) if !self.host.is_empty() => format!("{} (address {addr})", with_port(&self.host)),
            Some(addr) => with_port(&addr.to_string()),
            None => with_port(&self.host),
        }
    }
}

/// The targets the keys give: `host` and `hostaddr` entries pair up by position (their counts
/// must match when both are given), and a single port serves them all.
pub(super) fn targets(raw: &RawParams) -> Result<Vec<Target>> {
    let list = |value: &Option<String>| -> Option<Vec<String>> {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| v.split(',').map(|entry| entry.trim().to_string()).collect())
    };
    let ports = match raw.port.as_deref().filter(|p| !p.is_empty()) {
        None => vec![DEFAULT_PORT],
        Some(list) => list.split(',').map(parse_port).collect::<Result<Vec<_>>>()?,
    };
    let addresses = list(&raw.hostaddr)
        .map(|entries| {
            entries
                .iter()
                .map(|entry| parse_address(entry))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let hosts = list(&raw.host);
    let count = match (&hosts, &addresses) {
        (Some(hosts), Some(addresses)) if hosts.len() != addresses.len() => {
            return Err(Error::config(format!(
                "could not match {} host names to {} hostaddr values",
                hosts.len(),
                addresses.len()
            )))
        }
        (_, Some(addresses)) => addresses.len(),
        (Some(hosts), None) => hosts.len(),
        (None, None) => 1,
    };
    if ports.len() != 1 && ports.len() != count {
        return Err(Error::config(format!(
            "could not match {} port numbers to {count} hosts",
            ports.len()
        )));
    }
    Ok((0..count)
        .map(|i| Target {
            host: hosts.as_ref().map_or_else(String::new, |hosts| hosts[i].clone()),
            hostaddr: addresses.as_ref().and_then(|addresses| addresses[i]),
            port: if ports.len() == 1 { ports[0] } else { ports[i] },
        })
        .collect())
}

/// One `hostaddr` entry: a numeric IPv4 or IPv6 address (no name lookup, as in libpq); empty
/// leaves the entry to its host.
fn parse_address(text: &str) -> Result<Option<IpAddr>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        // Quoted only when shaped like an address: never a piece of a misplaced password.
        let shaped = text.len() <= 45 && text.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'));
        Error::config(if shaped {
            format!("could not parse network address \"{text}\" (hostaddr takes a numeric IP address)")
        } else {
            "could not parse a hostaddr value (not shown): hostaddr takes a numeric IP address".to_string()
        })
    })
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
