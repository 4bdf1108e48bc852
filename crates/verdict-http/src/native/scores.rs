//! Reliability scores and routing (issue: scores and routing; research/domain.md §4.2, §5.2):
//! `GET /v1/providers?type=T`, `GET /v1/workers/{id}`, `POST /v1/route`. Every number a
//! decision rests on is in the answer.

use super::extract::{Path, Query};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use verdict_domain::routing::Belief;
use verdict_domain::scoring::Reliability;
use verdict_domain::scoring::Score;
use verdict_domain::{AccountId, CaptchaType};
use verdict_engine::{EngineError, RouteRequest};

use super::{Admin, body_error, invalid};
use crate::dialect::parse_json;
use crate::{ApiError, AppState};

fn captcha_type(text: &str) -> Result<CaptchaType, ApiError> {
    CaptchaType::parse(text).map_err(|e| invalid(format!("type: {e}")))
}

fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn reliability(r: &Reliability) -> Value {
    json!({
        "mean": round(r.mean),
        "lower": round(r.lower),
        "upper": round(r.upper),
        "credible_interval": 0.9,
        "evidence": { "good": round(r.good), "bad": round(r.bad), "weight": round(r.evidence) },
    })
}

fn score(s: &Score) -> Value {
    let mut v = reliability(&s.reliability);
    if let Value::Object(map) = &mut v {
        map.insert("reports".into(), s.reports.into());
        map.insert(
            "last_evidence_at".into(),
            s.last_evidence.map(|t| t.to_rfc3339()).into(),
        );
        map.insert(
            "prior".into(),
            json!({ "mean": round(s.prior.mean), "strength": s.prior.strength }),
        );
        map.insert("half_life".into(), "7d".into());
        map.insert(
            "interval".into(),
            json!([round(s.interval.lower), round(s.interval.upper)]),
        );
        map.insert("silent_share".into(), round(s.silent_share).into());
    }
    v
}

fn belief(b: &Belief, half_life: Option<std::time::Duration>) -> Value {
    json!({
        "correctness": reliability(&b.correctness),
        "completion": round(b.completion),
        "success": round(b.success),
        "breaker_open": b.breaker_open,
        "half_life_s": half_life.map(|h| h.as_secs()),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct ProvidersQuery {
    #[serde(rename = "type")]
    captcha_type: Option<String>,
}

/// `GET /v1/providers?type=T` (admin): providers ranked per type by the lower end of their
/// score's credible interval, in SPEC §4's shape (`score`, `interval`, `evidence`), with the
/// whole belief (`reliability`) and the router's current view beside it. `interval` is the
/// credible interval widened by what complaints and silence cannot tell apart
/// (`ReportingBounds`); `reliability.lower`/`upper` are the credible interval alone.
pub(super) async fn providers(
    State(app): State<AppState>,
    _: Admin,
    Query(query): Query<ProvidersQuery>,
) -> Result<Response, ApiError> {
    let only = query
        .captcha_type
        .as_deref()
        .map(captcha_type)
        .transpose()?;
    let scores = app.engine.provider_scores(only).await?;
    // Best first within each type, as the engine ranks them; types in the order first seen.
    let mut types: Vec<(CaptchaType, Vec<Value>)> = Vec::new();
    for s in &scores {
        let at = match types.iter().position(|(t, _)| *t == s.captcha_type) {
            Some(at) => at,
            None => {
                types.push((s.captcha_type, Vec::new()));
                types.len() - 1
            }
        };
        let list = &mut types[at].1;
        let r = &s.score.reliability;
        let interval = &s.score.interval;
        list.push(json!({
            "provider": s.provider,
            "score": round(r.mean),
            "interval": [round(interval.lower), round(interval.upper)],
            "evidence": {
                "good": round(r.good), "bad": round(r.bad), "weight": round(r.evidence),
                "reports": s.score.reports,
            },
            "rank": list.len() + 1,
            "reliability": score(&s.score),
            "routing": s.routing.as_ref().map(|b| belief(b, None)),
            "cost": s.profile.as_ref().map(|p| p.cost),
            "latency_ms": s.profile.as_ref().map(|p| p.latency_ms),
            "p95_latency_ms": s.profile.as_ref().map(|p| p.p95_latency_ms),
        }));
    }
    let shown = |(t, providers): (CaptchaType, Vec<Value>)| json!({ "type": t.as_str(), "providers": providers });
    // SPEC §4: one type asked for, that type's list; none, every type's.
    let body = match only {
        Some(t) => {
            let providers = types
                .into_iter()
                .find(|(found, _)| *found == t)
                .map_or_else(Vec::new, |(_, list)| list);
            shown((t, providers))
        }
        None => json!({ "types": types.into_iter().map(shown).collect::<Vec<_>>() }),
    };
    Ok(Json(body).into_response())
}

/// `GET /v1/workers/{id}` (admin): a worker's score at each provider and type it has evidence
/// for, and how many accounts whitelisted it.
pub(super) async fn worker(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let scores = match app.engine.worker_scores(&id).await {
        Err(EngineError::NotFound) => return Err(ApiError::not_found("worker with evidence")),
        other => other?,
    };
    let body = json!({
        "worker": id,
        "scores": scores.iter().map(|w| json!({
            "provider": w.provider,
            "type": w.captcha_type.as_str(),
            "score": score(&w.score),
            "provider_mean": round(w.provider_mean),
            "whitelisted_by": w.whitelisted_by,
        })).collect::<Vec<_>>(),
    });
    Ok(Json(body).into_response())
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

/// `POST /v1/route` (admin) `{"type", "candidates"?, "max_cost"?, "max_latency_ms"?,
/// "account"?}`: the provider to send the next task to, and why.
pub(super) async fn route(
    State(app): State<AppState>,
    _: Admin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
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
    let body = json!({
        "type": outcome.captcha_type.as_str(),
        "provider": outcome.provider,
        "explanation": {
            "rule": d.pick.as_str(),
            "eligible": d.eligible,
            "sampled_success": round(d.sampled),
            "success": { "mean": round(d.mean()), "lower": round(lower), "upper": round(upper), "credible_interval": 0.9 },
            "completion": round(d.completion),
            "cost_per_success": round(d.cost_per_success),
            "time_to_success_ms": round(d.time_to_success_ms),
            "half_life_s": outcome.half_life.as_secs(),
        },
        "cost": outcome.profile.cost,
        "latency_ms": outcome.profile.latency_ms,
        "p95_latency_ms": outcome.profile.p95_latency_ms,
        "preferred_workers": outcome.preferred_workers,
    });
    Ok(Json(body).into_response())
}
