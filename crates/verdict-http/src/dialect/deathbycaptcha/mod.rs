//! DeathByCaptcha's HTTP API: `POST /api/captcha/{id}/report`, form-encoded, with `authtoken` or
//! `username` + `password` (or HTTP Basic). DBC's machine-readable spec
//! (deathbycaptcha/deathbycaptcha-agent-api-metadata, spec/openapi/http.yaml) and the official
//! client deathbycaptcha-official 4.7.1.
//!
//! Credentials: `authtoken` is the account's API key. `username` + `password` are the account's
//! name and API key, both checked — a platform moving DBC users over creates each account with
//! the DBC username as its name and imports the DBC password (or a new token) as its key.
//! HTTP Basic works the same way; Basic with an empty password takes the user part as the key,
//! as uCaptcha's DBC-compatible endpoint does.

mod wire;

use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;

use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::registry::{Dialect, WireRequest, json_of};
use wire::Credentials;

pub const NAME: &str = "deathbycaptcha";

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "DeathByCaptcha",
    endpoints: &["POST /api/captcha/{id}/report"],
    routes: Some(routes),
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: true,
    // The official client's login: the account's name and its key as the password.
    example: |r| {
        (r.kind == ReportKind::Incorrect).then(|| {
            WireRequest::form(
                format!("/api/captcha/{}/report", r.task),
                &[("username", r.account), ("password", r.key)],
            )
            .header("accept", "application/json")
        })
    },
    // The captcha object, `{"captcha":1006,"text":"","is_correct":false,"status":0}`.
    recorded: |status, body| {
        let json = json_of(body);
        status == 200 && json["captcha"].is_u64() && json["is_correct"] == false
    },
    throttled: wire::throttled,
    unavailable: (503, r#"{"error":"service-overload"}"#),
    // The captcha object, or `{"error"}` with a real HTTP error status.
    shaped: |status, body| {
        let json = json_of(body);
        (status == 200 && json["is_correct"] == false)
            || (status >= 400 && json["error"].is_string())
    },
};

pub fn routes() -> Router<AppState> {
    // `/api/captcha/{id}/report`, matched by hand so that any path under `/api/captcha/` (an
    // empty id, one with slashes) is answered here as an invalid captcha, not by the
    // service-wide 404; BestCaptchaSolver's `/api/captcha/bad/…` is matched before it.
    Router::new()
        .route(
            "/api/captcha/{*path}",
            post(report).fallback(|| async { wire::render_method_not_allowed() }),
        )
        .route(
            "/api/captcha/",
            post(report).fallback(|| async { wire::render_method_not_allowed() }),
        )
}

/// Report an incorrectly solved captcha.
async fn report(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = id
        .ok()
        .and_then(|Path(path): Path<String>| path.strip_suffix("/report").map(str::to_owned));
    let command = wire::to_command(id, &headers, body.ok());
    let (credentials, request) = match command {
        Ok(command) => command,
        Err(bad) => return wire::render_bad_request(bad),
    };
    let secret = match &credentials {
        Credentials::Token(key) => key,
        Credentials::Login { password, .. } => password,
    };
    if let Err(throttle) = app.guard.admit_key(secret) {
        return throttle.respond(wire::throttled, None);
    }
    let account = match &credentials {
        Credentials::Token(key) => app.authenticate(key).await,
        Credentials::Login { username, password } => {
            app.authenticate_login(username, password).await
        }
    };
    match account {
        Ok(Some(account)) => wire::render(app.engine.submit_report_for(&account, request).await),
        Ok(None) => wire::render_bad_request(wire::BadRequest::NotLoggedIn),
        Err(e) => wire::render(Err(e)),
    }
}
