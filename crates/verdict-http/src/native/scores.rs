//! Reliability scores and routing (issue: scores and routing; research/domain.md §4.2, §5.2):
//! `GET /v1/providers?type=T`, `GET /v1/workers/{id}`, `POST /v1/route`. Every number a
//! decision rests on is in the answer.

use super::extract::{Path, Query};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use verdict_domain::routing::Belief as RouterBelief;
use verdict_domain::scoring::Reliability;
use verdict_domain::scoring::Score;
use verdict_domain::{AccountId, CaptchaType};
use verdict_engine::{EngineError, RouteRequest};

use super::{Admin, body_error, invalid};
use crate::dialect::parse_json;
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

fn captcha_type(text: &str) -> Result<CaptchaType, ApiError> {
    CaptchaType::parse(text).map_err(|e| invalid(format!("type: {e}")))
}

fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Trust-weighted evidence behind a score.
#[derive(Debug, Serialize, ToSchema)]
pub struct Evidence {
    pub good: f64,
    pub bad: f64,
    pub weight: f64,
}

/// A belief about a success rate: its mean and 90 % credible interval.
#[derive(Debug, Serialize, ToSchema)]
pub struct Belief {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
    pub credible_interval: f64,
    pub evidence: Evidence,
}

impl Belief {
    fn of(r: &Reliability) -> Self {
        Self {
            mean: round(r.mean),
            lower: round(r.lower),
            upper: round(r.upper),
            credible_interval: 0.9,
            evidence: Evidence {
                good: round(r.good),
                bad: round(r.bad),
                weight: round(r.evidence),
            },
        }
    }
}

/// The prior a score starts from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Prior {
    pub mean: f64,
    pub strength: f64,
}

/// A published score: the belief, with what it rests on.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreView {
    #[serde(flatten)]
    pub belief: Belief,
    pub reports: u64,
    pub last_evidence_at: Option<String>,
    pub prior: Prior,
    pub half_life: &'static str,
    /// The credible interval widened by what complaints and silence cannot tell apart.
    pub interval: [f64; 2],
    /// Share of the good evidence that is silence (tasks nobody complained about).
    pub silent_share: f64,
}

impl ScoreView {
    fn of(s: &Score) -> Self {
        Self {
            belief: Belief::of(&s.reliability),
            reports: s.reports,
            last_evidence_at: s.last_evidence.map(|t| t.to_rfc3339()),
            prior: Prior {
                mean: round(s.prior.mean),
                strength: s.prior.strength,
            },
            half_life: "7d",
            interval: [round(s.interval.lower), round(s.interval.upper)],
            silent_share: round(s.silent_share),
        }
    }
}

/// The router's current view of a provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutingView {
    pub correctness: Belief,
    pub completion: f64,
    pub success: f64,
    pub breaker_open: bool,
    pub half_life_s: Option<u64>,
}

impl RoutingView {
    fn of(b: &RouterBelief) -> Self {
        Self {
            correctness: Belief::of(&b.correctness),
            completion: round(b.completion),
            success: round(b.success),
            breaker_open: b.breaker_open,
            half_life_s: None,
        }
    }
}

/// The evidence of SPEC §4's provider entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderEvidence {
    pub good: f64,
    pub bad: f64,
    pub weight: f64,
    pub reports: u64,
}

/// A provider's score for one type (SPEC §4: `provider`, `score`, `interval`, `evidence`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderEntry {
    pub provider: String,
    pub score: f64,
    pub interval: [f64; 2],
    pub evidence: ProviderEvidence,
    pub rank: usize,
    /// The whole belief (`lower`/`upper`: the credible interval alone).
    pub reliability: ScoreView,
    pub routing: Option<RoutingView>,
    pub cost: Option<f64>,
    pub latency_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
}

/// One type's providers, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersOfType {
    #[serde(rename = "type")]
    pub captcha_type: String,
    pub providers: Vec<ProviderEntry>,
}

/// Every type's providers (`GET /v1/providers` without `type`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AllProviders {
    pub types: Vec<ProvidersOfType>,
}

/// One type's list (`?type=T`), or every type's.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProvidersAnswer {
    OfType(ProvidersOfType),
    All(AllProviders),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ProvidersQuery {
    /// One captcha type; without it, every type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    captcha_type: Option<String>,
}

