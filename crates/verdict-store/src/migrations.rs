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
    "20261201000000_typed_report_fields",
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
        "20261201000000_typed_report_fields",
        include_str!("../migrations/sqlite/20261201000000_typed_report_fields.sql"),
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
        "20261201000000_typed_report_fields",
        include_str!("../migrations/postgres/20261201000000_typed_report_fields.sql"),
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
}
