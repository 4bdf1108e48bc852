//! Reliability scores and routing (research/domain.md §4.2, §5.2). Scores are computed from
//! the evidence buckets every node writes with its reports, so every node shows the same. The
//! router keeps one [`RouteTable`] per captcha type in memory, fed incrementally from the
//! minute buckets (at most once per `refresh`, by whichever request finds it stale), so its
//! beliefs follow the reports of every node within about a second, and a decision never waits
//! for the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;
use verdict_domain::routing::{Belief, Profile, RouteConfig, RouteDecision, RouteTable};
use verdict_domain::routing::{MaturingSilence, RouteLimits, SilenceCredit};
use verdict_domain::scoring::LagDistribution;
use verdict_domain::scoring::{Observed, Score, aged_sum, rank, score, type_prior};
use verdict_domain::scoring::{PUBLISHED_HALF_LIFE, Prior, Weighed};
use verdict_domain::{AccountId, CaptchaType, Family, Timestamp};
use verdict_store::{EvidenceBucket, Resolution, Whitelisted};

use crate::{Engine, EngineError};

/// How long evidence is kept: minutes for the router, hours and days for published scores
/// (eight published half-lives: what is older weighs less than 0.4 %).
pub const MINUTES_KEPT: Duration = Duration::from_secs(2 * 24 * 3600);
pub const HOURS_KEPT: Duration = Duration::from_secs(8 * 7 * 24 * 3600);

/// A provider as the operator describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderProfile {
    pub name: String,
    /// Price of one task, in the platform's currency.
    pub cost: f64,
    pub latency_ms: f64,
    pub p95_latency_ms: f64,
    /// The captcha types it solves; empty: every type it has evidence for.
    pub types: Vec<CaptchaType>,
}

/// How the router is set up.
#[derive(Debug, Clone)]
pub struct RoutingSettings {
    pub providers: Vec<ProviderProfile>,
    pub route: RouteConfig,
    /// How stale the router's view of the evidence may get.
    pub refresh: Duration,
    /// Seeds the router's random draws (exploration, Thompson samples), for reproducible
    /// figures in tests; `None` (the default) seeds them from the OS.
    pub seed: Option<u64>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            route: RouteConfig::default(),
            refresh: Duration::from_secs(1),
            seed: None,
        }
    }
}

/// One provider's published score at one type, with the router's current view of it.
#[derive(Debug, Clone)]
pub struct ProviderScore {
    pub provider: String,
    pub captcha_type: CaptchaType,
    pub score: Score,
    /// What the router believes now (its half-life is minutes to hours, not a week).
    pub routing: Option<Belief>,
    pub profile: Option<ProviderProfile>,
}

/// A provider's published score at one type, at moments over a window, oldest first: every
/// moment of the window, with no score where the provider had none yet.
#[derive(Debug, Clone)]
pub struct ScoreHistory {
    pub captcha_type: CaptchaType,
    pub provider: String,
    pub points: Vec<(Timestamp, Option<Score>)>,
}

/// One worker's published score at one provider and type.
#[derive(Debug, Clone)]
pub struct WorkerScore {
    pub provider: String,
    pub captcha_type: CaptchaType,
    pub score: Score,
    /// Its provider's published mean: where the worker's score starts.
    pub provider_mean: f64,
    /// Accounts that whitelisted it.
    pub whitelisted_by: u64,
}

/// A request for a provider.
#[derive(Debug, Clone, Default)]
pub struct RouteRequest {
    pub captcha_type: Option<CaptchaType>,
    /// Only these providers (all, when absent).
    pub candidates: Option<Vec<String>>,
    pub max_cost: Option<f64>,
    pub max_latency_ms: Option<f64>,
    /// The client the task is for: its whitelisted workers at the chosen provider are named.
    pub account: Option<AccountId>,
}

/// The provider chosen and why.
#[derive(Debug, Clone)]
pub struct RouteOutcome {
    pub captcha_type: CaptchaType,
    pub provider: String,
    pub decision: RouteDecision,
    pub profile: Profile,
    /// The half-life the router's beliefs age with now.
    pub half_life: Duration,
    /// The client's whitelisted workers at that provider.
    pub preferred_workers: Vec<String>,
}

