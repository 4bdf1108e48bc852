//! How the simulation reaches verdict: the same use cases a deployment uses, either called in
//! process or over HTTP through the native API. Either way verdict runs on a clock the
//! simulation moves, and on a throwaway SQLite database.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use verdict_domain::{
    AccountId, Eligibility, Policy, ReportKind, ReportRequest, TaskId, TaskInput, Timestamp,
    Verdict,
};
use verdict_engine::{Engine, ManualClock, RecheckOutcome, ReportOutcome};

use crate::scores::ShownScore;
use verdict_store::SqliteStore;
use verdict_store::sqlite::SqliteOptions;

/// A report as the simulated client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    pub task: u64,
    pub kind: ReportKind,
    pub correction: Option<String>,
}

/// A report sent at a moment with an account's key.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Timestamp,
    pub key: String,
    pub report: SimReport,
}

/// verdict's decision on one report, as the simulation keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub verdict: Verdict,
    pub reason: String,
    /// Micro-units refunded.
    pub refund: i64,
    /// Which lane of the screen flagged the account, when one did.
    pub lane: Option<String>,
    /// The screen's numbers, when it flagged the account.
    pub screen: Option<serde_json::Value>,
}

/// verdict's answer to a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Recorded(Judged),
    /// The answer to an identical report sent earlier.
    Repeated(Judged),
    /// Nothing recorded; the refusal's code.
    Refused(String),
}

/// What the simulation needs from verdict.
#[expect(
    async_fn_in_trait,
    reason = "used with concrete types only, never as dyn"
)]
pub trait Platform {
    /// Moves verdict's clock to `t`, or (a served verdict on its own compressed clock) waits
    /// until it reads `t`.
    async fn set_time(&self, t: Timestamp);
    /// Creates an account; its id and API key.
    async fn create_account(&self, name: &str, trusted: bool) -> anyhow::Result<(i64, String)>;
    async fn ingest(&self, tasks: Vec<TaskInput>) -> anyhow::Result<()>;
    async fn report(&self, key: &str, report: &SimReport) -> anyhow::Result<Answer>;
    /// Reports of several lanes, each in time order, with answers in the same places. Lanes
    /// never share an account, so they may run concurrently: one account's judging depends on
    /// that account's history and on the cohort, which changes only in `maintain`.
    async fn reports(&self, lanes: Vec<Vec<Sent>>) -> anyhow::Result<Vec<Vec<Answer>>> {
        let mut answers = Vec::with_capacity(lanes.len());
        for lane in lanes {
            let mut lane_answers = Vec::with_capacity(lane.len());
            for sent in lane {
                self.set_time(sent.at).await;
                lane_answers.push(self.report(&sent.key, &sent.report).await?);
            }
            answers.push(lane_answers);
        }
        Ok(answers)
    }
    /// How many lanes `reports` runs at once.
    fn lanes(&self) -> usize {
        1
    }
    /// The next task waiting for a second solve.
    async fn next_recheck(&self) -> anyhow::Result<Option<u64>>;
    /// Another solve's answer; the settled decision, or none when this answer did not settle
    /// it (settled before, or one more solve is needed).
    async fn answer_recheck(&self, task: u64, answer: &str) -> anyhow::Result<Option<Judged>>;
    /// What `verdict serve` does in the background: refresh the statistics, settle overdue
    /// re-checks.
    async fn maintain(&self) -> anyhow::Result<()>;
    /// How many ignored periods the account has had, and when the last began.
    async fn ignores(&self, account: i64) -> anyhow::Result<(u32, Option<Timestamp>)>;
    /// Whether the account view shows a screen flag its trust overrode.
    async fn screen_flagged(&self, account: i64) -> anyhow::Result<bool>;
    /// The operator takes the account's trust away.
    async fn untrust(&self, account: i64) -> anyhow::Result<()>;
    /// Micro-units taken back from the account by reversals, per task.
    async fn reversals(&self, account: i64) -> anyhow::Result<Vec<(u64, i64)>>;
    /// The account's balance as verdict shows it, and the sum of its ledger's entries (its
    /// tasks' net refunds), in micro-units.
    async fn money(&self, account: i64) -> anyhow::Result<(i64, i64)>;
    /// How a report ended, looked up after the fact (for re-checks still pending at the end).
    async fn final_decision(&self, task: u64) -> anyhow::Result<Option<Judged>>;
    /// Every provider's published score, as verdict shows it.
    async fn provider_scores(&self) -> anyhow::Result<Vec<ShownScore>>;
}

