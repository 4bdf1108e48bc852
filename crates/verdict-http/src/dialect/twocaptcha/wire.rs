//! 2captcha legacy's wire format: a bare token as plain text with no trailing newline (user
//! scripts compare `resp.text == 'OK_REPORT_RECORDED'`), or with `json=1`
//! `{"status":1|0,"request":"<token>"}`. Errors are HTTP 200: the official Python client treats
//! any other status as a network failure and never reads the token. The exception is a storage
//! outage, which is one: HTTP 503 with `ERROR_NO_SLOT_AVAILABLE`, so clients retry.
//!
//! Documented tokens, as used: `OK_REPORT_RECORDED`; `ERROR_DUPLICATE_REPORT` for any second
//! report (the JS client's `badReport` reads it as success); `ERROR_REPORT_NOT_RECORDED` past the
//! 15-minute window or while the account's reports are ignored; `ERROR_WRONG_CAPTCHA_ID` for an
//! unknown or foreign id; `ERROR_WRONG_ID_FORMAT` for an id that is not digits;
//! `ERROR_WRONG_USER_KEY` for a missing or malformed key, `ERROR_KEY_DOES_NOT_EXIST` for an
//! unknown one; `ERROR_EMPTY_ACTION` for a missing action — and, verdict's choice, for actions
//! other than the two report actions, which verdict does not serve. Unknown parameters
//! (`soft_id`, …) are ignored; `header_acao=1` adds `Access-Control-Allow-Origin: *`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use verdict_domain::{ApiKey, Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, ReportOutcome};

use super::NAME;
use crate::dialect::log_failure;
use crate::guard::{Cause, Throttle};

/// The parameters 2captcha reads; later sources (the form) win over earlier (the query).
#[derive(Default)]
pub(super) struct Params {
    key: Option<String>,
    action: Option<String>,
    id: Option<String>,
    json: bool,
    header_acao: bool,
}

/// Everything but the key.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("action", &self.action)
            .field("id", &self.id)
            .field("json", &self.json)
            .field("header_acao", &self.header_acao)
            .finish()
    }
}

impl Params {
    pub(super) async fn read(
        query: Option<&str>,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Params {
        let mut params = Params::default();
        if let Some(query) = query {
            params.absorb(
                serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default(),
            );
        }
        if let Some(body) = body.filter(|b| !b.is_empty()) {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if let Ok(boundary) = multer::parse_boundary(content_type) {
                params.absorb(multipart_fields(body, boundary).await);
            } else {
                params.absorb(
                    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                        .unwrap_or_default(),
                );
            }
        }
        params
    }

    fn absorb(&mut self, pairs: Vec<(String, String)>) {
        for (name, value) in pairs {
            match name.as_str() {
                "key" => self.key = Some(value),
                "action" => self.action = Some(value),
                "id" => self.id = Some(value),
                "json" => self.json = value.trim() == "1",
                "header_acao" => self.header_acao = value.trim() == "1",
                _ => {}
            }
        }
    }
}

async fn multipart_fields(body: Bytes, boundary: String) -> Vec<(String, String)> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Vec::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if let Ok(text) = field.text().await {
            fields.push((name, text));
        }
    }
    fields
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BadRequest {
    WrongUserKey,
    EmptyAction,
    WrongIdFormat,
    WrongCaptchaId,
}

pub(super) fn to_command(params: &Params) -> Result<(String, ReportRequest), BadRequest> {
    let key = params.key.as_deref().map(str::trim).unwrap_or_default();
    if ApiKey::parse(key).is_err() {
        return Err(BadRequest::WrongUserKey);
    }
    let kind = match params.action.as_deref().map(str::trim) {
        Some("reportbad") => ReportKind::Incorrect,
        Some("reportgood") => ReportKind::Correct,
        _ => return Err(BadRequest::EmptyAction),
    };
    let id = params.id.as_deref().map(str::trim).unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest::WrongIdFormat);
    }
    // Digits that are not a canonical u64 (leading zeros, too long) name no task.
    let task = TaskId::parse(id).map_err(|_| BadRequest::WrongCaptchaId)?;
    Ok((
        key.to_owned(),
        ReportRequest::new(task, kind, NAME, Eligibility::ALL),
    ))
}

