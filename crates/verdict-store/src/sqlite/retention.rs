//! Retention on SQLite: task batches and evidence batches, each one job of the writer. The
//! writer is shared with reports and takes jobs in order, so a report that arrives while a
//! prune runs waits for the batch in progress, never for the whole prune.

use rusqlite::{Connection, params};
use verdict_domain::Timestamp;

use crate::{PrunedTasks, StoreResult, TaskCursor};

/// One batch of [`crate::Store::prune_tasks`]: select, ask the domain, delete the children
/// first (re-checks reference reports, reports reference tasks).
pub(super) fn prune_tasks(
    conn: &Connection,
    before: Timestamp,
    after: Option<&TaskCursor>,
    limit: u32,
) -> StoreResult<PrunedTasks> {
    let (from_at, from_id) = crate::cursor_position(after);
    // `$1`…`$4` bind by position here too: SQLite numbers named parameters in order of first
    // appearance, and `OLD_TASKS` uses each first in numeric order.
    let rows = conn
        .prepare_cached(crate::OLD_TASKS)?
        .query_map(params![before.as_millis(), from_at, from_id, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (doomed, mut tally) = crate::judge_old_tasks(rows, before, limit)?;
    let mut rechecks = conn.prepare_cached("DELETE FROM rechecks WHERE task_id = ?1")?;
    let mut reports = conn.prepare_cached("DELETE FROM reports WHERE task_id = ?1")?;
    let mut tasks = conn.prepare_cached("DELETE FROM tasks WHERE id = ?1")?;
    for id in &doomed {
        tally.rechecks += rechecks.execute([id])? as u64;
        tally.reports += reports.execute([id])? as u64;
        tally.tasks += tasks.execute([id])? as u64;
    }
    Ok(tally)
}

/// Drops up to `limit` evidence buckets older than the given buckets; returns how many. The
/// caller repeats it until fewer than `limit` go.
pub(super) fn prune_evidence(
    conn: &Connection,
    (minute, hour, day): (i64, i64, i64),
    limit: u32,
) -> StoreResult<u64> {
    let providers = conn
        .prepare_cached(
            "DELETE FROM provider_evidence WHERE rowid IN (
                 SELECT rowid FROM provider_evidence
                 WHERE (resolution = 'minute' AND bucket < ?1) OR (resolution = 'hour' AND bucket < ?2)
                 LIMIT ?3)",
        )?
        .execute(params![minute, hour, limit])?;
    let left = limit.saturating_sub(u32::try_from(providers).unwrap_or(u32::MAX));
    let workers = if left > 0 {
        conn.prepare_cached(
            "DELETE FROM worker_evidence WHERE rowid IN (
                 SELECT rowid FROM worker_evidence WHERE day < ?1 LIMIT ?2)",
        )?
        .execute(params![day, left])?
    } else {
        0
    };
    Ok((providers + workers) as u64)
}