/// A minute bucket's sums as last fed.
#[derive(Debug, Clone, Copy, Default)]
struct Fed {
    good: f64,
    bad: f64,
    exposure: f64,
    taken: f64,
}

/// The router's tables and how far the evidence has been read into them.
#[derive(Debug)]
struct RouterState {
    tables: HashMap<CaptchaType, RouteTable>,
    /// Sums already fed per (type, provider, minute), for the minutes still filling.
    fed: HashMap<(CaptchaType, String, i64), Fed>,
    /// Silence still maturing per (type, provider) and minute, and what reports took back.
    silence: MaturingSilence<(CaptchaType, String)>,
    /// The first minute the next refresh reads.
    next_minute: Option<i64>,
    refreshed_at: Option<Timestamp>,
    rng: Pcg64Mcg,
}

/// The router, shared by every request of a node.
#[derive(Debug)]
pub struct Router {
    settings: RoutingSettings,
    state: Mutex<RouterState>,
    refreshing: AtomicBool,
}

impl Router {
    pub fn new(settings: RoutingSettings) -> Self {
        let rng = match settings.seed {
            Some(seed) => Pcg64Mcg::seed_from_u64(seed),
            None => {
                let mut seed = [0u8; 16];
                // A fixed seed if the OS has no randomness: routing still works, only predictably.
                let _ = getrandom::fill(&mut seed);
                Pcg64Mcg::from_seed(seed)
            }
        };
        Self {
            settings,
            state: Mutex::new(RouterState {
                tables: HashMap::new(),
                fed: HashMap::new(),
                silence: MaturingSilence::new(),
                next_minute: None,
                refreshed_at: None,
                rng,
            }),
            refreshing: AtomicBool::new(false),
        }
    }

    pub fn settings(&self) -> &RoutingSettings {
        &self.settings
    }

    fn profile(&self, provider: &str) -> Option<&ProviderProfile> {
        self.settings.providers.iter().find(|p| p.name == provider)
    }

