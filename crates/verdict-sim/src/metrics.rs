//! What the simulation measures (research/domain.md §6.4), from the truth only it knows and
//! the decisions verdict made, and the bars those figures are held to.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::config::SimConfig;
use crate::platform::Judged;
use crate::scores::ScoreFigures;
use crate::world::{DAY_MS, HOUR_MS, SimAccount, Strategy, TYPES, Truth};

/// What a report is, in truth.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// The client saw the solution fail: a wrong answer, or a right one its site rejected.
    Genuine { truth: Truth, outage: bool },
    /// The solution worked and the client says it did not.
    False,
    /// Positive feedback.
    Confirm,
    /// The same report again; verdict must answer as it did (this is that answer).
    Duplicate(Judged),
    /// A different report on a task already reported; verdict must refuse it.
    Conflict,
    /// A report on a task the account does not own or that does not exist.
    Probe,
}

/// One incorrect-report and how verdict judged it.
#[derive(Debug)]
pub struct Claim<'a> {
    pub task: u64,
    pub account: usize,
    pub class: &'a Class,
    pub cost: i64,
    pub verifiable: bool,
    pub in_window: bool,
    pub correction: bool,
    pub judged: &'a Judged,
}

/// Reports claimed and refunded, by count and value (micro-units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    pub reports: u64,
    pub refunded_reports: u64,
    pub claimed: i64,
    pub refunded: i64,
}

impl Tally {
    fn add(&mut self, cost: i64, refund: i64) {
        self.reports += 1;
        self.claimed += cost;
        if refund > 0 {
            self.refunded_reports += 1;
            self.refunded += refund;
        }
    }

    /// Share of the claimed value refunded, in percent.
    pub fn refunded_pct(&self) -> f64 {
        pct(self.refunded as f64, self.claimed as f64)
    }
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// The window-gaming checks: verdict must answer retries alike, refuse conflicts and never
/// reveal whether a task id it does not own exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Gaming {
    pub duplicates: u64,
    pub duplicates_answered_alike: u64,
    pub conflicts: u64,
    pub conflicts_refused: u64,
    pub probes: u64,
    pub probes_answered_unknown_task: u64,
}

/// The screen flagging an honest account.
#[derive(Debug, Clone)]
struct HonestFlag {
    account: usize,
    at: i64,
    captcha_type: &'static str,
    reason: String,
    lane: String,
    screen: serde_json::Value,
}

/// An honest account put on ignored standing, outside its own outage: a false alarm.
#[derive(Debug, Clone, Serialize)]
pub struct FalseAlarm {
    pub account: usize,
    /// Days since the platform opened.
    pub day: f64,
    pub captcha_type: &'static str,
    pub reason: String,
    pub lane: String,
    pub tasks_per_day: f64,
    pub report_propensity: f64,
    pub site_failure: f64,
    /// The screen's numbers behind the flag.
    pub screen: serde_json::Value,
}

/// What a refunded report was, for attributing a later reversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refunded {
    False,
    HonestGenuine,
    Other,
}

/// Accumulates what happens during a run.
#[derive(Debug)]
pub struct Ledger {
    /// Per account: whether it is honest (the truth only the simulation knows).
    honest: Vec<bool>,
    honest_genuine: Tally,
    honest_solver_errors: Tally,
    honest_outage: Tally,
    honest_late: Tally,
    /// Reports sent inside their window by the simulation's clock and refused as late.
    arrived_late: u64,
    honest_per_account: Vec<Tally>,
    abusive_false: Tally,
    abusive_genuine: Tally,
    false_by_account: Vec<Tally>,
    /// False reports on image and audio tasks by abusive accounts.
    verifiable_false: Tally,
    /// Reports on right image and audio answers by honest accounts (their own outages).
    verifiable_false_honest: Tally,
    poisoned: Tally,
    reports_per_account: Vec<u64>,
    scored_tasks_per_account: Vec<u64>,
    tasks_after_abuse: Vec<[u64; 4]>,
    /// When each ignored period began, per account.
    ignores: Vec<Vec<i64>>,
    ignore_counts: Vec<u32>,
    /// The first flag once abuse began: when, and the account's tasks of that family since
    /// abuse began (by the screen) or of all families (by re-checks).
    first_flag: Vec<Option<(i64, u64)>>,
    reasons: BTreeMap<String, u64>,
    honest_reasons: BTreeMap<String, u64>,
    honest_flags: Vec<HonestFlag>,
    confirms: u64,
    gaming: Gaming,
    /// Refunded tasks and what the report was, kept to attribute clawbacks.
    refunded: Option<HashMap<u64, Refunded>>,
    clawed_back_false: i64,
    clawed_back_honest: i64,
}

impl Ledger {
    pub fn new(accounts: &[SimAccount], config: &SimConfig) -> Self {
        let n = accounts.len();
        Self {
            honest: accounts.iter().map(|a| !a.is_abusive()).collect(),
            honest_genuine: Tally::default(),
            honest_solver_errors: Tally::default(),
            honest_outage: Tally::default(),
            honest_late: Tally::default(),
            arrived_late: 0,
            honest_per_account: vec![Tally::default(); n],
            abusive_false: Tally::default(),
            abusive_genuine: Tally::default(),
            false_by_account: vec![Tally::default(); n],
            verifiable_false: Tally::default(),
            verifiable_false_honest: Tally::default(),
            poisoned: Tally::default(),
            reports_per_account: vec![0; n],
            scored_tasks_per_account: vec![0; n],
            tasks_after_abuse: vec![[0; 4]; n],
            ignores: vec![Vec::new(); n],
            ignore_counts: vec![0; n],
            first_flag: vec![None; n],
            reasons: BTreeMap::new(),
            honest_reasons: BTreeMap::new(),
            honest_flags: Vec::new(),
            confirms: 0,
            gaming: Gaming::default(),
            refunded: config.clawback.then(HashMap::new),
            clawed_back_false: 0,
            clawed_back_honest: 0,
        }
    }

