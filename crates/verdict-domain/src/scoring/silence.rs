//! Silence as evidence. Real clients almost never confirm a good solution, and most services
//! have no endpoint for it: what they do is complain about the bad ones. So every ingested task
//! is an exposure of its provider, worker and type, and a task nobody complained about becomes
//! evidence that it was right as the chance grows that a wrong answer would have been reported
//! by now (docs/scoring.md has the derivation and where it departs from research/domain.md §4.2).
//!
//! Each task carries at ingest the weight of its account's silence ([`silence_weight`]): how
//! surely that account reports a failure it sees, times how far its reports are believed. The
//! task's provider and worker buckets add that weight as *exposure*; a report on the task, when
//! it comes, takes the same weight back as *taken*, because the task is no longer silent (its
//! report carries its own signal). A bucket of age `t` then says
//!
//! ```text
//! good += exposure × F(t) − taken        (F: the family's report-lag distribution)
//! ```
//!
//! which, summed over buckets, is an unbiased count of the tasks that would have been reported
//! had they been wrong and were not: with `N` exposed tasks of accuracy θ from accounts that
//! report every failure, `exposure × F − taken → N·θ` and the complaints give `N·(1 − θ)`.

use std::time::Duration;

use crate::screen::{CohortPrior, ScreenPolicy, trust_weight};

/// Upper edges of the report-lag histogram, in seconds; a last bucket holds everything later.
/// Fine where token reports arrive (within the 60 s window), coarse where image reports do.
pub const LAG_EDGES_SECS: [u64; 16] = [
    2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1_800, 3_600, 14_400, 43_200, 86_400,
];
/// Buckets of the histogram: one per edge and one beyond the last.
pub const LAG_BUCKETS: usize = LAG_EDGES_SECS.len() + 1;

/// Pseudo-reports spread evenly over the family's report window before any report is seen.
pub const LAG_PRIOR_REPORTS: f64 = 10.0;

/// Expected reports an account's history must be worth before its own rate, rather than the
/// assumption that it reports its failures, sets its propensity.
pub const PROPENSITY_PRIOR_EXPECTED: f64 = 5.0;

/// The histogram bucket of a report that came `lag` after its task was completed.
pub fn lag_bucket(lag: Duration) -> u8 {
    let secs = lag.as_secs_f64();
    let index = LAG_EDGES_SECS
        .iter()
        .position(|&edge| secs <= edge as f64)
        .unwrap_or(LAG_EDGES_SECS.len());
    index as u8
}

/// How long after completion a family's reports arrive: learnt from its reports, starting from
/// an even spread over its report window (reports after it are refused, so `F = 1` there).
#[derive(Debug, Clone, PartialEq)]
pub struct LagDistribution {
    counts: [f64; LAG_BUCKETS],
    window: Duration,
}

impl LagDistribution {
    /// From the histogram's counts (missing buckets count 0) and the family's window.
    pub fn new(counts: &[(u8, u64)], window: Duration) -> Self {
        let mut histogram = [0.0; LAG_BUCKETS];
        for &(bucket, n) in counts {
            if let Some(slot) = histogram.get_mut(usize::from(bucket)) {
                *slot += n as f64;
            }
        }
        Self {
            counts: histogram,
            window,
        }
    }

    /// Reports counted so far.
    pub fn reports(&self) -> f64 {
        self.counts.iter().sum()
    }

    /// The share of reports that arrive within `age` of completion: `P(lag <= age)`.
    pub fn cdf(&self, age: Duration) -> f64 {
        let window = self.window.as_secs_f64().max(1.0);
        let age = age.as_secs_f64();
        if age >= window {
            return 1.0;
        }
        // Within a bucket, reports are taken to arrive evenly.
        let mut below = 0.0;
        let mut lower = 0.0;
        for (i, count) in self.counts.iter().enumerate() {
            let upper = LAG_EDGES_SECS
                .get(i)
                .map_or(window.max(lower), |&e| e as f64);
            if age >= upper {
                below += count;
            } else if age > lower && upper > lower {
                below += count * (age - lower) / (upper - lower);
            }
            lower = upper;
        }
        let prior = LAG_PRIOR_REPORTS * (age / window).clamp(0.0, 1.0);
        ((below + prior) / (self.reports() + LAG_PRIOR_REPORTS)).clamp(0.0, 1.0)
    }
}

/// What is known of an account in one family when its tasks are ingested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reporter {
    /// Tasks and incorrect-reports over the slow window.
    pub tasks: u64,
    pub incorrect: u64,
    pub trusted: bool,
    pub ignored: bool,
}

