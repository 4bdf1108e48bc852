//! Operator commands. Accounts, tasks and reports: each is one native API request (or a few,
//! paging or importing), sent to a running server with `--server`, or else answered in this
//! process by the same router over the database (SQLite beside a running server is fine: WAL
//! lets both read, and writes wait their turn); output is a table, or with `--json` the API's
//! JSON. `export corrections` streams the dataset from the database itself.

mod api;
mod import;
mod tables;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use axum::http::Method;
use clap::Subcommand;
use serde::Serialize;
use serde_json::json;
use verdict_http::native::{
    AccountPage, AccountsQuery, CreatedAccount, Issued, KeyList, ReportPage, ReportsQuery, Revoked,
    corrections, views,
};

pub use api::Target;
use api::{Api, segment, with_query};

use crate::config::Config;
use crate::server::open_engine;

#[derive(Debug, Subcommand)]
pub enum Accounts {
    /// Create an account and print its API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Member of the trusted cohort that report rates are compared with.
        #[arg(long)]
        trusted: bool,
        /// Import the key the client already uses, read from standard input (one line), instead
        /// of generating one: kept off the command line and out of shell history.
        #[arg(long)]
        import_stdin: bool,
    },
    /// List accounts in id order, a page at a time.
    List {
        /// Only those to look at now: on ignored standing, flagged by the screen, or disabled.
        #[arg(long)]
        attention: bool,
        /// Start after this account id (a page's `next_cursor`).
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
        /// Accounts per page, 1 to 1000 (default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// Every page, not only the first.
        #[arg(long)]
        all: bool,
    },
    /// Show an account: balance, standing, 24 h statistics.
    Show { id: i64 },
    /// Show an account's ledger.
    Ledger { id: i64 },
    /// Put an account in the trusted cohort.
    Trust { id: i64 },
    /// Take an account out of the trusted cohort.
    Untrust { id: i64 },
    /// Put an account on ignored standing for a while (its incorrect-reports are not refunded),
    /// or lift that (--good).
    #[command(group = clap::ArgGroup::new("change").required(true))]
    Standing {
        id: i64,
        /// Ignore its reports for this long: 90m, 72h, 3d.
        #[arg(long, group = "change", value_name = "DURATION")]
        ignore_for: Option<String>,
        /// Ignore its reports until then (RFC 3339).
        #[arg(long, group = "change", value_name = "TIME")]
        ignore_until: Option<String>,
        /// Lift an ignore period: the account is in good standing again.
        #[arg(long, group = "change")]
        good: bool,
        /// Why (needed to ignore), as the account's standing will show it.
        #[arg(long, conflicts_with = "good")]
        reason: Option<String>,
    },
    /// List an account's API keys (never the keys themselves).
    Keys { id: i64 },
    /// Give an account one more API key, printed once.
    AddKey {
        id: i64,
        #[arg(long)]
        label: Option<String>,
        /// Import the key the client already uses, read from standard input (one line), instead
        /// of generating one: kept off the command line and out of shell history.
        #[arg(long)]
        import_stdin: bool,
    },
    /// Issue a new API key (printed once); the account's other keys stop working after the
    /// grace period.
    RotateKey {
        id: i64,
        /// How long the replaced keys keep working: 0s (stop now) to 30d.
        #[arg(long, default_value = "24h")]
        grace: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke one API key now (by its id, as `keys` lists it).
    RevokeKey { id: i64, key: String },
    /// Disable an account: none of its keys opens anything until it is enabled.
    Disable {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Enable a disabled account.
    Enable { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum Tasks {
    /// Import tasks from a JSON array, NDJSON or CSV file ("-" reads standard input), in
    /// batches, with a progress bar on a terminal.
    Import {
        file: PathBuf,
        /// The file's format; by default its extension's (.json, .ndjson or .jsonl, .csv), else
        /// a JSON array if it starts with `[`, else NDJSON.
        #[arg(long, value_enum)]
        format: Option<import::Format>,
        /// Records sent per request.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
    },
    /// Show a task with its report and verdict.
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum Reports {
    /// List reports, newest first, with their verdict, reason and refund.
    List {
        /// One account's reports.
        #[arg(long)]
        account: Option<i64>,
        /// accepted, rejected, acknowledged or pending.
        #[arg(long)]
        verdict: Option<String>,
        /// A reason code, as reports show it.
        #[arg(long)]
        reason: Option<String>,
        /// A captcha type.
        #[arg(long = "type")]
        captcha_type: Option<String>,
        /// The wire dialect reports arrived in (anticaptcha, twocaptcha, native, …).
        #[arg(long)]
        dialect: Option<String>,
        /// Received at or after (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Received before (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Reports per page, 1 to 1000 (default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// Start where a page ended (its `next_cursor`).
        #[arg(long)]
        cursor: Option<String>,
        /// Every page from there on, not only the first.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Export {
    /// The corrections dataset (docs/corrections.md): every report with a correction, oldest
    /// first, streamed as it is read, so that any number of rows takes the same memory.
    Corrections {
        /// Reports received at or after (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Reports received before (RFC 3339); default: when the export starts.
        #[arg(long)]
        until: Option<String>,
        /// Only tasks of this captcha type (image, audio).
        #[arg(long = "type")]
        captcha_type: Option<String>,
        /// jsonl (one JSON object a line) or csv (RFC 4180, with a header row).
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "csv"])]
        format: String,
        /// Write to FILE instead of standard output. FILE appears only once complete: the
        /// export is written beside it and renamed at the end.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub(crate) fn print(value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    write_out(&text)
}

/// An answer as JSON or as a table.
fn show<T: Serialize>(
    json: bool,
    answer: &T,
    table: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        print(answer)
    } else {
        write_out(table(answer).as_bytes())
    }
}

fn write_out(text: &[u8]) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text) {
        // `verdict … | head` is a reader that had enough, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        done => Ok(done?),
    }
}

