//! Liveness and readiness. The listener is bound only after migrations ran, so `/healthz`
//! answering means the process is up and ready; `/readyz` also asks the database.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, response::IntoResponse};
use serde_json::json;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
}

async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match app.engine.ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "storage": app.engine.backend() })),
        ),
        Err(e) => {
            tracing::warn!(error = %verdict_engine::chain(&e), "readiness probe failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "storage": app.engine.backend() })),
            )
        }
    }
}
