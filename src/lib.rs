//! The N-API binding: converts arguments and results, exposes the engine's types as classes,
//! and carries errors across typed. No pool policy lives here.

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
