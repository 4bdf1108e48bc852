//! Judging a report: load the account, the task, any report already recorded and the account's
//! statistics in the task's family; judge; record the report with its refund and effects.

use verdict_domain::decision::Effect;
use verdict_domain::judging::{FamilyState, judge_second_report};
use verdict_domain::plan::ReportWrites;
use verdict_domain::screen::Cohort;
use verdict_domain::{
    Account, AccountId, ApiKey, CaptchaType, Judgement, Refusal, Report, ReportRequest, Situation,
    Task, Timestamp, judge,
};
use verdict_store::{FamilyRecord, Recorded};

use crate::{Engine, EngineError};

/// What became of a report, whatever dialect it came through.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    /// Judged and recorded now (accepted, rejected, acknowledged or pending).
    Recorded(Report),
    /// An identical report was recorded before; this is it, unchanged.
    Repeated(Report),
    /// Nothing recorded.
    Refused(Refusal),
}

impl Engine {
    /// Hours of activity judging a report looks at: the screen's window for incorrect-reports,
    /// and the same for confirmations, whose weight as evidence about the solver is the
    /// reporter's trust too.
    fn history_hours(&self) -> Option<i64> {
        Some(self.parts.policy.screen.slow_window_hours.max(24))
    }

    /// Judges a report presented with `key` and records it. Safe under any concurrency: if two
    /// reports on one task race, storage keeps the first and the second is judged against it.
    pub async fn submit_report(
        &self,
        key: &str,
        request: ReportRequest,
    ) -> Result<ReportOutcome, EngineError> {
        let (dialect, mut task_type) = (request.dialect, None);
        let outcome = self.submit_with_key(key, request, &mut task_type).await;
        crate::metrics::report(dialect, task_type, &outcome);
        outcome
    }

    /// [`Engine::submit_report`], noting the task's type in `task_type` once it is known.
    async fn submit_with_key(
        &self,
        key: &str,
        request: ReportRequest,
        task_type: &mut Option<CaptchaType>,
    ) -> Result<ReportOutcome, EngineError> {
        let Ok(key) = ApiKey::parse(key) else {
            return Ok(ReportOutcome::Refused(Refusal::UnknownKey));
        };
        let now = self.parts.clock.now();
        let history = self.history_hours();
        let lookup = self.key_lookup(&key);
        let Some(ctx) = self
            .parts
            .store
            .report_context(&lookup, &request.task, history, now)
            .await?
        else {
            return Ok(ReportOutcome::Refused(Refusal::UnknownKey));
        };
        *task_type = ctx.task.as_ref().map(|t| t.captcha_type);
        // A revoked or expired key, or a disabled account's, is answered as an unknown one.
        if !self
            .admit(&lookup, &ctx.account, &ctx.key, ctx.scheme)
            .await
        {
            return Ok(ReportOutcome::Refused(Refusal::UnknownKey));
        }
        self.judge_and_record(
            &ctx.account,
            ctx.task.as_ref(),
            ctx.existing.as_ref(),
            ctx.family.as_ref(),
            request,
            now,
        )
        .await
    }

    /// Like [`Engine::submit_report`], for a caller already authenticated as `account`.
    pub async fn submit_report_for(
        &self,
        account: &Account,
        request: ReportRequest,
    ) -> Result<ReportOutcome, EngineError> {
        let (dialect, mut task_type) = (request.dialect, None);
        let outcome = self.submit_for(account, request, &mut task_type).await;
        crate::metrics::report(dialect, task_type, &outcome);
        outcome
    }

    /// [`Engine::submit_report_for`], noting the task's type in `task_type` once it is known.
    async fn submit_for(
        &self,
        account: &Account,
        request: ReportRequest,
        task_type: &mut Option<CaptchaType>,
    ) -> Result<ReportOutcome, EngineError> {
        let now = self.parts.clock.now();
        let history = self.history_hours();
        let (task, existing, family) = match self
            .parts
            .store
            .task_context(&request.task, history, now)
            .await?
        {
            Some((task, existing, family)) => {
                let own = task.account == account.id;
                (Some(task), existing, family.filter(|_| own))
            }
            None => (None, None, None),
        };
        *task_type = task.as_ref().map(|t| t.captcha_type);
        self.judge_and_record(
            account,
            task.as_ref(),
            existing.as_ref(),
            family.as_ref(),
            request,
            now,
        )
        .await
    }

    async fn judge_and_record(
        &self,
        account: &Account,
        task: Option<&Task>,
        existing: Option<&Report>,
        family: Option<&FamilyRecord>,
        request: ReportRequest,
        now: Timestamp,
    ) -> Result<ReportOutcome, EngineError> {
        let cohort = family.map(|f| Cohort::of(f.cohort.as_ref(), &self.parts.policy.screen));
        let family_state = family.zip(cohort.as_ref()).map(|(f, cohort)| {
            let prior = &cohort.prior;
            FamilyState {
                activity: &f.activity,
                baseline: f.baseline,
                precision: f.precision_at.map_or(f.precision, |at| {
                    f.precision.decayed(std::time::Duration::from_millis(
                        now.millis_since(at).max(0).unsigned_abs(),
                    ))
                }),
                prior,
                cohort_rate: cohort.rate,
            }
        });
        let situation = Situation {
            account,
            task,
            existing,
            family: family_state,
        };
        let decision = match judge(&request, situation, &self.parts.policy, now) {
            Judgement::Refuse(refusal) => return Ok(ReportOutcome::Refused(refusal)),
            Judgement::Repeat(existing) => return Ok(ReportOutcome::Repeated(existing)),
            Judgement::Record(decision) => decision,
        };
        let Some(task) = task else {
            return Err(EngineError::Internal(anyhow::anyhow!(
                "judged a report without its task"
            )));
        };
        log_account_effects(account.id, &decision.effects);
        // Standing changes count once stored; most decisions have no effects to copy.
        let effects = decision.effects.clone();
        match self
            .parts
            .store
            .record_report(
                ReportWrites::plan(decision, task.captcha_type.family()).after(task.completed_at),
            )
            .await?
        {
            Recorded::Inserted(report) => {
                crate::metrics::refund(&report, task.captcha_type);
                crate::metrics::standing_effects(&effects);
                tracing::info!(
                    task = %report.task, account = %report.account, dialect = report.dialect,
                    verdict = report.verdict.as_str(), reason = %report.reason, "report judged"
                );
                Ok(ReportOutcome::Recorded(report))
            }
            // Another report on this task was stored between our read and our write.
            Recorded::Existing(existing) => Ok(match judge_second_report(&request, &existing) {
                Ok(repeat) => ReportOutcome::Repeated(repeat),
                Err(conflict) => ReportOutcome::Refused(conflict),
            }),
        }
    }
}

/// The changes to an account an operator wants to hear of as they happen.
pub(crate) fn log_account_effects(account: AccountId, effects: &[Effect]) {
    for effect in effects {
        match effect {
            Effect::Ignore { reason, until, .. } => {
                tracing::warn!(account = %account, until = %until, reason = %reason, "account put on ignored standing");
            }
            Effect::NoteScreenFlag { lane, reason } => {
                tracing::warn!(account = %account, lane = %lane, reason = %reason, "the screen would have flagged a trusted account; its trust stands");
            }
            _ => {}
        }
    }
}