    pub fn task_done(&mut self, account: usize, ty: usize, scored: bool, abusing: bool) {
        if scored {
            self.scored_tasks_per_account[account] += 1;
        }
        if abusing {
            self.tasks_after_abuse[account][ty] += 1;
        }
    }

    pub fn confirmed(&mut self) {
        self.confirms += 1;
    }

    pub fn gaming_duplicate(&mut self, alike: bool) {
        self.gaming.duplicates += 1;
        self.gaming.duplicates_answered_alike += u64::from(alike);
    }

    pub fn gaming_conflict(&mut self, refused: bool) {
        self.gaming.conflicts += 1;
        self.gaming.conflicts_refused += u64::from(refused);
    }

    pub fn gaming_probe(&mut self, unknown: bool) {
        self.gaming.probes += 1;
        self.gaming.probes_answered_unknown_task += u64::from(unknown);
    }

    /// The screen flagged the account on a report of a task of type `ty`.
    pub fn flagged(&mut self, account: usize, at: i64, ty: usize, judged: &Judged) {
        if self.honest[account] {
            self.honest_flags.push(HonestFlag {
                account,
                at,
                captcha_type: TYPES[ty].0.as_str(),
                reason: judged.reason.clone(),
                lane: judged.lane.clone().unwrap_or_default(),
                screen: judged.screen.clone().unwrap_or_default(),
            });
        }
        if self.first_flag[account].is_none()
            && self.tasks_after_abuse[account].iter().sum::<u64>() > 0
        {
            self.first_flag[account] = Some((at, self.tasks_after_abuse[account][ty]));
        }
    }

    /// The account has had `count` ignored periods, the last beginning at `last`.
    pub fn ignored(&mut self, account: usize, count: u32, last: i64) {
        let done: u64 = self.tasks_after_abuse[account].iter().sum();
        if count > self.ignore_counts[account] && self.first_flag[account].is_none() && done > 0 {
            // Ignored by re-check precision rather than the screen: all its tasks since abuse
            // began, an upper bound on those of the family that gave it away.
            self.first_flag[account] = Some((last, done));
        }
        while self.ignore_counts[account] < count {
            self.ignore_counts[account] += 1;
            self.ignores[account].push(last);
        }
    }

    pub fn claim(&mut self, claim: &Claim<'_>) {
        let refund = claim.judged.refund;
        *self.reasons.entry(claim.judged.reason.clone()).or_default() += 1;
        self.reports_per_account[claim.account] += 1;
        if claim.in_window && claim.judged.reason == "window_closed" {
            // The simulation fell behind a served verdict's clock: the service judged the
            // report by when it arrived, rightly. Counting it as an honest refund refused (or as
            // an abuser's claim paid nothing) would measure the simulation's pace, not verdict.
            self.arrived_late += 1;
            return;
        }
        let honest_account = self.honest[claim.account];
        let is_false = match claim.class {
            Class::False => true,
            Class::Genuine { truth, .. } => claim.verifiable && *truth != Truth::Wrong,
            _ => false,
        };
        if claim.verifiable && is_false {
            if honest_account {
                self.verifiable_false_honest.add(claim.cost, refund);
            } else {
                self.verifiable_false.add(claim.cost, refund);
            }
        }
        match (claim.class, honest_account) {
            (Class::Genuine { truth, outage }, true) => {
                if *outage {
                    self.honest_outage.add(claim.cost, refund);
                } else if !claim.in_window {
                    self.honest_late.add(claim.cost, refund);
                } else {
                    *self
                        .honest_reasons
                        .entry(claim.judged.reason.clone())
                        .or_default() += 1;
                    self.honest_genuine.add(claim.cost, refund);
                    self.honest_per_account[claim.account].add(claim.cost, refund);
                    if *truth == Truth::Wrong {
                        self.honest_solver_errors.add(claim.cost, refund);
                    }
                }
            }
            (Class::Genuine { .. }, false) => self.abusive_genuine.add(claim.cost, refund),
            (Class::False, _) => {
                self.abusive_false.add(claim.cost, refund);
                self.false_by_account[claim.account].add(claim.cost, refund);
                if claim.correction {
                    self.poisoned.add(claim.cost, refund);
                }
            }
            _ => {}
        }
        if refund > 0
            && let Some(refunded) = &mut self.refunded
        {
            let kind = match (claim.class, honest_account) {
                (Class::False, _) => Refunded::False,
                (Class::Genuine { outage: false, .. }, true) if claim.in_window => {
                    Refunded::HonestGenuine
                }
                _ => Refunded::Other,
            };
            refunded.insert(claim.task, kind);
        }
    }

    /// Refunds taken back from an account: (task, micro-units). The figures are net of them.
    pub fn reversed(&mut self, account: usize, reversals: &[(u64, i64)]) {
        let Some(refunded) = &self.refunded else {
            return;
        };
        for (task, amount) in reversals {
            match refunded.get(task) {
                Some(Refunded::False) => {
                    self.clawed_back_false += amount;
                    self.abusive_false.refunded -= amount;
                    self.false_by_account[account].refunded -= amount;
                }
                Some(Refunded::HonestGenuine) => {
                    self.clawed_back_honest += amount;
                    self.honest_genuine.refunded -= amount;
                    self.honest_per_account[account].refunded -= amount;
                }
                Some(Refunded::Other) | None => {}
            }
        }
    }

