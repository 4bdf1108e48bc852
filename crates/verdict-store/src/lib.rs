//! verdict's storage. One [`Store`] trait shaped by use case, not by table: whatever must be
//! atomic is one method and the backend owns the transaction. Backends: SQLite (embedded
//! default, group commit through one writer thread) and PostgreSQL (several nodes, one truth).
//! Both pass `tests/conformance.rs`. This crate knows nothing of HTTP.

mod corrections;
mod error;
mod listing;
pub mod metrics;
mod migrations;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use verdict_domain::account::Disabled;
use verdict_domain::corrections::Correction;
use verdict_domain::keys::{KeyId, KeyLookup, KeyRecord, KeyScheme};
use verdict_domain::plan::{IngestWrites, ReportWrites, SettlementWrites};
use verdict_domain::recheck::Precision;
use verdict_domain::screen::{Activity, Baseline, CohortRecord, ScreenPolicy};
use verdict_domain::{
    Account, AccountId, CaptchaType, Family, KeyHash, LedgerEntry, Report, Standing, Task, TaskId,
    Timestamp,
};

pub use error::StoreError;
pub use migrations::MIGRATION_NAMES;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// An account to create, with its first API key.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub trusted: bool,
    pub key: NewKey,
    pub created_at: Timestamp,
    /// The creating request's idempotency key and a fingerprint of the request, so that a
    /// retry finds this account instead of creating another.
    pub idempotency: Option<CreationKey>,
}

/// An idempotency key a client sent with an account creation, and what it was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationKey {
    pub key: String,
    pub fingerprint: String,
}

/// An API key to store: its public id, its hash and how the hash was made.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: KeyId,
    pub hash: KeyHash,
    pub scheme: KeyScheme,
    pub label: Option<String>,
    pub created_at: Timestamp,
}

/// The account a presented key belongs to and the key as stored, whatever its state: whether
/// it still opens the account is the domain's to say (`KeyRecord::opens`, `Account::enabled`).
#[derive(Debug, Clone)]
pub struct KeyHolder {
    pub account: Account,
    pub key: KeyRecord,
    /// How the stored hash was made; an unkeyed one is rewritten keyed.
    pub scheme: KeyScheme,
}

/// A rotation: a new key, and when each key it replaces stops opening the account
/// (`keys::rotation_expiry`), in one transaction.
#[derive(Debug, Clone)]
pub struct KeyRotation {
    pub new: NewKey,
    pub expire: Vec<(KeyId, Timestamp)>,
}

/// Which reports to list, newest first (by when they arrived, then task id), and where to start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportQuery {
    pub account: Option<AccountId>,
    pub verdict: Option<verdict_domain::Verdict>,
    /// A reason code (`Reason::code`).
    pub reason: Option<String>,
    pub captcha_type: Option<CaptchaType>,
    pub dialect: Option<String>,
    /// Received at or after.
    pub since: Option<Timestamp>,
    /// Received before.
    pub until: Option<Timestamp>,
    /// Only reports after this one in the list's order (a page's last): `(received_at, task)`.
    pub after: Option<(Timestamp, TaskId)>,
    /// At most this many.
    pub limit: u32,
}

/// One page of the corrections dataset (`verdict_domain::corrections`): reports with a
/// correction, oldest first (by when they arrived, then task id), after a key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrectionQuery {
    /// Received at or after.
    pub since: Option<Timestamp>,
    /// Received before.
    pub until: Option<Timestamp>,
    pub captcha_type: Option<CaptchaType>,
    /// Only rows after this one in the dataset's order (the previous page's last):
    /// `(received_at, task)`.
    pub after: Option<(Timestamp, TaskId)>,
    /// At most this many.
    pub limit: u32,
}

/// A listed report with its task and the task's ledger entries (what its account keeps).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedReport {
    pub task: Task,
    pub report: Report,
    pub ledger: Vec<LedgerEntry>,
}

/// Reports in one time bucket, dialect, captcha type and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCount {
    /// When the bucket begins.
    pub bucket: Timestamp,
    pub dialect: String,
    pub captcha_type: CaptchaType,
    pub verdict: verdict_domain::Verdict,
    pub count: u64,
}

/// Ledger entries of one kind written in one time bucket, and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyCount {
    pub bucket: Timestamp,
    pub kind: verdict_domain::EntryKind,
    pub count: u64,
    pub amount: verdict_domain::Amount,
}

