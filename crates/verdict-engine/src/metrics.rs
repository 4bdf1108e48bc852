//! What the use cases tell the `metrics` facade: reports and what became of them, refunds,
//! standing changes, ingested rows and routing decisions. Counted once storage has answered (a
//! refund or a standing change counts only once it is committed). Labels come from bounded sets
//! only: dialect names (static, from the dialect registry), captcha types, verdicts, reason and
//! refusal codes, lanes the domain names, configured provider names; never an account, task,
//! key or address. Until the binary installs a recorder, every call here does nothing.

use verdict_domain::decision::Effect;
use verdict_domain::{CaptchaType, Reason, Report};

use crate::{EngineError, ReportOutcome};

/// Storage's batch-size histogram and its buckets, for whoever installs the recorder.
pub use verdict_store::metrics::{BATCH_BUCKETS, BATCH_SIZE};

/// Reports by dialect, captcha type, outcome, verdict and reason.
pub const REPORTS: &str = "verdict_reports_total";
/// Refunds granted (a report accepted, or a pending one upheld by its re-check), by type.
pub const REFUNDS: &str = "verdict_refunds_total";
/// Their amount, in micro-units of the platform's currency (exact integers; divide by 1e6).
pub const REFUNDED_MICROS: &str = "verdict_refunded_micros_total";
/// Accounts put on ignored standing, lifted by an operator, or noted (trusted accounts).
pub const STANDING_CHANGES: &str = "verdict_standing_changes_total";
/// Ingested task records, by result.
pub const INGEST_ROWS: &str = "verdict_ingest_rows_total";
/// Routing decisions, by type, rule and (configured) provider.
pub const ROUTE_DECISIONS: &str = "verdict_route_decisions_total";

/// The `type` label of a report whose task is unknown.
const NO_TYPE: &str = "unknown";
/// The `verdict` label of a report that got none (refused, or failed).
const NO_VERDICT: &str = "none";
/// The `reason` label of a reason a newer version wrote.
const UNRECOGNIZED: &str = "unrecognized";
/// The `provider` label of a provider the configuration does not name: the router also knows
/// providers from ingested tasks, whose names are the platform's and unbounded.
pub(crate) const UNCONFIGURED: &str = "unconfigured";
/// The `provider` label of a request no provider was chosen for.
pub(crate) const NO_PROVIDER: &str = "none";

/// Gives each series its help text, storage's included.
pub fn describe() {
    verdict_store::metrics::describe();
    metrics::describe_counter!(
        REPORTS,
        "Reports by dialect, captcha type, outcome (recorded, repeated, refused, error), verdict and reason"
    );
    metrics::describe_counter!(REFUNDS, "Refunds granted, by captcha type");
    metrics::describe_counter!(
        REFUNDED_MICROS,
        "Amount refunded, in micro-units of the platform's currency, by captcha type"
    );
    metrics::describe_counter!(
        STANDING_CHANGES,
        "Standing changes: ignored, lifted, noted (a trusted account the screen would have flagged), by lane"
    );
    metrics::describe_counter!(
        INGEST_ROWS,
        "Ingested task records: inserted, duplicate, rejected"
    );
    metrics::describe_counter!(
        ROUTE_DECISIONS,
        "Routing decisions by captcha type, rule and provider"
    );
}

/// What became of one report: `task_type` is its task's, when the task was found.
pub(crate) fn report(
    dialect: &'static str,
    task_type: Option<CaptchaType>,
    outcome: &Result<ReportOutcome, EngineError>,
) {
    let (outcome, verdict, reason) = match outcome {
        Ok(ReportOutcome::Recorded(r)) => ("recorded", r.verdict.as_str(), reason(&r.reason)),
        Ok(ReportOutcome::Repeated(r)) => ("repeated", r.verdict.as_str(), reason(&r.reason)),
        Ok(ReportOutcome::Refused(refusal)) => ("refused", NO_VERDICT, refusal.code()),
        Err(error) => ("error", NO_VERDICT, error_kind(error)),
    };
    let task_type = task_type.map_or(NO_TYPE, CaptchaType::as_str);
    metrics::counter!(
        REPORTS,
        "dialect" => dialect,
        "type" => task_type,
        "outcome" => outcome,
        "verdict" => verdict,
        "reason" => reason,
    )
    .increment(1);
}

fn reason(reason: &Reason) -> &'static str {
    reason.known_code().unwrap_or(UNRECOGNIZED)
}

/// The `reason` label of a report that failed: the engine error's kind.
fn error_kind(error: &EngineError) -> &'static str {
    match error {
        EngineError::Invalid(_) => "invalid",
        EngineError::NotFound => "not_found",
        EngineError::Conflict { .. } => "conflict",
        EngineError::Unavailable(_) => "unavailable",
        EngineError::Internal(_) => "internal",
    }
}

/// A report storage has just written (judged now, or settled now): its refund, if it has one
/// (the rule of `LedgerEntry::refund_for`).
pub(crate) fn refund(report: &Report, task_type: CaptchaType) {
    let Some(amount) = report.refund.filter(|a| !a.is_zero()) else {
        return;
    };
    let t = task_type.as_str();
    metrics::counter!(REFUNDS, "type" => t).increment(1);
    metrics::counter!(REFUNDED_MICROS, "type" => t).increment(amount.micros().unsigned_abs());
}

/// The standing changes among effects storage has just applied.
pub(crate) fn standing_effects(effects: &[Effect]) {
    for effect in effects {
        match effect {
            Effect::Ignore { lane, .. } => standing("ignored", lane),
            Effect::NoteScreenFlag { lane, .. } => standing("noted", lane),
            _ => {}
        }
    }
}

/// A standing change: `change` is `ignored`, `lifted` or `noted`; `lane` what decided it (a
/// lane the domain names, or `operator`).
pub(crate) fn standing(change: &'static str, lane: &'static str) {
    metrics::counter!(STANDING_CHANGES, "change" => change, "lane" => lane).increment(1);
}

/// Rows of an ingest step: `result` is `inserted`, `duplicate` or `rejected`.
pub(crate) fn ingest_rows(result: &'static str, rows: usize) {
    if rows > 0 {
        metrics::counter!(INGEST_ROWS, "result" => result).increment(rows as u64);
    }
}

/// A routing decision: the rule that chose (or why none could), and the provider if the
/// configuration names it; else [`UNCONFIGURED`], or [`NO_PROVIDER`] when none was chosen.
pub(crate) fn route(captcha_type: CaptchaType, rule: &'static str, provider: String) {
    metrics::counter!(
        ROUTE_DECISIONS,
        "type" => captcha_type.as_str(),
        "rule" => rule,
        "provider" => provider,
    )
    .increment(1);
}
