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

use verdict_domain::ReportKind;

use crate::AppState;
use crate::dialect::parse_json;
use crate::dialect::registry::{Dialect, WireRequest, has_keys, json_of};

pub const NAME: &str = "decaptcha";

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "decaptcha.net (the text/audio Reporting API)",
    endpoints: &["POST /api/report"],
    routes: Some(routes),
    windows: &[],
    families: wire::TEXT_AND_AUDIO,
    integer_ids: false,
    example: |r| {
        (r.kind == ReportKind::Incorrect).then(|| {
            WireRequest::json(
                "/api/report".into(),
                &serde_json::json!({ "captchaGUID": r.task }),
            )
            .header("x-api-key", r.key)
        })
    },
    recorded: |status, body| {
        let json = json_of(body);
        status == 200 && json["isSuccess"] == true && json["statusCode"] == 200
    },
    throttled: wire::throttled,
    unavailable: (
        503,
        r#"{"isSuccess":false,"statusCode":503,"errorMessage":"Service temporarily unavailable.","data":null}"#,
    ),
    // All four envelope fields, the status mirrored in `statusCode`.
    shaped: |status, body| {
        let json = json_of(body);
        has_keys(&json, &["isSuccess", "statusCode", "errorMessage", "data"])
            && json["statusCode"].as_u64() == Some(u64::from(status))
    },
};

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
        Ok((key, request)) => {
            app.report(wire::throttled, None, &key, request, wire::render)
                .await
        }
        Err(bad) => wire::render_bad_request(bad),
    }
}
