//! What pgtide reports beyond psycopg's stats: a pool's duration histograms, leak detection,
//! and the server a connection or conninfo leads to (for tracing). The engine keeps the
//! histograms and the leak timers (`pool::histogram`, `pool::leaks`); this file only converts.

use napi_derive::napi;
use pgtide_core::pool::{Histogram, BUCKET_BOUNDS_MS};
use pgtide_core::ConnInfo;

use crate::connection::NativeConnection;
use crate::errors::IntoNapi;
use crate::pool::NativePool;

#[napi(object)]
pub struct NativeHistogram {
    /// Observations per bucket, not cumulative; one more than `bounds` (the last is `+Inf`).
    pub counts: Vec<f64>,
    /// The sum of the observations, in seconds.
    pub sum: f64,
    pub count: f64,
}

#[napi(object)]
pub struct NativeHistograms {
    /// The buckets' upper bounds, in seconds.
    pub bounds: Vec<f64>,
    /// Waits of the requests that queued (beside `requestsWaitMs`).
    pub requests_wait: NativeHistogram,
    /// Checkouts, from hand-out to return (beside `usageMs`).
    pub usage: NativeHistogram,
    /// Successful connection attempts (beside `connectionsMs`).
    pub connections: NativeHistogram,
}

fn native_histogram(histogram: &Histogram) -> NativeHistogram {
    NativeHistogram {
        counts: histogram.buckets.iter().map(|&n| n as f64).collect(),
        sum: histogram.sum_us as f64 / 1e6,
        count: histogram.count() as f64,
    }
}

#[napi]
impl NativePool {
    /// The duration histograms: cumulative like the counters, reset by `popStats` with them.
    #[napi(catch_unwind)]
    pub fn get_histograms(&self) -> NativeHistograms {
        let durations = self.pool.stats().counters.durations;
        NativeHistograms {
            bounds: BUCKET_BOUNDS_MS.iter().map(|&ms| ms as f64 / 1000.0).collect(),
            requests_wait: native_histogram(&durations.requests_wait),
            usage: native_histogram(&durations.usage),
            connections: native_histogram(&durations.connections),
        }
    }

    /// Whether `leakDetectionThreshold` is on: callers capture their stack only then.
    #[napi(getter)]
    pub fn detects_leaks(&self) -> bool {
        self.pool.detects_leaks()
    }

    /// Starts the leak timer of a connection this pool handed out, taken at `stack`.
    #[napi(catch_unwind)]
    pub fn watch_for_leak(&self, conn: &NativeConnection, stack: String) -> napi::Result<()> {
        self.pool.watch_for_leak(conn.lease.as_ref(), stack).into_napi()
    }
}

/// Where a connection or conninfo leads, for tracing (`server.address`, `server.port`).
#[napi(object)]
pub struct NativeServer {
    /// The host name or address, or a unix socket's directory.
    pub address: String,
    pub port: u32,
    pub database: Option<String>,
}

#[napi]
impl NativeConnection {
    /// The server this connection reached (of several hosts in its conninfo, the one it chose).
    #[napi(getter)]
    pub fn server(&self) -> NativeServer {
        let target = self.inner.target();
        NativeServer {
            address: target.server_name(),
            port: target.port as u32,
            database: None,
        }
    }
}

/// The first server a conninfo names, and its database; throws if the conninfo is malformed.
#[napi(catch_unwind)]
pub fn conninfo_server(conninfo: String) -> napi::Result<NativeServer> {
    let info = ConnInfo::parse(&conninfo).into_napi()?;
    let target = info.targets.first();
    Ok(NativeServer {
        address: target.map_or_else(String::new, |t| t.resolved().server_name()),
        port: target.map_or(5432, |t| t.port as u32),
        database: Some(info.dbname),
    })
}
