//! The URI form of a connection string, `postgres://user:password@host:port,host2/dbname?key=value`,
//! read into the same key/value pairs as the `key=value` form.

use super::keywords::name_key;
use super::target::DEFAULT_PORT;
use crate::error::{Error, Result};

/// A string whose first word has a `:` is meant as a URI (no libpq keyword has one), but it is
/// not a `postgres://` or `postgresql://` one: say so, rather than read it as `key=value` text
/// and quote it (password included) as a malformed key.
pub(super) fn refuse_other_uris(text: &str) -> Result<()> {
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

/// `postgres://user:password@host1:port1,host2/dbname?key=value`, percent-decoded.
pub(super) fn parse_url(url: &str) -> Result<Vec<(String, String)>> {
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
