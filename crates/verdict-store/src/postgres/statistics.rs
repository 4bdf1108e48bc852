//! Statistics on PostgreSQL: hourly activity, accounts' family state, the cohort, the hourly
//! baseline fold and the changes a decision makes to its account, applied as the domain planned
//! them. Every function runs on the client it is given, so inside the caller's transaction when
//! that is a transaction. Nothing here keeps state in the node.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use futures_util::future::try_join3;
use tokio_postgres::types::ToSql;
use verdict_domain::plan::{AccountChange, ActivityDelta, Clawback, PrecisionUpdate};
use verdict_domain::recheck::Precision;
use verdict_domain::screen::{
    Activity, Baseline, Cohort, CohortPrior, CohortRecord, Counts, Drift, FoldRow, ScreenPolicy,
    fold_hour,
};
use verdict_domain::timestamp::HOUR_MS;
use verdict_domain::{AccountId, Family, StandingState, Timestamp};

use super::PgResult;
use super::rows::get;
use crate::metrics::Reversed;
use crate::{FamilyRecord, StoreError, StoreResult};

/// The `meta` key of the last hour folded into the baselines.
pub(super) const FOLDED_THROUGH: &str = "baselines_folded_through";

pub(super) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unsigned(n: i64) -> u64 {
    n.max(0).unsigned_abs()
}

/// Adds to an account's counts for one hour.
pub(super) async fn bump_activity<C: GenericClient>(
    client: &C,
    delta: &ActivityDelta,
) -> PgResult<()> {
    let ActivityDelta {
        account,
        family,
        hour,
        counts: ref delta,
    } = *delta;
    let stmt = client
        .prepare_cached(
            "INSERT INTO activity AS x (account_id, family, hour, tasks, incorrect, correct,
                                        refunds, rechecks_upheld, rechecks_refuted)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (account_id, family, hour) DO UPDATE SET
                 tasks = x.tasks + excluded.tasks, incorrect = x.incorrect + excluded.incorrect,
                 correct = x.correct + excluded.correct, refunds = x.refunds + excluded.refunds,
                 rechecks_upheld = x.rechecks_upheld + excluded.rechecks_upheld,
                 rechecks_refuted = x.rechecks_refuted + excluded.rechecks_refuted",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &account.0,
                &family.as_str(),
                &hour,
                &count(delta.tasks),
                &count(delta.incorrect),
                &count(delta.correct),
                &count(delta.refunds),
                &count(delta.rechecks_upheld),
                &count(delta.rechecks_refuted),
            ],
        )
        .await?;
    Ok(())
}

/// Adds task counts to many `(account, family, hour)` slots in one statement, in the key order
/// [`task_counts`](verdict_domain::plan::task_counts) gives them, so that two batches touching
/// the same slots queue instead of deadlocking.
pub(super) async fn bump_tasks<C: GenericClient>(
    client: &C,
    slots: &[ActivityDelta],
) -> PgResult<()> {
    if slots.is_empty() {
        return Ok(());
    }
    let accounts: Vec<i64> = slots.iter().map(|d| d.account.0).collect();
    let families: Vec<&str> = slots.iter().map(|d| d.family.as_str()).collect();
    let hours: Vec<i64> = slots.iter().map(|d| d.hour).collect();
    let tasks: Vec<i64> = slots.iter().map(|d| count(d.counts.tasks)).collect();
    let stmt = client
        .prepare_cached(
            "INSERT INTO activity AS x (account_id, family, hour, tasks)
             SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[])
             ON CONFLICT (account_id, family, hour) DO UPDATE SET tasks = x.tasks + excluded.tasks",
        )
        .await?;
    client
        .execute(&stmt, &[&accounts, &families, &hours, &tasks])
        .await?;
    Ok(())
}

