//! Re-checks for answers that can be verified (image and audio): the platform solves the captcha
//! again with another worker, as 2captcha and anti-captcha do with moderators. Which reports are
//! held `pending` for a re-check, how a second answer settles them, and when an account whose
//! reports keep failing re-checks is put on `ignored` standing (research/domain.md §3.4).

use std::time::Duration;

use crate::judging::same_text;
use crate::stats::beta_cdf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutVerdict {
    /// Uphold the report: the platform did not re-check in time, the client is not to blame.
    Accept,
    Reject,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecheckPolicy {
    /// Off: verifiable families go through the statistical screen like tokens.
    pub enabled: bool,
    /// Share of reports from accounts in good standing re-checked at random (audit sampling).
    pub sample_rate: f64,
    /// Accounts whose re-checked reports were upheld less often than this are always re-checked.
    pub min_precision: f64,
    pub timeout: Duration,
    pub on_timeout: TimeoutVerdict,
    /// Re-checks settled in the last 24 h before an account can be judged by them.
    pub min_verified: f64,
    /// Reports with a correction are always re-checked.
    pub verify_corrections: bool,
    /// How long an account whose reports are probably mostly false (precision < 50 % with 95 %
    /// probability) is ignored.
    pub ignore_for: Duration,
}

impl Default for RecheckPolicy {
    /// Off by default: re-checks need the platform to run a second solve for each one it is
    /// handed (`GET /v1/rechecks/next`). Until it does, image and audio reports are screened.
    fn default() -> Self {
        Self {
            enabled: false,
            sample_rate: 0.2,
            min_precision: 0.8,
            timeout: Duration::from_secs(3600),
            on_timeout: TimeoutVerdict::Accept,
            min_verified: 20.0,
            verify_corrections: true,
            ignore_for: Duration::from_secs(24 * 3600),
        }
    }
}

/// How an account's re-checked reports turned out (exponentially weighted counts).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Precision {
    /// Re-checks that upheld the report (the first answer was wrong).
    pub confirmed: f64,
    /// Re-checks that found the first answer right.
    pub refuted: f64,
}

impl Precision {
    pub fn verified(&self) -> f64 {
        self.confirmed + self.refuted
    }

    /// Posterior mean of the share of this account's reports that are true: Beta(1+c, 1+r).
    pub fn mean(&self) -> f64 {
        (1.0 + self.confirmed) / (2.0 + self.verified())
    }

    /// Probability that fewer than half of this account's reports are true.
    pub fn probably_mostly_false(&self) -> f64 {
        beta_cdf(0.5, 1.0 + self.confirmed, 1.0 + self.refuted)
    }
}

/// Why a report is held for a re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecheckReason {
    IgnoredStanding,
    /// The report carries a correction: refunding it makes the correction a training label,
    /// so an independent solve must agree with it first.
    Correction,
    Probation,
    LowPrecision,
    Sample,
}

impl RecheckReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RecheckReason::IgnoredStanding => "ignored_standing",
            RecheckReason::Correction => "correction",
            RecheckReason::Probation => "probation",
            RecheckReason::LowPrecision => "low_precision",
            RecheckReason::Sample => "sample",
        }
    }
}

/// Whether a report on a verifiable task is re-checked, and why. Sampling is a hash of the task
/// id, so the same report is always treated the same way on every node.
pub fn needs_recheck(
    task_id: &str,
    ignored: bool,
    probation: bool,
    correction: bool,
    precision: Precision,
    policy: &RecheckPolicy,
) -> Option<RecheckReason> {
    if ignored {
        Some(RecheckReason::IgnoredStanding)
    } else if correction && policy.verify_corrections {
        Some(RecheckReason::Correction)
    } else if probation {
        Some(RecheckReason::Probation)
    } else if precision.verified() >= 1.0 && precision.mean() < policy.min_precision {
        Some(RecheckReason::LowPrecision)
    } else if unit_hash(task_id) < policy.sample_rate {
        Some(RecheckReason::Sample)
    } else {
        None
    }
}

