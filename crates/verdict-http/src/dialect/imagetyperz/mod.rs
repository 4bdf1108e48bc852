//! ImageTyperz (captchatypers.com): "Set captcha bad", one endpoint for every captcha type.
//! `POST /Forms/SetBadImageToken.ashx` with the form `token`, `imageid`, `action=SETBADIMAGE`,
//! and `POST /Forms/SetBadImage.ashx` with `username` and `password` instead of `token`.
//! Official documentation: imagetyperz-api/API-docs README ("Other > Set captcha bad", "Errors");
//! official clients imagetyperzapi3 0.5 (PyPI) and imagetyperz-api (npm), which also send
//! `submit=Submissssst` (ignored here, as every unknown field is).
//!
//! Credentials: `token` is the account's API key. `username` + `password` are the account's name
//! and API key, both checked, as for DeathByCaptcha's login.
//!
//! Decided here, since the documentation is silent (also in docs/dialects.md):
//! - parameters are read from the query string and the form alike (an ASP.NET handler's
//!   `Request[name]` reads both); GET and POST are served, other methods get
//!   `ERROR: INVALID_REQUEST`;
//! - no report window is documented: the per-family defaults apply;
//! - a repeat of the same report answers `SUCCESS` again (nothing counted twice);
//! - past the window `ERROR: REPORT_WINDOW_EXPIRED`, and for a task that already has a different
//!   report `ERROR: ALREADY_REPORTED`: verdict's tokens in ImageTyperz's `ERROR: ` style, which
//!   every client raises on without reading further;
//! - a storage outage is HTTP 503 `ERROR: LIMIT_EXCEED`, ImageTyperz's documented
//!   "server is overloaded" token; documented errors are HTTP 200, like every other answer.

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
use crate::dialect::registry::{Dialect, WireRequest};

pub const NAME: &str = "imagetyperz";

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "ImageTyperz",
    endpoints: &[
        "POST /Forms/SetBadImageToken.ashx",
        "POST /Forms/SetBadImage.ashx",
    ],
    routes: Some(routes),
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: true,
    // What imagetyperzapi3's `set_captcha_bad` sends with an access token.
    example: |r| {
        (r.kind == ReportKind::Incorrect).then(|| {
            WireRequest::form(
                "/Forms/SetBadImageToken.ashx".into(),
                &[
                    ("action", "SETBADIMAGE"),
                    ("imageid", r.task),
                    ("submit", "Submissssst"),
                    ("token", r.key),
                ],
            )
        })
    },
    recorded: |status, body| status == 200 && body == wire::SUCCESS,
    throttled: wire::throttled,
    unavailable: (503, "ERROR: LIMIT_EXCEED"),
    // `SUCCESS` or `ERROR: <TOKEN>`, one line.
    shaped: |_, body| {
        (body == wire::SUCCESS || body.starts_with("ERROR: ")) && !body.contains('\n')
    },
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Forms/SetBadImageToken.ashx", any(set_bad_image_token))
        .route("/Forms/SetBadImage.ashx", any(set_bad_image))
}

/// Set captcha bad, with an access token.
async fn set_bad_image_token(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fields = Fields::read(query.as_deref(), &headers, body.ok()).await;
    match wire::token_command(&method, &fields) {
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

/// Set captcha bad, with a username and password.
async fn set_bad_image(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fields = Fields::read(query.as_deref(), &headers, body.ok()).await;
    let (username, password, request) = match wire::login_command(&method, &fields) {
        Ok(command) => command,
        Err(bad) => return wire::render_bad_request(bad),
    };
    if let Err(throttle) = app.guard.admit_key(password) {
        return throttle.respond(wire::throttled, query.as_deref());
    }
    match app.authenticate_login(username, password).await {
        Ok(Some(account)) => wire::render(app.engine.submit_report_for(&account, request).await),
        Ok(None) => wire::render_bad_request(wire::BadRequest::AuthenticationFailed),
        Err(e) => wire::render(Err(e)),
    }
}
