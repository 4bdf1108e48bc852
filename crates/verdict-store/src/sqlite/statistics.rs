//! Statistics on SQLite: hourly activity, accounts' family state, the cohort, and applying the
//! effects of a decision. Every function runs inside the caller's transaction.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use verdict_domain::plan::{AccountChange, Clawback, PrecisionUpdate};
use verdict_domain::recheck::Precision;
use verdict_domain::screen::{
    Activity, Baseline, Cohort, CohortPrior, CohortRecord, Counts, Drift, FoldRow, ScreenPolicy,
    fold_hour,
};
use verdict_domain::timestamp::HOUR_MS;
use verdict_domain::{AccountId, Family, StandingState, Timestamp};

use super::insert_entry;
use crate::metrics::Reversed;
use crate::{FamilyRecord, StoreError, StoreResult};

const FOLDED_THROUGH: &str = "baselines_folded_through";

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unsigned(n: i64) -> u64 {
    n.max(0).unsigned_abs()
}

/// An account's state in a family, with hourly activity from `from_hour` on.
pub(super) fn family_record(
    conn: &Connection,
    account: AccountId,
    family: Family,
    from_hour: i64,
) -> StoreResult<FamilyRecord> {
    let mut stmt = conn.prepare_cached(
        "SELECT hour, tasks, incorrect, correct, refunds, rechecks_upheld, rechecks_refuted
         FROM activity WHERE account_id = ?1 AND family = ?2 AND hour >= ?3",
    )?;
    let hours = stmt
        .query_map(params![account.0, family.as_str(), from_hour], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Counts {
                    tasks: unsigned(r.get(1)?),
                    incorrect: unsigned(r.get(2)?),
                    correct: unsigned(r.get(3)?),
                    refunds: unsigned(r.get(4)?),
                    rechecks_upheld: unsigned(r.get(5)?),
                    rechecks_refuted: unsigned(r.get(6)?),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let state = conn
        .prepare_cached(
            "SELECT baseline_reports, baseline_expected, precision_confirmed, precision_refuted, precision_at,
                    drift_llr, drift_since_hour, drift_tasks, drift_reports, drift_expected
             FROM account_families WHERE account_id = ?1 AND family = ?2",
        )?
        .query_row(params![account.0, family.as_str()], |r| {
            Ok((
                Baseline {
                    reports: r.get(0)?,
                    expected: r.get(1)?,
                    drift: Drift {
                        llr: r.get(5)?,
                        since_hour: r.get(6)?,
                        tasks: unsigned(r.get(7)?),
                        reports: unsigned(r.get(8)?),
                        expected: r.get(9)?,
                    },
                },
                Precision {
                    confirmed: r.get(2)?,
                    refuted: r.get(3)?,
                },
                r.get::<_, Option<i64>>(4)?.map(Timestamp::from_millis),
            ))
        })
        .optional()?;
    let (baseline, precision, precision_at) = state.unwrap_or_default();
    Ok(FamilyRecord {
        activity: Activity { hours },
        baseline,
        precision,
        precision_at,
        cohort: cohort(conn, family)?,
    })
}

pub(super) fn cohort(conn: &Connection, family: Family) -> StoreResult<Option<CohortRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT a, b, cap_rate, accounts, rate, fitted_at, basis FROM cohort WHERE family = ?1",
        )?
        .query_row([family.as_str()], cohort_row)
        .optional()?)
}

fn cohort_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CohortRecord> {
    Ok(CohortRecord {
        prior: CohortPrior {
            a: r.get(0)?,
            b: r.get(1)?,
            cap_rate: r.get(2)?,
            accounts: r.get(3)?,
            basis: crate::stored_basis(r.get(6)?, r.get(3)?),
        },
        rate: r.get(4)?,
        fitted_at: Timestamp::from_millis(r.get(5)?),
    })
}

pub(super) fn all_cohorts(conn: &Connection) -> StoreResult<Vec<(Family, CohortRecord)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a, b, cap_rate, accounts, rate, fitted_at, basis, family FROM cohort",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(7)?, cohort_row(r)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(f, c)| Family::parse(&f).map(|f| (f, c)))
        .collect())
}

