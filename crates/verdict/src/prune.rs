//! `verdict prune`: one retention pass by hand, on either backend, beside a running server or
//! not. The rule of what goes is `verdict_domain::retention`; this prints what went.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::config::Config;
use crate::server::open_engine;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Delete tasks completed longer ago than this, e.g. "90d" (default: `[retention] tasks`).
    /// Must be longer than every report window.
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<Duration>,
    /// Tasks looked at per transaction (default: `[retention] batch`).
    #[arg(long)]
    batch: Option<u32>,
}

/// Batches between two progress lines on stderr.
const PROGRESS_EVERY: u64 = 100;

pub async fn run(args: PruneArgs, config: &Config) -> anyhow::Result<()> {
    let engine = open_engine(config).await?;
    let mut retention = config.retention.clone();
    if let Some(age) = args.older_than {
        retention.tasks = Some(age);
    }
    let tasks = retention
        .tasks(engine.policy())?
        .context("give --older-than (e.g. 90d) or set [retention] tasks")?;
    let batch = args.batch.unwrap_or(retention.batch).max(1);
    let pruned = engine
        .prune_tasks_with(tasks, batch, |so_far| {
            if so_far.batches.is_multiple_of(PROGRESS_EVERY) {
                eprintln!(
                    "verdict: {} batches, {} tasks looked at, {} deleted so far",
                    so_far.batches, so_far.examined, so_far.tasks
                );
            }
        })
        .await?;
    let evidence = engine.prune_evidence().await?;
    crate::commands::print(&json!({
        "older_than": age_text(tasks.age()),
        "completed_before": pruned.cutoff.to_rfc3339(),
        "batch": batch,
        "batches": pruned.batches,
        "examined": pruned.examined,
        "deleted": {
            "tasks": pruned.tasks,
            "reports": pruned.reports,
            "rechecks": pruned.rechecks,
            "evidence_buckets": evidence,
        },
        "kept": {
            "money": pruned.kept_money,
            "open_rechecks": pruned.kept_open_recheck,
        },
    }))
}

/// "90d" for whole days, as operators write it (humantime would say "2months 29days 2h…").
pub(crate) fn age_text(age: Duration) -> String {
    let secs = age.as_secs();
    if secs.is_multiple_of(86_400) && age.subsec_nanos() == 0 {
        format!("{}d", secs / 86_400)
    } else {
        humantime::format_duration(age).to_string()
    }
}
