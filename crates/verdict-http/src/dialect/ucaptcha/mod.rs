//! uCaptcha: `POST /feedbackTask` with `{clientKey, taskId, result{invalid, code?, message}}`.
//! Seed `004_eab805ea463ca408.txt`; https://ucaptcha.net/docs/api/ucaptcha/feedback-task

mod wire;

use axum::Router;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;

use crate::AppState;
use crate::dialect::parse_json;

pub const NAME: &str = "ucaptcha";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/feedbackTask",
        post(feedback_task).fallback(|| async { wire::render_method_not_allowed() }),
    )
}

/// feedbackTask: the solution was rejected (`invalid: true`) or accepted (`invalid: false`).
async fn feedback_task(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match wire::to_command(parse_json(body)) {
        Ok((key, request)) => wire::render(app.engine.submit_report(&key, request).await),
        Err(bad) => wire::render_bad_request(bad),
    }
}
