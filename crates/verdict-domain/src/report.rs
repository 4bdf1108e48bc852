//! Reports, verdicts and their reasons; and refusals, the answers that record nothing.

use std::fmt;

use serde_json::{Map, Value};

use crate::account::AccountId;
use crate::captcha::{Eligibility, Family};
use crate::ids::TaskId;
use crate::money::Amount;
use crate::timestamp::Timestamp;

/// What the client says about the solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    Incorrect,
    Correct,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Incorrect => "incorrect",
            ReportKind::Correct => "correct",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "incorrect" => Some(ReportKind::Incorrect),
            "correct" => Some(ReportKind::Correct),
            _ => None,
        }
    }
}

/// The decision on a recorded report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// An incorrect-report that was upheld; the task's cost is refunded.
    Accepted,
    /// Not upheld; the reason says why.
    Rejected,
    /// Positive feedback, recorded as success evidence.
    Acknowledged,
    /// Held for a re-check or further evidence.
    Pending,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Acknowledged => "acknowledged",
            Verdict::Pending => "pending",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "accepted" => Some(Verdict::Accepted),
            "rejected" => Some(Verdict::Rejected),
            "acknowledged" => Some(Verdict::Acknowledged),
            "pending" => Some(Verdict::Pending),
            _ => None,
        }
    }
}

/// Why a verdict was reached. Stored by its stable code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    IncorrectAccepted,
    PositiveFeedback,
    CorrectionMatchesAnswer,
    AccountIgnored,
    /// The account's report rate is far above the trusted cohort's (fast or slow lane).
    RateAboveCohort,
    /// The account's report rate is far above its own history.
    RateAboveOwnHistory,
    /// Refunds in the screen's window reached the cap.
    RefundCapReached,
    /// Too little volume to judge the account, and probation refunds are used up.
    ProbationCapReached,
    /// Held until the captcha is solved again.
    AwaitingRecheck,
    /// A second solve differed from the answer: the report stands.
    RecheckConfirmed,
    /// A second solve gave the same answer: the answer was right.
    RecheckRefuted,
    /// No second solve in time; settled by the configured default.
    RecheckTimedOut,
    /// A code this version does not know, written by a newer node during a rolling deploy.
    Unrecognized(String),
}

impl Reason {
    /// Every reason this version decides, in the order SPEC §5 meets them: the bounded set
    /// metrics label reports with.
    pub const KNOWN: [Reason; 12] = [
        Reason::IncorrectAccepted,
        Reason::PositiveFeedback,
        Reason::CorrectionMatchesAnswer,
        Reason::AccountIgnored,
        Reason::RateAboveCohort,
        Reason::RateAboveOwnHistory,
        Reason::RefundCapReached,
        Reason::ProbationCapReached,
        Reason::AwaitingRecheck,
        Reason::RecheckConfirmed,
        Reason::RecheckRefuted,
        Reason::RecheckTimedOut,
    ];

    pub fn code(&self) -> &str {
        match self {
            Reason::Unrecognized(code) => code,
            known => known.known_code().unwrap_or_default(),
        }
    }

