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
/// Matured silence is credited this often. The service does it at most once a second, on its
/// evidence refresh; every second here would make the run several times longer.
const SILENCE_EVERY_S: i64 = 5;
/// Without confirmations, a task whose client never reports weighs this as silence: verdict's
/// weight for an account that reported nothing over 1,000 tasks of a 10 % cohort
/// (`scoring::silence_weight`: 5 / (1,000 × 0.1 + 5)).
const SILENT_CLIENT_WEIGHT: f32 = 0.048;
/// Feedback later than this after its task is dropped (a few in a million at σ = 1.3).
const WHEEL_S: usize = 4_096;

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `silence`: the weight verdict gives the task's silence (its client's).
    Answered {
        ok: bool,
        latency_ms: f32,
        silence: f32,
    },
    Feedback {
        good: bool,
        lag_ms: f32,
    },
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
    let report_windows: Vec<std::time::Duration> =
        worlds.iter().map(|w| w.spec.report_window()).collect();
    let silence_windows = (!world_config.confirmations).then_some(report_windows.as_slice());
    let mut policies: Vec<Policy> = rules
        .iter()
        .enumerate()
        .map(|(i, &rule)| {
            let seed = config.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1));
            Policy::new(rule, config.route, &first_choice, silence_windows, seed)
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
            if !world_config.confirmations && now_s % SILENCE_EVERY_S == 0 {
                for policy in policies.iter_mut().filter(|p| p.rule.learns()) {
                    policy.mature(at_ms);
                }
            }
            for event in wheel.slots[slot].drain(..) {
                let policy = &mut policies[usize::from(event.policy)];
                let (ty, provider) = (usize::from(event.ty), usize::from(event.provider));
                match event.kind {
                    Kind::Answered {
                        ok,
                        latency_ms,
                        silence,
                    } => {
                        let latency_ms = f64::from(latency_ms);
                        policy.answered(ty, provider, ok, latency_ms, f64::from(silence), at_ms);
                    }
                    Kind::Feedback { good, lag_ms } => {
                        policy.feedback(ty, provider, good, f64::from(lag_ms), at_ms);
                    }
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
                    let mut delay_ms = feedback_delay(&mut rng);
                    if !world_config.confirmations {
                        // A client that reports does so inside the window it is told of
                        // (nearly every token report comes within its 60 s): the same
                        // delays, cut off at the window.
                        let window_ms = report_windows[k].as_millis() as f64;
                        for _ in 0..64 {
                            if delay_ms < window_ms {
                                break;
                            }
                            delay_ms = feedback_delay(&mut rng);
                        }
                    }
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
                                silence: if gives_feedback {
                                    1.0
                                } else {
                                    SILENT_CLIENT_WEIGHT
                                },
                            }),
                        );
                        // Without confirmations only wrong answers are reported, and only
                        // within the report window: verdict refuses later reports.
                        let reported = if world_config.confirmations {
                            gives_feedback
                        } else {
                            gives_feedback
                                && !correct
                                && delay_ms < report_windows[k].as_millis() as f64
                        };
                        if ok && reported {
                            wheel.push(
                                now_s,
                                answer_ms + delay_ms as i64,
                                event(Kind::Feedback {
                                    good: correct,
                                    lag_ms: delay_ms as f32,
                                }),
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
