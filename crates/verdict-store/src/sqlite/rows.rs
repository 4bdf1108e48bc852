//! Row ↔ domain conversions for SQLite. Column lists live next to their readers so that a
//! query and its mapping cannot drift apart.

use rusqlite::{Row, types::Type};
use verdict_domain::account::{Disabled, IgnoreHistory, ScreenFlag};
use verdict_domain::corrections::Correction;
use verdict_domain::keys::{KeyId, KeyRecord, KeyScheme};
use verdict_domain::report::RecheckState;
use verdict_domain::{
    Account, AccountId, Amount, CaptchaType, Evidence, KeyHash, Reason, Report, ReportKind,
    Standing, Task, TaskId, Timestamp, Verdict,
};

pub(crate) const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.trusted, a.balance_micros, a.standing, \
     a.standing_until, a.standing_reason, a.created_at, a.ignore_count, a.last_ignored_at, \
     a.screen_flag_at, a.screen_flag_lane, a.screen_flag_reason, a.disabled_at, a.disabled_reason";
/// Columns read by [`account`].
pub(crate) const ACCOUNT_WIDTH: usize = 15;

pub(crate) fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    let standing = match row.get::<_, String>(4)?.as_str() {
        "ignored" => Standing::Ignored {
            until: Timestamp::from_millis(row.get::<_, Option<i64>>(5)?.unwrap_or(0)),
            reason: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
        },
        _ => Standing::Good,
    };
    Ok(Account {
        id: AccountId(row.get(0)?),
        name: row.get(1)?,
        trusted: row.get(2)?,
        balance: Amount::from_micros(row.get(3)?),
        standing,
        ignores: IgnoreHistory {
            count: row.get(8)?,
            last_at: row.get::<_, Option<i64>>(9)?.map(Timestamp::from_millis),
            // The end of the last period: its `until`, or when an operator lifted it.
            ended_at: row.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
        },
        screen_flag: match row.get::<_, Option<i64>>(10)? {
            Some(at) => Some(ScreenFlag {
                at: Timestamp::from_millis(at),
                lane: row.get::<_, Option<String>>(11)?.unwrap_or_default(),
                reason: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
            }),
            None => None,
        },
        disabled: match row.get::<_, Option<i64>>(13)? {
            Some(at) => Some(Disabled {
                at: Timestamp::from_millis(at),
                reason: row.get::<_, Option<String>>(14)?.unwrap_or_default(),
            }),
            None => None,
        },
        created_at: Timestamp::from_millis(row.get(7)?),
    })
}

pub(crate) const KEY_COLUMNS: &str = "k.key_id, k.account_id, k.label, k.created_at, k.expires_at, k.revoked_at, k.scheme, k.key_hash";

/// Reads a key from columns starting at `at`: the record, how its hash was made, and the hash.
pub(crate) fn key(row: &Row<'_>, at: usize) -> rusqlite::Result<(KeyRecord, KeyScheme, KeyHash)> {
    let id: String = row.get(at)?;
    let scheme: String = row.get(at + 6)?;
    let hash: [u8; 32] = row.get(at + 7)?;
    Ok((
        KeyRecord {
            id: KeyId::parse(&id).ok_or_else(|| bad(at, "malformed key id"))?,
            account: AccountId(row.get(at + 1)?),
            label: row.get(at + 2)?,
            created_at: Timestamp::from_millis(row.get(at + 3)?),
            expires_at: row
                .get::<_, Option<i64>>(at + 4)?
                .map(Timestamp::from_millis),
            revoked_at: row
                .get::<_, Option<i64>>(at + 5)?
                .map(Timestamp::from_millis),
        },
        KeyScheme::parse(&scheme).ok_or_else(|| bad(at + 6, "unknown key scheme"))?,
        KeyHash::from_bytes(hash),
    ))
}

pub(crate) const TASK_COLUMNS: &str = "t.id, t.account_id, t.captcha_type, t.provider, t.worker, t.answer, t.cost_micros, t.completed_at";

