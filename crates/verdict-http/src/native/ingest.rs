//! `POST /v1/tasks` (admin): task ingest as a JSON array, or NDJSON with
//! `Content-Type: application/x-ndjson`. Each valid record is stored; each invalid one is named
//! with its position and reason; an id seen before is a duplicate, never an overwrite.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use verdict_domain::TaskInput;

use super::Admin;
use crate::dialect::lenient::{Field, Loose, RawId, Text};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(default)]
    id: Field<RawId>,
    #[serde(default)]
    account: Field<RawId>,
    #[serde(default, rename = "type")]
    captcha_type: Field<Text>,
    #[serde(default)]
    provider: Field<Text>,
    #[serde(default)]
    worker: Field<Text>,
    #[serde(default)]
    answer: Field<Text>,
    #[serde(default)]
    cost: Field<Loose>,
    #[serde(default)]
    completed_at: Field<Text>,
}

fn text(field: Field<Text>, name: &str) -> Result<Option<String>, String> {
    field
        .optional(format!("{name}: must be a string"))
        .map(|v| v.map(|Text(t)| t))
}

fn id_text(field: Field<RawId>, name: &str) -> Result<Option<String>, String> {
    Ok(field
        .optional(format!("{name}: must be a string or an integer"))?
        .map(|raw| match raw {
            RawId::Number(n) => n.to_string(),
            RawId::Text(t) => t,
        }))
}

impl Record {
    fn into_input(self) -> Result<TaskInput, String> {
        Ok(TaskInput {
            id: id_text(self.id, "id")?,
            account: id_text(self.account, "account")?,
            captcha_type: text(self.captcha_type, "type")?,
            provider: text(self.provider, "provider")?,
            worker: text(self.worker, "worker")?,
            answer: text(self.answer, "answer")?,
            cost: self
                .cost
                .optional("cost: must be a decimal string such as \"0.0020\"".to_owned())?
                .map(|Loose(c)| c),
            completed_at: text(self.completed_at, "completed_at")?,
        })
    }
}

fn parse_record(json: &str) -> Result<TaskInput, String> {
    serde_json::from_str::<Record>(json)
        .map_err(|e| format!("not a JSON object: {e}"))?
        .into_input()
}

/// Reads a batch of task records: NDJSON (one per line, blank lines skipped) or a JSON array.
/// Per record, the input or why it cannot be read; `Err` when the batch as a whole is unreadable.
pub fn parse_batch(bytes: &[u8], ndjson: bool) -> Result<Vec<Result<TaskInput, String>>, String> {
    if ndjson {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("The body is not UTF-8: {e}"))?;
        Ok(text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| parse_record(line).map_err(|e| format!("line {}: {e}", n + 1)))
            .collect())
    } else {
        let elements: Vec<&RawValue> = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "The body must be a JSON array of task records (or NDJSON with Content-Type: application/x-ndjson): {e}"
            )
        })?;
        Ok(elements
            .into_iter()
            .map(|raw| parse_record(raw.get()))
            .collect())
    }
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|ct| {
            matches!(
                ct.as_str(),
                "application/x-ndjson" | "application/jsonl" | "application/json-lines"
            )
        })
}

pub(super) async fn ingest(
    State(app): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "The batch is larger than this server accepts; send it in parts.",
            )
        } else {
            ApiError::bad_request("The request body could not be read.")
        }
    })?;
    let records = parse_batch(&bytes, is_ndjson(&headers)).map_err(ApiError::bad_request)?;
    let summary = app.engine.ingest(records).await?;
    let rejected: Vec<_> = summary
        .rejected
        .iter()
        .map(|(index, error)| json!({ "index": index, "error": error }))
        .collect();
    Ok(Json(json!({
        "inserted": summary.inserted,
        "duplicates": summary.duplicates,
        "rejected": rejected,
    }))
    .into_response())
}
