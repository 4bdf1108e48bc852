//! Settling a pending report: a second (or third) solve's answer, or the default when none
//! came in time, turned into the report's final verdict and the account's precision.

use std::time::Duration;

use super::{MAX_SOLVES, Precision, RecheckFinding, precision_flags, weigh_solves};
use crate::policy::TimeoutVerdict;

/// How long an account's re-check record keeps half its weight.
pub const PRECISION_HALF_LIFE: Duration = Duration::from_secs(30 * 24 * 3600);

impl Precision {
    /// Ages the counts by `elapsed`.
    pub fn decayed(self, elapsed: Duration) -> Precision {
        let f = 0.5f64.powf(elapsed.as_secs_f64() / PRECISION_HALF_LIFE.as_secs_f64());
        Precision {
            confirmed: self.confirmed * f,
            refuted: self.refuted * f,
        }
    }
}

/// A pending report settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The report with its final verdict, reason, evidence and refund.
    pub report: crate::report::Report,
    /// The account's precision after this re-check (unchanged on a timeout).
    pub precision: Precision,
    pub effects: Vec<crate::decision::Effect>,
}

/// What is known of the reporting account's re-checks in the task's family.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RecheckRecord {
    /// All its re-checks, exponentially aged: decides who is re-checked.
    pub precision: Precision,
    /// Its re-checks settled in the last 24 h: decides whether it is ignored, so that one bad
    /// day (its own integration broken) is not held against it for weeks.
    pub last_day: Precision,
}

/// Settles a pending report with another solve's answer (or asks for one more), or with the
/// default when none came in time. The solves so far are kept in the report's evidence.
pub fn settle_pending(
    pending: &crate::report::Report,
    task: &crate::task::Task,
    second: Option<&str>,
    record: RecheckRecord,
    account: &crate::account::Account,
    policy: &crate::policy::Policy,
    now: crate::timestamp::Timestamp,
) -> Settlement {
    let repeat_period = policy.screen.repeat_period;
    let may_restrain = policy.may_restrain(account);
    let policy = &policy.rechecks;
    use crate::report::{Reason, Verdict};
    let mut report = pending.clone();
    let mut precision = record.precision;
    let mut last_day = record.last_day;
    let mut effects = Vec::new();
    let held = pending.recheck.clone().unwrap_or_default();
    let suspect = held.suspect;
    let mut solves = held.solves;
    let mut detail = serde_json::json!({});
    let verdict = match second {
        Some(answer) => {
            solves.push(answer.to_owned());
            let refs: Vec<&str> = solves.iter().map(String::as_str).collect();
            let outcome = weigh_solves(
                task.answer.as_deref(),
                pending.correction.as_deref(),
                &refs,
                suspect,
            );
            detail["answers"] = serde_json::json!(solves);
            detail["compared"] = "trimmed, case-folded".into();
            match outcome {
                RecheckFinding::AnotherSolve if solves.len() < MAX_SOLVES => {
                    detail["another_solve"] = if pending.correction.is_some() {
                        "the solve agrees with neither the answer nor the correction"
                    } else {
                        "the account's reports are suspect: a second solve must agree"
                    }
                    .into();
                    Verdict::Pending
                }
                RecheckFinding::Confirmed => {
                    precision.confirmed += 1.0;
                    last_day.confirmed += 1.0;
                    report.reason = Reason::RecheckConfirmed;
                    Verdict::Accepted
                }
                RecheckFinding::Refuted | RecheckFinding::AnotherSolve => {
                    precision.refuted += 1.0;
                    last_day.refuted += 1.0;
                    report.reason = Reason::RecheckRefuted;
                    Verdict::Rejected
                }
            }
        }
        None => {
            report.reason = Reason::RecheckTimedOut;
            detail["timed_out"] = true.into();
            match policy.on_timeout {
                TimeoutVerdict::Accept => Verdict::Accepted,
                TimeoutVerdict::Reject => Verdict::Rejected,
            }
        }
    };
    if verdict != Verdict::Pending {
        detail["resolved_at"] = now.to_rfc3339().into();
        detail["precision"] =
            serde_json::json!({ "confirmed": precision.confirmed, "refuted": precision.refuted });
    }
    report.verdict = verdict;
    report.recheck = Some(crate::report::RecheckState {
        suspect,
        solves: solves.clone(),
    });
    report.refund = (verdict == Verdict::Accepted).then_some(task.cost);
    let mut evidence = report.evidence.as_map().clone();
    let mut recheck = evidence
        .remove("recheck")
        .unwrap_or_else(|| serde_json::json!({}));
    if let (Some(r), Some(d)) = (recheck.as_object_mut(), detail.as_object()) {
        r.extend(d.clone());
    }
    evidence.insert("recheck".into(), recheck);
    if let Some(cost) = report.refund {
        evidence.insert("cost".into(), cost.to_string().into());
    }
    report.evidence = crate::report::Evidence::from_map(evidence);

    let already_ignored = matches!(
        account.standing.at(now),
        crate::account::Standing::Ignored { .. }
    );
    let settled = verdict != Verdict::Pending;
    if settled && second.is_some() && !already_ignored && precision_flags(last_day, policy) {
        let reason = format!(
            "re-checks in the last 24 h upheld {:.0} of {:.0} reports: most reports are probably false (P = {:.3})",
            last_day.confirmed,
            last_day.verified(),
            last_day.probably_mostly_false()
        );
        effects.push(if may_restrain {
            crate::decision::Effect::Ignore {
                until: now.saturating_add(policy.ignore_for),
                count_since: now.saturating_sub(repeat_period),
                reason,
                lane: "recheck",
            }
        } else {
            crate::decision::Effect::NoteScreenFlag {
                lane: "recheck",
                reason,
            }
        });
    }
    Settlement {
        report,
        precision,
        effects,
    }
}