/// FNV-1a of the bytes, then splitmix64's finaliser (FNV alone leaves similar ids clustered),
/// mapped to [0, 1): a stable, uniform sampling key.
fn unit_hash(text: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// What the solves so far say about the first answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecheckOutcome {
    /// The first answer was wrong: the report is upheld.
    Confirmed,
    /// The first answer was right: the report was wrong.
    Refuted,
    /// Not conclusive yet: one more independent solve decides.
    AnotherSolve,
}

/// Most solves a report gets besides the first answer.
pub const MAX_SOLVES: usize = 2;

/// Weighs the independent solves of a reported task (answers compared trimmed and
/// case-folded) against its first answer and the client's correction:
///
/// - a solve equal to the first answer refutes the report;
/// - a solve equal to the correction confirms it (two independent parties agree);
/// - a solve that differs from both is evidence only that solvers err: with a correction to
///   check, or from an account whose reports are suspect, a third solve decides — equal to the
///   first answer refutes, equal to the second (or the correction) confirms, and three
///   different answers go in the worker's favour;
/// - otherwise (no correction, account in good standing) a different answer confirms, as at
///   2captcha and anti-captcha.
///
/// Without a first answer on record there is nothing to contradict: the report stands.
pub fn weigh_solves(
    first: Option<&str>,
    correction: Option<&str>,
    solves: &[&str],
    suspect: bool,
) -> RecheckOutcome {
    let Some(first) = first else {
        return RecheckOutcome::Confirmed;
    };
    let matches_correction = |s: &str| correction.is_some_and(|c| same_text(c, s));
    match solves {
        [] => RecheckOutcome::AnotherSolve,
        [second] if same_text(first, second) => RecheckOutcome::Refuted,
        [second] if matches_correction(second) => RecheckOutcome::Confirmed,
        [_] if correction.is_some() || suspect => RecheckOutcome::AnotherSolve,
        [_] => RecheckOutcome::Confirmed,
        [.., second, third] => {
            if same_text(first, third) {
                RecheckOutcome::Refuted
            } else if same_text(second, third) || matches_correction(third) {
                RecheckOutcome::Confirmed
            } else {
                RecheckOutcome::Refuted
            }
        }
    }
}

