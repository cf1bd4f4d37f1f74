//! The shapes JavaScript hands the pool (options, connection parameters) and gets back
//! (stats), converted to and from the engine's.

use napi_derive::napi;
use pgtide_core::pool::{self, Callbacks, Level, PoolConfig, PoolKind, PoolOptions};
use pgtide_core::statement_timeout::{set_statement_timeout, statement_timeout_ms};
use pgtide_core::{ConnInfo, ConnectOptions, Pool, TlsMaterial};

use super::NativePool;
use crate::connection::NativeTls;
use crate::errors::IntoNapi;

/// Pool options as the user gave them: numbers unchecked (the engine checks them, naming the
/// option), `None` for the engine's default.
#[napi(object)]
pub struct NativePoolOptions {
    /// A null pool (no idle connections kept) rather than a regular one.
    pub null: bool,
    pub name: String,
    pub min_size: Option<f64>,
    pub max_size: Option<f64>,
    pub num_workers: Option<f64>,
    pub close_returns: bool,
    pub timeout: Option<f64>,
    pub max_waiting: Option<f64>,
    pub max_lifetime: Option<f64>,
    pub max_idle: Option<f64>,
    pub reconnect_timeout: Option<f64>,
    pub leak_detection_threshold: Option<f64>,
    /// `pipelining` as a depth (false: 1), unchecked; `None` for the default.
    pub pipelining: Option<f64>,
    /// "fifo" or "lifo", unchecked; `None` for FIFO.
    pub idle_order: Option<String>,
    /// The least severe log record to send to `log`: "debug", "info" or "warning".
    pub log_level: String,
}

/// What a connection attempt needs; a function returning it is called at every attempt.
#[napi(object)]
pub struct NativeConnectParams {
    pub conninfo: String,
    pub autocommit: bool,
    pub statement_cache_size: u32,
    pub tls: Option<NativeTls>,
    /// `connectionOptions.statementTimeout` in seconds, unchecked (`statement_timeout.rs`).
    pub statement_timeout: Option<f64>,
}

#[napi(object)]
pub struct NativeStats {
    pub pool_min: f64,
    pub pool_max: f64,
    pub pool_size: f64,
    pub pool_available: f64,
    pub requests_waiting: f64,
    pub requests_num: f64,
    pub requests_queued: f64,
    pub requests_wait_ms: f64,
    pub requests_errors: f64,
    pub usage_ms: f64,
    pub returns_bad: f64,
    pub connections_num: f64,
    pub connections_ms: f64,
    pub connections_errors: f64,
    pub connections_lost: f64,
    pub connections_leaked: f64,
    pub requests_pipelined: f64,
}

fn connect_options(params: &NativeConnectParams) -> ConnectOptions {
    ConnectOptions {
        autocommit: params.autocommit,
        statement_cache_size: params.statement_cache_size as usize,
        tls: params.tls.as_ref().map(TlsMaterial::from),
    }
}

pub(super) fn level(name: &str) -> napi::Result<Level> {
    match name {
        "debug" => Ok(Level::Debug),
        "info" => Ok(Level::Info),
        "warning" => Ok(Level::Warning),
        other => Err(napi::Error::from_reason(format!("invalid log level {other:?}"))),
    }
}

pub(super) fn level_name(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warning => "warning",
    }
}

pub(super) fn parse_params(params: &NativeConnectParams) -> pgtide_core::Result<(ConnInfo, ConnectOptions)> {
    let mut info = ConnInfo::parse(&params.conninfo)?;
    if let Some(timeout) = params.statement_timeout {
        set_statement_timeout(&mut info, statement_timeout_ms(timeout)?);
    }
    Ok((info, connect_options(params)))
}

impl NativePool {
    pub(super) fn build(
        options: NativePoolOptions,
        mut callbacks: Callbacks,
        thread_bound: bool,
    ) -> napi::Result<NativePool> {
        let kind = if options.null {
            PoolKind::Null
        } else {
            PoolKind::Regular
        };
        callbacks.log_level = level(&options.log_level)?;
        let numbers = PoolOptions {
            min_size: options.min_size,
            max_size: options.max_size,
            num_workers: options.num_workers,
            timeout: options.timeout,
            max_waiting: options.max_waiting,
            max_lifetime: options.max_lifetime,
            max_idle: options.max_idle,
            reconnect_timeout: options.reconnect_timeout,
            leak_detection_threshold: options.leak_detection_threshold,
            pipeline_depth: options.pipelining,
            idle_order: options.idle_order,
        };
        let config = PoolConfig::from_options(kind, options.name, options.close_returns, &numbers).into_napi()?;
        Ok(NativePool {
            pool: Pool::new(config, callbacks),
            thread_bound,
        })
    }
}

pub(super) fn native_stats(stats: pool::Stats) -> NativeStats {
    let c = &stats.counters;
    NativeStats {
        pool_min: stats.pool_min as f64,
        pool_max: stats.pool_max as f64,
        pool_size: stats.pool_size as f64,
        pool_available: stats.pool_available as f64,
        requests_waiting: stats.requests_waiting as f64,
        requests_num: c.requests_num as f64,
        requests_queued: c.requests_queued as f64,
        requests_wait_ms: c.requests_wait_ms as f64,
        requests_errors: c.requests_errors as f64,
        usage_ms: c.usage_ms as f64,
        returns_bad: c.returns_bad as f64,
        connections_num: c.connections_num as f64,
        connections_ms: c.connections_ms as f64,
        connections_errors: c.connections_errors as f64,
        connections_lost: c.connections_lost as f64,
        connections_leaked: c.connections_leaked as f64,
        requests_pipelined: c.requests_pipelined as f64,
    }
}
