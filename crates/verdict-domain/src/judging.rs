//! Judging one report: SPEC §5. The function is pure; the engine loads the situation, calls
//! [`judge`], and persists what it returns.
//!
//! Order matters and is part of the contract:
//! 1. ownership — a foreign task is exactly an unknown one;
//! 2. an existing report — an identical retry gets the stored verdict, anything else conflicts
//!    (checked before the window so that a retry after the window still succeeds);
//! 3. eligibility of the endpoint for the task's family;
//! 4. the report window;
//! 5. the claim itself: positive feedback, a correction equal to the answer, the account's
//!    standing and (for unverifiable families) the statistical screen;
//! 6. otherwise the report is upheld and the task's cost refunded.

use crate::account::{Account, Standing};
use crate::captcha::Eligibility;
use crate::ids::TaskId;
use crate::policy::Policy;
use crate::report::{Evidence, Reason, Refusal, Report, ReportKind, Verdict, clean_text};
use crate::task::Task;
use crate::timestamp::{Timestamp, duration_millis};

/// Longest correction accepted, in bytes. Longer ones are refused rather than cut, because a
/// cut correction would be a wrong training label.
pub const MAX_CORRECTION_LEN: usize = 1024;
/// Longest code and message kept; longer free text is cut.
pub const MAX_CODE_LEN: usize = 128;
pub const MAX_MESSAGE_LEN: usize = 2048;

/// A report as a client sent it, through whichever dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    pub task: TaskId,
    pub kind: ReportKind,
    pub correction: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub dialect: &'static str,
    /// The families the endpoint it came through takes.
    pub eligibility: Eligibility,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("correction is longer than {MAX_CORRECTION_LEN} bytes")]
pub struct CorrectionTooLong;

impl ReportRequest {
    pub fn new(
        task: TaskId,
        kind: ReportKind,
        dialect: &'static str,
        eligibility: Eligibility,
    ) -> Self {
        Self {
            task,
            kind,
            correction: None,
            code: None,
            message: None,
            dialect,
            eligibility,
        }
    }

    /// Adds a correction; blank is none.
    pub fn with_correction(
        mut self,
        correction: Option<String>,
    ) -> Result<Self, CorrectionTooLong> {
        if correction
            .as_ref()
            .is_some_and(|c| c.trim().len() > MAX_CORRECTION_LEN)
        {
            return Err(CorrectionTooLong);
        }
        self.correction = clean_text(correction, MAX_CORRECTION_LEN);
        Ok(self)
    }

    /// Adds the client's free-text code and message, trimmed and capped.
    pub fn with_note(mut self, code: Option<String>, message: Option<String>) -> Self {
        self.code = clean_text(code, MAX_CODE_LEN);
        self.message = clean_text(message, MAX_MESSAGE_LEN);
        self
    }
}

/// What judging needs to know, loaded by the engine.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The account whose key was presented.
    pub account: &'a Account,
    /// The task with the requested id, whoever owns it.
    pub task: Option<&'a Task>,
    /// The report already recorded for that task, if any.
    pub existing: Option<&'a Report>,
}

/// The outcome of judging.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Nothing to record; answer with this refusal.
    Refuse(Refusal),
    /// An identical retry: answer with the report already recorded, change nothing.
    Repeat(Report),
    /// Record this report (and its refund, if any) unless another was recorded first.
    Record(Report),
}

