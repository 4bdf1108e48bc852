//! DeathByCaptcha's wire format. Success is the captcha object, `{"captcha": <id>, "text": …,
//! "is_correct": false, "status": 0}` — the official client returns `not is_correct`, so a reply
//! without `is_correct` would read as success: every error therefore has a real HTTP status.
//! The client maps 403 to AccessDeniedException ("check your credentials"), 400 to ValueError,
//! 503 to OverflowError ("service overload, try again later"); verdict uses exactly those.
//! Error bodies are DBC's `{"error": "…"}`; the strings are DBC's where it has one
//! (`not-logged-in`, `service-overload`) and verdict's in the same style otherwise. An identical
//! repeat gets the first answer; `text` is empty (the report is what is being answered).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use verdict_domain::{Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::{is_unavailable, json, log_failure};
use crate::guard::{Cause, Throttle};

pub(super) enum Credentials {
    Token(String),
    Login { username: String, password: String },
}

/// Names who is logging in, never with what.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
            Credentials::Login { username, .. } => f
                .debug_struct("Login")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadRequest {
    BadId,
    NotLoggedIn,
}

pub(super) fn to_command(
    id: Option<String>,
    headers: &HeaderMap,
    body: Option<Bytes>,
) -> Result<(Credentials, ReportRequest), BadRequest> {
    let id = id.ok_or(BadRequest::BadId)?;
    // DBC ids are integers (the official client formats them with %d).
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest::BadId);
    }
    let task = TaskId::parse(&id).map_err(|_| BadRequest::BadId)?;
    let credentials =
        credentials(headers, body.as_deref().unwrap_or_default()).ok_or(BadRequest::NotLoggedIn)?;
    Ok((
        credentials,
        ReportRequest::new(task, ReportKind::Incorrect, NAME, Eligibility::ALL),
    ))
}

fn credentials(headers: &HeaderMap, body: &[u8]) -> Option<Credentials> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = field("authtoken") {
        return Some(Credentials::Token(token));
    }
    if let (Some(username), Some(password)) = (field("username"), field("password")) {
        return Some(Credentials::Login { username, password });
    }
    let basic = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let (user, pass) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    if pass.is_empty() {
        Some(Credentials::Token(user))
    } else {
        Some(Credentials::Login {
            username: user,
            password: pass,
        })
    }
}

#[derive(Serialize)]
struct CaptchaObject<'a> {
    captcha: u64,
    text: &'a str,
    is_correct: bool,
    status: u8,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

fn error(status: StatusCode, text: &str) -> Response {
    json(
        status,
        serde_json::to_string(&ErrorBody { error: text }).unwrap_or_default(),
    )
}

pub(super) fn render(result: Result<ReportOutcome, EngineError>) -> Response {
    match result {
        Ok(ReportOutcome::Recorded(report) | ReportOutcome::Repeated(report)) => {
            let body = CaptchaObject {
                captcha: report.task.as_u64().unwrap_or_default(),
                text: "",
                is_correct: false,
                status: 0,
            };
            json(
                StatusCode::OK,
                serde_json::to_string(&body).unwrap_or_default(),
            )
        }
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => error(StatusCode::FORBIDDEN, "not-logged-in"),
            Refusal::UnknownTask => error(StatusCode::BAD_REQUEST, "invalid-captcha"),
            Refusal::WindowClosed { .. } => error(StatusCode::BAD_REQUEST, "report-window-expired"),
            Refusal::Conflict { .. } => error(StatusCode::BAD_REQUEST, "already-reported"),
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                error(StatusCode::BAD_REQUEST, "invalid-captcha")
            }
        },
        Err(e) => {
            log_failure(NAME, &e);
            if is_unavailable(&e) {
                error(StatusCode::SERVICE_UNAVAILABLE, "service-overload")
            } else {
                error(StatusCode::INTERNAL_SERVER_ERROR, "internal-error")
            }
        }
    }
}

pub(super) fn render_bad_request(bad: BadRequest) -> Response {
    match bad {
        BadRequest::BadId => error(StatusCode::BAD_REQUEST, "invalid-captcha-id"),
        BadRequest::NotLoggedIn => error(StatusCode::FORBIDDEN, "not-logged-in"),
    }
}

pub(super) fn render_method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed")
}

/// Over the rate: 503 `service-overload`, which the official client raises as OverflowError
/// ("service overload, try again later"). Blocked after wrong logins: 403, its
/// AccessDeniedException ("check your credentials").
pub(super) fn throttled(throttle: &Throttle, _query: Option<&str>) -> Response {
    match throttle.cause {
        Cause::TooManyRequests => error(StatusCode::SERVICE_UNAVAILABLE, "service-overload"),
        Cause::TooManyFailedLogins => error(StatusCode::FORBIDDEN, "banned"),
    }
}

#[cfg(test)]
mod tests {
    use super::Credentials;

    #[test]
    fn credentials_never_show_the_secret() {
        let token = format!("{:?}", Credentials::Token("s3cret-token-value".into()));
        let login = format!(
            "{:?}",
            Credentials::Login {
                username: "alice".into(),
                password: "s3cret-password-value".into()
            }
        );
        assert!(!token.contains("s3cret"), "{token}");
        assert!(
            !login.contains("s3cret") && login.contains("alice"),
            "{login}"
        );
    }
}
