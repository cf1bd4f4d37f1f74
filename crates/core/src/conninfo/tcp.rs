//! libpq's keepalive keys: how a TCP socket finds out its peer went silent.

use std::time::Duration;

use super::keywords::quotable_value;
use super::raw::RawParams;
use crate::error::{Error, Result};

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

impl RawParams {
    /// The keepalive keys as libpq reads them: whole numbers, seconds (`tcp_user_timeout`:
    /// milliseconds); zero or unset leaves the system's value; `keepalives=0` turns probes off.
    pub(super) fn tcp_settings(&self) -> Result<TcpSettings> {
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
