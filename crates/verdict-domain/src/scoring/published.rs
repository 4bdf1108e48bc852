//! Published reliability scores (research/domain.md §4.2): what verdict tells operators of a
//! provider or a worker at one captcha type, from the trust-weighted evidence of its verdicts,
//! aged with the published half-life. Ranked by the lower end of the credible interval, so that
//! a provider with little evidence never tops the list on luck.

use std::time::Duration;

use crate::scoring::{Prior, Reliability, Weighed, reliability};
use crate::timestamp::Timestamp;

/// Evidence observed in one bucket of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// When the bucket begins.
    pub at: Timestamp,
    pub good: f64,
    pub bad: f64,
    /// Reports that carried it.
    pub reports: u64,
    /// Of `good`, what the bucket's silence says (docs/scoring.md); the rest is explicit.
    pub silent: f64,
}

/// A subject's score and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub reliability: Reliability,
    pub prior: Prior,
    /// Reports behind it, unweighted and unaged (for people: "from 1,830 reports").
    pub reports: u64,
    /// The latest bucket with evidence.
    pub last_evidence: Option<Timestamp>,
    /// The accuracies the evidence allows: the credible interval widened by what complaints
    /// and silence cannot tell apart ([`ReportingBounds`]). What the API shows as `interval`.
    pub interval: Interval,
    /// Of the aged good evidence, the share that is silence.
    pub silent_share: f64,
}

/// A range of accuracies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// What verdict assumes of the clients whose complaints and silence make a score, where the
/// evidence itself cannot say (docs/scoring.md, "What an interval holds"). A provider's
/// complaint rate is `π (1 − θ) + s θ`: clients report a share `π` of its failures and, at a
/// rate `s`, right answers their own sites rejected. Complaints and silence alone identify
/// neither `π` nor `s`, so the score's mean takes the cohort to report every failure and
/// nothing else (`π = 1`, `s = 0`), and its interval holds every accuracy that some `π` and `s`
/// within these bounds would explain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportingBounds {
    /// The least share of the failures they see that reporting clients are taken to report.
    pub report_share_min: f64,
    /// The highest rate at which right answers are taken to be reported (sites' own rejections).
    pub false_report_max: f64,
}

impl Default for ReportingBounds {
    fn default() -> Self {
        Self {
            report_share_min: 0.7,
            false_report_max: 0.08,
        }
    }
}

impl ReportingBounds {
    /// Scores as the evidence reads, with no allowance: clients report exactly their failures.
    pub const EXACT: ReportingBounds = ReportingBounds {
        report_share_min: 1.0,
        false_report_max: 0.0,
    };

    /// `credible` widened: at the lower end, failures nobody reported hidden in the silence —
    /// `(1 − π)/π` of those reported, at most all of the silence; at the upper end, complaints
    /// that were right answers, at a rate `s` of the right answers.
    pub fn widen(&self, credible: Interval, silent_share: f64) -> Interval {
        let share = self.report_share_min.clamp(1e-3, 1.0);
        let lower = credible.lower;
        let hidden =
            (silent_share.clamp(0.0, 1.0) * lower).min((1.0 - lower) * (1.0 - share) / share);
        let false_reports = self.false_report_max.clamp(0.0, 0.999);
        Interval {
            lower: (lower - hidden).max(0.0),
            upper: (credible.upper / (1.0 - false_reports)).min(1.0),
        }
    }
}

/// The evidence of `observed`, aged to `now`.
pub fn aged_sum(observed: &[Observed], now: Timestamp, half_life: Duration) -> Weighed {
    aged_sums(observed, now, half_life).0
}

