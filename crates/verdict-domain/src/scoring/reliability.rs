//! How reliable a provider or a worker is at one captcha type, from the verdicts on its tasks
//! (research/domain.md §4.2): a Beta belief per subject and type, fed by trust-weighted,
//! graded evidence that ages with a half-life, kept separately for *completion* (the solver
//! delivered an answer) and *correctness* (the answer worked).
//!
//! Evidence is stored as aged sums on top of a prior; aging the sums is the same as decaying
//! the Beta parameters towards the prior, and keeps the update O(1).

use std::time::Duration;

use crate::report::{Reason, Report, ReportKind, Verdict};
use crate::stats::beta_quantile;
use crate::timestamp::Timestamp;

/// Half-life of the published scores (payouts, dashboards, worker whitelists).
pub const PUBLISHED_HALF_LIFE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Evidence weights. A task is one observation of its solver, whatever says how it went —
/// its silence, a report, a second solve — so no signal weighs more than one task
/// (docs/scoring.md, "Where this departs"): an unverified client report counts its reporter's
/// trust; a correction makes it more convincing, `CORRECTION_WEIGHT` times the trust up to a
/// whole task; a second solve is a whole task, and needs no trust.
pub const CORRECTION_WEIGHT: f64 = 1.5;
pub const RECHECK_WEIGHT: f64 = 1.0;

/// Aged, weighted evidence for and against.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Weighed {
    pub good: f64,
    pub bad: f64,
    /// When the sums were last aged.
    pub at: Option<Timestamp>,
}

impl Weighed {
    /// The sums as they stand at `now`.
    pub fn aged(self, now: Timestamp, half_life: Duration) -> Weighed {
        let Some(at) = self.at else {
            return Weighed {
                at: Some(now),
                ..self
            };
        };
        let elapsed = now.millis_since(at).max(0) as f64 / 1000.0;
        let factor = 0.5f64.powf(elapsed / half_life.as_secs_f64().max(1e-9));
        Weighed {
            good: self.good * factor,
            bad: self.bad * factor,
            at: Some(now.max(at)),
        }
    }

    /// The sums aged by a factor already computed (`2^(-Δt/h)`), as of `at`: a table of beliefs
    /// that share one clock computes the factor once rather than once per belief.
    pub fn scaled(self, factor: f64, at: Timestamp) -> Weighed {
        Weighed {
            good: self.good * factor,
            bad: self.bad * factor,
            at: Some(at),
        }
    }

    /// Ages the sums to `now`, then adds `good` and `bad`.
    pub fn add(self, good: f64, bad: f64, now: Timestamp, half_life: Duration) -> Weighed {
        let aged = self.aged(now, half_life);
        Weighed {
            good: aged.good + good,
            bad: aged.bad + bad,
            at: aged.at,
        }
    }

    pub fn total(&self) -> f64 {
        self.good + self.bad
    }
}

/// Where a belief starts: a mean and how many observations it is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    pub mean: f64,
    pub strength: f64,
}

impl Prior {
    /// A provider with no evidence yet: the type's mean, worth 20 observations.
    pub fn provider(type_mean: f64) -> Self {
        Self {
            mean: type_mean.clamp(0.01, 0.99),
            strength: 20.0,
        }
    }

    /// A worker with no evidence yet: its provider's current mean, worth 10 observations.
    pub fn worker(provider_mean: f64) -> Self {
        Self {
            mean: provider_mean.clamp(0.01, 0.99),
            strength: 10.0,
        }
    }

    /// What a score starts from when nothing is known of the type either.
    pub const UNINFORMED: Prior = Prior {
        mean: 0.9,
        strength: 20.0,
    };

    pub fn a(&self) -> f64 {
        self.mean * self.strength
    }

    pub fn b(&self) -> f64 {
        (1.0 - self.mean) * self.strength
    }
}

/// A belief summarised for people and for ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reliability {
    /// Posterior mean.
    pub mean: f64,
    /// 90 % credible interval: ranking and sanctions use the lower end, so that little data
    /// never ranks a subject first or bans it.
    pub lower: f64,
    pub upper: f64,
    /// Weighted observations behind it, beyond the prior.
    pub evidence: f64,
    pub good: f64,
    pub bad: f64,
}

pub fn reliability(prior: Prior, weighed: Weighed) -> Reliability {
    let a = prior.a() + weighed.good;
    let b = prior.b() + weighed.bad;
    Reliability {
        mean: a / (a + b),
        lower: beta_quantile(0.05, a, b),
        upper: beta_quantile(0.95, a, b),
        evidence: weighed.total(),
        good: weighed.good,
        bad: weighed.bad,
    }
}

/// What one decision says about a solution: evidence that it was right (`good`) or wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signal {
    pub good: f64,
    pub bad: f64,
}

impl Signal {
    pub fn is_empty(&self) -> bool {
        self.good == 0.0 && self.bad == 0.0
    }
}