/// Which accounts to list, by id, and where to start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountQuery {
    /// Only accounts an operator should look at now: ignored at this moment, flagged by the
    /// screen while trusted, or disabled (`Account::needs_attention`).
    pub attention_at: Option<Timestamp>,
    /// Only accounts with a larger id.
    pub after: Option<AccountId>,
    pub limit: u32,
}

/// The re-check queue at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecheckQueue {
    /// Reports waiting for a second solve.
    pub open: u64,
    /// Of those, past their deadline (settled by the default on the next timer).
    pub overdue: u64,
    /// Of those, held by a re-solving worker now.
    pub held: u64,
    /// When the oldest open one was queued.
    pub oldest: Option<Timestamp>,
}

/// Everything judging a report needs, read in one call.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// The account the presented key belongs to.
    pub account: Account,
    /// The presented key as stored.
    pub key: KeyRecord,
    pub scheme: KeyScheme,
    /// The task with the requested id, whoever owns it; judging checks ownership.
    pub task: Option<Task>,
    /// The report already recorded for that task.
    pub existing: Option<Report>,
    /// The account's state in the task's family, when asked for and the task exists.
    pub family: Option<FamilyRecord>,
}

/// An account's state in one family, and the cohort's, as storage keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FamilyRecord {
    /// Hourly counts over the requested history.
    pub activity: Activity,
    pub baseline: Baseline,
    /// As last written; age it from `precision_at`.
    pub precision: Precision,
    pub precision_at: Option<Timestamp>,
    pub cohort: Option<CohortRecord>,
}

/// A report waiting for a second solve, handed to the platform.
#[derive(Debug, Clone, PartialEq)]
pub struct RecheckItem {
    pub task: Task,
    pub report: Report,
    pub deadline: Timestamp,
    /// Until then no one else is handed this task.
    pub claimed_until: Timestamp,
}

/// What settling a re-check needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RecheckSubject {
    pub task: Task,
    pub report: Report,
    pub account: Account,
    pub precision: Precision,
    pub precision_at: Option<Timestamp>,
    /// The account's counts in the task's family over the 24 h before `now`.
    pub last_day: verdict_domain::screen::Counts,
}

/// What [`Store::settle_recheck`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// Settled now, with its refund and effects.
    Now(Report),
    /// Someone settled it first; this is how.
    Already(Report),
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

/// How finely evidence about solvers is kept: by minute for the router (two days), by hour for
/// the published provider scores and by day for workers (eight weeks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub const fn millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }

    /// The bucket a moment falls in.
    pub fn bucket(self, at: Timestamp) -> i64 {
        at.as_millis().div_euclid(self.millis())
    }

    /// When a bucket begins.
    pub fn start(self, bucket: i64) -> Timestamp {
        Timestamp::from_millis(bucket.saturating_mul(self.millis()))
    }

    /// The `resolution` column of `provider_evidence`, which keeps minutes and hours.
    pub(crate) fn provider_table_name(self) -> StoreResult<&'static str> {
        match self {
            Resolution::Minute => Ok("minute"),
            Resolution::Hour => Ok("hour"),
            Resolution::Day => Err(StoreError::other(
                "provider evidence is kept by minute and by hour",
            )),
        }
    }
}

/// An evidence row as both backends read it: type, provider, worker, bucket, good, bad, reports,
/// exposure, taken.
pub(crate) type BucketRow = (String, String, Option<String>, i64, f64, f64, i64, f64, f64);

/// An account's counts in one family over a recent period, and its trust and standing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReporterSample {
    pub account: AccountId,
    pub family: Family,
    pub tasks: u64,
    pub incorrect: u64,
    pub trusted: bool,
    pub ignored: bool,
}

/// Trust-weighted evidence about one solver's answers in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceBucket {
    pub captcha_type: CaptchaType,
    pub provider: String,
    /// For worker evidence.
    pub worker: Option<String>,
    pub bucket: i64,
    pub good: f64,
    pub bad: f64,
    /// Reports that carried evidence.
    pub reports: u64,
    /// Silence weights of the tasks completed in the bucket, and those reports took back.
    pub exposure: f64,
    pub taken: f64,
}