/// verdict's engine on a throwaway SQLite database, called in process.
#[derive(Debug)]
pub struct InProcess {
    engine: Engine,
    clock: Arc<ManualClock>,
    /// Engines on the same store, each on its own clock, for concurrent reports.
    lanes: Vec<(Engine, Arc<ManualClock>)>,
    _dir: tempfile::TempDir,
}

/// Concurrent report lanes in process: enough to keep the store's writer batching commits.
const LANES: usize = 16;

impl InProcess {
    pub fn open(policy: Policy, start: Timestamp) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory for the simulation")?;
        let (engine, clock) = Self::engine_in(dir.path(), policy.clone(), start)?;
        let lanes = (0..LANES)
            .map(|_| {
                let clock = Arc::new(ManualClock::at(start));
                let lane = engine.with_clock(clock.clone());
                (lane, clock)
            })
            .collect();
        Ok(Self {
            engine,
            clock,
            lanes,
            _dir: dir,
        })
    }

    pub(crate) fn engine_in(
        dir: &Path,
        policy: Policy,
        start: Timestamp,
    ) -> anyhow::Result<(Engine, Arc<ManualClock>)> {
        let store = SqliteStore::open(
            dir.join("simulation.db"),
            SqliteOptions {
                // Nothing here outlives the run: commits need not wait for the disk.
                durable: false,
                ..SqliteOptions::default()
            },
        )
        .context("opening the simulation's database")?;
        let clock = Arc::new(ManualClock::at(start));
        Ok((Engine::new(Arc::new(store), policy, clock.clone()), clock))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

pub(crate) fn judged(report: &verdict_domain::Report) -> Judged {
    Judged {
        verdict: report.verdict,
        reason: report.reason.code().to_owned(),
        refund: report.refund.map_or(0, |a| a.micros()),
        lane: report
            .evidence
            .get("lane")
            .and_then(|l| l.as_str())
            .map(str::to_owned),
        screen: report
            .evidence
            .get("lane")
            .and_then(|_| report.evidence.get("screen").cloned()),
    }
}

async fn submit(engine: &Engine, key: &str, report: &SimReport) -> anyhow::Result<Answer> {
    let request = ReportRequest {
        task: TaskId::from_u64(report.task),
        kind: report.kind,
        correction: report.correction.clone(),
        code: None,
        message: None,
        dialect: "native",
        eligibility: Eligibility::ALL,
    };
    Ok(match engine.submit_report(key, request).await? {
        ReportOutcome::Recorded(r) => Answer::Recorded(judged(&r)),
        ReportOutcome::Repeated(r) => Answer::Repeated(judged(&r)),
        ReportOutcome::Refused(refusal) => Answer::Refused(refusal.code().to_owned()),
    })
}

impl Platform for InProcess {
    async fn set_time(&self, t: Timestamp) {
        self.clock.set(t);
    }

    async fn create_account(&self, name: &str, trusted: bool) -> anyhow::Result<(i64, String)> {
        let (account, key) = self
            .engine
            .create_account(name.to_owned(), trusted, None)
            .await?;
        Ok((account.id.0, key.expose().to_owned()))
    }

    async fn ingest(&self, tasks: Vec<TaskInput>) -> anyhow::Result<()> {
        let count = tasks.len();
        let summary = self
            .engine
            .ingest(tasks.into_iter().map(Ok).collect())
            .await?;
        anyhow::ensure!(
            summary.inserted == count,
            "ingest stored {} of {count} tasks: {:?}",
            summary.inserted,
            summary.rejected.first()
        );
        Ok(())
    }

    async fn report(&self, key: &str, report: &SimReport) -> anyhow::Result<Answer> {
        submit(&self.engine, key, report).await
    }

    async fn reports(&self, lanes: Vec<Vec<Sent>>) -> anyhow::Result<Vec<Vec<Answer>>> {
        anyhow::ensure!(lanes.len() <= self.lanes.len(), "more lanes than engines");
        let mut running = tokio::task::JoinSet::new();
        for (index, (lane, (engine, clock))) in lanes.into_iter().zip(&self.lanes).enumerate() {
            let (engine, clock) = (engine.clone(), clock.clone());
            running.spawn(async move {
                let mut answers = Vec::with_capacity(lane.len());
                for sent in lane {
                    clock.set(sent.at);
                    answers.push(submit(&engine, &sent.key, &sent.report).await?);
                }
                anyhow::Ok((index, answers))
            });
        }
        let mut answers = vec![Vec::new(); running.len()];
        while let Some(done) = running.join_next().await {
            let (index, lane) = done??;
            answers[index] = lane;
        }
        Ok(answers)
    }

    fn lanes(&self) -> usize {
        self.lanes.len()
    }

    async fn next_recheck(&self) -> anyhow::Result<Option<u64>> {
        let item = self.engine.next_recheck(Duration::from_secs(120)).await?;
        Ok(item.and_then(|i| i.task.id.as_u64()))
    }

    async fn answer_recheck(&self, task: u64, answer: &str) -> anyhow::Result<Option<Judged>> {
        Ok(
            match self
                .engine
                .submit_recheck(&TaskId::from_u64(task), answer)
                .await?
            {
                RecheckOutcome::Settled(r) => Some(judged(&r)),
                RecheckOutcome::AnotherSolve(_)
                | RecheckOutcome::AlreadySettled(_)
                | RecheckOutcome::NotFound => None,
            },
        )
    }

    async fn maintain(&self) -> anyhow::Result<()> {
        self.engine.refresh_statistics().await?;
        self.engine.settle_overdue_rechecks().await?;
        Ok(())
    }

    async fn ignores(&self, account: i64) -> anyhow::Result<(u32, Option<Timestamp>)> {
        let account = self
            .engine
            .account(AccountId(account))
            .await
            .context("simulated account vanished")?
            .account;
        Ok((account.ignores.count, account.ignores.last_at))
    }

    async fn screen_flagged(&self, account: i64) -> anyhow::Result<bool> {
        let view = self
            .engine
            .account(AccountId(account))
            .await
            .context("simulated account vanished")?;
        Ok(view.account.screen_flag.is_some())
    }

    async fn untrust(&self, account: i64) -> anyhow::Result<()> {
        self.engine.set_trusted(AccountId(account), false).await?;
        Ok(())
    }

    async fn reversals(&self, account: i64) -> anyhow::Result<Vec<(u64, i64)>> {
        Ok(self
            .engine
            .ledger(AccountId(account))
            .await?
            .into_iter()
            .filter(|e| e.kind == verdict_domain::EntryKind::Reversal)
            .filter_map(|e| Some((e.task.as_u64()?, -e.amount.micros())))
            .collect())
    }

    async fn money(&self, account: i64) -> anyhow::Result<(i64, i64)> {
        let id = AccountId(account);
        let balance = self.engine.account(id).await?.account.balance;
        let ledger = self.engine.ledger(id).await?;
        Ok((
            balance.micros(),
            verdict_domain::ledger::balance(&ledger).micros(),
        ))
    }

    async fn final_decision(&self, task: u64) -> anyhow::Result<Option<Judged>> {
        Ok(self
            .engine
            .task(&TaskId::from_u64(task))
            .await?
            .and_then(|(_, report)| report.map(|r| judged(&r))))
    }

    async fn provider_scores(&self) -> anyhow::Result<Vec<ShownScore>> {
        Ok(self
            .engine
            .provider_scores(None)
            .await?
            .into_iter()
            .map(|s| ShownScore {
                provider: s.provider,
                captcha_type: s.captcha_type.as_str().to_owned(),
                // As the native API rounds it, so both platforms give the same figures.
                mean: (s.score.reliability.mean * 1e6).round() / 1e6,
                lower: (s.score.interval.lower * 1e6).round() / 1e6,
                upper: (s.score.interval.upper * 1e6).round() / 1e6,
            })
            .collect())
    }
}
