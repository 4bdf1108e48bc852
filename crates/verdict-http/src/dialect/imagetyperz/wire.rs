//! ImageTyperz's wire format: plain text, `SUCCESS` or `ERROR: <TOKEN>` with no trailing newline.
//! The official clients test `'ERROR:' in text` and raise the text after it; they never look at
//! the status. Documented tokens, as used: `AUTHENTICATION_FAILED` (unknown token, or a username
//! and password that are not an account's), `INVALID_REQUEST` (no `action=SETBADIMAGE`, or a
//! method other than GET and POST), `INVALID_USERNAME` / `INVALID_PASSWORD` (not provided),
//! `INVALID_IMAGE_ID` (not provided, not an integer, no such captcha or another account's),
//! `LIMIT_EXCEED` (overloaded: storage unavailable).

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use verdict_domain::{Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::form::Fields;
use crate::dialect::{is_unavailable, log_failure};
use crate::guard::{Cause, Throttle};

pub(super) const SUCCESS: &str = "SUCCESS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadRequest {
    AuthenticationFailed,
    InvalidRequest,
    InvalidUsername,
    InvalidPassword,
    InvalidImageId,
}

/// `SetBadImageToken.ashx`: the token and the report.
pub(super) fn token_command(
    method: &Method,
    fields: &Fields,
) -> Result<(String, ReportRequest), BadRequest> {
    let token = fields
        .get("token")
        .ok_or(BadRequest::AuthenticationFailed)?;
    Ok((token.to_owned(), report(method, fields)?))
}

/// `SetBadImage.ashx`: username, password and the report.
pub(super) fn login_command<'f>(
    method: &Method,
    fields: &'f Fields,
) -> Result<(&'f str, &'f str, ReportRequest), BadRequest> {
    let username = fields.get("username").ok_or(BadRequest::InvalidUsername)?;
    let password = fields.get("password").ok_or(BadRequest::InvalidPassword)?;
    Ok((username, password, report(method, fields)?))
}

fn report(method: &Method, fields: &Fields) -> Result<ReportRequest, BadRequest> {
    if !(method == Method::POST || method == Method::GET)
        || !fields
            .get("action")
            .is_some_and(|a| a.eq_ignore_ascii_case("SETBADIMAGE"))
    {
        return Err(BadRequest::InvalidRequest);
    }
    let id = fields.get("imageid").ok_or(BadRequest::InvalidImageId)?;
    // Captcha ids are integers (`123|polum`); digits that are not a canonical id name no task.
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest::InvalidImageId);
    }
    let task = TaskId::parse(id).map_err(|_| BadRequest::InvalidImageId)?;
    Ok(ReportRequest::new(
        task,
        ReportKind::Incorrect,
        NAME,
        Eligibility::ALL,
    ))
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_owned(),
    )
        .into_response()
}

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    let body = match result {
        // Received, whatever the verdict: ImageTyperz answers on receipt; the verdict and its
        // reason are in the native API. A repeat of the same report is answered the same way.
        Ok(ReportOutcome::Recorded(_) | ReportOutcome::Repeated(_)) => SUCCESS,
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => "ERROR: AUTHENTICATION_FAILED",
            Refusal::UnknownTask => "ERROR: INVALID_IMAGE_ID",
            Refusal::WindowClosed { .. } => "ERROR: REPORT_WINDOW_EXPIRED",
            Refusal::Conflict { .. } => "ERROR: ALREADY_REPORTED",
            // Every type is reported here and no correction is ever sent.
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                "ERROR: INVALID_IMAGE_ID"
            }
        },
        Err(e) => {
            log_failure(NAME, &e);
            let status = if is_unavailable(&e) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            return text(status, "ERROR: LIMIT_EXCEED");
        }
    };
    text(StatusCode::OK, body)
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    let body = match bad {
        BadRequest::AuthenticationFailed => "ERROR: AUTHENTICATION_FAILED",
        BadRequest::InvalidRequest => "ERROR: INVALID_REQUEST",
        BadRequest::InvalidUsername => "ERROR: INVALID_USERNAME",
        BadRequest::InvalidPassword => "ERROR: INVALID_PASSWORD",
        BadRequest::InvalidImageId => "ERROR: INVALID_IMAGE_ID",
    };
    text(StatusCode::OK, body)
}

/// 429 with an `ERROR:` token (verdict's, in ImageTyperz's style; its clients read any
/// `ERROR:` as a failure).
pub(super) fn throttled(throttle: &Throttle, _query: Option<&str>) -> Response {
    let token = match throttle.cause {
        Cause::TooManyRequests => "ERROR: TOO_MANY_REQUESTS",
        Cause::TooManyFailedLogins => "ERROR: IP_BLOCKED",
    };
    text(StatusCode::TOO_MANY_REQUESTS, token)
}
