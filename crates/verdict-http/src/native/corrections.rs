//! `GET /v1/corrections` (admin): the corrections dataset (SPEC §1.4), as JSON Lines or CSV,
//! streamed page by page from the store to the body so that a dataset of any size is served
//! in constant memory. The encoding lives here so that `verdict export corrections` writes the
//! same bytes. Which reports are rows and what `label_confidence` means is the domain's
//! (`verdict_domain::corrections`); docs/corrections.md says what a consumer should rely on.
//!
//! Operators only. A client's own corrections and their verdicts are already in
//! `GET /v1/reports`, in bounded pages; this export is a bulk stream meant for the platform's
//! training pipeline, which may run for minutes and carries other parties' re-check answers.

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use verdict_domain::corrections::Correction;
use verdict_domain::{CaptchaType, Timestamp};
use verdict_engine::{CorrectionFilter, CorrectionPages, chain};

use super::extract::Query;
use super::{Admin, invalid};
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// How the dataset is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object a line (`jsonl`).
    JsonLines,
    /// RFC 4180: a header row, then one row a record, CRLF line ends (`csv`).
    Csv,
}

impl Format {
    /// `jsonl` or `csv`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "jsonl" => Some(Format::JsonLines),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::JsonLines => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// The CSV header: [`CorrectionRecord`]'s fields in their order.
pub const CSV_COLUMNS: [&str; 14] = [
    "task",
    "type",
    "provider",
    "worker",
    "answer",
    "correction",
    "trust_weight",
    "verdict",
    "reason",
    "second_solve",
    "third_solve",
    "label_confidence",
    "completed_at",
    "reported_at",
];

/// One row of the corrections dataset: a JSON Lines line, or a CSV row (where an absent value
/// is an empty field).
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionRecord<'a> {
    /// The task id.
    pub task: &'a str,
    /// `image` or `audio` (the types that take corrections).
    #[serde(rename = "type")]
    pub captcha_type: &'a str,
    pub provider: &'a str,
    pub worker: Option<&'a str>,
    /// The answer the platform delivered, which the client reported as wrong.
    pub answer: Option<&'a str>,
    /// The text the client says is right.
    pub correction: &'a str,
    /// The reporter's trust when the report was judged, 0 to 1: how much its word counts.
    pub trust_weight: f64,
    /// The report's verdict: `accepted` (refunded), `rejected`, or `pending` (awaiting a
    /// re-check). It decides the refund, not the label: see `label_confidence`.
    pub verdict: &'a str,
    /// The verdict's reason code (`recheck_confirmed`, `recheck_timed_out`, …).
    pub reason: &'a str,
    /// The first independent solve of a re-check, where there was one.
    pub second_solve: Option<&'a str>,
    /// The solve that decided a re-check the second could not, where there was one.
    pub third_solve: Option<&'a str>,
    /// What independent solves say of the correction: `corroborated` (a solve agrees with
    /// it), `contradicted` (a solve gave the delivered answer, or two solves agree on another
    /// text) or `unverified` (nothing independent checked it).
    pub label_confidence: &'a str,
    /// When the task was solved (RFC 3339).
    pub completed_at: String,
    /// When the report arrived (RFC 3339); the dataset's order and its time filters.
    pub reported_at: String,
}

impl<'a> CorrectionRecord<'a> {
    pub fn of(c: &'a Correction) -> Self {
        Self {
            task: c.task.as_str(),
            captcha_type: c.captcha_type.as_str(),
            provider: &c.provider,
            worker: c.worker.as_deref(),
            answer: c.answer.as_deref(),
            correction: &c.correction,
            trust_weight: c.trust_weight,
            verdict: c.verdict.as_str(),
            reason: c.reason.code(),
            second_solve: c.second_solve(),
            third_solve: c.third_solve(),
            label_confidence: c.label_confidence().as_str(),
            completed_at: c.completed_at.to_rfc3339(),
            reported_at: c.reported_at.to_rfc3339(),
        }
    }
}

/// Turns pages of rows into the bytes of one format.
#[derive(Debug)]
pub struct Encoder {
    format: Format,
}

impl Encoder {
    pub fn new(format: Format) -> Self {
        Self { format }
    }

