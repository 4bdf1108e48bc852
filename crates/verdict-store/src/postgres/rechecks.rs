//! The re-check queue on PostgreSQL, shared by every node. A claim is one `UPDATE` of the
//! oldest open row that no lease holds and no other transaction has locked (`FOR UPDATE SKIP
//! LOCKED`), so two nodes asking at once are handed different tasks. A settlement changes the
//! report only while it is still `pending`, so whichever node settles first wins and the others
//! read back its result. Queueing happens with the report, in the writer's batch.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use verdict_domain::plan::SettlementWrites;
use verdict_domain::timestamp::hour_of;
use verdict_domain::{TaskId, Timestamp};

use super::PgResult;
use super::rows::{self, REPORT_COLUMNS, TASK_COLUMNS, get};
use super::statistics::{apply_account_changes, bump_activity, family_record, save_precision};
use super::{account_by_id, existing_report, insert_entry, task_with_report};
use crate::metrics::Reversed;
use crate::{RecheckItem, RecheckSubject, Settled, StoreError};

/// Claims the oldest open re-check nobody holds until `now + lease`; one statement, so its own
/// transaction.
pub(super) async fn claim<C: GenericClient>(
    client: &C,
    now: Timestamp,
    lease: Duration,
) -> PgResult<Option<RecheckItem>> {
    let claimed_until = now.saturating_add(lease);
    let sql = format!(
        "WITH claimed AS (
             UPDATE rechecks SET claimed_until = $2
             WHERE task_id = (
                 SELECT task_id FROM rechecks
                 WHERE resolved_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1)
                 ORDER BY created_at, task_id LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             RETURNING task_id, deadline
         )
         SELECT {TASK_COLUMNS}, {REPORT_COLUMNS}, c.deadline
         FROM claimed c JOIN tasks t ON t.id = c.task_id JOIN reports r ON r.task_id = c.task_id"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let Some(row) = client
        .query_opt(&stmt, &[&now.as_millis(), &claimed_until.as_millis()])
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(RecheckItem {
        task: rows::task(&row, 0)?.ok_or(StoreError::NotFound)?,
        report: rows::report(&row, 8)?.ok_or(StoreError::NotFound)?,
        deadline: Timestamp::from_millis(get(&row, 8 + rows::REPORT_WIDTH)?),
        claimed_until,
    }))
}

pub(super) async fn subject<C: GenericClient>(
    client: &C,
    task_id: &TaskId,
    now: Timestamp,
) -> PgResult<Option<RecheckSubject>> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM rechecks WHERE task_id = $1 AND resolved_at IS NULL")
        .await?;
    if client
        .query_opt(&stmt, &[&task_id.as_str()])
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let Some((task, Some(report))) = task_with_report(client, task_id).await? else {
        return Ok(None);
    };
    let account = account_by_id(client, report.account)
        .await?
        .ok_or(StoreError::NotFound)?;
    let family = family_record(
        client,
        account.id,
        task.captcha_type.family(),
        hour_of(now) - 23,
    )
    .await?;
    Ok(Some(RecheckSubject {
        task,
        report,
        account,
        precision: family.precision,
        precision_at: family.precision_at,
        last_day: family.activity.window(now, 24),
    }))
}

/// See [`crate::Store::settle_recheck`]; `tx` is a transaction. The conditional `UPDATE` of the
/// report takes its row lock: a second settlement waits for the first to commit, then finds the
/// report no longer pending and changes nothing.
///
/// Returns how, and the refunds its account changes took back.
pub(super) async fn settle<C: GenericClient>(
    tx: &C,
    writes: &SettlementWrites,
) -> PgResult<(Settled, Vec<Reversed>)> {
    let report = &writes.report;
    let evidence = crate::evidence_column(report)?;
    let (recheck_suspect, recheck_solves) = crate::recheck_columns(report)?;
    if writes.still_pending() {
        // Not conclusive: keep the solve and put the task back in the queue.
        let changed = tx
            .execute(
                "UPDATE reports SET evidence = $1, recheck_suspect = $2, recheck_solves = $3
                 WHERE task_id = $4 AND verdict = 'pending'",
                &[
                    &evidence,
                    &recheck_suspect,
                    &recheck_solves,
                    &report.task.as_str(),
                ],
            )
            .await?;
        if changed == 0 {
            return Ok((
                Settled::Already(existing_report(tx, &report.task).await?),
                Vec::new(),
            ));
        }
        tx.execute(
            "UPDATE rechecks SET claimed_until = NULL WHERE task_id = $1",
            &[&report.task.as_str()],
        )
        .await?;
        return Ok((Settled::Now(report.clone()), Vec::new()));
    }
    let changed = tx
        .execute(
            "UPDATE reports SET verdict = $1, reason = $2, evidence = $3, refund_micros = $4,
                 recheck_suspect = $5, recheck_solves = $6
             WHERE task_id = $7 AND verdict = 'pending'",
            &[
                &report.verdict.as_str(),
                &report.reason.code(),
                &evidence,
                &report.refund.map(|a| a.micros()),
                &recheck_suspect,
                &recheck_solves,
                &report.task.as_str(),
            ],
        )
        .await?;
    if changed == 0 {
        return Ok((
            Settled::Already(existing_report(tx, &report.task).await?),
            Vec::new(),
        ));
    }
    tx.execute(
        "UPDATE rechecks SET resolved_at = $1 WHERE task_id = $2",
        &[&writes.at.as_millis(), &report.task.as_str()],
    )
    .await?;
    if let Some(entry) = &writes.refund {
        insert_entry(tx, entry).await?;
    }
    if let Some(activity) = &writes.activity {
        bump_activity(tx, activity).await?;
    }
    save_precision(tx, &writes.precision).await?;
    super::scores::add_evidence(tx, &writes.solver).await?;
    let reversed = apply_account_changes(tx, &writes.account).await?;
    Ok((Settled::Now(report.clone()), reversed))
}

pub(super) async fn overdue<C: GenericClient>(
    client: &C,
    now: Timestamp,
    limit: u32,
) -> PgResult<Vec<TaskId>> {
    let stmt = client
        .prepare_cached(
            "SELECT task_id FROM rechecks WHERE resolved_at IS NULL AND deadline <= $1
             ORDER BY deadline, task_id LIMIT $2",
        )
        .await?;
    client
        .query(&stmt, &[&now.as_millis(), &i64::from(limit)])
        .await?
        .iter()
        .map(|r| {
            let id: String = get(r, 0)?;
            Ok(TaskId::parse(&id).map_err(StoreError::stored_value)?)
        })
        .collect()
}
