//! The server's transaction status, as a ReadyForQuery reports it, and as pgtide shows it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Not in a transaction.
    Idle,
    /// A request is in flight.
    Active,
    /// In a transaction block.
    InTrans,
    /// In a failed transaction block: only ROLLBACK helps.
    InError,
    /// Broken or closed: nobody knows.
    Unknown,
}

impl TransactionStatus {
    pub(super) fn from_ready_for_query(status: u8) -> TransactionStatus {
        match status {
            b'I' => TransactionStatus::Idle,
            b'T' => TransactionStatus::InTrans,
            b'E' => TransactionStatus::InError,
            _ => TransactionStatus::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Idle => "idle",
            TransactionStatus::Active => "active",
            TransactionStatus::InTrans => "intrans",
            TransactionStatus::InError => "inerror",
            TransactionStatus::Unknown => "unknown",
        }
    }
}
