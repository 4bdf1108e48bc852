//! The routing policies compared on one task stream: the oracle, two fixed rules, two greedy
//! ones and two Thompson samplers, the last of them verdict's [`RouteTable`] as the service
//! runs it. The learned policies see what the service would: answers and errors as they come
//! back, latencies, feedback after its delay, and the published prices.

use std::time::Duration;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;
use verdict_domain::Timestamp;
use verdict_domain::routing::{Arm, MaturingSilence, RouteLimits, SilenceCredit};
use verdict_domain::routing::{HalfLife, Profile, RouteConfig, RouteTable};
use verdict_domain::scoring::silence::LAG_BUCKETS;
use verdict_domain::scoring::{LagDistribution, lag_bucket};

use super::world::{NAMES, PROVIDERS, Truth};

/// How a policy picks a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Knows every provider's current accuracy, completion, price and latency; the same
    /// objective as verdict (cheapest expected success within the budget), no exploration.
    Oracle,
    /// verdict's [`RouteTable`] with the run's configuration.
    Verdict,
    /// Thompson sampling without forgetting (the same table, an endless half-life).
    StationaryThompson,
    /// The posterior mean instead of a draw, over verdict's discounted beliefs.
    GreedyDiscounted,
    /// The posterior mean over beliefs that never forget: the classic greedy baseline.
    Greedy,
    /// The best provider at the start, for ever.
    Fixed,
    RoundRobin,
}

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::Oracle,
        Rule::Verdict,
        Rule::StationaryThompson,
        Rule::GreedyDiscounted,
        Rule::Greedy,
        Rule::Fixed,
        Rule::RoundRobin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Oracle => "oracle",
            Rule::Verdict => "verdict",
            Rule::StationaryThompson => "thompson-stationary",
            Rule::GreedyDiscounted => "greedy-discounted",
            Rule::Greedy => "greedy",
            Rule::Fixed => "fixed-best-at-start",
            Rule::RoundRobin => "round-robin",
        }
    }

    /// Learns from answers and feedback (needs the events).
    pub fn learns(self) -> bool {
        !matches!(self, Rule::Oracle | Rule::Fixed | Rule::RoundRobin)
    }
}

/// "Never forgets" in a table's terms: a century's half-life.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// Latency measurements age with this half-life (the service's own metric, the same for
/// every learned policy).
const LATENCY_HALF_LIFE_MS: f64 = 5.0 * 60_000.0;

/// What one type's minute looks like to the policies.
#[derive(Debug, Clone, Copy)]
pub struct Minute<'a> {
    pub truths: &'a [Truth; PROVIDERS],
    pub oracle: usize,
    pub limits: RouteLimits,
}

/// Aged mean and variance of log latency, on top of the operator's figures worth
/// `PRIOR_ANSWERS`: the mean and p95 of a log-normal fit. Measurements fade back to the
/// operator's figures as they age, so a provider routed away for being slow is tried again
/// once its slowness is old news; a meter without that would never measure it again.
#[derive(Debug, Clone, Copy)]
struct LatencyMeter {
    prior: (f64, f64),
    weight: f64,
    sum: f64,
    sum_sq: f64,
    at_ms: i64,
}

const PRIOR_ANSWERS: f64 = 10.0;

impl LatencyMeter {
    fn new(operator: Profile) -> Self {
        // A log-normal with this mean and p95: ln p95 − ln mean = 1.645σ − σ²/2.
        let gap = (operator.p95_latency_ms / operator.latency_ms)
            .max(1.0)
            .ln();
        let sigma = 1.645 - (1.645f64.powi(2) - 2.0 * gap).max(0.0).sqrt();
        let mu = operator.latency_ms.ln() - sigma * sigma / 2.0;
        Self {
            prior: (mu, sigma * sigma),
            weight: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            at_ms: 0,
        }
    }

    fn aged(&self, at_ms: i64) -> (f64, f64, f64) {
        let factor = 0.5f64.powf((at_ms - self.at_ms).max(0) as f64 / LATENCY_HALF_LIFE_MS);
        (
            self.weight * factor,
            self.sum * factor,
            self.sum_sq * factor,
        )
    }

    fn record(&mut self, latency_ms: f64, at_ms: i64) {
        let (weight, sum, sum_sq) = self.aged(at_ms);
        let x = latency_ms.max(1.0).ln();
        self.weight = weight + 1.0;
        self.sum = sum + x;
        self.sum_sq = sum_sq + x * x;
        self.at_ms = self.at_ms.max(at_ms);
    }

