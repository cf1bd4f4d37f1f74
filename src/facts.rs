//! Facts the engine owns that the TypeScript side needs, exported so that each is written once:
//! the connection options' defaults and bounds, the types asked for in binary, the server
//! report's optional fields. An exported call (read once, when `lib/` loads) rather than a file
//! generated at build time: they are few, and nothing can fall out of date.

use napi_derive::napi;
use pgtide_core::error::SERVER_FIELDS;
use pgtide_core::{result, statement_cache, ConnectOptions};

#[napi(object)]
pub struct EngineFacts {
    /// `connectionOptions.statementCacheSize` when unset.
    pub statement_cache_size: u32,
    /// Its largest accepted value.
    pub max_statement_cache_size: u32,
    /// The OIDs of the scalar types whose columns come back in binary (their arrays too).
    pub binary_result_types: Vec<u32>,
    /// The optional fields of a server error or notice, by their JavaScript names.
    pub server_error_fields: Vec<String>,
}

#[napi]
pub fn engine_facts() -> EngineFacts {
    EngineFacts {
        statement_cache_size: ConnectOptions::default().statement_cache_size as u32,
        max_statement_cache_size: statement_cache::MAX_CAPACITY as u32,
        binary_result_types: result::binary_types().collect(),
        server_error_fields: SERVER_FIELDS.iter().map(|(_, name)| name.to_string()).collect(),
    }
}
