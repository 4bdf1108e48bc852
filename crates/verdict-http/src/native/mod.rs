//! The native API (SPEC §4): accounts, task ingest, task inspection, reports. A stable contract
//! that tools, the dashboard and tests depend on.

mod auth;
pub mod corrections;
pub(crate) mod extract;
mod ingest;
mod keys;
mod listing;
mod openapi;
mod operator;
mod rechecks;
mod scores;
pub use ingest::{IngestAnswer, Rejected, parse_batch};
pub use listing::{ListedReport, ReportPage, ReportsQuery};
pub(crate) use listing::{decode_cursor, encode_cursor};
pub mod views;

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::timeout::RequestBodyTimeoutLayer;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use verdict_domain::{AccountId, ApiKey, Eligibility, Refusal, ReportKind, ReportRequest, TaskId};
use verdict_engine::{EngineError, MAX_ACCOUNTS_PAGE, ReportOutcome};

use crate::dialect::lenient::{Field, Loose, RawId, SecretText, Text};
use crate::dialect::{BodyProblem, parse_json, task_id};
use crate::error::ErrorBody;
use crate::{ApiError, AppState, Limits};
pub use auth::{Admin, Caller, Client};
use extract::{Path, Query};
pub use keys::{Issued, KeyList, KeyView, Revoked};
pub use openapi::ApiDoc;

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

/// The native API's routes and their OpenAPI description, built from the same handlers.
pub fn routes(limits: Limits) -> OpenApiRouter<AppState> {
    let bounded = OpenApiRouter::new()
        .routes(routes!(create_account, list_accounts))
        .routes(routes!(account, operator::patch_account))
        .routes(routes!(operator::put_standing))
        .routes(routes!(ledger))
        .routes(routes!(keys::list, keys::add))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::revoke))
        .routes(routes!(operator::cohort))
        .routes(routes!(scores::providers))
        .routes(routes!(scores::route))
        .routes(routes!(scores::worker))
        .routes(routes!(rechecks::next))
        .routes(routes!(rechecks::answer))
        .routes(routes!(report, listing::list))
        .routes(routes!(task))
        .routes(routes!(corrections::export))
        .layer(DefaultBodyLimit::max(limits.report_body))
        .layer(axum::middleware::from_fn(move |r, n| {
            crate::deadline::body_deadline(limits.body_timeout, r, n)
        }));
    // The ingest handler reads its body as a stream and counts it against
    // `limits.ingest_body` itself; a batch may take long to arrive, but never stall.
    let ingest = OpenApiRouter::new()
        .routes(routes!(ingest::ingest))
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    bounded.merge(ingest)
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

/// An engine error on a route about one account: "not found" there can only mean the account.
fn on_account(e: EngineError) -> ApiError {
    match e {
        EngineError::NotFound => ApiError::not_found("account"),
        other => other.into(),
    }
}

/// `POST /v1/accounts`: the account to create. Every field is read on its own, so that each
/// wrong one gets its own message.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccountBody {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    name: Field<Text>,
    /// Member of the trusted cohort (default false).
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    trusted: Field<crate::dialect::lenient::Flag>,
    /// A key the client already uses elsewhere, to import; absent: a new random key.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    api_key: Field<SecretText>,
}

/// A new account and its key, shown this once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedAccount {
    pub id: i64,
    pub name: String,
    pub trusted: bool,
    pub api_key: String,
}