    /// (mean, p95) at `at_ms`.
    fn estimate(&self, at_ms: i64) -> (f64, f64) {
        let (weight, sum, sum_sq) = self.aged(at_ms);
        let (mu0, var0) = self.prior;
        let total = weight + PRIOR_ANSWERS;
        let mu = (sum + PRIOR_ANSWERS * mu0) / total;
        let second = (sum_sq + PRIOR_ANSWERS * (var0 + mu0 * mu0)) / total;
        let var = (second - mu * mu).max(0.0);
        ((mu + var / 2.0).exp(), (mu + 1.645 * var.sqrt()).exp())
    }
}

/// Without confirmations, what a learned policy does with silence, as verdict's router does
/// (`MaturingSilence`): every answered task is exposure of its provider, at the weight
/// verdict gives its client's silence, credited as good as far as reports would have come by
/// now, by a report-lag distribution learnt from the reports seen; a report takes its task
/// back.
#[derive(Debug, Clone)]
struct Silence {
    maturing: MaturingSilence<usize>,
    lag_counts: [u64; LAG_BUCKETS],
    window: Duration,
}

/// One policy on one captcha type.
#[derive(Debug, Clone)]
pub struct Lane {
    table: Option<RouteTable>,
    meters: [LatencyMeter; PROVIDERS],
    silence: Option<Silence>,
    next: usize,
    fixed: usize,
}

/// A policy across every type, with its own generator.
#[derive(Debug, Clone)]
pub struct Policy {
    pub rule: Rule,
    pub lanes: Vec<Lane>,
    rng: Pcg64Mcg,
}

