//! The N-API binding: converts arguments and results, exposes the engine's types as classes,
//! and carries errors across typed. No pool policy lives here.

// napi-derive registers `#[napi]` functions only outside `cfg(test)`, so the test build (which
// has no unit tests: the binding is tested from JavaScript) would call the free ones unused.
#![cfg_attr(test, allow(dead_code))]

mod abort;
mod blocking;
mod connection;
mod copy;
mod cursor;
mod errors;
mod event_loop;
mod facts;
mod js_thread;
mod notifications;
mod observability;
mod pipeline;
mod pool;
mod promise;
mod result;
mod rows;
mod shared_pools;
mod uv;
