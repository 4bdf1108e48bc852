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
    /// Why money was taken back (a reversal); `None` for a refund.
    pub reason: Option<String>,
    /// The screen lane whose flag took it back (a reversal); `None` for a refund.
    pub lane: Option<String>,
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
            reason: None,
            lane: None,
        })
    }

    /// Takes back the refund granted on `task`, for `reason` found by `lane`: one per task,
    /// keyed by the task id.
    pub fn reversal_of(
        account: AccountId,
        task: TaskId,
        refund: Amount,
        at: Timestamp,
        reason: &str,
        lane: &str,
    ) -> Self {
        LedgerEntry {
            account,
            idempotency_key: format!("reversal:{task}"),
            task,
            kind: EntryKind::Reversal,
            amount: -refund,
            at,
            reason: Some(reason.to_owned()),
            lane: Some(lane.to_owned()),
        }
    }
}

/// What one task's report is worth to its account, from the task's ledger entries: what the
/// account keeps (the sum of its entries, so that an account's balance is the sum over its
/// tasks), and the reversal that took a refund back, if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMoney {
    /// The refund granted when the report was judged (or its re-check settled).
    pub granted: Option<Amount>,
    /// What the account keeps of it; `None` when nothing was ever granted.
    pub kept: Option<Amount>,
    pub reversal: Option<Reversal>,
}

/// A refund taken back: when, how much (negative), why, and which screen lane found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    pub at: Timestamp,
    pub amount: Amount,
    pub reason: Option<String>,
    pub lane: Option<String>,
}

impl TaskMoney {
    /// `entries` are the ledger entries of one task.
    pub fn of(entries: &[LedgerEntry]) -> Self {
        let granted = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Refund)
            .map(|e| e.amount)
            .reduce(|a, b| a + b);
        let reversal = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Reversal)
            .map(|e| Reversal {
                at: e.at,
                amount: e.amount,
                reason: e.reason.clone(),
                lane: e.lane.clone(),
            })
            .reduce(|a, b| Reversal {
                at: a.at.max(b.at),
                amount: a.amount + b.amount,
                reason: b.reason.or(a.reason),
                lane: b.lane.or(a.lane),
            });
        let kept = (!entries.is_empty()).then(|| balance(entries));
        Self {
            granted,
            kept,
            reversal,
        }
    }
}

/// An account's balance: the sum of its entries.
pub fn balance<'a>(entries: impl IntoIterator<Item = &'a LedgerEntry>) -> Amount {
    entries.into_iter().map(|e| e.amount).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, micros: i64, at: i64) -> LedgerEntry {
        LedgerEntry {
            account: AccountId(1),
            task: TaskId::parse("7").unwrap(),
            kind,
            amount: Amount::from_micros(micros),
            idempotency_key: format!("{}:7", kind.as_str()),
            at: Timestamp::from_millis(at),
            reason: (kind == EntryKind::Reversal).then(|| "the fast lane flagged it".to_owned()),
            lane: (kind == EntryKind::Reversal).then(|| "fast".to_owned()),
        }
    }

    #[test]
    fn a_reversed_refund_is_kept_as_nothing_and_says_when_and_why() {
        let money = TaskMoney::of(&[
            entry(EntryKind::Refund, 2_000, 10),
            entry(EntryKind::Reversal, -2_000, 99),
        ]);
        assert_eq!(money.granted, Some(Amount::from_micros(2_000)));
        assert_eq!(money.kept, Some(Amount::ZERO));
        let reversal = money.reversal.expect("reversed");
        assert_eq!(
            (reversal.at, reversal.amount),
            (Timestamp::from_millis(99), Amount::from_micros(-2_000))
        );
        assert_eq!(reversal.reason.as_deref(), Some("the fast lane flagged it"));
        assert_eq!(reversal.lane.as_deref(), Some("fast"));
    }

    #[test]
    fn a_kept_refund_and_no_refund_read_as_they_are() {
        let kept = TaskMoney::of(&[entry(EntryKind::Refund, 2_000, 10)]);
        assert_eq!(kept.kept, Some(Amount::from_micros(2_000)));
        assert!(kept.reversal.is_none());
        let none = TaskMoney::of(&[]);
        assert_eq!((none.granted, none.kept, none.reversal), (None, None, None));
    }
}
