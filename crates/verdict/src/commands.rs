//! Operator commands that work on the database directly (SQLite beside a running server is fine:
//! WAL lets both read, and writes wait their turn). Output is the native API's JSON.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use secrecy::ExposeSecret;
use serde_json::json;
use verdict_domain::keys::KeyId;
use verdict_domain::{AccountId, ApiKey, TaskId};
use verdict_http::native::{KeyView, corrections, views};

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
    },
    /// Show an account: balance, standing, 24 h statistics.
    Show { id: i64 },
    /// Show an account's ledger.
    Ledger { id: i64 },
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
        /// How long the replaced keys keep working ("0s": stop now).
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
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
    /// Import tasks from a file of NDJSON or a JSON array ("-" reads standard input).
    Import { file: PathBuf },
    /// Show a task with its report and verdict.
    Show { id: String },
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

pub(crate) fn print(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

pub async fn accounts(cmd: Accounts, config: &Config) -> anyhow::Result<()> {
    let engine = open_engine(config).await?;
    match cmd {
        Accounts::Create { name, trusted } => {
            let (account, key) = engine.create_account(name, trusted, None).await?;
            print(&json!({
                "id": account.id.0, "name": account.name, "trusted": account.trusted, "api_key": key.expose()
            }))
        }
        Accounts::Show { id } => {
            let view = engine
                .account(AccountId(id))
                .await
                .context("no such account")?;
            print(&views::Account::of(&view, engine.now()))
        }
        Accounts::Ledger { id } => {
            let view = engine
                .account(AccountId(id))
                .await
                .context("no such account")?;
            let entries = engine.ledger(AccountId(id)).await?;
            print(&json!({
                "account": id,
                "balance": view.account.balance.to_string(),
                "entries": entries.iter().map(views::Entry::of).collect::<Vec<_>>(),
            }))
        }
        Accounts::Keys { id } => {
            let keys = engine
                .keys(AccountId(id))
                .await
                .context("no such account")?;
            let now = engine.now();
            print(&json!({
                "account": id,
                "keys": keys.iter().map(|k| KeyView::of(k, now)).collect::<Vec<_>>(),
            }))
        }
        Accounts::AddKey {
            id,
            label,
            import_stdin,
        } => {
            let import = if import_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(ApiKey::parse(line.trim()).map_err(|e| anyhow::anyhow!("the key read: {e}"))?)
            } else {
                None
            };
            remember_admin_token(&engine, config).await?;
            let issued = engine.add_key(AccountId(id), label, import).await?;
            print(&json!({
                "account": id,
                "key": KeyView::of(&issued.record, engine.now()),
                "api_key": issued.key.expose(),
            }))
        }
        Accounts::RotateKey { id, grace, label } => {
            let (issued, keys) = engine.rotate_keys(AccountId(id), label, grace).await?;
            let now = engine.now();
            print(&json!({
                "account": id,
                "key": KeyView::of(&issued.record, now),
                "api_key": issued.key.expose(),
                "keys": keys.iter().map(|k| KeyView::of(k, now)).collect::<Vec<_>>(),
            }))
        }
        Accounts::RevokeKey { id, key } => {
            let key = KeyId::parse(&key).with_context(|| format!("{key:?} is not a key id"))?;
            let record = engine
                .revoke_key(AccountId(id), &key)
                .await
                .context("no such key on that account")?;
            print(&json!({ "account": id, "key": KeyView::of(&record, engine.now()) }))
        }
        Accounts::Disable { id, reason } => {
            engine.disable_account(AccountId(id), reason).await?;
            let view = engine.account(AccountId(id)).await?;
            print(&views::Account::of(&view, engine.now()))
        }
        Accounts::Enable { id } => {
            engine.enable_account(AccountId(id)).await?;
            let view = engine.account(AccountId(id)).await?;
            print(&views::Account::of(&view, engine.now()))
        }
    }
}

/// Registers a configured admin token with the engine, so that an imported key equal to it is
/// refused (a generated one is found in the database).
async fn remember_admin_token(
    engine: &verdict_engine::Engine,
    config: &Config,
) -> anyhow::Result<()> {
    if let Some(token) = &config.admin_token {
        engine.admin_token(Some(token.expose_secret())).await?;
    }
    Ok(())
}

pub async fn tasks(cmd: Tasks, config: &Config) -> anyhow::Result<()> {
    let engine = open_engine(config).await?;
    match cmd {
        Tasks::Import { file } => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
            }
            let is_array = text.trim_start().starts_with('[');
            let records = verdict_http::native::parse_batch(text.as_bytes(), !is_array)
                .map_err(|e| anyhow::anyhow!(e))?;
            let summary = engine.ingest(records).await?;
            print(&json!({
                "inserted": summary.inserted,
                "duplicates": summary.duplicates,
                "rejected": summary.rejected.iter().map(|(i, e)| json!({"index": i, "error": e})).collect::<Vec<_>>(),
            }))
        }
        Tasks::Show { id } => {
            let id = TaskId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some(story) = engine.task_story(&id).await? else {
                bail!("no task {id}");
            };
            print(&views::TaskStoryView::of(&story))
        }
    }
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