pub(super) fn save_cohort(conn: &Connection, family: Family, c: &CohortRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO cohort (family, a, b, cap_rate, accounts, rate, fitted_at, basis)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (family) DO UPDATE SET a = excluded.a, b = excluded.b, cap_rate = excluded.cap_rate,
             accounts = excluded.accounts, rate = excluded.rate, fitted_at = excluded.fitted_at,
             basis = excluded.basis",
    )?
    .execute(params![
        family.as_str(),
        c.prior.a,
        c.prior.b,
        c.prior.cap_rate,
        c.prior.accounts,
        c.rate,
        c.fitted_at.as_millis(),
        c.prior.basis.as_str()
    ])?;
    Ok(())
}

/// `(tasks, incorrect)` per account not currently ignored (trusted ones only, or all), from
/// `from_hour` on.
pub(super) fn cohort_samples(
    conn: &Connection,
    family: Family,
    from_hour: i64,
    now: Timestamp,
    trusted_only: bool,
) -> StoreResult<Vec<(u64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT SUM(x.tasks), SUM(x.incorrect) FROM activity x JOIN accounts a ON a.id = x.account_id
         WHERE x.family = ?1 AND x.hour >= ?2 AND (a.trusted = 1 OR ?4 = 0)
           AND (a.standing = 'good' OR a.standing_until <= ?3)
           AND (a.standing_until IS NULL OR x.hour > a.standing_until / 3600000)
         GROUP BY x.account_id",
    )?;
    let rows = stmt
        .query_map(
            params![family.as_str(), from_hour, now.as_millis(), trusted_only],
            |r| Ok((unsigned(r.get(0)?), unsigned(r.get(1)?))),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// See [`crate::Store::reporter_samples`].
pub(super) fn reporter_samples(
    conn: &Connection,
    from_hour: i64,
    now: Timestamp,
) -> StoreResult<Vec<crate::ReporterSample>> {
    let mut stmt = conn.prepare_cached(
        "SELECT x.account_id, x.family, SUM(x.tasks), SUM(x.incorrect), a.trusted,
                a.standing = 'ignored' AND a.standing_until > ?2
         FROM activity x JOIN accounts a ON a.id = x.account_id
         WHERE x.hour >= ?1 GROUP BY x.account_id, x.family",
    )?;
    let rows = stmt
        .query_map(params![from_hour, now.as_millis()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                unsigned(r.get(2)?),
                unsigned(r.get(3)?),
                r.get::<_, bool>(4)?,
                r.get::<_, bool>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(account, family, tasks, incorrect, trusted, ignored)| {
            Some(crate::ReporterSample {
                account: AccountId(account),
                family: Family::parse(&family)?,
                tasks,
                incorrect,
                trusted,
                ignored,
            })
        })
        .collect())
}

pub(super) fn folded_through(conn: &Connection) -> StoreResult<Option<i64>> {
    let value: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([FOLDED_THROUGH], |r| r.get(0))
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()))
}

