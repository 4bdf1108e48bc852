//! Wire dialects. Each is a thin adapter in its own module: `wire.rs` turns the vendor's request
//! into a canonical [`ReportRequest`] and renders the canonical outcome back into the vendor's
//! bytes; `mod.rs` holds routes and a few lines per handler. Adapters decide nothing: every rule
//! lives in `verdict-domain`.
//!
//! Adding a dialect: a module with `NAME`, `routes()`, `wire.rs` and its registry entry
//! `DIALECT` (a [`registry::Dialect`]), one line in [`DIALECTS`], and fixtures under
//! `tests/fixtures/<name>/`. Everything else (the router, the default windows, configuration
//! checks, the parity and outage tests, the demo) reads [`DIALECTS`].

pub mod anticaptcha;
pub mod bestcaptchasolver;
pub mod capmonster;
pub mod capsolver;
pub mod captchafun;
pub mod deathbycaptcha;
pub mod decaptcha;
pub mod error_id;
pub mod feedback_task;
pub mod form;
pub mod imagetyperz;
pub mod lenient;
pub mod ninekw;
pub mod registry;
pub mod regotcha;
pub mod twocaptcha;
pub mod twocaptcha_v2;
pub mod ucaptcha;

use std::time::Duration;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use verdict_domain::ids::TaskIdError;
use verdict_domain::{Family, TaskId};
use verdict_engine::EngineError;

use crate::AppState;
use lenient::RawId;

/// Every dialect verdict speaks, the native API's reports included. The one list to add a
/// dialect to.
pub const DIALECTS: &[&registry::Dialect] = &[
    &captchafun::DIALECT,
    &decaptcha::DIALECT,
    &anticaptcha::DIALECT,
    &twocaptcha::DIALECT,
    &twocaptcha_v2::DIALECT,
    &capmonster::DIALECT,
    &ucaptcha::DIALECT,
    &capsolver::DIALECT,
    &regotcha::DIALECT,
    &deathbycaptcha::DIALECT,
    &imagetyperz::DIALECT,
    &bestcaptchasolver::DIALECT,
    &ninekw::DIALECT,
    &crate::native::DIALECT,
];

/// Every dialect's routes, all at the root paths the original services use (clients built on
/// `urljoin` drop any prefix), each behind the guard with its own throttling answer.
pub fn routes(state: &AppState) -> Router<AppState> {
    DIALECTS
        .iter()
        .copied()
        .filter_map(|d| Some((d, d.routes?)))
        .fold(Router::new(), |router, (dialect, routes)| {
            router.merge(
                routes()
                    .route_layer(axum::middleware::from_fn_with_state(
                        (state.clone(), dialect),
                        crate::guard::guard_requests,
                    ))
                    .layer(catch_panic(dialect))
                    .route_layer(axum::middleware::from_fn_with_state(
                        dialect.name,
                        crate::metrics::in_group,
                    )),
            )
        })
}

/// A handler that panics is answered as the dialect answers a failure it should retry (its
/// `unavailable` answer), not in the native API's shape; the panic is logged where it happens.
pub fn catch_panic(
    dialect: &'static registry::Dialect,
) -> tower_http::catch_panic::CatchPanicLayer<
    impl Fn(Box<dyn std::any::Any + Send + 'static>) -> Response + Clone,
> {
    tower_http::catch_panic::CatchPanicLayer::custom(move |_| {
        tracing::error!(dialect = dialect.name, "a request handler panicked");
        let (status, body) = dialect.unavailable;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let content_type = if body.starts_with('{') {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    })
}

/// Report windows that services document for themselves, beyond the per-family defaults (for
/// example anti-captcha's 60 seconds for every method, images included, and 2captcha's 15
/// minutes): (dialect, family or every family, window).
pub fn documented_windows() -> impl Iterator<Item = (&'static str, Option<Family>, Duration)> {
    DIALECTS
        .iter()
        .flat_map(|d| d.windows.iter().map(|(family, w)| (d.name, *family, *w)))
}

/// A JSON response with exactly these bytes.
pub fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Why a request body could not be read as the dialect's JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    TooLarge,
    /// Not JSON, not UTF-8, not an object, or cut short.
    NotJson,
}

/// Reads a JSON object body into a wire struct whose fields are all lenient, so that only a
/// body that is not a JSON object at all fails here.
pub fn parse_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, BodyProblem> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyProblem::TooLarge
        } else {
            BodyProblem::NotJson
        }
    })?;
    // serde maps a JSON array onto a struct field by field; a report body is an object or nothing.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(BodyProblem::NotJson);
    }
    serde_json::from_slice(&bytes).map_err(|_| BodyProblem::NotJson)
}

/// The task id a wire id means.
pub fn task_id(raw: RawId) -> Result<TaskId, TaskIdError> {
    match raw {
        RawId::Number(n) => Ok(TaskId::from_u64(n)),
        RawId::Text(text) => TaskId::parse(text.trim()),
    }
}

/// Logs an engine failure once, with its cause, where it is turned into a generic wire error.
/// Storage outages are warnings (expected, transient); anything else is an error.
pub fn log_failure(dialect: &str, error: &EngineError) {
    match error {
        EngineError::Unavailable(cause) => {
            tracing::warn!(dialect, cause = %verdict_engine::chain(cause), "storage unavailable while handling a report");
        }
        other => {
            tracing::error!(dialect, error = %verdict_engine::chain(other), "report could not be handled")
        }
    }
}

/// Whether an engine failure is worth retrying (storage down) rather than a fault of ours.
pub fn is_unavailable(error: &EngineError) -> bool {
    matches!(error, EngineError::Unavailable(_))
}

/// "24 hours", "15 minutes", "60 seconds": a window as people say it.
pub fn human_duration(ms: i64) -> String {
    let secs = ms / 1000;
    let (n, unit) = if secs >= 3600 && secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs >= 120 && secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