    fn table_profile(&self, provider: &str) -> Profile {
        match self.profile(provider) {
            Some(p) => Profile {
                cost: p.cost,
                latency_ms: p.latency_ms,
                p95_latency_ms: p.p95_latency_ms,
            },
            // Unpriced, untimed: the router compares it on success alone.
            None => Profile {
                cost: 1.0,
                latency_ms: 0.0,
                p95_latency_ms: 0.0,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RouterState> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The table of `captcha_type`, created with the operator's providers for it.
    fn table<'a>(
        &self,
        tables: &'a mut HashMap<CaptchaType, RouteTable>,
        t: CaptchaType,
    ) -> &'a mut RouteTable {
        tables.entry(t).or_insert_with(|| {
            let mut table = RouteTable::new(self.settings.route);
            for p in &self.settings.providers {
                if p.types.is_empty() || p.types.contains(&t) {
                    table.upsert_provider(&p.name, self.table_profile(&p.name));
                }
            }
            table
        })
    }

    /// The provider's index in the type's table, added with its profile if new.
    fn index_in(
        &self,
        tables: &mut HashMap<CaptchaType, RouteTable>,
        t: CaptchaType,
        provider: &str,
    ) -> usize {
        let profile = self.table_profile(provider);
        let table = self.table(tables, t);
        match table.index_of(provider) {
            Some(i) => i,
            None => table.upsert_provider(provider, profile),
        }
    }

    /// Feeds newly stored minute buckets into the tables: their reports' evidence as it
    /// arrives, and their silence as it matures (`scoring::silence`).
    fn feed(
        &self,
        buckets: Vec<EvidenceBucket>,
        read_from: i64,
        now: Timestamp,
        lags: &HashMap<Family, LagDistribution>,
    ) {
        let mut state = self.lock();
        let state = &mut *state;
        let mut newest = read_from;
        for b in buckets {
            newest = newest.max(b.bucket);
            let key = (b.captcha_type, b.provider.clone(), b.bucket);
            let fed = state.fed.get(&key).copied().unwrap_or_default();
            let (good, bad) = (b.good - fed.good, b.bad - fed.bad);
            let (exposure, taken) = (b.exposure - fed.exposure, b.taken - fed.taken);
            state.fed.insert(
                key.clone(),
                Fed {
                    good: b.good,
                    bad: b.bad,
                    exposure: b.exposure,
                    taken: b.taken,
                },
            );
            let minute = Resolution::Minute.start(b.bucket);
            // Most refreshes see no new exposure in most buckets: no key built for those.
            if exposure > 0.0 {
                let key = (b.captcha_type, b.provider.clone());
                state.silence.expose(key, minute, exposure);
            }
            if taken > 0.0 {
                let key = (b.captcha_type, b.provider.clone());
                state.silence.take_back(key, taken);
            }
            if good <= 0.0 && bad <= 0.0 {
                continue;
            }
            // The middle of the minute, never ahead of now.
            let at = Resolution::Minute
                .start(b.bucket)
                .saturating_add(Duration::from_secs(30))
                .min(now);
            let index = self.index_in(&mut state.tables, b.captcha_type, &b.provider);
            state.tables.entry(b.captcha_type).and_modify(|table| {
                table.feedback(index, good, bad, at);
            });
        }
        // Silence credited as far as reports would have come by now, at the minute it is
        // about, less what reports took back.
        let forget_before =
            Resolution::Minute.start(Resolution::Minute.bucket(now.saturating_sub(MINUTES_KEPT)));
        let credits = state
            .silence
            .credit(now, forget_before, |(t, _)| lags.get(&t.family()));
        for SilenceCredit {
            key: (t, provider),
            at,
            good,
        } in credits
        {
            let index = self.index_in(&mut state.tables, t, &provider);
            state.tables.entry(t).and_modify(|table| {
                table.feedback(index, good, 0.0, at);
            });
        }
        // The last minute read may still grow (and the one before, on a slow node): read
        // both again next time, and forget what was fed for older ones.
        let next = newest.max(Resolution::Minute.bucket(now)) - 1;
        state.fed.retain(|(_, _, minute), _| *minute >= next);
        state.next_minute = Some(next);
        state.refreshed_at = Some(now);
    }
}

/// A bucket's evidence as scores read it at `now`: its reports' and its silence's.
fn observed(
    b: &EvidenceBucket,
    resolution: Resolution,
    now: Timestamp,
    lags: &HashMap<Family, LagDistribution>,
) -> Observed {
    let plain = Observed {
        at: resolution.start(b.bucket),
        good: b.good,
        bad: b.bad,
        reports: b.reports,
        silent: 0.0,
    };
    match lags.get(&b.captcha_type.family()) {
        Some(lags) => plain.with_silence(
            b.exposure,
            b.taken,
            Duration::from_millis(resolution.millis().unsigned_abs()),
            now,
            lags,
        ),
        None => plain,
    }
}

impl Engine {
    /// Brings the router's tables up to date with the stored evidence when they are older
    /// than the refresh interval. One request per node does the reading; the others route on
    /// the tables as they are.
    async fn refresh_router(&self) -> Result<(), EngineError> {
        let router = &self.parts.router;
        let now = self.parts.clock.now();
        let (due, from) = {
            let state = router.lock();
            let stale = state.refreshed_at.is_none_or(|at| {
                now.millis_since(at) >= router.settings.refresh.as_millis() as i64
            });
            let from = state
                .next_minute
                .unwrap_or_else(|| Resolution::Minute.bucket(now.saturating_sub(MINUTES_KEPT)));
            (stale, from)
        };
        if !due || router.refreshing.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let read = match self
            .parts
            .store
            .provider_evidence(Resolution::Minute, from)
            .await
        {
            Ok(buckets) => self.lag_distributions().await.map(|lags| (buckets, lags)),
            Err(e) => Err(e.into()),
        };
        router.refreshing.store(false, Ordering::Release);
        let (buckets, lags) = read?;
        router.feed(buckets, from, now, &lags);
        Ok(())
    }