/// See [`crate::Store::fold_baselines`]. Runs in the writer's transaction, which makes the
/// check-then-write of the fold marker atomic.
pub(super) fn fold_baselines(
    conn: &Connection,
    hour: i64,
    policy: &ScreenPolicy,
) -> StoreResult<bool> {
    if folded_through(conn)?.is_some_and(|done| done >= hour) {
        return Ok(false);
    }
    let hour_end = Timestamp::from_millis((hour + 1) * HOUR_MS);
    // The cohort's rate that hour: trusted accounts in good standing.
    conn.prepare_cached(
        "INSERT INTO cohort_hours (family, hour, tasks, incorrect)
         SELECT x.family, x.hour, SUM(x.tasks), SUM(x.incorrect) FROM activity x JOIN accounts a ON a.id = x.account_id
         WHERE x.hour = ?1 AND a.trusted = 1 AND (a.standing = 'good' OR a.standing_until <= ?2)
           AND (a.standing_until IS NULL OR x.hour > a.standing_until / 3600000)
         GROUP BY x.family
         ON CONFLICT (family, hour) DO UPDATE SET tasks = excluded.tasks, incorrect = excluded.incorrect",
    )?
    .execute(params![hour, hour_end.as_millis()])?;
    let mut hour_counts: HashMap<String, (u64, u64)> = HashMap::new();
    {
        let mut stmt = conn
            .prepare_cached("SELECT family, tasks, incorrect FROM cohort_hours WHERE hour = ?1")?;
        let rows = stmt.query_map([hour], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (family, tasks, incorrect) = row?;
            hour_counts.insert(family, (unsigned(tasks), unsigned(incorrect)));
        }
    }
    let stored: HashMap<String, CohortRecord> = all_cohorts(conn)?
        .into_iter()
        .map(|(f, c)| (f.as_str().to_owned(), c))
        .collect();

    let mut stmt = conn.prepare_cached(
        // Hours up to the end of an account's last ignored period stay out of its baseline: they
        // are what it was judged abnormal for, or the period itself.
        "SELECT x.account_id, x.family, x.tasks, x.incorrect, f.baseline_reports, f.baseline_expected, f.baseline_hour,
                f.drift_llr, f.drift_since_hour, f.drift_tasks, f.drift_reports, f.drift_expected, a.standing_until
         FROM activity x JOIN accounts a ON a.id = x.account_id
         LEFT JOIN account_families f ON f.account_id = x.account_id AND f.family = x.family
         WHERE x.hour = ?1 AND (a.standing_until IS NULL OR x.hour > a.standing_until / 3600000)",
    )?;
    let rows = stmt
        .query_map([hour], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                unsigned(r.get(2)?),
                unsigned(r.get(3)?),
                r.get::<_, Option<f64>>(4)?,
                r.get::<_, Option<f64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                Drift {
                    llr: r.get::<_, Option<f64>>(7)?.unwrap_or(0.0),
                    since_hour: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
                    tasks: unsigned(r.get::<_, Option<i64>>(9)?.unwrap_or(0)),
                    reports: unsigned(r.get::<_, Option<i64>>(10)?.unwrap_or(0)),
                    expected: r.get::<_, Option<f64>>(11)?.unwrap_or(0.0),
                },
                r.get::<_, Option<i64>>(12)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO account_families (account_id, family, baseline_reports, baseline_expected, baseline_hour,
                                       drift_llr, drift_since_hour, drift_tasks, drift_reports, drift_expected)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (account_id, family) DO UPDATE SET baseline_reports = excluded.baseline_reports,
             baseline_expected = excluded.baseline_expected, baseline_hour = excluded.baseline_hour,
             drift_llr = excluded.drift_llr, drift_since_hour = excluded.drift_since_hour,
             drift_tasks = excluded.drift_tasks, drift_reports = excluded.drift_reports,
             drift_expected = excluded.drift_expected",
    )?;
    for (account, family, tasks, incorrect, reports, expected, last, drift, until) in rows {
        let cohort = Cohort::of(stored.get(&family), policy);
        let row = FoldRow {
            baseline: Baseline {
                reports: reports.unwrap_or(0.0),
                expected: expected.unwrap_or(0.0),
                drift,
            },
            last_hour: last,
            tasks,
            incorrect,
            ignored_until: until.map(Timestamp::from_millis),
        };
        let rate = cohort.rate_in_hour(hour_counts.get(&family).copied());
        let new = fold_hour(&row, hour, rate, policy);
        let d = new.drift;
        upsert.execute(params![
            account,
            family,
            new.reports,
            new.expected,
            hour,
            d.llr,
            d.since_hour,
            count(d.tasks),
            count(d.reports),
            d.expected
        ])?;
    }
    conn.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")?
        .execute(params![FOLDED_THROUGH, hour.to_string()])?;
    Ok(true)
}