/// [`aged_sum`], and the share of its good evidence that is silence.
fn aged_sums(observed: &[Observed], now: Timestamp, half_life: Duration) -> (Weighed, f64) {
    let h = half_life.as_secs_f64().max(1e-9);
    let (good, bad, silent) = observed.iter().fold((0.0, 0.0, 0.0), |(g, b, s), o| {
        let age = now.millis_since(o.at).max(0) as f64 / 1000.0;
        let factor = 0.5f64.powf(age / h);
        (
            g + o.good * factor,
            b + o.bad * factor,
            s + o.silent * factor,
        )
    });
    // Silence counted in a bucket before its late reports came can leave a bucket's good
    // below zero; the sum cannot be.
    let good = good.max(0.0);
    let silent_share = if good > 0.0 {
        (silent / good).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let sum = Weighed {
        good,
        bad,
        at: Some(now),
    };
    (sum, silent_share)
}

impl Observed {
    /// The bucket's evidence with what its silence says at `now` added to `good`: `exposure`
    /// and `taken` are its tasks' silence weights and those its reports took back, `span` the
    /// bucket's length (its tasks are aged from its middle).
    pub fn with_silence(
        self,
        exposure: f64,
        taken: f64,
        span: Duration,
        now: Timestamp,
        lags: &crate::scoring::LagDistribution,
    ) -> Observed {
        if exposure == 0.0 && taken == 0.0 {
            return self;
        }
        let middle = self.at.saturating_add(span / 2);
        let age = Duration::from_millis(now.millis_since(middle).max(0).unsigned_abs());
        let silent = crate::scoring::silent_good(exposure, taken, age, lags);
        Observed {
            good: self.good + silent,
            silent: self.silent + silent,
            ..self
        }
    }
}

pub fn score(
    prior: Prior,
    observed: &[Observed],
    now: Timestamp,
    half_life: Duration,
    bounds: &ReportingBounds,
) -> Score {
    let (sum, silent_share) = aged_sums(observed, now, half_life);
    let reliability = reliability(prior, sum);
    let credible = Interval {
        lower: reliability.lower,
        upper: reliability.upper,
    };
    Score {
        reliability,
        interval: bounds.widen(credible, silent_share),
        silent_share,
        prior,
        reports: observed.iter().map(|o| o.reports).sum(),
        last_evidence: observed
            .iter()
            .filter(|o| o.reports > 0)
            .map(|o| o.at)
            .max(),
    }
}

/// Where a provider's score starts at one type: the pooled mean of every provider's aged
/// evidence at that type once there is enough of it (domain.md §4.2: `mu_k`), else
/// [`Prior::UNINFORMED`]'s.
pub fn type_prior(pooled: Weighed) -> Prior {
    if pooled.total() >= Prior::UNINFORMED.strength {
        Prior::provider(pooled.good / pooled.total())
    } else {
        Prior::provider(Prior::UNINFORMED.mean)
    }
}

/// Orders scores best first: by the lower end of the interval, then the mean.
pub fn rank(a: &Reliability, b: &Reliability) -> std::cmp::Ordering {
    b.lower
        .total_cmp(&a.lower)
        .then_with(|| b.mean.total_cmp(&a.mean))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::PUBLISHED_HALF_LIFE;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn at(hours_ago: u64, good: f64, bad: f64) -> Observed {
        Observed {
            at: T0.saturating_sub(Duration::from_secs(hours_ago * 3600)),
            good,
            bad,
            reports: (good + bad) as u64,
            silent: 0.0,
        }
    }

    #[test]
    fn evidence_a_half_life_old_weighs_half() {
        let week = 7 * 24;
        let sum = aged_sum(
            &[at(0, 10.0, 2.0), at(week, 8.0, 4.0)],
            T0,
            PUBLISHED_HALF_LIFE,
        );
        assert!((sum.good - 14.0).abs() < 1e-9 && (sum.bad - 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_score_counts_its_reports_and_knows_its_latest_evidence() {
        let observed = [at(30, 5.0, 1.0), at(2, 3.0, 0.0), at(1, 0.0, 0.0)];
        let s = score(
            Prior::provider(0.9),
            &observed,
            T0,
            PUBLISHED_HALF_LIFE,
            &ReportingBounds::EXACT,
        );
        assert_eq!(s.reports, 9);
        assert_eq!(
            s.last_evidence,
            Some(observed[1].at),
            "a bucket with no reports"
        );
        assert!(s.reliability.lower < s.reliability.mean);
    }

    #[test]
    fn the_type_prior_is_the_pooled_mean_once_there_is_enough_evidence() {
        let little = Weighed {
            good: 5.0,
            bad: 5.0,
            at: Some(T0),
        };
        assert_eq!(type_prior(little).mean, Prior::UNINFORMED.mean);
        let enough = Weighed {
            good: 80.0,
            bad: 20.0,
            at: Some(T0),
        };
        assert!((type_prior(enough).mean - 0.8).abs() < 1e-12);
    }

    /// The expected evidence of `tasks` tasks of accuracy `truth` from clients that report a
    /// share `share` of the failures and a rate `false_rate` of the right answers, confirming
    /// nothing: complaints, and the rest silence.
    fn complaints_and_silence(tasks: f64, truth: f64, share: f64, false_rate: f64) -> Score {
        let bad = tasks * (share * (1.0 - truth) + false_rate * truth);
        let observed = [Observed {
            at: T0,
            good: tasks - bad,
            bad,
            reports: bad as u64,
            silent: tasks - bad,
        }];
        score(
            Prior::provider(0.9),
            &observed,
            T0,
            PUBLISHED_HALF_LIFE,
            &ReportingBounds::default(),
        )
    }

    #[test]
    fn an_interval_holds_the_accuracy_whatever_share_of_failures_clients_report() {
        for truth in [0.70, 0.86, 0.96] {
            for (share, false_rate) in [(1.0, 0.0), (0.8, 0.05), (0.7, 0.0), (1.0, 0.08)] {
                let s = complaints_and_silence(100_000.0, truth, share, false_rate);
                let i = s.interval;
                assert!(
                    i.lower <= truth && truth <= i.upper,
                    "{truth} reported {share} with {false_rate} false: {i:?}"
                );
                assert!(i.lower <= s.reliability.lower && s.reliability.upper <= i.upper);
            }
        }
        // Where clients report 80 % of failures and 5 % of right answers, the credible
        // interval alone misses a 96 % provider: complaints cannot tell the two apart.
        let s = complaints_and_silence(100_000.0, 0.96, 0.8, 0.05);
        assert!(s.reliability.upper < 0.96, "{:?}", s.reliability);
        // As docs/scoring.md quotes it: 0.92 in about [0.88, 1].
        assert!(
            (s.reliability.mean - 0.92).abs() < 0.005,
            "{:?}",
            s.reliability
        );
        assert!(
            (s.interval.lower - 0.88).abs() < 0.01 && s.interval.upper == 1.0,
            "{:?}",
            s.interval
        );
        assert!((s.silent_share - 1.0).abs() < 1e-12);
    }

    #[test]
    fn explicit_evidence_is_not_widened_for_failures_silence_could_hide() {
        let observed = [Observed {
            at: T0,
            good: 900.0,
            bad: 100.0,
            reports: 1_000,
            silent: 0.0,
        }];
        let bounds = ReportingBounds::default();
        let s = score(
            Prior::provider(0.9),
            &observed,
            T0,
            PUBLISHED_HALF_LIFE,
            &bounds,
        );
        assert_eq!(s.interval.lower, s.reliability.lower);
        assert!(s.interval.upper > s.reliability.upper);
        let exact = score(
            Prior::provider(0.9),
            &observed,
            T0,
            PUBLISHED_HALF_LIFE,
            &ReportingBounds::EXACT,
        );
        assert_eq!(exact.interval.upper, exact.reliability.upper);
    }

    #[test]
    fn little_evidence_does_not_rank_first() {
        let prior = Prior::provider(0.9);
        let lucky = reliability(
            prior,
            Weighed {
                good: 3.0,
                bad: 0.0,
                at: Some(T0),
            },
        );
        let proven = reliability(
            prior,
            Weighed {
                good: 950.0,
                bad: 50.0,
                at: Some(T0),
            },
        );
        let mut both = [lucky, proven];
        both.sort_by(rank);
        assert_eq!(both[0], proven);
    }
}
