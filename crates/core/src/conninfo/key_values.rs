//! The `key=value` form of a connection string, with libpq's quoting.

use super::keywords::name_key;
use crate::error::{Error, Result};

/// `key=value key2='quoted \' value'`, as libpq accepts it.
pub(super) fn parse_key_values(text: &str) -> Result<Vec<(String, String)>> {
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
