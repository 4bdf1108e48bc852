//! Do abusive reports move providers' scores? The simulation keeps, per provider and token
//! type, the tasks and reports of honest accounts and of everyone, by hour, and at the end
//! compares verdict's published score (trust-weighted, with silence) with the score the honest
//! accounts alone give (their reports, and their unreported tasks as silent successes) and with
//! a naive score that counts every report and every silence alike — all three with the same
//! model and half-life (research/domain.md §4.2, docs/scoring.md). Token types only: image and audio scores also rest on
//! second solves, which no client can fake.

use std::collections::BTreeMap;

use serde::Serialize;
use verdict_domain::scoring::{Observed, aged_sum, score, type_prior};
use verdict_domain::scoring::{PUBLISHED_HALF_LIFE, ReportingBounds, Weighed};
use verdict_domain::{ReportKind, Timestamp};

use crate::world::HOUR_MS;

/// A provider's published score at one type, as verdict shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownScore {
    pub provider: String,
    pub captcha_type: String,
    pub mean: f64,
    /// Its 90 % credible interval.
    pub lower: f64,
    pub upper: f64,
}

/// Evidence per hour, from honest accounts and from all.
#[derive(Debug, Default)]
pub struct ScoreCheck {
    /// (provider, type) → hour → [honest good, honest bad, all good, all bad]: reports.
    hours: BTreeMap<(String, String), BTreeMap<i64, [f64; 4]>>,
    /// (provider, type) → hour → [honest, all]: tasks, each silent unless reported.
    tasks: BTreeMap<(String, String), BTreeMap<i64, [f64; 2]>>,
}

impl ScoreCheck {
    /// A first report verdict recorded on a token task.
    pub fn add(
        &mut self,
        provider: &str,
        captcha_type: &str,
        at: i64,
        kind: ReportKind,
        honest: bool,
    ) {
        let hour = at.div_euclid(HOUR_MS);
        let sums = self
            .hours
            .entry((provider.to_owned(), captcha_type.to_owned()))
            .or_default()
            .entry(hour)
            .or_default();
        let slot = usize::from(kind == ReportKind::Incorrect);
        if honest {
            sums[slot] += 1.0;
        }
        sums[2 + slot] += 1.0;
    }

    /// A token task ingested.
    pub fn task(&mut self, provider: &str, captcha_type: &str, at: i64, honest: bool) {
        let hour = at.div_euclid(HOUR_MS);
        let counts = self
            .tasks
            .entry((provider.to_owned(), captcha_type.to_owned()))
            .or_default()
            .entry(hour)
            .or_default();
        if honest {
            counts[0] += 1.0;
        }
        counts[1] += 1.0;
    }

