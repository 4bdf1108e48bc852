//! One captcha type's routing table (research/domain.md §5.2): per provider its price and
//! latency (set by the operator or the service), what the router believes of it — a
//! correctness belief and a completion share, both aged with the *route* half-life — and its
//! circuit breaker. [`RouteTable::route`] turns that into a decision with
//! [`routing::choose`](crate::routing::choose).
//!
//! The table owns no clock and no generator: every call says when it happens, and routing
//! takes the caller's generator. It knows nothing of storage: the service rebuilds it from
//! its own records and feeds it evidence as it arrives.
//!
//! Every belief in a table shares one clock: when time moves on, the table computes the aging
//! factor `2^(-Δt/h)` once and scales every sum by it, so a routing decision costs one power
//! and a few multiplications per provider besides its draws, and allocates nothing.

use std::fmt;
use std::time::Duration;

use rand::Rng;

use crate::routing::{Arm, Breaker, Pick, RouteLimits, choose};
use crate::scoring::{Prior, Reliability, Weighed, reliability};
use crate::stats::beta_quantile;
use crate::timestamp::Timestamp;

/// How fast the router forgets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HalfLife {
    /// The same half-life whatever the traffic.
    Fixed(Duration),
    /// domain.md §5.2: `h = clamp(ln 2 × memory_events / feedback_rate, min, max)`, so the
    /// table keeps about `memory_events` weighted feedback events whatever the type's volume:
    /// a busy type adapts within minutes, a quiet one does not forget what little it has.
    Adaptive {
        memory_events: f64,
        min: Duration,
        max: Duration,
    },
}

impl HalfLife {
    /// The half-life for a feedback rate in events per second (`None`: not known yet).
    pub fn at_rate(&self, events_per_s: Option<f64>) -> Duration {
        match *self {
            HalfLife::Fixed(h) => h,
            HalfLife::Adaptive {
                memory_events,
                min,
                max,
            } => match events_per_s {
                Some(rate) if rate > 0.0 => {
                    let secs = std::f64::consts::LN_2 * memory_events / rate;
                    Duration::from_secs_f64(secs.clamp(min.as_secs_f64(), max.as_secs_f64()))
                }
                _ => max,
            },
        }
    }
}

/// How a table routes and forgets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteConfig {
    pub half_life: HalfLife,
    /// Share of tasks routed uniformly among the eligible providers, whatever the beliefs.
    pub explore: f64,
    /// Where a provider's correctness belief starts: the type's mean, worth `strength`
    /// feedback events.
    pub prior: Prior,
    /// Where it returns as evidence ages. `None`: to `prior`. `Some(h)`: to the provider's own
    /// long-run mean (its evidence aged with `h`, on top of `prior`), at `prior.strength`
    /// (domain.md §4.2's hierarchical prior). A provider known to be poor then stops looking
    /// like an average one each time its recent evidence fades, and is not re-tried as often.
    pub long_run: Option<Duration>,
    /// Change detection: when a provider's recent evidence (aged `FAST` times faster than the
    /// route half-life) disagrees with its belief by more than this many standard errors,
    /// the belief keeps only the recent evidence. Discounting alone needs a fraction of a
    /// half-life to follow an abrupt drop; a test on recent evidence needs far fewer events
    /// (monitored bandits, Cao et al., AISTATS 2019). `None`: discounting only.
    pub change_z: Option<f64>,
    /// The same for the completion share (answers delivered, not errors or timeouts).
    pub completion_prior: Prior,
}

impl RouteConfig {
    /// How much faster than the route half-life the evidence of change detection ages.
    pub const FAST: f64 = 8.0;
    /// Change detection waits for this much recent evidence.
    pub const FAST_MIN_EVIDENCE: f64 = 20.0;

    /// How far back the feedback rate of an adaptive half-life looks: long enough to be steady
    /// within a type's hour, short enough to follow its day.
    pub const RATE_HALF_LIFE: Duration = Duration::from_secs(30 * 60);
}

