//! `POST /v1/tasks` (admin): task ingest as a JSON array, or NDJSON with
//! `Content-Type: application/x-ndjson`. Each valid record is stored; each invalid one is named
//! with its position and reason; an id seen before is a duplicate, never an overwrite.

use axum::Json;
use axum::body::{Body, BodyDataStream};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use verdict_domain::TaskInput;
use verdict_engine::{Engine, EngineError, INGEST_STEP, IngestSummary, ValidatedStep};

use super::Admin;
use crate::dialect::lenient::{Field, Loose, RawId, Text};
use crate::{ApiError, AppState};

/// One task record of a batch: every field read on its own, so that a bad one names itself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = TaskRecord)]
pub struct Record {
    /// A string, or an integer.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    id: Field<RawId>,
    /// The account's id (an integer, or a string of one).
    #[serde(default)]
    #[schema(value_type = i64, required = true)]
    account: Field<RawId>,
    /// The canonical captcha type (`image`, `recaptcha_v2`, …).
    #[serde(default, rename = "type")]
    #[schema(value_type = String, required = true, rename = "type")]
    captcha_type: Field<Text>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    provider: Field<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    worker: Field<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    answer: Field<Text>,
    /// Decimal string, e.g. `"0.0020"`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    cost: Field<Loose>,
    /// RFC 3339.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
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
        Ok(parse_lines(bytes, 1))
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

/// NDJSON records, the first line numbered `first_line`. Lines end at `\n` (an `\r` before it
/// is dropped); a line that is not UTF-8 is a record that cannot be read, like one that is not
/// JSON.
fn parse_lines(bytes: &[u8], first_line: usize) -> Vec<Result<TaskInput, String>> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == b'\n')
        .zip(first_line..)
        .filter_map(|(line, n)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match std::str::from_utf8(line) {
                Ok(text) if text.trim().is_empty() => None,
                Ok(text) => Some(parse_record(text).map_err(|e| format!("line {n}: {e}"))),
                Err(e) => Some(Err(format!("line {n}: not UTF-8: {e}"))),
            }
        })
        .collect()
}

/// An NDJSON body as it arrives, cut at line ends into steps of at least `min_lines` lines.
#[derive(Debug, Default)]
struct NdjsonSteps {
    /// Bytes not yet cut into a step.
    pending: Vec<u8>,
    /// Line ends in `pending`.
    line_ends: usize,
    /// The number of `pending`'s first line.
    next_line: usize,
}

impl NdjsonSteps {
    fn new() -> Self {
        Self {
            next_line: 1,
            ..Self::default()
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.line_ends += bytes.iter().filter(|&&b| b == b'\n').count();
        self.pending.extend_from_slice(bytes);
    }

    /// The next step and the number of its first line: the complete lines received, once there
    /// are `min_lines` of them; at the end of the body, whatever is left.
    fn take(&mut self, min_lines: usize, end: bool) -> Option<(Vec<u8>, usize)> {
        let cut = if end {
            self.pending.len()
        } else if self.line_ends >= min_lines.max(1) {
            self.pending.iter().rposition(|&b| b == b'\n')? + 1
        } else {
            0
        };
        if cut == 0 {
            return None;
        }
        let rest = self.pending.split_off(cut);
        let step = std::mem::replace(&mut self.pending, rest);
        let first = self.next_line;
        let ends = step.iter().filter(|&&b| b == b'\n').count();
        self.next_line += ends;
        self.line_ends -= ends;
        Some((step, first))
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "The batch is larger than this server accepts; send it in parts.",
    )
}

fn unreadable() -> ApiError {
    ApiError::bad_request("The request body could not be read.")
}

/// The next piece of the body, counted against `limit`; `None` at its end.
async fn next_frame(
    frames: &mut BodyDataStream,
    received: &mut usize,
    limit: usize,
) -> Result<Option<Bytes>, ApiError> {
    match frames.next().await {
        Some(Ok(bytes)) => {
            *received += bytes.len();
            if *received > limit {
                return Err(too_large());
            }
            Ok(Some(bytes))
        }
        Some(Err(_)) => Err(unreadable()),
        None => Ok(None),
    }
}

/// Stores an NDJSON batch while it arrives: each step is parsed and validated on a blocking thread
/// while the ones before it are written, so a batch costs the memory of a few steps
/// ([`verdict_engine::Ingest`]) and about the time of its writes alone. Steps stored before an
/// error stay stored (an ingest sent again answers them as duplicates).
async fn ingest_ndjson(
    engine: &Engine,
    body: Body,
    limit: usize,
) -> Result<IngestSummary, ApiError> {
    let mut ingest = engine.start_ingest();
    let mut steps = NdjsonSteps::new();
    let mut frames = body.into_data_stream();
    let mut received = 0;
    let mut parsed: Option<ValidatedStep> = None;
    let mut end = false;
    while !end {
        match next_frame(&mut frames, &mut received, limit).await? {
            Some(bytes) => steps.push(&bytes),
            None => end = true,
        }
        while let Some((step, first_line)) = steps.take(INGEST_STEP, end) {
            let now = ingest.now();
            let parsing = tokio::task::spawn_blocking(move || {
                ValidatedStep::new(parse_lines(&step, first_line), now)
            });
            if let Some(step) = parsed.take() {
                ingest.add_validated(step).await?;
            }
            parsed = Some(
                parsing
                    .await
                    .map_err(|e| ApiError::from(EngineError::Internal(e.into())))?,
            );
        }
    }
    if let Some(step) = parsed {
        ingest.add_validated(step).await?;
    }
    Ok(ingest.finish().await?)
}

/// A JSON array batch, read whole (an array cannot be cut before it is parsed).
async fn ingest_array(
    engine: &Engine,
    body: Body,
    limit: usize,
) -> Result<IngestSummary, ApiError> {
    let mut frames = body.into_data_stream();
    let mut received = 0;
    let mut bytes = Vec::new();
    while let Some(frame) = next_frame(&mut frames, &mut received, limit).await? {
        bytes.extend_from_slice(&frame);
    }
    let records = parse_batch(&bytes, false).map_err(ApiError::bad_request)?;
    drop(bytes);
    Ok(engine.ingest(records).await?)
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

/// A record that was not stored, and why.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rejected {
    /// Its position in the batch (from 0; NDJSON: its line, from 1).
    pub index: usize,
    pub error: String,
}

/// What a batch did.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct IngestAnswer {
    pub inserted: usize,
    /// Ids seen before: counted, never overwritten.
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
}

