//! The simulation's clock: minute by minute, accounts complete tasks that verdict ingests,
//! clients report (honestly or not) after a delay, the platform's second solvers answer the
//! re-check queue, and once an hour verdict's maintenance runs, as under `verdict serve`.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Poisson};
use rand_pcg::Pcg64Mcg;
use verdict_domain::{Amount, Policy, ReportKind, TaskInput, Timestamp, Verdict};

use crate::config::SimConfig;
use crate::metrics::{Claim, Class, Ledger, Metrics, TrustRevoked};
use crate::platform::{Answer, Judged, Platform, Sent, SimReport};
use crate::scores::ScoreCheck;
use crate::world::{
    DAY_MS, HOUR_MS, MINUTE_MS, Providers, SimAccount, Strategy, TYPES, Traits, Truth, type_index,
};

/// 2026-11-01T00:00:00Z: the simulated platform opens.
pub const START: i64 = 1_793_491_200_000;

/// Reasons by which the screen puts an account on ignored standing.
const FLAG_REASONS: [&str; 2] = ["rate_above_cohort", "rate_above_own_history"];
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Window gaming: false reports per good solution, and how many get a duplicate or a
/// conflicting second report.
const GAMING_RATE: f64 = 0.2;
const GAMING_DUPLICATES: f64 = 0.3;
const GAMING_CONFLICTS: f64 = 0.1;
/// Correction poisoning: good answers reported with a plausible wrong correction.
const POISON_RATE: f64 = 0.2;
/// Honest clients of image and audio send the right answer with half of their reports.
const HONEST_CORRECTIONS: f64 = 0.5;

/// A report due at `at`.
#[derive(Debug)]
struct Event {
    at: i64,
    seq: u64,
    account: usize,
    /// Index of the task's captcha type in `TYPES`.
    ty: usize,
    /// Index of the provider that solved it.
    provider: usize,
    report: SimReport,
    class: Class,
    cost: i64,
    verifiable: bool,
    in_window: bool,
    scored: bool,
    follow_up: FollowUp,
    /// The true answer of an image or audio task, for the second solve.
    true_answer: Option<String>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// What a window-gaming account sends after its report.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FollowUp {
    None,
    Duplicate,
    Conflict,
}

/// A report held for a second solve, and what the simulation knows about it.
#[derive(Debug)]
struct Held {
    account: usize,
    class: Class,
    cost: i64,
    verifiable: bool,
    in_window: bool,
    scored: bool,
    true_answer: String,
    correction: bool,
}

#[derive(Debug)]
pub struct Simulation<P: Platform> {
    config: SimConfig,
    policy: Policy,
    platform: P,
    rng: Pcg64Mcg,
    providers: Providers,
    delay: LogNormal<f64>,
    accounts: Vec<SimAccount>,
    /// Sybils not yet created: (creation time, index in `accounts`).
    sybil_schedule: Vec<(i64, usize)>,
    next_task: u64,
    minute_tasks: Vec<Vec<TaskInput>>,
    minute_counts: Vec<Vec<(usize, usize)>>,
    events: BinaryHeap<Reverse<Event>>,
    seq: u64,
    held: HashMap<u64, Held>,
    /// Recent tasks of each account, for probes by other accounts.
    recent: Vec<(u64, usize)>,
    reported: BTreeSet<usize>,
    ledger: Ledger,
    scores: ScoreCheck,
    /// Accounts whose trust the operator took away on reviewing their screen flags.
    untrusted: Vec<usize>,
    scored_from: i64,
    end: i64,
}

/// The hour of each day the simulated operator reviews the trusted accounts' screen flags.
const OPERATOR_REVIEW_HOUR: i64 = 9;

fn cost_text(micros: i64) -> String {
    Amount::from_micros(micros).to_string()
}

