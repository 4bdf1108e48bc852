//! What a verdict writes: the one place that turns a decision into rows. A backend applies a
//! plan in one transaction, statement by statement, and decides nothing: which counters move,
//! which ledger entries exist and under which idempotency keys, what is queued, what evidence
//! the solver gets and which refunds a clawback takes back are all said here.
//!
//! Two writes depend on what the database holds at commit time, and the plan says how to
//! resolve each, so that concurrent writers on several nodes agree:
//! - every row is written only if the report itself was (the first report of a task stands);
//! - a ledger entry moves the balance only if its idempotency key was new;
//! - a clawback reverses the refunds the database holds when it runs: the backend reads them
//!   in its transaction and [`Clawback::reversals`] says which are owed back.

use std::collections::BTreeMap;

use crate::account::{AccountId, ScreenFlag};
use crate::captcha::{CaptchaType, Family};
use crate::decision::{Decision, Effect};
use crate::ids::TaskId;
use crate::ledger::LedgerEntry;
use crate::money::Amount;
use crate::recheck::{Precision, Settlement};
use crate::report::{Reason, Report, ReportKind, Verdict};
use crate::scoring::{Signal, signal_of};
use crate::screen::Counts;
use crate::task::Task;
use crate::timestamp::{Timestamp, hour_of};

/// Everything recording a newly judged report writes, in one transaction, if (and only if) no
/// report of the task was recorded first.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportWrites {
    /// The report row.
    pub report: Report,
    /// Credited to the account unless its idempotency key exists.
    pub refund: Option<LedgerEntry>,
    /// Added to the account's counts in the task's family.
    pub activity: ActivityDelta,
    /// Queue the task for a second solve, due then.
    pub recheck_deadline: Option<Timestamp>,
    /// What the report says about the task's provider and worker.
    pub solver: SolverEvidence,
    /// Changes to the account, applied in this order after the report is stored.
    pub account: Vec<AccountChange>,
    /// One more report in this bucket of the family's report-lag histogram.
    pub lag: Option<LagSample>,
}

/// A report's lag behind its task, as a bucket of [`crate::scoring::silence::LAG_EDGES_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagSample {
    pub family: Family,
    pub bucket: u8,
}

/// Everything settling a pending report writes, in one transaction, if (and only if) the report
/// is still pending when the backend gets to it (the first settlement counts).
#[derive(Debug, Clone, PartialEq)]
pub struct SettlementWrites {
    /// The report as settled (or, while still pending, with the solve added to its evidence).
    pub report: Report,
    pub refund: Option<LedgerEntry>,
    /// Added to the account's counts; nothing when every count is zero.
    pub activity: Option<ActivityDelta>,
    /// The account's precision in the family after this re-check.
    pub precision: PrecisionUpdate,
    pub solver: SolverEvidence,
    pub account: Vec<AccountChange>,
    pub at: Timestamp,
}

/// Counts to add to an account's hour in one family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityDelta {
    pub account: AccountId,
    pub family: Family,
    pub hour: i64,
    pub counts: Counts,
}

/// Trust-weighted evidence about the solver of `task`, added to its provider's minute and hour
/// buckets and its worker's day bucket at `at`. Nothing is written when the signal is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverEvidence {
    pub task: TaskId,
    pub signal: Signal,
    pub at: Timestamp,
    /// The task's first report takes back the silence weight its task added at ingest when it
    /// says something about the solution (a settlement takes nothing back; its report did).
    pub takes_back_silence: bool,
}

/// An account's precision in one family, written as it now is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionUpdate {
    pub account: AccountId,
    pub family: Family,
    pub precision: Precision,
    pub at: Timestamp,
}

/// A change to the account a decision is about.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountChange {
    /// Ignored standing until `until`, never shortening a longer period; a period begun while
    /// one is running is not counted again, and it counts as a repeat of one that began at or
    /// after `count_since`.
    Ignore {
        account: AccountId,
        until: Timestamp,
        reason: String,
        count_since: Timestamp,
        at: Timestamp,
    },
    Clawback(Clawback),
    /// The worker goes on the account's whitelist (kept from the first time).
    Whitelist {
        account: AccountId,
        provider: String,
        worker: String,
        at: Timestamp,
    },
    /// The account's latest screen flag the operator's trust overrode, replacing any earlier.
    NoteScreenFlag {
        account: AccountId,
        flag: ScreenFlag,
    },
}

