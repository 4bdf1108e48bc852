//! The re-check queue, for the platform's re-solving workers: take the next report to check,
//! solve the captcha again with another worker, post the answer.

use std::time::Duration;

use super::extract::{Path, Query};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use verdict_domain::TaskId;
use verdict_engine::RecheckOutcome;

use super::{Admin, body_error, invalid, views};
use crate::dialect::lenient::{Field, Text};
use crate::dialect::parse_json;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub(super) struct NextQuery {
    /// Seconds the task is held for this worker (default 120, at most an hour).
    lease: Option<u64>,
}

/// `GET /v1/rechecks/next` (admin): the oldest report waiting for a second solve, held for the
/// caller; 204 when there is none. The first answer is deliberately not shown: the second solve
/// must be independent.
pub(super) async fn next(
    State(app): State<AppState>,
    _: Admin,
    Query(q): Query<NextQuery>,
) -> Result<Response, ApiError> {
    let lease = Duration::from_secs(q.lease.unwrap_or(120).clamp(1, 3600));
    let Some(item) = app.engine.next_recheck(lease).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let t = &item.task;
    let body = json!({
        "task": {
            "id": t.id.as_str(), "type": t.captcha_type.as_str(), "provider": t.provider,
            "worker": t.worker, "completed_at": t.completed_at.to_rfc3339(),
        },
        "report": { "received_at": item.report.received_at.to_rfc3339(), "correction": item.report.correction },
        "deadline": item.deadline.to_rfc3339(),
        "held_until": item.claimed_until.to_rfc3339(),
    });
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct AnswerBody {
    #[serde(default)]
    answer: Field<Text>,
}

/// `POST /v1/rechecks/{task}` (admin) `{"answer": "…"}`: an independent solve's answer. The same
/// answer as the first rejects the report; a different one upholds it (and refunds it) — unless
/// it agrees with neither the first answer nor the client's correction, or the account's
/// reports are suspect, in which case the task goes back in the queue for one more solve
/// (202, `another_solve: true`).
pub(super) async fn answer(
    State(app): State<AppState>,
    _: Admin,
    Path(task): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("report waiting for a re-check");
    let task = TaskId::parse(&task).map_err(|_| not_found())?;
    let body: AnswerBody = parse_json(body).map_err(body_error)?;
    let Text(answer) = body.answer.require(
        invalid("answer is required"),
        invalid("answer must be a string"),
    )?;
    match app.engine.submit_recheck(&task, &answer).await? {
        RecheckOutcome::Settled(report) => Ok(Json(
            json!({ "task": task.as_str(), "another_solve": false, "report": views::report(&report) }),
        )
        .into_response()),
        RecheckOutcome::AnotherSolve(report) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "task": task.as_str(), "another_solve": true, "report": views::report(&report) })),
        )
            .into_response()),
        RecheckOutcome::AlreadySettled(report) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_settled",
            "This report was settled already; the first settlement stands.",
        )
        .with_details(json!({ "report": views::report(&report) }))),
        RecheckOutcome::NotFound => Err(not_found()),
    }
}