    /// Chooses the provider for one task.
    pub async fn route(&self, request: RouteRequest) -> Result<RouteOutcome, EngineError> {
        let captcha_type = request
            .captcha_type
            .ok_or_else(|| EngineError::Invalid("type is required".into()))?;
        for (name, value) in [
            ("max_cost", request.max_cost),
            ("max_latency_ms", request.max_latency_ms),
        ] {
            if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(EngineError::Invalid(format!(
                    "{name} must be a non-negative number"
                )));
            }
        }
        // A database that cannot be read leaves the router on the evidence it has: routing
        // goes on, a little staler.
        if let Err(e) = self.refresh_router().await {
            tracing::warn!(error = %crate::chain(&e), "router evidence not refreshed");
        }
        let now = self.parts.clock.now();
        let router = &self.parts.router;
        let (provider, decision, profile, half_life) = {
            let mut state = router.lock();
            let state = &mut *state;
            let table = router.table(&mut state.tables, captcha_type);
            if table.is_empty() {
                let none = crate::metrics::NO_PROVIDER.to_owned();
                crate::metrics::route(captcha_type, "no_provider", none);
                return Err(EngineError::NotFound);
            }
            let limits = RouteLimits {
                max_cost: request.max_cost,
                max_latency_ms: request.max_latency_ms,
                success_budget_ms: None,
            };
            let decision = match request.candidates.as_deref() {
                None => table.route(|_| true, &limits, now, &mut state.rng),
                Some(candidates) => {
                    let allowed: Vec<bool> = (0..table.len())
                        .map(|i| candidates.iter().any(|n| n == table.name(i)))
                        .collect();
                    table.route(|i| allowed[i], &limits, now, &mut state.rng)
                }
            }
            .ok_or_else(|| {
                let none = crate::metrics::NO_PROVIDER.to_owned();
                crate::metrics::route(captcha_type, "no_eligible_provider", none);
                EngineError::conflict("no provider for this type fits the candidates and limits")
            })?;
            let index = decision.index;
            let name = table.name(index);
            let label = match router.profile(name) {
                Some(_) => name,
                None => crate::metrics::UNCONFIGURED,
            };
            crate::metrics::route(captcha_type, decision.pick.as_str(), label.to_owned());
            (
                name.to_owned(),
                decision,
                table.profile(index),
                table.half_life(now),
            )
        };
        let preferred_workers = match request.account {
            Some(account) => self
                .parts
                .store
                .whitelist(account)
                .await?
                .into_iter()
                .filter(|w: &Whitelisted| w.provider == provider)
                .map(|w| w.worker)
                .collect(),
            None => Vec::new(),
        };
        Ok(RouteOutcome {
            captcha_type,
            provider,
            decision,
            profile,
            half_life,
            preferred_workers,
        })
    }

    /// Every provider's published score, per type (or at one type), best first within a type.
    pub async fn provider_scores(
        &self,
        only: Option<CaptchaType>,
    ) -> Result<Vec<ProviderScore>, EngineError> {
        let lags = self.lag_distributions().await?;
        self.provider_scores_aged_by(only, &lags).await
    }