impl Default for RouteConfig {
    /// Chosen with the routing simulation (docs/routing.md): a memory of 1,000 feedback
    /// events (domain.md §5.2) between 1 minute and 24 h; a 0.2 % exploration floor (1 % paid
    /// about half a point of cost per success for nothing the draws do not already find);
    /// a prior worth 20 events that evidence returns to at the provider's own 24 h mean; and
    /// change detection at 4 standard errors, without which a quiet type takes over 5
    /// minutes to leave a provider that went bad.
    fn default() -> Self {
        Self {
            half_life: HalfLife::Adaptive {
                memory_events: 1_000.0,
                min: Duration::from_secs(60),
                max: Duration::from_secs(24 * 3600),
            },
            explore: 0.002,
            prior: Prior::UNINFORMED,
            long_run: Some(Duration::from_secs(24 * 3600)),
            change_z: Some(4.0),
            completion_prior: Prior {
                mean: 0.97,
                strength: 20.0,
            },
        }
    }
}

/// What the operator (or the service's measurements) says of a provider for this type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Price of one task, in any unit (the same for every provider of the table).
    pub cost: f64,
    /// Mean time to an answer.
    pub latency_ms: f64,
    /// 95th percentile of the time to an answer.
    pub p95_latency_ms: f64,
}

#[derive(Debug, Clone)]
struct Provider {
    name: String,
    profile: Profile,
    correctness: Weighed,
    /// Correctness evidence aged with the long-run half-life (when the config has one).
    long_run: Weighed,
    /// Correctness evidence aged `RouteConfig::FAST` times faster (change detection).
    recent: Weighed,
    completion: Weighed,
    breaker: Breaker,
}

/// Weighted feedback per second, from an aged sum and the aged time it covers (so that it is
/// right from the first minute, not only once the window has filled).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct FeedbackRate {
    weight: f64,
    exposure_s: f64,
    at: Option<Timestamp>,
}

impl FeedbackRate {
    fn aged(self, now: Timestamp) -> FeedbackRate {
        let Some(at) = self.at else {
            return FeedbackRate {
                at: Some(now),
                ..self
            };
        };
        let elapsed = now.millis_since(at).max(0) as f64 / 1000.0;
        let h = RouteConfig::RATE_HALF_LIFE.as_secs_f64();
        let factor = 0.5f64.powf(elapsed / h);
        // ∫ 2^(-(t-s)/h) ds over the elapsed interval: the time it adds, aged.
        let added = h / std::f64::consts::LN_2 * (1.0 - factor);
        FeedbackRate {
            weight: self.weight * factor,
            exposure_s: self.exposure_s * factor + added,
            at: Some(now.max(at)),
        }
    }

    fn per_s(&self) -> Option<f64> {
        (self.exposure_s > 0.0 && self.weight > 0.0).then(|| self.weight / self.exposure_s)
    }
}

/// A routing decision and why it was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteDecision {
    /// The chosen provider's index in the table.
    pub index: usize,
    pub pick: Pick,
    /// The success chance drawn for it (completion × correctness).
    pub sampled: f64,
    /// Its correctness posterior, `Beta(a, b)`, and completion share at the decision.
    pub a: f64,
    pub b: f64,
    pub completion: f64,
    /// Price over the drawn success chance, and mean latency over it.
    pub cost_per_success: f64,
    pub time_to_success_ms: f64,
    /// Providers that passed the caller's filter, the limits and the breakers.
    pub eligible: usize,
}

impl RouteDecision {
    /// Posterior mean of the chosen provider's success chance.
    pub fn mean(&self) -> f64 {
        self.completion * self.a / (self.a + self.b)
    }