    pub fn finish(
        self,
        config: &SimConfig,
        accounts: &[SimAccount],
        scored_from: i64,
        end: i64,
        tasks: u64,
        wall: Duration,
    ) -> Metrics {
        Finisher {
            ledger: self,
            config,
            accounts,
            scored_from,
            end,
        }
        .metrics(tasks, wall)
    }
}

struct Finisher<'a> {
    ledger: Ledger,
    config: &'a SimConfig,
    accounts: &'a [SimAccount],
    scored_from: i64,
    end: i64,
}

/// One account's detection: hours from the start of its abuse to its first ignored period,
/// and its tasks of the flagged family by then.
#[derive(Debug, Clone, Copy)]
struct Detection {
    hours: Option<f64>,
    tasks: Option<u64>,
}

impl Finisher<'_> {
    fn honest(&self) -> impl Iterator<Item = (usize, &SimAccount)> {
        self.accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.strategy.is_none())
    }

    fn outage_related(&self, account: &SimAccount, at: i64) -> bool {
        let slow = 72 * HOUR_MS;
        account
            .outage
            .is_some_and(|(from, to)| at >= from && at <= to + slow)
    }

    fn detection(&self, i: usize) -> Detection {
        let account = &self.accounts[i];
        let first = self.ledger.ignores[i]
            .iter()
            .copied()
            .filter(|&t| t >= account.abuse_from)
            .min();
        Detection {
            hours: first.map(|t| (t - account.abuse_from) as f64 / HOUR_MS as f64),
            tasks: self.ledger.first_flag[i].map(|(_, n)| n),
        }
    }

    /// Abusive accounts whose report rate over the scored days an honest account with at least
    /// as many scored tasks matched or exceeded (honest accounts with an outage of their own left
    /// out). Such an account cannot be told from honest ones by how often it reports: only its
    /// own history, or information the screen does not have, separates them. This is the
    /// information limit of the day-one world, where abusers have no honest history.
    fn hidden_among_honest(&self, l: &Ledger) -> Vec<usize> {
        let rate = |i: usize| {
            let n = l.scored_tasks_per_account[i];
            (n > 0).then(|| (n, l.reports_per_account[i] as f64 / n as f64))
        };
        let honest: Vec<(u64, f64)> = self
            .honest()
            .filter(|(_, a)| a.outage.is_none())
            .filter_map(|(i, _)| rate(i))
            .collect();
        self.accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.strategy.is_some() && a.abuse_from < self.end)
            .filter_map(|(i, _)| Some((i, rate(i)?)))
            .filter(|(_, (n, r))| honest.iter().any(|(hn, hr)| hn >= n && hr >= r))
            .map(|(i, _)| i)
            .collect()
    }

    fn metrics(self, tasks: u64, wall: Duration) -> Metrics {
        let l = &self.ledger;
        let weeks = (self.end - self.scored_from) as f64 / (7 * DAY_MS) as f64;
        let honest: Vec<(usize, &SimAccount)> = self.honest().collect();
        let mut wrongful_events = 0u64;
        let mut wrongful_accounts = 0u64;
        let mut outage_events = 0u64;
        for (i, account) in &honest {
            let scored: Vec<i64> = l.ignores[*i]
                .iter()
                .copied()
                .filter(|&t| t >= self.scored_from)
                .collect();
            let wrongful = scored
                .iter()
                .filter(|&&t| !self.outage_related(account, t))
                .count() as u64;
            wrongful_events += wrongful;
            wrongful_accounts += u64::from(wrongful > 0);
            outage_events += scored.len() as u64 - wrongful;
        }
        let false_alarms: Vec<FalseAlarm> = l
            .honest_flags
            .iter()
            .filter(|f| f.at >= self.scored_from)
            .filter(|f| !self.outage_related(&self.accounts[f.account], f.at))
            .map(|f| {
                let a = &self.accounts[f.account];
                FalseAlarm {
                    account: f.account,
                    day: round4((f.at - crate::run::START) as f64 / DAY_MS as f64),
                    captcha_type: f.captcha_type,
                    reason: f.reason.clone(),
                    lane: f.lane.clone(),
                    tasks_per_day: a.per_day.round(),
                    report_propensity: round4(a.report_propensity),
                    site_failure: round4(a.site_failure),
                    screen: f.screen.clone(),
                }
            })
            .collect();
        let losing = honest
            .iter()
            .filter(|(i, _)| {
                let t = l.honest_per_account[*i];
                t.reports >= 10 && (t.claimed - t.refunded) as f64 > 0.1 * t.claimed as f64
            })
            .count();
        let with_claims = honest
            .iter()
            .filter(|(i, _)| l.honest_per_account[*i].reports >= 10)
            .count();
        let honest_figures = HonestFigures {
            accounts: honest.len(),
            trusted: honest.iter().filter(|(_, a)| a.trusted).count(),
            genuine: l.honest_genuine,
            genuine_refunded_pct: l.honest_genuine.refunded_pct(),
            genuine_by_reason: l.honest_reasons.clone(),
            solver_errors: l.honest_solver_errors,
            solver_errors_refunded_pct: l.honest_solver_errors.refunded_pct(),
            during_own_outage: l.honest_outage,
            late: l.honest_late,
            wrongly_ignored_periods: wrongful_events,
            wrongly_ignored_accounts: wrongful_accounts,
            wrongly_ignored_per_account_week_pct: pct(
                wrongful_events as f64,
                honest.len() as f64 * weeks,
            ),
            ignored_after_own_outage: outage_events,
            false_alarms,
            accounts_losing_over_10pct: losing,
            accounts_with_10_claims: with_claims,
            clawed_back: l.clawed_back_honest,
        };

        let hidden = self.hidden_among_honest(l);
        let mut strategies: Vec<StrategyFigures> = Vec::new();
        let mut names: Vec<Strategy> = Strategy::standard();
        names.push(Strategy::Sybil);
        for strategy in names {
            let members: Vec<usize> = self
                .accounts
                .iter()
                .enumerate()
                .filter(|(_, a)| a.strategy == Some(strategy) && a.abuse_from < self.end)
                .map(|(i, _)| i)
                .collect();
            let detections: Vec<Detection> = members.iter().map(|&i| self.detection(i)).collect();
            let mut hours: Vec<f64> = detections.iter().filter_map(|d| d.hours).collect();
            hours.sort_by(f64::total_cmp);
            let mut flagged_tasks: Vec<u64> = detections.iter().filter_map(|d| d.tasks).collect();
            flagged_tasks.sort_unstable();
            // An account never ignored has not been ignored within the tasks it did: those
            // count, the most of any one family, as a lower bound on its figure.
            let never_ignored: Vec<u64> = members
                .iter()
                .zip(&detections)
                .filter(|(_, d)| d.tasks.is_none())
                .map(|(&i, _)| l.tasks_after_abuse[i].iter().copied().max().unwrap_or(0))
                .collect();
            let tasks_to_ignore_max = flagged_tasks
                .last()
                .into_iter()
                .chain(&never_ignored)
                .copied()
                .max();
            let mut false_reports = Tally::default();
            let mut refunds_per_account = Vec::new();
            for &i in &members {
                let t = l.false_by_account[i];
                false_reports.reports += t.reports;
                false_reports.refunded_reports += t.refunded_reports;
                false_reports.claimed += t.claimed;
                false_reports.refunded += t.refunded;
                refunds_per_account.push(t.refunded_reports);
            }
            let slow_ramp_in_time = (strategy == Strategy::SlowRamp).then(|| {
                // Detected before its false-report share passed 25 %: within 8.75 days.
                let limit = 0.25 / 0.4 * 14.0 * 24.0;
                let applicable: Vec<Option<f64>> = members
                    .iter()
                    .zip(&detections)
                    .filter(|(i, d)| {
                        d.hours.is_some()
                            || (self.end - self.accounts[**i].abuse_from) as f64 / HOUR_MS as f64
                                > limit
                    })
                    .map(|(_, d)| d.hours)
                    .collect();
                let in_time = applicable
                    .iter()
                    .filter(|h| h.is_some_and(|h| h <= limit))
                    .count();
                (in_time, applicable.len())
            });
            strategies.push(StrategyFigures {
                strategy: strategy.name(),
                accounts: members.len(),
                detected: hours.len(),
                hours_to_ignore_median: quantile(&hours, 0.5),
                hours_to_ignore_p90: quantile(&hours, 0.9),
                detected_within_4_days: hours.iter().filter(|&&h| h <= 96.0).count(),
                tasks_to_ignore_median: quantile_u(&flagged_tasks, 0.5),
                tasks_to_ignore_max,
                never_ignored: never_ignored.len(),
                detected_before_25pct: slow_ramp_in_time,
                false_reports,
                leaked_pct: false_reports.refunded_pct(),
                max_refunds_per_account: refunds_per_account.iter().copied().max().unwrap_or(0),
                hidden: members.iter().filter(|i| hidden.contains(i)).count(),
            });
        }

        let trusted: Vec<usize> = honest
            .iter()
            .filter(|(_, a)| a.trusted)
            .map(|(i, _)| *i)
            .collect();
        let cohort_rate = pct(
            trusted
                .iter()
                .map(|&i| l.reports_per_account[i])
                .sum::<u64>() as f64,
            trusted
                .iter()
                .map(|&i| l.scored_tasks_per_account[i])
                .sum::<u64>() as f64,
        ) / 100.0;
        let probation_cap = ((cohort_rate * self.config.sybil_tasks as f64).round() as u64).max(1);

        let abuse = AbuseFigures {
            false_reports: l.abusive_false,
            leaked_pct: l.abusive_false.refunded_pct(),
            hidden_accounts: hidden.len(),
            hidden_leaked_pct: pct(
                hidden
                    .iter()
                    .map(|&i| l.false_by_account[i].refunded)
                    .sum::<i64>() as f64,
                l.abusive_false.claimed as f64,
            ),
            clawed_back: l.clawed_back_false,
            genuine_reports_of_abusers: l.abusive_genuine,
            sybil_probation_cap: probation_cap,
        };
        let verifiable = VerifiableFigures {
            false_reports: l.verifiable_false,
            false_refunded_pct: pct(
                l.verifiable_false.refunded_reports as f64,
                l.verifiable_false.reports as f64,
            ),
            honest_on_right_answers: l.verifiable_false_honest,
            poisoned_corrections: l.poisoned,
            poisoned_accepted_pct: pct(
                l.poisoned.refunded_reports as f64,
                l.poisoned.reports as f64,
            ),
        };
        let by = |name: &str| strategies.iter().find(|s| s.strategy == name);
        let mut bars = Vec::new();
        bars.push(Bar::at_most(
            "issue",
            "refunds leaked to abusive accounts, % of value claimed",
            abuse.leaked_pct,
            5.0,
        ));
        bars.push(Bar::at_most(
            "issue",
            "honest accounts wrongly put on ignored standing, % per account-week",
            honest_figures.wrongly_ignored_per_account_week_pct,
            0.1,
        ));
        bars.push(Bar::at_least(
            "issue",
            "honest genuine failures refunded, % of value",
            honest_figures.genuine_refunded_pct,
            98.0,
        ));
        if let Some(s) = by("always-report") {
            bars.push(Bar::at_most_opt(
                "issue",
                "always-report: tasks of a family before ignored, worst account",
                s.tasks_to_ignore_max.map(|t| t as f64),
                200.0,
            ));
            bars.push(Bar::at_most_opt(
                "domain.md",
                "always-report: hours to ignored, median",
                s.hours_to_ignore_median,
                3.0,
            ));
            bars.push(Bar::at_most_opt(
                "domain.md",
                "always-report: hours to ignored, p90",
                s.hours_to_ignore_p90,
                6.0,
            ));
        }
        if let Some(s) = by("report-40%") {
            bars.push(Bar::at_least(
                "domain.md",
                "report-40%: detected, % of accounts",
                pct(s.detected as f64, s.accounts as f64),
                100.0,
            ));
            bars.push(Bar::at_most_opt(
                "domain.md",
                "report-40%: hours to ignored, p90",
                s.hours_to_ignore_p90,
                36.0,
            ));
        }
        if let Some(s) = by("report-20%") {
            bars.push(Bar::at_least(
                "domain.md",
                "report-20%: detected within 4 days, % of accounts",
                pct(s.detected_within_4_days as f64, s.accounts as f64),
                95.0,
            ));
        }
        if let Some((in_time, of)) = by("slow-ramp").and_then(|s| s.detected_before_25pct) {
            bars.push(Bar::at_least(
                "domain.md",
                "slow-ramp: detected before its share passed 25 %, % of accounts",
                pct(in_time as f64, of as f64),
                95.0,
            ));
        }
        if let Some(s) = by("sybil") {
            bars.push(Bar::at_most(
                "domain.md",
                "sybil: most refunds any sybil got (cap: cohort mean rate x its tasks)",
                s.max_refunds_per_account as f64,
                probation_cap as f64,
            ));
        }
        bars.push(Bar::at_most(
            "domain.md",
            "honest accounts ignored at least once (own outages aside), %",
            pct(wrongful_accounts as f64, honest.len() as f64),
            0.5,
        ));
        bars.push(Bar::at_most(
            "domain.md",
            "honest accounts losing more than 10 % of their refunds, %",
            pct(losing as f64, with_claims as f64),
            5.0,
        ));
        bars.push(Bar::at_most(
            "domain.md",
            "verifiable types: abusers' false reports refunded, %",
            verifiable.false_refunded_pct,
            2.0,
        ));
        bars.push(Bar::at_most(
            "domain.md",
            "poisoned corrections accepted, %",
            verifiable.poisoned_accepted_pct,
            0.5,
        ));
        let g = l.gaming;
        bars.push(Bar::at_least(
            "domain.md",
            "duplicate reports answered with the original decision, %",
            pct(g.duplicates_answered_alike as f64, g.duplicates as f64),
            100.0,
        ));
        bars.push(Bar::at_least(
            "domain.md",
            "conflicting second reports refused, %",
            pct(g.conflicts_refused as f64, g.conflicts as f64),
            100.0,
        ));
        bars.push(Bar::at_least(
            "domain.md",
            "probes of foreign or missing ids answered unknown_task, %",
            pct(g.probes_answered_unknown_task as f64, g.probes as f64),
            100.0,
        ));

        let reports: u64 = l.reasons.values().sum();
        Metrics {
            config: self.config.clone(),
            run: RunFigures {
                accounts: self.accounts.len(),
                tasks,
                scored_reports: reports,
                scored_confirmations: l.confirms,
                wall_seconds: wall.as_secs_f64(),
                tasks_per_second: tasks as f64 / wall.as_secs_f64().max(1e-9),
                balances_checked: 0,
                arrived_late: l.arrived_late,
            },
            bars,
            scores: None,
            trust_revoked: TrustRevoked::default(),
            honest: honest_figures,
            abuse,
            strategies,
            verifiable,
            window_gaming: g,
            reasons: l.reasons.clone(),
            cohort_report_rate: cohort_rate,
            types: TYPES
                .iter()
                .map(|(t, _, _)| t.as_str().to_owned())
                .collect(),
        }
    }
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let at = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some((sorted[at] * 100.0).round() / 100.0)
}