pub fn judge(
    request: &ReportRequest,
    situation: Situation<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Judgement {
    let account = situation.account;
    let Some(task) = situation.task.filter(|t| t.account == account.id) else {
        return Judgement::Refuse(Refusal::UnknownTask);
    };
    if let Some(existing) = situation.existing {
        return match judge_second_report(request, existing) {
            Ok(repeat) => Judgement::Repeat(repeat),
            Err(conflict) => Judgement::Refuse(conflict),
        };
    }

    let family = task.captcha_type.family();
    if !request.eligibility.allows(family) {
        return Judgement::Refuse(Refusal::Ineligible {
            family,
            eligible: request.eligibility,
        });
    }

    let window_ms = duration_millis(policy.windows.window(request.dialect, family));
    // A completion time slightly ahead of our clock counts as just completed.
    let elapsed_ms = now.millis_since(task.completed_at).max(0);
    if elapsed_ms > window_ms {
        return Judgement::Refuse(Refusal::WindowClosed {
            window_ms,
            elapsed_ms,
        });
    }

    if request.correction.is_some()
        && (request.kind == ReportKind::Correct || !family.accepts_corrections())
    {
        return Judgement::Refuse(Refusal::CorrectionNotApplicable {
            family,
            kind: request.kind,
        });
    }

    let evidence = Evidence::new()
        .with("window_ms", window_ms)
        .with("elapsed_ms", elapsed_ms);
    let (verdict, reason, evidence, refund) = match request.kind {
        ReportKind::Correct => (
            Verdict::Acknowledged,
            Reason::PositiveFeedback,
            evidence,
            None,
        ),
        ReportKind::Incorrect => match screen_incorrect_report(request, account, task, now) {
            Screen::Reject(reason, extra) => {
                (Verdict::Rejected, reason, merge(evidence, extra), None)
            }
            Screen::Uphold => (
                Verdict::Accepted,
                Reason::IncorrectAccepted,
                evidence.with("cost", task.cost.to_string()),
                Some(task.cost),
            ),
        },
    };

    Judgement::Record(Report {
        task: task.id.clone(),
        account: account.id,
        kind: request.kind,
        correction: request.correction.clone(),
        code: request.code.clone(),
        message: request.message.clone(),
        dialect: request.dialect.to_owned(),
        received_at: now,
        verdict,
        reason,
        evidence,
        refund,
    })
}

/// A report on a task that already has one: the first stands. `Ok` is the report an identical
/// retry repeats; `Err` the conflict a different claim meets.
pub fn judge_second_report(request: &ReportRequest, existing: &Report) -> Result<Report, Refusal> {
    if existing.is_same_claim(request.kind, request.correction.as_deref()) {
        Ok(existing.clone())
    } else {
        Err(Refusal::Conflict {
            existing: Box::new(existing.clone()),
        })
    }
}

enum Screen {
    Uphold,
    Reject(Reason, Evidence),
}

/// Whether an incorrect-report on an eligible, in-window task is upheld. This is where the
/// evidence against the claim is weighed: the correction, the account's standing, and — for
/// families that cannot be re-checked — the statistical screen of SPEC §5 rule 6.
fn screen_incorrect_report(
    request: &ReportRequest,
    account: &Account,
    task: &Task,
    now: Timestamp,
) -> Screen {
    if let (Some(correction), Some(answer)) = (&request.correction, &task.answer)
        && same_text(correction, answer)
    {
        return Screen::Reject(
            Reason::CorrectionMatchesAnswer,
            Evidence::new()
                .with("answer", answer.as_str())
                .with("correction", correction.as_str())
                .with("compared", "trimmed, case-folded"),
        );
    }
    if let Standing::Ignored { until, reason } = account.standing.at(now) {
        return Screen::Reject(
            Reason::AccountIgnored,
            Evidence::new()
                .with("ignored_until", until.to_rfc3339())
                .with("standing_reason", reason.as_str()),
        );
    }
    Screen::Uphold
}

/// Answers compare after trimming and case folding: "KWG90 " and "kwg90" are the same answer.
pub fn same_text(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn merge(mut base: Evidence, extra: Evidence) -> Evidence {
    for (k, v) in extra.as_map() {
        base = base.with(k, v.clone());
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountId;
    use crate::captcha::{CaptchaType, Family};
    use crate::money::Amount;
    use std::time::Duration;

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn account(id: i64) -> Account {
        Account {
            id: AccountId(id),
            name: format!("acct{id}"),
            trusted: false,
            balance: Amount::ZERO,
            standing: Standing::Good,
            created_at: Timestamp::from_millis(0),
        }
    }

    fn task(t: CaptchaType, age: Duration) -> Task {
        Task {
            id: TaskId::parse("12345").unwrap(),
            account: AccountId(1),
            captcha_type: t,
            provider: "p".into(),
            worker: None,
            answer: Some("KWG90".into()),
            cost: Amount::from_micros(2_000),
            completed_at: NOW.saturating_sub(age),
        }
    }

    fn incorrect(eligibility: Eligibility) -> ReportRequest {
        ReportRequest::new(
            TaskId::parse("12345").unwrap(),
            ReportKind::Incorrect,
            "test",
            eligibility,
        )
    }

    fn run(
        req: &ReportRequest,
        acct: &Account,
        task: Option<&Task>,
        existing: Option<&Report>,
    ) -> Judgement {
        judge(
            req,
            Situation {
                account: acct,
                task,
                existing,
            },
            &Policy::default(),
            NOW,
        )
    }

    fn recorded(j: Judgement) -> Report {
        match j {
            Judgement::Record(r) => r,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn an_in_window_incorrect_report_is_accepted_with_a_refund_of_the_cost() {
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(30));
        let r = recorded(run(
            &incorrect(Eligibility::ALL),
            &account(1),
            Some(&t),
            None,
        ));
        assert_eq!(r.verdict, Verdict::Accepted);
        assert_eq!(r.reason, Reason::IncorrectAccepted);
        assert_eq!(r.refund, Some(Amount::from_micros(2_000)));
        assert_eq!(r.evidence.get("elapsed_ms"), Some(&30_000.into()));
        assert_eq!(r.evidence.get("window_ms"), Some(&60_000.into()));
    }

    #[test]
    fn a_foreign_task_is_exactly_an_unknown_task() {
        let t = task(CaptchaType::Image, Duration::from_secs(1));
        assert_eq!(
            run(&incorrect(Eligibility::ALL), &account(2), Some(&t), None),
            Judgement::Refuse(Refusal::UnknownTask)
        );
        assert_eq!(
            run(&incorrect(Eligibility::ALL), &account(2), None, None),
            Judgement::Refuse(Refusal::UnknownTask)
        );
    }

    #[test]
    fn a_foreign_task_with_a_report_still_reveals_nothing() {
        let t = task(CaptchaType::Image, Duration::from_secs(1));
        let first = recorded(run(
            &incorrect(Eligibility::ALL),
            &account(1),
            Some(&t),
            None,
        ));
        assert_eq!(
            run(
                &incorrect(Eligibility::ALL),
                &account(2),
                Some(&t),
                Some(&first)
            ),
            Judgement::Refuse(Refusal::UnknownTask)
        );
    }

    #[test]
    fn the_window_boundary_is_inclusive() {
        let at_edge = task(CaptchaType::Hcaptcha, Duration::from_secs(60));
        assert!(matches!(
            run(
                &incorrect(Eligibility::ALL),
                &account(1),
                Some(&at_edge),
                None
            ),
            Judgement::Record(_)
        ));
        let past = task(CaptchaType::Hcaptcha, Duration::from_millis(60_001));
        assert_eq!(
            run(&incorrect(Eligibility::ALL), &account(1), Some(&past), None),
            Judgement::Refuse(Refusal::WindowClosed {
                window_ms: 60_000,
                elapsed_ms: 60_001
            })
        );
    }

    #[test]
    fn a_task_completed_in_the_future_counts_as_just_completed() {
        let mut t = task(CaptchaType::RecaptchaV2, Duration::ZERO);
        t.completed_at = NOW.saturating_add(Duration::from_secs(5));
        let r = recorded(run(
            &incorrect(Eligibility::ALL),
            &account(1),
            Some(&t),
            None,
        ));
        assert_eq!(r.evidence.get("elapsed_ms"), Some(&0.into()));
    }

    #[test]
    fn an_endpoint_refuses_families_it_does_not_take() {
        let t = task(CaptchaType::Image, Duration::from_secs(1));
        let recaptcha_only = Eligibility::only(&[Family::Recaptcha]);
        assert_eq!(
            run(&incorrect(recaptcha_only), &account(1), Some(&t), None),
            Judgement::Refuse(Refusal::Ineligible {
                family: Family::Image,
                eligible: recaptcha_only
            })
        );
    }

    #[test]
    fn an_identical_retry_repeats_and_a_different_claim_conflicts() {
        let t = task(CaptchaType::Image, Duration::from_secs(1));
        let req = incorrect(Eligibility::ALL);
        let first = recorded(run(&req, &account(1), Some(&t), None));
        assert_eq!(
            run(&req, &account(1), Some(&t), Some(&first)),
            Judgement::Repeat(first.clone())
        );
        let mut positive = req.clone();
        positive.kind = ReportKind::Correct;
        assert!(matches!(
            run(&positive, &account(1), Some(&t), Some(&first)),
            Judgement::Refuse(Refusal::Conflict { .. })
        ));
        let corrected = req.with_correction(Some("ABC12".into())).unwrap();
        assert!(matches!(
            run(&corrected, &account(1), Some(&t), Some(&first)),
            Judgement::Refuse(Refusal::Conflict { .. })
        ));
    }

    #[test]
    fn a_retry_after_the_window_still_gets_the_original_verdict() {
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(10));
        let req = incorrect(Eligibility::ALL);
        let first = recorded(run(&req, &account(1), Some(&t), None));
        let later = judge(
            &req,
            Situation {
                account: &account(1),
                task: Some(&t),
                existing: Some(&first),
            },
            &Policy::default(),
            NOW.saturating_add(Duration::from_secs(3600)),
        );
        assert_eq!(later, Judgement::Repeat(first));
    }

    #[test]
    fn a_correction_equal_to_the_answer_is_rejected() {
        let t = task(CaptchaType::Image, Duration::from_secs(1));
        let req = incorrect(Eligibility::ALL)
            .with_correction(Some(" kwg90 ".into()))
            .unwrap();
        let r = recorded(run(&req, &account(1), Some(&t), None));
        assert_eq!(r.verdict, Verdict::Rejected);
        assert_eq!(r.reason, Reason::CorrectionMatchesAnswer);
        assert_eq!(r.refund, None);
    }

    #[test]
    fn a_different_correction_is_accepted_and_kept() {
        let t = task(CaptchaType::Audio, Duration::from_secs(1));
        let req = incorrect(Eligibility::ALL)
            .with_correction(Some("KWG9O".into()))
            .unwrap();
        let r = recorded(run(&req, &account(1), Some(&t), None));
        assert_eq!(r.verdict, Verdict::Accepted);
        assert_eq!(r.correction.as_deref(), Some("KWG9O"));
    }

    #[test]
    fn corrections_on_tokens_or_positive_feedback_are_refused() {
        let token = task(CaptchaType::Turnstile, Duration::from_secs(1));
        let req = incorrect(Eligibility::ALL)
            .with_correction(Some("x".into()))
            .unwrap();
        assert!(matches!(
            run(&req, &account(1), Some(&token), None),
            Judgement::Refuse(Refusal::CorrectionNotApplicable { .. })
        ));
        let image = task(CaptchaType::Image, Duration::from_secs(1));
        let mut positive = req;
        positive.kind = ReportKind::Correct;
        assert!(matches!(
            run(&positive, &account(1), Some(&image), None),
            Judgement::Refuse(Refusal::CorrectionNotApplicable { .. })
        ));
    }

    #[test]
    fn overlong_corrections_are_refused_not_cut() {
        let req = incorrect(Eligibility::ALL);
        assert_eq!(
            req.with_correction(Some("x".repeat(MAX_CORRECTION_LEN + 1))),
            Err(CorrectionTooLong)
        );
    }

    #[test]
    fn positive_feedback_is_acknowledged_without_refund() {
        let t = task(CaptchaType::RecaptchaV3, Duration::from_secs(1));
        let mut req = incorrect(Eligibility::ALL);
        req.kind = ReportKind::Correct;
        let r = recorded(run(&req, &account(1), Some(&t), None));
        assert_eq!(r.verdict, Verdict::Acknowledged);
        assert_eq!(r.refund, None);
    }

    #[test]
    fn an_ignored_account_gets_rejected_until_its_period_ends() {
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(1));
        let mut acct = account(1);
        acct.standing = Standing::Ignored {
            until: NOW.saturating_add(Duration::from_secs(1)),
            reason: "report rate".into(),
        };
        let r = recorded(run(&incorrect(Eligibility::ALL), &acct, Some(&t), None));
        assert_eq!(
            (r.verdict, r.reason),
            (Verdict::Rejected, Reason::AccountIgnored)
        );
        acct.standing = Standing::Ignored {
            until: NOW,
            reason: "report rate".into(),
        };
        let r = recorded(run(&incorrect(Eligibility::ALL), &acct, Some(&t), None));
        assert_eq!(r.verdict, Verdict::Accepted);
    }
}
