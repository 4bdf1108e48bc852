//! Row ↔ domain conversions for PostgreSQL. Column lists live next to their readers so that a
//! query and its mapping cannot drift apart. Mirrors `sqlite/rows.rs`; the column types differ
//! (BIGINT, BOOLEAN, BYTEA), the domain values read back identical.

use tokio_postgres::Row;
use tokio_postgres::types::FromSql;
use verdict_domain::account::{Disabled, IgnoreHistory, ScreenFlag};
use verdict_domain::corrections::Correction;
use verdict_domain::keys::{KeyId, KeyRecord, KeyScheme};
use verdict_domain::report::RecheckState;
use verdict_domain::{
    Account, AccountId, Amount, CaptchaType, EntryKind, Evidence, KeyHash, LedgerEntry, Reason,
    Report, ReportKind, Standing, Task, TaskId, Timestamp, Verdict,
};

use crate::{StoreError, StoreResult};

pub(crate) const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.trusted, a.balance_micros, a.standing, \
     a.standing_until, a.standing_reason, a.created_at, a.ignore_count, a.last_ignored_at, \
     a.screen_flag_at, a.screen_flag_lane, a.screen_flag_reason, a.disabled_at, a.disabled_reason";
/// Columns read by [`account`], from the first.
pub(crate) const ACCOUNT_WIDTH: usize = 15;

/// Reads an account from the first [`ACCOUNT_WIDTH`] columns.
pub(crate) fn account(row: &Row) -> StoreResult<Account> {
    let standing = match get::<String>(row, 4)?.as_str() {
        "ignored" => Standing::Ignored {
            until: Timestamp::from_millis(get::<Option<i64>>(row, 5)?.unwrap_or(0)),
            reason: get::<Option<String>>(row, 6)?.unwrap_or_default(),
        },
        _ => Standing::Good,
    };
    Ok(Account {
        id: AccountId(get(row, 0)?),
        name: get(row, 1)?,
        trusted: get(row, 2)?,
        balance: Amount::from_micros(get(row, 3)?),
        standing,
        ignores: IgnoreHistory {
            count: u32::try_from(get::<i32>(row, 8)?).map_err(|e| bad(8, e))?,
            last_at: get::<Option<i64>>(row, 9)?.map(Timestamp::from_millis),
            // The end of the last period: its `until`, or when an operator lifted it.
            ended_at: get::<Option<i64>>(row, 5)?.map(Timestamp::from_millis),
        },
        screen_flag: match get::<Option<i64>>(row, 10)? {
            Some(at) => Some(ScreenFlag {
                at: Timestamp::from_millis(at),
                lane: get::<Option<String>>(row, 11)?.unwrap_or_default(),
                reason: get::<Option<String>>(row, 12)?.unwrap_or_default(),
            }),
            None => None,
        },
        disabled: match get::<Option<i64>>(row, 13)? {
            Some(at) => Some(Disabled {
                at: Timestamp::from_millis(at),
                reason: get::<Option<String>>(row, 14)?.unwrap_or_default(),
            }),
            None => None,
        },
        created_at: Timestamp::from_millis(get(row, 7)?),
    })
}

pub(crate) const KEY_COLUMNS: &str = "k.key_id, k.account_id, k.label, k.created_at, k.expires_at, k.revoked_at, k.scheme, k.key_hash";

/// Columns read by [`key`].
pub(crate) const KEY_WIDTH: usize = 8;

/// Reads a key from columns starting at `at`: the record, how its hash was made, and the hash.
pub(crate) fn key(row: &Row, at: usize) -> StoreResult<(KeyRecord, KeyScheme, KeyHash)> {
    let id: String = get(row, at)?;
    let scheme: String = get(row, at + 6)?;
    let hash: &[u8] = get(row, at + 7)?;
    let hash: [u8; 32] = hash.try_into().map_err(|_| bad(at + 7, "not 32 bytes"))?;
    Ok((
        KeyRecord {
            id: KeyId::parse(&id).ok_or_else(|| bad(at, "malformed key id"))?,
            account: AccountId(get(row, at + 1)?),
            label: get(row, at + 2)?,
            created_at: Timestamp::from_millis(get(row, at + 3)?),
            expires_at: get::<Option<i64>>(row, at + 4)?.map(Timestamp::from_millis),
            revoked_at: get::<Option<i64>>(row, at + 5)?.map(Timestamp::from_millis),
        },
        KeyScheme::parse(&scheme).ok_or_else(|| bad(at + 6, "unknown key scheme"))?,
        KeyHash::from_bytes(hash),
    ))
}

pub(crate) const TASK_COLUMNS: &str = "t.id, t.account_id, t.captcha_type, t.provider, t.worker, t.answer, t.cost_micros, t.completed_at";

