//! Schema migrations, embedded, one tree per backend with the same `<timestamp>_<name>` stems
//! (a test checks both trees give the same tables and columns). Applied in order at start-up,
//! each once, recorded in `schema_migrations`.
//!
//! Hand-written rather than refinery/sqlx-migrate: the runner is a few lines per backend, and
//! PostgreSQL needs an advisory lock so that several nodes starting at once migrate once.
//! Never edit a migration that has shipped; add one (expand/contract, old nodes keep serving).

/// Migration stems, in order.
pub const MIGRATION_NAMES: &[&str] = &[
    "20261121000000_init",
    "20261122000000_statistics",
    "20261123000000_recheck_counts",
    "20261124000000_scores",
    "20261125000000_drift",
    "20261201000000_typed_fields",
    "20261202000000_real_world",
    "20261203000000_reversal_lane",
    "20261207000000_key_lifecycle",
    "20261207010000_report_listing",
    "20261207020000_dashboard",
    "20261207030000_retention",
    "20261208000000_corrections_dataset",
];

pub(crate) const SQLITE: &[(&str, &str)] = &[
    (
        "20261121000000_init",
        include_str!("../migrations/sqlite/20261121000000_init.sql"),
    ),
    (
        "20261122000000_statistics",
        include_str!("../migrations/sqlite/20261122000000_statistics.sql"),
    ),
    (
        "20261123000000_recheck_counts",
        include_str!("../migrations/sqlite/20261123000000_recheck_counts.sql"),
    ),
    (
        "20261124000000_scores",
        include_str!("../migrations/sqlite/20261124000000_scores.sql"),
    ),
    (
        "20261125000000_drift",
        include_str!("../migrations/sqlite/20261125000000_drift.sql"),
    ),
    (
        "20261201000000_typed_fields",
        include_str!("../migrations/sqlite/20261201000000_typed_fields.sql"),
    ),
    (
        "20261202000000_real_world",
        include_str!("../migrations/sqlite/20261202000000_real_world.sql"),
    ),
    (
        "20261203000000_reversal_lane",
        include_str!("../migrations/sqlite/20261203000000_reversal_lane.sql"),
    ),
    (
        "20261207000000_key_lifecycle",
        include_str!("../migrations/sqlite/20261207000000_key_lifecycle.sql"),
    ),
    (
        "20261207010000_report_listing",
        include_str!("../migrations/sqlite/20261207010000_report_listing.sql"),
    ),
    (
        "20261207020000_dashboard",
        include_str!("../migrations/sqlite/20261207020000_dashboard.sql"),
    ),
    (
        "20261207030000_retention",
        include_str!("../migrations/sqlite/20261207030000_retention.sql"),
    ),
    (
        "20261208000000_corrections_dataset",
        include_str!("../migrations/sqlite/20261208000000_corrections_dataset.sql"),
    ),
];