/// The evidence a recorded report gives about its task's solution, weighted by `trust` (the
/// reporter's, in [0, 1]; zero while it is ignored). A report waiting for a re-check says
/// nothing yet: the re-check's outcome replaces it.
pub fn signal_of(report: &Report, trust: f64) -> Signal {
    let trust = trust.clamp(0.0, 1.0);
    match (report.kind, report.verdict, &report.reason) {
        (_, Verdict::Pending, _) => Signal::default(),
        (ReportKind::Correct, _, _) => Signal {
            good: trust,
            bad: 0.0,
        },
        (ReportKind::Incorrect, _, Reason::RecheckConfirmed) => Signal {
            good: 0.0,
            bad: RECHECK_WEIGHT,
        },
        (ReportKind::Incorrect, _, Reason::RecheckRefuted) => Signal {
            good: RECHECK_WEIGHT,
            bad: 0.0,
        },
        // The client's own correction is the answer it got: it says the answer was right.
        (ReportKind::Incorrect, _, Reason::CorrectionMatchesAnswer) => Signal {
            good: trust,
            bad: 0.0,
        },
        (ReportKind::Incorrect, _, Reason::AccountIgnored) => Signal::default(),
        (ReportKind::Incorrect, _, _) => Signal {
            good: 0.0,
            bad: if report.correction.is_some() {
                (trust * CORRECTION_WEIGHT).min(1.0)
            } else {
                trust
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountId;
    use crate::ids::TaskId;
    use crate::report::Evidence;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn report(kind: ReportKind, verdict: Verdict, reason: Reason) -> Report {
        Report {
            task: TaskId::from_u64(1),
            account: AccountId(1),
            kind,
            correction: None,
            code: None,
            message: None,
            dialect: "native".into(),
            received_at: T0,
            verdict,
            reason,
            evidence: Evidence::new(),
            refund: None,
            trust_weight: 1.0,
            recheck: None,
        }
    }

    #[test]
    fn evidence_halves_with_each_half_life() {
        let w = Weighed::default().add(8.0, 2.0, T0, PUBLISHED_HALF_LIFE);
        let later = w.aged(
            T0.saturating_add(PUBLISHED_HALF_LIFE * 2),
            PUBLISHED_HALF_LIFE,
        );
        assert!((later.good - 2.0).abs() < 1e-9 && (later.bad - 0.5).abs() < 1e-9);
        // Evidence from a clock that ran backwards is not inflated.
        let earlier = w.aged(
            T0.saturating_sub(Duration::from_secs(60)),
            PUBLISHED_HALF_LIFE,
        );
        assert_eq!((earlier.good, earlier.bad), (8.0, 2.0));
    }

    #[test]
    fn a_score_starts_at_its_prior_and_narrows_with_evidence() {
        let prior = Prior::provider(0.9);
        let none = reliability(prior, Weighed::default());
        assert!((none.mean - 0.9).abs() < 1e-9);
        let lots = reliability(
            prior,
            Weighed {
                good: 950.0,
                bad: 50.0,
                at: Some(T0),
            },
        );
        assert!(
            (lots.mean - 968.0 / 1020.0).abs() < 1e-9,
            "(18 + 950) / (20 + 1000)"
        );
        assert!(lots.upper - lots.lower < none.upper - none.lower);
        assert!(lots.lower < lots.mean && lots.mean < lots.upper);
        assert_eq!(lots.evidence, 1000.0);
    }

    #[test]
    fn reports_weigh_by_trust_and_no_signal_more_than_one_task() {
        use ReportKind::*;
        let bad = report(Incorrect, Verdict::Accepted, Reason::IncorrectAccepted);
        assert_eq!(
            signal_of(&bad, 0.5),
            Signal {
                good: 0.0,
                bad: 0.5
            }
        );
        let mut corrected = bad.clone();
        corrected.correction = Some("KWG91".into());
        assert_eq!(signal_of(&corrected, 0.5).bad, 0.5 * CORRECTION_WEIGHT);
        assert_eq!(signal_of(&corrected, 1.0).bad, 1.0, "at most one task");
        let good = report(Correct, Verdict::Acknowledged, Reason::PositiveFeedback);
        assert_eq!(
            signal_of(&good, 0.8),
            Signal {
                good: 0.8,
                bad: 0.0
            }
        );
        let ignored = report(Incorrect, Verdict::Rejected, Reason::AccountIgnored);
        assert!(signal_of(&ignored, 1.0).is_empty());
        let pending = report(Incorrect, Verdict::Pending, Reason::AwaitingRecheck);
        assert!(signal_of(&pending, 1.0).is_empty());
        let upheld = report(Incorrect, Verdict::Accepted, Reason::RecheckConfirmed);
        assert_eq!(
            signal_of(&upheld, 0.0).bad,
            1.0,
            "a second solve needs no trust"
        );
        let refuted = report(Incorrect, Verdict::Rejected, Reason::RecheckRefuted);
        assert_eq!(signal_of(&refuted, 0.0).good, 1.0);
    }
}