/// Whether an account's precision warrants ignoring its reports.
pub fn precision_flags(precision: Precision, policy: &RecheckPolicy) -> bool {
    precision.verified() >= policy.min_verified && precision.probably_mostly_false() > 0.95
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_gets_rechecked() {
        let p = RecheckPolicy::default();
        let good = Precision {
            confirmed: 30.0,
            refuted: 1.0,
        };
        assert_eq!(
            needs_recheck("a", true, false, false, good, &p),
            Some(RecheckReason::IgnoredStanding)
        );
        assert_eq!(
            needs_recheck("a", false, true, false, good, &p),
            Some(RecheckReason::Probation)
        );
        let poor = Precision {
            confirmed: 5.0,
            refuted: 5.0,
        };
        assert_eq!(
            needs_recheck("a", false, false, false, poor, &p),
            Some(RecheckReason::LowPrecision)
        );
        assert_eq!(
            needs_recheck("a", false, false, true, good, &p),
            Some(RecheckReason::Correction)
        );
        let trusting = RecheckPolicy {
            verify_corrections: false,
            sample_rate: 0.0,
            ..RecheckPolicy::default()
        };
        assert_eq!(
            needs_recheck("a", false, false, true, good, &trusting),
            None
        );
    }

    #[test]
    fn sampling_takes_about_the_configured_share_and_is_stable() {
        let p = RecheckPolicy::default();
        let good = Precision {
            confirmed: 30.0,
            refuted: 1.0,
        };
        let sampled = (0..10_000)
            .filter(|i| {
                needs_recheck(&format!("task-{i}"), false, false, false, good, &p).is_some()
            })
            .count();
        assert!((1_800..2_200).contains(&sampled), "{sampled}");
        let first = needs_recheck(
            "550e8400-e29b-41d4-a716-446655440000",
            false,
            false,
            false,
            good,
            &p,
        );
        assert_eq!(
            first,
            needs_recheck(
                "550e8400-e29b-41d4-a716-446655440000",
                false,
                false,
                false,
                good,
                &p
            )
        );
    }

    #[test]
    fn a_second_answer_settles_a_plain_report_from_an_account_in_good_standing() {
        use RecheckOutcome::*;
        assert_eq!(
            weigh_solves(Some("KWG90"), None, &[" kwg90"], false),
            Refuted
        );
        assert_eq!(
            weigh_solves(Some("KWG90"), None, &["KWG9O"], false),
            Confirmed
        );
        assert_eq!(weigh_solves(None, None, &["anything"], true), Confirmed);
    }

    #[test]
    fn a_correction_is_confirmed_only_by_a_solve_that_agrees_with_it() {
        use RecheckOutcome::*;
        let first = Some("KWG90");
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["KWG91"], false),
            Confirmed
        );
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["kwg90"], false),
            Refuted
        );
        // The second solver agrees with neither: a third decides.
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["ZZZ"], false),
            AnotherSolve
        );
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["ZZZ", "KWG90"], false),
            Refuted
        );
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["ZZZ", "kwg91"], false),
            Confirmed
        );
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["ZZZ", "zzz"], false),
            Confirmed
        );
        assert_eq!(
            weigh_solves(first, Some("kwg91"), &["ZZZ", "YYY"], false),
            Refuted
        );
    }

    #[test]
    fn a_suspect_accounts_report_needs_two_solves_against_the_first_answer() {
        use RecheckOutcome::*;
        let first = Some("KWG90");
        assert_eq!(weigh_solves(first, None, &["ABC12"], true), AnotherSolve);
        assert_eq!(
            weigh_solves(first, None, &["ABC12", "abc12"], true),
            Confirmed
        );
        assert_eq!(
            weigh_solves(first, None, &["ABC12", "KWG90"], true),
            Refuted
        );
        assert_eq!(weigh_solves(first, None, &["ABC12", "XYZ"], true), Refuted);
        assert_eq!(weigh_solves(first, None, &["kwg90"], true), Refuted);
    }

    #[test]
    fn precision_flags_only_with_enough_evidence_of_mostly_false_reports() {
        let p = RecheckPolicy::default();
        assert!(
            !precision_flags(
                Precision {
                    confirmed: 2.0,
                    refuted: 15.0
                },
                &p
            ),
            "17 verified is too few"
        );
        assert!(precision_flags(
            Precision {
                confirmed: 4.0,
                refuted: 18.0
            },
            &p
        ));
        assert!(
            !precision_flags(
                Precision {
                    confirmed: 10.0,
                    refuted: 12.0
                },
                &p
            ),
            "near half is not enough"
        );
    }
}

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
    pub effects: Vec<crate::judging::Effect>,
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
    let policy = &policy.rechecks;
    use crate::report::{Reason, Verdict};
    let mut report = pending.clone();
    let mut precision = record.precision;
    let mut last_day = record.last_day;
    let mut effects = Vec::new();
    let recorded = pending.evidence.get("recheck");
    let mut solves: Vec<String> = recorded
        .and_then(|r| r["answers"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let suspect = recorded.and_then(|r| r["why"].as_str()).is_some_and(|why| {
        why == RecheckReason::IgnoredStanding.as_str()
            || why == RecheckReason::LowPrecision.as_str()
    });
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
                RecheckOutcome::AnotherSolve if solves.len() < MAX_SOLVES => {
                    detail["another_solve"] = if pending.correction.is_some() {
                        "the solve agrees with neither the answer nor the correction"
                    } else {
                        "the account's reports are suspect: a second solve must agree"
                    }
                    .into();
                    Verdict::Pending
                }
                RecheckOutcome::Confirmed => {
                    precision.confirmed += 1.0;
                    last_day.confirmed += 1.0;
                    report.reason = Reason::RecheckConfirmed;
                    Verdict::Accepted
                }
                RecheckOutcome::Refuted | RecheckOutcome::AnotherSolve => {
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
        effects.push(crate::judging::Effect::Ignore {
            until: now.saturating_add(policy.ignore_for),
            count_since: now.saturating_sub(repeat_period),
            reason: format!(
                "re-checks in the last 24 h upheld {:.0} of {:.0} reports: most reports are probably false (P = {:.3})",
                last_day.confirmed,
                last_day.verified(),
                last_day.probably_mostly_false()
            ),
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
            rechecks: RecheckPolicy {
                on_timeout: TimeoutVerdict::Reject,
                ..RecheckPolicy::default()
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
                Some(crate::judging::Effect::Ignore { .. })
            ),
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
