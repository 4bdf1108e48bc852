//! The native API (SPEC §4): accounts, task ingest, task inspection, reports. A stable contract
//! that tools, the dashboard and tests depend on.

mod auth;
mod extract;
mod ingest;
mod keys;
mod operator;
mod rechecks;
mod scores;
pub use ingest::parse_batch;
pub mod views;

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use tower_http::timeout::RequestBodyTimeoutLayer;
use verdict_domain::{AccountId, ApiKey, Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::ReportOutcome;

use crate::dialect::lenient::{Field, Loose, RawId, SecretText, Text};
use crate::dialect::{BodyProblem, parse_json, task_id};
use crate::{ApiError, AppState, Limits};
pub use auth::{Admin, Caller, Client};
use extract::Path;
pub use keys::KeyView;

pub const NAME: &str = "native";

/// The registry's entry for reports made through `POST /v1/reports` (its routes are the native
/// API's, mounted with the rest of it).
pub const DIALECT: crate::dialect::registry::Dialect = crate::dialect::registry::Dialect {
    name: NAME,
    service: "verdict's native API",
    endpoints: &["POST /v1/reports"],
    routes: None,
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: false,
    example: |r| {
        Some(
            crate::dialect::registry::WireRequest::json(
                "/v1/reports".into(),
                &json!({ "task": r.task, "kind": r.kind.as_str() }),
            )
            .header("authorization", format!("Bearer {}", r.key)),
        )
    },
    recorded: |status, _| status == 201,
    throttled: |throttle, _| throttled(throttle).into_response(),
    unavailable: (
        503,
        r#"{"error":{"code":"unavailable","message":"Storage is temporarily unavailable; retry shortly."}}"#,
    ),
    shaped: |status, body| {
        (200..300).contains(&status)
            || crate::dialect::registry::json_of(body)["error"]["code"].is_string()
    },
};

pub fn routes(limits: Limits) -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", post(create_account))
        .route(
            "/v1/accounts/{id}",
            get(account).patch(operator::patch_account),
        )
        .route(
            "/v1/accounts/{id}/standing",
            axum::routing::put(operator::put_standing),
        )
        .route("/v1/accounts/{id}/ledger", get(ledger))
        .route("/v1/accounts/{id}/keys", get(keys::list).post(keys::add))
        .route("/v1/accounts/{id}/keys/rotate", post(keys::rotate))
        .route(
            "/v1/accounts/{id}/keys/{key}",
            axum::routing::delete(keys::revoke),
        )
        .route("/v1/cohort", get(operator::cohort))
        .route("/v1/providers", get(scores::providers))
        .route("/v1/route", post(scores::route))
        .route("/v1/workers/{id}", get(scores::worker))
        .route("/v1/rechecks/next", get(rechecks::next))
        .route("/v1/rechecks/{task}", post(rechecks::answer))
        .route("/v1/reports", post(report))
        .route("/v1/tasks/{id}", get(task))
        .layer(DefaultBodyLimit::max(limits.report_body))
        .layer(axum::middleware::from_fn(move |r, n| {
            crate::deadline::body_deadline(limits.body_timeout, r, n)
        }))
        // The ingest handler reads its body as a stream and counts it against
        // `limits.ingest_body` itself; a batch may take long to arrive, but never stall.
        .route(
            "/v1/tasks",
            post(ingest::ingest).layer(RequestBodyTimeoutLayer::new(limits.body_timeout)),
        )
}

/// 429 with the throttle's cause and wait (`Throttle::respond` adds `Retry-After`).
pub(crate) fn throttled(throttle: &crate::guard::Throttle) -> ApiError {
    let seconds = throttle.retry_after_secs();
    let (code, message) = match throttle.cause {
        crate::guard::Cause::TooManyRequests => (
            "rate_limited",
            format!("Too many requests; retry in {seconds} seconds."),
        ),
        crate::guard::Cause::TooManyFailedLogins => (
            "blocked",
            format!(
                "Too many requests with wrong credentials from this address; blocked for {seconds} seconds."
            ),
        ),
    };
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        .with_details(json!({ "retry_after_s": seconds }))
        .with_retry_after(seconds)
}

fn body_error(problem: BodyProblem) -> ApiError {
    match problem {
        BodyProblem::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The request body is larger than this server accepts.",
        ),
        BodyProblem::NotJson => ApiError::bad_request("The request body must be a JSON object."),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
}

fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(raw).ok_or_else(|| ApiError::not_found("account"))
}

#[derive(Debug, Deserialize)]
struct NewAccountBody {
    #[serde(default)]
    name: Field<Text>,
    #[serde(default)]
    trusted: Field<crate::dialect::lenient::Flag>,
    #[serde(default)]
    api_key: Field<SecretText>,
}

