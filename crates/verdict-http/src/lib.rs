//! verdict's HTTP surface: every wire dialect (`dialect/<vendor>/`), the native API
//! (`native/`), the dashboard (`dashboard/`), health probes, `/metrics`, and the app that puts
//! them on one port. Handlers translate and delegate to the engine; nothing here decides a
//! report.

pub mod dashboard;
mod deadline;
pub mod dialect;
pub mod error;
pub mod guard;
mod health;
pub mod metrics;
pub mod native;
pub mod request_id;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use verdict_domain::KeyHash;
use verdict_engine::Engine;

pub use error::{ApiError, ErrorBody};

/// Request body limits, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Report requests: a few hundred bytes in practice.
    pub report_body: usize,
    /// Task ingest batches.
    pub ingest_body: usize,
    /// How long a report's whole body, or the gap between two pieces of an ingest batch, may
    /// take to arrive.
    pub body_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            report_body: 64 * 1024,
            ingest_body: 256 * 1024 * 1024,
            body_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Hash of the operator's admin token.
    pub admin: KeyHash,
    pub limits: Limits,
    /// Rate limits and failed-login blocks (`guard.rs`).
    pub guard: std::sync::Arc<guard::Guard>,
}

/// The judging policy with the report windows the dialects' services document; configuration
/// is applied on top.
pub fn default_policy() -> verdict_domain::Policy {
    let mut policy = verdict_domain::Policy::default();
    for (dialect, family, window) in dialect::documented_windows() {
        policy.windows.set_dialect(dialect, family, window);
    }
    policy
}

/// The native API's OpenAPI document (`/openapi.json`), as the router serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented(native::routes(Limits::default()))
        .split_for_parts()
        .1
}

/// The native API's routes and the probes, with the document describing them.
fn documented(
    native: utoipa_axum::router::OpenApiRouter<AppState>,
) -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    utoipa_axum::router::OpenApiRouter::with_openapi(native::ApiDoc::openapi())
        .merge(native)
        .merge(
            health::routes().route_layer(axum::middleware::from_fn_with_state(
                "health",
                metrics::in_group,
            )),
        )
}

/// The whole service on one router.
pub fn app(state: AppState) -> Router {
    let limits = state.limits;
    let guarded = native::routes(limits)
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), &native::DIALECT),
            guard::guard_requests,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            native::DIALECT.name,
            metrics::in_group,
        ));
    // The operator's: the series tell refund amounts and abuse flags to whoever asks, and this
    // port faces clients. Prometheus sends the token (`authorization: credentials_file`).
    let scrape = Router::new()
        .route(
            "/metrics",
            axum::routing::get(|_: native::Admin| metrics::scrape()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), &native::DIALECT),
            guard::guard_requests,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            "metrics",
            metrics::in_group,
        ));
    let (api, document) = documented(guarded).split_for_parts();
    let dashboard = dashboard::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), &native::DIALECT),
            guard::guard_requests,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            "dashboard",
            metrics::in_group,
        ));
    let document = std::sync::Arc::new(document.to_json().unwrap_or_default());
    Router::new()
        .merge(
            dialect::routes(&state)
                .layer(DefaultBodyLimit::max(limits.report_body))
                .layer(axum::middleware::from_fn(move |r, n| {
                    deadline::body_deadline(limits.body_timeout, r, n)
                })),
        )
        .merge(api)
        .merge(dashboard)
        .merge(scrape)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document.as_str().to_owned(),
                    )
                }
            })
            .route_layer(axum::middleware::from_fn_with_state(
                "openapi",
                metrics::in_group,
            )),
        )
        .fallback(fallback)
        .with_state(state)
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal().into_response()
        }))
        .layer(axum::middleware::from_fn(metrics::measure))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // The path only: query strings can carry API keys (2captcha's res.php?key=…).
                let id = req
                    .extensions()
                    .get::<RequestId>()
                    .and_then(|id| id.header_value().to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %id,
                )
            }),
        )
        // From the outside in: an insane incoming id is dropped, a missing one made (so the span
        // above has one), and the id echoed in the response.
        .layer(PropagateRequestIdLayer::new(request_id::X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(
            request_id::X_REQUEST_ID,
            MakeRequestUuid,
        ))
        .layer(axum::middleware::from_fn(request_id::drop_insane))
}

/// No route: a POST to a one-segment path is an anti-captcha-style method call we do not serve,
/// and gets that dialect's "no such method"; anything else a native JSON 404.
async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let one_segment = path.len() > 1 && !path[1..].contains('/');
    if method == Method::POST && one_segment && path[1..].bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return dialect::error_id::no_such_method();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("No route for {method} {path}."),
    )
    .into_response()
}