impl Policy {
    /// `first` is each type's truth at the start: what the operator enters as profiles, and
    /// what the fixed rule is chosen by. `silence_windows` (each type's report window) when
    /// nobody confirms: the policy then learns from reports and silence only.
    pub fn new(
        rule: Rule,
        route: RouteConfig,
        first: &[(&[Truth; PROVIDERS], usize)],
        silence_windows: Option<&[Duration]>,
        seed: u64,
    ) -> Self {
        let config = match rule {
            Rule::Verdict => Some(route),
            Rule::GreedyDiscounted => Some(RouteConfig {
                explore: 0.0,
                ..route
            }),
            Rule::StationaryThompson => Some(RouteConfig {
                half_life: HalfLife::Fixed(FOREVER),
                ..route
            }),
            Rule::Greedy => Some(RouteConfig {
                half_life: HalfLife::Fixed(FOREVER),
                explore: 0.0,
                ..route
            }),
            Rule::Oracle | Rule::Fixed | Rule::RoundRobin => None,
        };
        let lanes = first
            .iter()
            .enumerate()
            .map(|(k, (truths, oracle))| {
                let table = config.map(|config| {
                    let mut table = RouteTable::new(config);
                    for (j, truth) in truths.iter().enumerate() {
                        table.upsert_provider(
                            NAMES[j],
                            Profile {
                                cost: truth.price,
                                latency_ms: truth.latency_ms,
                                p95_latency_ms: truth.p95_ms,
                            },
                        );
                    }
                    table
                });
                Lane {
                    table,
                    meters: std::array::from_fn(|j| {
                        LatencyMeter::new(Profile {
                            cost: truths[j].price,
                            latency_ms: truths[j].latency_ms,
                            p95_latency_ms: truths[j].p95_ms,
                        })
                    }),
                    silence: silence_windows
                        .filter(|_| config.is_some())
                        .map(|w| Silence {
                            maturing: MaturingSilence::new(),
                            lag_counts: [0; LAG_BUCKETS],
                            window: w[k],
                        }),
                    next: 0,
                    fixed: *oracle,
                }
            })
            .collect();
        Self {
            rule,
            lanes,
            rng: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    /// Once a minute: the published prices, and the latencies as measured so far.
    pub fn update_profiles(&mut self, ty: usize, truths: &[Truth; PROVIDERS], at_ms: i64) {
        let lane = &mut self.lanes[ty];
        let Some(table) = lane.table.as_mut() else {
            return;
        };
        for (j, truth) in truths.iter().enumerate() {
            let (latency_ms, p95_latency_ms) = lane.meters[j].estimate(at_ms);
            table.upsert_provider(
                NAMES[j],
                Profile {
                    cost: truth.price,
                    latency_ms,
                    p95_latency_ms,
                },
            );
        }
    }

    /// The provider for one task of type `ty` at `now`.
    pub fn choose(&mut self, ty: usize, minute: &Minute<'_>, now: Timestamp) -> usize {
        let lane = &mut self.lanes[ty];
        match self.rule {
            Rule::Oracle => minute.oracle,
            Rule::Fixed => lane.fixed,
            Rule::RoundRobin => {
                lane.next = (lane.next + 1) % PROVIDERS;
                lane.next
            }
            Rule::Verdict | Rule::StationaryThompson => {
                let table = lane.table.as_mut().expect("a learned policy has a table");
                table
                    .route(|_| true, &minute.limits, now, &mut self.rng)
                    .map_or(lane.fixed, |d| d.index)
            }
            Rule::Greedy | Rule::GreedyDiscounted => {
                let table = lane.table.as_mut().expect("a learned policy has a table");
                by_mean(table.arms(now), &minute.limits, now).unwrap_or(lane.fixed)
            }
        }
    }

    /// An answer or an error; `silence` is the weight of the task's silence when nobody
    /// confirms.
    pub fn answered(
        &mut self,
        ty: usize,
        provider: usize,
        ok: bool,
        latency_ms: f64,
        silence: f64,
        at_ms: i64,
    ) {
        let lane = &mut self.lanes[ty];
        if let Some(table) = lane.table.as_mut() {
            table.answered(provider, ok, Timestamp::from_millis(at_ms));
            if ok {
                lane.meters[provider].record(latency_ms, at_ms);
                if let Some(maturing) = lane.silence.as_mut() {
                    let minute = Timestamp::from_millis(at_ms - at_ms.rem_euclid(60_000));
                    maturing.maturing.expose(provider, minute, silence);
                }
            }
        }
    }

    /// A confirmation or a report, `lag_ms` after the answer.
    pub fn feedback(&mut self, ty: usize, provider: usize, good: bool, lag_ms: f64, at_ms: i64) {
        let lane = &mut self.lanes[ty];
        if let Some(table) = lane.table.as_mut() {
            let (g, b) = if good { (1.0, 0.0) } else { (0.0, 1.0) };
            table.feedback(provider, g, b, Timestamp::from_millis(at_ms));
            if let Some(silence) = lane.silence.as_mut().filter(|_| !good) {
                silence.maturing.take_back(provider, 1.0);
                let lag = Duration::from_millis(lag_ms.max(0.0) as u64);
                silence.lag_counts[usize::from(lag_bucket(lag))] += 1;
            }
        }
    }

    /// Credits the silence matured by `at_ms` (nothing when clients confirm).
    pub fn mature(&mut self, at_ms: i64) {
        let now = Timestamp::from_millis(at_ms);
        for lane in &mut self.lanes {
            let (Some(table), Some(silence)) = (lane.table.as_mut(), lane.silence.as_mut()) else {
                continue;
            };
            let counts: Vec<(u8, u64)> = (0u8..)
                .zip(silence.lag_counts)
                .filter(|(_, n)| *n > 0)
                .collect();
            let lags = LagDistribution::new(&counts, silence.window);
            let forget_before = now.saturating_sub(silence.window + Duration::from_secs(120));
            for SilenceCredit { key, at, good } in
                silence.maturing.credit(now, forget_before, |_| Some(&lags))
            {
                table.feedback(key, good, 0.0, at);
            }
        }
    }

    /// The table of a learned policy (for its half-life in the figures).
    pub fn table(&self, ty: usize) -> Option<&RouteTable> {
        self.lanes[ty].table.as_ref()
    }
}

/// The greedy rule: [`routing::choose`](verdict_domain::routing::choose)'s objective on the
/// posterior means instead of draws, with the same eligibility.
fn by_mean(arms: &[Arm], limits: &RouteLimits, now: Timestamp) -> Option<usize> {
    let budget = limits.budget_ms();
    let mut cheapest: Option<(usize, f64)> = None;
    let mut fastest: Option<(usize, f64)> = None;
    for (i, arm) in arms.iter().enumerate() {
        let eligible = arm.open_until.is_none_or(|until| until <= now)
            && limits.max_cost.is_none_or(|max| arm.cost <= max)
            && limits
                .max_latency_ms
                .is_none_or(|max| arm.p95_latency_ms <= max);
        if !eligible {
            continue;
        }
        let theta = (arm.completion * arm.a / (arm.a + arm.b)).max(1e-9);
        let (per_success, time) = (arm.cost / theta, arm.latency_ms / theta);
        if time <= budget && cheapest.is_none_or(|(_, c)| per_success < c) {
            cheapest = Some((i, per_success));
        }
        if fastest.is_none_or(|(_, t)| time < t) {
            fastest = Some((i, time));
        }
    }
    cheapest.or(fastest).map(|(i, _)| i)
}
