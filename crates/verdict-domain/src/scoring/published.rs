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
}

/// The evidence of `observed`, aged to `now`.
pub fn aged_sum(observed: &[Observed], now: Timestamp, half_life: Duration) -> Weighed {
    let h = half_life.as_secs_f64().max(1e-9);
    let (good, bad) = observed.iter().fold((0.0, 0.0), |(g, b), o| {
        let age = now.millis_since(o.at).max(0) as f64 / 1000.0;
        let factor = 0.5f64.powf(age / h);
        (g + o.good * factor, b + o.bad * factor)
    });
    // Silence counted in a bucket before its late reports came can leave a bucket's good
    // below zero; the sum cannot be.
    Weighed {
        good: good.max(0.0),
        bad,
        at: Some(now),
    }
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
        Observed {
            good: self.good + crate::scoring::silent_good(exposure, taken, age, lags),
            ..self
        }
    }
}

pub fn score(prior: Prior, observed: &[Observed], now: Timestamp, half_life: Duration) -> Score {
    Score {
        reliability: reliability(prior, aged_sum(observed, now, half_life)),
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
        let s = score(Prior::provider(0.9), &observed, T0, PUBLISHED_HALF_LIFE);
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
