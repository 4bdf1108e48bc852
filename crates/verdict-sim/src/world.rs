//! The simulated platform: accounts with their true behaviour (research/domain.md §6.1–6.2),
//! providers with their true accuracy, and what a client does with each solution it gets.
//! Only the simulation knows these truths; verdict sees tasks and reports, as in production.

use rand::RngExt;
use rand_distr::{Beta, Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;
use verdict_domain::CaptchaType;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The captcha types of the world, with their share of all tasks and price in micro-units.
pub const TYPES: [(CaptchaType, f64, i64); 4] = [
    (CaptchaType::Image, 0.30, 1_000),
    (CaptchaType::Audio, 0.05, 2_000),
    (CaptchaType::RecaptchaV2, 0.45, 2_000),
    (CaptchaType::Hcaptcha, 0.20, 3_000),
];

/// How an abusive account abuses (domain.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Every task reported incorrect.
    AlwaysReport,
    /// Honest reports plus this share of the good solutions.
    ReportPercent(f64),
    /// Like `ReportPercent`, the share growing from 0 to 40 % over 14 days.
    SlowRamp,
    /// Many accounts at 8 %, each unremarkable.
    Ring,
    /// Fresh accounts of ~150 tasks each, every one reported, then abandoned.
    Sybil,
    /// Reports every task one provider solved, to push it out of the routing.
    TargetedSabotage { provider: usize },
    /// 20 % false reports sent just inside the window, with duplicates, conflicting second
    /// reports and probes of ids it does not own.
    WindowGaming,
    /// Image and audio: 20 % of good answers reported with a plausible wrong correction.
    CorrectionPoisoning,
}

impl Strategy {
    pub fn name(&self) -> String {
        match self {
            Strategy::AlwaysReport => "always-report".into(),
            Strategy::ReportPercent(x) => format!("report-{:.0}%", x * 100.0),
            Strategy::SlowRamp => "slow-ramp".into(),
            Strategy::Ring => "ring-8%".into(),
            Strategy::Sybil => "sybil".into(),
            Strategy::TargetedSabotage { .. } => "targeted-sabotage".into(),
            Strategy::WindowGaming => "window-gaming".into(),
            Strategy::CorrectionPoisoning => "correction-poisoning".into(),
        }
    }

    /// Every strategy of the standard simulation except sybils, which are created per day.
    pub fn standard() -> Vec<Strategy> {
        vec![
            Strategy::AlwaysReport,
            Strategy::ReportPercent(0.05),
            Strategy::ReportPercent(0.10),
            Strategy::ReportPercent(0.20),
            Strategy::ReportPercent(0.40),
            Strategy::SlowRamp,
            Strategy::Ring,
            Strategy::TargetedSabotage { provider: 0 },
            Strategy::WindowGaming,
            Strategy::CorrectionPoisoning,
        ]
    }
}

/// One account and the truth about it.
#[derive(Debug, Clone)]
pub struct SimAccount {
    pub id: i64,
    pub key: String,
    pub strategy: Option<Strategy>,
    pub trusted: bool,
    /// Types it uses and their weights (summing to 1).
    pub types: Vec<(CaptchaType, f64)>,
    pub per_day: f64,
    /// Share of real rejections it reports.
    pub report_propensity: f64,
    /// Share of correct token solutions its target site rejects anyway.
    pub site_failure: f64,
    /// Sends positive feedback on accepted solutions.
    pub confirms: bool,
    /// One period at 100 % site failure (its own integration broke).
    pub outage: Option<(i64, i64)>,
    /// When abuse starts (abusers) — before it, the account behaves honestly.
    pub abuse_from: i64,
    /// Active period (sybils), else the whole run.
    pub active: (i64, i64),
    /// Tasks it will ever get (sybils).
    pub budget: Option<u64>,
    pub tasks_done: u64,
}

impl SimAccount {
    pub fn is_abusive(&self) -> bool {
        self.strategy.is_some()
    }

    pub fn abusing_at(&self, t: i64) -> Option<Strategy> {
        self.strategy.filter(|_| t >= self.abuse_from)
    }

    pub fn in_outage(&self, t: i64) -> bool {
        self.outage.is_some_and(|(a, b)| (a..b).contains(&t))
    }
}

/// Draws accounts' traits.
#[derive(Debug)]
pub struct Traits {
    volume: LogNormal<f64>,
    propensity: Beta<f64>,
    site: Beta<f64>,
    volume_cap: f64,
}

impl Traits {
    pub fn new(volume_cap: f64) -> Self {
        Self {
            // Median 400 a day; sigma 1.65 puts 20 % of accounts below 100 a day (§6.1).
            volume: LogNormal::new(400f64.ln(), 1.65).expect("valid"),
            propensity: Beta::new(8.0, 2.0).expect("valid"),
            site: Beta::new(1.5, 30.0).expect("valid"),
            volume_cap,
        }
    }

