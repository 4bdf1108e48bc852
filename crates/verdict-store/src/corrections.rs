//! The SQL of `Store::corrections` that both backends share: the dataset's rows (the reports
//! `verdict_domain::corrections::is_label` names: those with a correction), its filters and its
//! order, one page at a time. Each backend only spells placeholders its way and binds values.
//!
//! Why pages by key rather than one long cursor: an export runs at the pace of whoever reads
//! it, and a client that stops reading must not hold anything open in the database. One
//! statement iterated to the end would keep a read transaction open for as long as the client
//! dawdles: on SQLite that pins a pooled reader and stops the WAL from being checkpointed back
//! to its start, so the WAL grows with every report written meanwhile; on PostgreSQL it holds
//! back the xmin horizon, so vacuum cannot reclaim anything newer. A page is one short
//! statement that continues after the last row of the one before (`received_at`, then task
//! id, which is unique), read through the partial index `reports_corrections`; between pages
//! nothing is held but that key. The price is that an export is not one snapshot: a report
//! settled while the export runs shows the state its page read (see docs/corrections.md).

use crate::CorrectionQuery;
use crate::listing::Param;

/// The columns a dataset row is read from, in the order `row` readers take them.
pub(crate) const CORRECTION_COLUMNS: &str = "r.task_id, t.captcha_type, t.provider, t.worker, \
     t.answer, t.completed_at, r.correction, r.trust_weight, r.verdict, r.reason, \
     r.recheck_solves, r.received_at";

/// `SELECT … FROM … WHERE … ORDER BY … LIMIT …` for one page, oldest first; `placeholder(n)`
/// spells the n-th bound value (from 1).
pub(crate) fn page_sql(
    query: &CorrectionQuery,
    placeholder: impl Fn(usize) -> String,
) -> (String, Vec<Param>) {
    // The same condition as the partial index's, word for word, so that both planners use it.
    let mut conditions: Vec<String> = vec!["r.correction IS NOT NULL".into()];
    let mut params: Vec<Param> = Vec::new();
    let mut bind = |condition: &str, value: Param, conditions: &mut Vec<String>| {
        params.push(value);
        conditions.push(condition.replace('?', &placeholder(params.len())));
    };
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
    if let Some(t) = query.captcha_type {
        bind(
            "t.captcha_type = ?",
            Param::Text(t.as_str().into()),
            &mut conditions,
        );
    }
    if let Some((at, task)) = &query.after {
        // After the key in the dataset's order (oldest first): later, or as late with a greater
        // task id.
        params.push(Param::Int(at.as_millis()));
        let at_p = placeholder(params.len());
        params.push(Param::Text(task.as_str().into()));
        let task_p = placeholder(params.len());
        conditions.push(format!(
            "(r.received_at > {at_p} OR (r.received_at = {at_p} AND r.task_id > {task_p}))"
        ));
    }
    (
        format!(
            "SELECT {CORRECTION_COLUMNS} FROM reports r JOIN tasks t ON t.id = r.task_id \
             WHERE {} ORDER BY r.received_at, r.task_id LIMIT {}",
            conditions.join(" AND "),
            query.limit
        ),
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_domain::{CaptchaType, TaskId, Timestamp};

    #[test]
    fn a_page_takes_only_corrections_and_continues_after_the_key() {
        let query = CorrectionQuery {
            since: Some(Timestamp::from_millis(1)),
            captcha_type: Some(CaptchaType::Audio),
            after: Some((Timestamp::from_millis(5), TaskId::parse("t9").unwrap())),
            limit: 50,
            ..CorrectionQuery::default()
        };
        let (sql, params) = page_sql(&query, |n| format!("${n}"));
        assert!(
            sql.contains(
                "WHERE r.correction IS NOT NULL AND r.received_at >= $1 AND t.captcha_type = $2"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("(r.received_at > $3 OR (r.received_at = $3 AND r.task_id > $4))"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY r.received_at, r.task_id LIMIT 50"),
            "{sql}"
        );
        assert_eq!(params.len(), 4);
    }
}
