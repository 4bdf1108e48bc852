//! captcha.fun: `POST /v1/report/{id}` with the key in the `API_KEY` header and no body.
//! Seed `000_bf4d67b4b3b70dda.txt`; https://docs.captcha.fun/docs/api/report-failure

mod wire;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;

use crate::AppState;

pub const NAME: &str = "captchafun";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/report/{id}",
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
        Ok((key, request)) => wire::render(app.engine.submit_report(&key, request).await),
        Err(bad) => wire::render_bad_request(bad),
    }
}