/// An account's state in a family, with hourly activity from `from_hour` on. The three reads
/// are pipelined on one connection: one round trip.
pub(super) async fn family_record<C: GenericClient>(
    client: &C,
    account: AccountId,
    family: Family,
    from_hour: i64,
) -> PgResult<FamilyRecord> {
    let hours = async {
        let stmt = client
            .prepare_cached(
                "SELECT hour, tasks, incorrect, correct, refunds, rechecks_upheld, rechecks_refuted
                 FROM activity WHERE account_id = $1 AND family = $2 AND hour >= $3",
            )
            .await?;
        client
            .query(&stmt, &[&account.0, &family.as_str(), &from_hour])
            .await
    };
    let state = async {
        let stmt = client
            .prepare_cached(
                "SELECT baseline_reports, baseline_expected, precision_confirmed,
                        precision_refuted, precision_at, drift_llr, drift_since_hour,
                        drift_tasks, drift_reports, drift_expected
                 FROM account_families WHERE account_id = $1 AND family = $2",
            )
            .await?;
        client
            .query_opt(&stmt, &[&account.0, &family.as_str()])
            .await
    };
    let cohort = cohort_query(client, family);
    let (hours, state, cohort) = try_join3(hours, state, cohort).await?;
    let hours = hours
        .iter()
        .map(|r| {
            Ok((
                get::<i64>(r, 0)?,
                Counts {
                    tasks: unsigned(get(r, 1)?),
                    incorrect: unsigned(get(r, 2)?),
                    correct: unsigned(get(r, 3)?),
                    refunds: unsigned(get(r, 4)?),
                    rechecks_upheld: unsigned(get(r, 5)?),
                    rechecks_refuted: unsigned(get(r, 6)?),
                },
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let (baseline, precision, precision_at) = match state {
        Some(r) => (
            Baseline {
                reports: get(&r, 0)?,
                expected: get(&r, 1)?,
                drift: Drift {
                    llr: get(&r, 5)?,
                    since_hour: get(&r, 6)?,
                    tasks: unsigned(get(&r, 7)?),
                    reports: unsigned(get(&r, 8)?),
                    expected: get(&r, 9)?,
                },
            },
            Precision {
                confirmed: get(&r, 2)?,
                refuted: get(&r, 3)?,
            },
            get::<Option<i64>>(&r, 4)?.map(Timestamp::from_millis),
        ),
        None => Default::default(),
    };
    Ok(FamilyRecord {
        activity: Activity { hours },
        baseline,
        precision,
        precision_at,
        cohort: cohort.as_ref().map(cohort_row).transpose()?,
    })
}

async fn cohort_query<C: GenericClient>(
    client: &C,
    family: Family,
) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT a, b, cap_rate, accounts, rate, fitted_at, basis FROM cohort WHERE family = $1",
        )
        .await?;
    client.query_opt(&stmt, &[&family.as_str()]).await
}

fn cohort_row(r: &tokio_postgres::Row) -> PgResult<CohortRecord> {
    Ok(CohortRecord {
        prior: CohortPrior {
            a: get(r, 0)?,
            b: get(r, 1)?,
            cap_rate: get(r, 2)?,
            accounts: u32::try_from(get::<i32>(r, 3)?)
                .map_err(|e| StoreError::other("cohort accounts").because(e))?,
            basis: crate::stored_basis(get(r, 6)?, get::<i32>(r, 3)?.max(0).unsigned_abs()),
        },
        rate: get(r, 4)?,
        fitted_at: Timestamp::from_millis(get(r, 5)?),
    })
}

pub(super) async fn all_cohorts<C: GenericClient>(
    client: &C,
) -> PgResult<Vec<(Family, CohortRecord)>> {
    let stmt = client
        .prepare_cached(
            "SELECT a, b, cap_rate, accounts, rate, fitted_at, basis, family FROM cohort ORDER BY family",
        )
        .await?;
    let mut out = Vec::new();
    for row in client.query(&stmt, &[]).await? {
        if let Some(family) = Family::parse(&get::<String>(&row, 7)?) {
            out.push((family, cohort_row(&row)?));
        }
    }
    Ok(out)
}

pub(super) async fn save_cohort<C: GenericClient>(
    client: &C,
    family: Family,
    c: &CohortRecord,
) -> PgResult<()> {
    let accounts = i32::try_from(c.prior.accounts)
        .map_err(|e| StoreError::other("cohort accounts").because(e))?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO cohort (family, a, b, cap_rate, accounts, rate, fitted_at, basis)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (family) DO UPDATE SET a = excluded.a, b = excluded.b,
                 cap_rate = excluded.cap_rate, accounts = excluded.accounts, rate = excluded.rate,
                 fitted_at = excluded.fitted_at, basis = excluded.basis",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &family.as_str(),
                &c.prior.a,
                &c.prior.b,
                &c.prior.cap_rate,
                &accounts,
                &c.rate,
                &c.fitted_at.as_millis(),
                &c.prior.basis.as_str(),
            ],
        )
        .await?;
    Ok(())
}