fn quantile_u(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let at = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[at])
}

/// A figure held to a target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    /// Where the target comes from: the issue's bars, or domain.md §6.4's.
    pub source: &'static str,
    pub name: &'static str,
    /// None when it could not be measured (e.g. an abuser never caught).
    pub value: Option<f64>,
    pub target: String,
    pub met: bool,
}

impl Bar {
    fn at_most(source: &'static str, name: &'static str, value: f64, limit: f64) -> Self {
        Self::at_most_opt(source, name, Some(value), limit)
    }

    fn at_most_opt(
        source: &'static str,
        name: &'static str,
        value: Option<f64>,
        limit: f64,
    ) -> Self {
        Self {
            source,
            name,
            value: value.map(round4),
            target: format!("<= {limit}"),
            met: value.is_some_and(|v| v <= limit),
        }
    }

    fn at_least(source: &'static str, name: &'static str, value: f64, limit: f64) -> Self {
        Self {
            source,
            name,
            value: Some(round4(value)),
            target: format!(">= {limit}"),
            met: value >= limit,
        }
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub config: SimConfig,
    pub run: RunFigures,
    pub bars: Vec<Bar>,
    pub honest: HonestFigures,
    pub abuse: AbuseFigures,
    pub strategies: Vec<StrategyFigures>,
    pub verifiable: VerifiableFigures,
    pub window_gaming: Gaming,
    /// Every scored incorrect-report by the reason of its decision.
    pub reasons: BTreeMap<String, u64>,
    /// Reports per task of the trusted honest accounts.
    pub cohort_report_rate: f64,
    pub types: Vec<String>,
    /// Providers' published scores against what honest reports alone say.
    pub scores: Option<ScoreFigures>,
    /// Trusted accounts the operator untrusted on reviewing their screen flags.
    pub trust_revoked: TrustRevoked,
}

/// Trusted accounts whose trust the simulated operator took away, by what they really were.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TrustRevoked {
    pub honest: usize,
    pub abusive: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    pub accounts: usize,
    pub tasks: u64,
    pub scored_reports: u64,
    pub scored_confirmations: u64,
    pub wall_seconds: f64,
    pub tasks_per_second: f64,
    /// Accounts whose balance was checked against their ledger at the end (a run stops with an
    /// error on any difference).
    pub balances_checked: usize,
    /// Reports the simulation sent inside their window that were refused as late: against a
    /// served verdict, the simulation fell behind the service's clock. They are left out of
    /// every other figure; in process, always 0.
    pub arrived_late: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HonestFigures {
    pub accounts: usize,
    pub trusted: usize,
    /// In-window reports of failures the client saw, own outages aside.
    pub genuine: Tally,
    pub genuine_refunded_pct: f64,
    /// How the genuine reports were decided.
    pub genuine_by_reason: BTreeMap<String, u64>,
    /// The part of `genuine` where the solver's answer was wrong.
    pub solver_errors: Tally,
    pub solver_errors_refunded_pct: f64,
    pub during_own_outage: Tally,
    /// Reports sent after the window closed.
    pub late: Tally,
    pub wrongly_ignored_periods: u64,
    pub wrongly_ignored_accounts: u64,
    pub wrongly_ignored_per_account_week_pct: f64,
    pub ignored_after_own_outage: u64,
    /// The screen's flags on honest accounts outside their own outages.
    pub false_alarms: Vec<FalseAlarm>,
    pub accounts_losing_over_10pct: usize,
    pub accounts_with_10_claims: usize,
    pub clawed_back: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AbuseFigures {
    /// Refunded value net of clawbacks (`refunded_reports` counts refunds granted).
    pub false_reports: Tally,
    pub leaked_pct: f64,
    pub clawed_back: i64,
    pub genuine_reports_of_abusers: Tally,
    pub sybil_probation_cap: u64,
    /// Abusive accounts that reported no more often than an honest account of at least their
    /// volume ([`Ledger::hidden_among_honest`]).
    pub hidden_accounts: usize,
    /// What those accounts kept, as a share of the value all abusive accounts claimed: the part
    /// of `leaked_pct` that no test of report rates can take back without ignoring an honest
    /// account as well.
    pub hidden_leaked_pct: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyFigures {
    pub strategy: String,
    pub accounts: usize,
    pub detected: usize,
    pub hours_to_ignore_median: Option<f64>,
    pub hours_to_ignore_p90: Option<f64>,
    pub detected_within_4_days: usize,
    pub tasks_to_ignore_median: Option<u64>,
    /// The most tasks of a family any account did before it was ignored, or, for one never
    /// ignored, did at all (a lower bound: its figure is at least that).
    pub tasks_to_ignore_max: Option<u64>,
    /// Accounts never ignored (their tasks so far count in `tasks_to_ignore_max`).
    pub never_ignored: usize,
    /// Slow ramp: (detected in time, accounts whose share passed 25 % or that were detected).
    pub detected_before_25pct: Option<(usize, usize)>,
    pub false_reports: Tally,
    pub leaked_pct: f64,
    pub max_refunds_per_account: u64,
    /// Members no rate test can tell from an honest account of their volume.
    pub hidden: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifiableFigures {
    /// Abusive accounts' reports on right answers.
    pub false_reports: Tally,
    pub false_refunded_pct: f64,
    /// Honest accounts' reports on right answers (their integration broke).
    pub honest_on_right_answers: Tally,
    pub poisoned_corrections: Tally,
    pub poisoned_accepted_pct: f64,
}

impl Metrics {
    /// Adds the score figures and their bars (domain.md §6.4: score error under abuse; the
    /// issue's: providers in their true order, intervals that hold the true accuracy).
    pub fn add_scores(&mut self, scores: ScoreFigures) {
        self.bars.push(Bar::at_most(
            "issue",
            "abusive reports move provider scores (mean |verdict - honest only|)",
            scores.verdict_error,
            0.02,
        ));
        self.bars.push(Bar::at_least(
            "issue",
            "provider pairs of a type shown in their true order, %",
            scores.pairs_in_true_order_pct,
            100.0,
        ));
        // 90 % intervals: sampling alone would leave one in ten outside.
        self.bars.push(Bar::at_least(
            "issue",
            "published score intervals holding the true accuracy, %",
            scores.intervals_holding_truth_pct,
            90.0,
        ));
        self.scores = Some(scores);
    }

    pub fn all_bars_met(&self) -> bool {
        self.bars.iter().all(|b| b.met)
    }

    /// The figures for a person: bars first, then per strategy.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        let _ = writeln!(
            out,
            "verdict simulate: seed {}, {} honest accounts ({} trusted), {} per abuse strategy, {} sybils/day, {} + {} days",
            c.seed,
            c.honest,
            self.honest.trusted,
            c.per_strategy,
            c.sybils_per_day,
            c.warmup_days,
            c.days
        );
        let _ = writeln!(
            out,
            "{} tasks, {} scored reports, {} confirmations in {:.0} s ({:.0} tasks/s)\n",
            self.run.tasks,
            self.run.scored_reports,
            self.run.scored_confirmations,
            self.run.wall_seconds,
            self.run.tasks_per_second
        );
        let _ = writeln!(
            out,
            "operator untrusted {} honest and {} abusive trusted accounts on their screen flags",
            self.trust_revoked.honest, self.trust_revoked.abusive
        );
        let _ = writeln!(
            out,
            "every balance equals its account's ledger (the sum of its tasks' net refunds): {} accounts checked\n",
            self.run.balances_checked
        );
        if self.run.arrived_late > 0 {
            let _ = writeln!(
                out,
                "{} reports sent inside their window arrived after it by the service's clock (the simulation fell behind it; left out of every figure below)\n",
                self.run.arrived_late
            );
        }
        for bar in &self.bars {
            let value = bar
                .value
                .map_or_else(|| "not measured".to_owned(), |v| format!("{v}"));
            let _ = writeln!(
                out,
                "  [{}] {:<72} {:>12}  target {:<8} ({})",
                if bar.met { "met " } else { "MISS" },
                bar.name,
                value,
                bar.target,
                bar.source
            );
        }
        let _ = writeln!(
            out,
            "\n  {:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "strategy",
            "accounts",
            "hidden",
            "detected",
            "h median",
            "h p90",
            "tasks med",
            "false",
            "leaked %"
        );
        for s in &self.strategies {
            let h = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
            let _ = writeln!(
                out,
                "  {:<22} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.2}",
                s.strategy,
                s.accounts,
                s.hidden,
                s.detected,
                h(s.hours_to_ignore_median),
                h(s.hours_to_ignore_p90),
                s.tasks_to_ignore_median
                    .map_or("-".into(), |t| t.to_string()),
                s.false_reports.reports,
                s.leaked_pct
            );
        }
        let h = &self.honest;
        let _ = writeln!(
            out,
            "\n  honest: {} genuine reports, {:.2} % refunded ({:.2} % of solver errors); {} late; {} during own outages ({:.1} % refunded)",
            h.genuine.reports,
            h.genuine_refunded_pct,
            h.solver_errors_refunded_pct,
            h.late.reports,
            h.during_own_outage.reports,
            h.during_own_outage.refunded_pct()
        );
        let _ = writeln!(
            out,
            "  abusive accounts no rate test can tell from an honest one of their volume: {} (they kept {:.2} % of the value all abusers claimed)",
            self.abuse.hidden_accounts, self.abuse.hidden_leaked_pct
        );
        let _ = writeln!(out, "  honest decisions: {:?}", h.genuine_by_reason);
        let _ = writeln!(out, "  all decisions: {:?}", self.reasons);
        if let Some(s) = &self.scores {
            let _ = writeln!(
                out,
                "provider scores (token types, mean): off the honest-only score by {:.4} on average ({:.4} at most); counting every report alike would be off by {:.4}",
                s.verdict_error, s.verdict_error_max, s.naive_error
            );
            let _ = writeln!(
                out,
                "  against the truth: {:.1} % of provider pairs in their true order; {:.1} % of intervals hold the true accuracy",
                s.pairs_in_true_order_pct, s.intervals_holding_truth_pct
            );
            for pair in &s.pairs_out_of_order {
                let _ = writeln!(out, "  out of order: {pair}");
            }
            for interval in &s.intervals_missing_truth {
                let _ = writeln!(out, "  interval missing the truth: {interval}");
            }
            for p in &s.providers {
                let _ = writeln!(
                    out,
                    "  {} {}: honest only {:.4}, verdict {:.4}, every report alike {:.4}",
                    p.provider, p.captcha_type, p.honest_only, p.verdict, p.naive
                );
            }
        }
        out
    }
}

/// A bar's value for a Markdown table: bold and marked when missed.
fn markdown_value(bar: &Bar) -> String {
    let value = bar
        .value
        .map_or_else(|| "not measured".to_owned(), |v| v.to_string());
    if bar.met {
        value
    } else {
        format!("**{value} (missed)**")
    }
}

/// `1927087` as `1,927,087`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Metrics {
    /// The issue's bars as a Markdown table (the README states them for the CI size).
    pub fn markdown_issue_bars(&self) -> String {
        let mut out = String::from("| bar | target | figure |\n|---|---|---|\n");
        for bar in self.bars.iter().filter(|b| b.source == "issue") {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                bar.name.replace('|', "\\|"),
                bar.target,
                markdown_value(bar)
            );
        }
        out
    }

