//! Serving a client: an idle connection, a hand-off in FIFO order, or a
//! connection of its own (null pools); then the deferred `configure` and the user's `check`,
//! with backoff between failed checks. The request takes its place at call time.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::ride::Ride;
use super::shared::{describe, Checkout, State};
use super::stats::millis;
use super::tasks::Task;
use super::unclaimed::{CountedConnect, Unclaimed};
use super::waiter::{Turn, Waiter};
use super::{deadline_after, Attempt, IdleOrder, Level, PoolConnection, PoolKind, Shared};
use crate::error::{Error, Result};

impl<C: PoolConnection> Shared<C> {
    /// The synchronous half of `getconn`: counts the request and takes its place. A request
    /// with a `ride` may be served by boarding another client's connection (`serve_turn`).
    pub(super) fn request(self: &Arc<Self>, timeout: Option<Duration>, ride: Option<Arc<Ride>>) -> Result<Request<C>> {
        let timeout = timeout.unwrap_or_else(|| self.settings().timeout);
        let deadline = deadline_after(timeout);
        self.log(Level::Info, || {
            format!("connection requested from {}", self.quoted_name())
        });
        {
            let mut state = self.state();
            state.counters.requests_num += 1;
            self.check_open(&state)?;
            self.refuse_if_unconnectable(&mut state)?;
        }
        let first = self
            .take_or_queue(deadline, ride)
            .map_err(|e| self.timed_out(e, timeout))?;
        Ok(Request {
            first,
            deadline,
            timeout,
        })
    }

    /// A request served by an idle connection that needs nothing more (no `check` to run, no
    /// deferred `configure`) is complete now; any other goes on to `serve`.
    pub(super) fn ready_now(&self, request: Request<C>) -> Result<Checkout<C>, Request<C>> {
        let Request {
            first,
            deadline,
            timeout,
        } = request;
        match first {
            Ready::Lease(lease) if self.callbacks.check.is_none() && self.is_configured(&lease) => {
                self.log(Level::Info, || format!("connection given by {}", self.quoted_name()));
                Ok(lease)
            }
            first => Err(Request {
                first,
                deadline,
                timeout,
            }),
        }
    }

    fn is_configured(&self, lease: &Checkout<C>) -> bool {
        self.state()
            .checked_out
            .get(&lease.id)
            .is_some_and(|slot| slot.configured)
    }

    pub(super) async fn serve(self: &Arc<Self>, request: Request<C>) -> Result<Checkout<C>> {
        self.serve_turn(request).await?.into_lease()
    }

    /// `serve` for any request: the statement's answer if the client (one with a ride) boarded
    /// another's connection while it waited, else a connection.
    pub(super) async fn serve_turn(self: &Arc<Self>, request: Request<C>) -> Result<Turn<C>> {
        let Request {
            first,
            deadline,
            timeout,
        } = request;
        let first = match first {
            Ready::Queued(mut client) => match client.wait(deadline).await.map_err(|e| self.timed_out(e, timeout))? {
                Turn::Lease(lease) => Ready::Lease(lease),
                rode => return Ok(rode),
            },
            first => first,
        };
        self.getconn_checked(first, deadline)
            .await
            .map(Turn::Lease)
            .map_err(|e| self.timed_out(e, timeout))
    }

