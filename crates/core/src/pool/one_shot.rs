//! `connection(fn)` around one statement, in one call (`Pool::query`): take a connection, run
//! the statement, commit or roll back, give the connection back.

use std::sync::Arc;
use std::time::Duration;

use super::{Pool, PoolConnection};
use crate::connection::Connection;
use crate::error::Result;
use crate::params::Param;
use crate::result::{QueryResult, ResultFormats, RowSink};

impl Pool {
    /// The statement's error wins over the return's; a caller that goes away midway leaves
    /// nothing checked out. `rows` streams a large result's rows as they arrive (see
    /// `RowSink`); the columns come in `formats`.
    pub async fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
        timeout: Option<Duration>,
        rows: Option<RowSink>,
        formats: ResultFormats,
    ) -> Result<QueryResult> {
        self.one_shot(timeout, |conn| async move {
            conn.query_with(sql, params, None, rows, formats).await
        })
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
        let lease = self.getconn(timeout).finish().await?;
        let mut held = Held::new(&lease.ticket);
        let outcome = work(lease.conn).await;
        held.release();
        let returned = self.finish_use(Some(&lease.ticket), outcome.is_ok()).finish().await;
        let result = outcome?;
        returned.map(|()| result)
    }
}

/// A lease a one-shot call holds: reclaimed if the call is dropped before its return.
pub(super) struct Held<'a, C: PoolConnection> {
    ticket: Option<&'a super::Ticket<C>>,
}

impl<'a, C: PoolConnection> Held<'a, C> {
    pub(super) fn new(ticket: &'a super::Ticket<C>) -> Self {
        Held { ticket: Some(ticket) }
    }

    /// The call reached its return: nothing to reclaim.
    pub(super) fn release(&mut self) {
        self.ticket = None;
    }
}

impl<C: PoolConnection> Drop for Held<'_, C> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            ticket.reclaim();
        }
    }
}
