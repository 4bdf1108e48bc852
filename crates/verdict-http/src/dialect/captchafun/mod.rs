//! captcha.fun: `POST /v1/report/{id}` with the key in the `API_KEY` header and no body.
//! Seed `000_bf4d67b4b3b70dda.txt`; https://docs.captcha.fun/docs/api/report-failure

mod wire;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;

use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "captchafun";

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "captcha.fun",
    endpoints: &["POST /v1/report/{id}"],
    routes: Some(routes),
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: false,
    example: |r| {
        (r.kind == ReportKind::Incorrect)
            .then(|| WireRequest::post(format!("/v1/report/{}", r.task)).header("API_KEY", r.key))
    },
    recorded: |status, body| status == 200 && json_of(body)["message"] == wire::SUCCESS,
    throttled: wire::throttled,
    unavailable: (503, r#"{"message": "Service temporarily unavailable"}"#),
    // `{"message": "…"}` and nothing else.
    shaped: |_, body| {
        let json = json_of(body);
        json.as_object().is_some_and(|o| o.len() == 1) && json["message"].is_string()
    },
};

pub fn routes() -> Router<AppState> {
    Router::new()
        // Any id, even one with slashes in it: answered here ("invalid id"), not by the
        // service-wide 404.
        .route(
            "/v1/report/{*id}",
            post(report).fallback(|| async { wire::render_method_not_allowed() }),
        )
        .route(
            "/v1/report/",
            post(report).fallback(|| async { wire::render_method_not_allowed() }),
        )
}

/// Report Failure: the solve was wrong.
async fn report(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    match wire::to_command(id.map(|Path(id)| id), &headers) {
        Ok((key, request)) => {
            app.report(wire::throttled, None, &key, request, wire::render)
                .await
        }
        Err(bad) => wire::render_bad_request(bad),
    }
}