    /// [`Engine::provider_scores`], with silence aged by `lags` already read.
    async fn provider_scores_aged_by(
        &self,
        only: Option<CaptchaType>,
        lags: &HashMap<Family, LagDistribution>,
    ) -> Result<Vec<ProviderScore>, EngineError> {
        let now = self.parts.clock.now();
        let from = Resolution::Hour.bucket(now.saturating_sub(HOURS_KEPT));
        let buckets = self
            .parts
            .store
            .provider_evidence(Resolution::Hour, from)
            .await?;
        if let Err(e) = self.refresh_router().await {
            tracing::warn!(error = %crate::chain(&e), "router evidence not refreshed");
        }
        let published = self.published_scores(&buckets, only, now, lags);
        let state = self.parts.router.lock();
        let mut scores: Vec<ProviderScore> = published
            .into_iter()
            .map(|(t, provider, score)| {
                let routing = state
                    .tables
                    .get(&t)
                    .and_then(|table| table.index_of(&provider).map(|i| table.belief(i, now)));
                ProviderScore {
                    profile: self.parts.router.profile(&provider).cloned(),
                    score,
                    provider,
                    captcha_type: t,
                    routing,
                }
            })
            .collect();
        drop(state);
        scores.sort_by(|a, b| {
            a.captcha_type
                .as_str()
                .cmp(b.captcha_type.as_str())
                .then_with(|| rank(&a.score.reliability, &b.score.reliability))
                .then_with(|| a.provider.cmp(&b.provider))
        });
        Ok(scores)
    }

    /// Every provider's published score as it stood at `at`, from the hour buckets that had
    /// begun by then (configured providers without evidence at their prior).
    fn published_scores(
        &self,
        buckets: &[EvidenceBucket],
        only: Option<CaptchaType>,
        at: Timestamp,
        lags: &HashMap<Family, LagDistribution>,
    ) -> Vec<(CaptchaType, String, Score)> {
        let mut by_subject: HashMap<(CaptchaType, String), Vec<Observed>> = HashMap::new();
        for b in buckets.iter().filter(|b| {
            only.is_none_or(|t| t == b.captcha_type) && Resolution::Hour.start(b.bucket) <= at
        }) {
            by_subject
                .entry((b.captcha_type, b.provider.clone()))
                .or_default()
                .push(observed(b, Resolution::Hour, at, lags));
        }
        for p in &self.parts.router.settings.providers {
            for t in &p.types {
                if only.is_none_or(|o| o == *t) {
                    by_subject.entry((*t, p.name.clone())).or_default();
                }
            }
        }
        let mut pooled: HashMap<CaptchaType, Weighed> = HashMap::new();
        for ((t, _), observed) in &by_subject {
            let sum = aged_sum(observed, at, PUBLISHED_HALF_LIFE);
            let p = pooled.entry(*t).or_default();
            p.good += sum.good;
            p.bad += sum.bad;
        }
        by_subject
            .into_iter()
            .map(|((t, provider), observed)| {
                let prior = type_prior(pooled.get(&t).copied().unwrap_or_default());
                let score = score(
                    prior,
                    &observed,
                    at,
                    PUBLISHED_HALF_LIFE,
                    &self.parts.policy.reporting,
                );
                (t, provider, score)
            })
            .collect()
    }

    /// Each provider's published score at `points` moments evenly spread over the `window`
    /// up to now (the last one now), per type (or at one type): how reliability moved.
    pub async fn provider_history(
        &self,
        only: Option<CaptchaType>,
        window: Duration,
        points: usize,
    ) -> Result<Vec<ScoreHistory>, EngineError> {
        let points = points.clamp(2, 500);
        let now = self.parts.clock.now();
        let start = now.saturating_sub(window);
        let from = Resolution::Hour.bucket(start.saturating_sub(HOURS_KEPT));
        let buckets = self
            .parts
            .store
            .provider_evidence(Resolution::Hour, from)
            .await?;
        let lags = self.lag_distributions().await?;
        let step = window.as_millis() as i64 / (points as i64 - 1);
        let moments: Vec<Timestamp> = (0..points)
            .map(|n| Timestamp::from_millis(start.as_millis() + step * n as i64).min(now))
            .collect();
        let mut history: HashMap<(CaptchaType, String), Vec<_>> = HashMap::new();
        for (n, at) in moments.iter().enumerate() {
            for (t, provider, score) in self.published_scores(&buckets, only, *at, &lags) {
                let points = history
                    .entry((t, provider))
                    .or_insert_with(|| moments.iter().map(|m| (*m, None)).collect());
                points[n].1 = Some(score);
            }
        }
        let mut history: Vec<ScoreHistory> = history
            .into_iter()
            .map(|((captcha_type, provider), points)| ScoreHistory {
                captcha_type,
                provider,
                points,
            })
            .collect();
        history.sort_by(|a, b| {
            (a.captcha_type.as_str(), a.provider.as_str())
                .cmp(&(b.captcha_type.as_str(), b.provider.as_str()))
        });
        Ok(history)
    }

