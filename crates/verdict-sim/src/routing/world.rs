//! The routing world (research/domain.md §5.3, §5.4, §6.1): per captcha type five providers
//! in the roles of the §5.3 prototype, whose accuracy, completion, price and latency change
//! on a schedule, and the traffic that reaches them. Only the simulation knows these truths;
//! the learned policies see answers, errors, latencies and delayed feedback.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;
use serde::Serialize;
use verdict_domain::Family;
use verdict_domain::policy::ReportWindows;

/// Provider roles, by index in every type's table.
pub const PREMIUM: usize = 0;
/// The best value at the start: the one that degrades, goes down and recovers.
pub const VALUE: usize = 1;
/// Accuracy drifts ±0.05 with a weekly period; cuts its price on `price_cut_at`.
pub const DRIFTING: usize = 2;
/// Cheap and poor, improves 0.70 → 0.92, then raises its price.
pub const IMPROVING: usize = 3;
/// Cheapest, too slow for the budget.
pub const SLOW: usize = 4;
pub const PROVIDERS: usize = 5;
pub const NAMES: [&str; PROVIDERS] = ["premium", "value", "drifting", "improving", "slow"];

/// domain.md §5.3: price per task (per 1,000 in the prototype), mean latency (s), accuracy
/// and completion at the start.
const BASE: [(f64, f64, f64, f64); PROVIDERS] = [
    (3.00, 12.0, 0.97, 0.995),
    (1.00, 18.0, 0.95, 0.99),
    (1.45, 15.0, 0.90, 0.99),
    (0.80, 22.0, 0.70, 0.98),
    (0.60, 60.0, 0.93, 0.99),
];
/// Expected time to a success must fit 40 s (the prototype's budget); p95 must fit 150 s.
const BUDGET_S: f64 = 40.0;
const TIMEOUT_S: f64 = 150.0;

/// One captcha type: its traffic and how its prices and latencies scale from the base.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeSpec {
    pub name: &'static str,
    /// Its family's report window is the one verdict enforces (`ReportWindows` default).
    #[serde(skip)]
    pub family: Family,
    /// Mean tasks per simulated minute (the day's cycle moves it ±30 %).
    pub tasks_per_min: f64,
    pub price_scale: f64,
    pub latency_scale: f64,
    /// This type's events happen this many minutes after the schedule's times, so that the
    /// types do not all change at once.
    pub offset_min: f64,
}

impl TypeSpec {
    /// How long after its answer verdict takes a report on one of this type's tasks.
    pub fn report_window(&self) -> std::time::Duration {
        ReportWindows::default().longest(self.family)
    }
}

/// When things happen, in minutes from the start (before each type's offset).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The value provider's latency × 2.4 (beyond the budget even at a perfect record).
    pub latency_spike_at: f64,
    pub latency_spike_min: f64,
    /// The value provider's accuracy 0.95 → 0.60 (domain.md §6.1), then back.
    pub drop_at: f64,
    pub drop_min: f64,
    /// The drifting provider's price 1.45 → 0.95: from then on it competes with the value
    /// provider, and its drift decides which is best.
    pub price_cut_at: f64,
    /// The value provider answers nothing (100 % errors).
    pub outage_at: f64,
    pub outage_min: f64,
    /// The improving provider's accuracy 0.70 → 0.92, linearly over `improve_min`.
    pub improve_at: f64,
    pub improve_min: f64,
    /// The improving provider's price 0.80 → 1.10.
    pub price_rise_at: f64,
    /// Period of the drifting provider's accuracy (domain.md §6.1: 7 days).
    pub drift_period_min: f64,
}

/// The world of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorldConfig {
    pub minutes: u32,
    pub types: Vec<TypeSpec>,
    pub schedule: Schedule,
    /// Share of answered tasks whose client sends feedback (domain.md §5.3: 60 %).
    pub feedback_share: f64,
    /// Whether clients confirm good answers. Without, `feedback_share` of the tasks come from
    /// clients that report every wrong answer, within the family's report window (the
    /// feedback delays cut off at it), and confirm nothing; the rest from clients that never
    /// report, whose
    /// silence weighs what verdict gives such an account. The learned policies read silence
    /// as verdict's router does.
    pub confirmations: bool,
    /// Feedback delay after the answer: log-normal, median and sigma (§6.1: median 20 s,
    /// 2 % beyond 300 s).
    pub feedback_median_s: f64,
    pub feedback_sigma: f64,
    /// Sigma of the log-normal latency around each provider's mean.
    pub latency_sigma: f64,
}