    /// 90 % credible interval of the chosen provider's success chance. Computed on demand: a
    /// quantile costs more than the whole decision.
    pub fn interval(&self) -> (f64, f64) {
        (
            self.completion * beta_quantile(0.05, self.a, self.b),
            self.completion * beta_quantile(0.95, self.a, self.b),
        )
    }
}

impl fmt::Display for RouteDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lower, upper) = self.interval();
        write!(
            f,
            "provider #{} by {} among {}: drew success {:.3} (mean {:.3}, 90 % in {:.3}..{:.3}), {:.4} per success, {:.0} ms to a success",
            self.index,
            self.pick.as_str(),
            self.eligible,
            self.sampled,
            self.mean(),
            lower,
            upper,
            self.cost_per_success,
            self.time_to_success_ms
        )
    }
}

/// What the table believes of one provider, for display.
#[derive(Debug, Clone, PartialEq)]
pub struct Belief {
    pub name: String,
    pub profile: Profile,
    /// Correctness: mean, 90 % interval and aged evidence.
    pub correctness: Reliability,
    /// Completion share (posterior mean).
    pub completion: f64,
    /// `completion × correctness.mean`: the chance a task succeeds.
    pub success: f64,
    pub breaker_open: bool,
}

/// One captcha type's providers and what the router believes of them.
#[derive(Debug, Clone)]
pub struct RouteTable {
    config: RouteConfig,
    providers: Vec<Provider>,
    /// What [`routing::choose`](crate::routing::choose) reads, refreshed in place.
    arms: Vec<Arm>,
    /// When every belief was last aged.
    clock: Option<Timestamp>,
    rate: FeedbackRate,
}

impl RouteTable {
    pub fn new(config: RouteConfig) -> Self {
        Self {
            config,
            providers: Vec::new(),
            arms: Vec::new(),
            clock: None,
            rate: FeedbackRate::default(),
        }
    }