#[cfg(test)]
mod settle_tests {
    use super::*;
    use crate::account::{Account, AccountId, Standing};
    use crate::captcha::CaptchaType;
    use crate::ids::TaskId;
    use crate::money::Amount;
    use crate::report::{Evidence, Reason, Report, ReportKind, Verdict};
    use crate::task::Task;
    use crate::timestamp::Timestamp;

    const NOW: Timestamp = Timestamp::from_millis(1_795_255_200_000);

    fn task() -> Task {
        Task {
            id: TaskId::parse("9").unwrap(),
            account: AccountId(1),
            captcha_type: CaptchaType::Image,
            provider: "p".into(),
            worker: None,
            answer: Some("KWG90".into()),
            cost: Amount::from_micros(1_000),
            completed_at: NOW,
        }
    }

    fn pending() -> Report {
        Report {
            task: TaskId::parse("9").unwrap(),
            account: AccountId(1),
            kind: ReportKind::Incorrect,
            correction: None,
            code: None,
            message: None,
            dialect: "test".into(),
            received_at: NOW,
            verdict: Verdict::Pending,
            reason: Reason::AwaitingRecheck,
            evidence: Evidence::new().with("recheck", serde_json::json!({ "why": "sample" })),
            refund: None,
            trust_weight: 1.0,
            recheck: None,
        }
    }

    fn account() -> Account {
        Account {
            id: AccountId(1),
            name: "a".into(),
            trusted: false,
            balance: Amount::ZERO,
            standing: Standing::Good,
            ignores: Default::default(),
            screen_flag: None,
            disabled: None,
            created_at: NOW,
        }
    }

    #[test]
    fn a_different_second_answer_upholds_and_refunds() {
        let s = settle_pending(
            &pending(),
            &task(),
            Some("KWG9O"),
            RecheckRecord::default(),
            &account(),
            &crate::policy::Policy::default(),
            NOW,
        );
        assert_eq!(
            (s.report.verdict, s.report.reason.clone()),
            (Verdict::Accepted, Reason::RecheckConfirmed)
        );
        assert_eq!(s.report.refund, Some(Amount::from_micros(1_000)));
        assert_eq!(s.precision.confirmed, 1.0);
        assert_eq!(
            s.report.evidence.get("recheck").unwrap()["why"],
            "sample",
            "the first evidence is kept"
        );
    }

    #[test]
    fn the_same_second_answer_rejects_and_counts_against_the_reporter() {
        let s = settle_pending(
            &pending(),
            &task(),
            Some("kwg90"),
            RecheckRecord::default(),
            &account(),
            &crate::policy::Policy::default(),
            NOW,
        );
        assert_eq!(
            (s.report.verdict, s.report.reason.clone()),
            (Verdict::Rejected, Reason::RecheckRefuted)
        );
        assert_eq!((s.report.refund, s.precision.refuted), (None, 1.0));
    }

