//! Evidence about solvers on SQLite: what each report says about its task's provider and worker,
//! added to minute, hour and day buckets inside the writer's transaction; and the whitelist.

use rusqlite::{Connection, OptionalExtension, params};
use verdict_domain::plan::SolverEvidence;
use verdict_domain::{AccountId, Family, Timestamp};

use super::pending::EvidenceGain;
use super::writer::Tx;

use crate::{BucketRow, EvidenceBucket, Resolution, StoreResult, Whitelisted};

/// Adds what a report says about its task's solver to the solver's pending buckets. Nothing
/// for a report that says nothing (pending, ignored).
pub(super) fn add_evidence(tx: &Tx<'_>, evidence: &SolverEvidence) -> StoreResult<()> {
    let SolverEvidence {
        task,
        signal,
        at,
        takes_back_silence,
    } = evidence;
    if signal.is_empty() && !takes_back_silence {
        return Ok(());
    }
    let Some((captcha_type, provider, worker, silence_weight)) = tx
        .prepare_cached(
            "SELECT captcha_type, provider, worker, silence_weight FROM tasks WHERE id = ?1",
        )?
        .query_row([task.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, f64>(3)?,
            ))
        })
        .optional()?
    else {
        return Ok(());
    };
    let gain = EvidenceGain {
        good: signal.good,
        bad: signal.bad,
        reports: i64::from(!signal.is_empty()),
        taken: if *takes_back_silence {
            silence_weight
        } else {
            0.0
        },
        exposure: 0.0,
    };
    if gain.good <= 0.0 && gain.bad <= 0.0 && gain.taken <= 0.0 {
        return Ok(());
    }
    let mut pending = tx.pending();
    for resolution in [Resolution::Minute, Resolution::Hour] {
        let key = (
            resolution.provider_table_name()?,
            captcha_type.clone(),
            provider.clone(),
            resolution.bucket(*at),
        );
        pending.provider(key, gain);
    }
    if let Some(worker) = worker {
        pending.worker(
            (provider, worker, captcha_type, Resolution::Day.bucket(*at)),
            gain,
        );
    }
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