    pub fn config(&self) -> &RouteConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.providers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Adds a provider, or updates the profile of the one of that name (its beliefs stay).
    /// Returns its index, which never changes.
    pub fn upsert_provider(&mut self, name: &str, profile: Profile) -> usize {
        if let Some(index) = self.index_of(name) {
            self.providers[index].profile = profile;
            return index;
        }
        self.providers.push(Provider {
            name: name.to_owned(),
            profile,
            correctness: Weighed {
                at: self.clock,
                ..Weighed::default()
            },
            long_run: Weighed {
                at: self.clock,
                ..Weighed::default()
            },
            recent: Weighed {
                at: self.clock,
                ..Weighed::default()
            },
            completion: Weighed {
                at: self.clock,
                ..Weighed::default()
            },
            breaker: Breaker::default(),
        });
        self.arms.push(Arm {
            cost: profile.cost,
            latency_ms: profile.latency_ms,
            p95_latency_ms: profile.p95_latency_ms,
            completion: self.config.completion_prior.mean,
            a: self.config.prior.a(),
            b: self.config.prior.b(),
            open_until: None,
        });
        self.providers.len() - 1
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.name == name)
    }

    pub fn name(&self, index: usize) -> &str {
        &self.providers[index].name
    }

    pub fn profile(&self, index: usize) -> Profile {
        self.providers[index].profile
    }

    /// The half-life in force at `now`.
    pub fn half_life(&self, now: Timestamp) -> Duration {
        let rate = match self.config.half_life {
            HalfLife::Fixed(_) => None,
            HalfLife::Adaptive { .. } => self.rate.aged(now).per_s(),
        };
        self.config.half_life.at_rate(rate)
    }

    /// Weighted evidence on the correctness of `index`'s answers, observed at `at`: `good`
    /// and `bad` are trust-weighted sums (one task's report, or a minute's).
    pub fn feedback(&mut self, index: usize, good: f64, bad: f64, at: Timestamp) {
        let (good, bad) = (good.max(0.0), bad.max(0.0));
        self.rate = self.rate.aged(at);
        self.rate.weight += good + bad;
        let discount = self.advance(at);
        let long_discount = match (self.config.long_run, self.clock) {
            (Some(h), Some(clock)) if at < clock => age_factor(clock.millis_since(at), h),
            _ => 1.0,
        };
        let recent_discount = faster(discount);
        let prior = Self::prior_of(&self.config, &self.providers[index], 1.0);
        let provider = &mut self.providers[index];
        provider.correctness.good += good * discount;
        provider.correctness.bad += bad * discount;
        provider.long_run.good += good * long_discount;
        provider.long_run.bad += bad * long_discount;
        provider.recent.good += good * recent_discount;
        provider.recent.bad += bad * recent_discount;
        if let Some(z) = self.config.change_z {
            let recent = provider.recent;
            let n = recent.total();
            if n >= RouteConfig::FAST_MIN_EVIDENCE {
                let a = prior.a() + provider.correctness.good;
                let believed = a / (prior.strength + provider.correctness.total());
                // The standard error of an unweighted mean of n: larger than that of the
                // aged mean, so the test errs towards keeping the belief.
                let error = (believed * (1.0 - believed) / n).sqrt().max(1e-3);
                if (recent.good / n - believed).abs() > z * error {
                    provider.correctness = recent;
                }
            }
        }
    }

    /// A task of `index`'s was answered (`ok`) or failed (error, timeout) at `at`: the
    /// completion share and the breaker.
    pub fn answered(&mut self, index: usize, ok: bool, at: Timestamp) {
        let discount = self.advance(at);
        let provider = &mut self.providers[index];
        if ok {
            provider.completion.good += discount;
        } else {
            provider.completion.bad += discount;
        }
        provider.breaker.record(ok, at);
    }

    /// Chooses a provider for one task among those `allowed` (supports the task, has capacity)
    /// within `limits`. `None` when none is eligible. Allocates nothing.
    pub fn route<R, F>(
        &mut self,
        allowed: F,
        limits: &RouteLimits,
        now: Timestamp,
        rng: &mut R,
    ) -> Option<RouteDecision>
    where
        R: Rng + ?Sized,
        F: Fn(usize) -> bool,
    {
        self.refresh(now);
        let choice = choose(&self.arms, allowed, limits, self.config.explore, now, rng)?;
        let arm = &self.arms[choice.index];
        Some(RouteDecision {
            index: choice.index,
            pick: choice.pick,
            sampled: choice.sampled,
            a: arm.a,
            b: arm.b,
            completion: arm.completion,
            cost_per_success: choice.cost_per_success,
            time_to_success_ms: choice.time_to_success_ms,
            eligible: choice.eligible,
        })
    }

    /// The arms as they stand at `now` (what `route` would draw from): for other rules over
    /// the same beliefs, such as the greedy baseline of the simulation.
    pub fn arms(&mut self, now: Timestamp) -> &[Arm] {
        self.refresh(now);
        &self.arms
    }

    /// What the table believes of provider `index` at `now`, for display.
    pub fn belief(&self, index: usize, now: Timestamp) -> Belief {
        let provider = &self.providers[index];
        let factor = self.factor_until(now);
        let long_factor = match (self.config.long_run, self.clock) {
            (Some(h), Some(clock)) => age_factor(now.millis_since(clock), h),
            _ => 1.0,
        };
        let correctness = reliability(
            Self::prior_of(&self.config, provider, long_factor),
            provider
                .correctness
                .scaled(factor, now.max(self.clock.unwrap_or(now))),
        );
        let completion = self.completion_of(provider, factor);
        Belief {
            name: provider.name.clone(),
            profile: provider.profile,
            correctness,
            completion,
            success: completion * correctness.mean,
            breaker_open: provider.breaker.is_open(now),
        }
    }

    /// Every provider's belief at `now`, in index order.
    pub fn beliefs(&self, now: Timestamp) -> impl Iterator<Item = Belief> + '_ {
        (0..self.providers.len()).map(move |i| self.belief(i, now))
    }

    /// The aging factor from the table's clock to `now` (1 when `now` is not later).
    fn factor_until(&self, now: Timestamp) -> f64 {
        let Some(clock) = self.clock else {
            return 1.0;
        };
        let elapsed = now.millis_since(clock);
        if elapsed <= 0 {
            return 1.0;
        }
        age_factor(elapsed, self.half_life(now))
    }

    /// Ages every belief to `at` when it is later than the table's clock. Returns the weight
    /// evidence observed at `at` has now: 1, or less when it comes from before the clock (a
    /// late report has already aged).
    fn advance(&mut self, at: Timestamp) -> f64 {
        let Some(clock) = self.clock else {
            self.clock = Some(at);
            return 1.0;
        };
        if at < clock {
            return age_factor(clock.millis_since(at), self.half_life(clock));
        }
        if at > clock {
            let factor = self.factor_until(at);
            let long_factor = self
                .config
                .long_run
                .map_or(1.0, |h| age_factor(at.millis_since(clock), h));
            let recent_factor = faster(factor);
            for provider in &mut self.providers {
                provider.correctness = provider.correctness.scaled(factor, at);
                provider.recent = provider.recent.scaled(recent_factor, at);
                provider.long_run = provider.long_run.scaled(long_factor, at);
                provider.completion = provider.completion.scaled(factor, at);
            }
            self.clock = Some(at);
        }
        1.0
    }

    /// The prior a provider's correctness returns to (see [`RouteConfig::long_run`]), its
    /// long-run evidence aged by `long_factor` more.
    fn prior_of(config: &RouteConfig, provider: &Provider, long_factor: f64) -> Prior {
        let prior = config.prior;
        if config.long_run.is_none() {
            return prior;
        }
        let good = prior.a() + provider.long_run.good * long_factor;
        let total = prior.strength + provider.long_run.total() * long_factor;
        Prior {
            mean: good / total,
            strength: prior.strength,
        }
    }

    fn completion_of(&self, provider: &Provider, factor: f64) -> f64 {
        let prior = self.config.completion_prior;
        let good = prior.a() + provider.completion.good * factor;
        let bad = prior.b() + provider.completion.bad * factor;
        good / (good + bad)
    }

    /// Brings the arms in line with the beliefs and profiles at `now`.
    fn refresh(&mut self, now: Timestamp) {
        self.advance(now);
        let completion = self.config.completion_prior;
        for (arm, provider) in self.arms.iter_mut().zip(&self.providers) {
            let prior = Self::prior_of(&self.config, provider, 1.0);
            arm.cost = provider.profile.cost;
            arm.latency_ms = provider.profile.latency_ms;
            arm.p95_latency_ms = provider.profile.p95_latency_ms;
            arm.a = prior.a() + provider.correctness.good;
            arm.b = prior.b() + provider.correctness.bad;
            let answered = completion.a() + provider.completion.good;
            arm.completion = answered / (completion.strength + provider.completion.total());
            arm.open_until = provider.breaker.open_until;
        }
    }
}