impl WorldConfig {
    /// domain.md §6.1: 30 days, four types at platform scale (1,000 tasks a minute in all).
    pub fn full() -> Self {
        const DAY: f64 = 1440.0;
        Self {
            minutes: 30 * 1440,
            types: vec![
                spec("recaptcha_v2", Family::Recaptcha, 450.0, 2.0, 1.0, 0.0),
                spec("image_text", Family::Image, 300.0, 1.0, 0.5, 180.0),
                spec("hcaptcha", Family::Hcaptcha, 150.0, 3.0, 1.25, 360.0),
                spec("audio", Family::Audio, 100.0, 2.0, 0.75, 540.0),
            ],
            schedule: Schedule {
                latency_spike_at: 4.0 * DAY,
                latency_spike_min: 120.0,
                drop_at: 8.0 * DAY,
                drop_min: 12.0 * 60.0,
                price_cut_at: 12.0 * DAY,
                outage_at: 15.0 * DAY,
                outage_min: 60.0,
                improve_at: 20.0 * DAY,
                improve_min: DAY,
                price_rise_at: 25.0 * DAY,
                drift_period_min: 7.0 * DAY,
            },
            feedback_share: 0.6,
            confirmations: true,
            feedback_median_s: 20.0,
            feedback_sigma: 1.3,
            latency_sigma: 0.5,
        }
    }

    /// The same events compressed into two days, on the busiest and the quietest type: cheap
    /// enough for a debug-build test.
    pub fn ci() -> Self {
        Self {
            minutes: 2 * 1440,
            types: vec![
                spec("recaptcha_v2", Family::Recaptcha, 300.0, 2.0, 1.0, 0.0),
                spec("audio", Family::Audio, 100.0, 2.0, 0.75, 30.0),
            ],
            schedule: Schedule {
                latency_spike_at: 240.0,
                latency_spike_min: 60.0,
                drop_at: 480.0,
                drop_min: 240.0,
                price_cut_at: 900.0,
                outage_at: 1200.0,
                outage_min: 60.0,
                improve_at: 1800.0,
                improve_min: 360.0,
                price_rise_at: 2400.0,
                drift_period_min: 1440.0,
            },
            ..Self::full()
        }
    }
}

fn spec(
    name: &'static str,
    family: Family,
    tasks_per_min: f64,
    price_scale: f64,
    latency_scale: f64,
    offset_min: f64,
) -> TypeSpec {
    TypeSpec {
        name,
        family,
        tasks_per_min,
        price_scale,
        latency_scale,
        offset_min,
    }
}

/// One provider's truth at one minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    pub price: f64,
    pub latency_ms: f64,
    /// The log-normal's median, and its 95th percentile.
    pub median_ms: f64,
    pub p95_ms: f64,
    pub completion: f64,
    pub accuracy: f64,
}

impl Truth {
    /// The chance a task succeeds: answered and right.
    pub fn success(&self) -> f64 {
        self.completion * self.accuracy
    }
}

/// A type's providers: fixed per-type traits drawn from the seed, truths by the schedule.
#[derive(Debug, Clone)]
pub struct TypeWorld {
    pub spec: TypeSpec,
    pub budget_ms: f64,
    pub timeout_ms: f64,
    /// Per provider: price and accuracy jitter (±3 %, ±0.01) and the latency cycle's phase.
    jitter: [(f64, f64, f64); PROVIDERS],
    drift_phase: f64,
}

impl TypeWorld {
    pub fn new(spec: TypeSpec, rng: &mut Pcg64Mcg) -> Self {
        let mut jitter = [(1.0, 0.0, 0.0); PROVIDERS];
        for j in &mut jitter {
            *j = (
                1.0 + rng.random_range(-0.03..0.03),
                rng.random_range(-0.01..0.01),
                rng.random_range(0.0..std::f64::consts::TAU),
            );
        }
        Self {
            budget_ms: BUDGET_S * 1000.0 * spec.latency_scale,
            timeout_ms: TIMEOUT_S * 1000.0 * spec.latency_scale,
            drift_phase: rng.random_range(0.0..std::f64::consts::TAU),
            jitter,
            spec,
        }
    }

    /// Minutes since this type's schedule started (its offset applied).
    fn local(&self, minute: f64) -> f64 {
        minute - self.spec.offset_min
    }

