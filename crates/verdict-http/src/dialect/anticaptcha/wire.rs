//! anti-captcha's wire format: always HTTP 200 (the npm client's axios throws on anything else
//! before it reads the body), `{"errorId":0,"status":"success"}` on success, and on error
//! `errorId`, `errorCode` AND `errorDescription` (python-anticaptcha raises KeyError without
//! the description). The unknown-task token is `ERROR_NO_SUCH_CAPCHA_ID`, no T, errorId 16.
//!
//! Documented by anti-captcha: success; 16 for an unknown, foreign or expired task (also what it
//! answers for captchas it will not take reports on); 1 for an unknown key; 14 for an unknown
//! method. verdict's choices where the docs are silent: a conflicting second report and an
//! endpoint/type mismatch are 16 with a description saying so; storage outages are 2
//! `ERROR_NO_SLOT_AVAILABLE`, the code clients already retry on.

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use verdict_domain::{Refusal, ReportRequest};
use verdict_engine::{EngineError, ReportOutcome};

use super::{Method, NAME};
use crate::dialect::lenient::{Field, RawId, Text};
use crate::dialect::{BodyProblem, is_unavailable, json, log_failure, task_id};

const NO_SUCH_CAPCHA_ID: (u32, &str) = (16, "ERROR_NO_SUCH_CAPCHA_ID");
const KEY_DOES_NOT_EXIST: (u32, &str) = (1, "ERROR_KEY_DOES_NOT_EXIST");
const NO_SLOT_AVAILABLE: (u32, &str) = (2, "ERROR_NO_SLOT_AVAILABLE");
const NO_SUCH_METHOD: (u32, &str) = (14, "ERROR_NO_SUCH_METHOD");

const NOT_FOUND_TEXT: &str =
    "Task you are requesting does not exist in your current task list or has been expired.";
const KEY_TEXT: &str = "Account authorization key not found in the system";

#[derive(Debug, Deserialize)]
pub(super) struct Body {
    #[serde(default, rename = "clientKey")]
    client_key: Field<Text>,
    #[serde(default, rename = "taskId")]
    task_id: Field<RawId>,
}

#[derive(Debug)]
pub(super) enum BadRequest {
    Body(BodyProblem),
    MissingKey,
    MissingTaskId,
    BadTaskId,
}

pub(super) fn to_command(
    method: Method,
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
    Ok((
        key,
        ReportRequest::new(task, method.kind, NAME, method.eligibility),
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success {
    error_id: u32,
    status: &'static str,
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
        status: "success",
    };
    json(
        StatusCode::OK,
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

fn failure((error_id, error_code): (u32, &str), error_description: &str) -> Response {
    let body = Failure {
        error_id,
        error_code,
        error_description,
    };
    json(
        StatusCode::OK,
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        // anti-captcha acknowledges every complaint it records and judges it afterwards, out of
        // the client's sight; the verdict is in verdict's native API.
        Ok(ReportOutcome::Recorded(_) | ReportOutcome::Repeated(_)) => success(),
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => failure(KEY_DOES_NOT_EXIST, KEY_TEXT),
            Refusal::UnknownTask | Refusal::WindowClosed { .. } => {
                failure(NO_SUCH_CAPCHA_ID, NOT_FOUND_TEXT)
            }
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                failure(NO_SUCH_CAPCHA_ID, &refusal.describe())
            }
            Refusal::Conflict { .. } => failure(
                NO_SUCH_CAPCHA_ID,
                "A different report was already recorded for this task; only one report per task is allowed.",
            ),
        },
        Err(e) => {
            log_failure(NAME, &e);
            let text = if is_unavailable(&e) {
                "Service temporarily unavailable; retry in a few seconds."
            } else {
                "Internal error; retry in a few seconds."
            };
            failure(NO_SLOT_AVAILABLE, text)
        }
    }
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    match bad {
        BadRequest::Body(BodyProblem::NotJson) => failure(
            KEY_DOES_NOT_EXIST,
            "Request body is not a JSON object, so clientKey could not be read.",
        ),
        BadRequest::Body(BodyProblem::TooLarge) => failure(
            KEY_DOES_NOT_EXIST,
            "Request body is too large, so clientKey could not be read.",
        ),
        BadRequest::MissingKey => {
            failure(KEY_DOES_NOT_EXIST, "clientKey is missing or not a string.")
        }
        BadRequest::MissingTaskId => failure(NO_SUCH_CAPCHA_ID, "taskId is missing."),
        BadRequest::BadTaskId => {
            failure(NO_SUCH_CAPCHA_ID, "taskId must be a task id (an integer).")
        }
    }
}

/// For anything that is not one of the report methods served here.
pub fn render_no_such_method() -> Response {
    failure(
        NO_SUCH_METHOD,
        "Request to API made with method which does not exist",
    )
}
