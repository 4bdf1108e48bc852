//! Keeping the screen's reference points current: on a timer, and after an ingest once a
//! family's data has grown by a quarter since its last estimate, the cohort prior per family is
//! re-estimated on the last slow window (fitted, pooled, or from accounts in good standing:
//! `screen::estimate_prior`); on the timer, the hours that left that window are folded into
//! every active account's baseline and evidence about solvers past its retention goes. Several
//! nodes may run this; the fold happens once per hour, and refits of the same data agree.

use std::collections::HashMap;
use std::sync::Mutex;

use verdict_domain::Family;
use verdict_domain::screen::{
    Cohort, CohortRecord, estimate_prior, needs_standing, pooled, refit_due,
};
use verdict_domain::timestamp::hour_of;

use crate::{Engine, EngineError};

/// Hours of history folded at most when a node first runs (or after a long pause).
const MAX_CATCH_UP_HOURS: i64 = 14 * 24;

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refresh {
    /// Families whose prior was refitted, with the prior.
    pub refitted: Vec<(Family, CohortRecord)>,
    /// Hours folded into baselines by this call.
    pub hours_folded: u32,
    /// Evidence buckets dropped past their retention.
    pub evidence_pruned: u64,
    /// (account, family) pairs whose silence weight is now known.
    pub silence_weights: usize,
}

/// A family's cohort as judging uses it, with what is stored of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FamilyCohort {
    pub family: Family,
    pub cohort: Cohort,
    /// The last refresh's record: its pooled rate and when the prior was fitted.
    pub stored: Option<CohortRecord>,
}

impl Engine {
    /// Every family's cohort, as the screen uses it now.
    pub async fn cohorts(&self) -> Result<Vec<FamilyCohort>, EngineError> {
        let stored = self.parts.store.cohorts().await?;
        Ok(Family::ALL
            .into_iter()
            .map(|family| {
                let stored = stored.iter().find(|(f, _)| *f == family).map(|(_, c)| *c);
                FamilyCohort {
                    family,
                    cohort: Cohort::of(stored.as_ref(), &self.parts.policy.screen),
                    stored,
                }
            })
            .collect())
    }

    /// Re-estimates one family's cohort prior from the last slow window and stores it; the
    /// new record when there was data to estimate it from.
    async fn refit_cohort(
        &self,
        family: Family,
        kept: Option<&CohortRecord>,
    ) -> Result<Option<CohortRecord>, EngineError> {
        let now = self.parts.clock.now();
        let policy = &self.parts.policy.screen;
        let from_hour = hour_of(now) - policy.slow_window_hours + 1;
        let trusted = self.parts.store.cohort_samples(family, from_hour).await?;
        let standing = if needs_standing(&trusted, policy) {
            self.parts.store.standing_samples(family, from_hour).await?
        } else {
            Vec::new()
        };
        let estimated = estimate_prior(&trusted, &standing, policy);
        // The pooled rate is the reference baselines are measured against, hour by hour
        // (`fold_baselines` pools the same trusted accounts); without trusted data, the
        // estimate's own mean.
        let (tasks, reports) = pooled(&trusted);
        let rate = match (tasks, estimated) {
            (0, Some(prior)) => prior.mean(),
            (0, None) => {
                self.parts.cohort_growth.rested_on(family, 0);
                return Ok(None);
            }
            _ => reports as f64 / tasks as f64,
        };
        let record = Cohort::refreshed(estimated, kept, rate, now, policy);
        self.parts.store.save_cohort(family, record).await?;
        let rested_on = if standing.is_empty() {
            tasks
        } else {
            pooled(&standing).0
        };
        self.parts.cohort_growth.rested_on(family, rested_on);
        Ok(estimated.map(|_| record))
    }