    pub fn per_day(&self, rng: &mut Pcg64Mcg, at_least: f64) -> f64 {
        self.volume
            .sample(rng)
            .clamp(at_least.max(5.0), self.volume_cap)
    }

    pub fn propensity(&self, rng: &mut Pcg64Mcg) -> f64 {
        self.propensity.sample(rng)
    }

    pub fn site_failure(&self, rng: &mut Pcg64Mcg) -> f64 {
        self.site.sample(rng)
    }

    /// One to three types, each kept with its world share as its weight.
    pub fn types(&self, rng: &mut Pcg64Mcg) -> Vec<(CaptchaType, f64)> {
        let count = rng.random_range(1..=3usize);
        let mut chosen: Vec<(CaptchaType, f64)> = Vec::new();
        while chosen.len() < count {
            let r: f64 = rng.random();
            let mut acc = 0.0;
            for (t, share, _) in TYPES {
                acc += share;
                if r < acc {
                    if !chosen.iter().any(|(c, _)| *c == t) {
                        chosen.push((t, share));
                    }
                    break;
                }
            }
        }
        let total: f64 = chosen.iter().map(|(_, w)| w).sum();
        chosen.into_iter().map(|(t, w)| (t, w / total)).collect()
    }
}

/// Of a type's tasks, the share its best provider solves, its second best, and so on: a
/// platform sends most of its work where it works best, so the best provider has the most
/// tasks behind its score and also draws the most reports (the world that ranked providers
/// by complaints got it backwards).
pub const SHARE_BY_RANK: [f64; 5] = [0.40, 0.25, 0.15, 0.12, 0.08];

/// Providers and their true accuracy per captcha type (fixed for the judging simulation).
#[derive(Debug, Clone)]
pub struct Providers {
    pub names: Vec<String>,
    /// accuracy[provider][type index in TYPES]
    pub accuracy: Vec<[f64; 4]>,
    /// share[provider][type index]: of the type's tasks, the share this provider solves.
    pub share: Vec<[f64; 4]>,
}

impl Providers {
    pub fn standard() -> Self {
        let accuracy: Vec<[f64; 4]> = vec![
            [0.95, 0.92, 0.93, 0.90],
            [0.92, 0.90, 0.92, 0.88],
            [0.90, 0.88, 0.90, 0.86],
            [0.94, 0.91, 0.88, 0.89],
            [0.96, 0.93, 0.91, 0.91],
        ];
        let mut share = vec![[0.0; 4]; accuracy.len()];
        for ty in 0..TYPES.len() {
            let mut ranked: Vec<usize> = (0..accuracy.len()).collect();
            ranked.sort_by(|&a, &b| accuracy[b][ty].total_cmp(&accuracy[a][ty]));
            for (rank, p) in ranked.into_iter().enumerate() {
                share[p][ty] = SHARE_BY_RANK[rank];
            }
        }
        Self {
            names: (0..5).map(|i| format!("provider-{i}")).collect(),
            accuracy,
            share,
        }
    }

    /// The provider of a task of type `ty`, drawn by the providers' shares.
    pub fn draw(&self, ty: usize, rng: &mut Pcg64Mcg) -> usize {
        let r: f64 = rng.random();
        let mut acc = 0.0;
        for (p, share) in self.share.iter().enumerate() {
            acc += share[ty];
            if r < acc {
                return p;
            }
        }
        self.share.len() - 1
    }
}

pub fn type_index(t: CaptchaType) -> usize {
    TYPES.iter().position(|(c, _, _)| *c == t).unwrap_or(0)
}

/// What the client learns about a solution, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// The solution was wrong: a report is genuine.
    Wrong,
    /// The solution was right but the client's site rejected it anyway.
    SiteRejected,
    /// The solution was right and worked: a report is false.
    Worked,
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn each_types_best_provider_serves_the_most_tasks_and_the_worst_the_fewest() {
        let providers = Providers::standard();
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        for ty in 0..TYPES.len() {
            let total: f64 = providers.share.iter().map(|s| s[ty]).sum();
            assert!((total - 1.0).abs() < 1e-12, "type {ty}: {total}");
            let mut drawn = [0u32; 5];
            for _ in 0..20_000 {
                drawn[providers.draw(ty, &mut rng)] += 1;
            }
            let by = |key: fn(f64, f64) -> bool| {
                (0..5)
                    .reduce(|a, b| {
                        let (x, y) = (providers.accuracy[a][ty], providers.accuracy[b][ty]);
                        if key(x, y) { a } else { b }
                    })
                    .unwrap()
            };
            let (best, worst) = (by(|x, y| x >= y), by(|x, y| x <= y));
            assert_eq!(
                drawn.iter().max(),
                Some(&drawn[best]),
                "type {ty}: {drawn:?}"
            );
            assert_eq!(
                drawn.iter().min(),
                Some(&drawn[worst]),
                "type {ty}: {drawn:?}"
            );
            // About 40 % of the draws go to the best.
            assert!(
                (7_600..8_400).contains(&drawn[best]),
                "type {ty}: {drawn:?}"
            );
        }
    }
}
