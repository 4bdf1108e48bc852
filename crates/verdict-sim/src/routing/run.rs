//! The routing simulation's clock: minute by minute, second by second. Every task is drawn
//! once (its chance outcomes, latency draw, whether and when feedback comes) and offered to
//! every policy, so the policies differ only by their choices. Answers, errors and feedback
//! reach the learned policies through a wheel of one-second slots, as the service would see
//! them: late, and only for the tasks they routed.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use verdict_domain::Timestamp;
use verdict_domain::routing::RouteLimits;

use super::RoutingConfig;
use super::figures::Tally;
use super::policy::{Minute, Policy, Rule};
use super::world::{PROVIDERS, Truth, TypeWorld, oracle_choice};

/// The simulation's epoch (2026-11-01T00:00:00Z), as the judging simulation's.
pub const START_MS: i64 = crate::run::START;
/// Recovery is measured in bins of this many seconds.
pub const BIN_S: i64 = 10;
/// An error comes back this fast (refused or dropped connection), an answer at its latency.
const ERROR_AFTER_MS: i64 = 2_000;
/// Feedback later than this after its task is dropped (a few in a million at σ = 1.3).
const WHEEL_S: usize = 4_096;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Answered { ok: bool, latency_ms: f32 },
    Feedback { good: bool },
}

#[derive(Debug, Clone, Copy)]
struct Event {
    policy: u8,
    ty: u8,
    provider: u8,
    kind: Kind,
}

/// Events by the second they are due.
#[derive(Debug)]
struct Wheel {
    slots: Vec<Vec<Event>>,
    dropped: u64,
}

impl Wheel {
    fn new() -> Self {
        Self {
            slots: (0..WHEEL_S).map(|_| Vec::new()).collect(),
            dropped: 0,
        }
    }

    /// `due_ms` is absolute, `now_s` in seconds since the start.
    fn push(&mut self, now_s: i64, due_ms: i64, event: Event) {
        // Due at the end of its second: never delivered before it happened.
        let due_s = (due_ms - START_MS).div_euclid(1000) + 1;
        if due_s - now_s >= WHEEL_S as i64 {
            self.dropped += 1;
            return;
        }
        self.slots[due_s.rem_euclid(WHEEL_S as i64) as usize].push(event);
    }
}

/// What a run produces before it is summarised: per policy and type, what happened.
#[derive(Debug)]
pub struct Outcome {
    pub worlds: Vec<TypeWorld>,
    pub rules: Vec<Rule>,
    /// tallies[policy][type]
    pub tallies: Vec<Vec<Tally>>,
    /// The adaptive half-life of verdict's tables at the end, per type (seconds).
    pub half_lives_s: Vec<f64>,
    pub dropped_events: u64,
}

