//! uCaptcha's wire format: `{"errorId":0,"message":"Feedback recorded"}` on success; errors are
//! `{"errorId":1,"errorCode","errorDescription"}` with uCaptcha's HTTP statuses (401 for keys,
//! 400 `ERROR_BAD_PARAMETERS`, 404 `ERROR_WRONG_CAPTCHA_ID`), per its error-code page.
//! Not documented for feedbackTask, so verdict's choice: an expired task is 400
//! `ERROR_FEEDBACK_EXPIRED` and a conflicting second report 409 `ERROR_FEEDBACK_EXISTS` (the
//! names regotcha uses for the same endpoint); outages 503 `ERROR_SERVICE_UNAVAILABLE`.
//! `result.message` is documented as required but capsolver-style clients omit it: accepted.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use verdict_domain::{Refusal, Report};

use super::NAME;
use crate::dialect::feedback_task::{BadRequest, FeedbackDialect, failure};
use crate::dialect::{BodyProblem, human_duration, json};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success {
    error_id: u32,
    message: &'static str,
}

const KEY_DOES_NOT_EXIST: &str = "ERROR_KEY_DOES_NOT_EXIST";
const BAD_PARAMETERS: &str = "ERROR_BAD_PARAMETERS";

#[derive(Debug)]
pub struct Ucaptcha;

impl FeedbackDialect for Ucaptcha {
    const NAME: &'static str = NAME;

    fn recorded(_: &Report, _repeat: bool) -> Response {
        let body = Success {
            error_id: 0,
            message: "Feedback recorded",
        };
        json(
            StatusCode::OK,
            serde_json::to_string(&body).unwrap_or_default(),
        )
    }

    fn refused(refusal: &Refusal) -> Response {
        match refusal {
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
                    human_duration(*window_ms)
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
        }
    }

    fn bad_request(bad: &BadRequest) -> Response {
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
            BadRequest::MissingVerdict => (
                StatusCode::BAD_REQUEST,
                BAD_PARAMETERS,
                "result.invalid is required (true or false).",
            ),
            BadRequest::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, BAD_PARAMETERS, "Use POST.")
            }
        };
        failure(status, code, text)
    }

    fn failed(unavailable: bool) -> Response {
        if unavailable {
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
