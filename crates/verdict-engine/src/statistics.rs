//! Keeping the screen's reference points current: once an hour, the trusted cohort's prior per
//! family is refitted on the last slow window, and the hour that just left that window is
//! folded into every active account's baseline; evidence about solvers past its retention goes. Several nodes may run this; the fold happens
//! once per hour, and refits of the same data agree.

use verdict_domain::Family;
use verdict_domain::screen::{Cohort, CohortRecord, fit_prior};
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
        let stored = self.store.cohorts().await?;
        Ok(Family::ALL
            .into_iter()
            .map(|family| {
                let stored = stored.iter().find(|(f, _)| *f == family).map(|(_, c)| *c);
                FamilyCohort {
                    family,
                    cohort: Cohort::of(stored.as_ref(), &self.policy.screen),
                    stored,
                }
            })
            .collect())
    }

    /// Refits the cohort priors and folds the hours that left the slow window into baselines.
    pub async fn refresh_statistics(&self) -> Result<Refresh, EngineError> {
        let now = self.clock.now();
        let policy = &self.policy.screen;
        let hour = hour_of(now);
        let mut refresh = Refresh::default();
        let previous = self.store.cohorts().await?;
        for family in Family::ALL {
            let samples = self
                .store
                .cohort_samples(family, hour - policy.slow_window_hours + 1)
                .await?;
            // The pooled rate is the reference baselines are measured against, hour by hour
            // (`fold_baselines` pools the same accounts): kept current whether or not there
            // are enough accounts to fit a prior.
            let (reports, tasks) = samples
                .iter()
                .fold((0u64, 0u64), |(x, n), (ni, xi)| (x + xi.min(ni), n + ni));
            if tasks == 0 {
                continue;
            }
            let fitted = fit_prior(&samples, policy);
            let kept = previous.iter().find(|(f, _)| *f == family).map(|(_, c)| c);
            let record =
                Cohort::refreshed(fitted, kept, reports as f64 / tasks as f64, now, policy);
            self.store.save_cohort(family, record).await?;
            if fitted.is_some() {
                refresh.refitted.push((family, record));
            }
        }
        let last_complete = hour - policy.slow_window_hours;
        let start = match self.store.folded_through().await? {
            Some(done) => done + 1,
            None => last_complete - MAX_CATCH_UP_HOURS,
        };
        for h in start.max(last_complete - MAX_CATCH_UP_HOURS)..=last_complete {
            if self.store.fold_baselines(h, policy).await? {
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
