//! The refund ledger: money verdict moves, as entries with idempotency keys. An account's
//! balance is the sum of its entries; storage keeps a running balance only as a cache of that.

use crate::account::AccountId;
use crate::ids::TaskId;
use crate::money::Amount;
use crate::report::Report;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Credit for an accepted incorrect-report.
    Refund,
    /// A refund taken back (negative), e.g. when the account is later found abusive.
    Reversal,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Refund => "refund",
            EntryKind::Reversal => "reversal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "refund" => Some(EntryKind::Refund),
            "reversal" => Some(EntryKind::Reversal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub account: AccountId,
    pub task: TaskId,
    pub kind: EntryKind,
    pub amount: Amount,
    /// Unique per effect: the same refund can never be written twice.
    pub idempotency_key: String,
    pub at: Timestamp,
}

impl LedgerEntry {
    /// The refund a recorded report grants, if any: one per task, keyed by the task id.
    pub fn refund_for(report: &Report) -> Option<LedgerEntry> {
        let amount = report.refund.filter(|a| !a.is_zero())?;
        Some(LedgerEntry {
            account: report.account,
            task: report.task.clone(),
            kind: EntryKind::Refund,
            amount,
            idempotency_key: format!("refund:{}", report.task),
            at: report.received_at,
        })
    }

    /// Takes back the refund granted on `task`: one per task, keyed by the task id.
    pub fn reversal_of(account: AccountId, task: TaskId, refund: Amount, at: Timestamp) -> Self {
        LedgerEntry {
            account,
            idempotency_key: format!("reversal:{task}"),
            task,
            kind: EntryKind::Reversal,
            amount: -refund,
            at,
        }
    }
}

/// An account's balance: the sum of its entries.
pub fn balance<'a>(entries: impl IntoIterator<Item = &'a LedgerEntry>) -> Amount {
    entries.into_iter().map(|e| e.amount).sum()
}
