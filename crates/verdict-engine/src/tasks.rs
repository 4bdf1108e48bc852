//! Tasks: ingest from the platform, and inspection.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};

use verdict_domain::ledger::TaskMoney;
use verdict_domain::plan::IngestWrites;
use verdict_domain::{AccountId, Family, LedgerEntry, Report, Task, TaskId, TaskInput, Timestamp};
use verdict_store::IngestResult;

use crate::{Engine, EngineError};

/// The result of an ingest request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub inserted: usize,
    pub duplicates: usize,
    /// Records not stored: their position in the request and why.
    pub rejected: Vec<(usize, String)>,
}

/// One task's whole story: what was ingested, what was reported and decided, and the money.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStory {
    pub task: Task,
    pub report: Option<Report>,
    pub ledger: Vec<LedgerEntry>,
    pub money: TaskMoney,
}

/// The most reports one page of [`Engine::reports`] holds.
pub const MAX_REPORTS_PAGE: u32 = 1_000;

impl Engine {
    pub async fn task(&self, id: &TaskId) -> Result<Option<(Task, Option<Report>)>, EngineError> {
        Ok(self.parts.store.task(id).await?)
    }

    /// A task with its report, its ledger entries and what its account keeps of them.
    pub async fn task_story(&self, id: &TaskId) -> Result<Option<TaskStory>, EngineError> {
        let Some((task, report)) = self.parts.store.task(id).await? else {
            return Ok(None);
        };
        let ledger = self.parts.store.task_ledger(id).await?;
        Ok(Some(TaskStory {
            money: TaskMoney::of(&ledger),
            task,
            report,
            ledger,
        }))
    }

    /// Reports matching `query`, newest first, each as its task's story (what its account keeps
    /// of the refund included). `query.limit` is capped at [`MAX_REPORTS_PAGE`].
    pub async fn reports(
        &self,
        mut query: verdict_store::ReportQuery,
    ) -> Result<Vec<TaskStory>, EngineError> {
        query.limit = query.limit.clamp(1, MAX_REPORTS_PAGE);
        Ok(self
            .parts
            .store
            .reports(&query)
            .await?
            .into_iter()
            .map(|listed| TaskStory {
                money: TaskMoney::of(&listed.ledger),
                task: listed.task,
                report: Some(listed.report),
                ledger: listed.ledger,
            })
            .collect())
    }

    /// What a task's account keeps of its refund, from the task's ledger entries.
    pub async fn task_money(&self, id: &TaskId) -> Result<TaskMoney, EngineError> {
        Ok(TaskMoney::of(&self.parts.store.task_ledger(id).await?))
    }

    /// Validates and stores a batch of task records. `records` holds, per position, either the
    /// record or why it could not even be read. Stored [`INGEST_STEP`] records at a time (see
    /// [`Ingest`]).
    pub async fn ingest(
        &self,
        records: Vec<Result<TaskInput, String>>,
    ) -> Result<IngestSummary, EngineError> {
        let mut ingest = self.start_ingest();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            ingest
                .add(records.by_ref().take(INGEST_STEP).collect())
                .await?;
        }
        ingest.finish().await
    }

    /// An ingest fed in steps, for a caller that reads a large batch as it arrives.
    pub fn start_ingest(&self) -> Ingest<'_> {
        Ingest {
            engine: self,
            seen: 0,
            summary: IngestSummary::default(),
            inserted: HashMap::new(),
            writing: FuturesOrdered::new(),
        }
    }
}

/// Records a step of an ingest holds: each step is validated and stored in one transaction, so
/// a batch of any size costs the memory of a step, not of the batch, and a caller can parse the
/// next step while this one is written.
pub const INGEST_STEP: usize = 8192;

/// A step's records validated: the tasks to store, and what was refused, by position in the
/// step.
#[derive(Debug)]
pub struct ValidatedStep {
    records: usize,
    at: Timestamp,
    tasks: Vec<Task>,
    positions: Vec<usize>,
    rejected: Vec<(usize, String)>,
}

impl ValidatedStep {
    pub fn new(records: Vec<Result<TaskInput, String>>, now: Timestamp) -> Self {
        let mut step = Self {
            records: records.len(),
            at: now,
            tasks: Vec::with_capacity(records.len()),
            positions: Vec::with_capacity(records.len()),
            rejected: Vec::new(),
        };
        for (index, record) in records.into_iter().enumerate() {
            match record.and_then(|r| r.validate(now)) {
                Ok(task) => {
                    step.tasks.push(task);
                    step.positions.push(index);
                }
                Err(why) => step.rejected.push((index, why)),
            }
        }
        step
    }
}

/// One ingest request, stored step by step ([`Engine::start_ingest`]). Positions in the summary
/// count every record added, across steps. A step stored is durable even if another one fails;
/// the batch sent again stores the rest and answers the stored ones as duplicates.
///
/// Up to [`verdict_store::Store::ingest_steps_in_flight`] steps are handed to the store before
/// the oldest is answered. SQLite's one writer then commits the steps waiting for it together:
/// each commit of random task ids writes back most of the id index's pages, so a commit per step
/// made a large batch far slower than one commit would (docs/performance.md).
pub struct Ingest<'e> {
    engine: &'e Engine,
    /// Records added so far: the position of the next one.
    seen: usize,
    summary: IngestSummary,
    inserted: HashMap<Family, u64>,
    /// Steps handed to the store and not yet answered, oldest first.
    writing: FuturesOrdered<BoxFuture<'e, Result<StepStored, EngineError>>>,
}