    /// The code of a reason this version knows; `None` for one written by a newer version.
    pub fn known_code(&self) -> Option<&'static str> {
        Some(match self {
            Reason::IncorrectAccepted => "incorrect_accepted",
            Reason::PositiveFeedback => "positive_feedback",
            Reason::CorrectionMatchesAnswer => "correction_matches_answer",
            Reason::AccountIgnored => "account_ignored",
            Reason::RateAboveCohort => "rate_above_cohort",
            Reason::RateAboveOwnHistory => "rate_above_own_history",
            Reason::RefundCapReached => "refund_cap_reached",
            Reason::ProbationCapReached => "probation_cap_reached",
            Reason::AwaitingRecheck => "awaiting_recheck",
            Reason::RecheckConfirmed => "recheck_confirmed",
            Reason::RecheckRefuted => "recheck_refuted",
            Reason::RecheckTimedOut => "recheck_timed_out",
            Reason::Unrecognized(_) => return None,
        })
    }

    pub fn from_code(code: &str) -> Self {
        match code {
            "incorrect_accepted" => Reason::IncorrectAccepted,
            "positive_feedback" => Reason::PositiveFeedback,
            "correction_matches_answer" => Reason::CorrectionMatchesAnswer,
            "account_ignored" => Reason::AccountIgnored,
            "rate_above_cohort" => Reason::RateAboveCohort,
            "rate_above_own_history" => Reason::RateAboveOwnHistory,
            "refund_cap_reached" => Reason::RefundCapReached,
            "probation_cap_reached" => Reason::ProbationCapReached,
            "awaiting_recheck" => Reason::AwaitingRecheck,
            "recheck_confirmed" => Reason::RecheckConfirmed,
            "recheck_refuted" => Reason::RecheckRefuted,
            "recheck_timed_out" => Reason::RecheckTimedOut,
            other => Reason::Unrecognized(other.to_owned()),
        }
    }

    /// Whether the claim was set aside by the account's standing or the statistical screen
    /// (rather than found wrong): what 2captcha calls a report "not recorded".
    pub fn is_screen_refusal(&self) -> bool {
        matches!(
            self,
            Reason::AccountIgnored
                | Reason::RateAboveCohort
                | Reason::RateAboveOwnHistory
                | Reason::RefundCapReached
                | Reason::ProbationCapReached
        )
    }

    /// One sentence for humans; the numbers are in the report's evidence.
    pub fn describe(&self) -> &'static str {
        match self {
            Reason::IncorrectAccepted => {
                "The report was upheld and the task's cost was refunded to the account."
            }
            Reason::PositiveFeedback => {
                "The solution was confirmed as correct; recorded as success evidence."
            }
            Reason::CorrectionMatchesAnswer => {
                "The correction equals the answer that was delivered, so the answer was right."
            }
            Reason::AccountIgnored => {
                "Incorrect-reports from this account are being ignored for a period; see standing."
            }
            Reason::RateAboveCohort => {
                "The account reports far more often than trusted accounts; its reports are ignored for a period."
            }
            Reason::RateAboveOwnHistory => {
                "The account reports far more often than it used to; its reports are ignored for a period."
            }
            Reason::RefundCapReached => {
                "Refunds in the window already reach what an honest account's failure rate explains."
            }
            Reason::ProbationCapReached => {
                "Too few tasks to judge the account yet, and its probation refunds are used up."
            }
            Reason::AwaitingRecheck => "The captcha is being solved again to check the report.",
            Reason::RecheckConfirmed => {
                "A second solve differed from the answer: the report was upheld and refunded."
            }
            Reason::RecheckRefuted => "A second solve gave the same answer: the answer was right.",
            Reason::RecheckTimedOut => {
                "No second solve arrived in time; settled by the configured default."
            }
            Reason::Unrecognized(_) => "Decided by a newer version of verdict.",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The numbers a verdict was based on, as a JSON object, so that every decision can be shown
/// with its inputs (window, elapsed time, cost, and later rates and thresholds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence(Map<String, Value>);

impl Evidence {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// A recorded report with its verdict: what storage keeps, one per task.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub task: TaskId,
    pub account: AccountId,
    pub kind: ReportKind,
    pub correction: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// The wire dialect it arrived through (`anticaptcha`, `native`, …).
    pub dialect: String,
    pub received_at: Timestamp,
    pub verdict: Verdict,
    pub reason: Reason,
    pub evidence: Evidence,
    /// The amount credited, for an accepted incorrect-report.
    pub refund: Option<Amount>,
    /// How much this report counts as evidence about the task's solver: the reporter's trust
    /// when it was judged (research/domain.md §4.2), in [0, 1]. `evidence` shows it too; this is
    /// the value scores are computed from.
    pub trust_weight: f64,
    /// For a report held for a second solve: what settling it reads back.
    pub recheck: Option<RecheckState>,
}

/// What settling a report held for re-checks needs to know of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecheckState {
    /// Held because the account's reports are suspect (ignored standing, low precision): a
    /// second solve that agrees with neither side is not enough.
    pub suspect: bool,
    /// The independent solves received so far, oldest first.
    pub solves: Vec<String>,
}

impl Report {
    /// Whether a new report says the same as this one, so that it is a retry and not a second
    /// opinion: same kind and same correction. Code and message are free text and may vary.
    pub fn is_same_claim(&self, kind: ReportKind, correction: Option<&str>) -> bool {
        self.kind == kind && self.correction.as_deref() == correction
    }
}