impl EvidenceBucket {
    pub(crate) fn from_row(row: BucketRow) -> StoreResult<Self> {
        let (captcha_type, provider, worker, bucket, good, bad, reports, exposure, taken) = row;
        Ok(Self {
            captcha_type: CaptchaType::parse(&captcha_type)
                .map_err(|e| StoreError::other("stored evidence").because(e))?,
            provider,
            worker,
            bucket,
            good,
            bad,
            reports: reports.max(0) as u64,
            exposure,
            taken,
        })
    }
}

/// A worker an account confirmed a solution of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whitelisted {
    pub account: AccountId,
    pub provider: String,
    pub worker: String,
    pub since: Timestamp,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A row of `listing::report_flow`, as both backends read it.
pub(crate) fn flow_count(
    (bucket, dialect, captcha_type, verdict, count): (i64, String, String, String, i64),
) -> StoreResult<FlowCount> {
    Ok(FlowCount {
        bucket: Timestamp::from_millis(bucket),
        dialect,
        captcha_type: CaptchaType::parse(&captcha_type).map_err(StoreError::stored_value)?,
        verdict: verdict_domain::Verdict::parse(&verdict)
            .ok_or_else(|| StoreError::other(format!("unknown verdict {verdict}")))?,
        count: count.max(0) as u64,
    })
}

/// A row of `listing::money_flow`, as both backends read it.
pub(crate) fn money_count(
    (bucket, kind, count, micros): (i64, String, i64, i64),
) -> StoreResult<MoneyCount> {
    Ok(MoneyCount {
        bucket: Timestamp::from_millis(bucket),
        kind: verdict_domain::EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::other(format!("unknown entry kind {kind}")))?,
        count: count.max(0) as u64,
        amount: verdict_domain::Amount::from_micros(micros),
    })
}

/// Where a task-retention pass has got to: the last task it looked at, in (completion, id)
/// order. Kept tasks are passed over, not looked at again in the same pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCursor {
    pub completed_at: Timestamp,
    pub id: TaskId,
}

/// What one batch of task retention ([`Store::prune_tasks`]) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunedTasks {
    /// Tasks looked at.
    pub examined: u64,
    /// Deleted: tasks, their reports, their settled re-checks.
    pub tasks: u64,
    pub reports: u64,
    pub rechecks: u64,
    /// Looked at and kept because money moved on them (`retention::Kept::Money`).
    pub kept_money: u64,
    /// Looked at and kept because a re-check on them is still open.
    pub kept_open_recheck: u64,
    /// Where the next batch starts; `None` when no older task is left after this batch.
    pub next: Option<TaskCursor>,
}

/// A task completed before a retention cut-off, as both backends select it: id, completion,
/// whether its report records a refund, its ledger entries, whether a re-check on it is open.
pub(crate) type OldTaskRow = (String, i64, bool, i64, bool);

/// Looks at up to `limit` tasks completed before `before`, after the cursor `(at, id)`, with
/// what [`verdict_domain::retention::fate`] needs to know about each. Row values compare in
/// (completion, id) order on both backends, which the index `tasks_completed` serves. The
/// statement only selects; the rule is the domain's, applied by [`judge_old_tasks`].
pub(crate) const OLD_TASKS: &str = "
    SELECT t.id, t.completed_at, r.refund_micros IS NOT NULL,
           (SELECT COUNT(*) FROM ledger_entries l WHERE l.task_id = t.id),
           EXISTS (SELECT 1 FROM rechecks c WHERE c.task_id = t.id AND c.resolved_at IS NULL)
    FROM tasks t LEFT JOIN reports r ON r.task_id = t.id
    WHERE t.completed_at < $1 AND (t.completed_at, t.id) > ($2, $3)
    ORDER BY t.completed_at, t.id
    LIMIT $4";

/// The cursor's position as `OLD_TASKS` takes it: before every task when there is none.
pub(crate) fn cursor_position(after: Option<&TaskCursor>) -> (i64, String) {
    match after {
        Some(c) => (c.completed_at.as_millis(), c.id.as_str().to_owned()),
        None => (i64::MIN, String::new()),
    }
}

