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
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use verdict_domain::TaskId;
use verdict_engine::RecheckOutcome;

use super::{Admin, body_error, invalid, views};
use crate::dialect::lenient::{Field, Text};
use crate::dialect::parse_json;
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct NextQuery {
    /// Seconds the task is held for this worker (default 120, at most an hour).
    lease: Option<u64>,
}

/// The task to solve again, without its first answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecheckTask {
    pub id: String,
    #[serde(rename = "type")]
    pub captcha_type: String,
    pub provider: String,
    pub worker: Option<String>,
    pub completed_at: String,
}

/// What the client said.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecheckReport {
    pub received_at: String,
    pub correction: Option<String>,
}

/// A report waiting for a second solve, held for the caller until `held_until`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecheckItem {
    pub task: RecheckTask,
    pub report: RecheckReport,
    pub deadline: String,
    pub held_until: String,
}

/// `GET /v1/rechecks/next` (admin): the oldest report waiting for a second solve, held for the
/// caller; 204 when there is none. The first answer is deliberately not shown: the second solve
/// must be independent.
#[utoipa::path(
    get, operation_id = "next_recheck", path = "/v1/rechecks/next", tag = "rechecks",
    params(NextQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RecheckItem, description = "OK"),
        (status = 204, description = "nothing is waiting"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
    ),
)]
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
    Ok(Json(RecheckItem {
        task: RecheckTask {
            id: t.id.as_str().to_owned(),
            captcha_type: t.captcha_type.as_str().to_owned(),
            provider: t.provider.clone(),
            worker: t.worker.clone(),
            completed_at: t.completed_at.to_rfc3339(),
        },
        report: RecheckReport {
            received_at: item.report.received_at.to_rfc3339(),
            correction: item.report.correction.clone(),
        },
        deadline: item.deadline.to_rfc3339(),
        held_until: item.claimed_until.to_rfc3339(),
    })
    .into_response())
}

/// An independent solve's answer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AnswerBody {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    answer: Field<Text>,
}

/// A settled (or re-queued) re-check and the report as it now stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecheckAnswer {
    pub task: String,
    /// True: the answers disagree, and the task is back in the queue for one more solve.
    pub another_solve: bool,
    pub report: views::Report,
}

/// `POST /v1/rechecks/{task}` (admin) `{"answer": "…"}`: an independent solve's answer. The same
/// answer as the first rejects the report; a different one upholds it (and refunds it) — unless
/// it agrees with neither the first answer nor the client's correction, or the account's
/// reports are suspect, in which case the task goes back in the queue for one more solve
/// (202, `another_solve: true`).
#[utoipa::path(
    post, operation_id = "answer_recheck", path = "/v1/rechecks/{task}", tag = "rechecks",
    params(("task" = String, Path)),
    request_body = AnswerBody,
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RecheckAnswer, description = "settled"),
        (status = 202, body = RecheckAnswer, description = "one more solve is needed"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"), (status = 404, body = ErrorBody, description = "Not found"),
        (status = 409, body = ErrorBody, description = "settled before"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
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
        RecheckOutcome::Settled(report) => Ok(Json(RecheckAnswer {
            task: task.as_str().to_owned(),
            another_solve: false,
            report: views::Report::of(&report),
        })
        .into_response()),
        RecheckOutcome::AnotherSolve(report) => Ok((
            StatusCode::ACCEPTED,
            Json(RecheckAnswer {
                task: task.as_str().to_owned(),
                another_solve: true,
                report: views::Report::of(&report),
            }),
        )
            .into_response()),
        RecheckOutcome::AlreadySettled(report) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_settled",
            "This report was settled already; the first settlement stands.",
        )
        .with_details(json!({ "report": views::Report::of(&report) }))),
        RecheckOutcome::NotFound => Err(not_found()),
    }
}
