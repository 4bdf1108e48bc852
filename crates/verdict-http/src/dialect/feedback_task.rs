//! `POST /feedbackTask`, spoken by three services with one body shape
//! `{clientKey, taskId, result{…}}`: uCaptcha (seed 004), capsolver and regotcha. The body says
//! which one a client speaks:
//! - `result.valid` (and no `result.invalid`): regotcha, whose flag has the opposite polarity;
//! - an `appId`, or an integer `result.code`: capsolver (its documented fields);
//! - otherwise uCaptcha.
//!
//! capsolver's clients get its errors; a capsolver body without either marker is answered as
//! uCaptcha, whose success body capsolver clients accept just the same. python3-capsolver posts
//! feedback to `/getToken` instead, so `/getToken` takes capsolver feedback too.

use axum::Router;
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
use crate::dialect::lenient::{Field, Flag, Lenient, Object, RawId, SecretText};
use crate::dialect::registry::{has_keys, json_of};
use crate::dialect::{
    BodyProblem, capsolver, is_unavailable, json, log_failure, parse_json, regotcha, task_id,
    ucaptcha,
};
use crate::guard::{Cause, Throttle};

/// The shared routes, timed as their own route group: which dialect a request speaks is known
/// only once its body is read.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feedbackTask", route(false))
        .route("/getToken", route(true))
        .route_layer(axum::middleware::from_fn_with_state(
            "feedback_task",
            crate::metrics::in_group,
        ))
}

fn route(capsolver_only: bool) -> MethodRouter<AppState> {
    post(
        move |State(app): State<AppState>, body: Result<Bytes, BytesRejection>| async move {
            let body: Result<Body, BodyProblem> = parse_json(body);
            let flavor = match &body {
                _ if capsolver_only => Flavor::Capsolver,
                Ok(body) => Flavor::of(body),
                Err(_) => Flavor::Ucaptcha,
            };
            match flavor {
                Flavor::Ucaptcha => handle::<ucaptcha::Ucaptcha>(&app, body).await,
                Flavor::Capsolver => handle::<capsolver::Capsolver>(&app, body).await,
                Flavor::Regotcha => handle::<regotcha::Regotcha>(&app, body).await,
            }
        },
    )
    .fallback(|| async { ucaptcha::Ucaptcha::bad_request(&BadRequest::MethodNotAllowed) })
}

/// What one service says for each outcome of a feedback request.
pub trait FeedbackDialect {
    /// The dialect name recorded with each report.
    const NAME: &'static str;
    fn recorded(report: &Report, repeat: bool) -> Response;
    fn refused(refusal: &Refusal) -> Response;
    fn bad_request(bad: &BadRequest) -> Response;
    fn failed(unavailable: bool) -> Response;
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure<'a> {
    error_id: u32,
    error_code: &'a str,
    error_description: &'a str,
}

/// Whether an answer is in the shape all three share: `errorId` 0, or the three error fields.
pub fn is_shaped(_status: u16, body: &str) -> bool {
    let json = json_of(body);
    json["errorId"] == 0 || has_keys(&json, &["errorId", "errorCode", "errorDescription"])
}

/// The error envelope all three share: `{"errorId":1,"errorCode","errorDescription"}`.
pub fn failure(status: StatusCode, error_code: &str, error_description: &str) -> Response {
    let body = Failure {
        error_id: 1,
        error_code,
        error_description,
    };
    json(status, serde_json::to_string(&body).unwrap_or_default())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Ucaptcha,
    Capsolver,
    Regotcha,
}

