//! A checkout as its client holds it: the connection, and a ticket naming the pool and the
//! checkout. Every pooled-connection operation asks the ticket whether it still holds the
//! connection: one atomic load, no pool lock. Lease ids are unique across pools, so a
//! connection's older lease (or another pool's) can never return, reclaim or use it while a
//! later client holds it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::shared::Checkout;
use super::{Outcome, Pool, PoolConnection};
use crate::connection::Connection;
use crate::error::{Error, Result};

/// A connection handed out by `getconn`; give it back with `putconn(Some(&lease.ticket))`.
pub struct Lease<C: PoolConnection = Connection> {
    pub conn: Arc<C>,
    pub ticket: Ticket<C>,
}

impl<C: PoolConnection> Lease<C> {
    pub(super) fn new(pool: &Pool<C>, checkout: Checkout<C>) -> Lease<C> {
        Lease {
            conn: checkout.conn,
            ticket: Ticket {
                pool: pool.clone(),
                id: checkout.id,
                holder: checkout.holder,
            },
        }
    }

    pub fn id(&self) -> u64 {
        self.ticket.id
    }
}

/// One checkout of one pool.
pub struct Ticket<C: PoolConnection = Connection> {
    pool: Pool<C>,
    id: u64,
    /// The id of the checkout holding the connection now; 0 while it is in the pool. Shared
    /// with the pool's slot, which sets it at hand-out and clears it at return.
    holder: Arc<AtomicU64>,
}

impl<C: PoolConnection> Clone for Ticket<C> {
    fn clone(&self) -> Self {
        Ticket {
            pool: self.pool.clone(),
            id: self.id,
            holder: self.holder.clone(),
        }
    }
}

impl<C: PoolConnection> Ticket<C> {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn pool(&self) -> &Pool<C> {
        &self.pool
    }

    /// Whether this checkout still holds its connection; once returned, the wrapper that took
    /// it must not touch the connection (it may serve another client by now).
    pub fn check(&self) -> Result<()> {
        if self.holder.load(Ordering::Acquire) == self.id {
            return Ok(());
        }
        Err(Error::Interface(format!(
            "this connection was returned to pool '{}': it may be serving another client, so this \
             object can no longer use it (take another with getconn())",
            self.pool.name()
        )))
    }

    /// The client dropped the connection without returning it: see `Pool::reclaim`.
    pub fn reclaim(&self) {
        self.pool.reclaim(self.id)
    }

    /// A checked-out connection's `close()`: with `close_returns` on, a connection still held
    /// goes back to the pool (the outcome of that return). `None`: the caller closes it, and
    /// its slot is replaced when it comes back.
    pub fn close_or_return(&self) -> Option<Outcome<Result<()>>> {
        if !self.pool.close_returns() {
            return None;
        }
        let slot = self.pool.shared.take_checked_out(self.id).ok()?;
        Some(self.pool.shared.putconn(slot))
    }
}

impl<C: PoolConnection> Pool<C> {
    /// The checkout id of `ticket` if this pool handed it out, or psycopg's error naming the
    /// culprit (a connection of no pool, or of another pool).
    pub fn lease_id(&self, ticket: Option<&Ticket<C>>) -> Result<u64> {
        match ticket {
            Some(ticket) if ticket.pool.same_pool(self) => Ok(ticket.id),
            Some(ticket) => Err(Error::Interface(format!(
                "can't return connection to pool '{}', it comes from pool '{}'",
                self.name(),
                ticket.pool.name()
            ))),
            None => Err(Error::Interface(format!(
                "can't return connection to pool '{}', it doesn't come from any pool",
                self.name()
            ))),
        }
    }
}
