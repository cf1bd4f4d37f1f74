//! `connectionOptions.statementTimeout`: the server's own `statement_timeout`, set at connection
//! start (`-c statement_timeout=<ms>` in the startup `options`), so the server itself cancels a
//! statement that runs too long, whether or not the client is still there to ask.

use crate::conninfo::ConnInfo;
use crate::error::{Error, Result};
use crate::pool::{seconds, NO_LIMIT};

/// PostgreSQL's largest `statement_timeout`, in milliseconds (an int GUC).
const MAX_MS: u64 = i32::MAX as u64;

/// The setting in milliseconds from seconds as JavaScript gives them: 0 or `Infinity` is no
/// limit (PostgreSQL's 0); a fraction of a millisecond counts as one, never as "no limit".
pub fn statement_timeout_ms(value: f64) -> Result<u64> {
    let what = "connection option 'statementTimeout'";
    let timeout = seconds(what, value)?;
    if timeout >= NO_LIMIT {
        return Ok(0);
    }
    let ms = timeout.as_nanos().div_ceil(1_000_000) as u64;
    if ms > MAX_MS {
        return Err(Error::Value(format!(
            "{what} must be at most {} seconds (PostgreSQL's limit) or Infinity, not {value}",
            MAX_MS as f64 / 1000.0
        )));
    }
    Ok(ms)
}

/// Adds the setting to the startup `options`, after any the conninfo gives (the last wins).
pub fn set_statement_timeout(info: &mut ConnInfo, ms: u64) {
    let setting = format!("-c statement_timeout={ms}");
    info.options = Some(match info.options.take() {
        Some(options) if !options.trim().is_empty() => format!("{options} {setting}"),
        _ => setting,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_whole_milliseconds() {
        assert_eq!(statement_timeout_ms(1.5).unwrap(), 1500);
        assert_eq!(statement_timeout_ms(0.0001).unwrap(), 1);
        assert_eq!(statement_timeout_ms(0.0).unwrap(), 0);
        assert_eq!(statement_timeout_ms(f64::INFINITY).unwrap(), 0);
        assert!(statement_timeout_ms(-1.0)
            .unwrap_err()
            .to_string()
            .contains("statementTimeout"));
        assert!(statement_timeout_ms(3e6)
            .unwrap_err()
            .to_string()
            .contains("statementTimeout"));
    }

    #[test]
    fn the_setting_follows_the_conninfo_options() {
        let mut info = ConnInfo::parse("host=localhost options='-c search_path=x'").unwrap();
        set_statement_timeout(&mut info, 250);
        assert_eq!(
            info.options.as_deref(),
            Some("-c search_path=x -c statement_timeout=250")
        );
    }
}
