//! decaptcha's wire format: every answer is the four-field envelope
//! `{"isSuccess","statusCode","errorMessage","data"}` with `statusCode` equal to the HTTP status.
//! Documented: the success body, and 404 with "CAPTCHA with the specified GUID not found."; the
//! 400/401/500 statuses are documented with labels only, so their messages are ours, and so are
//! 409 (a conflicting second report), 413 and 503.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use verdict_domain::{Eligibility, Family, Reason, Refusal, ReportKind, ReportRequest};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::lenient::{Field, RawId, Text};
use crate::dialect::{BodyProblem, human_duration, is_unavailable, json, log_failure, task_id};
use crate::guard::{Cause, Throttle};

const NOT_FOUND: &str = "CAPTCHA with the specified GUID not found.";
pub(super) const TEXT_AND_AUDIO: Eligibility = Eligibility::only(&[Family::Image, Family::Audio]);

#[derive(Debug, Deserialize)]
pub(super) struct Body {
    #[serde(default, rename = "captchaGUID")]
    captcha_guid: Field<RawId>,
    #[serde(default)]
    correction: Field<Text>,
}

#[derive(Debug)]
pub(super) enum BadRequest {
    MissingKey,
    Body(BodyProblem),
    MissingGuid,
    BadGuid,
    BadCorrection,
    CorrectionTooLong,
}

pub(super) fn to_command(
    headers: &HeaderMap,
    body: Result<Body, BodyProblem>,
) -> Result<(String, ReportRequest), BadRequest> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(BadRequest::MissingKey)?
        .to_owned();
    let body = body.map_err(BadRequest::Body)?;
    let guid = body
        .captcha_guid
        .require(BadRequest::MissingGuid, BadRequest::BadGuid)?;
    let task = task_id(guid).map_err(|_| BadRequest::BadGuid)?;
    let correction = body
        .correction
        .optional(BadRequest::BadCorrection)?
        .map(|Text(t)| t);
    let request = ReportRequest::new(task, ReportKind::Incorrect, NAME, TEXT_AND_AUDIO)
        .with_correction(correction)
        .map_err(|_| BadRequest::CorrectionTooLong)?;
    Ok((key, request))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    is_success: bool,
    status_code: u16,
    error_message: Option<&'a str>,
    data: Option<bool>,
}

fn success() -> Response {
    envelope(StatusCode::OK, None)
}

fn error(status: StatusCode, message: &str) -> Response {
    envelope(status, Some(message))
}

fn envelope(status: StatusCode, error_message: Option<&str>) -> Response {
    let body = Envelope {
        is_success: error_message.is_none(),
        status_code: status.as_u16(),
        error_message,
        data: error_message.is_none().then_some(true),
    };
    json(status, serde_json::to_string(&body).unwrap_or_default())
}

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        Ok(ReportOutcome::Recorded(report) | ReportOutcome::Repeated(report)) => {
            match report.reason {
                // The correction says the prediction was right: tell the client, it can fix its input.
                Reason::CorrectionMatchesAnswer => error(
                    StatusCode::BAD_REQUEST,
                    "Invalid request: the correction equals the predicted text.",
                ),
                _ => success(),
            }
        }
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => {
                error(StatusCode::UNAUTHORIZED, "Unauthorized: invalid API key.")
            }
            Refusal::UnknownTask => error(StatusCode::NOT_FOUND, NOT_FOUND),
            Refusal::WindowClosed { window_ms, .. } => error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Invalid request: reports are accepted for {} after a CAPTCHA is solved.",
                    human_duration(window_ms)
                ),
            ),
            Refusal::Ineligible { .. } => error(
                StatusCode::BAD_REQUEST,
                "Invalid request: only text and audio CAPTCHAs can be reported here.",
            ),
            Refusal::CorrectionNotApplicable { .. } => error(
                StatusCode::BAD_REQUEST,
                "Invalid request: this CAPTCHA takes no correction.",
            ),
            Refusal::Conflict { .. } => error(
                StatusCode::CONFLICT,
                "A different report was already submitted for this CAPTCHA.",
            ),
        },
        Err(e) => {
            log_failure(NAME, &e);
            if is_unavailable(&e) {
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service temporarily unavailable.",
                )
            } else {
                error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    let (status, message) = match bad {
        BadRequest::MissingKey => (
            StatusCode::UNAUTHORIZED,
            "Unauthorized: x-api-key header is missing.",
        ),
        BadRequest::Body(BodyProblem::TooLarge) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Invalid request: the body is too large.",
        ),
        BadRequest::Body(BodyProblem::NotJson) => (
            StatusCode::BAD_REQUEST,
            "Invalid request: the body must be a JSON object.",
        ),
        BadRequest::MissingGuid => (
            StatusCode::BAD_REQUEST,
            "Invalid request: captchaGUID is required.",
        ),
        BadRequest::BadGuid => (
            StatusCode::BAD_REQUEST,
            "Invalid request: captchaGUID must be a CAPTCHA id string.",
        ),
        BadRequest::BadCorrection => (
            StatusCode::BAD_REQUEST,
            "Invalid request: correction must be a string.",
        ),
        BadRequest::CorrectionTooLong => (
            StatusCode::BAD_REQUEST,
            "Invalid request: correction is longer than 1024 bytes.",
        ),
    };
    error(status, message)
}

pub(super) fn render_method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "Invalid request: use POST.")
}

/// 429 in the envelope.
pub(super) fn throttled(throttle: &Throttle, _query: Option<&str>) -> Response {
    let seconds = throttle.retry_after_secs();
    let text = match throttle.cause {
        Cause::TooManyRequests => format!("Too many requests. Retry in {seconds} seconds."),
        Cause::TooManyFailedLogins => format!(
            "Too many requests with an invalid API key from this address. Blocked for {seconds} seconds."
        ),
    };
    error(StatusCode::TOO_MANY_REQUESTS, &text)
}