/// `(tasks, incorrect)` per account (trusted ones only, or all) not ignored at `now`, from
/// `from_hour` on, leaving out each account's hours up to the end of its last ignored period.
pub(super) async fn cohort_samples<C: GenericClient>(
    client: &C,
    family: Family,
    from_hour: i64,
    now: Timestamp,
    trusted_only: bool,
) -> PgResult<Vec<(u64, u64)>> {
    let stmt = client
        .prepare_cached(
            "SELECT SUM(x.tasks)::BIGINT, SUM(x.incorrect)::BIGINT
             FROM activity x JOIN accounts a ON a.id = x.account_id
             WHERE x.family = $1 AND x.hour >= $2 AND (a.trusted OR NOT $4)
               AND (a.standing = 'good' OR a.standing_until <= $3)
               AND (a.standing_until IS NULL OR x.hour > a.standing_until / 3600000)
             GROUP BY x.account_id ORDER BY x.account_id",
        )
        .await?;
    client
        .query(
            &stmt,
            &[
                &family.as_str(),
                &from_hour,
                &now.as_millis(),
                &trusted_only,
            ],
        )
        .await?
        .iter()
        .map(|r| Ok((unsigned(get(r, 0)?), unsigned(get(r, 1)?))))
        .collect()
}

/// See [`crate::Store::reporter_samples`].
pub(super) async fn reporter_samples<C: GenericClient>(
    client: &C,
    from_hour: i64,
    now: Timestamp,
) -> PgResult<Vec<crate::ReporterSample>> {
    let stmt = client
        .prepare_cached(
            "SELECT x.account_id, x.family, SUM(x.tasks)::BIGINT, SUM(x.incorrect)::BIGINT,
                    a.trusted, COALESCE(a.standing = 'ignored' AND a.standing_until > $2, FALSE)
             FROM activity x JOIN accounts a ON a.id = x.account_id
             WHERE x.hour >= $1 GROUP BY x.account_id, x.family, a.trusted, a.standing,
                   a.standing_until",
        )
        .await?;
    let mut out = Vec::new();
    for row in client.query(&stmt, &[&from_hour, &now.as_millis()]).await? {
        let family: String = get(&row, 1)?;
        let Some(family) = Family::parse(&family) else {
            continue;
        };
        out.push(crate::ReporterSample {
            account: verdict_domain::AccountId(get(&row, 0)?),
            family,
            tasks: unsigned(get(&row, 2)?),
            incorrect: unsigned(get(&row, 3)?),
            trusted: get(&row, 4)?,
            ignored: get(&row, 5)?,
        });
    }
    Ok(out)
}

pub(super) async fn folded_through<C: GenericClient>(client: &C) -> PgResult<Option<i64>> {
    let stmt = client
        .prepare_cached("SELECT value FROM meta WHERE key = $1")
        .await?;
    let value: Option<String> = match client.query_opt(&stmt, &[&FOLDED_THROUGH]).await? {
        Some(row) => Some(get(&row, 0)?),
        None => None,
    };
    Ok(value.and_then(|v| v.parse().ok()))
}

