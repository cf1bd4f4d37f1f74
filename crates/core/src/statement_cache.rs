//! The per-connection cache of prepared (named) statements, least recently used first out.
//!
//! A cached statement skips Parse and Describe: the request is Bind/Execute/Sync, one round
//! trip. Statements are prepared on first use (a cold statement costs the same two round trips
//! as an unnamed one). An evicted statement is closed on the server by a Close message that rides
//! with the connection's next request. Capacity 0 turns the cache off: every statement is then
//! the unnamed one, and the server never holds a named statement (PgBouncer transaction mode).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use crate::result::{all_text, Field, ResultFormats};

/// Prepared statements are named `_pgtide_<n>`, `n` never reused on a connection, so a late
/// Close can only ever hit the statement it was meant for.
const NAME_PREFIX: &str = "_pgtide_";

/// The most statements a connection's cache may be set to hold (`statementCacheSize`): far past
/// any sane setting, low enough that a typo is caught. The default is `ConnectOptions`'s.
pub const MAX_CAPACITY: usize = 1_000_000;

/// What the server told us about a statement when it was prepared.
#[derive(Debug)]
pub struct Prepared {
    /// The statement's name on the server; empty for the unnamed statement.
    pub name: String,
    pub param_types: Vec<u32>,
    /// The columns in the formats pgtide prefers (`ResultFormats::Preferred`).
    pub fields: Arc<[Field]>,
    /// The columns all in text, made the first time a query asks for text results, then shared
    /// by every such result (the binding keys its JS column arrays on the `Arc`).
    pub text_fields: OnceLock<Arc<[Field]>>,
}

impl Prepared {
    pub fn new(name: String, param_types: Vec<u32>, fields: Arc<[Field]>) -> Prepared {
        Prepared {
            name,
            param_types,
            fields,
            text_fields: OnceLock::new(),
        }
    }

    /// The columns as a query asking `formats` receives them.
    pub fn fields_in(&self, formats: ResultFormats) -> &Arc<[Field]> {
        match formats {
            ResultFormats::Preferred => &self.fields,
            ResultFormats::AllText => self.text_fields.get_or_init(|| {
                if self.fields.iter().all(|f| f.format == crate::params::FORMAT_TEXT) {
                    self.fields.clone()
                } else {
                    all_text(&self.fields)
                }
            }),
        }
    }
}

#[derive(Debug)]
struct Entry {
    statement: Arc<Prepared>,
    /// The tick of its last use: its key in `by_use`.
    used: u64,
}

#[derive(Debug)]
pub struct StatementCache {
    capacity: usize,
    entries: HashMap<Arc<str>, Entry>,
    /// Keys by their last use, oldest first.
    by_use: BTreeMap<u64, Arc<str>>,
    tick: u64,
    next_id: u64,
    /// Names of evicted statements still to be closed on the server.
    to_close: Vec<String>,
}

impl StatementCache {
    pub fn new(capacity: usize) -> StatementCache {
        StatementCache {
            capacity,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
            next_id: 0,
            to_close: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cached statement for `sql`, marked as just used.
    pub fn get(&mut self, sql: &str) -> Option<Arc<Prepared>> {
        self.tick += 1;
        let entry = self.entries.get_mut(sql)?;
        let key = self.by_use.remove(&entry.used)?;
        entry.used = self.tick;
        self.by_use.insert(self.tick, key);
        Some(entry.statement.clone())
    }

    /// The name to prepare `sql` under: a fresh one, or the unnamed statement when the cache is
    /// off.
    pub fn name_for_new(&mut self) -> String {
        if !self.enabled() {
            return String::new();
        }
        self.next_id += 1;
        format!("{NAME_PREFIX}{}", self.next_id)
    }

    /// Remembers a statement just prepared, evicting the least recently used one past capacity.
    pub fn insert(&mut self, sql: &str, statement: Arc<Prepared>) {
        if !self.enabled() || statement.name.is_empty() {
            return;
        }
        self.remove(sql);
        self.tick += 1;
        let key: Arc<str> = sql.into();
        self.by_use.insert(self.tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                statement,
                used: self.tick,
            },
        );
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.to_close.push(evicted.statement.name.clone());
            }
        }
    }

    /// Forgets `sql`'s statement and closes it on the server with the next request (harmless if
    /// the server no longer has it).
    pub fn remove(&mut self, sql: &str) {
        if let Some(entry) = self.entries.remove(sql) {
            self.by_use.remove(&entry.used);
            self.to_close.push(entry.statement.name.clone());
        }
    }

    /// The server dropped every prepared statement (`DISCARD ALL`, `DEALLOCATE ALL`): forget
    /// them all, with nothing left to close.
    pub fn forget_all(&mut self) {
        self.entries.clear();
        self.by_use.clear();
        self.to_close.clear();
    }

    /// Names of statements to close, handed over once.
    pub fn take_to_close(&mut self) -> Vec<String> {
        std::mem::take(&mut self.to_close)
    }
}

/// A command tag after which the server holds no prepared statement of ours.
pub fn drops_all_statements(tag: &str) -> bool {
    tag == "DISCARD ALL" || tag == "DEALLOCATE ALL"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(cache: &mut StatementCache) -> Arc<Prepared> {
        Arc::new(Prepared::new(cache.name_for_new(), vec![], Arc::new([])))
    }

    fn cached(cache: &mut StatementCache, sql: &str) -> String {
        let statement = prepared(cache);
        let name = statement.name.clone();
        cache.insert(sql, statement);
        name
    }

    #[test]
    fn evicts_the_least_recently_used_past_capacity() {
        let mut cache = StatementCache::new(2);
        let a = cached(&mut cache, "a");
        cached(&mut cache, "b");
        assert!(cache.get("a").is_some()); // b is now the oldest
        cached(&mut cache, "c");
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").is_none());
        assert_eq!(cache.get("a").unwrap().name, a);
        assert_eq!(cache.take_to_close(), vec!["_pgtide_2".to_string()]);
        assert!(cache.take_to_close().is_empty());
    }

    #[test]
    fn names_are_never_reused() {
        let mut cache = StatementCache::new(1);
        let first = cached(&mut cache, "a");
        cache.remove("a");
        let second = cached(&mut cache, "a");
        assert_ne!(first, second);
        assert_eq!(cache.take_to_close(), vec![first]);
    }

    #[test]
    fn capacity_zero_uses_the_unnamed_statement_and_caches_nothing() {
        let mut cache = StatementCache::new(0);
        assert_eq!(cache.name_for_new(), "");
        cached(&mut cache, "a");
        assert!(cache.get("a").is_none());
        assert!(cache.is_empty());
        assert!(cache.take_to_close().is_empty());
    }

    #[test]
    fn forgetting_all_leaves_nothing_to_close() {
        let mut cache = StatementCache::new(3);
        cached(&mut cache, "a");
        cached(&mut cache, "b");
        cache.remove("a");
        cache.forget_all();
        assert!(cache.is_empty());
        assert!(cache.take_to_close().is_empty());
        assert!(drops_all_statements("DISCARD ALL"));
        assert!(drops_all_statements("DEALLOCATE ALL"));
        assert!(!drops_all_statements("DEALLOCATE"));
    }
}
