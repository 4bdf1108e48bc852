//! The `{clientKey, taskId}` → `{"errorId", …}` family: anti-captcha, 2captcha API v2 and
//! CapMonster Cloud share request bodies, paths and envelopes, and differ only in which
//! `errorId`/`errorCode` each outcome gets. This module holds what they share; each dialect
//! module implements [`ErrorIdDialect`] with its own table.
//!
//! Always HTTP 200 (anti-captcha's npm client uses axios, which throws on any other status before
//! the body is read); errors always carry `errorId`, `errorCode` AND `errorDescription`
//! (python-anticaptcha raises KeyError without the description).

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use verdict_domain::{Eligibility, Refusal, Report, ReportKind, ReportRequest};
use verdict_engine::{EngineError, ReportOutcome};

use crate::AppState;
use crate::dialect::lenient::{Field, RawId, SecretText};
use crate::dialect::registry::{Report as RegistryReport, WireRequest, has_keys, json_id, json_of};
use crate::dialect::{BodyProblem, is_unavailable, json, log_failure, parse_json, task_id};
use crate::guard::{Cause, Throttle};

/// An `errorId` with its `errorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub u32, pub &'static str);

pub const NO_SUCH_CAPCHA_ID: ErrorCode = ErrorCode(16, "ERROR_NO_SUCH_CAPCHA_ID");
pub const KEY_DOES_NOT_EXIST: ErrorCode = ErrorCode(1, "ERROR_KEY_DOES_NOT_EXIST");
pub const NO_SLOT_AVAILABLE: ErrorCode = ErrorCode(2, "ERROR_NO_SLOT_AVAILABLE");
pub const NO_SUCH_METHOD: ErrorCode = ErrorCode(14, "ERROR_NO_SUCH_METHOD");
/// "IP blocked for improper API use".
pub const IP_BLOCKED: ErrorCode = ErrorCode(21, "ERROR_IP_BLOCKED");

/// What a dialect of this family says for each outcome.
pub trait ErrorIdDialect: Send + Sync + 'static {
    /// The dialect name recorded with each report.
    const NAME: &'static str;
    /// For a missing, unreadable or unknown key.
    const KEY_ERROR: ErrorCode = KEY_DOES_NOT_EXIST;
    /// For a missing or malformed task id.
    const TASK_ERROR: ErrorCode = NO_SUCH_CAPCHA_ID;
    /// For a storage outage: a code clients already retry on.
    const RETRY_ERROR: ErrorCode = NO_SLOT_AVAILABLE;
    /// For a client over its request rate: anti-captcha documents no rate code, so the one its
    /// clients already back off and retry on.
    const RATE_ERROR: ErrorCode = NO_SLOT_AVAILABLE;
    /// For an address blocked after too many wrong keys.
    const BLOCKED_ERROR: ErrorCode = IP_BLOCKED;

    /// A report was recorded (or an identical one repeated): usually `success()`.
    fn recorded(report: &Report) -> Response {
        let _ = report;
        success()
    }

    fn refused(refusal: &Refusal) -> Response;

    fn bad_request(bad: &BadRequest) -> Response {
        match bad {
            BadRequest::Body(BodyProblem::NotJson) => failure(
                Self::KEY_ERROR,
                "Request body is not a JSON object, so clientKey could not be read.",
            ),
            BadRequest::Body(BodyProblem::TooLarge) => failure(
                Self::KEY_ERROR,
                "Request body is too large, so clientKey could not be read.",
            ),
            BadRequest::MissingKey => {
                failure(Self::KEY_ERROR, "clientKey is missing or not a string.")
            }
            BadRequest::MissingTaskId => failure(Self::TASK_ERROR, "taskId is missing."),
            BadRequest::BadTaskId => {
                failure(Self::TASK_ERROR, "taskId must be a task id (an integer).")
            }
        }
    }

    /// Storage failed: `unavailable` says whether it is worth retrying.
    fn failed(unavailable: bool) -> Response {
        let text = if unavailable {
            "Service temporarily unavailable; retry in a few seconds."
        } else {
            "Internal error; retry in a few seconds."
        };
        failure(Self::RETRY_ERROR, text)
    }
}