/// See [`crate::Store::fold_baselines`]; `tx` is a transaction. The fold marker is advanced
/// first, by one statement that only moves it forward: a second node folding the same hour
/// waits on the marker's row lock until the first commits, then finds the marker at that hour
/// and does nothing. Whatever the fold then writes commits or rolls back with the marker.
pub(super) async fn fold_baselines<C: GenericClient>(
    tx: &C,
    hour: i64,
    policy: &ScreenPolicy,
) -> PgResult<bool> {
    let claimed = tx
        .query_opt(
            "INSERT INTO meta AS m (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE m.value::BIGINT < excluded.value::BIGINT
             RETURNING 1",
            &[&FOLDED_THROUGH, &hour.to_string()],
        )
        .await?;
    if claimed.is_none() {
        return Ok(false);
    }
    let hour_end = (hour + 1) * HOUR_MS;
    // The cohort's rate that hour: trusted accounts in good standing.
    tx.execute(
        "INSERT INTO cohort_hours (family, hour, tasks, incorrect)
         SELECT x.family, x.hour, SUM(x.tasks)::BIGINT, SUM(x.incorrect)::BIGINT
         FROM activity x JOIN accounts a ON a.id = x.account_id
         WHERE x.hour = $1 AND a.trusted AND (a.standing = 'good' OR a.standing_until <= $2)
           AND (a.standing_until IS NULL OR x.hour > a.standing_until / 3600000)
         GROUP BY x.family, x.hour
         ON CONFLICT (family, hour) DO UPDATE SET tasks = excluded.tasks,
             incorrect = excluded.incorrect",
        &[&hour, &hour_end],
    )
    .await?;
    let mut hour_counts: HashMap<String, (u64, u64)> = HashMap::new();
    for row in tx
        .query(
            "SELECT family, tasks, incorrect FROM cohort_hours WHERE hour = $1",
            &[&hour],
        )
        .await?
    {
        let counts = (unsigned(get(&row, 1)?), unsigned(get(&row, 2)?));
        hour_counts.insert(get(&row, 0)?, counts);
    }
    let stored: HashMap<&'static str, CohortRecord> = all_cohorts(tx)
        .await?
        .into_iter()
        .map(|(f, c)| (f.as_str(), c))
        .collect();

    // Hours up to the end of an account's last ignored period stay out of its baseline: they
    // are what it was judged abnormal for, or the period itself.
    let rows = tx
        .query(
            "SELECT x.account_id, x.family, x.tasks, x.incorrect, f.baseline_reports,
                    f.baseline_expected, f.baseline_hour, f.drift_llr, f.drift_since_hour,
                    f.drift_tasks, f.drift_reports, f.drift_expected, a.standing_until
             FROM activity x JOIN accounts a ON a.id = x.account_id
             LEFT JOIN account_families f ON f.account_id = x.account_id AND f.family = x.family
             WHERE x.hour = $1 AND (a.standing_until IS NULL OR x.hour > a.standing_until / 3600000)
             ORDER BY x.account_id, x.family",
            &[&hour],
        )
        .await?;
    let mut accounts = Vec::with_capacity(rows.len());
    let mut families = Vec::with_capacity(rows.len());
    let mut reports = Vec::with_capacity(rows.len());
    let mut expected = Vec::with_capacity(rows.len());
    let mut drift_llr = Vec::with_capacity(rows.len());
    let mut drift_expected = Vec::with_capacity(rows.len());
    let mut drift_hours = Vec::with_capacity(rows.len());
    let mut drift_tasks = Vec::with_capacity(rows.len());
    let mut drift_reports = Vec::with_capacity(rows.len());
    for row in &rows {
        let family: String = get(row, 1)?;
        let cohort = Cohort::of(stored.get(family.as_str()), policy);
        let fold = FoldRow {
            baseline: Baseline {
                reports: get::<Option<f64>>(row, 4)?.unwrap_or(0.0),
                expected: get::<Option<f64>>(row, 5)?.unwrap_or(0.0),
                drift: Drift {
                    llr: get::<Option<f64>>(row, 7)?.unwrap_or(0.0),
                    since_hour: get::<Option<i64>>(row, 8)?.unwrap_or(0),
                    tasks: unsigned(get::<Option<i64>>(row, 9)?.unwrap_or(0)),
                    reports: unsigned(get::<Option<i64>>(row, 10)?.unwrap_or(0)),
                    expected: get::<Option<f64>>(row, 11)?.unwrap_or(0.0),
                },
            },
            last_hour: get::<Option<i64>>(row, 6)?,
            tasks: unsigned(get(row, 2)?),
            incorrect: unsigned(get(row, 3)?),
            ignored_until: get::<Option<i64>>(row, 12)?.map(Timestamp::from_millis),
        };
        let rate = cohort.rate_in_hour(hour_counts.get(&family).copied());
        let new = fold_hour(&fold, hour, rate, policy);
        accounts.push(get::<i64>(row, 0)?);
        families.push(family);
        reports.push(new.reports);
        expected.push(new.expected);
        drift_llr.push(new.drift.llr);
        drift_expected.push(new.drift.expected);
        drift_hours.push(new.drift.since_hour);
        drift_tasks.push(count(new.drift.tasks));
        drift_reports.push(count(new.drift.reports));
    }
    if !accounts.is_empty() {
        tx.execute(
            "INSERT INTO account_families AS f (account_id, family, baseline_reports,
                                                baseline_expected, baseline_hour, drift_llr,
                                                drift_since_hour, drift_tasks, drift_reports,
                                                drift_expected)
             SELECT account_id, family, reports, expected, $5::BIGINT, llr, since_hour,
                    tasks, reps, drift_expected
             FROM unnest($1::BIGINT[], $2::TEXT[], $3::FLOAT8[], $4::FLOAT8[], $6::FLOAT8[],
                         $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::FLOAT8[])
                 AS n (account_id, family, reports, expected, llr, since_hour, tasks, reps,
                       drift_expected)
             ON CONFLICT (account_id, family) DO UPDATE SET
                 baseline_reports = excluded.baseline_reports,
                 baseline_expected = excluded.baseline_expected,
                 baseline_hour = excluded.baseline_hour,
                 drift_llr = excluded.drift_llr,
                 drift_since_hour = excluded.drift_since_hour,
                 drift_tasks = excluded.drift_tasks,
                 drift_reports = excluded.drift_reports,
                 drift_expected = excluded.drift_expected",
            &[
                &accounts,
                &families,
                &reports,
                &expected,
                &hour,
                &drift_llr,
                &drift_hours,
                &drift_tasks,
                &drift_reports,
                &drift_expected,
            ],
        )
        .await?;
    }
    Ok(true)
}