    /// Serves a connection that passed the user's `check`, retrying with backoff.
    async fn getconn_checked(self: &Arc<Self>, first: Ready<C>, deadline: Instant) -> Result<Checkout<C>> {
        let mut attempt: Option<Attempt> = None;
        let mut next = Some(first);
        loop {
            let ready = match next.take() {
                Some(ready) => ready,
                // A retry after a failed check never serves past the deadline.
                None if Instant::now() >= deadline => return Err(Error::PoolTimeout(String::new())),
                None => self.take_or_queue(deadline, None)?,
            };
            let lease = self.lease_for(ready, deadline).await?;
            let unclaimed = Unclaimed::new(self, lease.id);
            // A hook stuck on a silent connection must not outlive the client's deadline.
            let prepared = tokio::time::timeout_at(deadline, self.prepare_for_client(&lease)).await;
            let Ok(prepared) = prepared else {
                self.log(Level::Warning, || {
                    format!(
                        "discarding connection stuck in configure or check: {}",
                        describe(&*lease.conn)
                    )
                });
                let mut state = self.state();
                state.check_in(lease.id);
                self.replace(&mut state, lease.conn);
                return Err(Error::PoolTimeout(String::new()));
            };
            match prepared {
                Ok(()) => {
                    self.log(Level::Info, || format!("connection given by {}", self.quoted_name()));
                    unclaimed.claim();
                    return Ok(lease);
                }
                Err(Unfit::Unconfigured(e)) => {
                    self.log(Level::Warning, || {
                        format!("error connecting in {}: {e}", self.quoted_name())
                    });
                    let mut state = self.state();
                    state.check_in(lease.id);
                    self.replace(&mut state, lease.conn);
                }
                Err(Unfit::FailedCheck(e)) => {
                    self.log(Level::Info, || format!("connection failed check: {e}"));
                    let slot = self.state().check_in(lease.id);
                    if let Some(slot) = slot {
                        self.return_connection(slot, true).await;
                    }
                }
            }
            let now = Instant::now();
            match &mut attempt {
                // The first retry is immediate; the budget is what is left until the deadline.
                None => attempt = Some(Attempt::new(deadline.saturating_duration_since(now))),
                Some(attempt) => attempt.update_delay(now),
            }
            let attempt = attempt.as_ref().expect("set just above");
            if attempt.time_to_give_up(now) {
                return Err(Error::PoolTimeout(String::new()));
            }
            tokio::time::sleep(attempt.delay).await;
        }
    }

    /// Runs a deferred `configure`, then the user's `check`, on the caller's path.
    async fn prepare_for_client(&self, lease: &Checkout<C>) -> Result<(), Unfit> {
        let configured = self
            .state()
            .checked_out
            .get(&lease.id)
            .is_none_or(|slot| slot.configured);
        if !configured {
            self.configure(&lease.conn).await.map_err(Unfit::Unconfigured)?;
            if let Some(slot) = self.state().checked_out.get_mut(&lease.id) {
                slot.configured = true;
            }
        }
        match &self.callbacks.check {
            Some(check) => check(lease.conn.clone()).await.map_err(Unfit::FailedCheck),
            None => Ok(()),
        }
    }

    /// Takes an idle connection, or queues for one.
    /// Turns what `take_or_queue` found into a connection: at once, by connecting (null
    /// pools), or by waiting in the queue.
    async fn lease_for(self: &Arc<Self>, ready: Ready<C>, deadline: Instant) -> Result<Checkout<C>> {
        match ready {
            Ready::Lease(lease) => Ok(lease),
            Ready::Connect => self.connect_for_client(deadline).await,
            Ready::Queued(mut client) => client.wait(deadline).await?.into_lease(),
        }
    }

