//! What silence weighs (`verdict_domain::scoring::silence`): each account's silence weight per
//! family, recomputed with the cohorts and kept in memory so that an ingest never waits for it,
//! and the families' report-lag distributions that scores age silence by.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use verdict_domain::scoring::silence::UNKNOWN_REPORTER_WEIGHT;
use verdict_domain::scoring::{LagDistribution, Reporter, silence_weight};
use verdict_domain::screen::Cohort;
use verdict_domain::timestamp::hour_of;
use verdict_domain::{AccountId, Family};

use crate::{Engine, EngineError};

/// Silence weights per (account, family), as of the last refresh. An account not among them
/// (no tasks in the slow window then) is taken to report its failures: a trusted one weighs 1,
/// any other [`UNKNOWN_REPORTER_WEIGHT`] (on probation).
#[derive(Debug, Default)]
pub(crate) struct SilenceWeights {
    known: RwLock<Known>,
    loaded: AtomicBool,
}

#[derive(Debug, Default)]
struct Known {
    weights: HashMap<(AccountId, Family), f64>,
    trusted: HashSet<AccountId>,
}

impl SilenceWeights {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        // A poisoned lock still holds plain numbers.
        self.known.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Known> {
        self.known.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, account: AccountId, family: Family) -> f64 {
        let known = self.read();
        match known.weights.get(&(account, family)) {
            Some(w) => *w,
            None if known.trusted.contains(&account) => 1.0,
            None => UNKNOWN_REPORTER_WEIGHT,
        }
    }

    /// An operator changed an account's trust: what its unknown families weigh follows now.
    pub(crate) fn set_trusted(&self, account: AccountId, trusted: bool) {
        let mut known = self.write();
        if trusted {
            known.trusted.insert(account);
        } else {
            known.trusted.remove(&account);
        }
    }

    pub(crate) fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }
}

impl Engine {
    /// Recomputes every active account's silence weight from its slow window against its
    /// family's cohort; the number of (account, family) weights now known.
    pub(crate) async fn refresh_silence_weights(&self) -> Result<usize, EngineError> {
        let now = self.parts.clock.now();
        let policy = &self.parts.policy.screen;
        let from_hour = hour_of(now) - policy.slow_window_hours + 1;
        let samples = self.parts.store.reporter_samples(from_hour, now).await?;
        let trusted: HashSet<AccountId> = self
            .parts
            .store
            .trusted_accounts()
            .await?
            .into_iter()
            .collect();
        let stored = self.parts.store.cohorts().await?;
        let cohorts: HashMap<Family, Cohort> = Family::ALL
            .into_iter()
            .map(|family| {
                let record = stored.iter().find(|(f, _)| *f == family).map(|(_, c)| c);
                (family, Cohort::of(record, policy))
            })
            .collect();
        let weights: HashMap<(AccountId, Family), f64> = samples
            .into_iter()
            .map(|s| {
                let reporter = Reporter {
                    tasks: s.tasks,
                    incorrect: s.incorrect,
                    trusted: s.trusted,
                    ignored: s.ignored,
                };
                let prior = cohorts
                    .get(&s.family)
                    .map(|c| c.prior)
                    .unwrap_or_else(|| verdict_domain::screen::CohortPrior::default_for(policy));
                (
                    (s.account, s.family),
                    silence_weight(reporter, &prior, policy),
                )
            })
            .collect();
        let count = weights.len();
        *self.parts.silence.write() = Known { weights, trusted };
        self.parts.silence.loaded.store(true, Ordering::Release);
        Ok(count)
    }

    /// Each family's report-lag distribution, from the reports so far.
    pub(crate) async fn lag_distributions(
        &self,
    ) -> Result<HashMap<Family, LagDistribution>, EngineError> {
        let histogram = self.parts.store.report_lags().await?;
        Ok(Family::ALL
            .into_iter()
            .map(|family| {
                let counts: Vec<(u8, u64)> = histogram
                    .iter()
                    .filter(|(f, _, _)| *f == family)
                    .map(|&(_, bucket, n)| (bucket, n))
                    .collect();
                let window = self.parts.policy.windows.longest(family);
                (family, LagDistribution::new(&counts, window))
            })
            .collect())
    }
}
