//! Judging one report: SPEC §5. The function is pure; the engine loads the situation, calls
//! [`judge`], and persists what it returns.
//!
//! Order matters and is part of the contract:
//! 1. ownership — a foreign task is exactly an unknown one;
//! 2. an existing report — an identical retry gets the stored verdict, anything else conflicts
//!    (checked before the window so that a retry after the window still succeeds);
//! 3. eligibility of the endpoint for the task's family;
//! 4. the report window;
//! 5. the claim itself: positive feedback, a correction equal to the answer; for verifiable
//!    answers (when re-checks are on) a second solve for the reports that need one; otherwise
//!    the account's standing and the statistical screen of [`crate::screen`];
//! 6. otherwise the report is upheld and the task's cost refunded.

use crate::account::{Account, Standing};
use crate::captcha::{Eligibility, Family};
mod explain;

use crate::decision::{Decision, Effect};
use crate::ids::TaskId;
use crate::policy::Policy;
use crate::recheck::{Precision, needs_recheck};
use crate::report::{
    Evidence, Reason, RecheckState, Refusal, Report, ReportKind, Verdict, clean_text, same_text,
};
use crate::screen::{
    Activity, Baseline, Cohort, CohortPrior, Findings, Lane, ScreenInput, Screened, screen,
};
use crate::task::Task;
use crate::timestamp::{Timestamp, duration_millis};
use explain::explain_flag;

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
    /// The account's statistics in the task's family; needed for incorrect-reports.
    pub family: Option<FamilyState<'a>>,
}

/// An account's state in one captcha family, and the cohort's.
#[derive(Debug, Clone, Copy)]
pub struct FamilyState<'a> {
    pub activity: &'a Activity,
    pub baseline: Baseline,
    pub precision: Precision,
    pub prior: &'a CohortPrior,
    /// The cohort's pooled report rate over the screen's slow window.
    pub cohort_rate: f64,
}

