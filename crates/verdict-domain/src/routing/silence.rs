//! Silence for the router: a routing table takes success evidence as it happens, but a task's
//! silence is evidence only as far as a report would have arrived by now
//! ([`scoring::silence`](crate::scoring::silence)). So each minute's exposure waits here and is
//! credited to the table bit by bit as it matures, at the minute it is about; the weight that
//! reports took back (their tasks were not silent) is held as a debt against the next credit,
//! since a table takes no negative evidence. The service and the routing simulation both feed
//! their tables through this.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use crate::Timestamp;
use crate::scoring::LagDistribution;

/// A minute this far matured is credited in full.
const MATURED_SHARE: f64 = 0.999;
/// Silence credited where a minute's tasks are taken to have been answered: its middle.
const MINUTE_MIDDLE: Duration = Duration::from_secs(30);

/// One minute's exposure of one provider and how much of it was credited so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Minute {
    exposure: f64,
    credited: f64,
}

/// Success evidence to feed a table: `good` silent tasks of `key`, at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceCredit<K> {
    pub key: K,
    pub at: Timestamp,
    pub good: f64,
}

/// The exposure still maturing per key (a provider of a type) and minute, and each key's debt.
#[derive(Debug, Clone)]
pub struct MaturingSilence<K> {
    minutes: HashMap<(K, i64), Minute>,
    debt: HashMap<K, f64>,
}

impl<K> Default for MaturingSilence<K> {
    fn default() -> Self {
        Self {
            minutes: HashMap::new(),
            debt: HashMap::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> MaturingSilence<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the silence weight of tasks completed in the minute starting at `minute`.
    pub fn expose(&mut self, key: K, minute: Timestamp, exposure: f64) {
        if exposure > 0.0 {
            self.minutes
                .entry((key, minute.as_millis()))
                .or_default()
                .exposure += exposure;
        }
    }

    /// Takes back the weight of tasks that were reported after all.
    pub fn take_back(&mut self, key: K, taken: f64) {
        if taken > 0.0 {
            *self.debt.entry(key).or_default() += taken;
        }
    }

    /// The silence matured since the last call, oldest first and net of debts. Minutes whose
    /// silence is fully credited (the last thousandth at once), or that started before
    /// `forget_before`, are dropped; so are keys `lags` knows nothing of (no report window,
    /// so no silence).
    pub fn credit<'a>(
        &mut self,
        now: Timestamp,
        forget_before: Timestamp,
        lags: impl Fn(&K) -> Option<&'a LagDistribution>,
    ) -> Vec<SilenceCredit<K>> {
        let mut credits: Vec<SilenceCredit<K>> = Vec::new();
        self.minutes.retain(|(key, start), minute| {
            let Some(lags) = lags(key) else {
                return false;
            };
            let at = Timestamp::from_millis(*start)
                .saturating_add(MINUTE_MIDDLE)
                .min(now);
            let age = Duration::from_millis(now.millis_since(at).max(0).unsigned_abs());
            let share = lags.cdf(age);
            // The last thousandth comes at once: otherwise a minute of a family with a day's
            // window would be kept and revisited for a day for almost nothing.
            let share = if share >= MATURED_SHARE { 1.0 } else { share };
            let target = minute.exposure * share;
            if target > minute.credited {
                credits.push(SilenceCredit {
                    key: key.clone(),
                    at,
                    good: target - minute.credited,
                });
                minute.credited = target;
            }
            *start >= forget_before.as_millis() && target < minute.exposure
        });
        credits.sort_by_key(|c| c.at);
        for credit in &mut credits {
            if let Some(debt) = self.debt.get_mut(&credit.key) {
                let settled = debt.min(credit.good);
                *debt -= settled;
                credit.good -= settled;
            }
        }
        credits.retain(|c| c.good > 0.0);
        credits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lags() -> LagDistribution {
        // Every report within 10 s (bucket 2: 5–10 s), on a 60 s window.
        LagDistribution::new(&[(2, 1_000)], Duration::from_secs(60))
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(seconds * 1_000)
    }

    fn total(credits: &[SilenceCredit<&str>]) -> f64 {
        credits.iter().map(|c| c.good).sum()
    }

    #[test]
    fn a_minutes_silence_is_credited_as_it_matures_and_then_forgotten() {
        let lags = lags();
        let mut silence = MaturingSilence::new();
        silence.expose("p1", at(0), 100.0);
        // At the minute's middle nothing has matured yet.
        let early = silence.credit(at(30), at(0), |_| Some(&lags));
        assert!(total(&early) < 1.0, "{early:?}");
        // Ten seconds on, almost every report would have come: almost all of it.
        let later = silence.credit(at(40), at(0), |_| Some(&lags));
        assert!(total(&early) + total(&later) > 98.0, "{later:?}");
        assert!(later.iter().all(|c| c.at == at(30)));
        // After the window everything is credited, once.
        let rest = silence.credit(at(200), at(0), |_| Some(&lags));
        let sum = total(&early) + total(&later) + total(&rest);
        assert!((sum - 100.0).abs() < 1e-9, "{sum}");
        assert!(silence.credit(at(300), at(0), |_| Some(&lags)).is_empty());
        assert!(silence.minutes.is_empty());
    }

    #[test]
    fn reported_tasks_are_taken_back_from_the_next_credit_of_their_key_only() {
        let lags = lags();
        let mut silence = MaturingSilence::new();
        silence.expose("p1", at(0), 100.0);
        silence.expose("p2", at(0), 100.0);
        silence.take_back("p1", 30.0);
        let credits = silence.credit(at(200), at(0), |_| Some(&lags));
        let of = |key| {
            credits
                .iter()
                .filter(|c| c.key == key)
                .map(|c| c.good)
                .sum::<f64>()
        };
        assert!((of("p1") - 70.0).abs() < 1e-9);
        assert!((of("p2") - 100.0).abs() < 1e-9);
        // A debt larger than the silence waits for the next minute's.
        silence.take_back("p1", 150.0);
        silence.expose("p1", at(60), 100.0);
        assert!(silence.credit(at(300), at(0), |_| Some(&lags)).is_empty());
        silence.expose("p1", at(120), 100.0);
        let credits = silence.credit(at(400), at(0), |_| Some(&lags));
        assert!((total(&credits) - 50.0).abs() < 1e-9, "{credits:?}");
    }

    #[test]
    fn minutes_too_old_or_without_a_window_are_dropped() {
        let lags = lags();
        let mut silence = MaturingSilence::new();
        silence.expose("p1", at(0), 10.0);
        silence.expose("unknown", at(0), 10.0);
        let credits = silence.credit(at(35), at(60), |k| (*k == "p1").then_some(&lags));
        assert!(credits.iter().all(|c| c.key == "p1"));
        assert!(silence.minutes.is_empty());
    }
}