    /// The run's size, every bar and the per-strategy figures, as Markdown (docs/simulation.md
    /// states them for the CI size). No wall-clock figure: the same seed renders the same text.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} tasks, {} scored reports, {} confirmations; {} accounts.\n",
            thousands(self.run.tasks),
            thousands(self.run.scored_reports),
            thousands(self.run.scored_confirmations),
            thousands(self.run.accounts as u64)
        );
        out.push_str("| bar | target | figure | source |\n|---|---|---|---|\n");
        for bar in &self.bars {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                bar.name.replace('|', "\\|"),
                bar.target,
                markdown_value(bar),
                bar.source
            );
        }
        out.push_str(
            "\n| strategy | accounts | hidden among honest | detected | median tasks to ignored | median h | leaked % |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for s in &self.strategies {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.2} |",
                s.strategy,
                s.accounts,
                s.hidden,
                s.detected,
                s.tasks_to_ignore_median
                    .map_or("-".into(), |t| t.to_string()),
                s.hours_to_ignore_median
                    .map_or("-".into(), |h| h.to_string()),
                s.leaked_pct
            );
        }
        let _ = writeln!(
            out,
            "\nAbusive accounts no rate test can tell from an honest one of their volume (hidden among honest): {}, who kept {:.2} % of the value all abusers claimed.\n\
             \nTrusted accounts the operator untrusted on their screen flags: {} honest, {} abusive.",
            self.abuse.hidden_accounts,
            self.abuse.hidden_leaked_pct,
            self.trust_revoked.honest,
            self.trust_revoked.abusive
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(340), "340");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_927_087), "1,927,087");
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(quantile(&v, 0.5), Some(5.0));
        assert_eq!(quantile(&v, 0.9), Some(9.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile_u(&[3, 9], 1.0), Some(9));
    }

    #[test]
    fn a_bar_without_a_measurement_is_not_met() {
        assert!(!Bar::at_most_opt("issue", "x", None, 1.0).met);
        assert!(Bar::at_most("issue", "x", 1.0, 1.0).met);
        assert!(!Bar::at_least("issue", "x", 97.9, 98.0).met);
    }

    fn always_reporter(id: i64) -> SimAccount {
        SimAccount {
            id,
            key: format!("key-{id}"),
            strategy: Some(Strategy::AlwaysReport),
            trusted: false,
            types: vec![(TYPES[0].0, 1.0)],
            per_day: 5.0,
            report_propensity: 1.0,
            site_failure: 0.0,
            confirms: false,
            outage: None,
            abuse_from: 0,
            active: (0, 10 * DAY_MS),
            budget: None,
            tasks_done: 0,
        }
    }

    fn worst_always_reporter(tasks: [u64; 2], ignored_at: Option<u64>) -> (Option<u64>, usize) {
        let accounts = [always_reporter(1), always_reporter(2)];
        let config = SimConfig::ci(1);
        let mut ledger = Ledger::new(&accounts, &config);
        for (account, n) in tasks.into_iter().enumerate() {
            for done in 1..=n {
                ledger.task_done(account, 0, true, true);
                if account == 0 && Some(done) == ignored_at {
                    ledger.ignored(0, 1, done as i64 * HOUR_MS);
                }
            }
        }
        let metrics = ledger.finish(&config, &accounts, 0, 10 * DAY_MS, 0, Duration::ZERO);
        let s = &metrics.strategies[0];
        assert_eq!(s.strategy, "always-report");
        (s.tasks_to_ignore_max, s.never_ignored)
    }

    #[test]
    fn an_always_reporter_never_ignored_counts_with_the_tasks_it_did() {
        // One ignored at its 40th task; the other never, after 150 tasks: not yet a miss,
        // and its 150 is the worst figure so far.
        assert_eq!(worst_always_reporter([60, 150], Some(40)), (Some(150), 1));
        // Past 200 tasks without being ignored: the bar's figure says so.
        assert_eq!(worst_always_reporter([60, 250], Some(40)), (Some(250), 1));
        assert_eq!(worst_always_reporter([60, 30], Some(40)), (Some(40), 1));
    }

    #[test]
    fn an_abuser_is_hidden_only_behind_an_honest_account_of_at_least_its_volume() {
        let honest = |id, outage| SimAccount {
            strategy: None,
            outage,
            ..always_reporter(id)
        };
        // Honest: 1,000 tasks at 20 %; 100 tasks at 50 % (small, so noisier); one at 90 % during
        // its own outage, which hides nobody.
        let accounts = [
            honest(1, None),
            honest(2, None),
            honest(3, Some((0, DAY_MS))),
            always_reporter(4), // 500 tasks at 18 %: hidden behind account 1
            always_reporter(5), // 500 tasks at 30 %: account 2 reports more, but over fewer tasks
        ];
        let config = SimConfig::ci(1);
        let mut ledger = Ledger::new(&accounts, &config);
        for (account, tasks, reports) in [
            (0, 1000, 200),
            (1, 100, 50),
            (2, 1000, 900),
            (3, 500, 90),
            (4, 500, 150),
        ] {
            for _ in 0..tasks {
                ledger.task_done(account, 0, true, true);
            }
            ledger.reports_per_account[account] = reports;
        }
        ledger.false_by_account[3].add(3_000, 3_000);
        ledger.false_by_account[4].add(1_000, 0);
        ledger.abusive_false.add(3_000, 3_000);
        ledger.abusive_false.add(1_000, 0);
        let metrics = ledger.finish(&config, &accounts, 0, 10 * DAY_MS, 0, Duration::ZERO);
        assert_eq!(metrics.abuse.hidden_accounts, 1);
        assert!((metrics.abuse.hidden_leaked_pct - 75.0).abs() < 1e-9);
    }

    #[test]
    fn tallies_count_value_and_refunds() {
        let mut t = Tally::default();
        t.add(1000, 1000);
        t.add(3000, 0);
        assert_eq!(t.reports, 2);
        assert_eq!(t.refunded_reports, 1);
        assert!((t.refunded_pct() - 25.0).abs() < 1e-9);
    }
}
