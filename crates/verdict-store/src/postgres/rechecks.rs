//! The re-check queue on PostgreSQL, shared by every node. A claim is one `UPDATE` of the
//! oldest open row that no lease holds and no other transaction has locked (`FOR UPDATE SKIP
//! LOCKED`), so two nodes asking at once are handed different tasks. A settlement changes the
//! report only while it is still `pending`, so whichever node settles first wins and the others
//! read back its result. Queueing happens with the report, in the writer's batch.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use verdict_domain::recheck::Settlement;
use verdict_domain::screen::{Counts, hour_of};
use verdict_domain::{Family, LedgerEntry, Reason, TaskId, Timestamp, Verdict};

use super::PgResult;
use super::rows::{self, REPORT_COLUMNS, TASK_COLUMNS, get};
use super::statistics::{apply_effects, bump_activity, family_record, save_precision};
use super::{account_by_id, existing_report, insert_entry, task_with_report};
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
        deadline: Timestamp::from_millis(get(&row, 20)?),
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
pub(super) async fn settle<C: GenericClient>(
    tx: &C,
    s: &Settlement,
    family: Family,
    now: Timestamp,
) -> PgResult<Settled> {
    let report = &s.report;
    let evidence = serde_json::Value::Object(report.evidence.as_map().clone()).to_string();
    if report.verdict == Verdict::Pending {
        // Not conclusive: keep the solve in the evidence and put the task back in the queue.
        let changed = tx
            .execute(
                "UPDATE reports SET evidence = $1 WHERE task_id = $2 AND verdict = 'pending'",
                &[&evidence, &report.task.as_str()],
            )
            .await?;
        if changed == 0 {
            return Ok(Settled::Already(existing_report(tx, &report.task).await?));
        }
        tx.execute(
            "UPDATE rechecks SET claimed_until = NULL WHERE task_id = $1",
            &[&report.task.as_str()],
        )
        .await?;
        return Ok(Settled::Now(report.clone()));
    }
    let changed = tx
        .execute(
            "UPDATE reports SET verdict = $1, reason = $2, evidence = $3, refund_micros = $4
             WHERE task_id = $5 AND verdict = 'pending'",
            &[
                &report.verdict.as_str(),
                &report.reason.code(),
                &evidence,
                &report.refund.map(|a| a.micros()),
                &report.task.as_str(),
            ],
        )
        .await?;
    if changed == 0 {
        return Ok(Settled::Already(existing_report(tx, &report.task).await?));
    }
    tx.execute(
        "UPDATE rechecks SET resolved_at = $1 WHERE task_id = $2",
        &[&now.as_millis(), &report.task.as_str()],
    )
    .await?;
    let mut outcome = Counts {
        rechecks_upheld: u64::from(report.reason == Reason::RecheckConfirmed),
        rechecks_refuted: u64::from(report.reason == Reason::RecheckRefuted),
        ..Counts::default()
    };
    if let Some(entry) = LedgerEntry::refund_for(report) {
        let entry = LedgerEntry { at: now, ..entry };
        outcome.refunds = u64::from(insert_entry(tx, &entry).await?);
    }
    if outcome != Counts::default() {
        bump_activity(tx, report.account, family, hour_of(now), &outcome).await?;
    }
    save_precision(tx, report.account, family, &s.precision, now).await?;
    super::scores::add_evidence(tx, report, now).await?;
    apply_effects(tx, report.account, &s.effects, now).await?;
    Ok(Settled::Now(report.clone()))
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
            Ok(TaskId::parse(&id).map_err(|e| StoreError::Other(e.to_string()))?)
        })
        .collect()
}