/// The outcome of judging.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Nothing to record; answer with this refusal.
    Refuse(Refusal),
    /// An identical retry: answer with the report already recorded, change nothing.
    Repeat(Report),
    /// Record this report (and its refund and effects) unless another was recorded first.
    Record(Decision),
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
    let outcome = match request.kind {
        ReportKind::Correct => {
            let mut outcome = Outcome::plain(Verdict::Acknowledged, Reason::PositiveFeedback);
            if let Some(worker) = task.worker.as_ref().filter(|_| policy.whitelist_on_correct) {
                outcome.effects.push(Effect::Whitelist {
                    provider: task.provider.clone(),
                    worker: worker.clone(),
                });
            }
            outcome
        }
        ReportKind::Incorrect => {
            judge_incorrect(request, account, task, situation.family, policy, now)
        }
    };
    let refund = (outcome.verdict == Verdict::Accepted).then_some(task.cost);
    let trust = reporter_trust(account, &outcome, situation.family, policy, now);
    let evidence = evidence.with("trust_weight", trust);
    let evidence = match refund {
        Some(cost) => merge(evidence, outcome.evidence).with("cost", cost.to_string()),
        None => merge(evidence, outcome.evidence),
    };
    Judgement::Record(Decision {
        report: Report {
            task: task.id.clone(),
            account: account.id,
            kind: request.kind,
            correction: request.correction.clone(),
            code: request.code.clone(),
            message: request.message.clone(),
            dialect: request.dialect.to_owned(),
            received_at: now,
            verdict: outcome.verdict,
            reason: outcome.reason,
            evidence,
            refund,
            trust_weight: trust,
            recheck: outcome.recheck,
        },
        effects: outcome.effects,
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

struct Outcome {
    verdict: Verdict,
    reason: Reason,
    evidence: Evidence,
    effects: Vec<Effect>,
    /// What the screen found, for judging to read (the evidence only shows it).
    screen: Option<Findings>,
    recheck: Option<RecheckState>,
}

impl Outcome {
    fn plain(verdict: Verdict, reason: Reason) -> Self {
        Self {
            verdict,
            reason,
            evidence: Evidence::new(),
            effects: Vec::new(),
            screen: None,
            recheck: None,
        }
    }

    fn screened(verdict: Verdict, reason: Reason, findings: Findings) -> Self {
        Self {
            evidence: Evidence::new().with("screen", findings.to_value()),
            screen: Some(findings),
            ..Self::plain(verdict, reason)
        }
    }
}

/// Whether an incorrect-report on an eligible, in-window task is upheld. The evidence against
/// the claim: the correction; for answers that can be verified, a second solve; for the others,
/// the account's standing and the statistical screen (SPEC §5 rule 6).
fn judge_incorrect(
    request: &ReportRequest,
    account: &Account,
    task: &Task,
    state: Option<FamilyState<'_>>,
    policy: &Policy,
    now: Timestamp,
) -> Outcome {
    if let (Some(correction), Some(answer)) = (&request.correction, &task.answer)
        && same_text(correction, answer)
    {
        let mut outcome = Outcome::plain(Verdict::Rejected, Reason::CorrectionMatchesAnswer);
        outcome.evidence = Evidence::new()
            .with("answer", answer.as_str())
            .with("correction", correction.as_str())
            .with("compared", "trimmed, case-folded");
        return outcome;
    }
    let empty = Activity::default();
    let unmeasured = Cohort::of(None, &policy.screen);
    let state = state.unwrap_or(FamilyState {
        activity: &empty,
        baseline: Baseline::default(),
        precision: Precision::default(),
        prior: &unmeasured.prior,
        cohort_rate: unmeasured.rate,
    });
    let family = task.captcha_type.family();
    let ignored = match account.standing.at(now) {
        Standing::Ignored { until, reason } => Some((*until, reason.clone())),
        Standing::Good => None,
    };

    if family.is_verifiable() && policy.rechecks.enabled {
        let probation = state.activity.window(now, 24).tasks < policy.screen.min_volume;
        let needed = needs_recheck(
            task.id.as_str(),
            ignored.is_some(),
            probation,
            request.correction.is_some(),
            state.precision,
            &policy.rechecks,
        );
        let precision = serde_json::json!({
            "confirmed": state.precision.confirmed, "refuted": state.precision.refuted,
            "mean": state.precision.mean(),
        });
        return match needed {
            Some(why) => {
                let deadline = now.saturating_add(policy.rechecks.timeout);
                let mut outcome = Outcome::plain(Verdict::Pending, Reason::AwaitingRecheck);
                outcome.evidence = Evidence::new().with(
                    "recheck",
                    serde_json::json!({ "why": why.as_str(), "deadline": deadline.to_rfc3339(), "precision": precision }),
                );
                outcome.effects.push(Effect::Recheck { deadline });
                outcome.recheck = Some(RecheckState {
                    suspect: why.makes_suspect(),
                    solves: Vec::new(),
                });
                outcome
            }
            None => {
                let mut outcome = Outcome::plain(Verdict::Accepted, Reason::IncorrectAccepted);
                outcome.evidence = Evidence::new().with(
                    "recheck",
                    serde_json::json!({ "why": "not sampled; upheld on the account's record", "precision": precision }),
                );
                outcome
            }
        };
    }

    if let Some((until, why)) = ignored {
        let mut outcome = Outcome::plain(Verdict::Rejected, Reason::AccountIgnored);
        outcome.evidence = Evidence::new()
            .with("ignored_until", until.to_rfc3339())
            .with("standing_reason", why);
        return outcome;
    }

    let recent_ignores = account.ignores.recent(now, policy.screen.repeat_period);
    let input = ScreenInput {
        activity: state.activity,
        baseline: state.baseline,
        prior: state.prior,
        cohort_rate: state.cohort_rate,
        recent_ignores,
        // A first period served wipes the slate; a repeat offender's history keeps counting.
        judged_from: account
            .ignores
            .judged_from(now)
            .filter(|_| recent_ignores <= 1),
    };
    let screened = screen(input, &policy.screen, now);
    if !policy.may_restrain(account) {
        return trusted_outcome(screened, family);
    }
    match screened {
        Screened::Uphold(findings) => {
            Outcome::screened(Verdict::Accepted, Reason::IncorrectAccepted, findings)
        }
        Screened::Capped {
            probation,
            findings,
        } => Outcome::screened(
            Verdict::Rejected,
            if probation {
                Reason::ProbationCapReached
            } else {
                Reason::RefundCapReached
            },
            findings,
        ),
        Screened::Flagged {
            lane,
            period,
            findings,
            abnormal_since,
        } => {
            let until = now.saturating_add(period);
            let reason = match lane {
                Lane::Baseline | Lane::Drift => Reason::RateAboveOwnHistory,
                Lane::Fast | Lane::Slow => Reason::RateAboveCohort,
            };
            let why = explain_flag(lane, family, &findings);
            let mut effects = vec![Effect::Ignore {
                until,
                reason: why.clone(),
                count_since: now.saturating_sub(policy.screen.repeat_period),
                lane: lane.as_str(),
            }];
            let mut outcome = Outcome::screened(Verdict::Rejected, reason, findings);
            let mut evidence = outcome
                .evidence
                .with("lane", lane.as_str())
                .with("ignored_until", until.to_rfc3339());
            // The refunds since the rise the lane found began were granted on the very reports
            // that make the account abnormal; none from before it.
            if policy.clawback {
                effects.push(Effect::Clawback {
                    since: abnormal_since,
                    reason: format!("the {} lane flagged the account: {why}", lane.as_str()),
                    lane: lane.as_str(),
                });
                evidence = evidence.with("clawback_since", abnormal_since.to_rfc3339());
            }
            outcome.evidence = evidence;
            outcome.effects = effects;
            outcome
        }
    }
}

/// An operator-trusted account's report when the screen may not restrain it: upheld whatever
/// the screen found, with what it would have done in the evidence, and a flag noted on the
/// account for the operator.
fn trusted_outcome(screened: Screened, family: Family) -> Outcome {
    let (findings, overridden, note) = match screened {
        Screened::Uphold(findings) => (findings, None, None),
        Screened::Capped {
            probation,
            findings,
        } => {
            let cap = if probation {
                "probation cap"
            } else {
                "refund cap"
            };
            (findings, Some(format!("the {cap}")), None)
        }
        Screened::Flagged { lane, findings, .. } => {
            let why = explain_flag(lane, family, &findings);
            let note = Effect::NoteScreenFlag {
                lane: lane.as_str(),
                reason: why,
            };
            (
                findings,
                Some(format!("the {} lane", lane.as_str())),
                Some(note),
            )
        }
    };
    let mut outcome = Outcome::screened(Verdict::Accepted, Reason::IncorrectAccepted, findings);
    if let Some(what) = overridden {
        outcome.evidence = outcome.evidence.with(
            "trusted_override",
            format!("{what} would have refused this report; upheld on the operator's trust"),
        );
    }
    outcome.effects.extend(note);
    outcome
}

/// How much this report counts as evidence about the solver (domain.md §4.2): nothing from an
/// account on ignored standing or flagged by this very report, fully from an operator-trusted
/// account, otherwise what the screen found (the chance the account reports like the trusted
/// cohort). Reports the screen did not see (confirmations, re-checked types) count fully.
fn reporter_trust(
    account: &Account,
    outcome: &Outcome,
    family: Option<FamilyState<'_>>,
    policy: &Policy,
    now: Timestamp,
) -> f64 {
    // A trusted account the screen would have flagged keeps its refund, not its weight as
    // evidence: scores are verdict's own judgement.
    let ignored = matches!(account.standing.at(now), Standing::Ignored { .. })
        || outcome
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Ignore { .. } | Effect::NoteScreenFlag { .. }));
    if ignored {
        return 0.0;
    }
    if account.trusted {
        return 1.0;
    }
    if let Some(caps) = outcome.screen.as_ref().and_then(|s| s.caps) {
        return caps.trust_weight;
    }
    // The same weight for a confirmation as for a complaint from this account: weighing only
    // complaints down would bias every score upwards.
    let Some(state) = family else {
        return 1.0;
    };
    let screen = &policy.screen;
    let slow = state.activity.window(now, screen.slow_window_hours);
    let probation = state.activity.window(now, 24).tasks < screen.min_volume;
    let weight =
        crate::screen::trust_weight(slow.incorrect, slow.tasks, state.prior, screen, probation);
    crate::screen::round(weight)
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
    use crate::captcha::CaptchaType;
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
            ignores: Default::default(),
            screen_flag: None,
            disabled: None,
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
                family: None,
            },
            &Policy::default(),
            NOW,
        )
    }

    fn decided(j: Judgement) -> Decision {
        match j {
            Judgement::Record(d) => d,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    fn recorded(j: Judgement) -> Report {
        decided(j).report
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
                family: None,
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

    /// Three days at 5 tasks an hour; `reports` incorrect-reports every `every` hours.
    fn busy_history(every: u64, reports: u64) -> Activity {
        let now = crate::timestamp::hour_of(NOW);
        Activity {
            hours: (0..72u64)
                .map(|h| {
                    let incorrect = if h % every == 0 { reports } else { 0 };
                    (
                        now - h as i64,
                        crate::screen::Counts {
                            tasks: 5,
                            incorrect,
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        }
    }

    /// `request` by `acct` on `t`, screened with `history` against `prior`.
    fn judged_on_history(
        request: &ReportRequest,
        acct: &Account,
        t: &Task,
        history: &Activity,
        prior: &CohortPrior,
        policy: &Policy,
    ) -> Decision {
        decided(judge(
            request,
            Situation {
                account: acct,
                task: Some(t),
                existing: None,
                family: Some(with_family(history, prior)),
            },
            policy,
            NOW,
        ))
    }

    fn with_family<'a>(activity: &'a Activity, prior: &'a CohortPrior) -> FamilyState<'a> {
        FamilyState {
            activity,
            baseline: Baseline::default(),
            precision: Precision::default(),
            prior,
            cohort_rate: prior.mean(),
        }
    }

    #[test]
    fn a_report_rate_far_above_the_cohort_ignores_the_account_with_numbers() {
        let prior = CohortPrior::new(10.0, 90.0, 0.99, 40);
        // Two reports every hour: 144 of 360 tasks (40 %), then this one.
        let history = busy_history(1, 2);
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(5));
        let d = judged_on_history(
            &incorrect(Eligibility::ALL),
            &account(1),
            &t,
            &history,
            &prior,
            &Policy::default(),
        );
        assert_eq!(
            (d.report.verdict, d.report.reason.clone()),
            (Verdict::Rejected, Reason::RateAboveCohort)
        );
        assert_eq!(d.report.refund, None);
        let Some(Effect::Ignore { until, reason, .. }) = d.effects.first() else {
            panic!("{:?}", d.effects)
        };
        assert_eq!(until, &NOW.saturating_add(Duration::from_secs(72 * 3600)));
        assert!(
            reason.contains("recaptcha") && reason.contains("p = "),
            "{reason}"
        );
        let screen = d.report.evidence.get("screen").unwrap();
        assert_eq!(screen["tasks"], 360);
        assert!(screen["slow_lane"]["p_value"].as_f64().unwrap() < 1e-6);
    }

    #[test]
    fn a_confirmation_whitelists_the_worker_only_when_the_policy_says_so() {
        let confirm = ReportRequest::new(
            TaskId::parse("12345").unwrap(),
            ReportKind::Correct,
            "test",
            Eligibility::ALL,
        );
        let mut t = task(CaptchaType::RecaptchaV2, Duration::from_secs(5));
        t.worker = Some("w7".into());
        let effects = |task: &Task, on: bool| {
            let policy = Policy {
                whitelist_on_correct: on,
                ..Policy::default()
            };
            let situation = Situation {
                account: &account(1),
                task: Some(task),
                existing: None,
                family: None,
            };
            decided(judge(&confirm, situation, &policy, NOW)).effects
        };
        assert_eq!(
            effects(&t, true),
            vec![Effect::Whitelist {
                provider: "p".into(),
                worker: "w7".into()
            }]
        );
        assert!(effects(&t, false).is_empty());
        t.worker = None;
        assert!(
            effects(&t, true).is_empty(),
            "no worker, nothing to whitelist"
        );
    }

    #[test]
    fn each_report_records_how_much_its_reporter_is_trusted() {
        let prior = CohortPrior::new(10.0, 90.0, 0.99, 40);
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(5));
        let trust_of = |request: &ReportRequest, acct: &Account, history: &Activity| {
            let d = judged_on_history(request, acct, &t, history, &prior, &Policy::default());
            d.report
                .evidence
                .get("trust_weight")
                .unwrap()
                .as_f64()
                .unwrap()
        };
        let complaint = incorrect(Eligibility::ALL);
        let weight = |acct: &Account, history: &Activity| trust_of(&complaint, acct, history);
        // 7 of 360 tasks reported (about 2 %), far inside the cohort's band: nearly full weight.
        let normal = weight(&account(1), &busy_history(12, 1));
        assert!(normal > 0.99, "{normal}");
        // Too little data to tell: at most half.
        let probation = weight(&account(1), &Activity::default());
        assert!(probation > 0.45 && probation <= 0.5, "{probation}");
        // Flagged by this very report: nothing.
        assert_eq!(weight(&account(1), &busy_history(1, 2)), 0.0);
        // Above the cohort's mean yet not flagged: less than the normal account.
        let high = weight(&account(1), &busy_history(2, 2));
        assert!(high < normal, "{high} vs {normal}");
        // An operator-trusted account in good standing counts fully, even on probation.
        let trusted = Account {
            trusted: true,
            ..account(1)
        };
        assert_eq!(weight(&trusted, &Activity::default()), 1.0);
        // An account on ignored standing counts for nothing.
        let ignored = Account {
            standing: Standing::Ignored {
                until: NOW.saturating_add(Duration::from_secs(3600)),
                reason: "test".into(),
            },
            ..account(1)
        };
        assert_eq!(weight(&ignored, &busy_history(12, 1)), 0.0);

        // A confirmation weighs what a complaint from the same account would.
        let confirm = ReportRequest::new(
            TaskId::parse("12345").unwrap(),
            ReportKind::Correct,
            "test",
            Eligibility::ALL,
        );
        let confirmation = |history: &Activity| trust_of(&confirm, &account(1), history);
        assert!(confirmation(&busy_history(12, 1)) > 0.99);
        let small = confirmation(&Activity::default());
        assert!(small > 0.45 && small <= 0.5, "{small}");
    }

    #[test]
    fn a_trusted_account_is_upheld_and_the_flag_noted_for_the_operator() {
        // 40 % over 72 h: the slow lane flags any other account.
        let prior = CohortPrior::new(10.0, 90.0, 0.99, 40);
        let history = busy_history(1, 2);
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(5));
        let trusted = Account {
            trusted: true,
            ..account(1)
        };
        let report = incorrect(Eligibility::ALL);
        let d = judged_on_history(&report, &trusted, &t, &history, &prior, &Policy::default());
        assert_eq!(d.report.verdict, Verdict::Accepted);
        assert_eq!(d.report.refund, Some(t.cost));
        assert!(
            d.report
                .evidence
                .get("trusted_override")
                .and_then(|v| v.as_str())
                .is_some_and(|s| s.starts_with("the slow lane would have refused")),
            "{:?}",
            d.report.evidence
        );
        assert!(
            matches!(&d.effects[..], [Effect::NoteScreenFlag { lane, reason }]
                if *lane == "slow" && reason.contains("cohort")),
            "{:?}",
            d.effects
        );
        assert_eq!(
            d.report.trust_weight, 0.0,
            "flagged reports are no evidence"
        );

        // The same account not trusted, or trusted with `screen_trusted`: ignored and clawed
        // back.
        let screening = Policy {
            screen_trusted: true,
            ..Policy::default()
        };
        for (who, policy) in [(&account(1), Policy::default()), (&trusted, screening)] {
            let d = judged_on_history(&report, who, &t, &history, &prior, &policy);
            assert_eq!(d.report.reason, Reason::RateAboveCohort);
            assert!(matches!(d.effects.first(), Some(Effect::Ignore { .. })));
            assert!(
                d.effects
                    .iter()
                    .any(|e| matches!(e, Effect::Clawback { .. }))
            );
        }
    }

    #[test]
    fn clawback_is_a_policy_option() {
        let prior = CohortPrior::new(10.0, 90.0, 0.99, 40);
        let history = busy_history(1, 2);
        let t = task(CaptchaType::RecaptchaV2, Duration::from_secs(5));
        let decide = |clawback: bool| {
            let policy = Policy {
                clawback,
                ..Policy::default()
            };
            judged_on_history(
                &incorrect(Eligibility::ALL),
                &account(1),
                &t,
                &history,
                &prior,
                &policy,
            )
        };
        // A steady 40 %: the excess is as old as the 72 h window, and the verdict says so.
        let since = NOW.saturating_sub(Duration::from_secs(72 * 3600));
        let d = decide(true);
        assert!(
            d.effects
                .iter()
                .any(|e| matches!(e, Effect::Clawback { since: s, .. } if *s == since))
        );
        assert_eq!(
            d.report.evidence.get("clawback_since"),
            Some(&since.to_rfc3339().into())
        );
        let d = decide(false);
        assert_eq!(d.report.reason, Reason::RateAboveCohort);
        assert!(
            !d.effects
                .iter()
                .any(|e| matches!(e, Effect::Clawback { .. }))
        );
        assert_eq!(d.report.evidence.get("clawback_since"), None);
    }

    #[test]
    fn an_honest_busy_account_is_upheld_and_the_screen_explains_why() {
        let prior = CohortPrior::new(10.0, 90.0, 0.99, 40);
        let history = busy_history(12, 1);
        let t = task(CaptchaType::Hcaptcha, Duration::from_secs(5));
        let d = judged_on_history(
            &incorrect(Eligibility::ALL),
            &account(1),
            &t,
            &history,
            &prior,
            &Policy::default(),
        );
        assert_eq!(d.report.verdict, Verdict::Accepted);
        assert!(d.effects.is_empty());
        let screen = d.report.evidence.get("screen").unwrap();
        for key in ["account_rate", "cohort_rate", "slow_lane", "refund_cap"] {
            assert!(screen.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn with_rechecks_on_a_verifiable_report_from_a_small_account_waits_for_a_second_solve() {
        let policy = Policy {
            rechecks: crate::policy::RecheckPolicy {
                enabled: true,
                ..Default::default()
            },
            ..Policy::default()
        };
        let t = task(CaptchaType::Image, Duration::from_secs(5));
        let d = decided(judge(
            &incorrect(Eligibility::ALL),
            Situation {
                account: &account(1),
                task: Some(&t),
                existing: None,
                family: None,
            },
            &policy,
            NOW,
        ));
        assert_eq!(
            (d.report.verdict, d.report.reason.clone()),
            (Verdict::Pending, Reason::AwaitingRecheck)
        );
        assert_eq!(d.report.refund, None);
        assert_eq!(
            d.effects,
            vec![Effect::Recheck {
                deadline: NOW.saturating_add(Duration::from_secs(3600))
            }]
        );
        assert_eq!(
            d.report.evidence.get("recheck").unwrap()["why"],
            "probation"
        );
    }

    #[test]
    fn an_ignored_account_s_verifiable_reports_are_rechecked_not_refused() {
        let policy = Policy {
            rechecks: crate::policy::RecheckPolicy {
                enabled: true,
                ..Default::default()
            },
            ..Policy::default()
        };
        let mut acct = account(1);
        acct.standing = Standing::Ignored {
            until: NOW.saturating_add(Duration::from_secs(60)),
            reason: "x".into(),
        };
        let t = task(CaptchaType::Audio, Duration::from_secs(5));
        let d = decided(judge(
            &incorrect(Eligibility::ALL),
            Situation {
                account: &acct,
                task: Some(&t),
                existing: None,
                family: None,
            },
            &policy,
            NOW,
        ));
        assert_eq!(d.report.verdict, Verdict::Pending);
        assert_eq!(
            d.report.evidence.get("recheck").unwrap()["why"],
            "ignored_standing"
        );
    }
}