    /// What comes before the first row: CSV's header row (even when no row follows).
    pub fn start(&self) -> std::io::Result<Vec<u8>> {
        match self.format {
            Format::JsonLines => Ok(Vec::new()),
            Format::Csv => {
                let mut out = csv_writer(Vec::new());
                out.write_record(CSV_COLUMNS)?;
                out.into_inner().map_err(|e| e.into_error())
            }
        }
    }

    /// One page of rows.
    pub fn page(&self, rows: &[Correction]) -> std::io::Result<Vec<u8>> {
        match self.format {
            Format::JsonLines => {
                let mut out = Vec::with_capacity(rows.len() * 320);
                for row in rows {
                    serde_json::to_writer(&mut out, &CorrectionRecord::of(row))?;
                    out.push(b'\n');
                }
                Ok(out)
            }
            Format::Csv => {
                let mut out = csv_writer(Vec::with_capacity(rows.len() * 200));
                for row in rows {
                    out.serialize(CorrectionRecord::of(row))?;
                }
                out.into_inner().map_err(|e| e.into_error())
            }
        }
    }
}

/// RFC 4180: comma-separated, fields quoted where they hold a comma, a quote or a line break
/// (quotes doubled), CRLF after each row; the header is written by [`Encoder::start`].
fn csv_writer(out: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CorrectionsQuery {
    /// Reports received at or after (RFC 3339).
    since: Option<String>,
    /// Reports received before (RFC 3339); default: when the export starts.
    until: Option<String>,
    /// A captcha type (only `image` and `audio` take corrections).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    captcha_type: Option<String>,
    /// `jsonl` (default) or `csv`.
    format: Option<String>,
}

/// Parses the dataset's filters as the API and the CLI take them.
pub fn filter(
    since: Option<&str>,
    until: Option<&str>,
    captcha_type: Option<&str>,
) -> Result<CorrectionFilter, String> {
    let time =
        |text: &str, name: &str| Timestamp::parse_rfc3339(text).map_err(|e| format!("{name}: {e}"));
    Ok(CorrectionFilter {
        since: since.map(|t| time(t, "since")).transpose()?,
        until: until.map(|t| time(t, "until")).transpose()?,
        captcha_type: captcha_type
            .map(|t| CaptchaType::parse(t).map_err(|e| format!("type: {e}")))
            .transpose()?,
    })
}

/// `GET /v1/corrections` (admin): the corrections dataset, oldest report first.
#[utoipa::path(
    get, operation_id = "export_corrections", path = "/v1/corrections", tag = "corrections",
    params(CorrectionsQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200,
         description = "Every report with a correction, oldest first, streamed: as JSON Lines one \
                        CorrectionRecord a line; as CSV a header row, then one row a record with \
                        the same fields in the same order (absent values empty). A failure after \
                        the first bytes cuts the body off (no terminating chunk), never ends it \
                        cleanly.",
         content((CorrectionRecord = "application/x-ndjson"), (String = "text/csv"))),
        (status = 400, body = ErrorBody, description = "The request cannot be read"),
        (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
        (status = 503, body = ErrorBody, description = "Storage is unavailable"),
    ),
)]
pub(super) async fn export(
    State(app): State<AppState>,
    _: Admin,
    Query(q): Query<CorrectionsQuery>,
) -> Result<Response, ApiError> {
    let filter = filter(
        q.since.as_deref(),
        q.until.as_deref(),
        q.captcha_type.as_deref(),
    )
    .map_err(invalid)?;
    let format = match q.format.as_deref() {
        None => Format::JsonLines,
        Some(text) => Format::parse(text).ok_or_else(|| invalid("format must be jsonl or csv"))?,
    };
    let mut pages = app.engine.corrections(filter);
    let encoder = Encoder::new(format);
    // The first page is read before answering, so that a database that cannot be read is a
    // 503 in the API's error shape rather than a 200 cut off at once.
    let mut head = encoder.start().map_err(encoding_failed)?;
    if let Some(first) = pages.next_page().await? {
        head.extend(encoder.page(&first).map_err(encoding_failed)?);
    }
    let rest = futures_util::stream::try_unfold((pages, encoder), next_chunk);
    let body = futures_util::stream::once(async move { Ok::<_, BoxError>(Bytes::from(head)) });
    let disposition = format!(
        "attachment; filename=\"corrections.{}\"",
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(futures_util::StreamExt::chain(body, rest)),
    )
        .into_response())
}