/// Applies the changes a decision makes to its account, in order; returns the refunds its
/// clawbacks took back, to count once the transaction commits.
pub(super) fn apply_account_changes(
    conn: &Connection,
    changes: &[AccountChange],
) -> StoreResult<Vec<Reversed>> {
    let mut reversed = Vec::new();
    for change in changes {
        match change {
            AccountChange::Ignore {
                account,
                until,
                reason,
                count_since,
                at,
            } => ignore(conn, *account, *until, reason, *count_since, *at)?,
            AccountChange::Clawback(clawback) => reversed.push(apply_clawback(conn, clawback)?),
            AccountChange::Whitelist {
                account,
                provider,
                worker,
                at,
            } => super::scores::whitelist_worker(conn, *account, provider, worker, *at)?,
            AccountChange::NoteScreenFlag { account, flag } => {
                conn.prepare_cached(
                    "UPDATE accounts SET screen_flag_at = ?1, screen_flag_lane = ?2, \
                     screen_flag_reason = ?3 WHERE id = ?4",
                )?
                .execute(params![
                    flag.at.as_millis(),
                    flag.lane,
                    flag.reason,
                    account.0
                ])?;
            }
        }
    }
    Ok(reversed)
}

/// Puts an account on ignored standing as [`StandingState::flagged`] says.
fn ignore(
    conn: &Connection,
    account: AccountId,
    until: Timestamp,
    reason: &str,
    count_since: Timestamp,
    now: Timestamp,
) -> StoreResult<()> {
    let Some(current) = super::account_by_id(conn, account)? else {
        return Err(StoreError::NotFound);
    };
    let next = current
        .standing_state()
        .flagged(until, reason, count_since, now);
    write_standing(conn, account, &next)
}

/// Writes an account's standing and ignore history as a domain rule computed them.
pub(super) fn write_standing(
    conn: &Connection,
    account: AccountId,
    state: &StandingState,
) -> StoreResult<()> {
    let reason = state.standing.reason();
    conn.prepare_cached(
        "UPDATE accounts SET standing = ?1, standing_until = ?2, standing_reason = ?3,
             ignore_count = ?4, last_ignored_at = ?5
         WHERE id = ?6",
    )?
    .execute(params![
        state.standing.state_name(),
        state.ignores.ended_at.map(|t| t.as_millis()),
        reason,
        state.ignores.count,
        state.ignores.last_at.map(|t| t.as_millis()),
        account.0
    ])?;
    Ok(())
}

/// Writes the reversals [`Clawback::reversals`] owes for the refunds stored now; returns those
/// written (a refund reversed before is not reversed again).
fn apply_clawback(conn: &Connection, clawback: &Clawback) -> StoreResult<Reversed> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.task_id, r.refund_micros, t.captcha_type, r.verdict
         FROM reports r JOIN tasks t ON t.id = r.task_id
         WHERE r.account_id = ?1 AND r.received_at >= ?2 AND r.refund_micros IS NOT NULL
         ORDER BY r.received_at, r.task_id",
    )?;
    let granted = stmt
        .query_map(
            params![clawback.account.0, clawback.since.as_millis()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|(task, micros, captcha_type, verdict)| {
            crate::granted_refund(&task, micros, &captcha_type, &verdict)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let (mut count, mut micros) = (0, 0);
    for entry in clawback.reversals(granted) {
        if insert_entry(conn, &entry)? {
            count += 1;
            micros += entry.amount.micros();
        }
    }
    Ok(Reversed::new(clawback.lane, count, micros))
}

/// Writes an account's precision in a family after a re-check.
pub(super) fn save_precision(conn: &Connection, update: &PrecisionUpdate) -> StoreResult<()> {
    let PrecisionUpdate {
        account,
        family,
        precision,
        at,
    } = *update;
    conn.prepare_cached(
        "INSERT INTO account_families (account_id, family, precision_confirmed, precision_refuted, precision_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account_id, family) DO UPDATE SET precision_confirmed = excluded.precision_confirmed,
             precision_refuted = excluded.precision_refuted, precision_at = excluded.precision_at",
    )?
    .execute(params![account.0, family.as_str(), precision.confirmed, precision.refuted, at.as_millis()])?;
    Ok(())
}
