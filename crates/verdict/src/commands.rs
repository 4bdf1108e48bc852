//! Operator commands that work on the database directly (SQLite beside a running server is fine:
//! WAL lets both read, and writes wait their turn). Output is the native API's JSON.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use verdict_domain::{AccountId, TaskId};
use verdict_http::native::views;

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
}

#[derive(Debug, Subcommand)]
pub enum Tasks {
    /// Import tasks from a file of NDJSON or a JSON array ("-" reads standard input).
    Import { file: PathBuf },
    /// Show a task with its report and verdict.
    Show { id: String },
}

fn print(value: &Value) -> anyhow::Result<()> {
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
            print(&views::account(&view, engine.now()))
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
                "entries": entries.iter().map(views::ledger_entry).collect::<Vec<_>>(),
            }))
        }
    }
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
            print(&views::task_story(&story))
        }
    }
}
