//! The SQL of `Store::reports` that both backends share: which conditions a [`ReportQuery`]
//! makes and in which order the list runs. Each backend only spells placeholders its way and
//! binds the values.

use crate::ReportQuery;

/// A value bound to a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// `FROM … WHERE … ORDER BY … LIMIT …` over reports `r` joined with their tasks `t`, newest
/// first; `placeholder(n)` spells the n-th bound value (from 1).
pub(crate) fn from_where(
    query: &ReportQuery,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<Param>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let mut bind = |condition: &str, value: Param, conditions: &mut Vec<String>| {
        params.push(value);
        conditions.push(condition.replace('?', &placeholder(params.len())));
    };
    if let Some(account) = query.account {
        bind("r.account_id = ?", Param::Int(account.0), &mut conditions);
    }
    if let Some(verdict) = query.verdict {
        bind(
            "r.verdict = ?",
            Param::Text(verdict.as_str().into()),
            &mut conditions,
        );
    }
    if let Some(reason) = &query.reason {
        bind("r.reason = ?", Param::Text(reason.clone()), &mut conditions);
    }
    if let Some(t) = query.captcha_type {
        bind(
            "t.captcha_type = ?",
            Param::Text(t.as_str().into()),
            &mut conditions,
        );
    }
    if let Some(dialect) = &query.dialect {
        bind(
            "r.dialect = ?",
            Param::Text(dialect.clone()),
            &mut conditions,
        );
    }
    if let Some(since) = query.since {
        bind(
            "r.received_at >= ?",
            Param::Int(since.as_millis()),
            &mut conditions,
        );
    }
    if let Some(until) = query.until {
        bind(
            "r.received_at < ?",
            Param::Int(until.as_millis()),
            &mut conditions,
        );
    }
    if let Some((at, task)) = &query.after {
        // After the cursor in the list's order (newest first): earlier, or as early with a
        // smaller task id.
        params.push(Param::Int(at.as_millis()));
        let at_p = placeholder(params.len());
        params.push(Param::Text(task.as_str().into()));
        let task_p = placeholder(params.len());
        conditions.push(format!(
            "(r.received_at < {at_p} OR (r.received_at = {at_p} AND r.task_id < {task_p}))"
        ));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (
        format!(
            "FROM reports r JOIN tasks t ON t.id = r.task_id{filter} \
             ORDER BY r.received_at DESC, r.task_id DESC LIMIT {}",
            query.limit
        ),
        params,
    )
}

/// Reports since `$1`, counted per bucket of `$2` ms, dialect, type and verdict (placeholders as
/// `placeholder` spells them).
pub(crate) fn report_flow(placeholder: impl Fn(usize) -> String) -> String {
    let (since, width) = (placeholder(1), placeholder(2));
    format!(
        "SELECT (r.received_at / {width}) * {width} AS bucket, r.dialect, t.captcha_type, \
                r.verdict, COUNT(*) \
         FROM reports r JOIN tasks t ON t.id = r.task_id \
         WHERE r.received_at >= {since} \
         GROUP BY bucket, r.dialect, t.captcha_type, r.verdict ORDER BY bucket"
    )
}

/// Ledger entries since `$1`, counted and summed per bucket of `$2` ms and kind.
pub(crate) fn money_flow(placeholder: impl Fn(usize) -> String) -> String {
    let (since, width) = (placeholder(1), placeholder(2));
    format!(
        "SELECT (created_at / {width}) * {width} AS bucket, kind, COUNT(*), CAST(SUM(amount_micros) AS BIGINT) \
         FROM ledger_entries WHERE created_at >= {since} \
         GROUP BY bucket, kind ORDER BY bucket"
    )
}

/// The accounts of an [`AccountQuery`](crate::AccountQuery), `account_columns` selected; with
/// `attention_at`, those `Account::needs_attention` may hold for (the caller decides each).
pub(crate) fn accounts(
    query: &crate::AccountQuery,
    account_columns: &str,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<Param>) {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    if let Some(now) = query.attention_at {
        params.push(Param::Int(now.as_millis()));
        conditions.push(format!(
            "((a.standing = 'ignored' AND a.standing_until > {}) \
              OR a.screen_flag_at IS NOT NULL OR a.disabled_at IS NOT NULL)",
            placeholder(params.len())
        ));
    }
    if let Some(after) = query.after {
        params.push(Param::Int(after.0));
        conditions.push(format!("a.id > {}", placeholder(params.len())));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (
        format!(
            "SELECT {account_columns} FROM accounts a{filter} ORDER BY a.id LIMIT {}",
            query.limit
        ),
        params,
    )
}

/// The re-check queue at `$1`: open, overdue, held, and the oldest open one's creation.
pub(crate) fn recheck_queue(placeholder: impl Fn(usize) -> String) -> String {
    let now = placeholder(1);
    format!(
        "SELECT COUNT(*), \
                COALESCE(SUM(CASE WHEN deadline <= {now} THEN 1 ELSE 0 END), 0), \
                COALESCE(SUM(CASE WHEN claimed_until > {now} THEN 1 ELSE 0 END), 0), \
                MIN(created_at) \
         FROM rechecks WHERE resolved_at IS NULL"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_domain::{AccountId, TaskId, Timestamp, Verdict};

    #[test]
    fn conditions_follow_the_query_and_the_cursor_continues_the_order() {
        let query = ReportQuery {
            account: Some(AccountId(7)),
            verdict: Some(Verdict::Accepted),
            after: Some((Timestamp::from_millis(5), TaskId::parse("t9").unwrap())),
            limit: 50,
            ..ReportQuery::default()
        };
        let (sql, params) = from_where(&query, |n| format!("${n}"));
        assert!(
            sql.contains("r.account_id = $1 AND r.verdict = $2"),
            "{sql}"
        );
        assert!(
            sql.contains("(r.received_at < $3 OR (r.received_at = $3 AND r.task_id < $4))"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY r.received_at DESC, r.task_id DESC LIMIT 50"),
            "{sql}"
        );
        assert_eq!(params.len(), 4);
        let (plain, none) = from_where(
            &ReportQuery {
                limit: 1,
                ..ReportQuery::default()
            },
            |n| format!("?{n}"),
        );
        assert!(!plain.contains("WHERE") && none.is_empty(), "{plain}");
    }
}