/// An aging factor for a half-life `RouteConfig::FAST` (8) times shorter: `f^8` by three
/// squarings, not a `powf` on every decision.
fn faster(factor: f64) -> f64 {
    const { assert!(RouteConfig::FAST == 8.0) };
    let f2 = factor * factor;
    let f4 = f2 * f2;
    f4 * f4
}

/// `2^(-elapsed/h)`: what evidence keeps of its weight after `elapsed_ms`.
fn age_factor(elapsed_ms: i64, half_life: Duration) -> f64 {
    if elapsed_ms <= 0 {
        return 1.0;
    }
    0.5f64.powf(elapsed_ms as f64 / 1000.0 / half_life.as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn at(seconds: f64) -> Timestamp {
        Timestamp::from_millis(T0.as_millis() + (seconds * 1000.0) as i64)
    }

    fn profile(cost: f64, latency_s: f64) -> Profile {
        Profile {
            cost,
            latency_ms: latency_s * 1000.0,
            p95_latency_ms: latency_s * 2000.0,
        }
    }

    /// A fixed half-life, returning to the type prior, discounting only.
    fn fixed(half_life_s: u64) -> RouteConfig {
        RouteConfig {
            half_life: HalfLife::Fixed(Duration::from_secs(half_life_s)),
            long_run: None,
            change_z: None,
            ..RouteConfig::default()
        }
    }

    #[test]
    fn evidence_halves_with_each_half_life_and_returns_to_the_prior() {
        let mut table = RouteTable::new(fixed(600));
        let p = table.upsert_provider("a", profile(1.0, 10.0));
        table.feedback(p, 80.0, 20.0, at(0.0));
        let now = table.belief(p, at(0.0)).correctness;
        assert!((now.evidence - 100.0).abs() < 1e-9);
        let later = table.belief(p, at(1200.0)).correctness;
        assert!((later.good - 20.0).abs() < 1e-9, "{later:?}");
        assert!((later.bad - 5.0).abs() < 1e-9, "{later:?}");
        let much_later = table.belief(p, at(600.0 * 40.0)).correctness;
        assert!((much_later.mean - Prior::UNINFORMED.mean).abs() < 1e-6);
        // Reading does not age the table; routing does, by the same amount.
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        table.route(|_| true, &RouteLimits::default(), at(1200.0), &mut rng);
        let arm = table.arms(at(1200.0))[p];
        let prior = Prior::UNINFORMED;
        assert!((arm.a - prior.a() - 20.0).abs() < 1e-9, "{arm:?}");
    }

    #[test]
    fn late_evidence_counts_as_already_aged() {
        let mut table = RouteTable::new(fixed(600));
        let p = table.upsert_provider("a", profile(1.0, 10.0));
        table.answered(p, true, at(600.0));
        table.feedback(p, 10.0, 0.0, at(0.0));
        assert!((table.belief(p, at(600.0)).correctness.good - 5.0).abs() < 1e-9);
    }

    #[test]
    fn an_adaptive_half_life_keeps_about_its_memory_whatever_the_volume() {
        let config = RouteConfig {
            half_life: HalfLife::Adaptive {
                memory_events: 1_000.0,
                min: Duration::from_secs(60),
                max: Duration::from_secs(24 * 3600),
            },
            ..RouteConfig::default()
        };
        let mut busy = RouteTable::new(config);
        let mut quiet = RouteTable::new(config);
        let (b, q) = (
            busy.upsert_provider("a", profile(1.0, 10.0)),
            quiet.upsert_provider("a", profile(1.0, 10.0)),
        );
        assert_eq!(busy.half_life(at(0.0)), Duration::from_secs(24 * 3600));
        // 10 events a second for two hours, and 1 every 10 s.
        for s in 0..7200 {
            for _ in 0..10 {
                busy.feedback(b, 1.0, 0.0, at(f64::from(s)));
            }
            if s % 10 == 0 {
                quiet.feedback(q, 1.0, 0.0, at(f64::from(s)));
            }
        }
        let end = at(7200.0);
        // ln 2 × 1,000 / 10 per s ≈ 69 s; ln 2 × 1,000 / 0.1 per s ≈ 6,931 s.
        let (hb, hq) = (
            busy.half_life(end).as_secs_f64(),
            quiet.half_life(end).as_secs_f64(),
        );
        assert!((hb - 69.3).abs() < 3.0, "{hb}");
        assert!((hq - 6931.0).abs() < 400.0, "{hq}");
        let kept = busy.belief(b, end).correctness.evidence;
        assert!((kept - 1_000.0).abs() < 60.0, "{kept}");
    }

    #[test]
    fn faded_evidence_returns_to_the_providers_own_long_run_mean() {
        let config = RouteConfig {
            long_run: Some(Duration::from_secs(24 * 3600)),
            ..fixed(60)
        };
        let mut table = RouteTable::new(config);
        let poor = table.upsert_provider("poor", profile(1.0, 10.0));
        for minute in 0..60 {
            table.feedback(poor, 70.0, 30.0, at(f64::from(minute) * 60.0));
        }
        // An hour later the 1-minute evidence is gone, the 24 h one barely aged.
        let belief = table.belief(poor, at(7200.0)).correctness;
        assert!(belief.evidence < 1e-6, "{belief:?}");
        assert!((belief.mean - 0.70).abs() < 0.01, "{belief:?}");
        let mut typed = RouteTable::new(fixed(60));
        let p = typed.upsert_provider("poor", profile(1.0, 10.0));
        typed.feedback(p, 4200.0, 1800.0, at(0.0));
        assert!((typed.belief(p, at(7200.0)).correctness.mean - 0.9).abs() < 1e-6);
    }

    #[test]
    fn a_change_in_recent_evidence_replaces_the_belief() {
        let detecting = RouteConfig {
            change_z: Some(4.0),
            ..fixed(3600)
        };
        let mut tables = [RouteTable::new(detecting), RouteTable::new(fixed(3600))];
        let mut means = [0.0; 2];
        for (table, mean) in tables.iter_mut().zip(&mut means) {
            let p = table.upsert_provider("p", profile(1.0, 10.0));
            // An hour at 95 %, one event a second; then two minutes at 60 %.
            for s in 0..3600 {
                let good = s % 20 != 0;
                table.feedback(
                    p,
                    f64::from(u8::from(good)),
                    f64::from(u8::from(!good)),
                    at(f64::from(s)),
                );
            }
            for s in 3600..3720 {
                let good = s % 5 < 3;
                table.feedback(
                    p,
                    f64::from(u8::from(good)),
                    f64::from(u8::from(!good)),
                    at(f64::from(s)),
                );
            }
            *mean = table.belief(p, at(3720.0)).correctness.mean;
        }
        // Detection keeps only the recent evidence (aged 8 times faster), itself still part
        // old; discounting alone keeps an hour's worth.
        assert!(means[1] > 0.93, "discounting alone is near 95 %: {means:?}");
        assert!(means[0] < 0.9, "detected: {means:?}");
    }

    #[test]
    fn an_open_breaker_takes_a_provider_out_until_it_half_opens() {
        let mut table = RouteTable::new(RouteConfig {
            explore: 0.0,
            ..fixed(600)
        });
        let cheap = table.upsert_provider("cheap", profile(0.5, 10.0));
        let dear = table.upsert_provider("dear", profile(2.0, 10.0));
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        let limits = RouteLimits::default();
        let first = table.route(|_| true, &limits, at(0.0), &mut rng).unwrap();
        assert_eq!(first.index, cheap);
        for i in 0..Breaker::CONSECUTIVE {
            table.answered(cheap, false, at(1.0 + f64::from(i)));
        }
        assert!(table.belief(cheap, at(30.0)).breaker_open);
        // Ten errors in a minute opened it at 10 s, until 70 s.
        for s in 30..70 {
            let d = table.route(|_| true, &limits, at(f64::from(s)), &mut rng);
            assert_eq!(d.map(|d| (d.index, d.eligible)), Some((dear, 1)), "at {s}");
        }
        assert!(!table.belief(cheap, at(90.0)).breaker_open);
        let back = table.route(|i| i == cheap, &limits, at(90.0), &mut rng);
        assert_eq!(
            back.map(|d| d.index),
            Some(cheap),
            "half-open after a minute"
        );
        assert_eq!(
            table.route(|_| false, &limits, at(90.0), &mut rng),
            None,
            "nothing allowed"
        );
    }

    #[test]
    fn a_decision_explains_itself() {
        let mut table = RouteTable::new(RouteConfig {
            explore: 0.0,
            ..fixed(3600)
        });
        let p = table.upsert_provider("p", profile(2.0, 10.0));
        table.upsert_provider("q", profile(9.0, 10.0));
        table.feedback(p, 900.0, 100.0, at(0.0));
        for _ in 0..100 {
            table.answered(p, true, at(0.0));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let d = table
            .route(|_| true, &RouteLimits::default(), at(0.0), &mut rng)
            .unwrap();
        assert_eq!((d.index, d.pick, d.eligible), (p, Pick::Cheapest, 2));
        let completion = (0.97 * 20.0 + 100.0) / 120.0;
        let correctness = (18.0 + 900.0) / (20.0 + 1000.0);
        assert!((d.completion - completion).abs() < 1e-9);
        assert!((d.mean() - completion * correctness).abs() < 1e-9);
        let (lower, upper) = d.interval();
        assert!(lower < d.mean() && d.mean() < upper && upper - lower < 0.05);
        assert!((d.sampled - d.mean()).abs() < 0.05, "{d:?}");
        assert!((d.cost_per_success - 2.0 / d.sampled).abs() < 1e-9);
        assert!((d.time_to_success_ms - 10_000.0 / d.sampled).abs() < 1e-6);
        let text = d.to_string();
        assert!(text.contains("cheapest_expected_success among 2"), "{text}");
        let belief = table.belief(p, at(0.0));
        assert_eq!(belief.name, "p");
        assert!((belief.success - d.mean()).abs() < 1e-9);
        assert_eq!(table.beliefs(at(0.0)).count(), 2);
    }

    #[test]
    fn upserting_a_known_name_updates_its_profile_and_keeps_its_evidence() {
        let mut table = RouteTable::new(fixed(600));
        let p = table.upsert_provider("a", profile(1.0, 10.0));
        table.feedback(p, 5.0, 1.0, at(0.0));
        assert_eq!(table.upsert_provider("a", profile(2.0, 12.0)), p);
        assert_eq!(table.len(), 1);
        assert_eq!(table.profile(p).cost, 2.0);
        assert_eq!(table.belief(p, at(0.0)).correctness.evidence, 6.0);
        assert_eq!(table.index_of("b"), None);
    }

    /// A provider whose answers turn bad loses its traffic to the next best value within a
    /// few half-lives, and gets it back once it recovers and the exploration finds out.
    #[test]
    fn a_degraded_provider_loses_traffic_and_regains_it_after_recovering() {
        let mut table = RouteTable::new(fixed(120));
        let value = table.upsert_provider("value", profile(1.0, 10.0));
        table.upsert_provider("backup", profile(1.2, 10.0));
        let mut world = Pcg64Mcg::seed_from_u64(4);
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        let limits = RouteLimits::default();
        let mut share = |table: &mut RouteTable, from: u32, to: u32, accuracy: f64| {
            let mut on_value = 0;
            for s in from..to {
                for _ in 0..5 {
                    let now = at(f64::from(s));
                    let d = table.route(|_| true, &limits, now, &mut rng).unwrap();
                    let good = rand::RngExt::random::<f64>(&mut world)
                        < if d.index == value { accuracy } else { 0.9 };
                    table.answered(d.index, true, now);
                    table.feedback(
                        d.index,
                        f64::from(u8::from(good)),
                        f64::from(u8::from(!good)),
                        now,
                    );
                    on_value += usize::from(d.index == value);
                }
            }
            on_value as f64 / (5.0 * f64::from(to - from))
        };
        assert!(share(&mut table, 0, 1200, 0.95) > 0.8);
        share(&mut table, 1200, 1500, 0.60);
        assert!(share(&mut table, 1500, 1800, 0.60) < 0.1);
        share(&mut table, 1800, 2400, 0.95);
        assert!(share(&mut table, 2400, 3000, 0.95) > 0.8);
    }
}