/// `POST /v1/accounts` (admin): creates an account; its API key is in this answer only. With an
/// `Idempotency-Key` header, a retry of the same request answers with the same account and key
/// (and `Idempotent-Replayed: true`) instead of creating a second account.
async fn create_account(
    State(app): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: NewAccountBody = parse_json(body).map_err(body_error)?;
    let Text(name) = body.name.require(
        invalid("name is required"),
        invalid("name must be a string"),
    )?;
    let trusted = body
        .trusted
        .optional(invalid("trusted must be true or false"))?
        .is_some_and(|f| f.0);
    let import = body
        .api_key
        .optional(invalid("api_key must be a string"))?
        .map(|SecretText(k)| ApiKey::parse(&k))
        .transpose()
        .map_err(|e| invalid(format!("api_key: {e}")))?;
    let idempotency = match headers.get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| invalid("Idempotency-Key must be printable ASCII"))?,
        ),
        None => None,
    };
    let created = app
        .engine
        .create_account_once(name, trusted, import, idempotency)
        .await?;
    let body = json!({
        "id": created.account.id.0,
        "name": created.account.name,
        "trusted": created.account.trusted,
        "api_key": created.key.expose(),
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if created.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// `GET /v1/accounts/{id}` (admin, or the account's own key).
async fn account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = account_id(&id)?;
    if !caller.may_see(id) {
        return Err(ApiError::not_found("account"));
    }
    let view = app.engine.account(id).await?;
    Ok(Json(views::account(&view, app.engine.now())).into_response())
}

/// `GET /v1/accounts/{id}/ledger` (admin, or the account's own key): every refund and reversal.
async fn ledger(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = account_id(&id)?;
    if !caller.may_see(id) {
        return Err(ApiError::not_found("account"));
    }
    let view = app.engine.account(id).await?;
    let entries = app.engine.ledger(id).await?;
    let body = json!({
        "account": id.0,
        "balance": view.account.balance.to_string(),
        "entries": entries.iter().map(views::ledger_entry).collect::<Vec<_>>(),
    });
    Ok(Json(body).into_response())
}

/// `GET /v1/tasks/{id}` (admin, or the owning account's key): the task, its report and verdict.
async fn task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("task");
    let id = TaskId::parse(&id).map_err(|_| not_found())?;
    let story = app.engine.task_story(&id).await?.ok_or_else(not_found)?;
    if !caller.may_see(story.task.account) {
        return Err(not_found());
    }
    Ok(Json(views::task_story(&story)).into_response())
}

#[derive(Debug, Deserialize)]
struct ReportBody {
    #[serde(default)]
    task: Field<RawId>,
    #[serde(default)]
    kind: Field<Text>,
    #[serde(default)]
    correction: Field<Text>,
    #[serde(default)]
    code: Field<Loose>,
    #[serde(default)]
    message: Field<Loose>,
}

/// `POST /v1/reports` (client key): a report in verdict's own terms, answered with its verdict.
async fn report(
    State(app): State<AppState>,
    Client(account): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: ReportBody = parse_json(body).map_err(body_error)?;
    let raw = body.task.require(
        invalid("task is required"),
        invalid("task must be a task id"),
    )?;
    let task = task_id(raw).map_err(|e| invalid(format!("task: {e}")))?;
    let Text(kind) = body.kind.require(
        invalid("kind is required (incorrect or correct)"),
        invalid("kind must be a string"),
    )?;
    let kind =
        ReportKind::parse(&kind).ok_or_else(|| invalid("kind must be incorrect or correct"))?;
    let correction = body
        .correction
        .optional(invalid("correction must be a string"))?
        .map(|Text(c)| c);
    let code = body
        .code
        .optional(invalid("code must be a string"))?
        .map(|Loose(c)| c);
    let message = body
        .message
        .optional(invalid("message must be a string"))?
        .map(|Loose(m)| m);
    let request = ReportRequest::new(task, kind, NAME, Eligibility::ALL)
        .with_correction(correction)
        .map_err(|e| invalid(format!("correction: {e}")))?
        .with_note(code, message);
    let outcome = app.engine.submit_report_for(&account, request).await?;
    match outcome {
        ReportOutcome::Recorded(r) => Ok((
            StatusCode::CREATED,
            Json(json!({ "task": r.task.as_str(), "repeat": false, "report": views::report(&r) })),
        )
            .into_response()),
        // A repeat may come after a clawback: it shows what the account keeps now.
        ReportOutcome::Repeated(r) => {
            let money = app.engine.task_money(&r.task).await?;
            Ok(Json(json!({
                "task": r.task.as_str(), "repeat": true,
                "report": views::report_with_money(&r, &money),
            }))
            .into_response())
        }
        ReportOutcome::Refused(refusal) => Err(refusal_error(&refusal)),
    }
}

fn refusal_error(refusal: &Refusal) -> ApiError {
    let status = match refusal {
        Refusal::UnknownKey => StatusCode::UNAUTHORIZED,
        Refusal::UnknownTask => StatusCode::NOT_FOUND,
        Refusal::Conflict { .. } => StatusCode::CONFLICT,
        Refusal::WindowClosed { .. }
        | Refusal::Ineligible { .. }
        | Refusal::CorrectionNotApplicable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let error = ApiError::new(status, refusal.code(), refusal.describe());
    match refusal {
        Refusal::WindowClosed {
            window_ms,
            elapsed_ms,
        } => error.with_details(json!({ "window_ms": window_ms, "elapsed_ms": elapsed_ms })),
        Refusal::Conflict { existing } => {
            error.with_details(json!({ "existing": views::report(existing) }))
        }
        _ => error,
    }
}