    /// `truth` is a provider's true accuracy at a type.
    pub fn finish(
        &self,
        shown: &[ShownScore],
        now: i64,
        truth: impl Fn(&str, &str) -> Option<f64>,
    ) -> ScoreFigures {
        let now = Timestamp::from_millis(now);
        let no_tasks = BTreeMap::new();
        // Reports as they are, and every task nobody reported as a silent success (token
        // reports come within a minute: an hour bucket's silence is whole).
        let observed = |key: &(String, String), offset: usize| -> Vec<Observed> {
            let sums = &self.hours[key];
            let tasks = self.tasks.get(key).unwrap_or(&no_tasks);
            let mut hours: Vec<i64> = sums.keys().chain(tasks.keys()).copied().collect();
            hours.sort_unstable();
            hours.dedup();
            hours
                .into_iter()
                .map(|hour| {
                    let s = sums.get(&hour).copied().unwrap_or_default();
                    let n = tasks.get(&hour).map_or(0.0, |c| c[offset / 2]);
                    let reported = s[offset] + s[offset + 1];
                    Observed {
                        at: Timestamp::from_millis(hour * HOUR_MS),
                        good: s[offset] + (n - reported),
                        bad: s[offset + 1],
                        reports: reported as u64,
                        silent: n - reported,
                    }
                })
                .collect()
        };
        // The type's prior from the pooled evidence, as verdict does.
        let mut pooled: BTreeMap<(&str, usize), Weighed> = BTreeMap::new();
        for key in self.hours.keys() {
            for offset in [0, 2] {
                let sum = aged_sum(&observed(key, offset), now, PUBLISHED_HALF_LIFE);
                let p = pooled.entry((key.1.as_str(), offset)).or_default();
                p.good += sum.good;
                p.bad += sum.bad;
            }
        }
        let mean = |key: &(String, String), offset: usize| {
            let prior = type_prior(
                pooled
                    .get(&(key.1.as_str(), offset))
                    .copied()
                    .unwrap_or_default(),
            );
            let exact = ReportingBounds::EXACT;
            score(
                prior,
                &observed(key, offset),
                now,
                PUBLISHED_HALF_LIFE,
                &exact,
            )
            .reliability
            .mean
        };
        let mut providers = Vec::new();
        for key in self.hours.keys() {
            let (provider, t) = key;
            let Some(verdict) = shown
                .iter()
                .find(|s| &s.provider == provider && &s.captcha_type == t)
            else {
                continue;
            };
            providers.push(ProviderScoreFigures {
                provider: provider.clone(),
                captcha_type: t.clone(),
                honest_only: round4(mean(key, 0)),
                verdict: round4(verdict.mean),
                naive: round4(mean(key, 2)),
            });
        }
        // Against the truth: pairs of providers of a type in their true order, and intervals
        // that hold the true accuracy.
        let mut ordered = (0, 0);
        let mut out_of_order = Vec::new();
        let mut covered = (0, 0);
        let mut missed = Vec::new();
        for a in shown {
            let Some(ta) = truth(&a.provider, &a.captcha_type) else {
                continue;
            };
            covered.1 += 1;
            if a.lower <= ta && ta <= a.upper {
                covered.0 += 1;
            } else {
                missed.push(format!(
                    "{}: {} true {ta}, shown {:.4} [{:.4}, {:.4}]",
                    a.captcha_type, a.provider, a.mean, a.lower, a.upper
                ));
            }
            for b in shown.iter().filter(|b| b.captcha_type == a.captcha_type) {
                match truth(&b.provider, &b.captcha_type) {
                    Some(tb) if ta > tb => {
                        ordered.1 += 1;
                        if a.mean > b.mean {
                            ordered.0 += 1;
                        } else {
                            out_of_order.push(format!(
                                "{}: {} (true {ta}) shown {:.4}, {} (true {tb}) {:.4}",
                                a.captcha_type, a.provider, a.mean, b.provider, b.mean
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        let n = providers.len().max(1) as f64;
        let mae =
            |f: fn(&ProviderScoreFigures) -> f64| round4(providers.iter().map(f).sum::<f64>() / n);
        ScoreFigures {
            verdict_error: mae(|p| (p.verdict - p.honest_only).abs()),
            verdict_error_max: round4(
                providers
                    .iter()
                    .map(|p| (p.verdict - p.honest_only).abs())
                    .fold(0.0, f64::max),
            ),
            naive_error: mae(|p| (p.naive - p.honest_only).abs()),
            pairs_in_true_order_pct: pct(ordered),
            pairs_out_of_order: out_of_order,
            intervals_holding_truth_pct: pct(covered),
            intervals_missing_truth: missed,
            providers,
        }
    }
}

/// verdict's published scores against what honest reports alone say.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreFigures {
    /// Mean |verdict − honest only| over the (provider, token type) pairs.
    pub verdict_error: f64,
    pub verdict_error_max: f64,
    /// Mean |counting every report alike − honest only|: how far abuse moves an unweighted score.
    pub naive_error: f64,
    /// Of the pairs of providers of one type with different true accuracies, those verdict's
    /// means put in the true order, %.
    pub pairs_in_true_order_pct: f64,
    /// The pairs shown in the wrong order, for a person to read.
    pub pairs_out_of_order: Vec<String>,
    /// verdict's intervals that hold the provider's true accuracy, %: the 90 % credible
    /// interval widened by what complaints and silence cannot tell apart (the simulation's
    /// clients report most, not all, of their failures and some of their sites' rejections of
    /// good tokens; docs/scoring.md).
    pub intervals_holding_truth_pct: f64,
    /// The intervals that miss it, for a person to read.
    pub intervals_missing_truth: Vec<String>,
    pub providers: Vec<ProviderScoreFigures>,
}

fn pct((part, whole): (usize, usize)) -> f64 {
    if whole == 0 {
        return 100.0;
    }
    round4(100.0 * part as f64 / whole as f64)
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderScoreFigures {
    pub provider: String,
    pub captcha_type: String,
    pub honest_only: f64,
    pub verdict: f64,
    pub naive: f64,
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}