pub(crate) const POSTGRES: &[(&str, &str)] = &[
    (
        "20261121000000_init",
        include_str!("../migrations/postgres/20261121000000_init.sql"),
    ),
    (
        "20261122000000_statistics",
        include_str!("../migrations/postgres/20261122000000_statistics.sql"),
    ),
    (
        "20261123000000_recheck_counts",
        include_str!("../migrations/postgres/20261123000000_recheck_counts.sql"),
    ),
    (
        "20261124000000_scores",
        include_str!("../migrations/postgres/20261124000000_scores.sql"),
    ),
    (
        "20261125000000_drift",
        include_str!("../migrations/postgres/20261125000000_drift.sql"),
    ),
    (
        "20261201000000_typed_fields",
        include_str!("../migrations/postgres/20261201000000_typed_fields.sql"),
    ),
    (
        "20261202000000_real_world",
        include_str!("../migrations/postgres/20261202000000_real_world.sql"),
    ),
    (
        "20261203000000_reversal_lane",
        include_str!("../migrations/postgres/20261203000000_reversal_lane.sql"),
    ),
    (
        "20261207000000_key_lifecycle",
        include_str!("../migrations/postgres/20261207000000_key_lifecycle.sql"),
    ),
    (
        "20261207010000_report_listing",
        include_str!("../migrations/postgres/20261207010000_report_listing.sql"),
    ),
    (
        "20261207020000_dashboard",
        include_str!("../migrations/postgres/20261207020000_dashboard.sql"),
    ),
    (
        "20261207030000_retention",
        include_str!("../migrations/postgres/20261207030000_retention.sql"),
    ),
    (
        "20261208000000_corrections_dataset",
        include_str!("../migrations/postgres/20261208000000_corrections_dataset.sql"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_trees_list_the_same_stems_in_order() {
        fn names(tree: &[(&'static str, &str)]) -> Vec<&'static str> {
            tree.iter().map(|(n, _)| *n).collect()
        }
        assert_eq!(names(SQLITE), MIGRATION_NAMES);
        assert_eq!(names(POSTGRES), MIGRATION_NAMES);
    }

    /// Rows written before the typed report fields, as an older node wrote them.
    const OLD_ROWS: &str = "
        INSERT INTO accounts (id, name, created_at) VALUES (1, 'old', 0);
        INSERT INTO tasks (id, account_id, captcha_type, provider, cost_micros, completed_at, ingested_at)
        VALUES ('weighed', 1, 'turnstile', 'p', 10, 0, 0), ('held', 1, 'image', 'p', 10, 0, 0),
               ('sampled', 1, 'image', 'p', 10, 0, 0), ('bare', 1, 'turnstile', 'p', 10, 0, 0);
        INSERT INTO reports (task_id, account_id, kind, dialect, received_at, verdict, reason, evidence)
        VALUES ('weighed', 1, 'incorrect', 'native', 0, 'accepted', 'incorrect_accepted',
                '{\"trust_weight\":0.25}'),
               ('held', 1, 'incorrect', 'native', 0, 'pending', 'awaiting_recheck',
                '{\"trust_weight\":1.0,\"recheck\":{\"why\":\"low_precision\",\"answers\":[\"AB\"]}}'),
               ('sampled', 1, 'incorrect', 'native', 0, 'accepted', 'incorrect_accepted',
                '{\"recheck\":{\"why\":\"not sampled; upheld on the account''s record\"}}'),
               ('bare', 1, 'incorrect', 'native', 0, 'accepted', 'incorrect_accepted', '{}');";

    const READ_BACK: &str = "SELECT task_id, trust_weight, recheck_suspect, recheck_solves FROM reports ORDER BY task_id";

    type Typed = (String, f64, Option<bool>, Option<String>);

    fn expected() -> Vec<Typed> {
        vec![
            ("bare".into(), 1.0, None, None),
            ("held".into(), 1.0, Some(true), Some(r#"["AB"]"#.into())),
            ("sampled".into(), 1.0, None, None),
            ("weighed".into(), 0.25, None, None),
        ]
    }

    type Tree = &'static [(&'static str, &'static str)];

    /// The migrations before the typed fields, the typed fields' and those after it (which
    /// old rows must go through too).
    fn around_typed(tree: Tree) -> (Tree, Vec<&'static str>) {
        let at = tree
            .iter()
            .position(|(name, _)| *name == "20261201000000_typed_fields")
            .expect("the typed fields migration");
        (
            &tree[..at],
            tree[at..].iter().map(|(_, sql)| *sql).collect(),
        )
    }

    #[test]
    fn sqlite_typed_report_fields_are_read_from_the_evidence_of_older_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let (before, typed) = around_typed(SQLITE);
        for (_, sql) in before {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(OLD_ROWS).unwrap();
        for sql in typed {
            conn.execute_batch(sql).unwrap();
        }
        let rows: Vec<Typed> = conn
            .prepare(READ_BACK)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, expected());
    }

    #[tokio::test]
    async fn postgres_typed_report_fields_are_read_from_the_evidence_of_older_rows() {
        let url = std::env::var("VERDICT_TEST_PG_URL").expect(
            "VERDICT_TEST_PG_URL names a PostgreSQL database for tests (.ci/run starts one)",
        );
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let schema = format!(
            "migration_backfill_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema}; SET search_path TO {schema}"
            ))
            .await
            .unwrap();
        let (before, typed) = around_typed(POSTGRES);
        let result = async {
            for (_, sql) in before {
                client.batch_execute(sql).await?;
            }
            client.batch_execute(OLD_ROWS).await?;
            for sql in &typed {
                client.batch_execute(sql).await?;
            }
            let rows = client.query(READ_BACK, &[]).await?;
            Ok::<Vec<Typed>, tokio_postgres::Error>(
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                    .collect(),
            )
        }
        .await;
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        assert_eq!(result.unwrap(), expected());
    }
}
