//! A pool's settings, psycopg's defaults and size rules (messages name the options as the
//! JavaScript API spells them).

use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// Keeps idle connections between uses (ConnectionPool, AsyncConnectionPool).
    Regular,
    /// Keeps none: every client gets a fresh connection or a hand-off (the null pools).
    Null,
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub kind: PoolKind,
    pub name: String,
    pub min_size: usize,
    pub max_size: usize,
    pub num_workers: usize,
    pub close_returns: bool,
    pub settings: Settings,
}

/// The settings psycopg keeps as public, mutable attributes, read live.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub timeout: Duration,
    pub max_waiting: usize,
    pub max_lifetime: Duration,
    pub max_idle: Duration,
    pub reconnect_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: Duration::from_secs(30),
            max_waiting: 0,
            max_lifetime: Duration::from_secs(3600),
            max_idle: Duration::from_secs(600),
            reconnect_timeout: Duration::from_secs(300),
        }
    }
}

/// psycopg's size rules: `max_size` defaults to `min_size`; the messages are psycopg's.
pub fn check_sizes(kind: PoolKind, min_size: i64, max_size: Option<i64>) -> Result<(usize, usize)> {
    let max_size = max_size.unwrap_or(min_size);
    match kind {
        PoolKind::Regular => {
            if min_size < 0 {
                return Err(Error::Value("minSize cannot be negative".into()));
            }
            if max_size < min_size {
                return Err(Error::Value("maxSize must be greater or equal than minSize".into()));
            }
            if min_size == 0 && max_size == 0 {
                return Err(Error::Value("if minSize is 0 maxSize must be greater than 0".into()));
            }
        }
        PoolKind::Null => {
            if min_size != 0 {
                return Err(Error::Value("null pools must have minSize = 0".into()));
            }
            if max_size < min_size {
                return Err(Error::Value("maxSize must be greater or equal than minSize".into()));
            }
        }
    }
    Ok((min_size as usize, max_size as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_pool_sizes() {
        assert_eq!(check_sizes(PoolKind::Regular, 2, None).unwrap(), (2, 2));
        assert_eq!(check_sizes(PoolKind::Regular, 0, Some(1)).unwrap(), (0, 1));
        for (min, max, message) in [
            (0, None, "if minSize is 0"),
            (0, Some(0), "if minSize is 0"),
            (-1, None, "cannot be negative"),
            (3, Some(2), "greater or equal"),
        ] {
            let err = check_sizes(PoolKind::Regular, min, max).unwrap_err();
            assert!(err.to_string().contains(message), "{min} {max:?}: {err}");
        }
    }

    #[test]
    fn null_pool_sizes() {
        assert_eq!(check_sizes(PoolKind::Null, 0, None).unwrap(), (0, 0));
        assert_eq!(check_sizes(PoolKind::Null, 0, Some(5)).unwrap(), (0, 5));
        assert!(check_sizes(PoolKind::Null, 1, None)
            .unwrap_err()
            .to_string()
            .contains("minSize = 0"));
        assert!(check_sizes(PoolKind::Null, 0, Some(-2)).is_err());
    }
}
