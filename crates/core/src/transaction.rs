//! The bookkeeping of `transaction()` blocks, psycopg's rules: the outermost block opens the
//! transaction with BEGIN (whatever the autocommit mode) and ends it with COMMIT or ROLLBACK;
//! a nested block, or an outermost one entered while a transaction is already open, is a
//! savepoint that is released on success and rolled back to (then released) on failure, so an
//! inner failure undoes the inner block only.
//!
//! This decides which statement each enter and exit sends; the connection sends it. Sync and
//! async connections share it, so the rules live here once.

use crate::connection::TransactionStatus;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// Set when the block is a savepoint rather than the transaction itself.
    savepoint: Option<String>,
}

#[derive(Debug, Default)]
pub struct TransactionBlocks {
    stack: Vec<Block>,
}

impl TransactionBlocks {
    /// How many blocks are open.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// Opens a block and returns the statement that starts it, given the connection's status.
    pub fn enter(&mut self, status: TransactionStatus) -> Result<String> {
        let savepoint = match status {
            TransactionStatus::Idle => None,
            TransactionStatus::InTrans | TransactionStatus::InError => Some(format!("_pgtide_sp_{}", self.depth() + 1)),
            TransactionStatus::Active | TransactionStatus::Unknown => {
                return Err(Error::Programming(format!(
                    "can't start a transaction block: connection in transaction status {}",
                    status.as_str().to_uppercase()
                )))
            }
        };
        let statement = match &savepoint {
            Some(name) => format!("SAVEPOINT {name}"),
            None => "BEGIN".to_string(),
        };
        self.stack.push(Block { savepoint });
        Ok(statement)
    }

    /// Undoes an `enter` whose statement failed: that block never opened.
    pub fn cancel_enter(&mut self) {
        self.stack.pop();
    }

    /// Closes the innermost block and returns the statement that ends it: committing it when
    /// its body succeeded, rolling it back when the body failed. `None` when there is nothing
    /// to send (the outermost block's transaction already ended, e.g. by a COMMIT the user
    /// sent as SQL).
    pub fn exit(&mut self, commit: bool, status: TransactionStatus) -> Result<Option<String>> {
        let block = self
            .stack
            .pop()
            .ok_or_else(|| Error::Programming("no transaction block to exit".into()))?;
        Ok(match (block.savepoint, commit) {
            (Some(name), true) => Some(format!("RELEASE SAVEPOINT {name}")),
            (Some(name), false) => Some(format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")),
            (None, _) if status == TransactionStatus::Idle => None,
            (None, true) => Some("COMMIT".to_string()),
            (None, false) => Some("ROLLBACK".to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionStatus::*;

    #[test]
    fn outermost_block_begins_and_commits_or_rolls_back() {
        let mut blocks = TransactionBlocks::default();
        assert_eq!(blocks.enter(Idle).unwrap(), "BEGIN");
        assert_eq!(blocks.depth(), 1);
        assert_eq!(blocks.exit(true, InTrans).unwrap().as_deref(), Some("COMMIT"));
        assert_eq!(blocks.enter(Idle).unwrap(), "BEGIN");
        assert_eq!(blocks.exit(false, InError).unwrap().as_deref(), Some("ROLLBACK"));
        assert_eq!(blocks.depth(), 0);
    }

    #[test]
    fn nested_blocks_are_numbered_savepoints() {
        let mut blocks = TransactionBlocks::default();
        blocks.enter(Idle).unwrap();
        assert_eq!(blocks.enter(InTrans).unwrap(), "SAVEPOINT _pgtide_sp_2");
        assert_eq!(blocks.enter(InTrans).unwrap(), "SAVEPOINT _pgtide_sp_3");
        assert_eq!(
            blocks.exit(false, InError).unwrap().as_deref(),
            Some("ROLLBACK TO SAVEPOINT _pgtide_sp_3; RELEASE SAVEPOINT _pgtide_sp_3")
        );
        assert_eq!(
            blocks.exit(true, InTrans).unwrap().as_deref(),
            Some("RELEASE SAVEPOINT _pgtide_sp_2")
        );
        assert_eq!(blocks.exit(true, InTrans).unwrap().as_deref(), Some("COMMIT"));
    }

    #[test]
    fn outermost_block_inside_an_open_transaction_is_a_savepoint() {
        let mut blocks = TransactionBlocks::default();
        assert_eq!(blocks.enter(InTrans).unwrap(), "SAVEPOINT _pgtide_sp_1");
        assert_eq!(
            blocks.exit(true, InTrans).unwrap().as_deref(),
            Some("RELEASE SAVEPOINT _pgtide_sp_1")
        );
    }

    #[test]
    fn nothing_to_end_when_the_transaction_already_ended() {
        let mut blocks = TransactionBlocks::default();
        blocks.enter(Idle).unwrap();
        assert_eq!(blocks.exit(true, Idle).unwrap(), None);
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut blocks = TransactionBlocks::default();
        assert!(matches!(blocks.exit(true, Idle), Err(Error::Programming(_))));
        assert!(matches!(blocks.enter(Unknown), Err(Error::Programming(_))));
        assert_eq!(blocks.depth(), 0);
        blocks.enter(Idle).unwrap();
        blocks.cancel_enter();
        assert_eq!(blocks.depth(), 0);
    }
}
