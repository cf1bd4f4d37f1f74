//! Opening, waiting for and closing a pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use super::shared::State;
use super::tasks::{self, Task};
use super::{Attempt, Level, PoolConnection, PoolKind, Shared};
use crate::error::{Error, Result};

impl<C: PoolConnection> Shared<C> {
    pub(super) fn open(self: &Arc<Self>) -> Result<()> {
        let mut state = self.state();
        if !state.closed {
            return Ok(());
        }
        if state.opened {
            return Err(Error::PoolClosed(
                "pool has already been opened/closed and cannot be reused".into(),
            ));
        }
        *self.runtime.lock().unwrap() = Some(tokio::runtime::Handle::current());
        let (sender, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        state.workers = (0..self.num_workers)
            .map(|_| tokio::spawn(tasks::worker(Arc::downgrade(self), receiver.clone())))
            .collect();
        state.tasks = Some(sender);
        state.closing = Some(watch::channel(false).0);
        state.closed = false;
        state.opened = true;
        if self.kind == PoolKind::Regular {
            for _ in 0..state.nconns {
                self.run_task(&state, Task::add_connection());
            }
            self.run_task(&state, Task::ScheduleShrink);
        }
        Ok(())
    }

    pub(super) fn check_open(&self, state: &State<C>) -> Result<()> {
        if !state.closed {
            Ok(())
        } else if state.opened {
            Err(Error::PoolClosed(format!(
                "the pool {} is already closed",
                self.quoted_name()
            )))
        } else {
            Err(Error::PoolClosed(format!(
                "the pool {} is not open yet",
                self.quoted_name()
            )))
        }
    }

    pub(super) async fn wait(self: &Arc<Self>, timeout: Duration) -> Result<()> {
        let filled = {
            let mut state = self.state();
            self.check_open(&state)?;
            if state.filled.is_some() {
                return Err(Error::Interface(format!(
                    "wait() is already running on pool {}",
                    self.quoted_name()
                )));
            }
            if self.kind == PoolKind::Regular && state.idle.len() >= state.min_size {
                return Ok(());
            }
            let filled = Arc::new(Notify::new());
            state.filled = Some(filled.clone());
            filled
        };
        self.log(Level::Info, || {
            format!("waiting for pool {} initialization", self.quoted_name())
        });
        let ready = match self.kind {
            PoolKind::Regular => tokio::time::timeout(timeout, filled.notified()).await.is_ok(),
            PoolKind::Null => tokio::time::timeout(timeout, self.probe()).await.is_ok(),
        };
        self.state().filled = None;
        if !ready {
            // The state before closing empties it.
            let timed_out = self.pool_timeout(format!(
                "pool initialization incomplete after {:?} sec",
                timeout.as_secs_f64()
            ));
            self.close(Duration::from_secs(5)).await;
            return Err(timed_out);
        }
        self.log(Level::Info, || format!("pool {} is ready to use", self.quoted_name()));
        Ok(())
    }

    /// The null pool's `wait()`: proves it can connect (and configure) with one throwaway
    /// connection, retrying with the reconnection backoff until the caller's timeout.
    async fn probe(&self) {
        let mut attempt = Attempt::new(Duration::from_secs(24 * 3600));
        loop {
            match self.connect(true).await {
                Ok(slot) => {
                    slot.conn.close().await;
                    return;
                }
                Err(e) => {
                    self.log(Level::Warning, || {
                        format!("error connecting in {}: {e}", self.quoted_name())
                    });
                    attempt.update_delay(Instant::now());
                    tokio::time::sleep(attempt.delay).await;
                }
            }
        }
    }

    pub(super) async fn close(self: &Arc<Self>, timeout: Duration) {
        let (waiting, idle, workers) = {
            let mut state = self.state();
            if state.closed {
                return;
            }
            state.closed = true;
            if let Some(closing) = state.closing.take() {
                let _ = closing.send(true);
            }
            for _ in 0..state.workers.len() {
                self.run_task(&state, Task::Stop);
            }
            state.tasks = None;
            (
                std::mem::take(&mut state.waiting),
                std::mem::take(&mut state.idle),
                std::mem::take(&mut state.workers),
            )
        };
        self.log(Level::Debug, || format!("pool {} closed", self.quoted_name()));
        let unfinished = Arc::new(AtomicU64::new(workers.len() as u64));
        let joined = {
            let unfinished = unfinished.clone();
            async move {
                for worker in workers {
                    let _ = worker.await;
                    unfinished.fetch_sub(1, Ordering::Relaxed);
                }
            }
        };
        if tokio::time::timeout(timeout, joined).await.is_err() {
            let left = unfinished.load(Ordering::Relaxed);
            self.log(Level::Warning, || {
                format!(
                    "couldn't stop {left} worker task(s) of pool {} within {:?} seconds",
                    self.quoted_name(),
                    timeout.as_secs_f64()
                )
            });
        }
        for slot in idle {
            slot.conn.close().await;
        }
        for waiter in waiting {
            waiter.fail(Error::PoolClosed(format!("the pool {} is closed", self.quoted_name())));
        }
    }
}