/// `GET /v1/providers?type=T` (admin): providers ranked per type by the lower end of their
/// score's credible interval, in SPEC §4's shape (`score`, `interval`, `evidence`), with the
/// whole belief (`reliability`) and the router's current view beside it. `interval` is the
/// credible interval widened by what complaints and silence cannot tell apart
/// (`ReportingBounds`); `reliability.lower`/`upper` are the credible interval alone.
#[utoipa::path(
    get, operation_id = "providers", path = "/v1/providers", tag = "scores",
    params(ProvidersQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = ProvidersAnswer, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"), (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
pub(super) async fn providers(
    State(app): State<AppState>,
    _: Admin,
    Query(query): Query<ProvidersQuery>,
) -> Result<Json<ProvidersAnswer>, ApiError> {
    let only = query
        .captcha_type
        .as_deref()
        .map(captcha_type)
        .transpose()?;
    let scores = app.engine.provider_scores(only).await?;
    // Best first within each type, as the engine ranks them; types in the order first seen.
    let mut types: Vec<ProvidersOfType> = Vec::new();
    for s in &scores {
        let name = s.captcha_type.as_str();
        let at = match types.iter().position(|t| t.captcha_type == name) {
            Some(at) => at,
            None => {
                types.push(ProvidersOfType {
                    captcha_type: name.to_owned(),
                    providers: Vec::new(),
                });
                types.len() - 1
            }
        };
        let list = &mut types[at].providers;
        let r = &s.score.reliability;
        let interval = &s.score.interval;
        list.push(ProviderEntry {
            provider: s.provider.clone(),
            score: round(r.mean),
            interval: [round(interval.lower), round(interval.upper)],
            evidence: ProviderEvidence {
                good: round(r.good),
                bad: round(r.bad),
                weight: round(r.evidence),
                reports: s.score.reports,
            },
            rank: list.len() + 1,
            reliability: ScoreView::of(&s.score),
            routing: s.routing.as_ref().map(RoutingView::of),
            cost: s.profile.as_ref().map(|p| p.cost),
            latency_ms: s.profile.as_ref().map(|p| p.latency_ms),
            p95_latency_ms: s.profile.as_ref().map(|p| p.p95_latency_ms),
        });
    }
    // SPEC §4: one type asked for, that type's list; none, every type's.
    Ok(Json(match only {
        Some(t) => ProvidersAnswer::OfType(
            types
                .into_iter()
                .find(|found| found.captcha_type == t.as_str())
                .unwrap_or_else(|| ProvidersOfType {
                    captcha_type: t.as_str().to_owned(),
                    providers: Vec::new(),
                }),
        ),
        None => ProvidersAnswer::All(AllProviders { types }),
    }))
}

/// A worker's score at one provider and type.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerScoreView {
    pub provider: String,
    #[serde(rename = "type")]
    pub captcha_type: String,
    pub score: ScoreView,
    pub provider_mean: f64,
    /// Accounts that whitelisted it.
    pub whitelisted_by: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerScores {
    pub worker: String,
    pub scores: Vec<WorkerScoreView>,
}

/// `GET /v1/workers/{id}` (admin): a worker's score at each provider and type it has evidence
/// for, and how many accounts whitelisted it.
#[utoipa::path(
    get, operation_id = "worker", path = "/v1/workers/{id}", tag = "scores",
    params(("id" = String, Path, description = "The worker's name")),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = WorkerScores, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"), (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
        (status = 404, body = ErrorBody, description = "Not found"),
    ),
)]
pub(super) async fn worker(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<WorkerScores>, ApiError> {
    let scores = match app.engine.worker_scores(&id).await {
        Err(EngineError::NotFound) => return Err(ApiError::not_found("worker with evidence")),
        other => other?,
    };
    Ok(Json(WorkerScores {
        worker: id,
        scores: scores
            .iter()
            .map(|w| WorkerScoreView {
                provider: w.provider.clone(),
                captcha_type: w.captcha_type.as_str().to_owned(),
                score: ScoreView::of(&w.score),
                provider_mean: round(w.provider_mean),
                whitelisted_by: w.whitelisted_by,
            })
            .collect(),
    }))
}

fn number(body: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be a non-negative number"))),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be a non-negative number"))),
        Some(_) => Err(invalid(format!("{name} must be a non-negative number"))),
    }
}

