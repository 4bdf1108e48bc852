//! An account's hourly counts in one family, the windows the lanes sum over them, and where a
//! rise of its reports began (the start of what a clawback takes back).

use std::time::Duration;

use crate::timestamp::{HOUR_MS, Timestamp, hour_of};

/// One account's counts in one family over some period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks completed.
    pub tasks: u64,
    /// Incorrect-reports received.
    pub incorrect: u64,
    /// Correct-reports received.
    pub correct: u64,
    /// Refunds granted.
    pub refunds: u64,
    /// Re-checks settled that upheld one of the account's reports.
    pub rechecks_upheld: u64,
    /// Re-checks settled that found the first answer right.
    pub rechecks_refuted: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.tasks += other.tasks;
        self.incorrect += other.incorrect;
        self.correct += other.correct;
        self.refunds += other.refunds;
        self.rechecks_upheld += other.rechecks_upheld;
        self.rechecks_refuted += other.rechecks_refuted;
    }
}

/// An account's hourly counts in one family, as storage keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// (hour, counts), any order, at most one row per hour.
    pub hours: Vec<(i64, Counts)>,
}

impl Activity {
    /// Sums the `hours` hourly buckets ending with the one `now` falls in.
    pub fn window(&self, now: Timestamp, hours: i64) -> Counts {
        self.window_from(now, hours, None)
    }

    /// Like [`Activity::window`], leaving out the hours up to and including the one `from`
    /// falls in.
    pub fn window_from(&self, now: Timestamp, hours: i64, from: Option<Timestamp>) -> Counts {
        let window = window_hours(now, hours, from);
        let mut total = Counts::default();
        for (hour, counts) in &self.hours {
            if window.contains(hour) {
                total.add(counts);
            }
        }
        total
    }

    /// When the rise in reports that a lane judged began, within the window it judged (as
    /// [`Activity::window_from`] bounds it, plus the report being judged): the maximum-likelihood
    /// change point of a binomial at `usual_rate` before it and a higher rate after, moved to
    /// the earliest hour whose log-likelihood is within [`RISE_START_SLACK`] of the best, so
    /// that chance quiet hours inside a burst do not shorten it.
    ///
    /// Why it matters: an honest client whose own integration broke two hours ago reports
    /// everything since, and is rightly flagged; the genuine refunds it got in the four hours
    /// before are not what made it abnormal, and clawing them back would charge it for the
    /// solver's real mistakes. An always-report script's rise starts where its tasks do.
    pub fn rise_start(
        &self,
        now: Timestamp,
        hours: i64,
        from: Option<Timestamp>,
        usual_rate: f64,
    ) -> Timestamp {
        let window = window_hours(now, hours, from);
        let mut rows: Vec<(i64, Counts)> = self
            .hours
            .iter()
            .filter(|(hour, _)| window.contains(hour))
            .copied()
            .collect();
        rows.sort_unstable_by_key(|&(hour, _)| std::cmp::Reverse(hour));
        let p0 = usual_rate.clamp(1e-6, 1.0 - 1e-6);
        let (mut tasks, mut reports) = (0u64, 1u64);
        // (first hour of the suffix, its log-likelihood ratio), latest suffix first.
        let suffixes: Vec<(i64, f64)> = rows
            .iter()
            .map(|(hour, counts)| {
                tasks += counts.tasks;
                reports += counts.incorrect;
                let n = tasks.max(1);
                (*hour, binomial_rise_llr(reports.min(n), n, p0))
            })
            .collect();
        let best = suffixes.iter().map(|s| s.1).fold(0.0, f64::max);
        let start = suffixes
            .iter()
            .rev()
            .find(|s| s.1 >= best - RISE_START_SLACK)
            .map_or(*window.start(), |s| s.0);
        if start == *window.start() {
            // As old as the window: all of it, back to the moment `hours` ago.
            let whole = now.saturating_sub(Duration::from_secs(hours.unsigned_abs() * 3600));
            return from.map_or(whole, |from| from.max(whole));
        }
        Timestamp::from_millis(start * HOUR_MS)
    }
}

/// Nats below the best change point that still count as "the rise may have begun here". A
/// start is moved later only where a later rise is e^6 ≈ 400 times likelier: the usual 95 %
/// interval (1.92) let ramps keep the refunds of their gentle beginning (slow-ramp abusers kept
/// 11.1 % instead of 9.5 % at CI size), while an honest client's outage, a step from its usual
/// rate to reporting everything, is placed to the hour either way.
pub const RISE_START_SLACK: f64 = 6.0;

/// The hours a window of `hours` ending with `now`'s covers, leaving out those up to and
/// including the one `from` falls in.
fn window_hours(
    now: Timestamp,
    hours: i64,
    from: Option<Timestamp>,
) -> std::ops::RangeInclusive<i64> {
    let last = hour_of(now);
    let first = match from {
        Some(from) => (last - hours + 1).max(hour_of(from) + 1),
        None => last - hours + 1,
    };
    first..=last
}

/// Log-likelihood ratio of `x` reports in `n` tasks (`x <= n`) at rate `p1` against at `p0`.
pub(super) fn binomial_llr(x: u64, n: u64, p1: f64, p0: f64) -> f64 {
    // A count of zero adds nothing, even where its log ratio is infinite (p1 = 1).
    let term = |count: u64, a: f64, b: f64| {
        if count == 0 {
            0.0
        } else {
            count as f64 * (a / b).ln()
        }
    };
    term(x, p1, p0) + term(n - x, 1.0 - p1, 1.0 - p0)
}

/// [`binomial_llr`] at the reports' own rate; zero unless that rate is above `p0`.
fn binomial_rise_llr(x: u64, n: u64, p0: f64) -> f64 {
    let p = x as f64 / n as f64;
    if p <= p0 {
        return 0.0;
    }
    binomial_llr(x, n, p, p0)
}
