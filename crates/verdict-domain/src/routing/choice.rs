//! Which provider solves the next task (research/domain.md §5.2): constrained, discounted
//! Thompson sampling on cost per success, with a circuit breaker.
//!
//! A failed solve is refunded and retried, so getting one success from provider `j` costs
//! `c_j / θ_j` and takes `m_j / θ_j`, where `θ_j` is the chance a task succeeds (delivered and
//! correct), `c_j` the price and `m_j` the mean latency. For each task the router draws `θ~_j`
//! from each eligible provider's posterior, keeps those whose expected time to a success fits
//! the budget, and takes the cheapest expected success among them (the fastest when none
//! fits). Drawing rather than taking the mean is what explores: an uncertain provider
//! sometimes draws high and gets a task. A small uniform floor keeps probing providers whose
//! posterior has decayed back to the prior.
//!
//! [`choose`] runs on every routing request: it allocates nothing and touches each arm once.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

use crate::timestamp::Timestamp;

/// One provider as the router sees it for one captcha type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arm {
    /// Price of one task, in any unit (the same for every arm).
    pub cost: f64,
    /// Mean time to an answer.
    pub latency_ms: f64,
    /// 95th percentile of the time to an answer (compared with a client's timeout).
    pub p95_latency_ms: f64,
    /// Share of tasks answered at all (not an error or a timeout).
    pub completion: f64,
    /// The router's discounted correctness posterior, `Beta(a, b)`.
    pub a: f64,
    pub b: f64,
    /// The circuit breaker keeps the provider out until then.
    pub open_until: Option<Timestamp>,
}

/// What the client allows for this task.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RouteLimits {
    /// Highest price per task.
    pub max_cost: Option<f64>,
    /// The client's timeout: a provider's p95 must fit it. Unless `success_budget_ms` says
    /// otherwise, the expected time to a success (retries included) must fit it too.
    pub max_latency_ms: Option<f64>,
    /// The budget for the expected time to a success, when it differs from the timeout
    /// (domain.md §5.2 keeps them apart: a 120 s timeout, a 40 s expected-time budget).
    pub success_budget_ms: Option<f64>,
}

impl RouteLimits {
    /// The budget the expected time to a success must fit (infinite when none is set).
    pub fn budget_ms(&self) -> f64 {
        self.success_budget_ms
            .or(self.max_latency_ms)
            .unwrap_or(f64::INFINITY)
    }
}

/// Why an arm was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The cheapest expected success within the time budget.
    Cheapest,
    /// No provider's expected time to success fits the budget: the fastest.
    Fastest,
    /// The exploration floor: uniformly among the eligible.
    Explore,
}

impl Pick {
    pub fn as_str(self) -> &'static str {
        match self {
            Pick::Cheapest => "cheapest_expected_success",
            Pick::Fastest => "fastest_expected_success",
            Pick::Explore => "exploration",
        }
    }
}

/// The arm chosen and the draw that chose it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub index: usize,
    pub pick: Pick,
    /// The drawn chance of success (completion × correctness).
    pub sampled: f64,
    pub cost_per_success: f64,
    pub time_to_success_ms: f64,
    /// Arms that passed the limits, the circuit breaker and the candidate filter.
    pub eligible: usize,
}