/// How much an account's silence on a task says that the task was right, in [0, 1]: the
/// chance it would report a failure it saw (its report rate against the cohort's, capped at 1
/// and shrunk towards 1 while its history is short: a client is taken to report its failures
/// until its history says otherwise; one that never reports anything over hundreds of tasks
/// weighs almost nothing), times how far its reports are believed (the screen's trust weight;
/// fully for trusted accounts, nothing while ignored).
pub fn silence_weight(reporter: Reporter, prior: &CohortPrior, policy: &ScreenPolicy) -> f64 {
    if reporter.ignored {
        return 0.0;
    }
    let expected = reporter.tasks as f64 * prior.mean();
    let propensity = ((reporter.incorrect as f64 + PROPENSITY_PRIOR_EXPECTED)
        / (expected + PROPENSITY_PRIOR_EXPECTED))
        .min(1.0);
    let trust = if reporter.trusted {
        1.0
    } else {
        trust_weight(
            reporter.incorrect,
            reporter.tasks,
            prior,
            policy,
            reporter.tasks < policy.min_volume,
        )
    };
    (propensity * trust).clamp(0.0, 1.0)
}

/// The weight of an account nothing is known of yet (no tasks in the slow window): it is taken
/// to report its failures, on probation.
pub const UNKNOWN_REPORTER_WEIGHT: f64 = 0.5;

/// The success evidence a bucket's silence gives at `age` (from the middle of the bucket):
/// its exposure as far as reports would have arrived by now, less what its reports took back.
/// Negative when reports came in faster than the distribution expects; sums over buckets are
/// what is meaningful.
pub fn silent_good(exposure: f64, taken: f64, age: Duration, lags: &LagDistribution) -> f64 {
    exposure * lags.cdf(age) - taken
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn lags_fall_in_their_buckets() {
        assert_eq!(lag_bucket(Duration::from_millis(500)), 0);
        assert_eq!(lag_bucket(Duration::from_secs(2)), 0);
        assert_eq!(lag_bucket(Duration::from_secs(3)), 1);
        assert_eq!(lag_bucket(Duration::from_secs(60)), 7);
        assert_eq!(lag_bucket(Duration::from_secs(90_000)), 16);
    }

    #[test]
    fn the_lag_distribution_starts_even_over_the_window_and_learns_from_reports() {
        let empty = LagDistribution::new(&[], MINUTE);
        assert!((empty.cdf(Duration::from_secs(30)) - 0.5).abs() < 1e-9);
        assert_eq!(empty.cdf(MINUTE), 1.0);
        assert_eq!(empty.cdf(Duration::ZERO), 0.0);
        // 990 token reports within 10 s: by 10 s nearly all reports are in.
        let learnt = LagDistribution::new(&[(1, 500), (2, 490)], MINUTE);
        let at_10s = learnt.cdf(Duration::from_secs(10));
        assert!(at_10s > 0.98 && at_10s < 1.0, "{at_10s}");
        assert!(learnt.cdf(Duration::from_secs(3)) < 0.2);
        // Monotone.
        let mut last = 0.0;
        for s in 0..=60 {
            let f = learnt.cdf(Duration::from_secs(s));
            assert!(f >= last, "{s}: {f} < {last}");
            last = f;
        }
    }

    fn prior() -> CohortPrior {
        CohortPrior::new(10.0, 90.0, 0.99, 40)
    }

    fn weight(tasks: u64, incorrect: u64, trusted: bool) -> f64 {
        silence_weight(
            Reporter {
                tasks,
                incorrect,
                trusted,
                ignored: false,
            },
            &prior(),
            &ScreenPolicy::default(),
        )
    }

    #[test]
    fn silence_weighs_by_how_surely_the_account_reports_its_failures() {
        // Reports like the cohort: full weight when trusted, the screen's trust otherwise.
        assert!((weight(1_000, 100, true) - 1.0).abs() < 1e-9);
        let like_cohort = weight(1_000, 100, false);
        assert!(like_cohort > 0.9, "{like_cohort}");
        // Never reports anything over 1,000 tasks: its silence says almost nothing.
        assert!(weight(1_000, 0, true) < 0.05);
        // Half the cohort's rate: half the weight.
        assert!((weight(1_000, 50, true) - 55.0 / 105.0).abs() < 1e-9);
        // An abuser reporting 60 %: its reports are not believed, nor its silence.
        assert!(weight(1_000, 600, false) < 1e-6);
        // Ignored: nothing.
        let ignored = Reporter {
            tasks: 1_000,
            incorrect: 100,
            trusted: true,
            ignored: true,
        };
        assert_eq!(
            silence_weight(ignored, &prior(), &ScreenPolicy::default()),
            0.0
        );
    }

    #[test]
    fn silence_and_complaints_count_a_providers_accuracy_without_confirmations() {
        // 2,000 tasks at 95 % from a client that reports every failure within 10 s; an hour on.
        let lags = LagDistribution::new(&[(2, 100)], MINUTE);
        let (tasks, wrong) = (2_000.0, 100.0);
        let good = silent_good(tasks, wrong, Duration::from_secs(3_600), &lags);
        assert!((good / (good + wrong) - 0.95).abs() < 1e-9);
        // Seconds after completion most reports are yet to come, and little silence counts.
        let early = silent_good(tasks, 0.0, Duration::from_secs(1), &lags);
        assert!(early < 0.02 * tasks, "{early}");
    }
}
