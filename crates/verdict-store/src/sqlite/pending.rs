//! The counters a write batch adds to — activity, solver evidence and exposures, report lags —
//! summed in memory and written once per batch. Reports of one batch mostly share their
//! account's hour, their provider's minute and their family's lag bucket, so a batch of 64
//! reports becomes a handful of upserts instead of several hundred; and these upserts are the
//! only place either kind of write job changes those tables on SQLite.

use std::collections::BTreeMap;

use rusqlite::{Connection, ToSql, params};
use verdict_domain::plan::{ActivityDelta, Exposures, LagSample};
use verdict_domain::screen::Counts;
use verdict_domain::{AccountId, Family};

use crate::StoreResult;

/// What one bucket of a solver's evidence gains.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct EvidenceGain {
    pub good: f64,
    pub bad: f64,
    pub reports: i64,
    pub taken: f64,
    pub exposure: f64,
}

impl EvidenceGain {
    fn add(&mut self, other: &EvidenceGain) {
        self.good += other.good;
        self.bad += other.bad;
        self.reports += other.reports;
        self.taken += other.taken;
        self.exposure += other.exposure;
    }
}

/// `provider_evidence`'s key: resolution, captcha type, provider, bucket.
type ProviderKey = (&'static str, String, String, i64);
/// `worker_evidence`'s key: provider, worker, captcha type, day.
type WorkerKey = (String, String, String, i64);

/// Counter deltas not yet written. Ordered maps, so that rows are always taken in the same order.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    activity: BTreeMap<(AccountId, Family, i64), Counts>,
    providers: BTreeMap<ProviderKey, EvidenceGain>,
    workers: BTreeMap<WorkerKey, EvidenceGain>,
    lags: BTreeMap<(Family, u8), i64>,
}

impl Pending {
    pub(crate) fn activity(&mut self, delta: &ActivityDelta) {
        self.activity
            .entry((delta.account, delta.family, delta.hour))
            .or_default()
            .add(&delta.counts);
    }

    pub(crate) fn provider(&mut self, key: ProviderKey, gain: EvidenceGain) {
        self.providers.entry(key).or_default().add(&gain);
    }

    pub(crate) fn worker(&mut self, key: WorkerKey, gain: EvidenceGain) {
        self.workers.entry(key).or_default().add(&gain);
    }

    /// Newly stored tasks' silence weights, as exposure of their solvers' buckets.
    pub(crate) fn exposures(&mut self, exposures: &Exposures) {
        for (resolution, rows) in [
            ("minute", &exposures.provider_minutes),
            ("hour", &exposures.provider_hours),
        ] {
            for e in rows {
                let key = (
                    resolution,
                    e.captcha_type.as_str().to_owned(),
                    e.provider.clone(),
                    e.bucket,
                );
                self.provider(key, exposure(e.weight));
            }
        }
        for e in &exposures.worker_days {
            if let Some(worker) = &e.worker {
                let key = (
                    e.provider.clone(),
                    worker.clone(),
                    e.captcha_type.as_str().to_owned(),
                    e.bucket,
                );
                self.worker(key, exposure(e.weight));
            }
        }
    }

    pub(crate) fn lag(&mut self, lag: LagSample) {
        *self.lags.entry((lag.family, lag.bucket)).or_default() += 1;
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Writes every pending delta and forgets them.
    pub(crate) fn flush(&mut self, conn: &Connection) -> StoreResult<()> {
        let Pending {
            activity,
            providers,
            workers,
            lags,
        } = std::mem::take(self);
        if !activity.is_empty() {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO activity (account_id, family, hour, tasks, incorrect, correct, refunds,
                                       rechecks_upheld, rechecks_refuted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (account_id, family, hour) DO UPDATE SET
                     tasks = tasks + excluded.tasks, incorrect = incorrect + excluded.incorrect,
                     correct = correct + excluded.correct, refunds = refunds + excluded.refunds,
                     rechecks_upheld = rechecks_upheld + excluded.rechecks_upheld,
                     rechecks_refuted = rechecks_refuted + excluded.rechecks_refuted",
            )?;
            for ((account, family, hour), c) in activity {
                stmt.execute(params![
                    account.0,
                    family.as_str(),
                    hour,
                    count(c.tasks),
                    count(c.incorrect),
                    count(c.correct),
                    count(c.refunds),
                    count(c.rechecks_upheld),
                    count(c.rechecks_refuted),
                ])?;
            }
        }
        upsert_gains(
            conn,
            "INSERT INTO provider_evidence (resolution, captcha_type, provider, bucket,
                                            good, bad, reports, taken, exposure)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
                 good = good + excluded.good, bad = bad + excluded.bad,
                 reports = reports + excluded.reports, taken = taken + excluded.taken,
                 exposure = exposure + excluded.exposure",
            providers,
        )?;
        upsert_gains(
            conn,
            "INSERT INTO worker_evidence (provider, worker, captcha_type, day,
                                          good, bad, reports, taken, exposure)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
                 good = good + excluded.good, bad = bad + excluded.bad,
                 reports = reports + excluded.reports, taken = taken + excluded.taken,
                 exposure = exposure + excluded.exposure",
            workers,
        )?;
        if !lags.is_empty() {
            let mut stmt = conn.prepare_cached(
                "INSERT INTO report_lags (family, bucket, reports) VALUES (?1, ?2, ?3)
                 ON CONFLICT (family, bucket) DO UPDATE SET reports = reports + excluded.reports",
            )?;
            for ((family, bucket), n) in lags {
                stmt.execute(params![family.as_str(), bucket, n])?;
            }
        }
        Ok(())
    }
}

/// Adds each bucket's gain with `sql`, whose four key columns come first.
fn upsert_gains<A: ToSql>(
    conn: &Connection,
    sql: &str,
    rows: BTreeMap<(A, String, String, i64), EvidenceGain>,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(sql)?;
    for ((first, second, third, bucket), g) in rows {
        stmt.execute(params![
            first, second, third, bucket, g.good, g.bad, g.reports, g.taken, g.exposure
        ])?;
    }
    Ok(())
}

fn exposure(weight: f64) -> EvidenceGain {
    EvidenceGain {
        exposure: weight,
        ..EvidenceGain::default()
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
