//! A pool's settings, psycopg's defaults and size rules (messages name the options as the
//! JavaScript API spells them).

use std::time::Duration;

use tokio::time::Instant;

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
    /// At most this many concurrent `Pool::query` statements share a connection's round trip
    /// (`ride.rs`); 1: each has a connection to itself.
    pub pipeline_depth: usize,
    pub idle_order: IdleOrder,
    pub settings: Settings,
}

/// Which idle connection a request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleOrder {
    /// The one idle longest: every connection is used in turn (psycopg's order).
    #[default]
    Fifo,
    /// The one returned last: a few connections stay busy and warm, the rest idle (and past
    /// `min_size`, are closed after `max_idle`).
    Lifo,
}

impl IdleOrder {
    pub fn parse(name: &str) -> Result<IdleOrder> {
        match name {
            "fifo" => Ok(IdleOrder::Fifo),
            "lifo" => Ok(IdleOrder::Lifo),
            other => Err(Error::Value(format!(
                "pool option 'idleOrder' must be 'fifo' or 'lifo', not {other:?}"
            ))),
        }
    }
}

/// The settings psycopg keeps as public, mutable attributes, read live.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub timeout: Duration,
    pub max_waiting: usize,
    pub max_lifetime: Duration,
    pub max_idle: Duration,
    pub reconnect_timeout: Duration,
    /// A checkout held longer is reported as a possible leak (HikariCP's
    /// `leakDetectionThreshold`); zero: never.
    pub leak_detection_threshold: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: Duration::from_secs(30),
            max_waiting: 0,
            max_lifetime: Duration::from_secs(3600),
            max_idle: Duration::from_secs(600),
            reconnect_timeout: Duration::from_secs(300),
            leak_detection_threshold: Duration::ZERO,
        }
    }
}

/// The largest pool size accepted: PostgreSQL's own ceiling on `max_connections`.
pub const MAX_POOL_SIZE: usize = 262_143;

/// The most background workers a pool may have; past a handful they only contend.
pub const MAX_WORKERS: usize = 1_024;

/// `pipelining: true`: how many statements may share a connection's round trip.
pub const DEFAULT_PIPELINE_DEPTH: usize = 4;

/// Past this a statement would wait behind too many others for too little gain.
pub const MAX_PIPELINE_DEPTH: usize = 64;