impl<P: Platform> Simulation<P> {
    pub fn new(config: SimConfig, policy: Policy, platform: P) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
        let traits = Traits::new(config.volume_cap);
        let scored_from = START + i64::from(config.warmup_days) * DAY_MS;
        let end = START + i64::from(config.total_days()) * DAY_MS;
        let mut accounts = Vec::new();
        let mut draw = |rng: &mut Pcg64Mcg, strategy: Option<Strategy>, at_least: f64| {
            let id = accounts.len();
            let mut account = SimAccount {
                id: 0,
                key: String::new(),
                strategy,
                trusted: false,
                types: traits.types(rng),
                per_day: traits.per_day(rng, at_least),
                report_propensity: traits.propensity(rng),
                site_failure: traits.site_failure(rng),
                confirms: rng.random_bool(config.confirm_share),
                outage: None,
                abuse_from: i64::MAX,
                active: (START, end),
                budget: None,
                tasks_done: 0,
            };
            if strategy == Some(Strategy::CorrectionPoisoning) {
                account.types = vec![
                    (verdict_domain::CaptchaType::Image, 0.85),
                    (verdict_domain::CaptchaType::Audio, 0.15),
                ];
            }
            accounts.push(account);
            id
        };
        for _ in 0..config.honest {
            draw(&mut rng, None, 0.0);
        }
        for strategy in Strategy::standard() {
            for _ in 0..config.per_strategy {
                draw(&mut rng, Some(strategy), 0.0);
            }
        }
        let mut sybil_schedule = Vec::new();
        for day in 0..config.days {
            for _ in 0..config.sybils_per_day {
                // Sybils work fast: their 150 tasks take hours, not days.
                let index = draw(&mut rng, Some(Strategy::Sybil), 300.0);
                let from = scored_from + i64::from(day) * DAY_MS + rng.random_range(0..DAY_MS);
                sybil_schedule.push((from, index));
            }
        }
        let abuse_span = (DAY_MS * 10)
            .min(i64::from(config.days) * DAY_MS / 3)
            .max(HOUR_MS);
        let honest = config.honest;
        let trusted = (honest as f64 * config.trusted_share).round() as usize;
        for (i, account) in accounts.iter_mut().enumerate() {
            match account.strategy {
                None => {
                    account.trusted = i < trusted;
                    if rng.random_bool(config.outage_share) {
                        let from = rng.random_range(scored_from..end - 12 * HOUR_MS);
                        account.outage = Some((from, from + 12 * HOUR_MS));
                    }
                }
                Some(Strategy::Sybil) => {}
                Some(_) => {
                    let offset = rng.random_range(0..abuse_span);
                    account.abuse_from =
                        scored_from + if config.abuse_at_start { 0 } else { offset };
                }
            }
        }
        for &(from, index) in &sybil_schedule {
            let sybil = &mut accounts[index];
            sybil.abuse_from = from;
            sybil.active = (from, end);
            sybil.budget = Some(config.sybil_tasks);
        }
        // The operator's mistakes: some subtle abusers were trusted before they turned.
        let contaminated =
            (trusted as f64 * config.contamination / (1.0 - config.contamination)).round() as usize;
        let subtle: Vec<usize> = accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                matches!(
                    a.strategy,
                    Some(Strategy::ReportPercent(_) | Strategy::SlowRamp | Strategy::Ring)
                )
            })
            .map(|(i, _)| i)
            .collect();
        for k in 0..contaminated.min(subtle.len()) {
            let pick = subtle[(k * subtle.len()) / contaminated.max(1)];
            accounts[pick].trusted = true;
        }
        sybil_schedule.sort_unstable();
        let ledger = Ledger::new(&accounts, &config);
        Self {
            policy,
            platform,
            rng,
            providers: Providers::standard(),
            // Median 20 s; 2 % beyond a 60 s window (domain.md §6.1).
            delay: LogNormal::new(20f64.ln(), 0.535).expect("valid"),
            accounts,
            sybil_schedule,
            next_task: 1,
            minute_tasks: vec![Vec::new(); 60],
            minute_counts: vec![Vec::new(); 60],
            events: BinaryHeap::new(),
            seq: 0,
            held: HashMap::new(),
            recent: Vec::new(),
            reported: BTreeSet::new(),
            ledger,
            scores: ScoreCheck::default(),
            untrusted: Vec::new(),
            scored_from,
            end,
            config,
        }
    }

    /// Runs the whole simulation and returns its metrics.
    pub async fn run(mut self) -> anyhow::Result<Metrics> {
        let started = Instant::now();
        self.platform.set_time(Timestamp::from_millis(START)).await;
        for i in 0..self.accounts.len() {
            if self.accounts[i].strategy != Some(Strategy::Sybil) {
                self.open_account(i).await?;
            }
        }
        let mut t = START;
        while t < self.end {
            if (t - START) % HOUR_MS == 0 {
                self.hour(t).await?;
                if (t - START) % DAY_MS == 0 && t > START {
                    tracing::info!(
                        day = (t - START) / DAY_MS,
                        tasks = self.next_task - 1,
                        seconds = started.elapsed().as_secs(),
                        "simulated a day"
                    );
                }
            }
            self.minute(t).await?;
            t += MINUTE_MS;
        }
        self.platform
            .set_time(Timestamp::from_millis(self.end))
            .await;
        self.platform.maintain().await?;
        self.poll_ignores().await?;
        for (task, held) in std::mem::take(&mut self.held) {
            if let Some(judged) = self.platform.final_decision(task).await? {
                self.settle(&held, &judged, task);
            }
        }
        if self.policy.clawback {
            for i in 0..self.accounts.len() {
                let reversals = self.platform.reversals(self.accounts[i].id).await?;
                self.ledger.reversed(i, &reversals);
            }
        }
        // Every account's balance is what its tasks' net refunds add up to, in every world.
        let mut differing = Vec::new();
        for account in &self.accounts {
            let (balance, entries) = self.platform.money(account.id).await?;
            if balance != entries {
                differing.push(format!(
                    "account {}: {balance} against {entries}",
                    account.id
                ));
            }
        }
        anyhow::ensure!(
            differing.is_empty(),
            "balances that differ from their ledgers (micro-units): {}",
            differing.join("; ")
        );
        let shown = self.platform.provider_scores().await?;
        let providers = &self.providers;
        let scores = self.scores.finish(&shown, self.end, |provider, t| {
            let p = providers.names.iter().position(|n| n == provider)?;
            let t = verdict_domain::CaptchaType::parse(t).ok()?;
            Some(providers.accuracy[p][type_index(t)])
        });
        let mut metrics = self.ledger.finish(
            &self.config,
            &self.accounts,
            self.scored_from,
            self.end,
            self.next_task - 1,
            started.elapsed(),
        );
        metrics.add_scores(scores);
        metrics.run.balances_checked = self.accounts.len();
        metrics.trust_revoked = TrustRevoked {
            honest: self
                .untrusted
                .iter()
                .filter(|&&i| !self.accounts[i].is_abusive())
                .count(),
            abusive: self
                .untrusted
                .iter()
                .filter(|&&i| self.accounts[i].is_abusive())
                .count(),
        };
        Ok(metrics)
    }

    async fn open_account(&mut self, i: usize) -> anyhow::Result<()> {
        let account = &self.accounts[i];
        let name = match account.strategy {
            None => format!("honest-{i}"),
            Some(s) => format!("{}-{i}", s.name().replace('%', "pct")),
        };
        let (id, key) = self.platform.create_account(&name, account.trusted).await?;
        let account = &mut self.accounts[i];
        account.id = id;
        account.key = key;
        Ok(())
    }

    /// The top of an hour: maintenance, new sybils, and the hour's tasks planned.
    async fn hour(&mut self, t: i64) -> anyhow::Result<()> {
        self.platform.set_time(Timestamp::from_millis(t)).await;
        self.platform.maintain().await?;
        self.poll_ignores().await?;
        if (t - START) % DAY_MS == OPERATOR_REVIEW_HOUR * HOUR_MS {
            self.operator_review().await?;
        }
        while let Some(&(from, index)) = self.sybil_schedule.first()
            && from < t + HOUR_MS
        {
            self.sybil_schedule.remove(0);
            self.open_account(index).await?;
        }
        self.recent.clear();
        for i in 0..self.accounts.len() {
            self.plan_hour(i, t);
        }
        for i in 0..self.accounts.len() {
            if self.accounts[i].abusing_at(t) == Some(Strategy::WindowGaming) {
                self.plan_probes(i, t);
            }
        }
        Ok(())
    }

    /// The operator's morning round: a trusted account the screen would have flagged loses its
    /// trust (so that the screen judges it from then on). The operator cannot tell an honest
    /// client's broken integration from abuse by the flag alone, and takes no chances.
    async fn operator_review(&mut self) -> anyhow::Result<()> {
        for i in 0..self.accounts.len() {
            let account = &self.accounts[i];
            if !account.trusted || account.id == 0 || self.untrusted.contains(&i) {
                continue;
            }
            if self.platform.screen_flagged(account.id).await? {
                self.platform.untrust(account.id).await?;
                self.untrusted.push(i);
            }
        }
        Ok(())
    }

    /// Which accounts were put on ignored standing since the last look, and when.
    async fn poll_ignores(&mut self) -> anyhow::Result<()> {
        for i in std::mem::take(&mut self.reported) {
            let (count, last) = self.platform.ignores(self.accounts[i].id).await?;
            if let Some(last) = last {
                self.ledger.ignored(i, count, last.as_millis());
            }
        }
        Ok(())
    }

    fn plan_hour(&mut self, i: usize, hour: i64) {
        let account = &self.accounts[i];
        let from = account.active.0.max(hour);
        let to = account.active.1.min(hour + HOUR_MS);
        if from >= to || account.id == 0 {
            return;
        }
        let remaining = account.budget.map_or(u64::MAX, |b| b - account.tasks_done);
        if remaining == 0 {
            return;
        }
        let lambda = account.per_day * (to - from) as f64 / DAY_MS as f64;
        let count = Poisson::new(lambda)
            .map_or(0, |p| p.sample(&mut self.rng) as u64)
            .min(remaining);
        self.accounts[i].tasks_done += count;
        for _ in 0..count {
            let at = self.rng.random_range(from..to);
            self.plan_task(i, at);
        }
    }

    fn plan_task(&mut self, i: usize, at: i64) {
        let id = self.next_task;
        self.next_task += 1;
        let r: f64 = self.rng.random();
        let account = self.accounts[i].clone();
        let account = &account;
        let mut acc = 0.0;
        let mut captcha_type = account.types[account.types.len() - 1].0;
        for &(t, w) in &account.types {
            acc += w;
            if r < acc {
                captcha_type = t;
                break;
            }
        }
        let ty = type_index(captcha_type);
        let family = captcha_type.family();
        let verifiable = family.is_verifiable();
        let provider = self.providers.draw(ty, &mut self.rng);
        let correct = self.rng.random_bool(self.providers.accuracy[provider][ty]);
        let outage = account.in_outage(at);
        let truth = if !correct {
            Truth::Wrong
        } else if outage || (!verifiable && self.rng.random_bool(account.site_failure)) {
            Truth::SiteRejected
        } else {
            Truth::Worked
        };
        let cost = TYPES[ty].2;
        let (true_answer, answer) = if verifiable {
            let truth_text = self.random_answer();
            let answer = if correct {
                truth_text.clone()
            } else {
                self.mutate(&truth_text)
            };
            (Some(truth_text), Some(answer))
        } else {
            (None, None)
        };
        let minute = ((at - at.div_euclid(HOUR_MS) * HOUR_MS) / MINUTE_MS) as usize;
        self.minute_tasks[minute].push(TaskInput {
            id: Some(id.to_string()),
            account: Some(account.id.to_string()),
            captcha_type: Some(captcha_type.as_str().to_owned()),
            provider: Some(self.providers.names[provider].clone()),
            worker: None,
            answer: answer.clone(),
            cost: Some(cost_text(cost)),
            completed_at: Some(Timestamp::from_millis(at).to_rfc3339()),
        });
        self.minute_counts[minute].push((i, ty));
        if self.recent.len() < 64 {
            self.recent.push((id, i));
        }

        let window = self.policy.windows.window("native", family).as_millis() as i64;
        let scored = at >= self.scored_from;
        let strategy = account.abusing_at(at);
        let failed = truth != Truth::Worked;
        let honest_report = failed && self.rng.random_bool(account.report_propensity);
        let confirms = account.confirms;
        let honest_class = Class::Genuine { truth, outage };
        let send = |sim: &mut Self,
                    delay: i64,
                    kind: ReportKind,
                    correction: Option<String>,
                    class: Class,
                    follow_up: FollowUp| {
            let seq = sim.seq;
            sim.seq += 1;
            sim.events.push(Reverse(Event {
                at: at + delay,
                seq,
                account: i,
                ty,
                provider,
                report: SimReport {
                    task: id,
                    kind,
                    correction,
                },
                class,
                cost,
                verifiable,
                in_window: delay <= window,
                scored,
                follow_up,
                true_answer: true_answer.clone(),
            }));
        };
        let delay = (self.delay.sample(&mut self.rng) * 1000.0) as i64;
        let honest_correction = match (&true_answer, truth) {
            (Some(t), Truth::Wrong) if self.rng.random_bool(HONEST_CORRECTIONS) => Some(t.clone()),
            _ => None,
        };
        let x = match strategy {
            Some(Strategy::ReportPercent(x)) => x,
            Some(Strategy::SlowRamp) => {
                let since = (at - self.accounts[i].abuse_from) as f64;
                0.4 * (since / (14 * DAY_MS) as f64).min(1.0)
            }
            // The ring reports in bursts: one hour in six at 48 %, 8 % on average.
            Some(Strategy::Ring) if at.div_euclid(HOUR_MS) % 6 == 0 => 0.48,
            _ => 0.0,
        };
        match strategy {
            Some(Strategy::AlwaysReport | Strategy::Sybil) => {
                let class = if failed { honest_class } else { Class::False };
                send(
                    self,
                    delay,
                    ReportKind::Incorrect,
                    None,
                    class,
                    FollowUp::None,
                );
            }
            Some(Strategy::TargetedSabotage { provider: target }) if provider == target => {
                let class = if failed { honest_class } else { Class::False };
                send(
                    self,
                    delay,
                    ReportKind::Incorrect,
                    None,
                    class,
                    FollowUp::None,
                );
            }
            Some(Strategy::TargetedSabotage { .. }) => {
                if honest_report {
                    send(
                        self,
                        delay,
                        ReportKind::Incorrect,
                        honest_correction,
                        honest_class,
                        FollowUp::None,
                    );
                } else if !failed {
                    send(
                        self,
                        delay,
                        ReportKind::Correct,
                        None,
                        Class::Confirm,
                        FollowUp::None,
                    );
                }
            }
            Some(Strategy::WindowGaming) if !failed && self.rng.random_bool(GAMING_RATE) => {
                let just_inside = window - self.rng.random_range(1_000..10_000);
                let follow_up = if self.rng.random_bool(GAMING_DUPLICATES) {
                    FollowUp::Duplicate
                } else if self
                    .rng
                    .random_bool(GAMING_CONFLICTS / (1.0 - GAMING_DUPLICATES))
                {
                    FollowUp::Conflict
                } else {
                    FollowUp::None
                };
                send(
                    self,
                    just_inside,
                    ReportKind::Incorrect,
                    None,
                    Class::False,
                    follow_up,
                );
            }
            Some(Strategy::CorrectionPoisoning)
                if !failed && verifiable && self.rng.random_bool(POISON_RATE) =>
            {
                let answer = answer.as_deref().unwrap_or_default();
                let poisoned = self.mutate(answer);
                send(
                    self,
                    delay,
                    ReportKind::Incorrect,
                    Some(poisoned),
                    Class::False,
                    FollowUp::None,
                );
            }
            _ if !failed && x > 0.0 && self.rng.random_bool(x) => {
                send(
                    self,
                    delay,
                    ReportKind::Incorrect,
                    None,
                    Class::False,
                    FollowUp::None,
                );
            }
            _ if honest_report => send(
                self,
                delay,
                ReportKind::Incorrect,
                honest_correction,
                honest_class,
                FollowUp::None,
            ),
            _ if !failed && confirms => send(
                self,
                delay,
                ReportKind::Correct,
                None,
                Class::Confirm,
                FollowUp::None,
            ),
            _ => {}
        }
    }

    /// A window-gaming account probes task ids it does not own: others' recent ones, and
    /// ones that do not exist.
    fn plan_probes(&mut self, i: usize, hour: i64) {
        let foreign: Vec<u64> = self
            .recent
            .iter()
            .filter(|(_, owner)| *owner != i)
            .map(|(id, _)| *id)
            .take(3)
            .collect();
        let nonexistent = [u64::MAX - self.rng.random_range(0..1_000_000u64)];
        for task in foreign.into_iter().chain(nonexistent) {
            let seq = self.seq;
            self.seq += 1;
            self.events.push(Reverse(Event {
                at: hour + self.rng.random_range(0..HOUR_MS),
                seq,
                account: i,
                ty: 0,
                // Probes are refused: they never reach a score.
                provider: 0,
                report: SimReport {
                    task,
                    kind: ReportKind::Incorrect,
                    correction: None,
                },
                class: Class::Probe,
                cost: 0,
                verifiable: false,
                in_window: true,
                scored: hour >= self.scored_from,
                follow_up: FollowUp::None,
                true_answer: None,
            }));
        }
    }

    async fn minute(&mut self, t: i64) -> anyhow::Result<()> {
        let slot = ((t - START) % HOUR_MS / MINUTE_MS) as usize;
        let tasks = std::mem::take(&mut self.minute_tasks[slot]);
        if !tasks.is_empty() {
            for (task, &(i, ty)) in tasks.iter().zip(&self.minute_counts[slot]) {
                if !TYPES[ty].0.family().is_verifiable()
                    && let Some(provider) = &task.provider
                {
                    let honest = !self.accounts[i].is_abusive();
                    self.scores.task(provider, TYPES[ty].0.as_str(), t, honest);
                }
            }
            self.platform.set_time(Timestamp::from_millis(t)).await;
            self.platform.ingest(tasks).await?;
            for (i, ty) in std::mem::take(&mut self.minute_counts[slot]) {
                let abusing = t >= self.accounts[i].abuse_from;
                self.ledger.task_done(i, ty, t >= self.scored_from, abusing);
            }
        }
        // In waves: a report's follow-up (a retry two seconds later) may fall in this minute.
        loop {
            let mut batch = Vec::new();
            while let Some(Reverse(event)) = self.events.peek()
                && event.at < t + MINUTE_MS
            {
                let Some(Reverse(event)) = self.events.pop() else {
                    break;
                };
                batch.push(event);
            }
            if batch.is_empty() {
                break;
            }
            self.deliver(batch).await?;
        }
        if self.policy.rechecks.enabled {
            self.platform
                .set_time(Timestamp::from_millis(t + MINUTE_MS - 1))
                .await;
            self.second_solves().await?;
        }
        Ok(())
    }

    /// Sends a batch of reports, in time order per account, and takes note of the answers.
    async fn deliver(&mut self, batch: Vec<Event>) -> anyhow::Result<()> {
        let lanes = self.platform.lanes().max(1);
        let mut events: Vec<Vec<Event>> = (0..lanes).map(|_| Vec::new()).collect();
        let mut sent: Vec<Vec<Sent>> = (0..lanes).map(|_| Vec::new()).collect();
        for event in batch {
            let lane = event.account % lanes;
            sent[lane].push(Sent {
                at: Timestamp::from_millis(event.at),
                key: self.accounts[event.account].key.clone(),
                report: event.report.clone(),
            });
            events[lane].push(event);
        }
        let answers = self.platform.reports(sent).await?;
        for (lane_events, lane_answers) in events.into_iter().zip(answers) {
            anyhow::ensure!(
                lane_events.len() == lane_answers.len(),
                "a lane lost answers"
            );
            for (event, answer) in lane_events.into_iter().zip(lane_answers) {
                self.note(event, answer)?;
            }
        }
        Ok(())
    }

    fn note(&mut self, event: Event, answer: Answer) -> anyhow::Result<()> {
        if event.report.kind == ReportKind::Incorrect {
            self.reported.insert(event.account);
        }
        if let (Class::Genuine { .. } | Class::False | Class::Confirm, Answer::Recorded(_)) =
            (&event.class, &answer)
            && !event.verifiable
        {
            self.scores.add(
                &self.providers.names[event.provider],
                TYPES[event.ty].0.as_str(),
                event.at,
                event.report.kind,
                !self.accounts[event.account].is_abusive(),
            );
        }
        match (&event.class, &answer) {
            (Class::Genuine { .. } | Class::False, Answer::Recorded(judged)) => {
                if FLAG_REASONS.contains(&judged.reason.as_str()) {
                    self.ledger
                        .flagged(event.account, event.at, event.ty, judged);
                }
                if judged.verdict == Verdict::Pending {
                    self.held.insert(
                        event.report.task,
                        Held {
                            account: event.account,
                            class: event.class.clone(),
                            cost: event.cost,
                            verifiable: event.verifiable,
                            in_window: event.in_window,
                            scored: event.scored,
                            true_answer: event.true_answer.clone().unwrap_or_default(),
                            correction: event.report.correction.is_some(),
                        },
                    );
                } else if event.scored {
                    self.ledger.claim(&Claim {
                        task: event.report.task,
                        account: event.account,
                        class: &event.class,
                        cost: event.cost,
                        verifiable: event.verifiable,
                        in_window: event.in_window,
                        correction: event.report.correction.is_some(),
                        judged,
                    });
                }
                self.follow_up(&event, judged.clone());
            }
            (Class::Genuine { .. } | Class::False, Answer::Refused(code)) => {
                if event.scored {
                    let refused = Judged {
                        verdict: Verdict::Rejected,
                        reason: code.clone(),
                        refund: 0,
                        lane: None,
                        screen: None,
                    };
                    self.ledger.claim(&Claim {
                        task: event.report.task,
                        account: event.account,
                        class: &event.class,
                        cost: event.cost,
                        verifiable: event.verifiable,
                        in_window: event.in_window,
                        correction: event.report.correction.is_some(),
                        judged: &refused,
                    });
                }
            }
            (Class::Genuine { .. } | Class::False, Answer::Repeated(_)) => {
                anyhow::bail!("a first report was answered as a repeat: {event:?}")
            }
            (Class::Confirm, _) => self.ledger.confirmed(),
            (Class::Duplicate(expected), answer) => {
                let alike = match answer {
                    Answer::Repeated(j) => {
                        expected.verdict == Verdict::Pending
                            || (j.verdict == expected.verdict && j.refund == expected.refund)
                    }
                    _ => false,
                };
                self.ledger.gaming_duplicate(alike);
            }
            (Class::Conflict, answer) => self.ledger.gaming_conflict(
                matches!(answer, Answer::Refused(code) if code == "conflicting_report"),
            ),
            (Class::Probe, answer) => self
                .ledger
                .gaming_probe(matches!(answer, Answer::Refused(code) if code == "unknown_task")),
        }
        Ok(())
    }

    fn follow_up(&mut self, event: &Event, judged: Judged) {
        let (class, kind) = match event.follow_up {
            FollowUp::None => return,
            FollowUp::Duplicate => (Class::Duplicate(judged), ReportKind::Incorrect),
            FollowUp::Conflict => (Class::Conflict, ReportKind::Correct),
        };
        let seq = self.seq;
        self.seq += 1;
        self.events.push(Reverse(Event {
            at: event.at + 2_000,
            seq,
            account: event.account,
            ty: event.ty,
            provider: event.provider,
            report: SimReport {
                task: event.report.task,
                kind,
                correction: event.report.correction.clone(),
            },
            class,
            cost: event.cost,
            verifiable: event.verifiable,
            in_window: event.in_window,
            scored: event.scored,
            follow_up: FollowUp::None,
            true_answer: None,
        }));
    }

    /// The platform's second solvers empty the re-check queue.
    async fn second_solves(&mut self) -> anyhow::Result<()> {
        let mut claimed = Vec::new();
        while let Some(task) = self.platform.next_recheck().await? {
            claimed.push(task);
        }
        // In id order: the queue's order among reports of the same moment is not the point.
        claimed.sort_unstable();
        for task in claimed {
            let truth = self
                .held
                .get(&task)
                .map(|h| h.true_answer.clone())
                .unwrap_or_default();
            let answer = if !truth.is_empty() && self.rng.random_bool(self.config.resolver_accuracy)
            {
                truth
            } else {
                self.random_answer()
            };
            if let Some(judged) = self.platform.answer_recheck(task, &answer).await?
                && let Some(held) = self.held.remove(&task)
            {
                self.reported.insert(held.account);
                self.settle(&held, &judged, task);
            }
        }
        Ok(())
    }

    fn settle(&mut self, held: &Held, judged: &Judged, task: u64) {
        if held.scored {
            self.ledger.claim(&Claim {
                task,
                account: held.account,
                class: &held.class,
                cost: held.cost,
                verifiable: held.verifiable,
                in_window: held.in_window,
                correction: held.correction,
                judged,
            });
        }
    }

    fn random_answer(&mut self) -> String {
        (0..6)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }

    /// One or two characters changed: a plausible wrong answer.
    fn mutate(&mut self, text: &str) -> String {
        let mut bytes: Vec<u8> = text.bytes().collect();
        if bytes.is_empty() {
            return self.random_answer();
        }
        let changes = self.rng.random_range(1..=2usize);
        for _ in 0..changes {
            let at = self.rng.random_range(0..bytes.len());
            let old = bytes[at];
            let mut new = old;
            while new == old {
                new = ALPHABET[self.rng.random_range(0..ALPHABET.len())];
            }
            bytes[at] = new;
        }
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[cfg(test)]
    pub(crate) fn accounts(&self) -> &[SimAccount] {
        &self.accounts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::InProcess;

    fn world(seed: u64) -> Simulation<InProcess> {
        let config = SimConfig::ci(seed);
        let platform = InProcess::open(Policy::default(), Timestamp::from_millis(START)).unwrap();
        Simulation::new(config, Policy::default(), platform)
    }

    #[test]
    fn the_world_has_every_strategy_and_a_trusted_cohort() {
        let sim = world(1);
        let accounts = sim.accounts();
        let config = SimConfig::ci(1);
        let honest = accounts.iter().filter(|a| a.strategy.is_none()).count();
        assert_eq!(honest, config.honest);
        for strategy in Strategy::standard() {
            let n = accounts
                .iter()
                .filter(|a| a.strategy == Some(strategy))
                .count();
            assert_eq!(n, config.per_strategy, "{}", strategy.name());
        }
        let sybils = accounts
            .iter()
            .filter(|a| a.strategy == Some(Strategy::Sybil))
            .count();
        assert_eq!(sybils, config.sybils_per_day * config.days as usize);
        let trusted = accounts.iter().filter(|a| a.trusted).count();
        assert!(trusted >= honest / 5, "{trusted} trusted");
        assert!(
            accounts.iter().any(|a| a.trusted && a.is_abusive()),
            "the cohort is contaminated as configured"
        );
    }

    #[test]
    fn the_same_seed_makes_the_same_world_and_another_seed_another() {
        let a: Vec<f64> = world(7).accounts().iter().map(|a| a.per_day).collect();
        let b: Vec<f64> = world(7).accounts().iter().map(|a| a.per_day).collect();
        let c: Vec<f64> = world(8).accounts().iter().map(|a| a.per_day).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn mutations_change_one_or_two_characters() {
        let mut sim = world(3);
        for _ in 0..100 {
            let answer = sim.random_answer();
            let wrong = sim.mutate(&answer);
            let changed = answer
                .bytes()
                .zip(wrong.bytes())
                .filter(|(a, b)| a != b)
                .count();
            assert!((1..=2).contains(&changed), "{answer} -> {wrong}");
        }
    }
}
