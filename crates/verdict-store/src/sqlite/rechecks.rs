//! The re-check queue on SQLite. Claims and settlements run in the writer's transaction, so a
//! task is handed to one re-solver at a time and settled once.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use verdict_domain::plan::SettlementWrites;
use verdict_domain::timestamp::hour_of;
use verdict_domain::{TaskId, Timestamp};

use super::statistics::{apply_account_changes, family_record, save_precision};
use super::writer::Tx;
use super::{account_by_id, existing_report, insert_entry, task_with_report};
use crate::metrics::Reversed;
use crate::{RecheckItem, RecheckSubject, Settled, StoreError, StoreResult};

pub(super) fn enqueue(
    conn: &Connection,
    task: &TaskId,
    account: verdict_domain::AccountId,
    now: Timestamp,
    deadline: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO rechecks (task_id, account_id, created_at, deadline) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (task_id) DO NOTHING",
    )?
    .execute(params![
        task.as_str(),
        account.0,
        now.as_millis(),
        deadline.as_millis()
    ])?;
    Ok(())
}

pub(super) fn claim(
    conn: &Connection,
    now: Timestamp,
    lease: Duration,
) -> StoreResult<Option<RecheckItem>> {
    let found: Option<(String, i64)> = conn
        .prepare_cached(
            "SELECT task_id, deadline FROM rechecks
             WHERE resolved_at IS NULL AND (claimed_until IS NULL OR claimed_until <= ?1)
             ORDER BY created_at LIMIT 1",
        )?
        .query_row([now.as_millis()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((task_id, deadline)) = found else {
        return Ok(None);
    };
    let claimed_until = now.saturating_add(lease);
    conn.prepare_cached("UPDATE rechecks SET claimed_until = ?1 WHERE task_id = ?2")?
        .execute(params![claimed_until.as_millis(), task_id])?;
    let task_id = TaskId::parse(&task_id).map_err(StoreError::stored_value)?;
    let (task, report) = task_with_report(conn, &task_id)?.ok_or(StoreError::NotFound)?;
    Ok(Some(RecheckItem {
        task,
        report: report.ok_or(StoreError::NotFound)?,
        deadline: Timestamp::from_millis(deadline),
        claimed_until,
    }))
}

pub(super) fn subject(
    conn: &Connection,
    task_id: &TaskId,
    now: Timestamp,
) -> StoreResult<Option<RecheckSubject>> {
    let open: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM rechecks WHERE task_id = ?1 AND resolved_at IS NULL)",
        )?
        .query_row([task_id.as_str()], |r| r.get(0))?;
    if !open {
        return Ok(None);
    }
    let Some((task, Some(report))) = task_with_report(conn, task_id)? else {
        return Ok(None);
    };
    let account = account_by_id(conn, report.account)?.ok_or(StoreError::NotFound)?;
    let family = family_record(
        conn,
        account.id,
        task.captcha_type.family(),
        hour_of(now) - 23,
    )?;
    Ok(Some(RecheckSubject {
        task,
        report,
        account,
        precision: family.precision,
        precision_at: family.precision_at,
        last_day: family.activity.window(now, 24),
    }))
}

/// Applies [`SettlementWrites`] if the report is still pending.
/// Settles a pending report; returns how, and the refunds its account changes took back.
pub(super) fn settle(
    conn: &Tx<'_>,
    writes: &SettlementWrites,
) -> StoreResult<(Settled, Vec<Reversed>)> {
    let report = &writes.report;
    let evidence = crate::evidence_column(report)?;
    let (recheck_suspect, recheck_solves) = crate::recheck_columns(report)?;
    if writes.still_pending() {
        // Not conclusive: keep the solve and put the task back in the queue.
        let changed = conn
            .prepare_cached(
                "UPDATE reports SET evidence = ?1, recheck_suspect = ?2, recheck_solves = ?3
                 WHERE task_id = ?4 AND verdict = 'pending'",
            )?
            .execute(params![
                evidence,
                recheck_suspect,
                recheck_solves,
                report.task.as_str()
            ])?;
        if changed == 0 {
            return Ok((
                Settled::Already(existing_report(conn, &report.task)?),
                Vec::new(),
            ));
        }
        conn.prepare_cached("UPDATE rechecks SET claimed_until = NULL WHERE task_id = ?1")?
            .execute([report.task.as_str()])?;
        return Ok((Settled::Now(report.clone()), Vec::new()));
    }
    let changed = conn
        .prepare_cached(
            "UPDATE reports SET verdict = ?1, reason = ?2, evidence = ?3, refund_micros = ?4,
                 recheck_suspect = ?5, recheck_solves = ?6
             WHERE task_id = ?7 AND verdict = 'pending'",
        )?
        .execute(params![
            report.verdict.as_str(),
            report.reason.code(),
            evidence,
            report.refund.map(|a| a.micros()),
            recheck_suspect,
            recheck_solves,
            report.task.as_str()
        ])?;
    if changed == 0 {
        return Ok((
            Settled::Already(existing_report(conn, &report.task)?),
            Vec::new(),
        ));
    }
    conn.prepare_cached("UPDATE rechecks SET resolved_at = ?1 WHERE task_id = ?2")?
        .execute(params![writes.at.as_millis(), report.task.as_str()])?;
    if let Some(entry) = &writes.refund {
        insert_entry(conn, entry)?;
    }
    if let Some(activity) = &writes.activity {
        conn.pending().activity(activity);
    }
    save_precision(conn, &writes.precision)?;
    super::scores::add_evidence(conn, &writes.solver)?;
    let reversed = apply_account_changes(conn, &writes.account)?;
    Ok((Settled::Now(report.clone()), reversed))
}

pub(super) fn overdue(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<Vec<TaskId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT task_id FROM rechecks WHERE resolved_at IS NULL AND deadline <= ?1 ORDER BY deadline LIMIT ?2",
    )?;
    let ids = stmt
        .query_map(params![now.as_millis(), limit], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    ids.iter()
        .map(|id| TaskId::parse(id).map_err(StoreError::stored_value))
        .collect()
}
