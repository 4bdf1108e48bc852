//! `verdict tasks import`: task records read from a JSON array, NDJSON or CSV file (or standard
//! input) and sent to `POST /v1/tasks` a batch at a time, the next batch read while the server
//! stores the last, so that a file of any size takes the memory of a few batches. What the file
//! itself cannot give (a line that is not JSON, a CSV row with too few fields) is rejected here
//! with its line; every record read is the server's to judge.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use axum::http::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::de::{SeqAccess, Visitor};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use verdict_http::native::{IngestAnswer, Rejected};

use super::api::Api;

/// How a task file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON array of task records.
    Json,
    /// One task record (a JSON object) a line.
    Ndjson,
    /// A header row naming the fields, then one task a row; an empty cell is an absent field.
    Csv,
}

/// The columns a CSV file may have: the fields of a task record.
const CSV_COLUMNS: [&str; 8] = [
    "id",
    "account",
    "type",
    "provider",
    "worker",
    "answer",
    "cost",
    "completed_at",
];

/// Where a record is in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Line(u64),
    /// From 1, in a JSON array.
    Record(u64),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// A record that was not stored.
#[derive(Debug)]
pub struct Refused {
    /// Its position among the file's records, from 0: what `POST /v1/tasks` would call it had
    /// the whole file been sent at once.
    pub index: usize,
    pub place: Place,
    pub error: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub inserted: usize,
    pub duplicates: usize,
    pub rejected: Vec<Refused>,
    /// Requests sent.
    pub batches: usize,
}

impl Imported {
    /// As the native API answers a batch: a line-based file's rejections say their line, as the
    /// API's own do for NDJSON; a JSON array's have their index alone.
    pub fn answer(&self) -> IngestAnswer {
        IngestAnswer {
            inserted: self.inserted,
            duplicates: self.duplicates,
            rejected: self
                .rejected
                .iter()
                .map(|r| Rejected {
                    index: r.index,
                    error: match r.place {
                        Place::Line(_) => format!("{}: {}", r.place, r.error),
                        Place::Record(_) => r.error.clone(),
                    },
                })
                .collect(),
        }
    }
}

/// One record as read: the text of its JSON value, or why the file does not give one.
#[derive(Debug)]
struct Entry {
    index: usize,
    place: Place,
    record: Result<Box<RawValue>, String>,
}

/// The format `given`, else the one the file's extension names, else (standard input, another
/// extension) a JSON array if the first thing in it is `[`, NDJSON otherwise.
fn format_of(file: &Path, given: Option<Format>, start: &[u8]) -> Format {
    if let Some(format) = given {
        return format;
    }
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("json") => Format::Json,
        Some("ndjson" | "jsonl") => Format::Ndjson,
        Some("csv") => Format::Csv,
        _ if start.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') => Format::Json,
        _ => Format::Ndjson,
    }
}

/// Reads `file` ("-": standard input) and sends it in batches of `batch` records.
pub async fn import(
    api: &Api,
    file: &Path,
    given: Option<Format>,
    batch: usize,
) -> anyhow::Result<Imported> {
    anyhow::ensure!(batch > 0, "--batch must be at least 1");
    let (source, length): (Box<dyn Read + Send>, Option<u64>) = if file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let opened =
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let length = opened.metadata().ok().map(|m| m.len());
        (Box::new(opened), length)
    };
    let progress = progress_bar(length);
    let mut input = BufReader::new(progress.wrap_read(source));
    let format = format_of(file, given, input.fill_buf()?);
    let (sender, mut batches) = mpsc::channel(1);
    let name = file.display().to_string();
    let reader = tokio::task::spawn_blocking(move || {
        let mut batcher = Batcher {
            sender,
            size: batch,
            batch: Vec::new(),
            records: 0,
        };
        let read = match format {
            Format::Json => read_array(input, &mut batcher),
            Format::Ndjson => read_lines(input, &mut batcher),
            Format::Csv => read_csv(input, &mut batcher),
        };
        batcher.finish(read.with_context(|| format!("reading {name}")));
    });
    let mut imported = Imported::default();
    let mut records = 0;
    while let Some(entries) = batches.recv().await {
        let entries = match entries {
            Ok(entries) => entries,
            Err(unreadable) => {
                progress.finish_and_clear();
                return Err(unreadable.context(stored_before(&imported)));
            }
        };
        records += entries.len();
        if let Err(e) = send(api, entries, &mut imported).await {
            progress.finish_and_clear();
            return Err(e.context(stored_before(&imported)));
        }
        progress.set_message(format!(
            "{records} records: {} inserted, {} duplicates, {} rejected",
            imported.inserted,
            imported.duplicates,
            imported.rejected.len()
        ));
    }
    reader.await.context("the file's reader stopped")?;
    progress.finish_and_clear();
    imported.rejected.sort_by_key(|r| r.index);
    Ok(imported)
}

/// What an import that stopped part-way had stored: sending the file again stores the rest.
fn stored_before(imported: &Imported) -> String {
    if imported.batches == 0 {
        return "the import stopped before it stored anything".to_owned();
    }
    format!(
        "the import stopped after {} batches ({} tasks inserted, {} duplicates); importing the \
         file again stores the rest and counts those as duplicates",
        imported.batches, imported.inserted, imported.duplicates
    )
}