/// `POST /v1/tasks` (admin): a JSON array of task records, or NDJSON with
/// `Content-Type: application/x-ndjson`, stored in steps as it arrives.
#[utoipa::path(
    post, operation_id = "ingest_tasks", path = "/v1/tasks", tag = "tasks",
    request_body(content(
        (Vec<Record> = "application/json"),
        (Record = "application/x-ndjson"),
    )),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = IngestAnswer, description = "OK"),
        (status = 400, body = crate::error::ErrorBody, description = "The request cannot be read"), (status = 401, body = crate::error::ErrorBody, description = "No valid credentials"),
        (status = 403, body = crate::error::ErrorBody, description = "Not allowed with these credentials"),
        (status = 413, body = crate::error::ErrorBody, description = "over `ingest_body_bytes`"),
    ),
)]
pub(super) async fn ingest(
    State(app): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = app.limits.ingest_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refused before anything is stored when the length is known up front.
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let summary = if is_ndjson(&headers) {
        ingest_ndjson(&app.engine, body, limit).await?
    } else {
        ingest_array(&app.engine, body, limit).await?
    };
    Ok(Json(IngestAnswer {
        inserted: summary.inserted,
        duplicates: summary.duplicates,
        rejected: summary
            .rejected
            .iter()
            .map(|(index, error)| Rejected {
                index: *index,
                error: error.clone(),
            })
            .collect(),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Vec<u8> {
        let mut body = Vec::new();
        for n in 0..9 {
            let record = format!(
                r#"{{"id":"t-{n}","account":1,"type":"image","provider":"p","cost":"0.001","completed_at":"2026-01-01T00:00:00Z"}}"#
            );
            body.extend_from_slice(record.as_bytes());
            body.extend_from_slice(match n % 3 {
                0 => b"\n".as_slice(),
                1 => b"\r\n\n   \n",
                _ => b"\n{broken\n\xff\xfe\n",
            });
        }
        // The last line has no line end.
        body.extend_from_slice(br#"{"id":"last","account":1}"#);
        body
    }

    #[test]
    fn lines_are_numbered_blank_ones_skipped_and_unreadable_ones_named() {
        let records = parse_lines(&body(), 1);
        assert_eq!(records.len(), 9 + 2 * 3 + 1);
        assert_eq!(records[0].as_ref().unwrap().id.as_deref(), Some("t-0"));
        assert_eq!(records[1].as_ref().unwrap().id.as_deref(), Some("t-1"));
        // t-1's line ends in \r\n and is followed by two blank lines: t-2 is on line 5.
        assert_eq!(records[2].as_ref().unwrap().id.as_deref(), Some("t-2"));
        let errors: Vec<&String> = records.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            errors[0].starts_with("line 6: not a JSON object"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("line 7: not UTF-8"), "{errors:?}");
        assert_eq!(
            records.last().unwrap().as_ref().unwrap().id.as_deref(),
            Some("last")
        );
        assert!(parse_lines(b"", 1).is_empty());
        assert!(parse_lines(b"\n\n", 1).is_empty());
    }

    #[test]
    fn a_body_cut_into_steps_anywhere_reads_as_the_whole() {
        let body = body();
        let whole = parse_lines(&body, 1);
        for frame in [1, 2, 7, 64, body.len()] {
            for min_lines in [1, 3, 100] {
                let mut steps = NdjsonSteps::new();
                let mut records = Vec::new();
                let mut cuts = 0;
                let mut frames = body.chunks(frame).peekable();
                while let Some(bytes) = frames.next() {
                    steps.push(bytes);
                    let end = frames.peek().is_none();
                    while let Some((step, first)) = steps.take(min_lines, end) {
                        assert!(end || step.ends_with(b"\n"), "a step ends at a line end");
                        records.extend(parse_lines(&step, first));
                        cuts += 1;
                    }
                }
                assert_eq!(
                    records, whole,
                    "frames of {frame}, steps of {min_lines} lines"
                );
                if min_lines == 1 && frame < 64 {
                    assert!(cuts > 10, "steps of one line are cut as lines complete");
                }
                assert!(steps.pending.is_empty() && steps.line_ends == 0);
            }
        }
    }
}