/// A key given on standard input, one line.
fn read_key() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// Where to ask for the next page, when a listing stops after the first.
fn more_pages(json: bool, next: Option<String>) {
    if let (false, Some(next)) = (json, next) {
        eprintln!("more: {next} (or --all)");
    }
}

pub async fn accounts(target: Target, cmd: Accounts, config: &Config) -> anyhow::Result<()> {
    let api = Api::open(&target, config).await?;
    let json = target.json;
    match cmd {
        Accounts::Create {
            name,
            trusted,
            import_stdin,
        } => {
            let api_key = import_stdin.then(read_key).transpose()?;
            let body = json!({ "name": name, "trusted": trusted, "api_key": api_key });
            let created: CreatedAccount =
                api.send_json(Method::POST, "/v1/accounts", &body).await?;
            show(json, &created, tables::created)
        }
        Accounts::List {
            attention,
            after,
            limit,
            all,
        } => {
            let mut query = AccountsQuery {
                after,
                limit,
                attention: attention.then_some(true),
            };
            let mut page: AccountPage = api.get(&with_query("/v1/accounts", &query)?).await?;
            while all && let Some(next) = page.next_cursor {
                query.after = Some(next);
                let more: AccountPage = api.get(&with_query("/v1/accounts", &query)?).await?;
                page.accounts.extend(more.accounts);
                page.next_cursor = more.next_cursor;
            }
            more_pages(json, page.next_cursor.map(|n| format!("--after {n}")));
            show(json, &page, tables::accounts)
        }
        Accounts::Show { id } => {
            let account: views::Account = api.get(&format!("/v1/accounts/{id}")).await?;
            show(json, &account, tables::account)
        }
        Accounts::Ledger { id } => {
            let ledger: views::Ledger = api.get(&format!("/v1/accounts/{id}/ledger")).await?;
            show(json, &ledger, tables::ledger)
        }
        Accounts::Trust { id } => patch(&api, json, id, json!({ "trusted": true })).await,
        Accounts::Untrust { id } => patch(&api, json, id, json!({ "trusted": false })).await,
        Accounts::Disable { id, reason } => {
            patch(
                &api,
                json,
                id,
                json!({ "disabled": true, "reason": reason }),
            )
            .await
        }
        Accounts::Enable { id } => patch(&api, json, id, json!({ "disabled": false })).await,
        Accounts::Standing {
            id,
            ignore_for,
            ignore_until,
            good,
            reason,
        } => {
            let body = if good {
                json!({ "state": "good" })
            } else {
                json!({ "state": "ignored", "for": ignore_for, "until": ignore_until, "reason": reason })
            };
            let account: views::Account = api
                .send_json(Method::PUT, &format!("/v1/accounts/{id}/standing"), &body)
                .await?;
            show(json, &account, tables::account)
        }
        Accounts::Keys { id } => {
            let keys: KeyList = api.get(&format!("/v1/accounts/{id}/keys")).await?;
            show(json, &keys, tables::keys)
        }
        Accounts::AddKey {
            id,
            label,
            import_stdin,
        } => {
            let api_key = import_stdin.then(read_key).transpose()?;
            let body = json!({ "label": label, "api_key": api_key });
            let issued: Issued = api
                .send_json(Method::POST, &format!("/v1/accounts/{id}/keys"), &body)
                .await?;
            show(json, &issued, tables::issued)
        }
        Accounts::RotateKey { id, grace, label } => {
            let body = json!({ "label": label, "grace": grace });
            let issued: Issued = api
                .send_json(
                    Method::POST,
                    &format!("/v1/accounts/{id}/keys/rotate"),
                    &body,
                )
                .await?;
            show(json, &issued, tables::issued)
        }
        Accounts::RevokeKey { id, key } => {
            let path = format!("/v1/accounts/{id}/keys/{}", segment(&key));
            let revoked: Revoked = api.send(Method::DELETE, &path, None).await?;
            show(json, &revoked, |r| tables::key(&r.key))
        }
    }
}

