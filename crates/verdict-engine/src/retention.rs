//! Retention of task records: one pass over the tasks older than the configured age, in small
//! batches, deleting what `verdict_domain::retention::fate` lets go (never a task money moved
//! on, never the ledger). Knows nothing of how a backend runs a batch.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use verdict_domain::Timestamp;
use verdict_domain::retention::TaskRetention;
use verdict_store::PrunedTasks;

use crate::{Engine, EngineError};

/// Tasks looked at per batch unless configured otherwise: one writer job on SQLite, a few
/// milliseconds, so that reports queued behind it barely notice.
pub const PRUNE_BATCH: u32 = 1000;

/// What a retention pass did, summed over its batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Tasks completed before this were looked at.
    pub cutoff: Timestamp,
    pub batches: u64,
    pub examined: u64,
    /// Deleted: tasks, their reports, their settled re-checks.
    pub tasks: u64,
    pub reports: u64,
    pub rechecks: u64,
    /// Kept: money moved on them (for good), or a re-check on them is open (until settled).
    pub kept_money: u64,
    pub kept_open_recheck: u64,
}

impl Pruned {
    fn add(&mut self, batch: &PrunedTasks) {
        self.batches += 1;
        self.examined += batch.examined;
        self.tasks += batch.tasks;
        self.reports += batch.reports;
        self.rechecks += batch.rechecks;
        self.kept_money += batch.kept_money;
        self.kept_open_recheck += batch.kept_open_recheck;
    }
}

impl Engine {
    /// Deletes the tasks completed longer than `retention` ago that nothing holds, `batch`
    /// tasks looked at per transaction.
    pub async fn prune_tasks(
        &self,
        retention: TaskRetention,
        batch: u32,
    ) -> Result<Pruned, EngineError> {
        self.prune_tasks_with(retention, batch, |_| {}).await
    }

    /// [`Engine::prune_tasks`], calling `progress` with the totals after each batch.
    pub async fn prune_tasks_with(
        &self,
        retention: TaskRetention,
        batch: u32,
        mut progress: impl FnMut(&Pruned) + Send,
    ) -> Result<Pruned, EngineError> {
        let batch = batch.max(1);
        // Fixed for the pass, so that it ends even while tasks keep ageing past the cut-off.
        let cutoff = retention.cutoff(self.parts.clock.now());
        let mut total = Pruned {
            cutoff,
            batches: 0,
            examined: 0,
            tasks: 0,
            reports: 0,
            rechecks: 0,
            kept_money: 0,
            kept_open_recheck: 0,
        };
        let mut after = None;
        loop {
            let done = self
                .parts
                .store
                .prune_tasks(cutoff, after.take(), batch)
                .await?;
            total.add(&done);
            progress(&total);
            match done.next {
                Some(next) => after = Some(next),
                None => return Ok(total),
            }
            // Each batch is its own transaction and holds nothing after it commits; a turn for
            // the other tasks on this thread before the next one.
            YieldNow(false).await;
        }
    }
}

/// Returns to the scheduler once (the engine does not depend on a runtime for it).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