pub fn run(config: &RoutingConfig) -> Outcome {
    let world_config = &config.world;
    let schedule = &world_config.schedule;
    let sigma = world_config.latency_sigma;
    let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
    let worlds: Vec<TypeWorld> = world_config
        .types
        .iter()
        .map(|spec| TypeWorld::new(spec.clone(), &mut rng))
        .collect();
    let first: Vec<[Truth; PROVIDERS]> = worlds
        .iter()
        .map(|w| w.truths(0.0, schedule, sigma))
        .collect();
    let first_choice: Vec<(&[Truth; PROVIDERS], usize)> = first
        .iter()
        .zip(&worlds)
        .map(|(t, w)| (t, oracle_choice(t, w.budget_ms, w.timeout_ms)))
        .collect();
    let rules = Rule::ALL.to_vec();
    let mut policies: Vec<Policy> = rules
        .iter()
        .enumerate()
        .map(|(i, &rule)| {
            let seed = config.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1));
            Policy::new(rule, config.route, &first_choice, seed)
        })
        .collect();
    let bins = (world_config.minutes as usize * 60).div_ceil(BIN_S as usize);
    let mut tallies: Vec<Vec<Tally>> = rules
        .iter()
        .map(|_| worlds.iter().map(|_| Tally::new(bins)).collect())
        .collect();
    let limits: Vec<RouteLimits> = worlds
        .iter()
        .map(|w| RouteLimits {
            max_cost: None,
            max_latency_ms: Some(w.timeout_ms),
            success_budget_ms: Some(w.budget_ms),
        })
        .collect();
    let feedback_delay = |rng: &mut Pcg64Mcg| {
        let z: f64 = StandardNormal.sample(rng);
        world_config.feedback_median_s * 1000.0 * (world_config.feedback_sigma * z).exp()
    };

    let mut wheel = Wheel::new();
    let mut carry = vec![0.0f64; worlds.len()];
    let mut truths = first.clone();
    let mut oracle = vec![0usize; worlds.len()];
    for minute in 0..world_config.minutes {
        let mut counts = vec![0u32; worlds.len()];
        for (k, world) in worlds.iter().enumerate() {
            truths[k] = world.truths(f64::from(minute), schedule, sigma);
            oracle[k] = oracle_choice(&truths[k], world.budget_ms, world.timeout_ms);
            for policy in &mut policies {
                policy.update_profiles(k, &truths[k], START_MS + i64::from(minute) * 60_000);
            }
            let due = world.tasks_in(minute) + carry[k];
            counts[k] = due.floor() as u32;
            carry[k] = due - due.floor();
        }
        let mut next = vec![0u32; worlds.len()];
        for second in 0..60i64 {
            let now_s = i64::from(minute) * 60 + second;
            let slot = now_s.rem_euclid(WHEEL_S as i64) as usize;
            let at_ms = START_MS + now_s * 1000;
            for event in wheel.slots[slot].drain(..) {
                let policy = &mut policies[usize::from(event.policy)];
                let (ty, provider) = (usize::from(event.ty), usize::from(event.provider));
                match event.kind {
                    Kind::Answered { ok, latency_ms } => {
                        policy.answered(ty, provider, ok, f64::from(latency_ms), at_ms);
                    }
                    Kind::Feedback { good } => policy.feedback(ty, provider, good, at_ms),
                }
            }
            for (k, world) in worlds.iter().enumerate() {
                let n = counts[k];
                let minute_view = Minute {
                    truths: &truths[k],
                    oracle: oracle[k],
                    limits: limits[k],
                };
                // Task i of the minute is due at i/n of it.
                while next[k] < n && i64::from(next[k]) * 60 / i64::from(n) <= second {
                    let offset_ms = i64::from(next[k]) * 60_000 / i64::from(n);
                    next[k] += 1;
                    let task_ms = START_MS + i64::from(minute) * 60_000 + offset_ms;
                    let now = Timestamp::from_millis(task_ms);
                    let u_complete: f64 = rng.random();
                    let u_correct: f64 = rng.random();
                    let z_latency: f64 = StandardNormal.sample(&mut rng);
                    let gives_feedback = rng.random::<f64>() < world_config.feedback_share;
                    let delay_ms = feedback_delay(&mut rng);
                    let bin = ((task_ms - START_MS) / 1000 / BIN_S) as usize;
                    for (p, policy) in policies.iter_mut().enumerate() {
                        let j = policy.choose(k, &minute_view, now);
                        let truth = &truths[k][j];
                        let ok = u_complete < truth.completion;
                        let correct = ok && u_correct < truth.accuracy;
                        let latency_ms = truth.median_ms * (sigma * z_latency).exp();
                        let theta = truth.success().max(1e-9);
                        let violates = truth.latency_ms / theta > world.budget_ms
                            || truth.p95_ms > world.timeout_ms;
                        tallies[p][k].task(
                            bin,
                            j,
                            ok,
                            correct,
                            truth.price,
                            j == oracle[k],
                            violates,
                        );
                        if !policy.rule.learns() {
                            continue;
                        }
                        let event = |kind| Event {
                            policy: p as u8,
                            ty: k as u8,
                            provider: j as u8,
                            kind,
                        };
                        let answer_ms = task_ms
                            + if ok {
                                latency_ms as i64
                            } else {
                                ERROR_AFTER_MS
                            };
                        wheel.push(
                            now_s,
                            answer_ms,
                            event(Kind::Answered {
                                ok,
                                latency_ms: latency_ms as f32,
                            }),
                        );
                        if ok && gives_feedback {
                            wheel.push(
                                now_s,
                                answer_ms + delay_ms as i64,
                                event(Kind::Feedback { good: correct }),
                            );
                        }
                    }
                }
            }
        }
    }
    let end = Timestamp::from_millis(START_MS + i64::from(world_config.minutes) * 60_000);
    let verdict = rules
        .iter()
        .position(|r| *r == Rule::Verdict)
        .expect("verdict runs");
    let half_lives_s = (0..worlds.len())
        .map(|k| {
            policies[verdict]
                .table(k)
                .map_or(0.0, |t| t.half_life(end).as_secs_f64())
        })
        .collect();
    Outcome {
        worlds,
        rules,
        tallies,
        half_lives_s,
        dropped_events: wheel.dropped,
    }
}
