//! regotcha's wire format, as documented: success `{"errorId":0,"message":"Feedback recorded:
//! token valid"}` (and "token invalid"); one feedback per task, a second one (even an identical
//! retry) gets `ERROR_FEEDBACK_EXISTS` "Feedback already submitted for this task"; too late is
//! `ERROR_FEEDBACK_EXPIRED` "Feedback window expired (24h limit)"; `ERROR_KEY_DOES_NOT_EXIST`,
//! `ERROR_INVALID_TASK_DATA` (bad `result.valid`) and `ERROR_NO_SUCH_CAPCHA_ID` (unknown or not
//! owned). regotcha documents no HTTP statuses: verdict answers 200 throughout, as the
//! anti-captcha-style APIs it resembles do.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use verdict_domain::{Refusal, Report, ReportKind};

use super::NAME;
use crate::dialect::feedback_task::{BadRequest, FeedbackDialect, failure};
use crate::dialect::{BodyProblem, json};

const INVALID_TASK_DATA: &str = "ERROR_INVALID_TASK_DATA";
const EXISTS: &str = "Feedback already submitted for this task";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success {
    error_id: u32,
    message: &'static str,
}

fn error(code: &str, text: &str) -> Response {
    failure(StatusCode::OK, code, text)
}

/// "24h", "15m", "60s": the window as regotcha writes it.
fn compact(ms: i64) -> String {
    let secs = ms / 1000;
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs >= 120 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[derive(Debug)]
pub struct Regotcha;

impl FeedbackDialect for Regotcha {
    const NAME: &'static str = NAME;

    fn recorded(report: &Report, repeat: bool) -> Response {
        if repeat {
            return error("ERROR_FEEDBACK_EXISTS", EXISTS);
        }
        let message = match report.kind {
            ReportKind::Correct => "Feedback recorded: token valid",
            ReportKind::Incorrect => "Feedback recorded: token invalid",
        };
        let body = Success {
            error_id: 0,
            message,
        };
        json(
            StatusCode::OK,
            serde_json::to_string(&body).unwrap_or_default(),
        )
    }

    fn refused(refusal: &Refusal) -> Response {
        match refusal {
            Refusal::UnknownKey => error(
                "ERROR_KEY_DOES_NOT_EXIST",
                "Account authorization key not found",
            ),
            Refusal::UnknownTask => error("ERROR_NO_SUCH_CAPCHA_ID", "Task not found"),
            Refusal::WindowClosed { window_ms, .. } => error(
                "ERROR_FEEDBACK_EXPIRED",
                &format!("Feedback window expired ({} limit)", compact(*window_ms)),
            ),
            Refusal::Conflict { .. } => error("ERROR_FEEDBACK_EXISTS", EXISTS),
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                error(INVALID_TASK_DATA, &refusal.describe())
            }
        }
    }

    fn bad_request(bad: &BadRequest) -> Response {
        match bad {
            BadRequest::MissingKey => error(
                "ERROR_KEY_DOES_NOT_EXIST",
                "clientKey is missing or not a string",
            ),
            BadRequest::Body(BodyProblem::NotJson) => {
                error(INVALID_TASK_DATA, "The body must be a JSON object")
            }
            BadRequest::Body(BodyProblem::TooLarge) => {
                error(INVALID_TASK_DATA, "The body is too large")
            }
            BadRequest::MissingTaskId | BadRequest::BadTaskId => error(
                "ERROR_NO_SUCH_CAPCHA_ID",
                "taskId is missing or not a task id",
            ),
            BadRequest::MissingResult | BadRequest::MissingVerdict => error(
                INVALID_TASK_DATA,
                "result.valid is required (true or false)",
            ),
            BadRequest::MethodNotAllowed => error(INVALID_TASK_DATA, "Use POST"),
        }
    }

    fn failed(_unavailable: bool) -> Response {
        failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR_SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable; retry shortly",
        )
    }
}
