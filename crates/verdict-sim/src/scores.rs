//! Do abusive reports move providers' scores? The simulation keeps, per provider and token
//! type, the reports of honest accounts and of everyone, by hour, and at the end compares
//! verdict's published score (trust-weighted) with the score the honest reports alone give and
//! with a naive score that counts every report alike — all three with the same model and
//! half-life (research/domain.md §4.2). Token types only: image and audio scores also rest on
//! second solves, which no client can fake.

use std::collections::BTreeMap;

use serde::Serialize;
use verdict_domain::scoring::{Observed, aged_sum, score, type_prior};
use verdict_domain::scoring::{PUBLISHED_HALF_LIFE, Weighed};
use verdict_domain::{ReportKind, Timestamp};

use crate::world::HOUR_MS;

/// A provider's published score at one type, as verdict shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownScore {
    pub provider: String,
    pub captcha_type: String,
    pub mean: f64,
}

/// Evidence per hour, from honest accounts and from all.
#[derive(Debug, Default)]
pub struct ScoreCheck {
    /// (provider, type) → hour → [honest good, honest bad, all good, all bad]
    hours: BTreeMap<(String, String), BTreeMap<i64, [f64; 4]>>,
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

    pub fn finish(&self, shown: &[ShownScore], now: i64) -> ScoreFigures {
        let now = Timestamp::from_millis(now);
        let observed = |sums: &BTreeMap<i64, [f64; 4]>, offset: usize| -> Vec<Observed> {
            sums.iter()
                .map(|(hour, s)| Observed {
                    at: Timestamp::from_millis(hour * HOUR_MS),
                    good: s[offset],
                    bad: s[offset + 1],
                    reports: (s[offset] + s[offset + 1]) as u64,
                })
                .collect()
        };
        // The type's prior from the pooled evidence, as verdict does.
        let mut pooled: BTreeMap<(&str, usize), Weighed> = BTreeMap::new();
        for ((_, t), sums) in &self.hours {
            for offset in [0, 2] {
                let sum = aged_sum(&observed(sums, offset), now, PUBLISHED_HALF_LIFE);
                let p = pooled.entry((t.as_str(), offset)).or_default();
                p.good += sum.good;
                p.bad += sum.bad;
            }
        }
        let mean = |sums: &BTreeMap<i64, [f64; 4]>, t: &str, offset: usize| {
            let prior = type_prior(pooled.get(&(t, offset)).copied().unwrap_or_default());
            score(prior, &observed(sums, offset), now, PUBLISHED_HALF_LIFE)
                .reliability
                .mean
        };
        let mut providers = Vec::new();
        for ((provider, t), sums) in &self.hours {
            let Some(verdict) = shown
                .iter()
                .find(|s| &s.provider == provider && &s.captcha_type == t)
            else {
                continue;
            };
            providers.push(ProviderScoreFigures {
                provider: provider.clone(),
                captcha_type: t.clone(),
                honest_only: round4(mean(sums, t, 0)),
                verdict: round4(verdict.mean),
                naive: round4(mean(sums, t, 2)),
            });
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
    pub providers: Vec<ProviderScoreFigures>,
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