    #[test]
    fn timeouts_settle_by_the_configured_default() {
        let accept = crate::policy::Policy::default();
        let s = settle_pending(
            &pending(),
            &task(),
            None,
            RecheckRecord::default(),
            &account(),
            &accept,
            NOW,
        );
        assert_eq!(
            (s.report.verdict, s.report.reason.clone()),
            (Verdict::Accepted, Reason::RecheckTimedOut)
        );
        let reject = crate::policy::Policy {
            rechecks: crate::policy::RecheckPolicy {
                on_timeout: TimeoutVerdict::Reject,
                ..crate::policy::RecheckPolicy::default()
            },
            ..crate::policy::Policy::default()
        };
        let s = settle_pending(
            &pending(),
            &task(),
            None,
            RecheckRecord::default(),
            &account(),
            &reject,
            NOW,
        );
        assert_eq!(
            (s.report.verdict, s.report.refund),
            (Verdict::Rejected, None)
        );
    }

    #[test]
    fn an_inconclusive_solve_keeps_the_report_pending_for_one_more() {
        let mut report = pending();
        report.correction = Some("KWG91".into());
        let policy = crate::policy::Policy::default();
        let first = settle_pending(
            &report,
            &task(),
            Some("ABCDE"),
            RecheckRecord::default(),
            &account(),
            &policy,
            NOW,
        );
        assert_eq!(
            (first.report.verdict, first.report.refund),
            (Verdict::Pending, None)
        );
        assert_eq!(first.precision, Precision::default(), "nothing settled yet");
        assert!(first.effects.is_empty());
        let recheck = first.report.evidence.get("recheck").unwrap();
        assert_eq!(recheck["answers"], serde_json::json!(["ABCDE"]));
        assert!(recheck["another_solve"].is_string());

        // The third solve agrees with the first answer: the report was wrong.
        let second = settle_pending(
            &first.report,
            &task(),
            Some("kwg90"),
            RecheckRecord::default(),
            &account(),
            &policy,
            NOW,
        );
        assert_eq!(
            (second.report.verdict, second.report.reason.clone()),
            (Verdict::Rejected, Reason::RecheckRefuted)
        );
        assert_eq!(
            second.report.evidence.get("recheck").unwrap()["answers"],
            serde_json::json!(["ABCDE", "kwg90"])
        );
        assert_eq!(second.precision.refuted, 1.0);
    }

    #[test]
    fn a_reporter_whose_reports_keep_failing_rechecks_is_ignored() {
        let day = Precision {
            confirmed: 4.0,
            refuted: 17.0,
        };
        // A long record of good reports does not shield a day of mostly false ones.
        let record = RecheckRecord {
            precision: Precision {
                confirmed: 400.0,
                refuted: 30.0,
            },
            last_day: day,
        };
        let s = settle_pending(
            &pending(),
            &task(),
            Some("KWG90"),
            record,
            &account(),
            &crate::policy::Policy::default(),
            NOW,
        );
        assert!(
            matches!(
                s.effects.first(),
                Some(crate::decision::Effect::Ignore { .. })
            ),
            "{:?}",
            s.effects
        );
        // A trusted reporter is not ignored; the finding is noted for the operator.
        let trusted = Account {
            trusted: true,
            ..account()
        };
        let s = settle_pending(
            &pending(),
            &task(),
            Some("KWG90"),
            record,
            &trusted,
            &crate::policy::Policy::default(),
            NOW,
        );
        assert!(
            matches!(&s.effects[..], [crate::decision::Effect::NoteScreenFlag { lane, reason }]
                if *lane == "recheck" && reason.starts_with("re-checks in the last 24 h upheld 4 of 22")),
            "{:?}",
            s.effects
        );
    }

    #[test]
    fn a_bad_day_long_past_does_not_ignore_the_reporter_again() {
        // Its integration broke days ago (many reports refuted then); today its reports hold.
        let record = RecheckRecord {
            precision: Precision {
                confirmed: 30.0,
                refuted: 200.0,
            },
            last_day: Precision {
                confirmed: 20.0,
                refuted: 1.0,
            },
        };
        let s = settle_pending(
            &pending(),
            &task(),
            Some("KWG90"),
            record,
            &account(),
            &crate::policy::Policy::default(),
            NOW,
        );
        assert_eq!(s.report.reason, Reason::RecheckRefuted);
        assert!(s.effects.is_empty(), "{:?}", s.effects);
    }

    #[test]
    fn precision_ages() {
        let p = Precision {
            confirmed: 10.0,
            refuted: 4.0,
        }
        .decayed(PRECISION_HALF_LIFE);
        assert!((p.confirmed - 5.0).abs() < 1e-9 && (p.refuted - 2.0).abs() < 1e-9);
    }
}
