//! The trusted cohort a family is judged against: its beta prior of report rates, fitted from
//! trusted accounts, and the one fallback to the default prior before any is fitted.

use super::ScreenPolicy;
use crate::stats::beta_quantile;
use crate::timestamp::Timestamp;

/// The trusted cohort's report rates in one family: `Beta(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortPrior {
    pub a: f64,
    pub b: f64,
    /// The rate exceeded by ~1 % of trusted accounts: the refund cap.
    pub cap_rate: f64,
    /// Trusted accounts the prior was fitted on (0: the default prior).
    pub accounts: u32,
}

impl CohortPrior {
    /// Used until at least `min_cohort` trusted accounts have the minimum volume: mean 10 %.
    pub const DEFAULT_A: f64 = 2.0;
    pub const DEFAULT_B: f64 = 18.0;

    pub fn new(a: f64, b: f64, cap_quantile: f64, accounts: u32) -> Self {
        Self {
            a,
            b,
            cap_rate: beta_quantile(cap_quantile, a, b),
            accounts,
        }
    }

    pub fn default_for(policy: &ScreenPolicy) -> Self {
        Self::new(Self::DEFAULT_A, Self::DEFAULT_B, policy.cap_quantile, 0)
    }

    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }
}

/// The trusted cohort's prior in one family, as last fitted, with its pooled report rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortRecord {
    pub prior: CohortPrior,
    /// The cohort's pooled report rate over the slow window: what baselines are measured
    /// against.
    pub rate: f64,
    pub fitted_at: Timestamp,
}

/// A family's cohort as judging and baselines use it: what was stored, or, before any cohort
/// was measured, the default prior and its mean. The one place that fallback is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cohort {
    pub prior: CohortPrior,
    pub rate: f64,
}

impl Cohort {
    pub fn of(stored: Option<&CohortRecord>, policy: &ScreenPolicy) -> Self {
        match stored {
            Some(c) => Self {
                prior: c.prior,
                rate: c.rate,
            },
            None => {
                let prior = CohortPrior::default_for(policy);
                Self {
                    prior,
                    rate: prior.mean(),
                }
            }
        }
    }

    /// Whether the prior was fitted on trusted accounts (not the default).
    pub fn fitted(&self) -> bool {
        self.prior.accounts > 0
    }

    /// The rate an hour's baseline step is measured against: the cohort's own rate that hour
    /// when it had tasks then, otherwise its pooled rate.
    pub fn rate_in_hour(&self, hour: Option<(u64, u64)>) -> f64 {
        match hour {
            Some((tasks, incorrect)) if tasks > 0 => incorrect as f64 / tasks as f64,
            _ => self.rate,
        }
    }

    /// What a refresh stores: a new fit, else the prior kept from before, else the default,
    /// with the pooled rate measured now.
    pub fn refreshed(
        fitted: Option<CohortPrior>,
        kept: Option<&CohortRecord>,
        rate: f64,
        now: Timestamp,
        policy: &ScreenPolicy,
    ) -> CohortRecord {
        CohortRecord {
            prior: fitted
                .or(kept.map(|c| c.prior))
                .unwrap_or_else(|| CohortPrior::default_for(policy)),
            rate,
            fitted_at: match (fitted, kept) {
                (None, Some(kept)) => kept.fitted_at,
                _ => now,
            },
        }
    }
}

/// Fits the cohort prior from trusted accounts' `(tasks, incorrect)` over the slow window, by
/// winsorised method of moments with the binomial noise removed (domain.md §3.3). `None` when
/// fewer than `policy.min_cohort` accounts have the minimum volume: keep the last prior.
pub fn fit_prior(samples: &[(u64, u64)], policy: &ScreenPolicy) -> Option<CohortPrior> {
    let usable: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(n, _)| *n >= policy.min_volume)
        .map(|&(n, x)| (n as f64, (x.min(n)) as f64 / n as f64))
        .collect();
    if usable.len() < policy.min_cohort {
        return None;
    }
    let mut rates: Vec<f64> = usable.iter().map(|(_, r)| *r).collect();
    rates.sort_by(f64::total_cmp);
    let at = |q: f64| rates[((rates.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.05), at(0.95));
    let k = usable.len() as f64;
    let winsorised: Vec<f64> = usable.iter().map(|(_, r)| r.clamp(lo, hi)).collect();
    let mu = (winsorised.iter().sum::<f64>() / k).clamp(1e-4, 1.0 - 1e-4);
    let s2 = winsorised.iter().map(|r| (r - mu).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
    let noise = usable.iter().map(|(n, _)| mu * (1.0 - mu) / n).sum::<f64>() / k;
    let tau2 = (s2 - noise).max(1e-6);
    let kappa = (mu * (1.0 - mu) / tau2 - 1.0).clamp(5.0, 5000.0);
    Some(CohortPrior::new(
        mu * kappa,
        (1.0 - mu) * kappa,
        policy.cap_quantile,
        u32::try_from(usable.len()).unwrap_or(u32::MAX),
    ))
}