/// Asks the domain about each old task of a batch: the ids to delete, and the batch's tally
/// (deletion counts are the caller's to fill in).
pub(crate) fn judge_old_tasks(
    rows: Vec<OldTaskRow>,
    before: Timestamp,
    limit: u32,
) -> StoreResult<(Vec<String>, PrunedTasks)> {
    use verdict_domain::retention::{Fate, Kept, OldTask, fate};
    let mut tally = PrunedTasks {
        examined: rows.len() as u64,
        ..PrunedTasks::default()
    };
    if rows.len() >= limit as usize
        && let Some((id, at, ..)) = rows.last()
    {
        tally.next = Some(TaskCursor {
            completed_at: Timestamp::from_millis(*at),
            id: TaskId::parse(id).map_err(StoreError::stored_value)?,
        });
    }
    let mut doomed = Vec::new();
    for (id, completed_at, refunded, ledger_entries, open_recheck) in rows {
        let task = OldTask {
            completed_at: Timestamp::from_millis(completed_at),
            refunded,
            ledger_entries: ledger_entries.max(0) as u64,
            open_recheck,
        };
        match fate(&task, before) {
            Fate::Prune => doomed.push(id),
            Fate::Keep(Kept::Money) => tally.kept_money += 1,
            Fate::Keep(Kept::OpenRecheck) => tally.kept_open_recheck += 1,
            Fate::Keep(Kept::Young) => {}
        }
    }
    Ok((doomed, tally))
}

/// A refund a clawback is offered, from the columns both backends select for it.
pub(crate) fn granted_refund(
    task: &str,
    refund_micros: i64,
    captcha_type: &str,
    verdict: &str,
) -> StoreResult<verdict_domain::plan::GrantedRefund> {
    Ok(verdict_domain::plan::GrantedRefund {
        task: TaskId::parse(task).map_err(StoreError::stored_value)?,
        captcha_type: CaptchaType::parse(captcha_type).map_err(StoreError::stored_value)?,
        verdict: verdict_domain::Verdict::parse(verdict)
            .ok_or_else(|| StoreError::other(format!("unknown verdict {verdict}")))?,
        refund: verdict_domain::Amount::from_micros(refund_micros),
    })
}

/// A stored cohort's basis; rows written before the column existed say it by their accounts.
pub(crate) fn stored_basis(
    basis: Option<String>,
    accounts: u32,
) -> verdict_domain::screen::CohortBasis {
    use verdict_domain::screen::CohortBasis;
    basis
        .as_deref()
        .and_then(CohortBasis::parse)
        .unwrap_or(if accounts > 0 {
            CohortBasis::Fitted
        } else {
            CohortBasis::Default
        })
}

/// A report's evidence as the JSON text both backends store, written straight from the map.
pub(crate) fn evidence_column(report: &Report) -> StoreResult<String> {
    serde_json::to_string(report.evidence.as_map())
        .map_err(|e| StoreError::other("a report's evidence does not serialise").because(e))
}

