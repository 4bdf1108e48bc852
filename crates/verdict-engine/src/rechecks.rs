//! Second solves: the platform asks for the next report to re-check, solves the captcha again
//! with another worker, and posts the answer; reports nobody re-checks in time settle by the
//! configured default.

use std::time::Duration;

use verdict_domain::judging::MAX_CORRECTION_LEN;
use verdict_domain::plan::SettlementWrites;
use verdict_domain::recheck::{Precision, RecheckRecord, settle_pending};
use verdict_domain::{Report, TaskId};
use verdict_store::{RecheckItem, RecheckSubject, Settled};

use crate::{Engine, EngineError};

/// What became of a second answer.
#[derive(Debug, Clone, PartialEq)]
pub enum RecheckOutcome {
    Settled(Report),
    /// Not conclusive: the report stays pending and the task is queued for one more solve.
    AnotherSolve(Report),
    /// It was settled before (by another answer or the timeout); this is how.
    AlreadySettled(Report),
    /// No report of this task waits for a re-check.
    NotFound,
}

impl Engine {
    /// Hands out the oldest report waiting for a second solve, held for `lease`.
    pub async fn next_recheck(&self, lease: Duration) -> Result<Option<RecheckItem>, EngineError> {
        Ok(self
            .parts
            .store
            .claim_recheck(self.parts.clock.now(), lease)
            .await?)
    }

    /// Settles a pending report with the second solve's answer.
    pub async fn submit_recheck(
        &self,
        task: &TaskId,
        answer: &str,
    ) -> Result<RecheckOutcome, EngineError> {
        let answer = answer.trim();
        if answer.is_empty() || answer.len() > MAX_CORRECTION_LEN {
            return Err(EngineError::Invalid(format!(
                "answer must be 1 to {MAX_CORRECTION_LEN} bytes"
            )));
        }
        match self
            .parts
            .store
            .recheck_subject(task, self.parts.clock.now())
            .await?
        {
            Some(subject) => self.settle(subject, Some(answer)).await,
            None => Ok(match self.parts.store.task(task).await? {
                Some((_, Some(report))) if report.verdict != verdict_domain::Verdict::Pending => {
                    RecheckOutcome::AlreadySettled(report)
                }
                _ => RecheckOutcome::NotFound,
            }),
        }
    }

    /// Settles every report whose re-check is overdue by the configured default.
    pub async fn settle_overdue_rechecks(&self) -> Result<u32, EngineError> {
        let mut settled = 0;
        loop {
            let due = self
                .parts
                .store
                .overdue_rechecks(self.parts.clock.now(), 100)
                .await?;
            if due.is_empty() {
                return Ok(settled);
            }
            for task in due {
                if let Some(subject) = self
                    .parts
                    .store
                    .recheck_subject(&task, self.parts.clock.now())
                    .await?
                    && let RecheckOutcome::Settled(_) = self.settle(subject, None).await?
                {
                    settled += 1;
                }
            }
        }
    }

    async fn settle(
        &self,
        subject: RecheckSubject,
        answer: Option<&str>,
    ) -> Result<RecheckOutcome, EngineError> {
        let now = self.parts.clock.now();
        let precision = subject.precision_at.map_or(subject.precision, |at| {
            subject.precision.decayed(Duration::from_millis(
                now.millis_since(at).max(0).unsigned_abs(),
            ))
        });
        let family = subject.task.captcha_type.family();
        let record = RecheckRecord {
            precision,
            last_day: Precision {
                confirmed: subject.last_day.rechecks_upheld as f64,
                refuted: subject.last_day.rechecks_refuted as f64,
            },
        };
        let settlement = settle_pending(
            &subject.report,
            &subject.task,
            answer,
            record,
            &subject.account,
            &self.parts.policy,
            now,
        );
        crate::reports::log_account_effects(subject.account.id, &settlement.effects);
        let effects = settlement.effects.clone();
        let task_type = subject.task.captcha_type;
        Ok(
            match self
                .parts
                .store
                .settle_recheck(SettlementWrites::plan(settlement, family, now))
                .await?
            {
                Settled::Now(report) if report.verdict == verdict_domain::Verdict::Pending => {
                    tracing::info!(task = %report.task, "re-check inconclusive: another solve");
                    RecheckOutcome::AnotherSolve(report)
                }
                Settled::Now(report) => {
                    crate::metrics::refund(&report, task_type);
                    crate::metrics::standing_effects(&effects);
                    tracing::info!(task = %report.task, verdict = report.verdict.as_str(), reason = %report.reason, "re-check settled");
                    RecheckOutcome::Settled(report)
                }
                Settled::Already(report) => RecheckOutcome::AlreadySettled(report),
            },
        )
    }
}
