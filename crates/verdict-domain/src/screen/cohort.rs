//! The trusted cohort a family is judged against: its beta prior of report rates, fitted from
//! trusted accounts, and the one fallback to the default prior before any is fitted.

use super::ScreenPolicy;
use crate::stats::beta_quantile;
use crate::timestamp::Timestamp;

/// What a cohort prior rests on, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CohortBasis {
    /// Fitted on enough trusted accounts to measure how much honest accounts differ.
    Fitted,
    /// Too few trusted accounts for that: their pooled rate, with the configured spread.
    PooledTrusted,
    /// No trusted data: the median rate of accounts in good standing, with the same spread.
    PooledGoodStanding,
    /// No data at all yet.
    Default,
}

impl CohortBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            CohortBasis::Fitted => "fitted",
            CohortBasis::PooledTrusted => "pooled_trusted",
            CohortBasis::PooledGoodStanding => "pooled_good_standing",
            CohortBasis::Default => "default",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            CohortBasis::Fitted,
            CohortBasis::PooledTrusted,
            CohortBasis::PooledGoodStanding,
            CohortBasis::Default,
        ]
        .into_iter()
        .find(|b| b.as_str() == text)
    }
}

/// The trusted cohort's report rates in one family: `Beta(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CohortPrior {
    pub a: f64,
    pub b: f64,
    /// The rate exceeded by ~1 % of trusted accounts: the refund cap.
    pub cap_rate: f64,
    /// Accounts the prior rests on (0: the default prior).
    pub accounts: u32,
    pub basis: CohortBasis,
}

impl CohortPrior {
    /// Used until at least `min_cohort` trusted accounts have the minimum volume: mean 10 %.
    pub const DEFAULT_A: f64 = 2.0;
    pub const DEFAULT_B: f64 = 18.0;

    /// A prior fitted on `accounts` trusted accounts (the default prior when there are none).
    pub fn new(a: f64, b: f64, cap_quantile: f64, accounts: u32) -> Self {
        Self {
            a,
            b,
            cap_rate: beta_quantile(cap_quantile, a, b),
            accounts,
            basis: if accounts > 0 {
                CohortBasis::Fitted
            } else {
                CohortBasis::Default
            },
        }
    }