/// The next page's bytes: read only once the body has sent the previous ones, so that one page
/// at a time is held however slowly the client reads.
async fn next_chunk(
    (mut pages, encoder): (CorrectionPages, Encoder),
) -> Result<Option<(Bytes, (CorrectionPages, Encoder))>, BoxError> {
    let page = match pages.next_page().await {
        Ok(Some(page)) => page,
        Ok(None) => return Ok(None),
        Err(e) => {
            // Too late for a status: the body is cut off, which the client sees as an
            // incomplete response.
            tracing::error!(error = %chain(&e), "the corrections export failed midway; the response is cut off");
            return Err(e.into());
        }
    };
    let bytes = encoder.page(&page)?;
    Ok(Some((Bytes::from(bytes), (pages, encoder))))
}

/// Writing into memory does not fail; if it ever did, it is ours, logged whole.
fn encoding_failed(e: std::io::Error) -> ApiError {
    verdict_engine::EngineError::Internal(e.into()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_domain::{Reason, TaskId, Verdict};

    fn row(correction: &str, solves: &[&str]) -> Correction {
        Correction {
            task: TaskId::parse("t1").unwrap(),
            captcha_type: CaptchaType::Image,
            provider: "prov, \"a\"".into(),
            worker: None,
            answer: Some("KWG90".into()),
            completed_at: Timestamp::from_millis(1_800_000_000_000),
            correction: correction.into(),
            trust_weight: 0.25,
            verdict: Verdict::Accepted,
            reason: Reason::RecheckConfirmed,
            solves: solves.iter().map(|s| (*s).to_owned()).collect(),
            reported_at: Timestamp::from_millis(1_800_000_060_000),
        }
    }

    #[test]
    fn the_csv_header_names_the_records_fields_in_their_order() {
        let mut with_header = csv::Writer::from_writer(Vec::new());
        with_header
            .serialize(CorrectionRecord::of(&row("KWG9O", &[])))
            .unwrap();
        let text = String::from_utf8(with_header.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), CSV_COLUMNS.join(","));
        let start = Encoder::new(Format::Csv).start().unwrap();
        assert_eq!(start, format!("{}\r\n", CSV_COLUMNS.join(",")).into_bytes());
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks_and_leaves_absent_values_empty() {
        let bytes = Encoder::new(Format::Csv)
            .page(&[row("line one\nline \"two\"", &["KWG9O"])])
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "t1,image,\"prov, \"\"a\"\"\",,KWG90,\"line one\nline \"\"two\"\"\",0.25,accepted,\
             recheck_confirmed,KWG9O,,unverified,2027-01-15T08:00:00Z,\
             2027-01-15T08:01:00Z\r\n"
        );
    }

    #[test]
    fn json_lines_hold_one_object_a_line_with_nulls_for_absent_values() {
        let bytes = Encoder::new(Format::JsonLines)
            .page(&[row("a\nb", &["zzz", "a\nB"]), row("KWG9O", &[])])
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "a line break inside a value is escaped");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["correction"], "a\nb");
        assert_eq!(first["worker"], serde_json::Value::Null);
        assert_eq!(first["second_solve"], "zzz");
        assert_eq!(first["third_solve"], "a\nB");
        assert_eq!(first["label_confidence"], "corroborated");
        assert_eq!(first["trust_weight"], 0.25);
        assert_eq!(first["type"], "image");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn filters_and_formats_are_read_or_named_wrong() {
        assert_eq!(Format::parse("csv"), Some(Format::Csv));
        assert_eq!(Format::parse("json"), None);
        let f = filter(Some("2027-01-01T00:00:00Z"), None, Some("audio")).unwrap();
        assert_eq!(f.captcha_type, Some(CaptchaType::Audio));
        assert!(f.since.is_some() && f.until.is_none());
        assert!(
            filter(Some("yesterday"), None, None)
                .unwrap_err()
                .starts_with("since:")
        );
        assert!(
            filter(None, None, Some("picture"))
                .unwrap_err()
                .starts_with("type:")
        );
    }
}
