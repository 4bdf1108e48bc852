//! BestCaptchaSolver's wire format (see the module above for what each client checks):
//! `{"status":"updated"}` on success, `{"status":"error","error":"<message>"}` otherwise.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use verdict_domain::{Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::form::Fields;
use crate::dialect::lenient::{Field, SecretText};
use crate::dialect::{is_unavailable, json, log_failure};
use crate::guard::{Cause, Throttle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadRequest {
    BadId,
    BadBody,
    NoToken,
    Method,
}

/// The JSON body the npm, Go, Java and C# clients send.
#[derive(Debug, Deserialize)]
struct JsonBody {
    #[serde(default)]
    access_token: Field<SecretText>,
}

pub(super) async fn to_command(
    id: Option<String>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<Bytes>,
) -> Result<(String, ReportRequest), BadRequest> {
    let id = id.unwrap_or_default();
    // Ids are integers (the Go client parses them as int64).
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest::BadId);
    }
    let task = TaskId::parse(&id).map_err(|_| BadRequest::BadId)?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let token = if is_json {
        let body = body.unwrap_or_default();
        let parsed: JsonBody =
            crate::dialect::parse_json(Ok(body)).map_err(|_| BadRequest::BadBody)?;
        match parsed.access_token {
            Field::Present(SecretText(token)) => Some(token),
            _ => Fields::read(query, headers, None)
                .await
                .get("access_token")
                .map(str::to_owned),
        }
    } else {
        Fields::read(query, headers, body)
            .await
            .get("access_token")
            .map(str::to_owned)
    };
    let token = token
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or(BadRequest::NoToken)?;
    Ok((
        token,
        ReportRequest::new(task, ReportKind::Incorrect, NAME, Eligibility::ALL),
    ))
}

#[derive(Serialize)]
struct Status<'a> {
    status: &'a str,
}

#[derive(Serialize)]
struct Error<'a> {
    status: &'a str,
    error: &'a str,
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = Error {
        status: "error",
        error: message,
    };
    json(status, serde_json::to_string(&body).unwrap_or_default())
}

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        // Received, whatever the verdict (which the native API shows); a repeat likewise.
        Ok(ReportOutcome::Recorded(_) | ReportOutcome::Repeated(_)) => json(
            StatusCode::OK,
            serde_json::to_string(&Status { status: "updated" }).unwrap_or_default(),
        ),
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => error(StatusCode::UNAUTHORIZED, "invalid access token"),
            Refusal::UnknownTask => error(StatusCode::NOT_FOUND, "captcha not found"),
            Refusal::WindowClosed { .. } => error(
                StatusCode::GONE,
                "captcha can no longer be reported: its report window has passed",
            ),
            Refusal::Conflict { .. } => error(
                StatusCode::CONFLICT,
                "captcha already has a different report",
            ),
            // Every type is reported here and no correction is ever sent.
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                error(StatusCode::BAD_REQUEST, &refusal.describe())
            }
        },
        Err(e) => {
            log_failure(NAME, &e);
            if is_unavailable(&e) {
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service temporarily unavailable, retry shortly",
                )
            } else {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error, retry shortly",
                )
            }
        }
    }
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    match bad {
        BadRequest::BadId => error(
            StatusCode::BAD_REQUEST,
            "invalid captcha id: it must be the integer id the captcha was submitted with",
        ),
        BadRequest::BadBody => error(
            StatusCode::BAD_REQUEST,
            "request body is not a JSON object, so access_token could not be read",
        ),
        BadRequest::NoToken => error(StatusCode::UNAUTHORIZED, "access_token is missing"),
        BadRequest::Method => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed, use POST",
        ),
    }
}

/// 429 `{"status":"error","error":…}`.
pub(super) fn throttled(throttle: &Throttle, _query: Option<&str>) -> Response {
    let seconds = throttle.retry_after_secs();
    let text = match throttle.cause {
        Cause::TooManyRequests => format!("too many requests, retry in {seconds} seconds"),
        Cause::TooManyFailedLogins => {
            format!("too many invalid tokens from this address, blocked for {seconds} seconds")
        }
    };
    error(StatusCode::TOO_MANY_REQUESTS, &text)
}
