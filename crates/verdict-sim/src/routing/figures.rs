//! What the routing simulation measures (domain.md §5.4), the bars the issue holds verdict's
//! router to, and the references domain.md §6.4 sets (reported, not enforced).

use std::fmt::Write as _;

use serde::Serialize;

use super::RoutingConfig;
use super::policy::Rule;
use super::run::{BIN_S, Outcome};
use super::world::{NAMES, PROVIDERS, VALUE, WorldConfig};

/// domain.md §5.3: the prototype's discounted Thompson sampling paid 0.7 % more per success
/// than its oracle.
pub const PROTOTYPE_COST_VS_ORACLE: f64 = 1.007;
/// The share of a type's traffic still on the degraded provider that counts as "left".
const AWAY_SHARE: f64 = 0.2;
/// The share that counts as "back".
const BACK_SHARE: f64 = 0.5;
/// A share must hold this long (in bins) to count.
const HOLD_BINS: usize = (5 * 60 / BIN_S) as usize;

/// One policy on one type, as the run goes.
#[derive(Debug, Clone)]
pub struct Tally {
    pub tasks: u64,
    pub answered: u64,
    pub successes: u64,
    pub cost: f64,
    pub on_best: u64,
    pub violations: u64,
    pub by_provider: [u64; PROVIDERS],
    /// Per bin of `BIN_S` seconds: (tasks on the value provider, tasks).
    bins: Vec<(u16, u16)>,
}

impl Tally {
    pub fn new(bins: usize) -> Self {
        Self {
            tasks: 0,
            answered: 0,
            successes: 0,
            cost: 0.0,
            on_best: 0,
            violations: 0,
            by_provider: [0; PROVIDERS],
            bins: vec![(0, 0); bins],
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one task's outcome, field by field"
    )]
    pub fn task(
        &mut self,
        bin: usize,
        provider: usize,
        answered: bool,
        correct: bool,
        price: f64,
        on_best: bool,
        violates: bool,
    ) {
        let on_value = provider == VALUE;
        self.tasks += 1;
        self.by_provider[provider] += 1;
        self.answered += u64::from(answered);
        self.successes += u64::from(correct);
        self.cost += price;
        self.on_best += u64::from(on_best);
        self.violations += u64::from(violates);
        if let Some(b) = self.bins.get_mut(bin) {
            b.0 = b.0.saturating_add(u16::from(on_value));
            b.1 = b.1.saturating_add(1);
        }
    }

    /// Share of the tasks of bins `from..to` sent to the value provider.
    pub fn share(&self, from: usize, to: usize) -> f64 {
        let (on, all) = self.bins[from.min(self.bins.len())..to.min(self.bins.len())]
            .iter()
            .fold((0u64, 0u64), |(on, all), b| {
                (on + u64::from(b.0), all + u64::from(b.1))
            });
        if all == 0 {
            0.0
        } else {
            on as f64 / all as f64
        }
    }

    /// Minutes from `start` (a bin) to the end of the first bin whose share — and the share
    /// of the five minutes after it — is on the wanted side of `limit`; searched until `end`.
    fn settles(&self, start: usize, end: usize, limit: f64, below: bool) -> Option<f64> {
        let side = |share: f64| {
            if below {
                share <= limit
            } else {
                share >= limit
            }
        };
        (start..end.min(self.bins.len()))
            .find(|&b| side(self.share(b, b + 1)) && side(self.share(b + 1, b + 1 + HOLD_BINS)))
            .map(|b| (b + 1 - start) as f64 * BIN_S as f64 / 60.0)
    }
}