/// `PATCH /v1/accounts/{id}`: trust, disable, and their opposites.
async fn patch(api: &Api, json: bool, id: i64, body: serde_json::Value) -> anyhow::Result<()> {
    let account: views::Account = api
        .send_json(Method::PATCH, &format!("/v1/accounts/{id}"), &body)
        .await?;
    show(json, &account, tables::account)
}

pub async fn tasks(target: Target, cmd: Tasks, config: &Config) -> anyhow::Result<()> {
    let api = Api::open(&target, config).await?;
    match cmd {
        Tasks::Import {
            file,
            format,
            batch,
        } => {
            let imported = import::import(&api, &file, format, batch).await?;
            if target.json {
                print(&imported.answer())
            } else {
                write_out(tables::imported(&imported).as_bytes())
            }
        }
        Tasks::Show { id } => {
            let story: views::TaskStoryView =
                api.get(&format!("/v1/tasks/{}", segment(&id))).await?;
            show(target.json, &story, tables::task)
        }
    }
}

pub async fn reports(target: Target, cmd: Reports, config: &Config) -> anyhow::Result<()> {
    let api = Api::open(&target, config).await?;
    let Reports::List {
        account,
        verdict,
        reason,
        captcha_type,
        dialect,
        since,
        until,
        limit,
        cursor,
        all,
    } = cmd;
    let mut query = ReportsQuery {
        account,
        verdict,
        reason,
        captcha_type,
        dialect,
        since,
        until,
        limit,
        cursor,
    };
    let mut page: ReportPage = api.get(&with_query("/v1/reports", &query)?).await?;
    while all && let Some(next) = page.next_cursor.take() {
        query.cursor = Some(next);
        let more: ReportPage = api.get(&with_query("/v1/reports", &query)?).await?;
        page.reports.extend(more.reports);
        page.next_cursor = more.next_cursor;
    }
    more_pages(
        target.json,
        page.next_cursor.as_ref().map(|c| format!("--cursor {c}")),
    );
    show(target.json, &page, tables::reports)
}

pub async fn export(cmd: Export, config: &Config) -> anyhow::Result<()> {
    let Export::Corrections {
        since,
        until,
        captcha_type,
        format,
        output,
    } = cmd;
    let filter = corrections::filter(since.as_deref(), until.as_deref(), captcha_type.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    let format = corrections::Format::parse(&format).context("format must be jsonl or csv")?;
    let engine = open_engine(config).await?;
    let pages = engine.corrections(filter);
    let Some(output) = output else {
        let mut out = std::io::BufWriter::with_capacity(EXPORT_BUFFER, std::io::stdout());
        return match write_corrections(pages, format, &mut out).await {
            // `verdict export corrections | head` is a reader that had enough, not a failure.
            Err(e) if is_broken_pipe(&e) => Ok(()),
            other => other.map(drop),
        };
    };
    let mut partial = output.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut out = std::io::BufWriter::with_capacity(EXPORT_BUFFER, file);
    let written = async {
        let rows = write_corrections(pages, format, &mut out).await?;
        out.into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
            .context("writing the export to disk")?;
        std::fs::rename(&partial, &output)
            .with_context(|| format!("renaming {} to {}", partial.display(), output.display()))?;
        anyhow::Ok(rows)
    }
    .await;
    match written {
        Ok(rows) => {
            eprintln!("{rows} corrections written to {}", output.display());
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e.context(format!("{} was not written", output.display())))
        }
    }
}

/// What the export writes through at a time.
const EXPORT_BUFFER: usize = 64 * 1024;

/// Writes the dataset page by page, each page encoded and written before the next is read;
/// the number of rows.
async fn write_corrections(
    mut pages: verdict_engine::CorrectionPages,
    format: corrections::Format,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let encoder = corrections::Encoder::new(format);
    out.write_all(&encoder.start()?)?;
    let mut rows = 0u64;
    while let Some(page) = pages.next_page().await? {
        out.write_all(&encoder.page(&page)?)?;
        rows += page.len() as u64;
    }
    out.flush()?;
    Ok(rows)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
