//! verdict's storage. One [`Store`] trait shaped by use case, not by table: whatever must be
//! atomic is one method and the backend owns the transaction. Backends: SQLite (embedded
//! default, group commit through one writer thread) and PostgreSQL (several nodes, one truth).
//! Both pass `tests/conformance.rs`. This crate knows nothing of HTTP.

mod error;
mod migrations;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use verdict_domain::{
    Account, AccountId, Family, KeyHash, LedgerEntry, Report, Task, TaskId, Timestamp,
};

pub use error::StoreError;
pub use migrations::MIGRATION_NAMES;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// An account to create, with the hash of its first API key.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub trusted: bool,
    pub key_hash: KeyHash,
    pub created_at: Timestamp,
}

/// Everything judging a report needs, read in one call.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// The account the presented key belongs to.
    pub account: Account,
    /// The task with the requested id, whoever owns it; judging checks ownership.
    pub task: Option<Task>,
    /// The report already recorded for that task.
    pub existing: Option<Report>,
}

/// What [`Store::record_report`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The report was stored, with its refund if it carries one; durable on return.
    Inserted(Report),
    /// Another report for the task was stored first; this is it, and nothing was written.
    Existing(Report),
}

/// What happened to one task of an ingest batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestResult {
    Inserted,
    /// A task with this id exists already; it was left as it was.
    Duplicate,
    UnknownAccount,
}

/// An account's activity in one family over a recent period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyActivity {
    pub family: Family,
    /// Tasks completed in the period.
    pub tasks: u64,
    /// Incorrect- and correct-reports received in the period.
    pub incorrect: u64,
    pub correct: u64,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers; the readiness probe.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates an account with its first key. `Conflict` if the key is already in use.
    async fn create_account(&self, new: NewAccount) -> StoreResult<Account>;

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    async fn account_by_key(&self, key: &KeyHash) -> StoreResult<Option<Account>>;

    /// Tasks completed and reports received since `since`, per family with any activity.
    async fn account_activity(
        &self,
        id: AccountId,
        since: Timestamp,
    ) -> StoreResult<Vec<FamilyActivity>>;

    /// Stores each task whose id is new, in one transaction; never overwrites. One result per
    /// task, in order. Durable on return.
    async fn ingest_tasks(&self, tasks: Vec<Task>, at: Timestamp)
    -> StoreResult<Vec<IngestResult>>;

    /// A task and its report.
    async fn task(&self, id: &TaskId) -> StoreResult<Option<(Task, Option<Report>)>>;

    /// The key's account, the task and its report. `None` when no account has the key.
    async fn report_context(
        &self,
        key: &KeyHash,
        task: &TaskId,
    ) -> StoreResult<Option<ReportContext>>;

    /// Stores a judged report and its refund atomically, unless the task has a report already.
    /// The refund is written at most once per task, whatever the concurrency.
    async fn record_report(&self, report: Report) -> StoreResult<Recorded>;

    /// An account's ledger entries, oldest first.
    async fn ledger(&self, account: AccountId) -> StoreResult<Vec<LedgerEntry>>;

    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Sets a metadata value unless one is set; returns whether this call set it.
    async fn set_meta_if_absent(&self, key: &str, value: &str) -> StoreResult<bool>;
}