/// Refunds to take back: those granted on the account's reports received since `since`, on
/// captchas that cannot be re-checked (the reports the screen judged). Verified refunds stand:
/// a second solver confirmed them.
#[derive(Debug, Clone, PartialEq)]
pub struct Clawback {
    pub account: AccountId,
    pub since: Timestamp,
    pub at: Timestamp,
    /// Why, as each reversal records it, and the lane that found it.
    pub reason: String,
    pub lane: &'static str,
}

/// A refund the database holds for one of the account's reports since the clawback's start.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantedRefund {
    pub task: TaskId,
    pub captcha_type: CaptchaType,
    pub verdict: Verdict,
    pub refund: Amount,
}

impl Clawback {
    /// The reversal entries owed for `granted`: one per refund of an accepted report on an
    /// unverifiable family, keyed so that it is never written twice.
    pub fn reversals(&self, granted: impl IntoIterator<Item = GrantedRefund>) -> Vec<LedgerEntry> {
        granted
            .into_iter()
            .filter(|g| g.verdict == Verdict::Accepted && g.refund.micros() > 0)
            .filter(|g| !g.captcha_type.family().is_verifiable())
            .map(|g| {
                LedgerEntry::reversal_of(
                    self.account,
                    g.task,
                    g.refund,
                    self.at,
                    &self.reason,
                    self.lane,
                )
            })
            .collect()
    }
}

impl ReportWrites {
    /// What recording `decision` writes; `family` is the task's.
    pub fn plan(decision: Decision, family: Family) -> Self {
        let Decision { report, effects } = decision;
        let at = report.received_at;
        let refund = LedgerEntry::refund_for(&report);
        let activity = ActivityDelta {
            account: report.account,
            family,
            hour: hour_of(at),
            counts: Counts {
                incorrect: u64::from(report.kind == ReportKind::Incorrect),
                correct: u64::from(report.kind == ReportKind::Correct),
                // The report is the task's first, so its refund's key is new.
                refunds: u64::from(refund.is_some()),
                ..Counts::default()
            },
        };
        // The first re-check effect counts: a second would find the task queued.
        let recheck_deadline = effects.iter().find_map(|e| match e {
            Effect::Recheck { deadline } => Some(*deadline),
            _ => None,
        });
        let signal = signal_of(&report, report.trust_weight);
        let solver = SolverEvidence {
            task: report.task.clone(),
            // A report that says something (or will, once re-checked) ends the task's
            // silence; one nobody believes (an ignored account's) leaves it as it was.
            takes_back_silence: !signal.is_empty() || report.verdict == Verdict::Pending,
            signal,
            at,
        };
        let account = account_changes(report.account, &effects, at);
        Self {
            report,
            refund,
            activity,
            recheck_deadline,
            solver,
            account,
            lag: None,
        }
    }

    /// The same, with the report's lag behind its task's completion counted in the family's
    /// report-lag histogram (what silence is aged by).
    pub fn after(mut self, completed_at: Timestamp) -> Self {
        let lag = self.report.received_at.millis_since(completed_at).max(0);
        self.lag = Some(LagSample {
            family: self.activity.family,
            bucket: crate::scoring::lag_bucket(std::time::Duration::from_millis(
                lag.unsigned_abs(),
            )),
        });
        self
    }

    /// Whether applying this plan changes the account beyond its counts and balance.
    pub fn changes_account(&self) -> bool {
        !self.account.is_empty()
    }
}

impl SettlementWrites {
    /// Not conclusive: keep the report pending and give the task back to the queue.
    pub fn still_pending(&self) -> bool {
        self.report.verdict == Verdict::Pending
    }