/// The re-check columns of a report: whether it is suspect (NULL when never held for one) and
/// its solves so far as a JSON list.
pub(crate) fn recheck_columns(report: &Report) -> StoreResult<(Option<bool>, Option<String>)> {
    Ok(match &report.recheck {
        Some(held) => (
            Some(held.suspect),
            Some(serde_json::to_string(&held.solves).map_err(StoreError::stored_value)?),
        ),
        None => (None, None),
    })
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers; the readiness probe.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates an account with its first key. `Conflict` if the key is already in use.
    async fn create_account(&self, new: NewAccount) -> StoreResult<Account>;

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    /// The account created with this idempotency key, and that request's fingerprint.
    async fn account_by_creation_key(&self, key: &str) -> StoreResult<Option<(Account, String)>>;

    /// The account a presented key belongs to, found by either of its possible hashes.
    async fn account_by_key(&self, key: &KeyLookup) -> StoreResult<Option<KeyHolder>>;

    /// Adds a key to an account. `NotFound` without the account, `Conflict` if the key is in use.
    async fn add_key(&self, account: AccountId, key: NewKey) -> StoreResult<KeyRecord>;

    /// Adds the rotation's new key and sets the expiry of the keys it replaces, in one
    /// transaction. `NotFound` without the account, `Conflict` if the new key is in use.
    async fn rotate_keys(
        &self,
        account: AccountId,
        rotation: KeyRotation,
    ) -> StoreResult<KeyRecord>;

    /// Revokes one of an account's keys at `at` (a key revoked before stays revoked as it was).
    /// `None` if the account has no key with that id.
    async fn revoke_key(
        &self,
        account: AccountId,
        key: &KeyId,
        at: Timestamp,
    ) -> StoreResult<Option<KeyRecord>>;

    /// An account's keys, oldest first, whatever their state.
    async fn keys(&self, account: AccountId) -> StoreResult<Vec<KeyRecord>>;

    /// Rewrites a key stored under its unkeyed hash under its keyed one.
    async fn rehash_key(&self, unkeyed: &KeyHash, keyed: &KeyHash) -> StoreResult<()>;

    /// Disables an account (`Some`) or enables it again (`None`).
    async fn set_disabled(
        &self,
        id: AccountId,
        disabled: Option<Disabled>,
    ) -> StoreResult<Option<Account>>;

    /// Tasks completed and reports received since `since`, per family with any activity.
    async fn account_activity(
        &self,
        id: AccountId,
        since: Timestamp,
    ) -> StoreResult<Vec<FamilyActivity>>;

    /// Stores each task whose id is new with its silence weight, in one transaction; never
    /// overwrites. Adds the stored tasks' counts (`plan::task_counts`) and exposures
    /// (`plan::Exposures`). One result per task, in order. Durable on return.
    async fn ingest(&self, writes: IngestWrites, at: Timestamp) -> StoreResult<Vec<IngestResult>>;

    /// How many [`Store::ingest`] calls of one request may wait at once: more than one only
    /// where waiting calls are committed together, not run as transactions that contend for
    /// the same counter rows.
    fn ingest_steps_in_flight(&self) -> usize {
        1
    }

    /// [`Store::ingest`] of tasks whose accounts' silence says nothing (weight 0).
    async fn ingest_tasks(
        &self,
        tasks: Vec<Task>,
        at: Timestamp,
    ) -> StoreResult<Vec<IngestResult>> {
        let silence = vec![0.0; tasks.len()];
        self.ingest(IngestWrites { tasks, silence }, at).await
    }

    /// A task and its report.
    async fn task(&self, id: &TaskId) -> StoreResult<Option<(Task, Option<Report>)>>;

    /// The key's account, the task and its report. `None` when no account has the key.
    async fn report_context(
        &self,
        key: &KeyLookup,
        task: &TaskId,
        history_hours: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<ReportContext>>;

    /// The task, its report and the account's state in the task's family (for a caller already
    /// authenticated).
    async fn task_context(
        &self,
        task: &TaskId,
        history_hours: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<(Task, Option<Report>, Option<FamilyRecord>)>>;

    /// Applies what recording a judged report writes ([`ReportWrites`]: the report, its refund
    /// — written at most once per task, whatever the concurrency —, the account's counts, the
    /// evidence about the task's solver, the re-check and the changes to the account), in one
    /// transaction, unless the task has a report already.
    async fn record_report(&self, writes: ReportWrites) -> StoreResult<Recorded>;

    /// Reports matching `query`, newest first, with their tasks and ledger entries.
    async fn reports(&self, query: &ReportQuery) -> StoreResult<Vec<ListedReport>>;

    /// Reports received since `since`, counted per `bucket_ms`, dialect, type and verdict.
    async fn report_flow(&self, since: Timestamp, bucket_ms: i64) -> StoreResult<Vec<FlowCount>>;

    /// Ledger entries written since `since`, counted and summed per `bucket_ms` and kind.
    async fn money_flow(&self, since: Timestamp, bucket_ms: i64) -> StoreResult<Vec<MoneyCount>>;

    /// Accounts in id order.
    async fn accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>>;

    /// The re-check queue at `now`.
    async fn recheck_queue(&self, now: Timestamp) -> StoreResult<RecheckQueue>;

    /// One page of the corrections dataset: every report with a correction matching `query`,
    /// oldest first, with its task. An export reads page after page, each continuing after the
    /// last row of the one before, so that it holds one page at a time and nothing stays open
    /// in the database between pages (`corrections.rs` says why).
    async fn corrections(&self, query: &CorrectionQuery) -> StoreResult<Vec<Correction>>;

    /// An account's ledger entries, oldest first.
    async fn ledger(&self, account: AccountId) -> StoreResult<Vec<LedgerEntry>>;

    /// The ledger entries about one task (a refund, and a reversal if it was taken back).
    async fn task_ledger(&self, task: &TaskId) -> StoreResult<Vec<LedgerEntry>>;

    /// Marks an account as a member of the trusted cohort, or not.
    async fn set_trusted(&self, id: AccountId, trusted: bool) -> StoreResult<Option<Account>>;

    /// Sets an account's standing by hand (an operator imposing or lifting an ignore period).
    async fn set_standing(
        &self,
        id: AccountId,
        standing: Standing,
        now: Timestamp,
    ) -> StoreResult<Option<Account>>;

    /// `(tasks, incorrect)` of each trusted account in good standing in `family` from
    /// `from_hour` on: the cohort the prior is fitted on.
    async fn cohort_samples(&self, family: Family, from_hour: i64) -> StoreResult<Vec<(u64, u64)>>;

    /// Each account's counts per family from `from_hour` on, with whether it is trusted and
    /// ignored at `now`: what its silence weight is computed from.
    async fn reporter_samples(
        &self,
        from_hour: i64,
        now: Timestamp,
    ) -> StoreResult<Vec<ReporterSample>>;

    /// The accounts an operator trusts.
    async fn trusted_accounts(&self) -> StoreResult<Vec<AccountId>>;

    /// The report-lag histogram: `(family, bucket, reports)`.
    async fn report_lags(&self) -> StoreResult<Vec<(Family, u8, u64)>>;

    /// The same for every account in good standing, trusted or not: what a platform without
    /// trusted data is judged against.
    async fn standing_samples(
        &self,
        family: Family,
        from_hour: i64,
    ) -> StoreResult<Vec<(u64, u64)>>;

    async fn save_cohort(&self, family: Family, cohort: CohortRecord) -> StoreResult<()>;

    async fn cohorts(&self) -> StoreResult<Vec<(Family, CohortRecord)>>;

    /// Folds the hourly activity at `hour` into the accounts' baselines
    /// ([`verdict_domain::screen::fold_hour`], against the cohort's rate that hour as
    /// [`verdict_domain::screen::Cohort::rate_in_hour`] chooses it) and records the cohort's
    /// counts that hour, once: several nodes may call it, one does the work. Returns whether
    /// this call did.
    async fn fold_baselines(&self, hour: i64, policy: &ScreenPolicy) -> StoreResult<bool>;

    /// The last hour folded into the baselines.
    async fn folded_through(&self) -> StoreResult<Option<i64>>;

    /// Hands out the oldest open re-check that nobody holds, holding it until `now + lease`.
    async fn claim_recheck(
        &self,
        now: Timestamp,
        lease: std::time::Duration,
    ) -> StoreResult<Option<RecheckItem>>;

    /// The open re-check of a task, with what settling it needs.
    async fn recheck_subject(
        &self,
        task: &TaskId,
        now: Timestamp,
    ) -> StoreResult<Option<RecheckSubject>>;

    /// Applies what settling a pending report writes ([`SettlementWrites`]) in one transaction.
    /// Only the first settlement counts.
    async fn settle_recheck(&self, writes: SettlementWrites) -> StoreResult<Settled>;

    /// Open re-checks whose deadline has passed.
    async fn overdue_rechecks(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<TaskId>>;

    /// Evidence about providers per `Minute` or `Hour` bucket, from bucket `from` on.
    async fn provider_evidence(
        &self,
        resolution: Resolution,
        from: i64,
    ) -> StoreResult<Vec<EvidenceBucket>>;

    /// Evidence about the workers named `worker` (at any provider), per day from day `from` on.
    async fn worker_evidence(&self, worker: &str, from: i64) -> StoreResult<Vec<EvidenceBucket>>;

    /// Drops evidence buckets older than these (minute, hour, day) buckets; returns how many.
    async fn prune_evidence(&self, minute: i64, hour: i64, day: i64) -> StoreResult<u64>;

    /// One batch of task retention, in one transaction (on SQLite one writer job, so that a
    /// report waits for one batch at most): looks at up to `limit` tasks completed before
    /// `before`, in (completion, id) order after `after`, asks
    /// [`verdict_domain::retention::fate`] about each, and deletes those it prunes with their
    /// report and settled re-check. Never deletes a ledger entry. Several nodes may run it at
    /// once: on PostgreSQL a task another node is looking at is passed over.
    async fn prune_tasks(
        &self,
        before: Timestamp,
        after: Option<TaskCursor>,
        limit: u32,
    ) -> StoreResult<PrunedTasks>;

    /// The workers an account whitelisted, oldest first.
    async fn whitelist(&self, account: AccountId) -> StoreResult<Vec<Whitelisted>>;

    /// How many accounts whitelisted this worker.
    async fn whitelisted_by(&self, provider: &str, worker: &str) -> StoreResult<u64>;

    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Sets a metadata value unless one is set; returns whether this call set it.
    async fn set_meta_if_absent(&self, key: &str, value: &str) -> StoreResult<bool>;
}
