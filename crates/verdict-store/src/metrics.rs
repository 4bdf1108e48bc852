//! What storage tells the `metrics` facade: errors the databases returned, transactions and
//! batches run again, group-commit batch sizes, and refunds a clawback took back (counted only
//! once their transaction committed). Every label value comes from a fixed set: written here, or
//! a lane the domain names; no id, key or address is ever a label. Until the binary installs a
//! recorder, every call here does nothing.

use crate::StoreError;

/// Errors the database driver or pool returned, by backend and kind.
pub const STORE_ERRORS: &str = "verdict_store_errors_total";
/// Work run again: a PostgreSQL transaction after a serialization failure or deadlock, a batch
/// run again report by report (PostgreSQL) or job by job (SQLite) after one of it failed.
pub const STORE_RETRIES: &str = "verdict_store_retries_total";
/// Jobs committed together by the SQLite writer thread, reports by the PostgreSQL writer.
pub const BATCH_SIZE: &str = "verdict_store_batch_size";
/// Refunds taken back by clawbacks, by the lane that flagged the account.
pub const REVERSALS: &str = "verdict_reversals_total";
/// Their amount, in micro-units of the platform's currency (exact integers; divide by 1e6).
pub const REVERSED_MICROS: &str = "verdict_reversed_micros_total";

/// Upper bounds of the batch-size histogram's buckets: powers of two up to the larger writer's
/// batch (SQLite's 1024).
pub const BATCH_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Gives each series its help text.
pub fn describe() {
    metrics::describe_counter!(
        STORE_ERRORS,
        "Errors the database driver or connection pool returned (kind: conflict, unavailable, other)"
    );
    metrics::describe_counter!(
        STORE_RETRIES,
        "Work run again: serialization_failure and deadlock (PostgreSQL transactions), batch_rerun (a batch split after one of its writes failed)"
    );
    metrics::describe_histogram!(
        BATCH_SIZE,
        "Writes committed together by the group-commit writer"
    );
    metrics::describe_counter!(REVERSALS, "Refunds taken back by clawbacks, by lane");
    metrics::describe_counter!(
        REVERSED_MICROS,
        "Amount of refunds taken back, in micro-units of the platform's currency"
    );
}

/// Refunds a clawback wrote back in a transaction: counted once that transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reversed {
    pub lane: &'static str,
    pub count: u64,
    /// Taken back, as a positive number of micro-units.
    pub micros: u64,
}

impl Reversed {
    pub(crate) fn new(lane: &'static str, count: u64, micros: i64) -> Self {
        Self {
            lane,
            count,
            micros: micros.unsigned_abs(),
        }
    }
}

/// The reversals of committed transactions.
pub(crate) fn reversed(all: &[Reversed]) {
    for r in all.iter().filter(|r| r.count > 0) {
        metrics::counter!(REVERSALS, "lane" => r.lane).increment(r.count);
        metrics::counter!(REVERSED_MICROS, "lane" => r.lane).increment(r.micros);
    }
}

/// An error a backend's driver returned. "Not found" is an answer, not an error: not counted.
pub(crate) fn error(backend: &'static str, error: &StoreError) {
    let kind = match error {
        StoreError::NotFound => return,
        StoreError::Conflict { .. } => "conflict",
        StoreError::Unavailable { .. } => "unavailable",
        StoreError::Other { .. } => "other",
    };
    metrics::counter!(STORE_ERRORS, "backend" => backend, "kind" => kind).increment(1);
}

/// Work run again; `cause` is one of `serialization_failure`, `deadlock`, `batch_rerun`.
pub(crate) fn retry(backend: &'static str, cause: &'static str) {
    metrics::counter!(STORE_RETRIES, "backend" => backend, "cause" => cause).increment(1);
}

/// A batch the group-commit writer ran.
pub(crate) fn batch(backend: &'static str, size: usize) {
    metrics::histogram!(BATCH_SIZE, "backend" => backend).record(size as f64);
}