    /// Every provider's truth during `minute`.
    pub fn truths(&self, minute: f64, schedule: &Schedule, sigma: f64) -> [Truth; PROVIDERS] {
        let t = self.local(minute);
        let within = |from: f64, length: f64| (from..from + length).contains(&t);
        std::array::from_fn(|j| {
            let (price, latency_s, accuracy, completion) = BASE[j];
            let (price_jitter, accuracy_jitter, phase) = self.jitter[j];
            let mut price = price;
            let mut accuracy = accuracy + accuracy_jitter;
            let mut completion = completion;
            // Load through the day: ±10 % latency.
            let mut latency =
                latency_s * (1.0 + 0.1 * (std::f64::consts::TAU * minute / 1440.0 + phase).sin());
            match j {
                VALUE => {
                    if within(schedule.latency_spike_at, schedule.latency_spike_min) {
                        latency *= 2.4;
                    }
                    if within(schedule.drop_at, schedule.drop_min) {
                        accuracy = 0.60;
                    }
                    if within(schedule.outage_at, schedule.outage_min) {
                        completion = 0.0;
                    }
                }
                DRIFTING => {
                    accuracy += 0.05
                        * (std::f64::consts::TAU * t / schedule.drift_period_min
                            + self.drift_phase)
                            .sin();
                    if t >= schedule.price_cut_at {
                        price = 0.95;
                    }
                }
                IMPROVING => {
                    let progress =
                        ((t - schedule.improve_at) / schedule.improve_min).clamp(0.0, 1.0);
                    accuracy += (0.92 - 0.70) * progress;
                    if t >= schedule.price_rise_at {
                        price = 1.10;
                    }
                }
                _ => {}
            }
            let latency_ms = latency * 1000.0 * self.spec.latency_scale;
            // A log-normal with this mean: median = mean · e^(-σ²/2).
            let median_ms = latency_ms * (-0.5 * sigma * sigma).exp();
            Truth {
                price: price * price_jitter * self.spec.price_scale,
                latency_ms,
                median_ms,
                p95_ms: median_ms * (1.645 * sigma).exp(),
                completion,
                accuracy: accuracy.clamp(0.0, 1.0),
            }
        })
    }

    /// Tasks of this type in `minute`: the mean rate, ±30 % through the day.
    pub fn tasks_in(&self, minute: u32) -> f64 {
        let day = std::f64::consts::TAU * f64::from(minute) / 1440.0;
        self.spec.tasks_per_min * (1.0 - 0.3 * day.cos())
    }

    /// When the value provider's drop starts and ends, in world minutes.
    pub fn drop_window(&self, schedule: &Schedule) -> (f64, f64) {
        let start = schedule.drop_at + self.spec.offset_min;
        (start, start + schedule.drop_min)
    }
}

/// What the oracle does with the truth: the cheapest expected success whose expected time
/// fits the budget and whose p95 fits the timeout; the fastest expected success otherwise.
pub fn oracle_choice(truths: &[Truth; PROVIDERS], budget_ms: f64, timeout_ms: f64) -> usize {
    let mut cheapest: Option<(usize, f64)> = None;
    let mut fastest: Option<(usize, f64)> = None;
    for (j, truth) in truths.iter().enumerate() {
        let theta = truth.success().max(1e-9);
        if truth.p95_ms > timeout_ms {
            continue;
        }
        let (per_success, time) = (truth.price / theta, truth.latency_ms / theta);
        if time <= budget_ms && cheapest.is_none_or(|(_, c)| per_success < c) {
            cheapest = Some((j, per_success));
        }
        if fastest.is_none_or(|(_, t)| time < t) {
            fastest = Some((j, time));
        }
    }
    cheapest.or(fastest).map_or(PREMIUM, |(j, _)| j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_schedule_changes_the_best_provider_as_designed() {
        let config = WorldConfig::full();
        let world = TypeWorld::new(config.types[0].clone(), &mut Pcg64Mcg::seed_from_u64(1));
        let s = &config.schedule;
        let best = |minute: f64| {
            let truths = world.truths(minute, s, config.latency_sigma);
            oracle_choice(&truths, world.budget_ms, world.timeout_ms)
        };
        assert_eq!(best(60.0), VALUE);
        assert_ne!(best(s.latency_spike_at + 10.0), VALUE, "spike");
        assert_eq!(best(s.drop_at + 10.0), IMPROVING, "drop");
        assert_eq!(best(s.drop_at + s.drop_min + 10.0), VALUE, "recovered");
        assert_ne!(best(s.outage_at + 10.0), VALUE, "outage");
        assert_eq!(best(s.improve_at + s.improve_min + 10.0), IMPROVING);
        assert_ne!(best(s.price_rise_at + 10.0), IMPROVING, "dearer now");
        let truths = world.truths(60.0, s, config.latency_sigma);
        assert!(truths[SLOW].latency_ms / truths[SLOW].success() > world.budget_ms);
        assert!(
            truths[SLOW].p95_ms < world.timeout_ms,
            "eligible, but too slow"
        );
        assert!(
            truths[VALUE].accuracy - 0.60 >= 0.2,
            "a drop of at least 20 points"
        );
    }
}