/// Reads a task from columns starting at `at`.
pub(crate) fn task(row: &Row<'_>, at: usize) -> rusqlite::Result<Task> {
    let id: String = row.get(at)?;
    let captcha_type: String = row.get(at + 2)?;
    Ok(Task {
        id: TaskId::parse(&id).map_err(|e| bad(at, e))?,
        account: AccountId(row.get(at + 1)?),
        captcha_type: CaptchaType::parse(&captcha_type).map_err(|e| bad(at + 2, e))?,
        provider: row.get(at + 3)?,
        worker: row.get(at + 4)?,
        answer: row.get(at + 5)?,
        cost: Amount::from_micros(row.get(at + 6)?),
        completed_at: Timestamp::from_millis(row.get(at + 7)?),
    })
}

pub(crate) const REPORT_COLUMNS: &str = "r.task_id, r.account_id, r.kind, r.correction, r.code, \
     r.message, r.dialect, r.received_at, r.verdict, r.reason, r.evidence, r.refund_micros, \
     r.trust_weight, r.recheck_suspect, r.recheck_solves";

/// Reads a report from columns starting at `at`; `None` when the (left-joined) row has none.
pub(crate) fn report(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<Report>> {
    let Some(task_id) = row.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    let kind: String = row.get(at + 2)?;
    let verdict: String = row.get(at + 8)?;
    let reason: String = row.get(at + 9)?;
    let evidence: String = row.get(at + 10)?;
    let evidence = match serde_json::from_str(&evidence) {
        Ok(serde_json::Value::Object(map)) => Evidence::from_map(map),
        _ => return Err(bad(at + 10, "evidence is not a JSON object")),
    };
    Ok(Some(Report {
        task: TaskId::parse(&task_id).map_err(|e| bad(at, e))?,
        account: AccountId(row.get(at + 1)?),
        kind: ReportKind::parse(&kind).ok_or_else(|| bad(at + 2, "unknown report kind"))?,
        correction: row.get(at + 3)?,
        code: row.get(at + 4)?,
        message: row.get(at + 5)?,
        dialect: row.get(at + 6)?,
        received_at: Timestamp::from_millis(row.get(at + 7)?),
        verdict: Verdict::parse(&verdict).ok_or_else(|| bad(at + 8, "unknown verdict"))?,
        reason: Reason::from_code(&reason),
        evidence,
        refund: row.get::<_, Option<i64>>(at + 11)?.map(Amount::from_micros),
        trust_weight: row.get(at + 12)?,
        recheck: match row.get::<_, Option<bool>>(at + 13)? {
            Some(suspect) => Some(RecheckState {
                suspect,
                solves: match row.get::<_, Option<String>>(at + 14)? {
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|_| bad(at + 14, "recheck_solves is not a list of answers"))?,
                    None => Vec::new(),
                },
            }),
            None => None,
        },
    }))
}

/// Reads a row of the corrections dataset (`crate::corrections::CORRECTION_COLUMNS`).
pub(crate) fn correction(row: &Row<'_>) -> rusqlite::Result<Correction> {
    let task: String = row.get(0)?;
    let captcha_type: String = row.get(1)?;
    let verdict: String = row.get(8)?;
    let reason: String = row.get(9)?;
    Ok(Correction {
        task: TaskId::parse(&task).map_err(|e| bad(0, e))?,
        captcha_type: CaptchaType::parse(&captcha_type).map_err(|e| bad(1, e))?,
        provider: row.get(2)?,
        worker: row.get(3)?,
        answer: row.get(4)?,
        completed_at: Timestamp::from_millis(row.get(5)?),
        correction: row.get(6)?,
        trust_weight: row.get(7)?,
        verdict: Verdict::parse(&verdict).ok_or_else(|| bad(8, "unknown verdict"))?,
        reason: Reason::from_code(&reason),
        solves: match row.get::<_, Option<String>>(10)? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|_| bad(10, "recheck_solves is not a list of answers"))?,
            None => Vec::new(),
        },
        reported_at: Timestamp::from_millis(row.get(11)?),
    })
}

fn bad(column: usize, e: impl ToString) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        Type::Text,
        Box::new(std::io::Error::other(e.to_string())),
    )
}
