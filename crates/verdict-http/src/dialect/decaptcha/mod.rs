//! The text/audio "Reporting API" (decaptcha.net): `POST /api/report` with `x-api-key` and
//! `{captchaGUID, correction?}`. Seed `001_c650fde4751c8a1c.txt`; https://decaptcha.net/api/report

mod wire;

use axum::Router;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;

use crate::AppState;
use crate::dialect::parse_json;

pub const NAME: &str = "decaptcha";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/report",
        post(report).fallback(|| async { wire::render_method_not_allowed() }),
    )
}

/// Report an incorrect prediction, optionally with the correct text.
async fn report(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match wire::to_command(&headers, parse_json(body)) {
        Ok((key, request)) => wire::render(app.engine.submit_report(&key, request).await),
        Err(bad) => wire::render_bad_request(bad),
    }
}