/// Chooses an arm among those `allowed` by the caller (candidates, supported types), within
/// `limits`, exploring uniformly with probability `explore`. `None` when no arm is eligible.
pub fn choose<R, F>(
    arms: &[Arm],
    allowed: F,
    limits: &RouteLimits,
    explore: f64,
    now: Timestamp,
    rng: &mut R,
) -> Option<Choice>
where
    R: Rng + ?Sized,
    F: Fn(usize) -> bool,
{
    let eligible = |i: usize, arm: &Arm| {
        allowed(i)
            && arm.open_until.is_none_or(|until| until <= now)
            && limits.max_cost.is_none_or(|max| arm.cost <= max)
            && limits
                .max_latency_ms
                .is_none_or(|max| arm.p95_latency_ms <= max)
    };
    let budget = limits.budget_ms();
    if explore > 0.0 && rng.random::<f64>() < explore {
        // Explore among the arms that would fit the budget if they never failed: probing a
        // provider too slow even then only breaks the budget. When none would, among all.
        let could_fit = |i: usize, arm: &Arm| eligible(i, arm) && arm.latency_ms <= budget;
        let count = arms
            .iter()
            .enumerate()
            .filter(|(i, a)| eligible(*i, a))
            .count();
        let fitting = arms
            .iter()
            .enumerate()
            .filter(|(i, a)| could_fit(*i, a))
            .count();
        if count == 0 {
            return None;
        }
        let pool = if fitting > 0 { fitting } else { count };
        let nth = rng.random_range(0..pool);
        let (index, arm) = arms
            .iter()
            .enumerate()
            .filter(|(i, a)| {
                if fitting > 0 {
                    could_fit(*i, a)
                } else {
                    eligible(*i, a)
                }
            })
            .nth(nth)?;
        let sampled = arm.completion * beta_sample(arm.a, arm.b, rng);
        return Some(choice(index, arm, sampled, Pick::Explore, count));
    }

    let mut count = 0;
    // (index, cost per success, time to success, draw)
    let mut cheapest: Option<(usize, f64, f64, f64)> = None;
    let mut fastest: Option<(usize, f64, f64, f64)> = None;
    for (i, arm) in arms.iter().enumerate() {
        if !eligible(i, arm) {
            continue;
        }
        count += 1;
        // An arm whose price alone exceeds the cheapest cost per success found so far cannot
        // win whatever it draws (cost / θ >= cost), and once a cheapest exists the fastest is
        // not needed: skipping its draw changes no choice and saves most of the work among
        // many providers.
        if cheapest.is_some_and(|(_, c, _, _)| arm.cost > c) {
            continue;
        }
        let theta = (arm.completion * beta_sample(arm.a, arm.b, rng)).max(1e-9);
        let per_success = arm.cost / theta;
        let time = arm.latency_ms / theta;
        if time <= budget
            && cheapest.is_none_or(|(_, c, t, _)| per_success < c || (per_success == c && time < t))
        {
            cheapest = Some((i, per_success, time, theta));
        }
        if fastest.is_none_or(|(_, _, t, _)| time < t) {
            fastest = Some((i, per_success, time, theta));
        }
    }
    let (pick, (index, _, _, theta)) = match (cheapest, fastest) {
        (Some(c), _) => (Pick::Cheapest, c),
        (None, Some(f)) => (Pick::Fastest, f),
        (None, None) => return None,
    };
    Some(choice(index, &arms[index], theta, pick, count))
}

fn choice(index: usize, arm: &Arm, sampled: f64, pick: Pick, eligible: usize) -> Choice {
    let theta = sampled.max(1e-9);
    Choice {
        index,
        pick,
        sampled,
        cost_per_success: arm.cost / theta,
        time_to_success_ms: arm.latency_ms / theta,
        eligible,
    }
}

/// A draw from `Beta(a, b)`, as the ratio of two gamma draws (Marsaglia & Tsang's method):
/// exact for any positive parameters, a few nanoseconds each, no allocation.
pub fn beta_sample<R: Rng + ?Sized>(a: f64, b: f64, rng: &mut R) -> f64 {
    let x = gamma_sample(a.max(1e-6), rng);
    let y = gamma_sample(b.max(1e-6), rng);
    if x + y > 0.0 { x / (x + y) } else { 0.5 }
}