/// Applies the changes a decision makes to its account, in order; returns the refunds its
/// clawbacks took back, to count once the transaction commits.
pub(super) async fn apply_account_changes<C: GenericClient>(
    client: &C,
    changes: &[AccountChange],
) -> PgResult<Vec<Reversed>> {
    let mut reversed = Vec::new();
    for change in changes {
        match change {
            AccountChange::Ignore {
                account,
                until,
                reason,
                count_since,
                at,
            } => ignore(client, *account, *until, reason, *count_since, *at).await?,
            AccountChange::Clawback(clawback) => {
                reversed.push(apply_clawback(client, clawback).await?);
            }
            AccountChange::Whitelist {
                account,
                provider,
                worker,
                at,
            } => super::scores::whitelist_worker(client, *account, provider, worker, *at).await?,
            AccountChange::NoteScreenFlag { account, flag } => {
                client
                    .execute(
                        "UPDATE accounts SET screen_flag_at = $1, screen_flag_lane = $2, \
                         screen_flag_reason = $3 WHERE id = $4",
                        &[&flag.at.as_millis(), &flag.lane, &flag.reason, &account.0],
                    )
                    .await?;
            }
        }
    }
    Ok(reversed)
}

/// Puts an account on ignored standing as [`StandingState::flagged`] says; `client` is in a
/// transaction.
async fn ignore<C: GenericClient>(
    client: &C,
    account: AccountId,
    until: Timestamp,
    reason: &str,
    count_since: Timestamp,
    now: Timestamp,
) -> PgResult<()> {
    let Some(current) = super::locked_account(client, account).await? else {
        return Err(StoreError::NotFound.into());
    };
    let next = current
        .standing_state()
        .flagged(until, reason, count_since, now);
    write_standing(client, account, &next).await
}

/// Writes an account's standing and ignore history as a domain rule computed them.
pub(super) async fn write_standing<C: GenericClient>(
    client: &C,
    account: AccountId,
    state: &StandingState,
) -> PgResult<()> {
    let reason = state.standing.reason();
    let count = i32::try_from(state.ignores.count).unwrap_or(i32::MAX);
    let stmt = client
        .prepare_cached(
            "UPDATE accounts SET standing = $1, standing_until = $2, standing_reason = $3,
                 ignore_count = $4, last_ignored_at = $5
             WHERE id = $6",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &state.standing.state_name(),
                &state.ignores.ended_at.map(|t| t.as_millis()),
                &reason,
                &count,
                &state.ignores.last_at.map(|t| t.as_millis()),
                &account.0,
            ],
        )
        .await?;
    Ok(())
}

