//! `GET /v1/reports`: reports with their verdict, reason and what the account keeps of the
//! refund, newest first, filtered and in pages. The operator sees any account's (and may filter
//! by account); a client only its own.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use verdict_domain::{AccountId, CaptchaType, TaskId, Timestamp, Verdict};
use verdict_engine::{MAX_REPORTS_PAGE, ReportQuery};

use super::extract::Query;
use super::{Caller, invalid, views};
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// Reports in a page unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 100;

/// `GET /v1/reports`'s filters: read by the handler, written by clients such as the CLI.
#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// One account's reports (the operator's filter; a client sees only its own anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<i64>,
    /// `accepted`, `rejected`, `acknowledged` or `pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// A reason code, as reports show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A captcha type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[param(rename = "type")]
    pub captcha_type: Option<String>,
    /// The wire dialect reports arrived in (`anticaptcha`, `twocaptcha`, `native`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// Received at or after (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Received before (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Reports per page, 1 to 1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Where the previous page ended: its `next_cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One report with its task.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListedReport {
    pub task: views::Task,
    pub report: views::Report,
}

/// A page of reports, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportPage {
    pub reports: Vec<ListedReport>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

pub(crate) fn encode_cursor(at: Timestamp, task: &TaskId) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", at.as_millis(), task.as_str()))
}

pub(crate) fn decode_cursor(text: &str) -> Option<(Timestamp, TaskId)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, task) = text.split_once('.')?;
    Some((
        Timestamp::from_millis(at.parse().ok()?),
        TaskId::parse(task).ok()?,
    ))
}

fn time(text: &str, name: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text).map_err(|e| invalid(format!("{name}: {e}")))
}

/// `GET /v1/reports` (admin: any account's; a client: its own).
#[utoipa::path(
    get, operation_id = "list_reports", path = "/v1/reports", tag = "reports",
    params(ReportsQuery),
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 200, body = ReportPage, description = "OK"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 404, body = ErrorBody, description = "another client's account"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
pub(super) async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportsQuery>,
) -> Result<Json<ReportPage>, ApiError> {
    let asked = q.account.map(AccountId);
    let account = match &caller {
        Caller::Admin => asked,
        Caller::Client(own) => match asked {
            Some(other) if other != own.id => return Err(ApiError::not_found("account")),
            _ => Some(own.id),
        },
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_REPORTS_PAGE).contains(&limit) {
        return Err(invalid(format!("limit must be 1 to {MAX_REPORTS_PAGE}")));
    }
    let query = ReportQuery {
        account,
        verdict: q
            .verdict
            .as_deref()
            .map(|v| {
                Verdict::parse(v).ok_or_else(|| {
                    invalid("verdict must be accepted, rejected, acknowledged or pending")
                })
            })
            .transpose()?,
        reason: q.reason,
        captcha_type: q
            .captcha_type
            .as_deref()
            .map(|t| CaptchaType::parse(t).map_err(|e| invalid(format!("type: {e}"))))
            .transpose()?,
        dialect: q.dialect,
        since: q.since.as_deref().map(|t| time(t, "since")).transpose()?,
        until: q.until.as_deref().map(|t| time(t, "until")).transpose()?,
        after: q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c).ok_or_else(|| invalid("cursor is not one this API gave")))
            .transpose()?,
        limit,
    };
    let stories = app.engine.reports(query).await?;
    let next_cursor = (stories.len() == limit as usize)
        .then(|| stories.last())
        .flatten()
        .and_then(|s| {
            s.report
                .as_ref()
                .map(|r| encode_cursor(r.received_at, &s.task.id))
        });
    Ok(Json(ReportPage {
        reports: stories
            .iter()
            .filter_map(|story| {
                let report = story.report.as_ref()?;
                Some(ListedReport {
                    task: views::Task::of(&story.task),
                    report: views::Report::with_money(report, &story.money),
                })
            })
            .collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_nonsense_is_refused() {
        let task = TaskId::parse("550e8400-e29b-41d4-a716-446655440000").unwrap();
        let at = Timestamp::from_millis(1_800_000_000_123);
        assert_eq!(decode_cursor(&encode_cursor(at, &task)), Some((at, task)));
        for bad in ["", "!!", "bm90LWEtY3Vyc29y"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
