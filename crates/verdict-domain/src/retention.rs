//! How long task records are kept, and which old ones may go.
//!
//! Storage looks at the tasks completed before the cut-off a few at a time and tells this module
//! what it knows about each ([`OldTask`]); [`fate`] decides; storage deletes the tasks it was told
//! to, with their reports and settled re-checks. The rule is here rather than in two `WHERE`
//! clauses so that SQLite and PostgreSQL cannot drift apart on which money records survive.
//!
//! What retention never touches: the ledger, accounts and keys, the hourly counts and baselines
//! the screen reads, and evidence buckets (they have their own ages, `scores`). A task kept for
//! its money stays with its report for good: a refund is always explained by the report and the
//! task it was granted on.

use std::time::Duration;

use crate::captcha::Family;
use crate::policy::ReportWindows;
use crate::timestamp::Timestamp;

/// How long after completion a task is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRetention {
    age: Duration,
}

/// A retention age that would delete tasks a client may still report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a task retention of {age:?} is not longer than the {family} report window of {window:?}: \
     a task could be deleted while its client may still report it"
)]
pub struct WithinReportWindow {
    pub age: Duration,
    pub family: &'static str,
    pub window: Duration,
}

impl TaskRetention {
    /// Tasks are kept `age` after completion. Refused unless `age` is longer than the longest
    /// report window of every family (any dialect's included): until then a report may still
    /// come, and a report on a task that is gone would be refused as unknown.
    pub fn new(age: Duration, windows: &ReportWindows) -> Result<Self, WithinReportWindow> {
        for family in Family::ALL {
            let window = windows.longest(family);
            if age <= window {
                return Err(WithinReportWindow {
                    age,
                    family: family.as_str(),
                    window,
                });
            }
        }
        Ok(Self { age })
    }

    pub fn age(self) -> Duration {
        self.age
    }

    /// Tasks completed before this moment are old enough to be pruned.
    pub fn cutoff(self, now: Timestamp) -> Timestamp {
        now.saturating_sub(self.age)
    }
}

/// What storage knows about a task completed before the cut-off: all the rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OldTask {
    pub completed_at: Timestamp,
    /// Its report records a refund (an accepted report, whatever the amount).
    pub refunded: bool,
    /// Ledger entries written about the task (a refund, a reversal).
    pub ledger_entries: u64,
    /// Its report waits for a second solve that has not been settled.
    pub open_recheck: bool,
}

/// Why an old task stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kept {
    /// Completed at or after the cut-off (storage was asked for older tasks only; this guards
    /// the rule, not the query).
    Young,
    /// Money moved on it: a refund recorded on its report, or any ledger entry. Kept for good,
    /// with its report.
    Money,
    /// A re-check still open on its report; it is looked at again once settled.
    OpenRecheck,
}

/// What becomes of an old task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delete the task, its report (if any) and its settled re-check (if any).
    Prune,
    Keep(Kept),
}

/// Whether a task completed before `cutoff` may be deleted. Money wins over everything: a task
/// with a refunded report or any ledger entry is never deleted.
pub fn fate(task: &OldTask, cutoff: Timestamp) -> Fate {
    if task.completed_at >= cutoff {
        Fate::Keep(Kept::Young)
    } else if task.refunded || task.ledger_entries > 0 {
        Fate::Keep(Kept::Money)
    } else if task.open_recheck {
        Fate::Keep(Kept::OpenRecheck)
    } else {
        Fate::Prune
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rstest::rstest;

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
    const DAY: Duration = Duration::from_secs(86_400);

    fn old() -> OldTask {
        OldTask {
            completed_at: NOW.saturating_sub(100 * DAY),
            refunded: false,
            ledger_entries: 0,
            open_recheck: false,
        }
    }

    #[rstest]
    #[case::nothing_on_it(old(), Fate::Prune)]
    #[case::a_refunded_report(OldTask { refunded: true, ..old() }, Fate::Keep(Kept::Money))]
    #[case::a_reversal_without_a_refund_on_record(
        OldTask { ledger_entries: 1, ..old() },
        Fate::Keep(Kept::Money)
    )]
    #[case::an_open_recheck(OldTask { open_recheck: true, ..old() }, Fate::Keep(Kept::OpenRecheck))]
    #[case::money_and_an_open_recheck(
        OldTask { refunded: true, open_recheck: true, ..old() },
        Fate::Keep(Kept::Money)
    )]
    #[case::completed_at_the_cutoff(
        OldTask { completed_at: NOW.saturating_sub(90 * DAY), ..old() },
        Fate::Keep(Kept::Young)
    )]
    fn an_old_task_goes_only_when_nothing_holds_it(#[case] task: OldTask, #[case] expected: Fate) {
        let retention = TaskRetention::new(90 * DAY, &ReportWindows::default()).unwrap();
        assert_eq!(fate(&task, retention.cutoff(NOW)), expected);
    }

    #[test]
    fn a_retention_within_a_report_window_is_refused() {
        let mut windows = ReportWindows::default();
        assert!(TaskRetention::new(DAY, &windows).is_err(), "image: 24 h");
        assert!(TaskRetention::new(DAY + Duration::from_secs(1), &windows).is_ok());
        windows.set_dialect("twocaptcha", Some(Family::Image), 30 * DAY);
        let refused = TaskRetention::new(30 * DAY, &windows).unwrap_err();
        assert_eq!(refused.family, "image");
        assert!(TaskRetention::new(31 * DAY, &windows).is_ok());
    }

    proptest! {
        #[test]
        fn a_task_with_money_on_it_is_never_pruned(
            completed in 0i64..2_000_000_000_000,
            refunded: bool,
            entries in 0u64..3,
            open_recheck: bool,
            cutoff in 0i64..2_000_000_000_000,
        ) {
            let task = OldTask {
                completed_at: Timestamp::from_millis(completed),
                refunded,
                ledger_entries: entries,
                open_recheck,
            };
            let pruned = fate(&task, Timestamp::from_millis(cutoff)) == Fate::Prune;
            if refunded || entries > 0 || open_recheck || completed >= cutoff {
                prop_assert!(!pruned);
            } else {
                prop_assert!(pruned);
            }
        }
    }
}