impl std::fmt::Debug for CreatedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedAccount")
            .field("id", &self.id)
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// `POST /v1/accounts` (admin): creates an account; its API key is in this answer only. With an
/// `Idempotency-Key` header, a retry of the same request answers with the same account and key
/// (and `Idempotent-Replayed: true`) instead of creating a second account.
#[utoipa::path(
    post, operation_id = "create_account", path = "/v1/accounts", tag = "accounts",
    request_body = NewAccountBody,
    params(("Idempotency-Key" = Option<String>, Header,
            description = "A retry with the same key and request gets the same account and key")),
    security(("admin_token" = [])),
    responses(
        (status = 201, body = CreatedAccount, description = "Created"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
        (status = 409, body = ErrorBody, description = "the key is in use, or the Idempotency-Key was used for another request"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
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
    let body = CreatedAccount {
        id: created.account.id.0,
        name: created.account.name.clone(),
        trusted: created.account.trusted,
        api_key: created.key.expose().to_owned(),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if created.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// `GET /v1/accounts`'s paging and filter: read by the handler, written by clients such as the
/// CLI.
#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountsQuery {
    /// Accounts with a larger id: the previous page's `next_cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// Accounts per page, 1 to 1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only the accounts to look at now: on ignored standing, flagged by the screen while
    /// trusted, or disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<bool>,
}

/// A page of accounts in id order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<views::Account>,
    /// Pass as `after` for the next page; null on the last.
    pub next_cursor: Option<i64>,
}

/// Accounts in a page unless `limit` says otherwise.
const DEFAULT_ACCOUNTS_PAGE: u32 = 100;

/// `GET /v1/accounts` (admin): every account in id order, a page at a time, or
/// (`attention=true`) those an operator should look at.
#[utoipa::path(
    get, operation_id = "list_accounts", path = "/v1/accounts", tag = "accounts",
    params(AccountsQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = AccountPage, description = "OK"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
async fn list_accounts(
    State(app): State<AppState>,
    _: Admin,
    Query(q): Query<AccountsQuery>,
) -> Result<Json<AccountPage>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_ACCOUNTS_PAGE);
    if !(1..=MAX_ACCOUNTS_PAGE).contains(&limit) {
        return Err(invalid(format!("limit must be 1 to {MAX_ACCOUNTS_PAGE}")));
    }
    let page = app
        .engine
        .accounts(q.after.map(AccountId), limit, q.attention.unwrap_or(false))
        .await?;
    let now = app.engine.now();
    Ok(Json(AccountPage {
        accounts: page
            .accounts
            .iter()
            .map(|view| views::Account::of(view, now))
            .collect(),
        next_cursor: page.next.map(|id| id.0),
    }))
}

/// `GET /v1/accounts/{id}` (admin, or the account's own key).
#[utoipa::path(
    get, operation_id = "get_account", path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 200, body = views::Account, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 404, body = ErrorBody, description = "no such account, or another client's"),
    ),
)]
async fn account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Account>, ApiError> {
    let id = account_id(&id)?;
    if !caller.may_see(id) {
        return Err(ApiError::not_found("account"));
    }
    let view = app.engine.account(id).await.map_err(on_account)?;
    Ok(Json(views::Account::of(&view, app.engine.now())))
}

/// `GET /v1/accounts/{id}/ledger` (admin, or the account's own key): every refund and reversal.
#[utoipa::path(
    get, operation_id = "get_ledger", path = "/v1/accounts/{id}/ledger", tag = "accounts",
    params(("id" = i64, Path)),
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 200, body = views::Ledger, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"), (status = 404, body = ErrorBody, description = "Not found"),
    ),
)]
async fn ledger(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Ledger>, ApiError> {
    let id = account_id(&id)?;
    if !caller.may_see(id) {
        return Err(ApiError::not_found("account"));
    }
    let view = app.engine.account(id).await.map_err(on_account)?;
    let entries = app.engine.ledger(id).await?;
    Ok(Json(views::Ledger {
        account: id.0,
        balance: view.account.balance.to_string(),
        entries: entries.iter().map(views::Entry::of).collect(),
    }))
}

/// `GET /v1/tasks/{id}` (admin, or the owning account's key): the task, its report and verdict.
#[utoipa::path(
    get, operation_id = "get_task", path = "/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path)),
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 200, body = views::TaskStoryView, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 404, body = ErrorBody, description = "no such task, or another client's"),
    ),
)]
async fn task(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::TaskStoryView>, ApiError> {
    let not_found = || ApiError::not_found("task");
    let id = TaskId::parse(&id).map_err(|_| not_found())?;
    let story = app.engine.task_story(&id).await?.ok_or_else(not_found)?;
    if !caller.may_see(story.task.account) {
        return Err(not_found());
    }
    Ok(Json(views::TaskStoryView::of(&story)))
}

/// `POST /v1/reports`: a report in verdict's own terms.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportBody {
    /// The task id (a string, or an integer).
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    task: Field<RawId>,
    /// `incorrect` or `correct`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    kind: Field<Text>,
    /// The right answer, for text and audio captchas.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    correction: Field<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    code: Field<Loose>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    message: Field<Loose>,
}

/// A report's verdict: recorded now, or an identical one recorded before (`repeat`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAnswer {
    pub task: String,
    pub repeat: bool,
    pub report: views::Report,
}

/// `POST /v1/reports` (client key): a report in verdict's own terms, answered with its verdict.
#[utoipa::path(
    post, operation_id = "submit_report", path = "/v1/reports", tag = "reports",
    request_body = ReportBody,
    security(("api_key" = [])),
    responses(
        (status = 201, body = ReportAnswer, description = "recorded now"),
        (status = 200, body = ReportAnswer, description = "an identical report was recorded before"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 404, body = ErrorBody, description = "Not found"),
        (status = 409, body = ErrorBody, description = "a different report was recorded before"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
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
            Json(ReportAnswer {
                task: r.task.as_str().to_owned(),
                repeat: false,
                report: views::Report::of(&r),
            }),
        )
            .into_response()),
        // A repeat may come after a clawback: it shows what the account keeps now.
        ReportOutcome::Repeated(r) => {
            let money = app.engine.task_money(&r.task).await?;
            Ok(Json(ReportAnswer {
                task: r.task.as_str().to_owned(),
                repeat: true,
                report: views::Report::with_money(&r, &money),
            })
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
            error.with_details(json!({ "existing": views::Report::of(existing) }))
        }
        _ => error,
    }
}
