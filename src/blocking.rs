//! Blocking the JS thread on a future, for the `*Sync` methods: `pgtide_core::wait::block_on`'s
//! loop (which nests, unlike tokio's `block_on`: a sync pool runs the user's hooks on the JS
//! thread inside a blocking call, and those hooks run sync queries), inside the
//! runtime's context so that the future's timers and tasks have their runtime.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::within_runtime_if_available;
use napi::Status;
use pgtide_core::wait;

use crate::promise::panic_error;

/// The future's output; an error if the thread cannot wait at all (no wake-up socket), or if
/// the future panicked: unwinding into Node would abort the process. The loop puts the
/// thread's blocking state back as it unwinds.
pub fn block_on<F: Future>(future: F) -> napi::Result<F::Output> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        within_runtime_if_available(|| wait::block_on(future))
    }));
    outcome.map_err(|payload| panic_error(&*payload))?.map_err(|e| {
        napi::Error::new(
            Status::GenericFailure,
            format!("could not block on the server's answer: {e}"),
        )
    })
}