/// An answer that records nothing: the report never reached a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No account has the presented key.
    UnknownKey,
    /// No such task, or it belongs to another account (indistinguishable on purpose).
    UnknownTask,
    /// Too late: the report window of this task's family has passed.
    WindowClosed { window_ms: i64, elapsed_ms: i64 },
    /// The endpoint does not take reports for this task's family.
    Ineligible {
        family: Family,
        eligible: Eligibility,
    },
    /// A correction was sent for a report that cannot carry one.
    CorrectionNotApplicable { family: Family, kind: ReportKind },
    /// The task already has a different report; the first one stands.
    Conflict { existing: Box<Report> },
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownKey => "unknown_key",
            Refusal::UnknownTask => "unknown_task",
            Refusal::WindowClosed { .. } => "window_closed",
            Refusal::Ineligible { .. } => "ineligible_type",
            Refusal::CorrectionNotApplicable { .. } => "correction_not_applicable",
            Refusal::Conflict { .. } => "conflicting_report",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Refusal::UnknownKey => "No account has this API key.".into(),
            Refusal::UnknownTask => {
                "No task with this id exists in this account's task list.".into()
            }
            Refusal::WindowClosed {
                window_ms,
                elapsed_ms,
            } => format!(
                "The report window of {} s closed; the task was completed {} s ago.",
                window_ms / 1000,
                elapsed_ms / 1000
            ),
            Refusal::Ineligible { family, eligible } => {
                let names: Vec<&str> = eligible.families().map(Family::as_str).collect();
                format!(
                    "This endpoint takes reports on {} tasks only; this task is {family}.",
                    names.join(", ")
                )
            }
            Refusal::CorrectionNotApplicable { family, kind } => match kind {
                ReportKind::Correct => "A correction only goes with an incorrect-report.".into(),
                ReportKind::Incorrect => {
                    format!(
                        "Corrections are taken for image and audio tasks; this task is {family}."
                    )
                }
            },
            Refusal::Conflict { existing } => format!(
                "This task already has a different report ({} on {}); the first report stands.",
                existing.kind.as_str(),
                existing.received_at
            ),
        }
    }
}

/// Trims a free-text field, drops NUL characters (which PostgreSQL text cannot hold, so both
/// backends store the same) and caps it at `max` bytes on a character boundary; empty is none.
pub fn clean_text(text: Option<String>, max: usize) -> Option<String> {
    let mut text = text?;
    if text.contains('\0') {
        text.retain(|c| c != '\0');
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut end = trimmed.len().min(max);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    Some(trimmed[..end].to_owned())
}

/// Answers compare after trimming and case folding: "KWG90 " and "kwg90" are the same answer.
pub fn same_text(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_unknown_codes_survive() {
        for r in Reason::KNOWN {
            assert_eq!(Reason::from_code(r.code()), r);
            assert_eq!(r.known_code(), Some(r.code()));
        }
        let codes: std::collections::BTreeSet<&str> =
            Reason::KNOWN.iter().map(Reason::code).collect();
        assert_eq!(codes.len(), Reason::KNOWN.len(), "codes are distinct");
        let future = Reason::from_code("from_the_future");
        assert_eq!(future.code(), "from_the_future");
        assert_eq!(future.known_code(), None);
    }

    #[test]
    fn verdicts_and_kinds_round_trip() {
        for v in [
            Verdict::Accepted,
            Verdict::Rejected,
            Verdict::Acknowledged,
            Verdict::Pending,
        ] {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
        }
        for k in [ReportKind::Incorrect, ReportKind::Correct] {
            assert_eq!(ReportKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn free_text_is_trimmed_and_capped_on_a_char_boundary() {
        assert_eq!(clean_text(Some("  hi ".into()), 10), Some("hi".into()));
        assert_eq!(clean_text(Some("   ".into()), 10), None);
        assert_eq!(clean_text(Some("ééé".into()), 3), Some("é".into()));
        assert_eq!(clean_text(Some("a\0b\0".into()), 10), Some("ab".into()));
        assert_eq!(clean_text(Some("\0 ".into()), 10), None);
    }
}