    /// A pooled rate `mean` over `accounts` accounts, spread as `policy.pooled_concentration`
    /// says honest accounts differ.
    pub fn pooled(mean: f64, accounts: u32, basis: CohortBasis, policy: &ScreenPolicy) -> Self {
        let mean = mean.clamp(1e-3, 1.0 - 1e-3);
        let kappa = policy.pooled_concentration;
        Self {
            basis,
            ..Self::new(
                mean * kappa,
                (1.0 - mean) * kappa,
                policy.cap_quantile,
                accounts,
            )
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

    /// Whether the prior rests on data (not the default).
    pub fn fitted(&self) -> bool {
        self.prior.basis != CohortBasis::Default
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

/// The cohort prior from what there is, best first (each `(tasks, incorrect)` over the slow
/// window): fitted on trusted accounts ([`fit_prior`]); with too few of them to measure their
/// spread, their pooled rate; with too little trusted data, the median rate of the accounts in
/// good standing that report at all (`standing`, read only when [`needs_standing`]: robust to
/// abusers while they are fewer than half of the reporting accounts); `None` when even that is too little (keep the
/// last prior, or the default).
pub fn estimate_prior(
    trusted: &[(u64, u64)],
    standing: &[(u64, u64)],
    policy: &ScreenPolicy,
) -> Option<CohortPrior> {
    if let Some(fitted) = fit_prior(trusted, policy) {
        return Some(fitted);
    }
    let (tasks, incorrect) = pooled(trusted);
    if tasks >= policy.pooled_min_tasks {
        let accounts = trusted.iter().filter(|(n, _)| *n > 0).count();
        return Some(CohortPrior::pooled(
            incorrect as f64 / tasks as f64,
            u32::try_from(accounts).unwrap_or(u32::MAX),
            CohortBasis::PooledTrusted,
            policy,
        ));
    }
    // Accounts that never report say nothing of how often a reporting client reports (most
    // clients of a real platform never do, and would put the median at zero).
    let mut rates: Vec<f64> = standing
        .iter()
        .filter(|(n, x)| *n >= policy.fast_min_tasks && *x > 0)
        .map(|&(n, x)| x.min(n) as f64 / n as f64)
        .collect();
    let (tasks, _) = pooled(standing);
    if rates.len() < policy.pooled_min_accounts || tasks < policy.pooled_min_tasks {
        return None;
    }
    rates.sort_by(f64::total_cmp);
    let mid = rates.len() / 2;
    let median = if rates.len() % 2 == 1 {
        rates[mid]
    } else {
        (rates[mid - 1] + rates[mid]) / 2.0
    };
    Some(CohortPrior::pooled(
        median,
        u32::try_from(rates.len()).unwrap_or(u32::MAX),
        CohortBasis::PooledGoodStanding,
        policy,
    ))
}

/// Whether the trusted samples are too few for a prior of their own, so that accounts in
/// good standing are asked.
pub fn needs_standing(trusted: &[(u64, u64)], policy: &ScreenPolicy) -> bool {
    pooled(trusted).0 < policy.pooled_min_tasks
}

/// Total `(tasks, incorrect)` of the samples.
pub fn pooled(samples: &[(u64, u64)]) -> (u64, u64) {
    samples
        .iter()
        .fold((0, 0), |(n, x), (ni, xi)| (n + ni, x + xi.min(ni)))
}

/// Whether a family's cohort is due a refit before the next timed refresh: once the tasks
/// ingested since the last one reach `refit_growth` of the tasks that prior rests on (and at
/// least `pooled_min_tasks`), so that a young cohort follows its data as it grows.
pub fn refit_due(ingested_since: u64, rested_on: u64, policy: &ScreenPolicy) -> bool {
    let growth = (rested_on as f64 * policy.refit_growth).ceil() as u64;
    ingested_since >= growth.max(policy.pooled_min_tasks)
}

/// How many standard errors of the binomial noise a fitted spread is widened by.
const NOISE_STANDARD_ERRORS: f64 = 2.0;

/// Fits the cohort prior from trusted accounts' `(tasks, incorrect)` over the slow window, by
/// winsorised method of moments with the binomial noise removed (domain.md §3.3). `None` when
/// fewer than `policy.min_cohort` accounts have the minimum volume.
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
    // Removing the binomial noise is exact only on average: where accounts have few tasks
    // each, the noise is most of the variance and chance can leave a spread far narrower than
    // honest accounts really differ (a day-one cohort of 39 accounts came out at half the
    // true spread and flagged an honest account). So the spread kept is at least what the
    // noise could hide, two of its standard errors; it fades as accounts gather tasks and
    // leaves a mature cohort's fit as measured.
    let hidden = NOISE_STANDARD_ERRORS * noise * (2.0 / (k - 1.0).max(1.0)).sqrt();
    let tau2 = ((s2 - noise).max(0.0) + hidden).max(1e-6);
    let kappa = (mu * (1.0 - mu) / tau2 - 1.0).clamp(5.0, 5000.0);
    Some(CohortPrior::new(
        mu * kappa,
        (1.0 - mu) * kappa,
        policy.cap_quantile,
        u32::try_from(usable.len()).unwrap_or(u32::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ScreenPolicy {
        ScreenPolicy::default()
    }

    #[test]
    fn enough_trusted_accounts_are_fitted_with_their_measured_spread() {
        let trusted: Vec<(u64, u64)> = (0..40).map(|i| (1_000, 80 + i)).collect();
        let prior = estimate_prior(&trusted, &[], &policy()).unwrap();
        assert_eq!(prior.basis, CohortBasis::Fitted);
        assert_eq!(prior.accounts, 40);
        assert!(prior.a + prior.b > policy().pooled_concentration);
    }

    #[test]
    fn a_young_cohorts_spread_is_at_least_what_the_binomial_noise_could_hide() {
        // 40 trusted accounts of 100 tasks, all at 10 %: the observed spread is no more than
        // noise, which says little about how much honest accounts differ.
        let young = fit_prior(&vec![(100, 10); 40], &policy()).unwrap();
        let young_kappa = young.a + young.b;
        // Two standard errors of the noise (0.09 / 100) over 39 degrees of freedom.
        let hidden = 2.0 * 0.0009 * (2.0f64 / 39.0).sqrt();
        assert!(
            (young_kappa - (0.09 / hidden - 1.0)).abs() < 1e-6,
            "{young_kappa}"
        );
        assert!(young_kappa < 500.0, "{young_kappa}");
        // The same rates over 100,000 tasks each: the noise is negligible, the spread measured.
        let mature = fit_prior(&vec![(100_000, 10_000); 40], &policy()).unwrap();
        assert!(mature.a + mature.b > 10.0 * young_kappa);
        // A spread well above the noise is kept nearly as measured (winsorised, so not exactly).
        let spread: Vec<(u64, u64)> = (0..40).map(|i| (10_000, 600 + 20 * i)).collect();
        let fitted = fit_prior(&spread, &policy()).unwrap();
        let rates: Vec<f64> = spread.iter().map(|&(n, x)| x as f64 / n as f64).collect();
        let mu = rates.iter().sum::<f64>() / 40.0;
        let s2 = rates.iter().map(|r| (r - mu).powi(2)).sum::<f64>() / 39.0;
        let measured = mu * (1.0 - mu) / s2 - 1.0;
        let kappa = fitted.a + fitted.b;
        assert!(
            (kappa / measured - 1.0).abs() < 0.1,
            "{kappa} vs {measured}"
        );
    }

    #[test]
    fn a_few_trusted_accounts_give_their_pooled_rate_with_the_configured_spread() {
        // 12 trusted accounts, 150 tasks each, 10 % reported: too few to fit, enough to pool.
        let trusted = vec![(150, 15); 12];
        let prior = estimate_prior(&trusted, &[(1_000, 900)], &policy()).unwrap();
        assert_eq!(prior.basis, CohortBasis::PooledTrusted);
        assert_eq!(prior.accounts, 12);
        assert!((prior.mean() - 0.1).abs() < 1e-12);
        assert!((prior.a + prior.b - policy().pooled_concentration).abs() < 1e-9);
        // Under it, 60 % of 300 tasks is far beyond the slow lane's 1e-6; under the default
        // Beta(2, 18) it was not (1.7e-6).
        let p = crate::stats::betabinom_upper_tail(180, 300, prior.a, prior.b);
        assert!(p < 1e-9, "{p}");
        let default = CohortPrior::default_for(&policy());
        assert!(crate::stats::betabinom_upper_tail(180, 300, default.a, default.b) > 1e-6);
    }

    #[test]
    fn without_trusted_data_the_median_of_accounts_in_good_standing_resists_abusers() {
        // Seven honest accounts near 10 %, three abusers at 60-100 %.
        let mut standing: Vec<(u64, u64)> = [9, 10, 10, 11, 12, 8, 10]
            .into_iter()
            .map(|x| (100, x))
            .collect();
        standing.extend([(300, 180), (200, 200), (150, 90)]);
        // Clients that never report are left out, however many.
        standing.extend([(500, 0); 20]);
        let prior = estimate_prior(&[(30, 3)], &standing, &policy()).unwrap();
        assert_eq!(prior.basis, CohortBasis::PooledGoodStanding);
        assert_eq!(prior.accounts, 10);
        assert!((prior.mean() - 0.105).abs() < 1e-9, "{}", prior.mean());
        // The pooled rate of the reporting accounts would be 35 %.
        let (n, x) = pooled(&standing[..10]);
        assert!(x as f64 / n as f64 > 0.35);
    }

    #[test]
    fn too_little_data_keeps_whatever_was_there() {
        let p = policy();
        assert_eq!(estimate_prior(&[], &[], &p), None);
        // Two accounts are not a median; 150 tasks are not a rate.
        assert_eq!(estimate_prior(&[], &[(300, 30), (300, 30)], &p), None);
        assert_eq!(estimate_prior(&[], &[(50, 5), (50, 5), (50, 5)], &p), None);
        assert!(needs_standing(&[(199, 20)], &p));
        assert!(!needs_standing(&[(100, 10), (100, 10)], &p));
    }

    #[test]
    fn a_refit_is_due_once_the_data_grew_by_a_quarter_and_the_minimum() {
        let p = policy();
        assert!(!refit_due(199, 0, &p), "a first estimate needs 200 tasks");
        assert!(refit_due(200, 0, &p));
        assert!(!refit_due(2_499, 10_000, &p));
        assert!(refit_due(2_500, 10_000, &p));
    }
}
