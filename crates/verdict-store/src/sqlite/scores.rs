//! Evidence about solvers on SQLite: what each report says about its task's provider and worker,
//! added to minute, hour and day buckets inside the writer's transaction; and the whitelist.

use rusqlite::{Connection, params};
use verdict_domain::plan::SolverEvidence;
use verdict_domain::{AccountId, Timestamp};

use crate::{BucketRow, EvidenceBucket, Resolution, StoreResult, Whitelisted};

/// Adds what a report says about its task's solver to the solver's buckets. Nothing for a
/// report that says nothing (pending, ignored).
pub(super) fn add_evidence(conn: &Connection, evidence: &SolverEvidence) -> StoreResult<()> {
    let SolverEvidence { task, signal, at } = evidence;
    let at = *at;
    if signal.is_empty() {
        return Ok(());
    }
    let task = task.as_str();
    let mut provider = conn.prepare_cached(
        "INSERT INTO provider_evidence (resolution, captcha_type, provider, bucket, good, bad, reports)
         SELECT ?1, captcha_type, provider, ?2, ?3, ?4, 1 FROM tasks WHERE id = ?5
         ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
             good = good + excluded.good, bad = bad + excluded.bad, reports = reports + 1",
    )?;
    for resolution in [Resolution::Minute, Resolution::Hour] {
        provider.execute(params![
            resolution.provider_table_name()?,
            resolution.bucket(at),
            signal.good,
            signal.bad,
            task
        ])?;
    }
    conn.prepare_cached(
        "INSERT INTO worker_evidence (provider, worker, captcha_type, day, good, bad, reports)
         SELECT provider, worker, captcha_type, ?1, ?2, ?3, 1 FROM tasks
         WHERE id = ?4 AND worker IS NOT NULL
         ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
             good = good + excluded.good, bad = bad + excluded.bad, reports = reports + 1",
    )?
    .execute(params![
        Resolution::Day.bucket(at),
        signal.good,
        signal.bad,
        task
    ])?;
    Ok(())
}

pub(super) fn whitelist_worker(
    conn: &Connection,
    account: AccountId,
    provider: &str,
    worker: &str,
    now: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO worker_whitelist (account_id, provider, worker, since) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id, provider, worker) DO NOTHING",
    )?
    .execute(params![account.0, provider, worker, now.as_millis()])?;
    Ok(())
}

fn bucket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

pub(super) fn provider_evidence(
    conn: &Connection,
    resolution: Resolution,
    from: i64,
) -> StoreResult<Vec<EvidenceBucket>> {
    let name = resolution.provider_table_name()?;
    let mut stmt = conn.prepare_cached(
        "SELECT captcha_type, provider, NULL, bucket, good, bad, reports FROM provider_evidence
         WHERE resolution = ?1 AND bucket >= ?2 ORDER BY bucket, captcha_type, provider",
    )?;
    let rows = stmt
        .query_map(params![name, from], bucket_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(EvidenceBucket::from_row).collect()
}

pub(super) fn worker_evidence(
    conn: &Connection,
    worker: &str,
    from: i64,
) -> StoreResult<Vec<EvidenceBucket>> {
    let mut stmt = conn.prepare_cached(
        "SELECT captcha_type, provider, worker, day, good, bad, reports FROM worker_evidence
         WHERE worker = ?1 AND day >= ?2 ORDER BY day, provider, captcha_type",
    )?;
    let rows = stmt
        .query_map(params![worker, from], bucket_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(EvidenceBucket::from_row).collect()
}

pub(super) fn prune(conn: &Connection, minute: i64, hour: i64, day: i64) -> StoreResult<u64> {
    let mut dropped = conn
        .prepare_cached(
            "DELETE FROM provider_evidence WHERE (resolution = 'minute' AND bucket < ?1)
                                              OR (resolution = 'hour' AND bucket < ?2)",
        )?
        .execute(params![minute, hour])?;
    dropped += conn
        .prepare_cached("DELETE FROM worker_evidence WHERE day < ?1")?
        .execute([day])?;
    Ok(dropped as u64)
}

pub(super) fn whitelist(conn: &Connection, account: AccountId) -> StoreResult<Vec<Whitelisted>> {
    let mut stmt = conn.prepare_cached(
        "SELECT provider, worker, since FROM worker_whitelist WHERE account_id = ?1
         ORDER BY since, provider, worker",
    )?;
    let rows = stmt
        .query_map([account.0], |r| {
            Ok(Whitelisted {
                account,
                provider: r.get(0)?,
                worker: r.get(1)?,
                since: Timestamp::from_millis(r.get(2)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn whitelisted_by(conn: &Connection, provider: &str, worker: &str) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM worker_whitelist WHERE provider = ?1 AND worker = ?2",
        )?
        .query_row(params![provider, worker], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}
