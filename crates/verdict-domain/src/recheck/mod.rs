//! Re-checks for answers that can be verified (image and audio): the platform solves the captcha
//! again with another worker, as 2captcha and anti-captcha do with moderators. Which reports are
//! held `pending` for a re-check, how a second answer settles them, and when an account whose
//! reports keep failing re-checks is put on `ignored` standing (research/domain.md §3.4).

use crate::policy::RecheckPolicy;
use crate::report::same_text;
use crate::stats::beta_cdf;

mod settle;

pub use settle::{PRECISION_HALF_LIFE, RecheckRecord, Settlement, settle_pending};

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

    /// Held because the account's reports are suspect, not by rule or chance: a solve that
    /// agrees with neither side does not settle such a report.
    pub fn makes_suspect(self) -> bool {
        matches!(
            self,
            RecheckReason::IgnoredStanding | RecheckReason::LowPrecision
        )
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
pub enum RecheckFinding {
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
) -> RecheckFinding {
    let Some(first) = first else {
        return RecheckFinding::Confirmed;
    };
    let matches_correction = |s: &str| correction.is_some_and(|c| same_text(c, s));
    match solves {
        [] => RecheckFinding::AnotherSolve,
        [second] if same_text(first, second) => RecheckFinding::Refuted,
        [second] if matches_correction(second) => RecheckFinding::Confirmed,
        [_] if correction.is_some() || suspect => RecheckFinding::AnotherSolve,
        [_] => RecheckFinding::Confirmed,
        [.., second, third] => {
            if same_text(first, third) {
                RecheckFinding::Refuted
            } else if same_text(second, third) || matches_correction(third) {
                RecheckFinding::Confirmed
            } else {
                RecheckFinding::Refuted
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
        use RecheckFinding::*;
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
        use RecheckFinding::*;
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
        use RecheckFinding::*;
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
