//! Prometheus metrics: the recorder the binary installs at start-up ([`install`]), `GET /metrics`
//! in the Prometheus text format, and the middleware that times every request by its route
//! group and status class. The engine and storage emit their own series through the `metrics`
//! facade; until a recorder is installed (in-process tests, the CLI) every emission is a no-op
//! and `/metrics` answers 404.
//!
//! Labels come from bounded sets only: route groups (each dialect, `native`, `dashboard`, …),
//! status classes. Never a path, a query string, an id, a key or an address.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::ApiError;

/// Request durations, by route group and status class: until the response's head is ready (a
/// streamed body, as the corrections export's, goes on after).
pub const REQUEST_DURATION: &str = "verdict_http_request_duration_seconds";

/// The `group` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the request-duration histogram's buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder and gives every series
/// its help text; `/metrics` serves it from then on. Once per process: a second call returns
/// the handle already installed. Call [`PrometheusHandle::run_upkeep`] now and then (the binary
/// does every few seconds) so that histogram samples between scrapes stay bounded.
pub fn install() -> Result<PrometheusHandle, InstallError> {
    // `OnceLock::get_or_try_init` is unstable; the lock keeps two first calls from racing.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(verdict_engine::metrics::BATCH_SIZE.into()),
                &verdict_engine::metrics::BATCH_BUCKETS,
            )
        })
        .map_err(|e| InstallError(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| InstallError(e.to_string()))?;
    verdict_engine::metrics::describe();
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP request durations by route group (a dialect, feedback_task, native, dashboard, health, openapi, metrics, unmatched) and status class"
    );
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// Why the recorder could not be installed (another recorder was installed first).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct InstallError(String);

/// `GET /metrics`: the Prometheus text, or 404 in a process that records no metrics.
pub(crate) async fn scrape() -> Response {
    match HANDLE.get() {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "This process records no metrics.",
        )
        .into_response(),
    }
}

/// The route group a request was routed to, filled in by [`in_group`] for [`measure`]: a
/// request's extensions do not travel back out of the router, a shared slot does.
#[derive(Debug, Clone)]
struct GroupSlot(Arc<Mutex<&'static str>>);

/// Route layer of a group's routes (`from_fn_with_state(name, in_group)`): names the group the
/// request's latency is recorded under. Outside the group's other route layers, so that a
/// request they answer early (throttled, refused) is counted in its group too. Nested, the
/// innermost names it: routes several dialects share name their own group inside the one
/// their registry entry gives them.
pub(crate) async fn in_group(
    State(group): State<&'static str>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(slot) = request.extensions().get::<GroupSlot>() {
        *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = group;
    }
    next.run(request).await
}

/// Times each request and records it by route group and status class. Outside the router and
/// its panic handler, so that unmatched requests and panics are counted too.
pub(crate) async fn measure(mut request: Request, next: Next) -> Response {
    let slot = GroupSlot(Arc::new(Mutex::new(UNMATCHED)));
    request.extensions_mut().insert(slot.clone());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let group = *slot.0.lock().unwrap_or_else(|e| e.into_inner());
    metrics::histogram!(
        REQUEST_DURATION,
        "group" => group,
        "status" => status_class(response.status()),
    )
    .record(elapsed);
    response
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_in_their_classes() {
        assert_eq!(status_class(StatusCode::OK), "2xx");
        assert_eq!(status_class(StatusCode::TOO_MANY_REQUESTS), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
        assert_eq!(status_class(StatusCode::SWITCHING_PROTOCOLS), "1xx");
    }
}
