//! `connection(fn)` around one statement, in one call (`Pool::query`): take a connection, run
//! the statement, commit or roll back, give the connection back.

use std::sync::Arc;
use std::time::Duration;

use super::ride::{run_alone, Ride, Statement};
use super::shared::Checkout;
use super::{Pool, PoolConnection};
use crate::connection::Connection;
use crate::error::Result;
use crate::params;
use crate::result::QueryResult;

impl Pool {
    /// The statement's error wins over the return's; a caller that goes away midway leaves
    /// nothing checked out. Concurrent calls may share a connection's round trip (`ride.rs`).
    pub async fn query(&self, statement: Statement, timeout: Option<Duration>) -> Result<QueryResult> {
        if self.may_pipeline(&statement.sql) {
            return self.query_riding(Arc::new(Ride::new(statement)), timeout).await;
        }
        let statement = &statement;
        let params = params::decode(&statement.params)?;
        self.one_shot(timeout, |conn| async move { run_alone(&conn, statement, params).await })
            .await
    }

    /// `query` over the simple protocol (`Connection::simple_query`): any number of statements
    /// without parameters, one result each.
    pub async fn simple_query(&self, sql: &str, timeout: Option<Duration>) -> Result<Vec<QueryResult>> {
        self.one_shot(timeout, |conn| async move { conn.simple_query(sql, None).await })
            .await
    }

    /// Takes a connection, runs `work` on it, commits or rolls back, and gives it back.
    async fn one_shot<T, F, W>(&self, timeout: Option<Duration>, work: W) -> Result<T>
    where
        W: FnOnce(Arc<Connection>) -> F,
        F: std::future::Future<Output = Result<T>>,
    {
        let checkout = self.check_out(timeout).finish().await?;
        self.use_and_return(checkout, work).await
    }

    /// `one_shot` from a checkout already made. The checkout never leaves the engine, so it
    /// needs no ticket.
    pub(super) async fn use_and_return<T, F, W>(&self, checkout: Checkout<Connection>, work: W) -> Result<T>
    where
        W: FnOnce(Arc<Connection>) -> F,
        F: std::future::Future<Output = Result<T>>,
    {
        let mut held = Held::new(self, checkout.id);
        let outcome = work(checkout.conn).await;
        held.release();
        let returned = match self.shared.take_checked_out(checkout.id) {
            Ok(slot) => self.shared.finish_use(slot, outcome.is_ok()).finish().await,
            Err(e) => Err(e),
        };
        let result = outcome?;
        returned.map(|()| result)
    }
}

/// A checkout a one-shot call holds: reclaimed if the call is dropped before its return.
pub(super) struct Held<'a, C: PoolConnection> {
    pool: &'a Pool<C>,
    id: Option<u64>,
}

impl<'a, C: PoolConnection> Held<'a, C> {
    pub(super) fn new(pool: &'a Pool<C>, id: u64) -> Self {
        Held { pool, id: Some(id) }
    }

    /// The call reached its return: nothing to reclaim.
    pub(super) fn release(&mut self) {
        self.id = None;
    }
}

impl<C: PoolConnection> Drop for Held<'_, C> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.pool.reclaim(id);
        }
    }
}
