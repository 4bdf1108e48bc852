//! BestCaptchaSolver (bcsapi.xyz): `POST /api/captcha/bad/{id}` with `access_token`, one endpoint
//! for every captcha type. Its documentation page could not be read; the wire format is that of
//! its official clients: bestcaptchasolverapi3 0.2 (PyPI) posts `access_token` as a form,
//! bestcaptchasolver 1.1.6 (npm, through requestify) as JSON `{"access_token": …}`, and the Go,
//! Java and C# clients as JSON too. Both are read here, and the query string as well.
//!
//! What the clients check, and so what is answered:
//! - the Python client reads the JSON body whatever the status, raises `error` when
//!   `status == "error"` and otherwise returns `status`;
//! - the npm client resolves any 2xx with the parsed body and, on any other status, rejects
//!   with `new Error(body.error)`, where requestify parses the body only when the response is
//!   labelled `application/json`;
//! - CaptchaSharp (third-party) takes a report as done only when `status == "updated"`.
//!
//! So success is HTTP 200 `{"status":"updated"}` (decided: the value CaptchaSharp expects; the
//! official clients accept any), and every error is `{"status":"error","error":"…"}` as
//! `application/json` with a 4xx status (5xx for a storage outage). The statuses and messages
//! are verdict's (docs/dialects.md): 401 for a missing or unknown token, 400 for a malformed id
//! or body, 404 for an unknown or another account's captcha, 410 past the window, 409 for a
//! captcha that already has a different report, 405 for a method other than POST. An identical
//! repeat succeeds again. No window is documented: the per-family defaults apply.

mod wire;

use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "bestcaptchasolver";

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "BestCaptchaSolver",
    endpoints: &["POST /api/captcha/bad/{id}"],
    routes: Some(routes),
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: true,
    // What bestcaptchasolverapi3's `set_captcha_bad` sends.
    example: |r| {
        (r.kind == ReportKind::Incorrect).then(|| {
            WireRequest::form(
                format!("/api/captcha/bad/{}", r.task),
                &[("access_token", r.key)],
            )
            .header("user-agent", "python3Client")
        })
    },
    recorded: |status, body| status == 200 && json_of(body)["status"] == "updated",
    throttled: wire::throttled,
    unavailable: (
        503,
        r#"{"status":"error","error":"service temporarily unavailable, retry shortly"}"#,
    ),
    // `{"status":"updated"}` with 200, or `{"status":"error","error"}` with an error status.
    shaped: |status, body| {
        let json = json_of(body);
        (status == 200 && json["status"] == "updated")
            || (status >= 400 && json["status"] == "error" && json["error"].is_string())
    },
};

pub fn routes() -> Router<AppState> {
    let method_not_allowed = || async { wire::render_bad_request(wire::BadRequest::Method) };
    Router::new()
        // Any id, even one with slashes in it, is answered here.
        .route(
            "/api/captcha/bad/{*id}",
            post(set_captcha_bad).fallback(method_not_allowed),
        )
        // What the Python client sends for an empty id.
        .route(
            "/api/captcha/bad/",
            post(|| async { wire::render_bad_request(wire::BadRequest::BadId) })
                .fallback(method_not_allowed),
        )
}

/// Set captcha bad.
async fn set_captcha_bad(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = id.ok().map(|Path(id)| id);
    match wire::to_command(id, query.as_deref(), &headers, body.ok()).await {
        Ok((token, request)) => {
            app.report(
                wire::throttled,
                query.as_deref(),
                &token,
                request,
                wire::render,
            )
            .await
        }
        Err(bad) => wire::render_bad_request(bad),
    }
}