/// A draw from `Gamma(shape, 1)` (Marsaglia & Tsang, ACM TOMS 26(3), 2000); shapes below one
/// by the boost `Gamma(shape + 1) · U^(1/shape)`.
fn gamma_sample<R: Rng + ?Sized>(shape: f64, rng: &mut R) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random();
        return gamma_sample(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x: f64 = StandardNormal.sample(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u: f64 = rng.random();
        let x2 = x * x;
        if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// The circuit breaker of one provider: open after 20 errors in a row, or when more than half
/// of at least 10 answers in the last minute were errors; it lets traffic back after 60 s
/// (half-open: the next error opens it again).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Breaker {
    consecutive_errors: u32,
    /// Outcomes in the current and the previous minute: (minute, answered, errors).
    current: (i64, u32, u32),
    previous: (i64, u32, u32),
    pub open_until: Option<Timestamp>,
}

impl Breaker {
    pub const CONSECUTIVE: u32 = 20;
    pub const MIN_ANSWERS: u32 = 10;
    pub const COOL_DOWN_MS: i64 = 60_000;

    /// Records one solve (`ok`: an answer was delivered) at `now`; true when this opened the
    /// breaker.
    pub fn record(&mut self, ok: bool, now: Timestamp) -> bool {
        let minute = now.as_millis().div_euclid(60_000);
        if self.current.0 != minute {
            self.previous = if self.current.0 == minute - 1 {
                self.current
            } else {
                (minute - 1, 0, 0)
            };
            self.current = (minute, 0, 0);
        }
        self.current.1 += 1;
        if ok {
            self.consecutive_errors = 0;
            if self.open_until.is_some_and(|until| until <= now) {
                // An answer while half-open: closed again.
                self.open_until = None;
            }
            return false;
        }
        self.current.2 += 1;
        self.consecutive_errors += 1;
        let half_open = self.open_until.is_some_and(|until| until <= now);
        let (answers, errors) = (
            self.current.1 + self.previous.1,
            self.current.2 + self.previous.2,
        );
        let trips = half_open
            || self.consecutive_errors >= Self::CONSECUTIVE
            || (answers >= Self::MIN_ANSWERS && errors * 2 > answers);
        if trips && self.open_until.is_none_or(|until| until <= now) {
            self.open_until = Some(Timestamp::from_millis(now.as_millis() + Self::COOL_DOWN_MS));
            return true;
        }
        false
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        self.open_until.is_some_and(|until| until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn arm(cost: f64, latency_ms: f64, accuracy: f64, evidence: f64) -> Arm {
        Arm {
            cost,
            latency_ms,
            p95_latency_ms: latency_ms * 2.0,
            completion: 1.0,
            a: accuracy * evidence,
            b: (1.0 - accuracy) * evidence,
            open_until: None,
        }
    }

    fn shares(arms: &[Arm], limits: RouteLimits, explore: f64, n: usize) -> Vec<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        let mut counts = vec![0usize; arms.len()];
        for _ in 0..n {
            let c = choose(arms, |_| true, &limits, explore, NOW, &mut rng).expect("a choice");
            counts[c.index] += 1;
        }
        counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    #[test]
    fn beta_draws_have_the_right_mean_and_spread() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        for (a, b) in [(0.5, 0.5), (2.0, 18.0), (95.0, 5.0), (9_500.0, 500.0)] {
            let n = 40_000;
            let draws: Vec<f64> = (0..n).map(|_| beta_sample(a, b, &mut rng)).collect();
            let mean = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let (want_mean, want_var) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
            assert!(
                (mean - want_mean).abs() < 4.0 * (want_var / n as f64).sqrt() + 1e-9,
                "{a},{b}: {mean}"
            );
            assert!(
                (var / want_var - 1.0).abs() < 0.05,
                "{a},{b}: var {var} vs {want_var}"
            );
            assert!(draws.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }

    #[test]
    fn the_cheapest_expected_success_wins_when_the_evidence_is_clear() {
        // 1.0 at 95 % costs 1.053 per success; 0.8 at 70 % costs 1.143; 1.2 at 99 % 1.212.
        let arms = [
            arm(1.0, 10_000.0, 0.95, 5_000.0),
            arm(0.8, 10_000.0, 0.70, 5_000.0),
            arm(1.2, 10_000.0, 0.99, 5_000.0),
        ];
        let s = shares(&arms, RouteLimits::default(), 0.0, 2_000);
        assert!(s[0] > 0.99, "{s:?}");
    }

    #[test]
    fn uncertainty_explores_and_evidence_settles_it() {
        // Two equal providers, one barely known: it gets a real share while uncertain.
        let known = arm(1.0, 10_000.0, 0.90, 10_000.0);
        let unknown = arm(1.0, 10_000.0, 0.90, 10.0);
        let s = shares(&[known, unknown], RouteLimits::default(), 0.0, 4_000);
        assert!(s[1] > 0.3 && s[1] < 0.7, "{s:?}");
    }

    #[test]
    fn limits_candidates_and_open_breakers_exclude_arms() {
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let mut arms = [
            arm(1.0, 10_000.0, 0.95, 5_000.0),
            arm(3.0, 4_000.0, 0.97, 5_000.0),
            arm(0.5, 30_000.0, 0.93, 5_000.0),
        ];
        let pick = |arms: &[Arm], limits: RouteLimits, rng: &mut Pcg64Mcg| {
            choose(arms, |_| true, &limits, 0.0, NOW, rng).map(|c| (c.index, c.pick))
        };
        assert_eq!(
            pick(&arms, RouteLimits::default(), &mut rng),
            Some((2, Pick::Cheapest))
        );
        let cheap_enough = RouteLimits {
            max_cost: Some(0.9),
            ..RouteLimits::default()
        };
        assert_eq!(
            pick(&arms, cheap_enough, &mut rng),
            Some((2, Pick::Cheapest))
        );
        // A 25 s budget: the slow cheap one's p95 (60 s) is out; 1.0 fits (p95 20 s).
        let quick = RouteLimits {
            max_latency_ms: Some(25_000.0),
            ..RouteLimits::default()
        };
        assert_eq!(pick(&arms, quick, &mut rng), Some((0, Pick::Cheapest)));
        // A 9 s budget: only the fast one's p95 fits, and its time to success (4.1 s) too.
        let hurry = RouteLimits {
            max_latency_ms: Some(9_000.0),
            ..RouteLimits::default()
        };
        assert_eq!(pick(&arms, hurry, &mut rng), Some((1, Pick::Cheapest)));
        arms[1].open_until = Some(NOW.saturating_add(std::time::Duration::from_secs(30)));
        assert_eq!(pick(&arms, hurry, &mut rng), None, "its breaker is open");
        let c = choose(
            &arms,
            |i| i == 0,
            &RouteLimits::default(),
            0.0,
            NOW,
            &mut rng,
        )
        .unwrap();
        assert_eq!((c.index, c.eligible), (0, 1), "candidates only");
    }

    #[test]
    fn when_no_expected_success_fits_the_budget_the_fastest_is_taken() {
        let mut rng = Pcg64Mcg::seed_from_u64(4);
        let mut slow = arm(1.0, 9_000.0, 0.5, 5_000.0);
        slow.p95_latency_ms = 9_500.0;
        let mut slower = arm(0.5, 9_500.0, 0.5, 5_000.0);
        slower.p95_latency_ms = 9_900.0;
        let limits = RouteLimits {
            max_latency_ms: Some(10_000.0),
            ..RouteLimits::default()
        };
        let c = choose(&[slow, slower], |_| true, &limits, 0.0, NOW, &mut rng).unwrap();
        assert_eq!((c.index, c.pick), (0, Pick::Fastest));
    }

    #[test]
    fn the_expected_time_budget_can_be_tighter_than_the_timeout() {
        // domain.md §5.3: the cheapest provider's p95 fits a 130 s timeout, but its expected
        // time to a success (60 s / 0.93) does not fit a 40 s budget.
        let mut slow_cheap = arm(0.6, 60_000.0, 0.93, 5_000.0);
        slow_cheap.p95_latency_ms = 120_000.0;
        let arms = [slow_cheap, arm(1.0, 18_000.0, 0.95, 5_000.0)];
        let timeout_only = RouteLimits {
            max_latency_ms: Some(130_000.0),
            ..RouteLimits::default()
        };
        let budgeted = RouteLimits {
            success_budget_ms: Some(40_000.0),
            ..timeout_only
        };
        assert!(shares(&arms, timeout_only, 0.0, 500)[0] > 0.99);
        assert!(shares(&arms, budgeted, 0.0, 500)[1] > 0.99);
        // Nor does exploring send it tasks: not even a perfect record would fit the budget.
        assert_eq!(shares(&arms, budgeted, 1.0, 500)[0], 0.0);
        assert!(
            shares(&arms, timeout_only, 1.0, 2_000)[0] > 0.4,
            "it is explored when it could fit"
        );
    }

    #[test]
    fn the_exploration_floor_visits_every_eligible_arm() {
        let arms = [
            arm(1.0, 10_000.0, 0.99, 50_000.0),
            arm(5.0, 10_000.0, 0.50, 50_000.0),
            arm(5.0, 10_000.0, 0.50, 50_000.0),
        ];
        let s = shares(&arms, RouteLimits::default(), 0.3, 6_000);
        // 30 % spread evenly: each loser gets about 10 %.
        assert!(
            (s[1] - 0.1).abs() < 0.02 && (s[2] - 0.1).abs() < 0.02,
            "{s:?}"
        );
    }

    #[test]
    fn the_breaker_opens_on_a_run_of_errors_or_a_bad_minute_and_half_opens() {
        let mut b = Breaker::default();
        let at = |s: i64| Timestamp::from_millis(NOW.as_millis() + s * 1000);
        for i in 0..40 {
            // One error in three, never many in a row: stays closed.
            assert!(!b.record(i % 3 != 0, at(i * 5)), "at {i}");
        }
        let mut b = Breaker::default();
        for i in 0..20 {
            b.record(false, at(i * 5));
        }
        assert!(b.is_open(at(100)));
        assert!(!b.is_open(at(100 + 61)), "half-open after a minute");
        assert!(
            b.record(false, at(170)),
            "one error while half-open opens it again"
        );
        assert!(
            !b.record(true, at(240)),
            "an answer once half-open closes it"
        );
        assert_eq!(b.open_until, None);
        assert!(
            !b.record(false, at(250)),
            "and a single error later does not reopen it"
        );

        let mut b = Breaker::default();
        for i in 0..12 {
            b.record(i % 3 != 0, at(i)); // a third errors: stays closed
        }
        assert!(!b.is_open(at(12)));
        for i in 12..20 {
            b.record(false, at(i));
        }
        assert!(
            b.is_open(at(20)),
            "more than half errors in the last minute"
        );
    }
}