    /// After an ingest: refits the cohorts of families whose data grew enough since their last
    /// fit ([`refit_due`]), so that a young platform's reference follows its first hours
    /// instead of waiting for the timer. A failed refit is logged; the tasks are stored.
    pub(crate) async fn refit_grown_cohorts(&self, counts: HashMap<Family, u64>) {
        let due = self
            .parts
            .cohort_growth
            .add(counts, &self.parts.policy.screen);
        if due.is_empty() {
            return;
        }
        let previous = match self.parts.store.cohorts().await {
            Ok(previous) => previous,
            Err(e) => {
                tracing::warn!(error = %crate::chain(&e), "reading the cohorts to refit failed");
                return;
            }
        };
        for &family in &due {
            let kept = previous.iter().find(|(f, _)| *f == family).map(|(_, c)| c);
            match self.refit_cohort(family, kept).await {
                Ok(Some(record)) => tracing::info!(
                    family = family.as_str(),
                    basis = record.prior.basis.as_str(),
                    accounts = record.prior.accounts,
                    mean = record.prior.mean(),
                    "cohort refitted as its data grew"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(family = family.as_str(), error = %crate::chain(&e), "refitting a cohort failed; the timer retries");
                }
            }
        }
        // The same growth makes accounts' silence weights stale.
        if let Err(e) = self.refresh_silence_weights().await {
            tracing::warn!(error = %crate::chain(&e), "refreshing silence weights failed; the timer retries");
        }
    }

    /// Refits the cohort priors and folds the hours that left the slow window into baselines.
    pub async fn refresh_statistics(&self) -> Result<Refresh, EngineError> {
        let now = self.parts.clock.now();
        let policy = &self.parts.policy.screen;
        let hour = hour_of(now);
        let mut refresh = Refresh::default();
        let previous = self.parts.store.cohorts().await?;
        for family in Family::ALL {
            let kept = previous.iter().find(|(f, _)| *f == family).map(|(_, c)| c);
            if let Some(record) = self.refit_cohort(family, kept).await? {
                refresh.refitted.push((family, record));
            }
        }
        refresh.silence_weights = self.refresh_silence_weights().await?;
        let last_complete = hour - policy.slow_window_hours;
        let start = match self.parts.store.folded_through().await? {
            Some(done) => done + 1,
            None => last_complete - MAX_CATCH_UP_HOURS,
        };
        for h in start.max(last_complete - MAX_CATCH_UP_HOURS)..=last_complete {
            if self.parts.store.fold_baselines(h, policy).await? {
                refresh.hours_folded += 1;
            }
        }
        refresh.evidence_pruned = self.prune_evidence().await?;
        tracing::debug!(
            refitted = refresh.refitted.len(),
            hours_folded = refresh.hours_folded,
            evidence_pruned = refresh.evidence_pruned,
            "statistics refreshed"
        );
        Ok(refresh)
    }
}

/// Tasks ingested per family since its cohort was last estimated, and how many that estimate
/// rests on: this node's count (each node refits on what it ingested; refits of the same data
/// agree).
#[derive(Debug, Default)]
pub(crate) struct CohortGrowth(Mutex<HashMap<Family, (u64, u64)>>);

impl CohortGrowth {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Family, (u64, u64)>> {
        // The map holds counts only: one a panicking thread left is still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds ingested tasks; the families now due a refit, each claimed (its count restarts).
    fn add(
        &self,
        counts: HashMap<Family, u64>,
        policy: &verdict_domain::screen::ScreenPolicy,
    ) -> Vec<Family> {
        let mut growth = self.lock();
        let mut due = Vec::new();
        for (family, n) in counts {
            let (since, rested_on) = growth.entry(family).or_default();
            *since += n;
            if refit_due(*since, *rested_on, policy) {
                *since = 0;
                due.push(family);
            }
        }
        due.sort_unstable();
        due
    }

    fn rested_on(&self, family: Family, tasks: u64) {
        let mut growth = self.lock();
        let entry = growth.entry(family).or_default();
        *entry = (0, tasks);
    }
}
