//! 9kw's wire format: `OK`, or an error `NNNN German text. / English text.`; with `json=1` the
//! same inside `{"message":"OK","status":{…}}` or `{"error":"…","status":{…}}`.

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use verdict_domain::{Account, Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::form::Fields;
use crate::dialect::{is_unavailable, log_failure};
use crate::guard::{Cause, Throttle};

const OK: &str = "OK";
const NO_KEY: &str = "0001 API-Key existiert nicht. / API key doesn't exist.";
const NO_DATA: &str =
    "0006 Keine gültigen Daten (action, correct). / No valid data (action, correct).";
const NO_ID: &str = "0007 Keine ID gefunden. / No ID found.";
const NO_CAPTCHA: &str = "0008 Kein Captcha gefunden. / No captcha found.";
const ALREADY_DONE: &str = "0012 Bereits erledigt. / Already done.";
const UNAVAILABLE: &str = "0000 Vorübergehend nicht verfügbar. / Temporarily unavailable.";
const INTERNAL: &str = "0000 Interner Fehler. / Internal error.";
const TOO_MANY: &str = "0024 Zu viele Anfragen. / Too many requests.";
const BLOCKED: &str = "0025 IP gesperrt. / IP blocked.";

pub(super) enum Command {
    /// Feedback on the solution (`correct` 1 or 2).
    Report(String, ReportRequest),
    /// `correct=3`: the captcha was not used; only the key is checked.
    NotUsed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What is missing or malformed: the key, `action` or `correct`, the id.
pub(super) enum BadRequest {
    Key,
    Data,
    Id,
}

pub(super) fn to_command(method: &Method, fields: &Fields) -> Result<Command, BadRequest> {
    let key = fields
        .get("apikey")
        .or_else(|| fields.get("api_key"))
        .ok_or(BadRequest::Key)?;
    if !(method == Method::GET || method == Method::POST)
        || fields.get("action") != Some("usercaptchacorrectback")
    {
        return Err(BadRequest::Data);
    }
    let kind = match fields.get("correct") {
        Some("1") => ReportKind::Correct,
        Some("2") => ReportKind::Incorrect,
        Some("3") => return Ok(Command::NotUsed(key.to_owned())),
        _ => return Err(BadRequest::Data),
    };
    let id = fields.get("id").ok_or(BadRequest::Id)?;
    // Captcha ids are integers (py9kw casts them with int()).
    if !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest::Id);
    }
    let task = TaskId::parse(id).map_err(|_| BadRequest::Id)?;
    Ok(Command::Report(
        key.to_owned(),
        ReportRequest::new(task, kind, NAME, Eligibility::ALL),
    ))
}

#[derive(Serialize)]
struct Status {
    success: bool,
    https: u8,
}

#[derive(Serialize)]
struct Success {
    message: &'static str,
    status: Status,
}

#[derive(Serialize)]
struct Failure {
    error: &'static str,
    status: Status,
}

fn answer(json: bool, status: StatusCode, text: &'static str) -> Response {
    let ok = text == OK;
    let (content_type, body) = if json {
        let status = Status {
            success: ok,
            https: 1,
        };
        let body = if ok {
            serde_json::to_string(&Success {
                message: text,
                status,
            })
        } else {
            serde_json::to_string(&Failure {
                error: text,
                status,
            })
        };
        ("application/json", body.unwrap_or_default())
    } else {
        ("text/plain; charset=utf-8", text.to_owned())
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

pub(super) fn render(json: bool, result: Result<ReportOutcome, EngineError>) -> Response {
    let text = match result {
        // Received, whatever the verdict (the native API shows it); an identical repeat too.
        Ok(ReportOutcome::Recorded(_) | ReportOutcome::Repeated(_)) => OK,
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => NO_KEY,
            Refusal::UnknownTask | Refusal::WindowClosed { .. } => NO_CAPTCHA,
            Refusal::Conflict { .. } => ALREADY_DONE,
            // Every type is reported here and no correction is ever sent.
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => NO_CAPTCHA,
        },
        Err(e) => return failed(json, &e),
    };
    answer(json, StatusCode::OK, text)
}

/// `correct=3`: `OK` for a known key.
pub(super) fn render_not_used(
    json: bool,
    account: Result<Option<Account>, EngineError>,
) -> Response {
    match account {
        Ok(Some(_)) => answer(json, StatusCode::OK, OK),
        Ok(None) => answer(json, StatusCode::OK, NO_KEY),
        Err(e) => failed(json, &e),
    }
}

fn failed(json: bool, e: &EngineError) -> Response {
    log_failure(NAME, e);
    if is_unavailable(e) {
        answer(json, StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
    } else {
        answer(json, StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)
    }
}

pub(super) fn render_bad_request(json: bool, bad: BadRequest) -> Response {
    let text = match bad {
        BadRequest::Key => NO_KEY,
        BadRequest::Data => NO_DATA,
        BadRequest::Id => NO_ID,
    };
    answer(json, StatusCode::OK, text)
}

/// 429 with a code in 9kw's style (`json=1` from the query string chooses the envelope).
pub(super) fn throttled(throttle: &Throttle, query: Option<&str>) -> Response {
    let json = query.is_some_and(|q| q.split('&').any(|p| p == "json=1"));
    let text = match throttle.cause {
        Cause::TooManyRequests => TOO_MANY,
        Cause::TooManyFailedLogins => BLOCKED,
    };
    answer(json, StatusCode::TOO_MANY_REQUESTS, text)
}
