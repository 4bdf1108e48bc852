//! Tasks: ingest from the platform, and inspection.

use verdict_domain::ledger::TaskMoney;
use verdict_domain::plan::IngestWrites;
use verdict_domain::{AccountId, Family, LedgerEntry, Report, Task, TaskId, TaskInput};
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

impl Engine {
    pub async fn task(&self, id: &TaskId) -> Result<Option<(Task, Option<Report>)>, EngineError> {
        Ok(self.store.task(id).await?)
    }

    /// A task with its report, its ledger entries and what its account keeps of them.
    pub async fn task_story(&self, id: &TaskId) -> Result<Option<TaskStory>, EngineError> {
        let Some((task, report)) = self.store.task(id).await? else {
            return Ok(None);
        };
        let ledger = self.store.task_ledger(id).await?;
        Ok(Some(TaskStory {
            money: TaskMoney::of(&ledger),
            task,
            report,
            ledger,
        }))
    }

    /// What a task's account keeps of its refund, from the task's ledger entries.
    pub async fn task_money(&self, id: &TaskId) -> Result<TaskMoney, EngineError> {
        Ok(TaskMoney::of(&self.store.task_ledger(id).await?))
    }

    /// Validates and stores a batch of task records. `records` holds, per position, either the
    /// record or why it could not even be read. Valid records are stored in one transaction.
    pub async fn ingest(
        &self,
        records: Vec<Result<TaskInput, String>>,
    ) -> Result<IngestSummary, EngineError> {
        let now = self.clock.now();
        let mut summary = IngestSummary::default();
        let mut tasks = Vec::with_capacity(records.len());
        let mut positions = Vec::with_capacity(records.len());
        for (index, record) in records.into_iter().enumerate() {
            match record.and_then(|r| r.validate(now)) {
                Ok(task) => {
                    tasks.push(task);
                    positions.push(index);
                }
                Err(why) => summary.rejected.push((index, why)),
            }
        }
        if tasks.is_empty() {
            return Ok(summary);
        }
        let keys: Vec<(AccountId, Family)> = tasks
            .iter()
            .map(|t| (t.account, t.captcha_type.family()))
            .collect();
        // A node's first ingest waits for the weights once; later ones use them as refreshed.
        if !self.silence.loaded()
            && let Err(e) = self.refresh_silence_weights().await
        {
            tracing::warn!(error = %crate::chain(&e), "silence weights not loaded; ingesting with the defaults");
        }
        let writes = IngestWrites::plan(tasks, |account, family| self.silence.get(account, family));
        let results = self.store.ingest(writes, now).await?;
        let mut inserted = Vec::with_capacity(keys.len());
        for ((result, index), (account, family)) in results.into_iter().zip(positions).zip(keys) {
            match result {
                IngestResult::Inserted => {
                    summary.inserted += 1;
                    inserted.push(family);
                }
                IngestResult::Duplicate => summary.duplicates += 1,
                IngestResult::UnknownAccount => summary
                    .rejected
                    .push((index, format!("account: no account with id {account}"))),
            }
        }
        summary.rejected.sort_by_key(|(i, _)| *i);
        self.refit_grown_cohorts(&inserted).await;
        tracing::info!(
            inserted = summary.inserted,
            duplicates = summary.duplicates,
            rejected = summary.rejected.len(),
            "tasks ingested"
        );
        Ok(summary)
    }
}