#[derive(Serialize)]
struct JsonAnswer<'a> {
    status: u8,
    request: &'a str,
}

fn answer(params: &Params, status: StatusCode, token: &str) -> Response {
    let ok = u8::from(token.starts_with("OK_"));
    let (content_type, body) = if params.json {
        let body = JsonAnswer {
            status: ok,
            request: token,
        };
        (
            "application/json",
            serde_json::to_string(&body).unwrap_or_default(),
        )
    } else {
        ("text/plain; charset=utf-8", token.to_owned())
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if params.header_acao {
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    response
}

pub(super) fn render(params: &Params, result: Result<ReportOutcome, EngineError>) -> Response {
    let token = match result {
        Ok(ReportOutcome::Recorded(report)) if report.reason.is_screen_refusal() => {
            "ERROR_REPORT_NOT_RECORDED"
        }
        Ok(ReportOutcome::Recorded(_)) => "OK_REPORT_RECORDED",
        // 2captcha documents a second report of a captcha as ERROR_DUPLICATE_REPORT; the
        // report recorded first stands, and nothing is counted twice.
        Ok(ReportOutcome::Repeated(_)) => "ERROR_DUPLICATE_REPORT",
        Ok(ReportOutcome::Refused(refusal)) => match refusal {
            Refusal::UnknownKey => "ERROR_KEY_DOES_NOT_EXIST",
            Refusal::UnknownTask => "ERROR_WRONG_CAPTCHA_ID",
            Refusal::WindowClosed { .. } => "ERROR_REPORT_NOT_RECORDED",
            Refusal::Conflict { .. } => "ERROR_DUPLICATE_REPORT",
            // Every type is eligible and no correction is ever sent here.
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                "ERROR_REPORT_NOT_RECORDED"
            }
        },
        Err(e) => {
            log_failure(NAME, &e);
            return answer(
                params,
                StatusCode::SERVICE_UNAVAILABLE,
                "ERROR_NO_SLOT_AVAILABLE",
            );
        }
    };
    answer(params, StatusCode::OK, token)
}

pub(super) fn render_bad_request(params: &Params, bad: BadRequest) -> Response {
    let token = match bad {
        BadRequest::WrongUserKey => "ERROR_WRONG_USER_KEY",
        BadRequest::EmptyAction => "ERROR_EMPTY_ACTION",
        BadRequest::WrongIdFormat => "ERROR_WRONG_ID_FORMAT",
        BadRequest::WrongCaptchaId => "ERROR_WRONG_CAPTCHA_ID",
    };
    answer(params, StatusCode::OK, token)
}

/// `ERROR: 1005` (too many res.php requests) or `ERROR: 1004` (the address is banned after
/// requests with a wrong key), HTTP 200 as every answer; `json=1` from the query string chooses
/// the envelope.
pub(super) fn throttled(throttle: &Throttle, query: Option<&str>) -> Response {
    let params = Params {
        json: query.is_some_and(|q| q.split('&').any(|p| p == "json=1")),
        ..Params::default()
    };
    let token = match throttle.cause {
        Cause::TooManyRequests => "ERROR: 1005",
        Cause::TooManyFailedLogins => "ERROR: 1004",
    };
    answer(&params, StatusCode::OK, token)
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn params_never_show_the_key() {
        let params = Params {
            key: Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0".into()),
            action: Some("reportbad".into()),
            ..Params::default()
        };
        let shown = format!("{params:?}");
        assert!(!shown.contains("0f1e2d3c"), "{shown}");
        assert!(shown.contains("reportbad"), "{shown}");
    }
}
