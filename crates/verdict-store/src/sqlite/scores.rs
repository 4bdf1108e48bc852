//! Evidence about solvers on SQLite: what each report says about its task's provider and worker,
//! added to minute, hour and day buckets inside the writer's transaction; and the whitelist.

use rusqlite::{Connection, params};
use verdict_domain::plan::{Exposures, LagSample, SolverEvidence};
use verdict_domain::{AccountId, Family, Timestamp};

use crate::{BucketRow, EvidenceBucket, Resolution, StoreResult, Whitelisted};

/// Adds what a report says about its task's solver to the solver's buckets. Nothing for a
/// report that says nothing (pending, ignored).
pub(super) fn add_evidence(conn: &Connection, evidence: &SolverEvidence) -> StoreResult<()> {
    let SolverEvidence {
        task,
        signal,
        at,
        takes_back_silence,
    } = evidence;
    let at = *at;
    if signal.is_empty() && !takes_back_silence {
        return Ok(());
    }
    let task = task.as_str();
    let (reports, back) = (
        i64::from(!signal.is_empty()),
        f64::from(u8::from(*takes_back_silence)),
    );
    let mut provider = conn.prepare_cached(
        "INSERT INTO provider_evidence (resolution, captcha_type, provider, bucket, good, bad, reports, taken)
         SELECT ?1, captcha_type, provider, ?2, ?3, ?4, ?6, ?7 * silence_weight FROM tasks
         WHERE id = ?5 AND (?3 > 0 OR ?4 > 0 OR ?7 * silence_weight > 0)
         ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
             good = good + excluded.good, bad = bad + excluded.bad,
             reports = reports + excluded.reports, taken = taken + excluded.taken",
    )?;
    for resolution in [Resolution::Minute, Resolution::Hour] {
        provider.execute(params![
            resolution.provider_table_name()?,
            resolution.bucket(at),
            signal.good,
            signal.bad,
            task,
            reports,
            back
        ])?;
    }
    conn.prepare_cached(
        "INSERT INTO worker_evidence (provider, worker, captcha_type, day, good, bad, reports, taken)
         SELECT provider, worker, captcha_type, ?1, ?2, ?3, ?5, ?6 * silence_weight FROM tasks
         WHERE id = ?4 AND worker IS NOT NULL AND (?2 > 0 OR ?3 > 0 OR ?6 * silence_weight > 0)
         ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
             good = good + excluded.good, bad = bad + excluded.bad,
             reports = reports + excluded.reports, taken = taken + excluded.taken",
    )?
    .execute(params![
        Resolution::Day.bucket(at),
        signal.good,
        signal.bad,
        task,
        reports,
        back
    ])?;
    Ok(())
}

/// Adds newly stored tasks' silence weights to their solvers' buckets.
pub(super) fn add_exposures(conn: &Connection, exposures: &Exposures) -> StoreResult<()> {
    let mut provider = conn.prepare_cached(
        "INSERT INTO provider_evidence (resolution, captcha_type, provider, bucket, exposure)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
             exposure = exposure + excluded.exposure",
    )?;
    for (resolution, rows) in [
        (Resolution::Minute, &exposures.provider_minutes),
        (Resolution::Hour, &exposures.provider_hours),
    ] {
        for e in rows {
            provider.execute(params![
                resolution.provider_table_name()?,
                e.captcha_type.as_str(),
                e.provider,
                e.bucket,
                e.weight
            ])?;
        }
    }
    let mut worker = conn.prepare_cached(
        "INSERT INTO worker_evidence (provider, worker, captcha_type, day, exposure)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
             exposure = exposure + excluded.exposure",
    )?;
    for e in &exposures.worker_days {
        worker.execute(params![
            e.provider,
            e.worker,
            e.captcha_type.as_str(),
            e.bucket,
            e.weight
        ])?;
    }
    Ok(())
}

/// One more report in a bucket of its family's lag histogram.
pub(super) fn count_lag(conn: &Connection, lag: LagSample) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO report_lags (family, bucket, reports) VALUES (?1, ?2, 1)
         ON CONFLICT (family, bucket) DO UPDATE SET reports = reports + 1",
    )?
    .execute(params![lag.family.as_str(), lag.bucket])?;
    Ok(())
}

pub(super) fn report_lags(conn: &Connection) -> StoreResult<Vec<(Family, u8, u64)>> {
    let mut stmt = conn.prepare_cached("SELECT family, bucket, reports FROM report_lags")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u8>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(f, b, n)| Family::parse(&f).map(|f| (f, b, n.max(0).unsigned_abs())))
        .collect())
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
        r.get(7)?,
        r.get(8)?,
    ))
}

pub(super) fn provider_evidence(
    conn: &Connection,
    resolution: Resolution,
    from: i64,
) -> StoreResult<Vec<EvidenceBucket>> {
    let name = resolution.provider_table_name()?;
    let mut stmt = conn.prepare_cached(
        "SELECT captcha_type, provider, NULL, bucket, good, bad, reports, exposure, taken FROM provider_evidence
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
        "SELECT captcha_type, provider, worker, day, good, bad, reports, exposure, taken FROM worker_evidence
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
