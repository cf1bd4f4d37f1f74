//! Blocking the JS thread on a future, for the `*Sync` methods.
//!
//! napi-rs's `block_on` is tokio's, which refuses to nest; but a sync pool runs the user's
//! hooks on the JS thread *inside* a blocking call (DESIGN §5), and those hooks run sync
//! queries, which block again. So the JS thread polls the future itself and parks between
//! polls, inside the runtime's context (timers and sockets are driven by the runtime's worker
//! threads, which wake it). Nesting is then just a deeper stack.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use napi::bindgen_prelude::within_runtime_if_available;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    within_runtime_if_available(|| {
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut context = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
            thread::park();
        }
    })
}
