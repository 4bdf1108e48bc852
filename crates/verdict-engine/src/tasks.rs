//! Tasks: ingest from the platform, and inspection.

use verdict_domain::{AccountId, LedgerEntry, Report, Task, TaskId, TaskInput};
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

impl Engine {
    pub async fn task(&self, id: &TaskId) -> Result<Option<(Task, Option<Report>)>, EngineError> {
        Ok(self.store.task(id).await?)
    }

    /// The refund and any reversal of one task.
    pub async fn task_ledger(&self, id: &TaskId) -> Result<Vec<LedgerEntry>, EngineError> {
        Ok(self.store.task_ledger(id).await?)
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
        let accounts: Vec<AccountId> = tasks.iter().map(|t| t.account).collect();
        let results = self.store.ingest_tasks(tasks, now).await?;
        for ((result, index), account) in results.into_iter().zip(positions).zip(accounts) {
            match result {
                IngestResult::Inserted => summary.inserted += 1,
                IngestResult::Duplicate => summary.duplicates += 1,
                IngestResult::UnknownAccount => summary
                    .rejected
                    .push((index, format!("account: no account with id {account}"))),
            }
        }
        summary.rejected.sort_by_key(|(i, _)| *i);
        tracing::info!(
            inserted = summary.inserted,
            duplicates = summary.duplicates,
            rejected = summary.rejected.len(),
            "tasks ingested"
        );
        Ok(summary)
    }
}
