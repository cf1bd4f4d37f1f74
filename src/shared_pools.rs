//! Pools shared across worker threads: a JavaScript object lives in one thread, but the engine
//! pool it faces can be faced from others. `share()` registers the pool under a number a worker
//! can receive (`workerData`, `postMessage`); `attach(number)` there makes a second face of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex};

use pgtide_core::Pool;

static SHARED: LazyLock<Mutex<HashMap<u32, Pool>>> = LazyLock::new(Mutex::default);
static NEXT_HANDLE: AtomicU32 = AtomicU32::new(1);

/// The pool's handle, the same for every call.
pub fn share(pool: &Pool) -> u32 {
    let mut shared = SHARED.lock().unwrap();
    if let Some((&handle, _)) = shared.iter().find(|(_, p)| p.same_pool(pool)) {
        return handle;
    }
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    shared.insert(handle, pool.clone());
    handle
}

pub fn attach(handle: u32) -> Option<Pool> {
    SHARED.lock().unwrap().get(&handle).cloned()
}

/// A closed pool is shared no more (faces already attached see it closed).
pub fn forget(pool: &Pool) {
    SHARED.lock().unwrap().retain(|_, p| !p.same_pool(pool));
}