impl Flavor {
    fn of(body: &Body) -> Flavor {
        let result = match &body.result {
            Field::Present(Object(result)) => Some(result),
            _ => None,
        };
        let has = |f: fn(&FeedbackResult) -> bool| result.is_some_and(f);
        if has(|r| r.valid != Field::Missing && r.invalid == Field::Missing) {
            Flavor::Regotcha
        } else if body.app_id != Field::Missing
            || has(|r| matches!(r.code, Field::Present(Code { numeric: true, .. })))
        {
            Flavor::Capsolver
        } else {
            Flavor::Ucaptcha
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Body {
    #[serde(default, rename = "clientKey")]
    client_key: Field<SecretText>,
    #[serde(default, rename = "taskId")]
    task_id: Field<RawId>,
    #[serde(default, rename = "appId")]
    app_id: Field<Code>,
    #[serde(default)]
    result: Field<Object<FeedbackResult>>,
}

#[derive(Debug, Deserialize)]
pub struct FeedbackResult {
    #[serde(default)]
    invalid: Field<Flag>,
    #[serde(default)]
    valid: Field<Flag>,
    #[serde(default)]
    code: Field<Code>,
    #[serde(default)]
    message: Field<Code>,
}

/// A free-text field that remembers whether it came as a number (capsolver's integer `code`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Code {
    text: String,
    numeric: bool,
}

impl Lenient for Code {
    fn from_str(s: &str) -> Option<Self> {
        Some(Code {
            text: s.to_owned(),
            numeric: false,
        })
    }
    fn from_u64(n: u64) -> Option<Self> {
        Some(Code {
            text: n.to_string(),
            numeric: true,
        })
    }
    fn from_i64(n: i64) -> Option<Self> {
        Some(Code {
            text: n.to_string(),
            numeric: true,
        })
    }
    fn from_f64(n: f64) -> Option<Self> {
        Some(Code {
            text: n.to_string(),
            numeric: true,
        })
    }
    fn from_bool(b: bool) -> Option<Self> {
        Some(Code {
            text: b.to_string(),
            numeric: false,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRequest {
    Body(BodyProblem),
    MissingKey,
    MissingTaskId,
    BadTaskId,
    MissingResult,
    /// `result.invalid` (or regotcha's `result.valid`) absent or not a boolean.
    MissingVerdict,
    MethodNotAllowed,
}

async fn handle<D: FeedbackDialect>(app: &AppState, body: Result<Body, BodyProblem>) -> Response {
    match to_command::<D>(body) {
        Ok((key, request)) => {
            app.report(throttled, None, &key, request, render::<D>)
                .await
        }
        Err(bad) => D::bad_request(&bad),
    }
}

fn render<D: FeedbackDialect>(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        Ok(ReportOutcome::Recorded(report)) => D::recorded(&report, false),
        Ok(ReportOutcome::Repeated(report)) => D::recorded(&report, true),
        Ok(ReportOutcome::Refused(refusal)) => D::refused(&refusal),
        Err(e) => failed::<D>(&e),
    }
}

fn failed<D: FeedbackDialect>(e: &EngineError) -> Response {
    log_failure(D::NAME, e);
    D::failed(is_unavailable(e))
}

fn to_command<D: FeedbackDialect>(
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
    let Object(result) = body
        .result
        .require(BadRequest::MissingResult, BadRequest::MissingResult)?;
    let invalid = match (result.invalid, result.valid) {
        (Field::Present(Flag(invalid)), _) => invalid,
        (Field::Missing, Field::Present(Flag(valid))) => !valid,
        _ => return Err(BadRequest::MissingVerdict),
    };
    let kind = if invalid {
        ReportKind::Incorrect
    } else {
        ReportKind::Correct
    };
    // A code or message of an odd shape is a note, not a reason to lose the feedback.
    let text = |f: Field<Code>| f.optional(()).ok().flatten().map(|c| c.text);
    let request = ReportRequest::new(task, kind, D::NAME, Eligibility::ALL)
        .with_note(text(result.code), text(result.message));
    Ok((key, request))
}

/// A throttled request, for all three (HTTP 429): capsolver's documented `ERROR_RATE_LIMIT`, and
/// `ERROR_IP_BANNED` (CapMonster's name for it; none of the three documents one) for an address
/// blocked after too many wrong keys.
pub fn throttled(throttle: &Throttle, _query: Option<&str>) -> Response {
    let seconds = throttle.retry_after_secs();
    match throttle.cause {
        Cause::TooManyRequests => failure(
            StatusCode::TOO_MANY_REQUESTS,
            "ERROR_RATE_LIMIT",
            &format!("Too many requests; retry in {seconds} seconds."),
        ),
        Cause::TooManyFailedLogins => failure(
            StatusCode::TOO_MANY_REQUESTS,
            "ERROR_IP_BANNED",
            &format!(
                "Too many requests with a wrong key from this address; blocked for {seconds} seconds."
            ),
        ),
    }
}