#[derive(Debug, Deserialize)]
pub struct Body {
    #[serde(default, rename = "clientKey")]
    client_key: Field<SecretText>,
    #[serde(default, rename = "taskId")]
    task_id: Field<RawId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRequest {
    Body(BodyProblem),
    MissingKey,
    MissingTaskId,
    BadTaskId,
}

/// One report method of a dialect of this family: what it claims and which families it takes.
pub fn method<D: ErrorIdDialect>(
    kind: ReportKind,
    eligibility: Eligibility,
) -> MethodRouter<AppState> {
    post(
        move |State(app): State<AppState>, body: Result<Bytes, BytesRejection>| async move {
            match to_command::<D>(kind, eligibility, parse_json(body)) {
                Ok((key, request)) => {
                    app.report(throttled::<D>, None, &key, request, render::<D>)
                        .await
                }
                Err(bad) => D::bad_request(&bad),
            }
        },
    )
    .fallback(|| async { no_such_method() })
}

fn to_command<D: ErrorIdDialect>(
    kind: ReportKind,
    eligibility: Eligibility,
    body: Result<Body, BodyProblem>,
) -> Result<(String, ReportRequest), BadRequest> {
    let body = body.map_err(BadRequest::Body)?;
    let SecretText(key) = body
        .client_key
        .require(BadRequest::MissingKey, BadRequest::MissingKey)?;
    let raw = body
        .task_id
        .require(BadRequest::MissingTaskId, BadRequest::BadTaskId)?;
    let task = task_id(raw).map_err(|_| BadRequest::BadTaskId)?;
    Ok((key, ReportRequest::new(task, kind, D::NAME, eligibility)))
}

fn render<D: ErrorIdDialect>(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        Ok(ReportOutcome::Recorded(report) | ReportOutcome::Repeated(report)) => {
            D::recorded(&report)
        }
        Ok(ReportOutcome::Refused(refusal)) => D::refused(&refusal),
        Err(e) => {
            log_failure(D::NAME, &e);
            D::failed(is_unavailable(&e))
        }
    }
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

pub fn success() -> Response {
    let body = Success {
        error_id: 0,
        status: "success",
    };
    json(
        StatusCode::OK,
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

pub fn failure(ErrorCode(error_id, error_code): ErrorCode, error_description: &str) -> Response {
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

/// For anything that is not one of the methods served here.
pub fn no_such_method() -> Response {
    failure(
        NO_SUCH_METHOD,
        "Request to API made with method which does not exist",
    )
}

/// `{clientKey, taskId}` posted to `/<method>`, the id a JSON number where it is one: the
/// registry's example request for the dialects of this family.
pub fn example(method: &str, report: &RegistryReport<'_>) -> WireRequest {
    WireRequest::json(
        format!("/{method}"),
        &serde_json::json!({ "clientKey": report.key, "taskId": json_id(report.task) }),
    )
}

/// Whether an answer is in this family's shape: HTTP 200 always, success or all three error
/// fields.
pub fn is_shaped(status: u16, body: &str) -> bool {
    let json = json_of(body);
    status == 200
        && (is_success(status, body)
            || has_keys(&json, &["errorId", "errorCode", "errorDescription"]))
}

/// Whether an answer is this family's `{"errorId":0,"status":"success"}`.
pub fn is_success(status: u16, body: &str) -> bool {
    let json = json_of(body);
    status == 200 && json["errorId"] == 0 && json["status"] == "success"
}

/// A throttled request, in the family's envelope (HTTP 200, as every answer).
pub fn throttled<D: ErrorIdDialect>(throttle: &Throttle, _query: Option<&str>) -> Response {
    let seconds = throttle.retry_after_secs();
    match throttle.cause {
        Cause::TooManyRequests => failure(
            D::RATE_ERROR,
            &format!("Too many requests; retry in {seconds} seconds."),
        ),
        Cause::TooManyFailedLogins => failure(
            D::BLOCKED_ERROR,
            &format!(
                "Too many requests with a wrong key from this address; blocked for {seconds} seconds."
            ),
        ),
    }
}
