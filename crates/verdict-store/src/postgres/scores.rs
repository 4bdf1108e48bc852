//! Evidence about solvers on PostgreSQL, as `sqlite/scores.rs`. Reports stored by the batch
//! writer add their evidence inside its statement (`writer.rs`); settled re-checks here.

use deadpool_postgres::GenericClient;
use verdict_domain::plan::{Exposures, SolverEvidence};
use verdict_domain::{AccountId, Family, Timestamp};

use super::PgResult;
use super::rows::get;
use crate::{BucketRow, EvidenceBucket, Resolution, StoreResult, Whitelisted};

/// Adds what a report says about its task's solver to the solver's buckets, in the caller's
/// transaction.
pub(super) async fn add_evidence<C: GenericClient>(
    client: &C,
    evidence: &SolverEvidence,
) -> PgResult<()> {
    // Settlements add evidence here; they take no silence back (their report did).
    let SolverEvidence {
        task, signal, at, ..
    } = evidence;
    let at = *at;
    if signal.is_empty() {
        return Ok(());
    }
    let task = task.as_str();
    let provider = client
        .prepare_cached(
            "INSERT INTO provider_evidence AS e (resolution, captcha_type, provider, bucket, good, bad, reports)
             SELECT $1, captcha_type, provider, $2, $3, $4, 1 FROM tasks WHERE id = $5
             ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
                 good = e.good + excluded.good, bad = e.bad + excluded.bad, reports = e.reports + 1",
        )
        .await?;
    for resolution in [Resolution::Minute, Resolution::Hour] {
        let name = resolution.provider_table_name()?;
        client
            .execute(
                &provider,
                &[
                    &name,
                    &resolution.bucket(at),
                    &signal.good,
                    &signal.bad,
                    &task,
                ],
            )
            .await?;
    }
    let worker = client
        .prepare_cached(
            "INSERT INTO worker_evidence AS e (provider, worker, captcha_type, day, good, bad, reports)
             SELECT provider, worker, captcha_type, $1, $2, $3, 1 FROM tasks
             WHERE id = $4 AND worker IS NOT NULL
             ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
                 good = e.good + excluded.good, bad = e.bad + excluded.bad, reports = e.reports + 1",
        )
        .await?;
    client
        .execute(
            &worker,
            &[
                &Resolution::Day.bucket(at),
                &signal.good,
                &signal.bad,
                &task,
            ],
        )
        .await?;
    Ok(())
}

/// Adds newly stored tasks' silence weights to their solvers' buckets, one statement per
/// kind of bucket, rows in key order.
pub(super) async fn add_exposures<C: GenericClient>(
    client: &C,
    exposures: &Exposures,
) -> PgResult<()> {
    let provider = client
        .prepare_cached(
            "INSERT INTO provider_evidence AS e (resolution, captcha_type, provider, bucket, exposure)
             SELECT $1, t, p, b, w FROM unnest($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::FLOAT8[])
                 AS u (t, p, b, w)
             ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
                 exposure = e.exposure + excluded.exposure",
        )
        .await?;
    for (resolution, rows) in [
        (Resolution::Minute, &exposures.provider_minutes),
        (Resolution::Hour, &exposures.provider_hours),
    ] {
        if rows.is_empty() {
            continue;
        }
        let types: Vec<&str> = rows.iter().map(|e| e.captcha_type.as_str()).collect();
        let providers: Vec<&str> = rows.iter().map(|e| e.provider.as_str()).collect();
        let buckets: Vec<i64> = rows.iter().map(|e| e.bucket).collect();
        let weights: Vec<f64> = rows.iter().map(|e| e.weight).collect();
        client
            .execute(
                &provider,
                &[
                    &resolution.provider_table_name()?,
                    &types,
                    &providers,
                    &buckets,
                    &weights,
                ],
            )
            .await?;
    }
    let rows = &exposures.worker_days;
    if !rows.is_empty() {
        let worker = client
            .prepare_cached(
                "INSERT INTO worker_evidence AS e (provider, worker, captcha_type, day, exposure)
                 SELECT p, k, t, d, w FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[],
                                                  $5::FLOAT8[]) AS u (p, k, t, d, w)
                 ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
                     exposure = e.exposure + excluded.exposure",
            )
            .await?;
        let providers: Vec<&str> = rows.iter().map(|e| e.provider.as_str()).collect();
        let workers: Vec<&str> = rows
            .iter()
            .map(|e| e.worker.as_deref().unwrap_or_default())
            .collect();
        let types: Vec<&str> = rows.iter().map(|e| e.captcha_type.as_str()).collect();
        let days: Vec<i64> = rows.iter().map(|e| e.bucket).collect();
        let weights: Vec<f64> = rows.iter().map(|e| e.weight).collect();
        client
            .execute(&worker, &[&providers, &workers, &types, &days, &weights])
            .await?;
    }
    Ok(())
}

