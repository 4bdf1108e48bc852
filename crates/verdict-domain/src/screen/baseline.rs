//! An account's own history in one family: the decayed counts the baseline lane compares with,
//! the drift lane's cumulative sum, and how an hour leaving the slow window is folded into them.

use super::{Counts, ScreenPolicy, binomial_llr};
use crate::stats::gamma_quantile;
use crate::timestamp::{Timestamp, hour_of};

/// An account's report history relative to the cohort, exponentially weighted: incorrect-reports
/// it sent, and the reports it would have sent at the cohort's rate for its tasks, both counted
/// as hours leave the slow window (so the baseline never overlaps what it is compared with).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Baseline {
    pub reports: f64,
    pub expected: f64,
    /// The drift lane's sum, through the last hour folded.
    pub drift: Drift,
}

impl Baseline {
    /// The report rate per task the account's history vouches for at `cohort_rate`: an upper
    /// quantile of its relative rate, so that a short history errs towards the account. `None`
    /// until the history holds `drift_min_expected` reports' worth of tasks.
    pub fn vouched_rate(&self, cohort_rate: f64, policy: &ScreenPolicy) -> Option<f64> {
        if self.expected < policy.drift_min_expected {
            return None;
        }
        let relative = gamma_quantile(
            policy.drift_history_quantile,
            2.0 + self.reports,
            2.0 + self.expected,
        );
        let rate = relative * cohort_rate;
        (rate.is_finite() && rate > 0.0).then(|| rate.clamp(1e-4, 0.5))
    }
}

/// Page's cumulative sum for "this account now reports `drift_ratio` times the rate its history
/// vouches for", hour by hour: each hour adds its log-likelihood ratio, and the sum restarts at
/// zero whenever the hours since agree better with the history. While it is above zero it is a
/// run: the hours since `since_hour`, with their tasks, reports and the reports the history
/// predicted, which is what an operator is shown when the run crosses the threshold. Each hour
/// is measured against the history as it stands then: the history slowly takes a rise in, which
/// costs the lane some speed, but an account whose young history undersold it is not held to
/// that mistake for the length of a run (the simulation flagged a fifth of honest accounts so).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Drift {
    pub llr: f64,
    /// The first hour of the run (meaningless while `llr` is 0).
    pub since_hour: i64,
    pub tasks: u64,
    pub reports: u64,
    pub expected: f64,
}

impl Drift {
    /// Adds one hour of `tasks` and `reports` at `p0`, the rate per task the history vouches for.
    pub fn step(
        self,
        hour: i64,
        tasks: u64,
        reports: u64,
        p0: f64,
        policy: &ScreenPolicy,
    ) -> Drift {
        if tasks == 0 {
            return self;
        }
        let fresh = self.llr <= 0.0;
        let reports = reports.min(tasks);
        let p1 = (p0 * policy.drift_ratio).min(0.99);
        let sum = self.llr + binomial_llr(reports, tasks, p1, p0);
        if sum <= 0.0 {
            return Drift::default();
        }
        Drift {
            llr: sum,
            since_hour: if fresh { hour } else { self.since_hour },
            tasks: if fresh { tasks } else { self.tasks + tasks },
            reports: if fresh {
                reports
            } else {
                self.reports + reports
            },
            expected: if fresh { 0.0 } else { self.expected } + tasks as f64 * p0,
        }
    }
}

/// Whether an ignored period ending at `until` ended after the baseline's last update at
/// `last_hour`: the hours between were left out, and the drift lane's sum begins again.
pub fn ignored_since(last_hour: Option<i64>, until: Option<Timestamp>) -> bool {
    matches!((last_hour, until), (Some(last), Some(until)) if hour_of(until) >= last)
}

/// Updates a baseline with `hour` leaving the slow window, decayed by `elapsed` hours since
/// the last update: the drift lane's sum takes the hour first, measured against the history
/// before it, then the history takes it in. `restart`: an ignored period ended since the last
/// update, so the sum begins again, as judging does.
pub fn advance_baseline(
    baseline: Baseline,
    hour: i64,
    counts: &Counts,
    cohort_rate: f64,
    elapsed_hours: f64,
    restart: bool,
    policy: &ScreenPolicy,
) -> Baseline {
    let half_life_hours = policy.baseline_half_life.as_secs_f64() / 3600.0;
    let decay = 0.5f64.powf(elapsed_hours.max(0.0) / half_life_hours);
    let drift = if restart {
        Drift::default()
    } else {
        baseline.drift
    };
    let drift = match baseline.vouched_rate(cohort_rate, policy) {
        Some(p0) => drift.step(hour, counts.tasks, counts.incorrect, p0, policy),
        None => drift,
    };
    Baseline {
        reports: baseline.reports * decay + counts.incorrect as f64,
        expected: baseline.expected * decay + counts.tasks as f64 * cohort_rate,
        drift,
    }
}

/// An account's row for one hour leaving the slow window, as storage keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldRow {
    pub baseline: Baseline,
    /// The hour the baseline was last advanced to, if ever.
    pub last_hour: Option<i64>,
    pub tasks: u64,
    pub incorrect: u64,
    /// When the account's last ignored period ended (or ends).
    pub ignored_until: Option<Timestamp>,
}

/// The baseline after `hour` is folded into it, measured against the cohort's rate that hour.
pub fn fold_hour(row: &FoldRow, hour: i64, cohort_rate: f64, policy: &ScreenPolicy) -> Baseline {
    let elapsed = row.last_hour.map_or(0.0, |l| (hour - l) as f64);
    let counts = Counts {
        tasks: row.tasks,
        incorrect: row.incorrect,
        ..Counts::default()
    };
    let restart = ignored_since(row.last_hour, row.ignored_until);
    advance_baseline(
        row.baseline,
        hour,
        &counts,
        cohort_rate,
        elapsed,
        restart,
        policy,
    )
}