/// Reads a task from columns starting at `at`; `None` when the (left-joined) row has none.
pub(crate) fn task(row: &Row, at: usize) -> StoreResult<Option<Task>> {
    let Some(id) = get::<Option<String>>(row, at)? else {
        return Ok(None);
    };
    let captcha_type: String = get(row, at + 2)?;
    Ok(Some(Task {
        id: TaskId::parse(&id).map_err(|e| bad(at, e))?,
        account: AccountId(get(row, at + 1)?),
        captcha_type: CaptchaType::parse(&captcha_type).map_err(|e| bad(at + 2, e))?,
        provider: get(row, at + 3)?,
        worker: get(row, at + 4)?,
        answer: get(row, at + 5)?,
        cost: Amount::from_micros(get(row, at + 6)?),
        completed_at: Timestamp::from_millis(get(row, at + 7)?),
    }))
}

pub(crate) const REPORT_COLUMNS: &str = "r.task_id, r.account_id, r.kind, r.correction, r.code, \
     r.message, r.dialect, r.received_at, r.verdict, r.reason, r.evidence, r.refund_micros, \
     r.trust_weight, r.recheck_suspect, r.recheck_solves";
/// How many columns [`REPORT_COLUMNS`] names.
pub(crate) const REPORT_WIDTH: usize = 15;

/// Reads a report from columns starting at `at`; `None` when the (left-joined) row has none.
pub(crate) fn report(row: &Row, at: usize) -> StoreResult<Option<Report>> {
    let Some(task_id) = get::<Option<String>>(row, at)? else {
        return Ok(None);
    };
    let kind: String = get(row, at + 2)?;
    let verdict: String = get(row, at + 8)?;
    let reason: String = get(row, at + 9)?;
    let evidence: String = get(row, at + 10)?;
    let evidence = match serde_json::from_str(&evidence) {
        Ok(serde_json::Value::Object(map)) => Evidence::from_map(map),
        _ => return Err(bad(at + 10, "evidence is not a JSON object")),
    };
    Ok(Some(Report {
        task: TaskId::parse(&task_id).map_err(|e| bad(at, e))?,
        account: AccountId(get(row, at + 1)?),
        kind: ReportKind::parse(&kind).ok_or_else(|| bad(at + 2, "unknown report kind"))?,
        correction: get(row, at + 3)?,
        code: get(row, at + 4)?,
        message: get(row, at + 5)?,
        dialect: get(row, at + 6)?,
        received_at: Timestamp::from_millis(get(row, at + 7)?),
        verdict: Verdict::parse(&verdict).ok_or_else(|| bad(at + 8, "unknown verdict"))?,
        reason: Reason::from_code(&reason),
        evidence,
        refund: get::<Option<i64>>(row, at + 11)?.map(Amount::from_micros),
        trust_weight: get(row, at + 12)?,
        recheck: match get::<Option<bool>>(row, at + 13)? {
            Some(suspect) => Some(RecheckState {
                suspect,
                solves: match get::<Option<String>>(row, at + 14)? {
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|_| bad(at + 14, "recheck_solves is not a list of answers"))?,
                    None => Vec::new(),
                },
            }),
            None => None,
        },
    }))
}

pub(crate) const LEDGER_COLUMNS: &str =
    "account_id, task_id, kind, amount_micros, idempotency_key, created_at, reason, lane";

pub(crate) fn ledger_entry(row: &Row) -> StoreResult<LedgerEntry> {
    let task: String = get(row, 1)?;
    let kind: String = get(row, 2)?;
    Ok(LedgerEntry {
        account: AccountId(get(row, 0)?),
        task: TaskId::parse(&task).map_err(|e| bad(1, e))?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| bad(2, format!("unknown entry kind {kind}")))?,
        amount: Amount::from_micros(get(row, 3)?),
        idempotency_key: get(row, 4)?,
        at: Timestamp::from_millis(get(row, 5)?),
        reason: get(row, 6)?,
        lane: get(row, 7)?,
    })
}

/// Reads a row of the corrections dataset (`crate::corrections::CORRECTION_COLUMNS`).
pub(crate) fn correction(row: &Row) -> StoreResult<Correction> {
    let task: String = get(row, 0)?;
    let captcha_type: String = get(row, 1)?;
    let verdict: String = get(row, 8)?;
    let reason: String = get(row, 9)?;
    Ok(Correction {
        task: TaskId::parse(&task).map_err(|e| bad(0, e))?,
        captcha_type: CaptchaType::parse(&captcha_type).map_err(|e| bad(1, e))?,
        provider: get(row, 2)?,
        worker: get(row, 3)?,
        answer: get(row, 4)?,
        completed_at: Timestamp::from_millis(get(row, 5)?),
        correction: get(row, 6)?,
        trust_weight: get(row, 7)?,
        verdict: Verdict::parse(&verdict).ok_or_else(|| bad(8, "unknown verdict"))?,
        reason: Reason::from_code(&reason),
        solves: match get::<Option<String>>(row, 10)? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|_| bad(10, "recheck_solves is not a list of answers"))?,
            None => Vec::new(),
        },
        reported_at: Timestamp::from_millis(get(row, 11)?),
    })
}

pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, column: usize) -> StoreResult<T> {
    row.try_get(column)
        .map_err(|e| StoreError::other(format!("reading column {column}")).because(e))
}

fn bad(column: usize, e: impl ToString) -> StoreError {
    StoreError::other(format!("column {column} does not read back"))
        .because(crate::error::Described(e.to_string()))
}