/// Sends one batch's readable records as a JSON array; its rejections, and those the file
/// itself made, go to `imported` with their place.
async fn send(api: &Api, entries: Vec<Entry>, imported: &mut Imported) -> anyhow::Result<()> {
    let mut body = Vec::with_capacity(entries.len() * 256);
    body.push(b'[');
    let mut sent = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry.record {
            Ok(raw) => {
                if !sent.is_empty() {
                    body.push(b',');
                }
                body.extend_from_slice(raw.get().as_bytes());
                sent.push((entry.index, entry.place));
            }
            Err(error) => imported.rejected.push(Refused {
                index: entry.index,
                place: entry.place,
                error,
            }),
        }
    }
    body.push(b']');
    if sent.is_empty() {
        return Ok(());
    }
    let answer: IngestAnswer = api
        .send(Method::POST, "/v1/tasks", Some(body.into()))
        .await?;
    imported.batches += 1;
    imported.inserted += answer.inserted;
    imported.duplicates += answer.duplicates;
    for rejected in answer.rejected {
        let &(index, place) = sent
            .get(rejected.index)
            .context("the server named a record it was not sent")?;
        imported.rejected.push(Refused {
            index,
            place,
            error: rejected.error,
        });
    }
    Ok(())
}

/// On stderr, and only to a person: hidden when stderr is a file or a pipe.
fn progress_bar(length: Option<u64>) -> ProgressBar {
    let target = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let (bar, template) = match length {
        Some(length) => (
            ProgressBar::with_draw_target(Some(length), target),
            "{bar:30} {bytes}/{total_bytes} {msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, target),
            "{spinner} {bytes} read {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Cuts the records read into batches and hands each to the sender, waiting while the one
/// before is still being sent.
struct Batcher {
    sender: mpsc::Sender<anyhow::Result<Vec<Entry>>>,
    size: usize,
    batch: Vec<Entry>,
    /// Records read so far: the index of the next one.
    records: usize,
}

impl Batcher {
    /// False once the sender has stopped (it failed): reading on would be wasted.
    fn push(&mut self, place: Place, record: Result<Box<RawValue>, String>) -> bool {
        self.batch.push(Entry {
            index: self.records,
            place,
            record,
        });
        self.records += 1;
        if self.batch.len() < self.size {
            return true;
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(self.size));
        self.sender.blocking_send(Ok(full)).is_ok()
    }

    /// Sends the last batch, then what stopped the reading, if anything did.
    fn finish(mut self, read: anyhow::Result<()>) {
        if !self.batch.is_empty() {
            let _ = self
                .sender
                .blocking_send(Ok(std::mem::take(&mut self.batch)));
        }
        if let Err(e) = read {
            let _ = self.sender.blocking_send(Err(e));
        }
    }
}

/// NDJSON: one record a line; blank lines skipped; an `\r` before the line end dropped.
fn read_lines(mut input: impl BufRead, out: &mut Batcher) -> anyhow::Result<()> {
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        // The API's own words for the same faults in an NDJSON batch.
        let record = match std::str::from_utf8(text) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => serde_json::from_str::<Box<RawValue>>(text)
                .map_err(|e| format!("not a JSON object: {e}")),
            Err(e) => Err(format!("not UTF-8: {e}")),
        };
        if !out.push(Place::Line(number), record) {
            return Ok(());
        }
    }
}

/// A JSON array, read an element at a time (never whole).
fn read_array(input: impl BufRead, out: &mut Batcher) -> anyhow::Result<()> {
    let mut parser = serde_json::Deserializer::from_reader(input);
    serde::Deserializer::deserialize_seq(&mut parser, Elements { out })
        .context("not a JSON array of task records")?;
    parser.end().context("more after the JSON array")?;
    Ok(())
}

/// Hands each element of the array being parsed to the batcher.
struct Elements<'a> {
    out: &'a mut Batcher,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of task records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<(), A::Error> {
        let mut number = 0;
        while let Some(raw) = elements.next_element::<Box<RawValue>>()? {
            number += 1;
            if !self.out.push(Place::Record(number), Ok(raw)) {
                return Err(serde::de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

/// CSV with a header row of task record fields; each row becomes a record whose fields are
/// its non-empty cells, as strings (the API reads `account` and `cost` from strings too).
fn read_csv(input: impl BufRead, out: &mut Batcher) -> anyhow::Result<()> {
    let mut reader = csv::Reader::from_reader(input);
    let columns = reader.headers().context("the header row")?.clone();
    for (n, name) in columns.iter().enumerate() {
        anyhow::ensure!(
            CSV_COLUMNS.contains(&name),
            "the header row names {name:?}; the columns are {}",
            CSV_COLUMNS.join(", ")
        );
        anyhow::ensure!(
            !columns.iter().take(n).any(|earlier| earlier == name),
            "the header row names {name:?} twice"
        );
    }
    let mut row = csv::StringRecord::new();
    loop {
        let (line, record) = match reader.read_record(&mut row) {
            Ok(false) => return Ok(()),
            Ok(true) => (
                row.position().map_or(0, csv::Position::line),
                object(&columns, &row),
            ),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let why = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields where the header row has {expected_len}"),
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_owned(),
                    _ => return Err(e).context("reading the CSV"),
                };
                (line, Err(why))
            }
        };
        if !out.push(Place::Line(line), record) {
            return Ok(());
        }
    }
}

fn object(columns: &csv::StringRecord, row: &csv::StringRecord) -> Result<Box<RawValue>, String> {
    let fields: serde_json::Map<String, serde_json::Value> = columns
        .iter()
        .zip(row)
        .filter(|(_, cell)| !cell.is_empty())
        .map(|(name, cell)| (name.to_owned(), cell.into()))
        .collect();
    serde_json::value::to_raw_value(&fields).map_err(|e| e.to_string())
}