/// "No limit" (JavaScript's `Infinity`), and what any longer duration becomes: a century, past
/// any process's life, yet short enough that deadlines and jitter computed from it never overflow.
pub const NO_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Pool options as JavaScript gives them (numbers are f64, unchecked); `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    pub min_size: Option<f64>,
    pub max_size: Option<f64>,
    pub num_workers: Option<f64>,
    pub timeout: Option<f64>,
    pub max_waiting: Option<f64>,
    pub max_lifetime: Option<f64>,
    pub max_idle: Option<f64>,
    pub reconnect_timeout: Option<f64>,
    pub leak_detection_threshold: Option<f64>,
    /// `pipelining` as a count: 1 is off; `None` is the default depth.
    pub pipeline_depth: Option<f64>,
    /// `idleOrder` as JavaScript spells it; `None` is FIFO.
    pub idle_order: Option<String>,
}

impl PoolConfig {
    /// The one place pool options are checked and defaulted; errors name the option.
    pub fn from_options(
        kind: PoolKind,
        name: String,
        close_returns: bool,
        options: &PoolOptions,
    ) -> Result<PoolConfig> {
        let default_min = match kind {
            PoolKind::Regular => 4,
            PoolKind::Null => 0,
        };
        let min_size = options.min_size.map_or(Ok(default_min), |v| pool_size("minSize", v))?;
        let max_size = options.max_size.map(|v| pool_size("maxSize", v)).transpose()?;
        let (min_size, max_size) = check_sizes(kind, min_size, max_size)?;
        let num_workers = match options.num_workers {
            None => 3,
            Some(v) => whole_number("pool option 'numWorkers'", v, MAX_WORKERS)?,
        };
        if num_workers < 1 {
            return Err(Error::Value("numWorkers must be at least 1".into()));
        }
        let defaults = Settings::default();
        let seconds_or = |name: &str, value: Option<f64>, default: Duration| {
            value.map_or(Ok(default), |v| seconds(&format!("pool option '{name}'"), v))
        };
        let max_waiting = match options.max_waiting {
            None => defaults.max_waiting,
            Some(v) => whole_number("pool option 'maxWaiting'", v, usize::MAX)?,
        };
        let pipeline_depth = match options.pipeline_depth {
            None => DEFAULT_PIPELINE_DEPTH,
            Some(v) => whole_number("pool option 'pipelining'", v, MAX_PIPELINE_DEPTH)?.max(1),
        };
        Ok(PoolConfig {
            kind,
            name,
            min_size,
            max_size,
            num_workers,
            close_returns,
            pipeline_depth,
            idle_order: options
                .idle_order
                .as_deref()
                .map_or(Ok(IdleOrder::Fifo), IdleOrder::parse)?,
            settings: Settings {
                timeout: seconds_or("timeout", options.timeout, defaults.timeout)?,
                max_waiting,
                max_lifetime: seconds_or("maxLifetime", options.max_lifetime, defaults.max_lifetime)?,
                max_idle: seconds_or("maxIdle", options.max_idle, defaults.max_idle)?,
                reconnect_timeout: seconds_or(
                    "reconnectTimeout",
                    options.reconnect_timeout,
                    defaults.reconnect_timeout,
                )?,
                leak_detection_threshold: seconds_or(
                    "leakDetectionThreshold",
                    options.leak_detection_threshold,
                    defaults.leak_detection_threshold,
                )?,
            },
        })
    }
}

/// A pool size given as a JavaScript number: a whole number from 0 to `MAX_POOL_SIZE`.
pub fn pool_size(name: &str, value: f64) -> Result<usize> {
    if value < 0.0 {
        return Err(Error::Value(format!("{name} cannot be negative")));
    }
    whole_number(&format!("pool option '{name}'"), value, MAX_POOL_SIZE)
}

/// A count given as a JavaScript number: refused unless a whole number from 0 to `max`, so
/// nothing wraps or truncates on the way in. `what` names the culprit in the message.
pub fn whole_number(what: &str, value: f64, max: usize) -> Result<usize> {
    // f64 holds every integer up to 2^53 exactly; `max` is compared as f64 only past that.
    if value.fract() != 0.0 || !(0.0..=max as f64).contains(&value) {
        return Err(Error::Value(format!(
            "{what} must be an integer from 0 to {max}, not {value}"
        )));
    }
    Ok(value as usize)
}

/// A duration given in seconds as a JavaScript number: `Infinity` (or anything past a century)
/// means no limit; NaN and negative values are refused, naming `what`.
pub fn seconds(what: &str, value: f64) -> Result<Duration> {
    if value.is_nan() || value < 0.0 {
        return Err(Error::Value(format!(
            "{what} must be a number of seconds from 0 to Infinity (no limit), not {value}"
        )));
    }
    Ok(Duration::try_from_secs_f64(value).map_or(NO_LIMIT, |d| d.min(NO_LIMIT)))
}

/// `Instant::now() + timeout`, never overflowing: a longer timeout is capped at `NO_LIMIT`.
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout.min(NO_LIMIT)).unwrap_or(now)
}

/// psycopg's size rules: `max_size` defaults to `min_size`; the messages are psycopg's.
pub fn check_sizes(kind: PoolKind, min_size: usize, max_size: Option<usize>) -> Result<(usize, usize)> {
    let max_size = max_size.unwrap_or(min_size);
    if max_size < min_size {
        return Err(Error::Value("maxSize must be greater or equal than minSize".into()));
    }
    match kind {
        PoolKind::Regular if min_size == 0 && max_size == 0 => {
            Err(Error::Value("if minSize is 0 maxSize must be greater than 0".into()))
        }
        PoolKind::Null if min_size != 0 => Err(Error::Value("null pools must have minSize = 0".into())),
        _ => Ok((min_size, max_size)),
    }
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
    }

    #[test]
    fn sizes_are_whole_numbers_within_bounds() {
        assert_eq!(pool_size("minSize", 5.0).unwrap(), 5);
        assert_eq!(pool_size("maxSize", MAX_POOL_SIZE as f64).unwrap(), MAX_POOL_SIZE);
        for value in [-1.0, 1.5, f64::NAN, f64::INFINITY, 2f64.powi(31), 2f64.powi(32), 1e300] {
            let err = pool_size("minSize", value).unwrap_err();
            assert!(matches!(err, Error::Value(_)), "{value}: {err:?}");
            assert!(err.to_string().contains("minSize"), "{value}: {err}");
        }
        assert!(whole_number("maxWaiting", 2f64.powi(40), usize::MAX).is_ok());
        assert!(whole_number("maxWaiting", f64::INFINITY, usize::MAX).is_err());
    }

    #[test]
    fn durations_accept_infinity_as_no_limit() {
        assert_eq!(seconds("timeout", 1.5).unwrap(), Duration::from_millis(1500));
        assert_eq!(seconds("timeout", f64::INFINITY).unwrap(), NO_LIMIT);
        assert_eq!(seconds("timeout", 1e20).unwrap(), NO_LIMIT);
        assert_eq!(seconds("timeout", f64::MAX).unwrap(), NO_LIMIT);
        for value in [-1.0, f64::NAN, f64::NEG_INFINITY] {
            assert!(seconds("timeout", value).unwrap_err().to_string().contains("timeout"));
        }
        // Nothing the engine computes from a duration can overflow.
        let deadline = deadline_after(seconds("timeout", f64::INFINITY).unwrap());
        assert!(deadline > Instant::now());
        assert!(deadline_after(Duration::MAX) > Instant::now());
        let _ = NO_LIMIT.mul_f64(1.05);
    }

    #[test]
    fn options_take_defaults_and_name_the_culprit() {
        let config = PoolConfig::from_options(PoolKind::Regular, "p".into(), false, &PoolOptions::default()).unwrap();
        assert_eq!((config.min_size, config.max_size, config.num_workers), (4, 4, 3));
        assert_eq!(config.settings, Settings::default());
        let null = PoolConfig::from_options(PoolKind::Null, "p".into(), false, &PoolOptions::default()).unwrap();
        assert_eq!((null.min_size, null.max_size), (0, 0));
        let bad = [
            (
                PoolOptions {
                    num_workers: Some(0.0),
                    ..Default::default()
                },
                "numWorkers must be at least 1",
            ),
            (
                PoolOptions {
                    num_workers: Some(2f64.powi(31)),
                    ..Default::default()
                },
                "'numWorkers'",
            ),
            (
                PoolOptions {
                    min_size: Some(2f64.powi(31)),
                    ..Default::default()
                },
                "'minSize'",
            ),
            (
                PoolOptions {
                    max_size: Some(2f64.powi(32)),
                    ..Default::default()
                },
                "'maxSize'",
            ),
            (
                PoolOptions {
                    timeout: Some(f64::NAN),
                    ..Default::default()
                },
                "'timeout'",
            ),
            (
                PoolOptions {
                    max_idle: Some(-1.0),
                    ..Default::default()
                },
                "'maxIdle'",
            ),
        ];
        for (options, message) in bad {
            let err = PoolConfig::from_options(PoolKind::Regular, "p".into(), false, &options).unwrap_err();
            assert!(err.to_string().contains(message), "{options:?}: {err}");
        }
    }
}