    /// What settling a pending report as `settlement` says writes; `family` is the task's.
    pub fn plan(settlement: Settlement, family: Family, now: Timestamp) -> Self {
        let Settlement {
            report,
            precision,
            effects,
        } = settlement;
        // The refund is granted when the re-check settles, not when the report arrived.
        let refund = LedgerEntry::refund_for(&report).map(|entry| LedgerEntry { at: now, ..entry });
        let counts = Counts {
            rechecks_upheld: u64::from(report.reason == Reason::RecheckConfirmed),
            rechecks_refuted: u64::from(report.reason == Reason::RecheckRefuted),
            refunds: u64::from(refund.is_some()),
            ..Counts::default()
        };
        let activity = (counts != Counts::default()).then_some(ActivityDelta {
            account: report.account,
            family,
            hour: hour_of(now),
            counts,
        });
        let solver = SolverEvidence {
            task: report.task.clone(),
            signal: signal_of(&report, report.trust_weight),
            at: now,
            takes_back_silence: false,
        };
        let account = account_changes(report.account, &effects, now);
        Self {
            precision: PrecisionUpdate {
                account: report.account,
                family,
                precision,
                at: now,
            },
            report,
            refund,
            activity,
            solver,
            account,
            at: now,
        }
    }
}

/// Tasks to store, each with the weight of its account's silence
/// ([`crate::scoring::silence_weight`]), kept with the task so that a report on it later takes
/// back exactly what its silence added.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestWrites {
    pub tasks: Vec<Task>,
    /// One per task, in [0, 1].
    pub silence: Vec<f64>,
}

impl IngestWrites {
    /// `weight` gives an account's silence weight in a family.
    pub fn plan(tasks: Vec<Task>, weight: impl Fn(AccountId, Family) -> f64) -> Self {
        let silence = tasks
            .iter()
            .map(|t| weight(t.account, t.captcha_type.family()).clamp(0.0, 1.0))
            .collect();
        Self { tasks, silence }
    }
}

/// Silence weight added to a solver's bucket by newly stored tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureDelta {
    pub captcha_type: CaptchaType,
    pub provider: String,
    /// For a worker's day bucket.
    pub worker: Option<String>,
    /// The minute, hour or day (by `span`) the tasks were completed in.
    pub bucket: i64,
    pub weight: f64,
}

/// The buckets of solver evidence newly stored tasks add exposure to, with their silence
/// weights: provider minutes and hours, worker days, each in key order (so that concurrent
/// writers take the rows in the same order). Tasks of weight 0 add nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposures {
    pub provider_minutes: Vec<ExposureDelta>,
    pub provider_hours: Vec<ExposureDelta>,
    pub worker_days: Vec<ExposureDelta>,
}

impl Exposures {
    pub fn of<'a>(stored: impl IntoIterator<Item = (&'a Task, f64)>) -> Self {
        type Key = (&'static str, String, Option<String>, i64);
        let mut minutes: BTreeMap<Key, (CaptchaType, f64)> = BTreeMap::new();
        let mut hours: BTreeMap<Key, (CaptchaType, f64)> = BTreeMap::new();
        let mut days: BTreeMap<Key, (CaptchaType, f64)> = BTreeMap::new();
        for (task, weight) in stored {
            if weight <= 0.0 {
                continue;
            }
            let t = task.captcha_type;
            let at = task.completed_at.as_millis();
            let add = |map: &mut BTreeMap<Key, (CaptchaType, f64)>, worker, span: i64| {
                let key = (
                    t.as_str(),
                    task.provider.clone(),
                    worker,
                    at.div_euclid(span),
                );
                map.entry(key).or_insert((t, 0.0)).1 += weight;
            };
            add(&mut minutes, None, 60_000);
            add(&mut hours, None, crate::timestamp::HOUR_MS);
            if let Some(worker) = &task.worker {
                add(&mut days, Some(worker.clone()), 86_400_000);
            }
        }
        let rows = |map: BTreeMap<Key, (CaptchaType, f64)>| {
            map.into_iter()
                .map(
                    |((_, provider, worker, bucket), (captcha_type, weight))| ExposureDelta {
                        captcha_type,
                        provider,
                        worker,
                        bucket,
                        weight,
                    },
                )
                .collect()
        };
        Self {
            provider_minutes: rows(minutes),
            provider_hours: rows(hours),
            worker_days: rows(days),
        }
    }
}

