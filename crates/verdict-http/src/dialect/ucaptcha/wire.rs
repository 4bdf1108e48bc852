//! uCaptcha's wire format: `{"errorId":0,"message":"Feedback recorded"}` on success; errors are
//! `{"errorId":1,"errorCode","errorDescription"}` with uCaptcha's HTTP statuses (401 for keys,
//! 400 `ERROR_BAD_PARAMETERS`, 404 `ERROR_WRONG_CAPTCHA_ID`), per its error-code page.
//! Not documented for feedbackTask, so verdict's choice: an expired task is 400
//! `ERROR_FEEDBACK_EXPIRED` and a conflicting second report 409 `ERROR_FEEDBACK_EXISTS` (the
//! names regotcha uses for the same endpoint); outages 503 `ERROR_SERVICE_UNAVAILABLE`.
//! `result.message` is documented as required but capsolver-style clients omit it: accepted.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use verdict_domain::{Eligibility, Refusal, ReportKind, ReportRequest};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::lenient::{Field, Flag, Loose, Object, RawId, Text};
use crate::dialect::{BodyProblem, human_duration, is_unavailable, json, log_failure, task_id};

#[derive(Debug, Deserialize)]
pub(super) struct Body {
    #[serde(default, rename = "clientKey")]
    client_key: Field<Text>,
    #[serde(default, rename = "taskId")]
    task_id: Field<RawId>,
    #[serde(default)]
    result: Field<Object<FeedbackResult>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FeedbackResult {
    #[serde(default)]
    invalid: Field<Flag>,
    #[serde(default)]
    code: Field<Loose>,
    #[serde(default)]
    message: Field<Loose>,
}

#[derive(Debug)]
pub(super) enum BadRequest {
    Body(BodyProblem),
    MissingKey,
    MissingTaskId,
    BadTaskId,
    MissingResult,
    MissingInvalid,
}

pub(super) fn to_command(
    body: Result<Body, BodyProblem>,
) -> Result<(String, ReportRequest), BadRequest> {
    let body = body.map_err(BadRequest::Body)?;
    let Text(key) = body
        .client_key
        .require(BadRequest::MissingKey, BadRequest::MissingKey)?;
    let raw = body
        .task_id
        .require(BadRequest::MissingTaskId, BadRequest::BadTaskId)?;
    let task = task_id(raw).map_err(|_| BadRequest::BadTaskId)?;
    let Object(result) = body
        .result
        .require(BadRequest::MissingResult, BadRequest::MissingResult)?;
    let Flag(invalid) = result
        .invalid
        .require(BadRequest::MissingInvalid, BadRequest::MissingInvalid)?;
    let kind = if invalid {
        ReportKind::Incorrect
    } else {
        ReportKind::Correct
    };
    // A code or message of an odd shape is a note, not a reason to lose the feedback.
    let code = result.code.optional(()).ok().flatten().map(|Loose(c)| c);
    let message = result.message.optional(()).ok().flatten().map(|Loose(m)| m);
    let request = ReportRequest::new(task, kind, NAME, Eligibility::ALL).with_note(code, message);
    Ok((key, request))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success {
    error_id: u32,
    message: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure<'a> {
    error_id: u32,
    error_code: &'a str,
    error_description: &'a str,
}

fn success() -> Response {
    let body = Success {
        error_id: 0,
        message: "Feedback recorded",
    };
    json(
        StatusCode::OK,
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

fn failure(status: StatusCode, error_code: &str, error_description: &str) -> Response {
    let body = Failure {
        error_id: 1,
        error_code,
        error_description,
    };
    json(status, serde_json::to_string(&body).unwrap_or_default())
}

const KEY_DOES_NOT_EXIST: &str = "ERROR_KEY_DOES_NOT_EXIST";
const BAD_PARAMETERS: &str = "ERROR_BAD_PARAMETERS";

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        Ok(ReportOutcome::Recorded(_) | ReportOutcome::Repeated(_)) => success(),
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => failure(
                StatusCode::UNAUTHORIZED,
                KEY_DOES_NOT_EXIST,
                "The API key you provided does not exist in our system.",
            ),
            Refusal::UnknownTask => failure(
                StatusCode::NOT_FOUND,
                "ERROR_WRONG_CAPTCHA_ID",
                "The specified task ID was not found.",
            ),
            Refusal::WindowClosed { window_ms, .. } => failure(
                StatusCode::BAD_REQUEST,
                "ERROR_FEEDBACK_EXPIRED",
                &format!(
                    "Feedback window expired ({} after the task was solved).",
                    human_duration(window_ms)
                ),
            ),
            Refusal::Conflict { .. } => failure(
                StatusCode::CONFLICT,
                "ERROR_FEEDBACK_EXISTS",
                "Different feedback was already submitted for this task.",
            ),
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                failure(StatusCode::BAD_REQUEST, BAD_PARAMETERS, &refusal.describe())
            }
        },
        Err(e) => {
            log_failure(NAME, &e);
            if is_unavailable(&e) {
                failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ERROR_SERVICE_UNAVAILABLE",
                    "The service is temporarily unavailable; retry shortly.",
                )
            } else {
                failure(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ERROR_INTERNAL",
                    "Internal error; retry shortly.",
                )
            }
        }
    }
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    let (status, code, text) = match bad {
        BadRequest::Body(BodyProblem::NotJson) => (
            StatusCode::BAD_REQUEST,
            BAD_PARAMETERS,
            "The request body must be a JSON object.",
        ),
        BadRequest::Body(BodyProblem::TooLarge) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            BAD_PARAMETERS,
            "The request body is too large.",
        ),
        BadRequest::MissingKey => (
            StatusCode::UNAUTHORIZED,
            KEY_DOES_NOT_EXIST,
            "clientKey is missing or not a string.",
        ),
        BadRequest::MissingTaskId => (
            StatusCode::BAD_REQUEST,
            BAD_PARAMETERS,
            "taskId is required.",
        ),
        BadRequest::BadTaskId => (
            StatusCode::BAD_REQUEST,
            BAD_PARAMETERS,
            "taskId must be a task id string.",
        ),
        BadRequest::MissingResult => (
            StatusCode::BAD_REQUEST,
            BAD_PARAMETERS,
            "result is required (an object).",
        ),
        BadRequest::MissingInvalid => (
            StatusCode::BAD_REQUEST,
            BAD_PARAMETERS,
            "result.invalid is required (true or false).",
        ),
    };
    failure(status, code, text)
}

pub(super) fn render_method_not_allowed() -> Response {
    failure(StatusCode::METHOD_NOT_ALLOWED, BAD_PARAMETERS, "Use POST.")
}
