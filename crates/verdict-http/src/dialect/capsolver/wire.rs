//! capsolver's conventions (https://docs.capsolver.com/guide/api-error): HTTP 200 with
//! `errorId` 0 on success; HTTP 400 with `errorId` 1 and an `errorCode` on error; HTTP 401 for a
//! wrong key (`ERROR_KEY_DENIED_ACCESS`). Its codes, as used: `ERROR_TASKID_INVALID` for an
//! unknown or foreign task, `ERROR_INVALID_TASK_DATA` for a malformed body, and its own spelling
//! `ERROR_SERVICE_UNAVALIABLE` for an outage. Not documented, so verdict's choice: the success
//! body `{"errorId":0,"errorCode":"","errorDescription":"","message":"ok"}` (the shape of its
//! other successes), a task past its window is `ERROR_TASKID_INVALID` saying so, and a
//! conflicting second report `ERROR_INVALID_TASK_DATA` saying so. An identical repeat succeeds.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use verdict_domain::{Refusal, Report};

use super::NAME;
use crate::dialect::feedback_task::{BadRequest, FeedbackDialect, failure};
use crate::dialect::{BodyProblem, human_duration, json};

const INVALID_TASK_DATA: &str = "ERROR_INVALID_TASK_DATA";
const TASKID_INVALID: &str = "ERROR_TASKID_INVALID";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success {
    error_id: u32,
    error_code: &'static str,
    error_description: &'static str,
    message: &'static str,
}

#[derive(Debug)]
pub struct Capsolver;

impl FeedbackDialect for Capsolver {
    const NAME: &'static str = NAME;

    fn recorded(_: &Report, _repeat: bool) -> Response {
        let body = Success {
            error_id: 0,
            error_code: "",
            error_description: "",
            message: "ok",
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
                "ERROR_KEY_DENIED_ACCESS",
                "Wrong account key",
            ),
            Refusal::UnknownTask => failure(
                StatusCode::BAD_REQUEST,
                TASKID_INVALID,
                "Task ID does not exist or is invalid",
            ),
            Refusal::WindowClosed { window_ms, .. } => failure(
                StatusCode::BAD_REQUEST,
                TASKID_INVALID,
                &format!(
                    "Task ID no longer takes feedback: the window of {} after solving has passed",
                    human_duration(*window_ms)
                ),
            ),
            Refusal::Conflict { .. } => failure(
                StatusCode::BAD_REQUEST,
                INVALID_TASK_DATA,
                "invalid task data: different feedback was already submitted for this task",
            ),
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => failure(
                StatusCode::BAD_REQUEST,
                INVALID_TASK_DATA,
                &format!("invalid task data: {}", refusal.describe()),
            ),
        }
    }

    fn bad_request(bad: &BadRequest) -> Response {
        let (status, code, text) = match bad {
            BadRequest::MissingKey => (
                StatusCode::UNAUTHORIZED,
                "ERROR_KEY_DENIED_ACCESS",
                "Wrong account key",
            ),
            BadRequest::Body(BodyProblem::NotJson) => (
                StatusCode::BAD_REQUEST,
                INVALID_TASK_DATA,
                "invalid task data: the body must be a JSON object",
            ),
            BadRequest::Body(BodyProblem::TooLarge) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                INVALID_TASK_DATA,
                "invalid task data: the body is too large",
            ),
            BadRequest::MissingTaskId => (
                StatusCode::BAD_REQUEST,
                INVALID_TASK_DATA,
                "invalid task data: taskId is required",
            ),
            BadRequest::BadTaskId => (
                StatusCode::BAD_REQUEST,
                TASKID_INVALID,
                "Task ID does not exist or is invalid",
            ),
            BadRequest::MissingResult => (
                StatusCode::BAD_REQUEST,
                INVALID_TASK_DATA,
                "invalid task data: result is required (an object)",
            ),
            BadRequest::MissingVerdict => (
                StatusCode::BAD_REQUEST,
                INVALID_TASK_DATA,
                "invalid task data: result.invalid is required (true or false)",
            ),
            BadRequest::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "ERROR_BAD_REQUEST",
                "Use POST",
            ),
        };
        failure(status, code, text)
    }

    fn failed(unavailable: bool) -> Response {
        let text = if unavailable {
            "Service is temporarily unavailable"
        } else {
            "Internal error, please try again later"
        };
        failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR_SERVICE_UNAVALIABLE",
            text,
        )
    }
}