/// What `POST /v1/route` reads (the handler reads the fields one by one from the JSON object,
/// accepting numbers written as strings, so that each wrong field gets its own message).
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "describes the body in /openapi.json; the handler reads these fields by name"
)]
pub struct RouteBody {
    /// The captcha type of the next task.
    #[schema(rename = "type")]
    pub captcha_type: String,
    /// Providers to choose among; absent: every provider of the type.
    pub candidates: Option<Vec<String>>,
    pub max_cost: Option<f64>,
    pub max_latency_ms: Option<f64>,
    /// The client the task is for (its whitelisted workers are preferred).
    pub account: Option<i64>,
}

/// The success rate the choice expects.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
    pub credible_interval: f64,
}

/// Why the router chose the provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    pub rule: &'static str,
    pub eligible: usize,
    pub sampled_success: f64,
    pub success: Success,
    pub completion: f64,
    pub cost_per_success: f64,
    pub time_to_success_ms: f64,
    pub half_life_s: u64,
}

/// SPEC §4: `{"provider", "explanation"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteAnswer {
    #[serde(rename = "type")]
    pub captcha_type: String,
    pub provider: String,
    pub explanation: Explanation,
    pub cost: f64,
    pub latency_ms: f64,
    pub p95_latency_ms: f64,
    /// The client's whitelisted workers at that provider.
    pub preferred_workers: Vec<String>,
}

/// `POST /v1/route` (admin) `{"type", "candidates"?, "max_cost"?, "max_latency_ms"?,
/// "account"?}`: the provider to send the next task to, and why.
#[utoipa::path(
    post, operation_id = "route", path = "/v1/route", tag = "scores",
    request_body = RouteBody,
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RouteAnswer, description = "OK"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
        (status = 404, body = ErrorBody, description = "no provider is known for the type"),
        (status = 422, body = ErrorBody, description = "a field is wrong, or no provider fits the limits"),
    ),
)]
pub(super) async fn route(
    State(app): State<AppState>,
    _: Admin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RouteAnswer>, ApiError> {
    let body: Map<String, Value> = parse_json(body).map_err(body_error)?;
    let captcha_type = match body.get("type") {
        Some(Value::String(t)) => captcha_type(t)?,
        None | Some(Value::Null) => return Err(invalid("type is required")),
        Some(_) => return Err(invalid("type must be a string")),
    };
    let candidates = match body.get("candidates") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if !items.is_empty() => Some(
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("candidates must be a list of provider names"))?,
        ),
        Some(_) => {
            return Err(invalid(
                "candidates must be a non-empty list of provider names",
            ));
        }
    };
    let account = match body.get("account") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(AccountId)
                .ok_or_else(|| invalid("account must be an account id"))?,
        ),
    };
    let request = RouteRequest {
        captcha_type: Some(captcha_type),
        candidates,
        max_cost: number(&body, "max_cost")?,
        max_latency_ms: number(&body, "max_latency_ms")?,
        account,
    };
    let outcome = match app.engine.route(request).await {
        Err(EngineError::NotFound) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_provider",
                format!(
                    "No provider is known for {}: configure one or ingest tasks and reports.",
                    captcha_type.as_str()
                ),
            ));
        }
        Err(EngineError::Conflict { message: why, .. }) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_eligible_provider",
                why,
            ));
        }
        other => other?,
    };
    let d = &outcome.decision;
    let (lower, upper) = d.interval();
    Ok(Json(RouteAnswer {
        captcha_type: outcome.captcha_type.as_str().to_owned(),
        provider: outcome.provider.clone(),
        explanation: Explanation {
            rule: d.pick.as_str(),
            eligible: d.eligible,
            sampled_success: round(d.sampled),
            success: Success {
                mean: round(d.mean()),
                lower: round(lower),
                upper: round(upper),
                credible_interval: 0.9,
            },
            completion: round(d.completion),
            cost_per_success: round(d.cost_per_success),
            time_to_success_ms: round(d.time_to_success_ms),
            half_life_s: outcome.half_life.as_secs(),
        },
        cost: outcome.profile.cost,
        latency_ms: outcome.profile.latency_ms,
        p95_latency_ms: outcome.profile.p95_latency_ms,
        preferred_workers: outcome.preferred_workers.clone(),
    }))
}