    fn take_or_queue(self: &Arc<Self>, deadline: Instant, ride: Option<Arc<Ride>>) -> Result<Ready<C>> {
        let mut state = self.state();
        match self.kind {
            PoolKind::Regular => {
                let now = Instant::now();
                while let Some(slot) = self.next_idle(&mut state) {
                    state.nconns_min = state.nconns_min.min(state.idle.len());
                    // An idle connection past its lifetime, or known lost, is replaced, never
                    // handed out; so is one whose server ended the session while it sat idle
                    // (a FATAL or the end of the stream waiting on its socket: one poll(2)).
                    let conn = &slot.conn;
                    let lost = conn.lost_while_idle();
                    if lost || slot.expire_at <= now {
                        state.counters.connections_lost += u64::from(lost);
                        self.log(Level::Info, || {
                            format!("replacing expired or lost idle connection {}", describe(&**conn))
                        });
                        self.replace(&mut state, slot.conn);
                        continue;
                    }
                    return Ok(Ready::Lease(state.check_out(slot)));
                }
            }
            PoolKind::Null => {
                if state.max_size == 0 || state.nconns < state.max_size {
                    state.nconns += 1;
                    return Ok(Ready::Connect);
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::PoolTimeout(String::new()));
        }
        let max_waiting = self.settings().max_waiting;
        if max_waiting > 0 && state.waiting.len() >= max_waiting {
            state.counters.requests_errors += 1;
            return Err(Error::TooManyRequests(format!(
                "the pool {} has already {} requests waiting",
                self.quoted_name(),
                state.waiting.len()
            )));
        }
        let waiter = Arc::new(Waiter::new(ride));
        state.waiting.push_back(waiter.clone());
        state.counters.requests_queued += 1;
        self.maybe_grow(&mut state);
        state.reconnection.client_waits();
        Ok(Ready::Queued(QueuedClient {
            pool: self.clone(),
            waiter,
            done: false,
        }))
    }

    /// The idle connection `idle_order` lends next. Returns go to the back and the shrink takes
    /// from the front (the one unused longest) in either order.
    fn next_idle(&self, state: &mut State<C>) -> Option<super::shared::Slot<C>> {
        match self.idle_order {
            IdleOrder::Fifo => state.idle.pop_front(),
            IdleOrder::Lifo => state.idle.pop_back(),
        }
    }

    /// A queued client gives up (timeout, or its future was dropped): it leaves the queue, and
    /// a connection handed to it meanwhile goes back to the pool, never to nobody.
    fn abandon(&self, waiter: &Arc<Waiter<C>>) {
        let mut state = self.state();
        state.waiting.retain(|w| !Arc::ptr_eq(w, waiter));
        if let Some(lease) = waiter.leave() {
            if let Some(slot) = state.check_in(lease.id) {
                self.add_to_pool(&mut state, slot);
            }
        }
    }

    /// Null pools: the client pays for its own connection (concurrent connects don't wait on
    /// each other, unlike psycopg's).
    async fn connect_for_client(self: &Arc<Self>, deadline: Instant) -> Result<Checkout<C>> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let counted = CountedConnect::new(self);
        let outcome = match tokio::time::timeout(remaining, self.connect(true)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::PoolTimeout(String::new())),
        };
        counted.settle();
        let mut state = self.state();
        match outcome {
            Ok(slot) => Ok(state.check_out(slot)),
            Err(e) => {
                state.nconns -= 1;
                Err(e)
            }
        }
    }

    /// Starts one growth connection if clients wait and there is room.
    pub(super) fn maybe_grow(&self, state: &mut State<C>) {
        if self.kind == PoolKind::Null || state.nconns >= state.max_size || state.growing {
            return;
        }
        state.nconns += 1;
        let size = state.nconns;
        self.log(Level::Info, || format!("growing pool {} to {size}", self.quoted_name()));
        state.growing = true;
        self.run_task(state, Task::grow());
    }
}

/// Why a connection taken for a client was not handed out.
enum Unfit {
    Unconfigured(Error),
    FailedCheck(Error),
}

/// What `getconn` found under the lock.
enum Ready<C: PoolConnection> {
    Lease(Checkout<C>),
    /// A null pool with room: the client connects.
    Connect,
    Queued(QueuedClient<C>),
}

/// A `getconn` call, placed in the pool (or not) at call time.
pub(super) struct Request<C: PoolConnection> {
    first: Ready<C>,
    deadline: Instant,
    timeout: Duration,
}

/// A client in the queue. Dropped before it is served (its future was dropped), it leaves
/// the queue and gives back a connection that reached it meanwhile.
struct QueuedClient<C: PoolConnection> {
    pool: Arc<Shared<C>>,
    waiter: Arc<Waiter<C>>,
    done: bool,
}

impl<C: PoolConnection> QueuedClient<C> {
    pub(super) async fn wait(&mut self, deadline: Instant) -> Result<Turn<C>> {
        let outcome = self.waiter.wait(deadline).await;
        self.done = true;
        if let Some(Ok(rode @ (Turn::Answer(_) | Turn::Rerun(_)))) = outcome {
            // Its wait was counted when it boarded.
            return Ok(rode);
        }
        let mut state = self.pool.state();
        let waited = self.waiter.queued_at.elapsed();
        state.counters.requests_wait_ms += millis(waited);
        state.counters.durations.requests_wait.record(waited);
        match outcome {
            Some(Ok(turn)) => Ok(turn),
            Some(Err(e)) => {
                state.counters.requests_errors += 1;
                Err(e)
            }
            None => {
                // Timed out: leave the queue at once, and give back a connection that was
                // offered in the meantime.
                state.counters.requests_errors += 1;
                drop(state);
                self.pool.abandon(&self.waiter);
                Err(Error::PoolTimeout(String::new()))
            }
        }
    }
}

impl<C: PoolConnection> Drop for QueuedClient<C> {
    fn drop(&mut self) {
        if !self.done {
            self.pool.state().counters.requests_errors += 1;
            self.pool.abandon(&self.waiter);
        }
    }
}