/// Writes the reversals [`Clawback::reversals`] owes for the refunds stored now, and moves the
/// balance by what was written; returns what was written (a refund reversed before is not
/// reversed again).
async fn apply_clawback<C: GenericClient>(client: &C, clawback: &Clawback) -> PgResult<Reversed> {
    let rows = client
        .query(
            "SELECT r.task_id, r.refund_micros, t.captcha_type, r.verdict
             FROM reports r JOIN tasks t ON t.id = r.task_id
             WHERE r.account_id = $1 AND r.received_at >= $2 AND r.refund_micros IS NOT NULL
             ORDER BY r.received_at, r.task_id",
            &[&clawback.account.0, &clawback.since.as_millis()],
        )
        .await?;
    let mut granted = Vec::with_capacity(rows.len());
    for row in &rows {
        let (task, captcha_type, verdict): (String, String, String) =
            (get(row, 0)?, get(row, 2)?, get(row, 3)?);
        granted.push(crate::granted_refund(
            &task,
            get(row, 1)?,
            &captcha_type,
            &verdict,
        )?);
    }
    let reversals = clawback.reversals(granted);
    if reversals.is_empty() {
        return Ok(Reversed::new(clawback.lane, 0, 0));
    }
    let tasks: Vec<&str> = reversals.iter().map(|e| e.task.as_str()).collect();
    let kinds: Vec<&str> = reversals.iter().map(|e| e.kind.as_str()).collect();
    let amounts: Vec<i64> = reversals.iter().map(|e| e.amount.micros()).collect();
    let keys: Vec<&str> = reversals
        .iter()
        .map(|e| e.idempotency_key.as_str())
        .collect();
    let ats: Vec<i64> = reversals.iter().map(|e| e.at.as_millis()).collect();
    let reasons: Vec<Option<&str>> = reversals.iter().map(|e| e.reason.as_deref()).collect();
    let lanes: Vec<Option<&str>> = reversals.iter().map(|e| e.lane.as_deref()).collect();
    let params: [&(dyn ToSql + Sync); 8] = [
        &clawback.account.0,
        &tasks,
        &kinds,
        &amounts,
        &keys,
        &ats,
        &reasons,
        &lanes,
    ];
    let row = client
        .query_one(
            "WITH written AS (
                 INSERT INTO ledger_entries (account_id, task_id, kind, amount_micros,
                                             idempotency_key, created_at, reason, lane)
                 SELECT $1::BIGINT, task_id, kind, amount, key, at, reason, lane
                 FROM unnest($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[],
                             $7::TEXT[], $8::TEXT[])
                     AS e (task_id, kind, amount, key, at, reason, lane)
                 ON CONFLICT (idempotency_key) DO NOTHING
                 RETURNING amount_micros
             ), credited AS (
                 UPDATE accounts SET balance_micros = balance_micros + s.total
                 FROM (SELECT SUM(amount_micros)::BIGINT AS total FROM written) s
                 WHERE id = $1 AND s.total IS NOT NULL
             )
             SELECT COUNT(*)::BIGINT, COALESCE(SUM(amount_micros), 0)::BIGINT FROM written",
            &params,
        )
        .await?;
    let (count, micros): (i64, i64) = (get(&row, 0)?, get(&row, 1)?);
    Ok(Reversed::new(clawback.lane, count.unsigned_abs(), micros))
}

/// Writes an account's precision in a family after a re-check.
pub(super) async fn save_precision<C: GenericClient>(
    client: &C,
    update: &PrecisionUpdate,
) -> PgResult<()> {
    let PrecisionUpdate {
        account,
        family,
        precision,
        at: now,
    } = *update;
    let stmt = client
        .prepare_cached(
            "INSERT INTO account_families (account_id, family, precision_confirmed,
                                           precision_refuted, precision_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (account_id, family) DO UPDATE SET
                 precision_confirmed = excluded.precision_confirmed,
                 precision_refuted = excluded.precision_refuted,
                 precision_at = excluded.precision_at",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &account.0,
                &family.as_str(),
                &precision.confirmed,
                &precision.refuted,
                &now.as_millis(),
            ],
        )
        .await?;
    Ok(())
}
