//! captcha.fun's wire format. Bodies are `{"message": "…"}`, written with the space after the
//! colon exactly as the seed shows them. Only the success and "Invalid request ID" messages and
//! the 200 success status are documented; the other statuses and messages are verdict's choice,
//! written down in the README's dialect table.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use verdict_domain::{Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::{is_unavailable, json, log_failure};
use crate::guard::{Cause, Throttle};

pub(super) const SUCCESS: &str = "Report submitted successfully";
pub(super) const INVALID_ID: &str = "Invalid request ID";
const INVALID_KEY: &str = "Invalid API key";

#[derive(Debug)]
pub(super) enum BadRequest {
    MissingKey,
    BadId,
}

pub(super) fn to_command(
    id: Result<String, impl std::fmt::Debug>,
    headers: &HeaderMap,
) -> Result<(String, ReportRequest), BadRequest> {
    let key = headers
        .get("API_KEY")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(BadRequest::MissingKey)?;
    let id = id.map_err(|_| BadRequest::BadId)?;
    let task = TaskId::parse(id.trim()).map_err(|_| BadRequest::BadId)?;
    let request = ReportRequest::new(task, ReportKind::Incorrect, NAME, Eligibility::ALL);
    Ok((key.to_owned(), request))
}

fn message(status: StatusCode, text: &str) -> Response {
    let text = serde_json::Value::from(text);
    json(status, format!("{{\"message\": {text}}}"))
}

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        // A recorded report was received, whatever its verdict: captcha.fun answers on receipt.
        // The verdict and its reason are in the native API.
        Ok(ReportOutcome::Recorded(_) | ReportOutcome::Repeated(_)) => {
            message(StatusCode::OK, SUCCESS)
        }
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => message(StatusCode::UNAUTHORIZED, INVALID_KEY),
            Refusal::UnknownTask => message(StatusCode::NOT_FOUND, INVALID_ID),
            Refusal::WindowClosed { .. } => {
                message(StatusCode::BAD_REQUEST, "Report window has expired")
            }
            Refusal::Conflict { .. } => message(
                StatusCode::CONFLICT,
                "A different report was already submitted for this request",
            ),
            // captcha.fun takes every type and sends no correction.
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                message(StatusCode::BAD_REQUEST, &refusal.describe())
            }
        },
        Err(e) => {
            log_failure(NAME, &e);
            if is_unavailable(&e) {
                message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service temporarily unavailable",
                )
            } else {
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    match bad {
        BadRequest::MissingKey => message(StatusCode::UNAUTHORIZED, INVALID_KEY),
        BadRequest::BadId => message(StatusCode::BAD_REQUEST, INVALID_ID),
    }
}

pub(super) fn render_method_not_allowed() -> Response {
    message(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed; use POST",
    )
}

/// 429 with the one `message` field, as every captcha.fun answer.
pub(super) fn throttled(throttle: &Throttle, _query: Option<&str>) -> Response {
    let seconds = throttle.retry_after_secs();
    let text = match throttle.cause {
        Cause::TooManyRequests => format!("Too many requests, retry in {seconds} seconds"),
        Cause::TooManyFailedLogins => {
            format!("Too many invalid API keys from this address, blocked for {seconds} seconds")
        }
    };
    message(StatusCode::TOO_MANY_REQUESTS, &text)
}