/// Per type: how a policy fared on it.
#[derive(Debug, Clone, Serialize)]
pub struct TypeFigures {
    pub name: &'static str,
    pub tasks: u64,
    pub success_rate: f64,
    pub cost_per_success: f64,
    pub success_vs_oracle: f64,
    pub cost_vs_oracle: f64,
    pub on_best_pct: f64,
    pub budget_violations_pct: f64,
    /// Minutes from the drop until at most 20 % of the type's tasks go to the degraded
    /// provider (for five minutes on); None when that never happened during the drop.
    pub away_minutes: Option<f64>,
    /// Minutes from its recovery until it gets at least half the tasks again (for five
    /// minutes on); None when not within a day.
    pub back_minutes: Option<f64>,
    /// Share of the type's tasks sent to the value provider during its outage.
    pub outage_share_pct: f64,
    /// Share of the type's tasks per provider, by role name.
    pub by_provider_pct: Vec<(&'static str, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyFigures {
    pub policy: &'static str,
    pub tasks: u64,
    /// Answered and correct, per task.
    pub success_rate: f64,
    pub cost_per_success: f64,
    pub success_vs_oracle: f64,
    pub cost_vs_oracle: f64,
    /// Tasks sent where the oracle sent them.
    pub on_best_pct: f64,
    /// Tasks sent to a provider whose true expected time to a success broke the budget (or
    /// whose p95 broke the timeout).
    pub budget_violations_pct: f64,
    /// The worst type's minutes to leave the degraded provider, and to come back.
    pub away_minutes: Option<f64>,
    pub back_minutes: Option<f64>,
    pub types: Vec<TypeFigures>,
}

/// A figure held to a target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub source: &'static str,
    pub name: String,
    pub value: Option<f64>,
    pub target: String,
    pub met: bool,
}

impl Bar {
    fn new(source: &'static str, name: &str, value: Option<f64>, target: &str, met: bool) -> Self {
        Self {
            source,
            name: name.to_owned(),
            value: value.map(|v| (v * 10_000.0).round() / 10_000.0),
            target: target.to_owned(),
            met,
        }
    }
}