/// The counts newly stored tasks add: one task each to its account's family in the hour it was
/// completed, one delta per (account, family, hour), in that order (so that concurrent writers
/// take the counters' rows in the same order).
pub fn task_counts<'a>(stored: impl IntoIterator<Item = &'a Task>) -> Vec<ActivityDelta> {
    let mut slots: BTreeMap<(AccountId, &'static str, i64), (Family, u64)> = BTreeMap::new();
    for task in stored {
        let family = task.captcha_type.family();
        let slot = (task.account, family.as_str(), hour_of(task.completed_at));
        slots.entry(slot).or_insert((family, 0)).1 += 1;
    }
    slots
        .into_iter()
        .map(|((account, _, hour), (family, tasks))| ActivityDelta {
            account,
            family,
            hour,
            counts: Counts {
                tasks,
                ..Counts::default()
            },
        })
        .collect()
}

fn account_changes(account: AccountId, effects: &[Effect], at: Timestamp) -> Vec<AccountChange> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Ignore {
                until,
                reason,
                count_since,
                ..
            } => Some(AccountChange::Ignore {
                account,
                until: *until,
                reason: reason.clone(),
                count_since: *count_since,
                at,
            }),
            Effect::Clawback {
                since,
                reason,
                lane,
            } => Some(AccountChange::Clawback(Clawback {
                account,
                since: *since,
                at,
                reason: reason.clone(),
                lane,
            })),
            Effect::Whitelist { provider, worker } => Some(AccountChange::Whitelist {
                account,
                provider: provider.clone(),
                worker: worker.clone(),
                at,
            }),
            Effect::NoteScreenFlag { lane, reason } => Some(AccountChange::NoteScreenFlag {
                account,
                flag: ScreenFlag {
                    at,
                    lane: (*lane).to_owned(),
                    reason: reason.clone(),
                },
            }),
            // Queued with the report, which knows the task.
            Effect::Recheck { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Evidence;

    const NOW: Timestamp = Timestamp::from_millis(1_795_255_200_000);

    fn report(kind: ReportKind, verdict: Verdict, refund: Option<i64>) -> Report {
        Report {
            task: TaskId::parse("77").unwrap(),
            account: AccountId(4),
            kind,
            correction: None,
            code: None,
            message: None,
            dialect: "native".into(),
            received_at: NOW,
            verdict,
            reason: Reason::IncorrectAccepted,
            evidence: Evidence::new(),
            refund: refund.map(Amount::from_micros),
            trust_weight: 0.5,
            recheck: None,
        }
    }

    #[test]
    fn an_accepted_report_writes_its_refund_counts_and_weighted_evidence() {
        let decision = Decision {
            report: report(ReportKind::Incorrect, Verdict::Accepted, Some(2_000)),
            effects: vec![],
        };
        let plan = ReportWrites::plan(decision, Family::Recaptcha);
        let refund = plan.refund.clone().expect("a refund");
        assert_eq!(refund.idempotency_key, "refund:77");
        assert_eq!(refund.amount, Amount::from_micros(2_000));
        assert_eq!(plan.activity.hour, hour_of(NOW));
        assert_eq!(
            (plan.activity.counts.incorrect, plan.activity.counts.refunds),
            (1, 1)
        );
        assert_eq!(plan.solver.signal.bad, 0.5, "weighed by the recorded trust");
        assert!(plan.recheck_deadline.is_none());
        assert!(!plan.changes_account());
    }

    #[test]
    fn a_flag_writes_the_ignore_period_and_the_clawback_in_the_decisions_order() {
        let since = NOW.saturating_sub(std::time::Duration::from_secs(7200));
        let decision = Decision {
            report: report(ReportKind::Incorrect, Verdict::Rejected, None),
            effects: vec![
                Effect::Ignore {
                    until: NOW,
                    reason: "r".into(),
                    count_since: since,
                    lane: "slow",
                },
                Effect::Clawback {
                    since,
                    reason: "flagged".into(),
                    lane: "slow",
                },
            ],
        };
        let plan = ReportWrites::plan(decision, Family::Recaptcha);
        assert!(plan.refund.is_none());
        assert_eq!(plan.activity.counts.refunds, 0);
        assert!(matches!(plan.account[0], AccountChange::Ignore { .. }));
        assert_eq!(
            plan.account[1],
            AccountChange::Clawback(Clawback {
                account: AccountId(4),
                since,
                at: NOW,
                reason: "flagged".into(),
                lane: "slow",
            })
        );
    }

    #[test]
    fn a_clawback_reverses_token_refunds_only_once_each_and_never_verified_ones() {
        let clawback = Clawback {
            account: AccountId(4),
            since: NOW,
            at: NOW,
            reason: "the fast lane flagged the account".into(),
            lane: "fast",
        };
        let granted = |id: &str, captcha_type, verdict| GrantedRefund {
            task: TaskId::parse(id).unwrap(),
            captcha_type,
            verdict,
            refund: Amount::from_micros(1_500),
        };
        let reversals = clawback.reversals([
            granted("1", CaptchaType::RecaptchaV2, Verdict::Accepted),
            granted("2", CaptchaType::Image, Verdict::Accepted),
            granted("3", CaptchaType::Hcaptcha, Verdict::Rejected),
        ]);
        assert_eq!(reversals.len(), 1, "{reversals:?}");
        assert_eq!(reversals[0].idempotency_key, "reversal:1");
        assert_eq!(reversals[0].amount, Amount::from_micros(-1_500));
        assert_eq!(
            reversals[0].reason.as_deref(),
            Some("the fast lane flagged the account")
        );
        assert_eq!(reversals[0].lane.as_deref(), Some("fast"));
    }

    #[test]
    fn a_settled_recheck_refunds_at_settlement_and_counts_its_outcome() {
        let mut settled = report(ReportKind::Incorrect, Verdict::Accepted, Some(900));
        settled.reason = Reason::RecheckConfirmed;
        let later = NOW.saturating_add(std::time::Duration::from_secs(3 * 3600));
        let plan = SettlementWrites::plan(
            Settlement {
                report: settled,
                precision: Precision::default(),
                effects: vec![],
            },
            Family::Image,
            later,
        );
        assert_eq!(plan.refund.as_ref().map(|e| e.at), Some(later));
        let activity = plan.activity.expect("counts move");
        assert_eq!(activity.hour, hour_of(later));
        assert_eq!(
            (activity.counts.rechecks_upheld, activity.counts.refunds),
            (1, 1)
        );
        assert_eq!(
            plan.solver.signal.bad,
            crate::scoring::RECHECK_WEIGHT,
            "a second solve needs no trust"
        );
        assert!(!plan.still_pending());
    }

    #[test]
    fn stored_tasks_count_once_each_in_their_family_and_hour_in_key_order() {
        let task = |id: &str, account: i64, captcha_type, at: i64| Task {
            id: TaskId::parse(id).unwrap(),
            account: AccountId(account),
            captcha_type,
            provider: "p".into(),
            worker: None,
            answer: None,
            cost: Amount::from_micros(1),
            completed_at: Timestamp::from_millis(at),
        };
        let hour = 3_600_000;
        let tasks = [
            task("1", 2, CaptchaType::Image, 5 * hour),
            task("2", 1, CaptchaType::RecaptchaV2, 5 * hour + 1),
            task("3", 1, CaptchaType::RecaptchaV3, 5 * hour + 2),
            task("4", 1, CaptchaType::RecaptchaV2, 6 * hour),
        ];
        let counted: Vec<(i64, Family, i64, u64)> = task_counts(&tasks)
            .into_iter()
            .map(|d| (d.account.0, d.family, d.hour, d.counts.tasks))
            .collect();
        assert_eq!(
            counted,
            vec![
                (1, Family::Recaptcha, 5, 2),
                (1, Family::Recaptcha, 6, 1),
                (2, Family::Image, 5, 1),
            ]
        );
    }

    #[test]
    fn an_inconclusive_solve_keeps_the_report_pending_and_writes_no_money() {
        let pending = report(ReportKind::Incorrect, Verdict::Pending, None);
        let plan = SettlementWrites::plan(
            Settlement {
                report: pending,
                precision: Precision::default(),
                effects: vec![],
            },
            Family::Image,
            NOW,
        );
        assert!(plan.still_pending());
        assert!(plan.refund.is_none() && plan.activity.is_none());
        assert!(plan.solver.signal.is_empty());
    }
}