impl std::fmt::Debug for Ingest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("seen", &self.seen)
            .field("summary", &self.summary)
            .field("writing", &self.writing.len())
            .finish_non_exhaustive()
    }
}

/// A step the store answered: one result per task, with the task's position and family.
struct StepStored {
    results: Vec<IngestResult>,
    positions: Vec<usize>,
    keys: Vec<(AccountId, Family)>,
}

impl Ingest<'_> {
    /// Validates and stores the next records, in one transaction.
    pub async fn add(
        &mut self,
        records: Vec<Result<TaskInput, String>>,
    ) -> Result<(), EngineError> {
        let step = ValidatedStep::new(records, self.engine.parts.clock.now());
        self.add_validated(step).await
    }

    /// The moment to validate the next step against ([`ValidatedStep::new`]).
    pub fn now(&self) -> Timestamp {
        self.engine.parts.clock.now()
    }

    /// Hands a step validated beforehand (by a caller that validates on another thread while
    /// the step before is written) to the store, to be stored in one transaction; waits only
    /// while as many steps as the store takes at once are unanswered.
    pub async fn add_validated(&mut self, step: ValidatedStep) -> Result<(), EngineError> {
        let engine = self.engine;
        let first = self.seen;
        self.seen += step.records;
        let now = step.at;
        let ValidatedStep {
            tasks, positions, ..
        } = step;
        let positions: Vec<usize> = positions.into_iter().map(|i| first + i).collect();
        crate::metrics::ingest_rows("rejected", step.rejected.len());
        self.summary
            .rejected
            .extend(step.rejected.into_iter().map(|(i, why)| (first + i, why)));
        if tasks.is_empty() {
            return Ok(());
        }
        let keys: Vec<(AccountId, Family)> = tasks
            .iter()
            .map(|t| (t.account, t.captcha_type.family()))
            .collect();
        // A node's first ingest waits for the weights once; later ones use them as refreshed.
        if !engine.parts.silence.loaded()
            && let Err(e) = engine.refresh_silence_weights().await
        {
            tracing::warn!(error = %crate::chain(&e), "silence weights not loaded; ingesting with the defaults");
        }
        let writes = IngestWrites::plan(tasks, |account, family| {
            engine.parts.silence.get(account, family)
        });
        self.writing.push_back(
            async move {
                let results = engine.parts.store.ingest(writes, now).await?;
                Ok(StepStored {
                    results,
                    positions,
                    keys,
                })
            }
            .boxed(),
        );
        // Polled once now, so that the step reaches the store's queue while the caller parses
        // the next one; steps already answered are counted.
        while let Some(Some(stored)) = self.writing.next().now_or_never() {
            self.count(stored?);
        }
        while self.writing.len() >= engine.parts.store.ingest_steps_in_flight().max(1) {
            match self.writing.next().await {
                Some(stored) => self.count(stored?),
                None => break,
            }
        }
        Ok(())
    }

    fn count(&mut self, stored: StepStored) {
        let before = (
            self.summary.inserted,
            self.summary.duplicates,
            self.summary.rejected.len(),
        );
        let StepStored {
            results,
            positions,
            keys,
        } = stored;
        for ((result, index), (account, family)) in results.into_iter().zip(positions).zip(keys) {
            match result {
                IngestResult::Inserted => {
                    self.summary.inserted += 1;
                    *self.inserted.entry(family).or_default() += 1;
                }
                IngestResult::Duplicate => self.summary.duplicates += 1,
                IngestResult::UnknownAccount => self
                    .summary
                    .rejected
                    .push((index, format!("account: no account with id {account}"))),
            }
        }
        // Counted per step, as each step is durable on its own.
        crate::metrics::ingest_rows("inserted", self.summary.inserted - before.0);
        crate::metrics::ingest_rows("duplicate", self.summary.duplicates - before.1);
        crate::metrics::ingest_rows("rejected", self.summary.rejected.len() - before.2);
    }

    /// Waits for every step handed to the store; then what the ingest stored and refused, in
    /// positions' order, and refits the cohorts of families that grew enough. The first step
    /// that failed fails the whole; the other steps' writes stand.
    pub async fn finish(mut self) -> Result<IngestSummary, EngineError> {
        let mut failed = None;
        while let Some(stored) = self.writing.next().await {
            match stored {
                Ok(stored) => self.count(stored),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        self.summary.rejected.sort_by_key(|(i, _)| *i);
        self.engine.refit_grown_cohorts(self.inserted).await;
        tracing::info!(
            inserted = self.summary.inserted,
            duplicates = self.summary.duplicates,
            rejected = self.summary.rejected.len(),
            "tasks ingested"
        );
        Ok(self.summary)
    }
}