/// The route configuration in figures (the domain type has no serde).
#[derive(Debug, Clone, Serialize)]
pub struct RouteSettings {
    pub half_life: String,
    pub explore: f64,
    pub prior_mean: f64,
    pub prior_strength: f64,
    pub completion_prior_mean: f64,
    /// verdict's half-life per type at the end of the run, in seconds.
    pub half_life_at_end_s: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoutingFigures {
    pub seed: u64,
    pub size: &'static str,
    pub world: WorldConfig,
    pub route: RouteSettings,
    pub tasks_per_policy: u64,
    /// Feedback that would have come more than an hour after its task, not delivered.
    pub dropped_events: u64,
    pub wall_seconds: f64,
    pub policies: Vec<PolicyFigures>,
    /// The bars: `--check` fails when one is missed.
    pub bars: Vec<Bar>,
    /// domain.md §6.4's targets and the §5.3 prototype, for comparison only.
    pub references: Vec<Bar>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

pub fn summarise(config: &RoutingConfig, outcome: &Outcome, wall_seconds: f64) -> RoutingFigures {
    let schedule = &config.world.schedule;
    let bins_per_min = (60 / BIN_S) as usize;
    let oracle_at = outcome
        .rules
        .iter()
        .position(|r| *r == Rule::Oracle)
        .expect("the oracle runs");
    let oracle = &outcome.tallies[oracle_at];
    let rate = |t: &Tally| ratio(t.successes as f64, t.tasks as f64);
    let cps = |t: &Tally| ratio(t.cost, t.successes as f64);
    let sum = |tallies: &[Tally]| {
        tallies
            .iter()
            .fold((0u64, 0u64, 0.0f64, 0u64, 0u64), |acc, t| {
                (
                    acc.0 + t.tasks,
                    acc.1 + t.successes,
                    acc.2 + t.cost,
                    acc.3 + t.on_best,
                    acc.4 + t.violations,
                )
            })
    };
    let (o_tasks, o_successes, o_cost, _, _) = sum(oracle);
    let (o_rate, o_cps) = (
        ratio(o_successes as f64, o_tasks as f64),
        ratio(o_cost, o_successes as f64),
    );

    let policies: Vec<PolicyFigures> = outcome
        .rules
        .iter()
        .zip(&outcome.tallies)
        .map(|(rule, tallies)| {
            let types: Vec<TypeFigures> = tallies
                .iter()
                .zip(&outcome.worlds)
                .zip(oracle)
                .map(|((t, world), o)| {
                    let (drop_start, drop_end) = world.drop_window(schedule);
                    let (start, end) = (
                        drop_start as usize * bins_per_min,
                        drop_end as usize * bins_per_min,
                    );
                    let outage = (schedule.outage_at + world.spec.offset_min) as usize;
                    let outage = (
                        outage * bins_per_min,
                        (outage + schedule.outage_min as usize) * bins_per_min,
                    );
                    TypeFigures {
                        name: world.spec.name,
                        tasks: t.tasks,
                        success_rate: rate(t),
                        cost_per_success: cps(t),
                        success_vs_oracle: ratio(rate(t), rate(o)),
                        cost_vs_oracle: ratio(cps(t), cps(o)),
                        on_best_pct: pct(t.on_best, t.tasks),
                        budget_violations_pct: pct(t.violations, t.tasks),
                        away_minutes: t.settles(start, end, AWAY_SHARE, true),
                        back_minutes: t.settles(end, end + 1440 * bins_per_min, BACK_SHARE, false),
                        outage_share_pct: 100.0 * t.share(outage.0, outage.1),
                        by_provider_pct: NAMES
                            .iter()
                            .zip(t.by_provider)
                            .map(|(name, n)| (*name, pct(n, t.tasks)))
                            .collect(),
                    }
                })
                .collect();
            let (tasks, successes, cost, on_best, violations) = sum(tallies);
            let worst = |f: fn(&TypeFigures) -> Option<f64>| {
                types
                    .iter()
                    .map(f)
                    .try_fold(0.0f64, |worst, m| m.map(|m| worst.max(m)))
            };
            let success_rate = ratio(successes as f64, tasks as f64);
            let cost_per_success = ratio(cost, successes as f64);
            PolicyFigures {
                policy: rule.name(),
                tasks,
                success_rate,
                cost_per_success,
                success_vs_oracle: ratio(success_rate, o_rate),
                cost_vs_oracle: ratio(cost_per_success, o_cps),
                on_best_pct: pct(on_best, tasks),
                budget_violations_pct: pct(violations, tasks),
                away_minutes: worst(|t| t.away_minutes),
                back_minutes: worst(|t| t.back_minutes),
                types,
            }
        })
        .collect();

    let find = |rule: Rule| {
        policies
            .iter()
            .find(|p| p.policy == rule.name())
            .expect("every rule runs")
    };
    let verdict = find(Rule::Verdict);
    let beats = |other: Rule| {
        let value = ratio(verdict.cost_per_success, find(other).cost_per_success);
        Bar::new(
            "issue",
            &format!("verdict cost per success / {}'s", other.name()),
            Some(value),
            "< 1",
            value < 1.0,
        )
    };
    let bars = vec![
        Bar::new(
            "issue",
            "verdict success rate / oracle's",
            Some(verdict.success_vs_oracle),
            ">= 0.98",
            verdict.success_vs_oracle >= 0.98,
        ),
        Bar::new(
            "issue",
            "verdict cost per success / oracle's",
            Some(verdict.cost_vs_oracle),
            "<= 1.02",
            verdict.cost_vs_oracle <= 1.02,
        ),
        beats(Rule::Greedy),
        beats(Rule::RoundRobin),
        Bar::new(
            "issue",
            "minutes until 80 % of traffic left the degraded provider (worst type)",
            verdict.away_minutes,
            "<= 5",
            verdict.away_minutes.is_some_and(|m| m <= 5.0),
        ),
    ];
    let reduction = |other: Rule, at_least: f64| {
        let value = 1.0 - ratio(verdict.cost_per_success, find(other).cost_per_success);
        Bar::new(
            "domain.md §6.4",
            &format!("cost per success reduction vs {}", other.name()),
            Some(value),
            &format!(">= {at_least}"),
            value >= at_least,
        )
    };
    let references = vec![
        Bar::new(
            "domain.md §6.4",
            "verdict cost per success / oracle's",
            Some(verdict.cost_vs_oracle),
            "<= 1.02",
            verdict.cost_vs_oracle <= 1.02,
        ),
        Bar::new(
            "domain.md §5.3",
            "the prototype's cost per success / oracle's (verdict's minus it)",
            Some(verdict.cost_vs_oracle - PROTOTYPE_COST_VS_ORACLE),
            "<= 0 (at least as good)",
            verdict.cost_vs_oracle <= PROTOTYPE_COST_VS_ORACLE,
        ),
        Bar::new(
            "domain.md §6.4",
            "latency-budget violations, % of tasks",
            Some(verdict.budget_violations_pct),
            "<= 0.5",
            verdict.budget_violations_pct <= 0.5,
        ),
        reduction(Rule::StationaryThompson, 0.03),
        reduction(Rule::Fixed, 0.08),
        reduction(Rule::Greedy, 0.08),
        reduction(Rule::RoundRobin, 0.30),
    ];
    let route = &config.route;
    RoutingFigures {
        seed: config.seed,
        size: config.size,
        world: config.world.clone(),
        route: RouteSettings {
            half_life: format!("{:?}", route.half_life),
            explore: route.explore,
            prior_mean: route.prior.mean,
            prior_strength: route.prior.strength,
            completion_prior_mean: route.completion_prior.mean,
            half_life_at_end_s: outcome
                .half_lives_s
                .iter()
                .map(|s| (s * 10.0).round() / 10.0)
                .collect(),
        },
        tasks_per_policy: o_tasks,
        dropped_events: outcome.dropped_events,
        wall_seconds,
        policies,
        bars,
        references,
    }
}

impl RoutingFigures {
    pub fn all_bars_met(&self) -> bool {
        self.bars.iter().all(|b| b.met)
    }

    /// The figures for a person: one line per policy, then the bars.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let w = &self.world;
        let _ = writeln!(
            out,
            "verdict simulate --routing: seed {}, size {}, {}, {} types, {:.1} days, {} tasks per policy, {:.1} s",
            self.seed,
            self.size,
            if w.confirmations {
                "clients confirm and report"
            } else {
                "no confirmations (reports and silence)"
            },
            w.types.len(),
            f64::from(w.minutes) / 1440.0,
            self.tasks_per_policy,
            self.wall_seconds
        );
        let _ = writeln!(
            out,
            "route: half-life {}, explore {}, prior {} x {}; half-life at the end {:?} s\n",
            self.route.half_life,
            self.route.explore,
            self.route.prior_mean,
            self.route.prior_strength,
            self.route.half_life_at_end_s
        );
        let minutes = |m: Option<f64>| m.map_or_else(|| "never".to_owned(), |m| format!("{m:.1}"));
        let _ = writeln!(
            out,
            "  {:<20} {:>8} {:>9} {:>9} {:>9} {:>8} {:>9} {:>8} {:>8}",
            "policy",
            "success",
            "vs oracle",
            "cost/succ",
            "vs oracle",
            "on best",
            "budget x",
            "away min",
            "back min"
        );
        for p in &self.policies {
            let _ = writeln!(
                out,
                "  {:<20} {:>8.4} {:>9.4} {:>9.4} {:>9.4} {:>7.1}% {:>8.2}% {:>8} {:>8}",
                p.policy,
                p.success_rate,
                p.success_vs_oracle,
                p.cost_per_success,
                p.cost_vs_oracle,
                p.on_best_pct,
                p.budget_violations_pct,
                minutes(p.away_minutes),
                minutes(p.back_minutes)
            );
        }
        let _ = writeln!(out, "\n  tasks per provider, % (all types):");
        for p in &self.policies {
            let _ = write!(out, "  {:<20}", p.policy);
            for (j, name) in NAMES.iter().enumerate() {
                let share: f64 = p
                    .types
                    .iter()
                    .map(|t| t.by_provider_pct[j].1 * t.tasks as f64)
                    .sum::<f64>()
                    / p.tasks.max(1) as f64;
                let _ = write!(out, " {name} {share:>5.1}");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\n  per type (verdict):");
        if let Some(v) = self.policies.iter().find(|p| p.policy == "verdict") {
            for t in &v.types {
                let _ = writeln!(
                    out,
                    "  {:<20} success {:.4} ({:.4} of oracle), cost/succ {:.4} ({:.4} of oracle), on best {:.1}%, away {} min, back {} min, outage share {:.2}%",
                    t.name,
                    t.success_rate,
                    t.success_vs_oracle,
                    t.cost_per_success,
                    t.cost_vs_oracle,
                    t.on_best_pct,
                    minutes(t.away_minutes),
                    minutes(t.back_minutes),
                    t.outage_share_pct
                );
            }
        }
        let _ = writeln!(out);
        for (title, bars) in [("bars", &self.bars), ("references", &self.references)] {
            let _ = writeln!(out, "  {title}:");
            for bar in bars {
                let value = bar
                    .value
                    .map_or_else(|| "not measured".to_owned(), |v| format!("{v}"));
                let _ = writeln!(
                    out,
                    "  [{}] {:<68} {:>10}  target {:<10} ({})",
                    if bar.met { "met " } else { "MISS" },
                    bar.name,
                    value,
                    bar.target,
                    bar.source
                );
            }
        }
        out
    }
}
