//! The pool's policy with a stand-in connection (fake.rs) on tokio's paused clock: no server,
//! no real waiting. Each test states one rule of psycopg_pool's behaviour and fails if the pool
//! breaks it.

mod fake;

mod growth;
mod lifecycle;
mod lifetime;
mod null_pool;
mod prompt_reconnect;
mod queue;
mod reconnect;
mod returns;
mod stats;