pub(super) async fn report_lags<C: GenericClient>(client: &C) -> PgResult<Vec<(Family, u8, u64)>> {
    let stmt = client
        .prepare_cached("SELECT family, bucket, reports FROM report_lags ORDER BY family, bucket")
        .await?;
    let mut out = Vec::new();
    for row in client.query(&stmt, &[]).await? {
        let family: String = get(&row, 0)?;
        let bucket: i16 = get(&row, 1)?;
        let reports: i64 = get(&row, 2)?;
        if let (Some(family), Ok(bucket)) = (Family::parse(&family), u8::try_from(bucket)) {
            out.push((family, bucket, reports.max(0).unsigned_abs()));
        }
    }
    Ok(out)
}

pub(super) async fn whitelist_worker<C: GenericClient>(
    client: &C,
    account: AccountId,
    provider: &str,
    worker: &str,
    now: Timestamp,
) -> PgResult<()> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO worker_whitelist (account_id, provider, worker, since) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id, provider, worker) DO NOTHING",
        )
        .await?;
    client
        .execute(&stmt, &[&account.0, &provider, &worker, &now.as_millis()])
        .await?;
    Ok(())
}

pub(super) fn buckets(rows: Vec<tokio_postgres::Row>) -> StoreResult<Vec<EvidenceBucket>> {
    rows.iter()
        .map(|row| {
            let columns: BucketRow = (
                get(row, 0)?,
                get(row, 1)?,
                get(row, 2)?,
                get(row, 3)?,
                get(row, 4)?,
                get(row, 5)?,
                get(row, 6)?,
                get(row, 7)?,
                get(row, 8)?,
            );
            EvidenceBucket::from_row(columns)
        })
        .collect()
}

pub(super) const PROVIDER_EVIDENCE: &str =
    "SELECT captcha_type, provider, NULL::TEXT, bucket, good, bad, reports, exposure, taken
     FROM provider_evidence
     WHERE resolution = $1 AND bucket >= $2 ORDER BY bucket, captcha_type, provider";

pub(super) const WORKER_EVIDENCE: &str =
    "SELECT captcha_type, provider, worker, day, good, bad, reports, exposure, taken
     FROM worker_evidence
     WHERE worker = $1 AND day >= $2 ORDER BY day, provider, captcha_type";

pub(super) const PRUNE_PROVIDERS: &str = "DELETE FROM provider_evidence
     WHERE (resolution = 'minute' AND bucket < $1) OR (resolution = 'hour' AND bucket < $2)";

pub(super) const PRUNE_WORKERS: &str = "DELETE FROM worker_evidence WHERE day < $1";

pub(super) fn whitelisted(
    account: AccountId,
    rows: Vec<tokio_postgres::Row>,
) -> StoreResult<Vec<Whitelisted>> {
    rows.iter()
        .map(|row| {
            Ok(Whitelisted {
                account,
                provider: get(row, 0)?,
                worker: get(row, 1)?,
                since: Timestamp::from_millis(get(row, 2)?),
            })
        })
        .collect()
}