    /// The share of tasks of `captcha_type` the router would send to each provider now, from
    /// `draws` decisions on a copy of its table (the live router's draws are left alone).
    /// Best share first; `NotFound` when no provider serves the type.
    pub async fn router_shares(
        &self,
        captcha_type: CaptchaType,
        draws: u32,
    ) -> Result<Vec<(String, f64)>, EngineError> {
        if let Err(e) = self.refresh_router().await {
            tracing::warn!(error = %crate::chain(&e), "router evidence not refreshed");
        }
        let now = self.parts.clock.now();
        let mut table = {
            let mut state = self.parts.router.lock();
            self.parts
                .router
                .table(&mut state.tables, captcha_type)
                .clone()
        };
        if table.is_empty() {
            return Err(EngineError::NotFound);
        }
        // A fixed seed: the same beliefs always show the same shares.
        let mut rng = Pcg64Mcg::seed_from_u64(0x5ba1e5);
        let mut counts = vec![0u32; table.len()];
        let draws = draws.max(1);
        for _ in 0..draws {
            if let Some(d) = table.route(|_| true, &RouteLimits::default(), now, &mut rng) {
                counts[d.index] += 1;
            }
        }
        let mut shares: Vec<(String, f64)> = counts
            .iter()
            .enumerate()
            .map(|(i, &n)| (table.name(i).to_owned(), f64::from(n) / f64::from(draws)))
            .collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(shares)
    }

    /// A worker's published scores, per provider and type. `NotFound` without any evidence.
    pub async fn worker_scores(&self, worker: &str) -> Result<Vec<WorkerScore>, EngineError> {
        let now = self.parts.clock.now();
        let from = Resolution::Day.bucket(now.saturating_sub(HOURS_KEPT));
        let buckets = self.parts.store.worker_evidence(worker, from).await?;
        if buckets.is_empty() {
            return Err(EngineError::NotFound);
        }
        let lags = self.lag_distributions().await?;
        let providers = self.provider_scores_aged_by(None, &lags).await?;
        let mut by_subject: HashMap<(String, CaptchaType), Vec<Observed>> = HashMap::new();
        for b in &buckets {
            by_subject
                .entry((b.provider.clone(), b.captcha_type))
                .or_default()
                .push(observed(b, Resolution::Day, now, &lags));
        }
        let mut scores = Vec::with_capacity(by_subject.len());
        for ((provider, t), observed) in by_subject {
            let provider_mean = providers
                .iter()
                .find(|p| p.provider == provider && p.captcha_type == t)
                .map_or(Prior::UNINFORMED.mean, |p| p.score.reliability.mean);
            scores.push(WorkerScore {
                whitelisted_by: self.parts.store.whitelisted_by(&provider, worker).await?,
                score: score(
                    Prior::worker(provider_mean),
                    &observed,
                    now,
                    PUBLISHED_HALF_LIFE,
                    &self.parts.policy.reporting,
                ),
                provider,
                captcha_type: t,
                provider_mean,
            });
        }
        scores.sort_by(|a, b| {
            (a.provider.as_str(), a.captcha_type.as_str())
                .cmp(&(b.provider.as_str(), b.captcha_type.as_str()))
        });
        Ok(scores)
    }

    /// Drops evidence past its retention. Part of the hourly maintenance.
    pub async fn prune_evidence(&self) -> Result<u64, EngineError> {
        let now = self.parts.clock.now();
        Ok(self
            .parts
            .store
            .prune_evidence(
                Resolution::Minute.bucket(now.saturating_sub(MINUTES_KEPT)),
                Resolution::Hour.bucket(now.saturating_sub(HOURS_KEPT)),
                Resolution::Day.bucket(now.saturating_sub(HOURS_KEPT)),
            )
            .await?)
    }
}
