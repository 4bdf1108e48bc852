//! 9kw.eu: `GET` or `POST /index.cgi?action=usercaptchacorrectback&apikey=…&id=…&correct=1|2|3`,
//! plain text by default, JSON with `json=1`. One endpoint for every captcha type.
//! Sources: https://www.9kw.eu/api.html (only its beginning could be read) and
//! https://www.9kw.eu/faq.html; the clients that call it: JDownloader's 9kw solver (`correct`
//! 1, 2 or 3, success when the text starts with `OK`, retried on anything else), pyLoad's 9kw
//! hook (GET, one version POST, `apikey` and `api_key`, success when the text is `OK`), py9kw
//! (`json=1`, errors as `"NNNN German. / English."` in `error`) and CaptchaSharp (`json=1`, a
//! failure is a non-empty `error`).
//!
//! `correct`: 1 the solution was right, 2 it was wrong (refund), 3 the captcha was not used.
//! "Not used" says nothing about the solution, so verdict records no report for it and
//! answers `OK` once the key is known (verdict's choice).
//!
//! Decided here, since no source shows it (also in docs/dialects.md): `0001` for a missing or
//! unknown key, `0007` for a missing or malformed id, `0008` for an unknown, another account's
//! or expired captcha, `0006` for a missing or unknown `correct` or `action`, and `0012
//! Bereits erledigt. / Already done.` (the one code a source shows) for a captcha that already
//! has a different report; the texts are verdict's in 9kw's two-language style. An identical
//! repeat answers `OK` again (the clients retry until they see it). A storage outage is HTTP
//! 503 `0000 …` (JDownloader retries on it). The JSON success is
//! `{"message":"OK","status":{"success":true,"https":1}}`, the shape py9kw's comment shows;
//! errors `{"error":"…","status":{"success":false,"https":1}}`. Every other answer is HTTP 200.
//! No window is documented: the per-family defaults apply.

mod wire;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::form::Fields;
use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "9kw";

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "9kw.eu",
    endpoints: &["GET|POST /index.cgi?action=usercaptchacorrectback"],
    routes: Some(routes),
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: true,
    // What JDownloader sends.
    example: |r| {
        let correct = match r.kind {
            ReportKind::Correct => 1,
            ReportKind::Incorrect => 2,
        };
        Some(WireRequest::get(format!(
            "/index.cgi?action=usercaptchacorrectback&source=jd2&correct={correct}&id={}&apikey={}",
            r.task, r.key
        )))
    },
    recorded: |status, body| status == 200 && body == "OK",
    throttled: wire::throttled,
    unavailable: (
        503,
        "0000 Vorübergehend nicht verfügbar. / Temporarily unavailable.",
    ),
    // `OK` or `NNNN text`, bare or in the json=1 envelope.
    shaped: |_, body| {
        let json = json_of(body);
        let text = json["message"]
            .as_str()
            .or_else(|| json["error"].as_str())
            .unwrap_or(body);
        let coded = text.len() > 5
            && text.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && text.as_bytes()[4] == b' ';
        (text == "OK" || coded) && !text.contains('\n')
    },
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/index.cgi", any(usercaptchacorrectback))
}

/// Feedback on a solved captcha (`action=usercaptchacorrectback`).
async fn usercaptchacorrectback(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fields = Fields::read(query.as_deref(), &headers, body.ok()).await;
    let json = fields.get("json") == Some("1");
    match wire::to_command(&method, &fields) {
        Ok(wire::Command::Report(key, request)) => {
            let render = |result| wire::render(json, result);
            app.report(wire::throttled, query.as_deref(), &key, request, render)
                .await
        }
        Ok(wire::Command::NotUsed(key)) => match app.guard.admit_key(&key) {
            Ok(()) => wire::render_not_used(json, app.authenticate(&key).await),
            Err(throttle) => throttle.respond(wire::throttled, query.as_deref()),
        },
        Err(bad) => wire::render_bad_request(json, bad),
    }
}
