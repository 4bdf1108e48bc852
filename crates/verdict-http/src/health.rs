//! Liveness and readiness. The listener is bound only after migrations ran, so `/healthz`
//! answering means the process is up and ready; `/readyz` also asks the database.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub storage: &'static str,
}

/// The process is up.
#[utoipa::path(get, operation_id = "healthz", path = "/healthz", tag = "health", responses((status = 200, body = Health, description = "OK")))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The process is up and its database answers.
#[utoipa::path(
    get, operation_id = "readyz", path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness, description = "OK"), (status = 503, body = Readiness, description = "Unavailable")),
)]
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let storage = app.engine.backend();
    match app.engine.ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Readiness {
                status: "ready",
                storage,
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %verdict_engine::chain(&e), "readiness probe failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "unavailable",
                    storage,
                }),
            )
        }
    }
}
