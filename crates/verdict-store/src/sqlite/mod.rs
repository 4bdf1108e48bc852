//! The SQLite backend: the embedded default. WAL with `synchronous=FULL`, so an answered write
//! survives power loss; all writes go through the group-commit [`writer`]; reads use a small
//! pool of connections, which WAL lets run beside the writer.

pub mod backup;
mod keys;
mod pending;
mod rechecks;
mod retention;
mod rows;
mod scores;
mod statistics;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, params};
use verdict_domain::account::Disabled;
use verdict_domain::corrections::Correction;
use verdict_domain::keys::{KeyId, KeyLookup, KeyRecord};
use verdict_domain::plan::{Exposures, IngestWrites, ReportWrites, SettlementWrites, task_counts};
use verdict_domain::screen::{CohortRecord, ScreenPolicy};
use verdict_domain::timestamp::{HOUR_MS, hour_of};
use verdict_domain::{
    Account, AccountId, EntryKind, Family, KeyHash, LedgerEntry, Report, Standing, Task, TaskId,
    Timestamp,
};

use crate::metrics::Reversed;
use crate::migrations;
use crate::{
    AccountQuery, CorrectionQuery, EvidenceBucket, FamilyActivity, FamilyRecord, FlowCount,
    IngestResult, KeyHolder, KeyRotation, ListedReport, MoneyCount, NewAccount, NewKey,
    RecheckItem, RecheckQueue, RecheckSubject, Recorded, ReportContext, ReportQuery, Resolution,
    Settled, Store, StoreError, StoreResult, Whitelisted,
};
use rows::{ACCOUNT_COLUMNS, REPORT_COLUMNS, TASK_COLUMNS};
use writer::{Tx, Writer};

const READERS: u32 = 4;
/// Evidence buckets deleted per writer job.
const EVIDENCE_BATCH: u32 = 1000;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection. The store has about sixty; rusqlite's default of
/// 16 made the report path re-parse SQL on every request once other work had evicted it.
const STATEMENT_CACHE: usize = 128;
/// WAL pages after which a commit copies the WAL back into the database (SQLite's default is
/// 1,000). The copy runs on the writer thread inside a commit, with two fsyncs of its own; a
/// report dirties several pages, so at 1,000 a checkpoint came every few batches. At 10,000
/// (a WAL of about 40 MiB) reports at saturation rose by about a quarter, and each checkpoint
/// holds its batch longer (docs/performance.md).
const WAL_CHECKPOINT_PAGES: i64 = 10_000;

/// Tuning that differs between a server and a test.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Page cache of the writer, in MiB. Bulk inserts of random ids gain from a large cache
    /// (perf-anchors.md §8), but every commit pays for it: as a transaction ends SQLite scans the
    /// cache's hash table (`pcache1TruncateUnsafe`), so a report's commit slows as the cache
    /// grows (docs/performance.md). The default balances the two and keeps memory small.
    pub writer_cache_mib: u32,
    /// Whether a commit reaches the disk before it is answered. Only simulations and benchmarks
    /// of throwaway data turn this off; a server never does.
    pub durable: bool,
}

impl SqliteOptions {
    pub const DEFAULT_WRITER_CACHE_MIB: u32 = 32;
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            writer_cache_mib: Self::DEFAULT_WRITER_CACHE_MIB,
            durable: true,
        }
    }
}

#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let mut conn = Connection::open(&path).map_err(|e| {
            StoreError::unavailable(format!("cannot open {}", path.display())).because(e)
        })?;
        configure(&conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        conn.pragma_update(
            None,
            "cache_size",
            -i64::from(options.writer_cache_mib) * 1024,
        )?;
        if !options.durable {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        migrate(&mut conn)?;
        let manager = SqliteConnectionManager::file(&path).with_init(|c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            c.pragma_update(None, "foreign_keys", true)
        });
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            // A connection to a local file does not go stale the way a network one does; the
            // check would cost a statement on every read.
            .test_on_check_out(false)
            .min_idle(Some(1))
            .connection_timeout(BUSY_TIMEOUT)
            .build(manager)?;
        let writer = Writer::spawn(conn).map_err(StoreError::stored_value)?;
        Ok(Self {
            path,
            writer,
            readers,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            work(&conn)
        })
        .await
        .map_err(|e| StoreError::other("read task failed").because(e))?
    }
}

/// Creates the database file readable and writable by its owner only, if it does not exist:
/// it holds the ledger and every account's data. SQLite creates the `-wal` and `-shm` files
/// beside it with the same permissions.
fn create_private(path: &Path) -> StoreResult<()> {
    if path.as_os_str() == ":memory:" || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        // Created by someone else in between: theirs to have set up.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(StoreError::unavailable(format!("cannot create {}", path.display())).because(e))
        }
    }
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::other(format!(
            "could not enable WAL (journal_mode={mode})"
        )));
    }
    // FULL: fsync the WAL at every commit. With group commit that is one fsync per batch.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    TEXT PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )?;
    for (name, sql) in migrations::SQLITE {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let applied: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if !applied {
            tracing::info!(migration = name, "applying SQLite migration");
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, unixepoch() * 1000)",
                [name],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

pub(super) fn account_by_id(conn: &Connection, id: AccountId) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.0], rows::account)
        .optional()?)
}

pub(super) fn task_with_report(
    conn: &Connection,
    id: &TaskId,
) -> StoreResult<Option<(Task, Option<Report>)>> {
    let sql = format!(
        "SELECT {TASK_COLUMNS}, {REPORT_COLUMNS} FROM tasks t
         LEFT JOIN reports r ON r.task_id = t.id WHERE t.id = ?1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.as_str()], |row| {
            Ok((rows::task(row, 0)?, rows::report(row, 8)?))
        })
        .optional()?)
}

pub(super) fn existing_report(conn: &Connection, task: &TaskId) -> StoreResult<Report> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM reports r WHERE r.task_id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([task.as_str()], |row| rows::report(row, 0))?
        .ok_or(StoreError::NotFound)
}

/// A report's columns that are serialised, made before the job reaches the one writer thread,
/// which every report waits for.
struct SerialisedColumns {
    evidence: String,
    recheck_suspect: Option<bool>,
    recheck_solves: Option<String>,
}

impl SerialisedColumns {
    fn of(report: &Report) -> StoreResult<Self> {
        let (recheck_suspect, recheck_solves) = crate::recheck_columns(report)?;
        Ok(Self {
            evidence: crate::evidence_column(report)?,
            recheck_suspect,
            recheck_solves,
        })
    }
}

/// Applies [`ReportWrites`]: the report row first, and everything else only if it was new.
/// Stores a judged report with what comes with it; returns the report already stored if there
/// was one, and the refunds its clawback took back (counted by the caller once the batch has
/// committed).
fn insert_report(
    conn: &Tx<'_>,
    writes: &ReportWrites,
    columns: &SerialisedColumns,
) -> StoreResult<(Option<Report>, Vec<Reversed>)> {
    let report = &writes.report;
    let SerialisedColumns {
        evidence,
        recheck_suspect,
        recheck_solves,
    } = columns;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO reports (task_id, account_id, kind, correction, code, message, dialect,
                                  received_at, verdict, reason, evidence, refund_micros,
                                  trust_weight, recheck_suspect, recheck_solves)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (task_id) DO NOTHING",
        )?
        .execute(params![
            report.task.as_str(),
            report.account.0,
            report.kind.as_str(),
            report.correction,
            report.code,
            report.message,
            report.dialect,
            report.received_at.as_millis(),
            report.verdict.as_str(),
            report.reason.code(),
            evidence,
            report.refund.map(|a| a.micros()),
            report.trust_weight,
            recheck_suspect,
            recheck_solves,
        ])?;
    if inserted == 0 {
        return Ok((Some(existing_report(conn, &report.task)?), Vec::new()));
    }
    if let Some(entry) = &writes.refund {
        insert_entry(conn, entry)?;
    }
    conn.pending().activity(&writes.activity);
    if let Some(deadline) = writes.recheck_deadline {
        rechecks::enqueue(
            conn,
            &report.task,
            report.account,
            report.received_at,
            deadline,
        )?;
    }
    scores::add_evidence(conn, &writes.solver)?;
    if let Some(lag) = writes.lag {
        conn.pending().lag(lag);
    }
    let reversed = statistics::apply_account_changes(conn, &writes.account)?;
    Ok((None, reversed))
}

/// Writes a ledger entry unless its idempotency key is taken, and keeps the balance in step.
pub(super) fn insert_entry(conn: &Connection, entry: &LedgerEntry) -> StoreResult<bool> {
    let written = conn
        .prepare_cached(
            "INSERT INTO ledger_entries (account_id, task_id, kind, amount_micros, idempotency_key, created_at, reason, lane)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (idempotency_key) DO NOTHING",
        )?
        .execute(params![
            entry.account.0,
            entry.task.as_str(),
            entry.kind.as_str(),
            entry.amount.micros(),
            entry.idempotency_key,
            entry.at.as_millis(),
            entry.reason,
            entry.lane,
        ])?;
    if written == 1 {
        conn.prepare_cached(
            "UPDATE accounts SET balance_micros = balance_micros + ?1 WHERE id = ?2",
        )?
        .execute(params![entry.amount.micros(), entry.account.0])?;
    }
    Ok(written == 1)
}

const ENTRY_SELECT: &str = "SELECT account_id, task_id, kind, amount_micros, idempotency_key, created_at, reason, lane FROM ledger_entries";

type EntryRow = (
    i64,
    String,
    String,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
);

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn entry_from_row(
    (account, task, kind, amount, key, at, reason, lane): EntryRow,
) -> StoreResult<LedgerEntry> {
    Ok(LedgerEntry {
        account: AccountId(account),
        task: TaskId::parse(&task).map_err(StoreError::stored_value)?,
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::other(format!("unknown entry kind {kind}")))?,
        amount: verdict_domain::Amount::from_micros(amount),
        idempotency_key: key,
        at: Timestamp::from_millis(at),
        reason,
        lane,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await?;
        // Reads can succeed while writes cannot (disk full, read-only file, a lock held past
        // the busy timeout): probe the writer with a real write, since an empty transaction
        // commits without touching the disk. Group-committed like any write, so it is cheap.
        self.writer
            .write(|conn| {
                conn.prepare_cached(
                    "INSERT INTO meta (key, value) VALUES ('readiness_probe', unixepoch('subsec'))
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute([])?;
                Ok(())
            })
            .await
    }

    async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        self.writer
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO accounts (name, trusted, created_at, idempotency_key,
                                           creation_fingerprint)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    new.name,
                    new.trusted,
                    new.created_at.as_millis(),
                    new.idempotency.as_ref().map(|c| c.key.as_str()),
                    new.idempotency.as_ref().map(|c| c.fingerprint.as_str()),
                ])
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict { .. } => {
                        StoreError::conflict("idempotency key already used")
                    }
                    other => other,
                })?;
                let id = AccountId(conn.last_insert_rowid());
                keys::insert(conn, id, &new.key)?;
                account_by_id(conn, id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.read(move |conn| account_by_id(conn, id)).await
    }

    async fn account_by_creation_key(&self, key: &str) -> StoreResult<Option<(Account, String)>> {
        let key = key.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {ACCOUNT_COLUMNS}, a.creation_fingerprint FROM accounts a
                 WHERE a.idempotency_key = ?1"
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([key], |row| {
                    Ok((
                        rows::account(row)?,
                        row.get::<_, Option<String>>(rows::ACCOUNT_WIDTH)?
                            .unwrap_or_default(),
                    ))
                })
                .optional()?)
        })
        .await
    }

    async fn account_by_key(&self, key: &KeyLookup) -> StoreResult<Option<KeyHolder>> {
        let key = *key;
        self.read(move |conn| keys::holder(conn, &key)).await
    }

    async fn add_key(&self, account: AccountId, key: NewKey) -> StoreResult<KeyRecord> {
        self.writer
            .write(move |conn| {
                if !keys::account_exists(conn, account)? {
                    return Err(StoreError::NotFound);
                }
                keys::insert(conn, account, &key)
            })
            .await
    }

    async fn rotate_keys(
        &self,
        account: AccountId,
        rotation: KeyRotation,
    ) -> StoreResult<KeyRecord> {
        self.writer
            .write(move |conn| {
                if !keys::account_exists(conn, account)? {
                    return Err(StoreError::NotFound);
                }
                for (id, at) in &rotation.expire {
                    keys::set_expiry(conn, account, id, *at)?;
                }
                keys::insert(conn, account, &rotation.new)
            })
            .await
    }

    async fn revoke_key(
        &self,
        account: AccountId,
        key: &KeyId,
        at: Timestamp,
    ) -> StoreResult<Option<KeyRecord>> {
        let key = key.clone();
        self.writer
            .write(move |conn| keys::revoke(conn, account, &key, at))
            .await
    }

    async fn keys(&self, account: AccountId) -> StoreResult<Vec<KeyRecord>> {
        self.read(move |conn| keys::of_account(conn, account)).await
    }

    async fn rehash_key(&self, unkeyed: &KeyHash, keyed: &KeyHash) -> StoreResult<()> {
        let (unkeyed, keyed) = (*unkeyed, *keyed);
        self.writer
            .write(move |conn| keys::rehash(conn, &unkeyed, &keyed))
            .await
    }

    async fn set_disabled(
        &self,
        id: AccountId,
        disabled: Option<Disabled>,
    ) -> StoreResult<Option<Account>> {
        self.writer
            .write(move |conn| {
                conn.prepare_cached(
                    "UPDATE accounts SET disabled_at = ?2, disabled_reason = ?3 WHERE id = ?1",
                )?
                .execute(params![
                    id.0,
                    disabled.as_ref().map(|d| d.at.as_millis()),
                    disabled.as_ref().map(|d| d.reason.as_str()),
                ])?;
                account_by_id(conn, id)
            })
            .await
    }

    async fn account_activity(
        &self,
        id: AccountId,
        since: Timestamp,
    ) -> StoreResult<Vec<FamilyActivity>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT family, SUM(tasks), SUM(incorrect), SUM(correct) FROM activity
                 WHERE account_id = ?1 AND hour >= ?2 GROUP BY family ORDER BY family",
            )?;
            let rows = stmt
                .query_map(params![id.0, hour_of(since)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out: Vec<FamilyActivity> = rows
                .into_iter()
                .filter_map(|(family, tasks, incorrect, correct)| {
                    Some(FamilyActivity {
                        family: Family::parse(&family)?,
                        tasks: tasks.unsigned_abs(),
                        incorrect: incorrect.unsigned_abs(),
                        correct: correct.unsigned_abs(),
                    })
                })
                .filter(|a| a.tasks + a.incorrect + a.correct > 0)
                .collect();
            out.sort_by_key(|a| a.family);
            Ok(out)
        })
        .await
    }

    async fn ingest(&self, writes: IngestWrites, at: Timestamp) -> StoreResult<Vec<IngestResult>> {
        self.writer
            .append(move |conn| {
                let IngestWrites { tasks, silence } = &writes;
                let mut known: HashMap<AccountId, bool> = HashMap::new();
                let mut exists =
                    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")?;
                let mut insert = conn.prepare_cached(
                    "INSERT INTO tasks (id, account_id, captcha_type, provider, worker, answer,
                                        cost_micros, completed_at, ingested_at, silence_weight)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING",
                )?;
                let mut results = Vec::with_capacity(tasks.len());
                let mut stored: Vec<(&Task, f64)> = Vec::new();
                for (task, &weight) in tasks.iter().zip(silence) {
                    let account_exists = match known.get(&task.account) {
                        Some(v) => *v,
                        None => {
                            let v: bool = exists.query_row([task.account.0], |r| r.get(0))?;
                            known.insert(task.account, v);
                            v
                        }
                    };
                    if !account_exists {
                        results.push(IngestResult::UnknownAccount);
                        continue;
                    }
                    let n = insert.execute(params![
                        task.id.as_str(),
                        task.account.0,
                        task.captcha_type.as_str(),
                        task.provider,
                        task.worker,
                        task.answer,
                        task.cost.micros(),
                        task.completed_at.as_millis(),
                        at.as_millis(),
                        weight,
                    ])?;
                    if n == 1 {
                        stored.push((task, weight));
                        results.push(IngestResult::Inserted);
                    } else {
                        results.push(IngestResult::Duplicate);
                    }
                }
                let mut pending = conn.pending();
                for delta in task_counts(stored.iter().map(|(t, _)| *t)) {
                    pending.activity(&delta);
                }
                pending.exposures(&Exposures::of(stored));
                Ok(results)
            })
            .await
    }

    /// The one writer runs the steps that wait for it in one transaction, so a large ingest
    /// commits a few times, not once per step; what that buys and costs in memory is in
    /// docs/performance.md.
    fn ingest_steps_in_flight(&self) -> usize {
        4
    }

    async fn task(&self, id: &TaskId) -> StoreResult<Option<(Task, Option<Report>)>> {
        let id = id.clone();
        self.read(move |conn| task_with_report(conn, &id)).await
    }

    async fn report_context(
        &self,
        key: &KeyLookup,
        task: &TaskId,
        history_hours: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<ReportContext>> {
        let (key, task) = (*key, task.clone());
        self.read(move |conn| {
            let Some(KeyHolder {
                account,
                key,
                scheme,
            }) = keys::holder(conn, &key)?
            else {
                return Ok(None);
            };
            let (task, existing) = match task_with_report(conn, &task)? {
                Some((t, r)) => (Some(t), r),
                None => (None, None),
            };
            let family = match (&task, history_hours) {
                (Some(t), Some(hours)) if t.account == account.id => {
                    Some(statistics::family_record(
                        conn,
                        account.id,
                        t.captcha_type.family(),
                        hour_of(now) - hours + 1,
                    )?)
                }
                _ => None,
            };
            Ok(Some(ReportContext {
                account,
                key,
                scheme,
                task,
                existing,
                family,
            }))
        })
        .await
    }

    async fn task_context(
        &self,
        task: &TaskId,
        history_hours: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<(Task, Option<Report>, Option<FamilyRecord>)>> {
        let task = task.clone();
        self.read(move |conn| {
            let Some((task, existing)) = task_with_report(conn, &task)? else {
                return Ok(None);
            };
            let family = match history_hours {
                Some(hours) => Some(statistics::family_record(
                    conn,
                    task.account,
                    task.captcha_type.family(),
                    hour_of(now) - hours + 1,
                )?),
                None => None,
            };
            Ok(Some((task, existing, family)))
        })
        .await
    }

    async fn record_report(&self, writes: ReportWrites) -> StoreResult<Recorded> {
        let columns = SerialisedColumns::of(&writes.report)?;
        let report = writes.report.clone();
        let (existing, reversed) = self
            .writer
            .append(move |conn| insert_report(conn, &writes, &columns))
            .await?;
        crate::metrics::reversed(&reversed);
        Ok(existing.map_or(Recorded::Inserted(report), Recorded::Existing))
    }

    async fn ledger(&self, account: AccountId) -> StoreResult<Vec<LedgerEntry>> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("{ENTRY_SELECT} WHERE account_id = ?1 ORDER BY id"))?;
            let rows = stmt
                .query_map([account.0], entry_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(entry_from_row).collect()
        })
        .await
    }

    async fn reports(&self, query: &ReportQuery) -> StoreResult<Vec<ListedReport>> {
        let query = query.clone();
        self.read(move |conn| {
            let (from, params) = crate::listing::from_where(&query, |n| format!("?{n}"));
            let sql = format!("SELECT {TASK_COLUMNS}, {REPORT_COLUMNS} {from}");
            let values: Vec<rusqlite::types::Value> = params
                .into_iter()
                .map(|p| match p {
                    crate::listing::Param::Int(n) => rusqlite::types::Value::Integer(n),
                    crate::listing::Param::Text(t) => rusqlite::types::Value::Text(t),
                })
                .collect();
            let mut stmt = conn.prepare_cached(&sql)?;
            let found = stmt
                .query_map(rusqlite::params_from_iter(values), |row| {
                    Ok((rows::task(row, 0)?, rows::report(row, 8)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut listed = Vec::with_capacity(found.len());
            let mut entries =
                conn.prepare_cached(&format!("{ENTRY_SELECT} WHERE task_id = ?1 ORDER BY id"))?;
            for (task, report) in found {
                let Some(report) = report else { continue };
                let ledger = entries
                    .query_map([task.id.as_str()], entry_row)?
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .map(entry_from_row)
                    .collect::<StoreResult<Vec<_>>>()?;
                listed.push(ListedReport {
                    task,
                    report,
                    ledger,
                });
            }
            Ok(listed)
        })
        .await
    }

    async fn report_flow(&self, since: Timestamp, bucket_ms: i64) -> StoreResult<Vec<FlowCount>> {
        self.read(move |conn| {
            let sql = crate::listing::report_flow(|n| format!("?{n}"));
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![since.as_millis(), bucket_ms.max(1)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(crate::flow_count).collect()
        })
        .await
    }

    async fn money_flow(&self, since: Timestamp, bucket_ms: i64) -> StoreResult<Vec<MoneyCount>> {
        self.read(move |conn| {
            let sql = crate::listing::money_flow(|n| format!("?{n}"));
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![since.as_millis(), bucket_ms.max(1)], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(crate::money_count).collect()
        })
        .await
    }

    async fn accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        let query = *query;
        self.read(move |conn| {
            let (sql, params) =
                crate::listing::accounts(&query, ACCOUNT_COLUMNS, |n| format!("?{n}"));
            let values: Vec<rusqlite::types::Value> = params
                .into_iter()
                .map(|p| match p {
                    crate::listing::Param::Int(n) => rusqlite::types::Value::Integer(n),
                    crate::listing::Param::Text(t) => rusqlite::types::Value::Text(t),
                })
                .collect();
            let mut stmt = conn.prepare_cached(&sql)?;
            let accounts = stmt
                .query_map(rusqlite::params_from_iter(values), rows::account)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(accounts)
        })
        .await
    }

    async fn recheck_queue(&self, now: Timestamp) -> StoreResult<RecheckQueue> {
        self.read(move |conn| {
            let sql = crate::listing::recheck_queue(|n| format!("?{n}"));
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([now.as_millis()], |r| {
                    Ok(RecheckQueue {
                        open: r.get::<_, i64>(0)?.max(0) as u64,
                        overdue: r.get::<_, i64>(1)?.max(0) as u64,
                        held: r.get::<_, i64>(2)?.max(0) as u64,
                        oldest: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_millis),
                    })
                })?)
        })
        .await
    }

    async fn corrections(&self, query: &CorrectionQuery) -> StoreResult<Vec<Correction>> {
        let query = query.clone();
        // One short read per page on a pooled reader, given back before the page is sent on.
        self.read(move |conn| {
            let (sql, params) = crate::corrections::page_sql(&query, |n| format!("?{n}"));
            let values: Vec<rusqlite::types::Value> = params
                .into_iter()
                .map(|p| match p {
                    crate::listing::Param::Int(n) => rusqlite::types::Value::Integer(n),
                    crate::listing::Param::Text(t) => rusqlite::types::Value::Text(t),
                })
                .collect();
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), rows::correction)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn task_ledger(&self, task: &TaskId) -> StoreResult<Vec<LedgerEntry>> {
        let task = task.clone();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("{ENTRY_SELECT} WHERE task_id = ?1 ORDER BY id"))?;
            let rows = stmt
                .query_map([task.as_str()], entry_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(entry_from_row).collect()
        })
        .await
    }

    async fn set_trusted(&self, id: AccountId, trusted: bool) -> StoreResult<Option<Account>> {
        self.writer
            .write(move |conn| {
                conn.prepare_cached("UPDATE accounts SET trusted = ?1 WHERE id = ?2")?
                    .execute(params![trusted, id.0])?;
                account_by_id(conn, id)
            })
            .await
    }

    async fn set_standing(
        &self,
        id: AccountId,
        standing: Standing,
        now: Timestamp,
    ) -> StoreResult<Option<Account>> {
        self.writer
            .write(move |conn| {
                let Some(current) = account_by_id(conn, id)? else {
                    return Ok(None);
                };
                let next = current.standing_state().set_by_operator(&standing, now);
                statistics::write_standing(conn, id, &next)?;
                account_by_id(conn, id)
            })
            .await
    }

    async fn cohort_samples(&self, family: Family, from_hour: i64) -> StoreResult<Vec<(u64, u64)>> {
        let now = Timestamp::from_millis((from_hour.saturating_add(1)).saturating_mul(HOUR_MS));
        self.read(move |conn| statistics::cohort_samples(conn, family, from_hour, now, true))
            .await
    }

    async fn reporter_samples(
        &self,
        from_hour: i64,
        now: Timestamp,
    ) -> StoreResult<Vec<crate::ReporterSample>> {
        self.read(move |conn| statistics::reporter_samples(conn, from_hour, now))
            .await
    }

    async fn trusted_accounts(&self) -> StoreResult<Vec<AccountId>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id FROM accounts WHERE trusted = 1 ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| Ok(AccountId(r.get(0)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
        .await
    }

    async fn report_lags(&self) -> StoreResult<Vec<(Family, u8, u64)>> {
        self.read(scores::report_lags).await
    }

    async fn standing_samples(
        &self,
        family: Family,
        from_hour: i64,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let now = Timestamp::from_millis((from_hour.saturating_add(1)).saturating_mul(HOUR_MS));
        self.read(move |conn| statistics::cohort_samples(conn, family, from_hour, now, false))
            .await
    }

    async fn save_cohort(&self, family: Family, cohort: CohortRecord) -> StoreResult<()> {
        self.writer
            .write(move |conn| statistics::save_cohort(conn, family, &cohort))
            .await
    }

    async fn cohorts(&self) -> StoreResult<Vec<(Family, CohortRecord)>> {
        self.read(statistics::all_cohorts).await
    }

    async fn fold_baselines(&self, hour: i64, policy: &ScreenPolicy) -> StoreResult<bool> {
        let policy = policy.clone();
        self.writer
            .write(move |conn| statistics::fold_baselines(conn, hour, &policy))
            .await
    }

    async fn folded_through(&self) -> StoreResult<Option<i64>> {
        self.read(statistics::folded_through).await
    }

    async fn claim_recheck(
        &self,
        now: Timestamp,
        lease: std::time::Duration,
    ) -> StoreResult<Option<RecheckItem>> {
        self.writer
            .write(move |conn| rechecks::claim(conn, now, lease))
            .await
    }

    async fn recheck_subject(
        &self,
        task: &TaskId,
        now: Timestamp,
    ) -> StoreResult<Option<RecheckSubject>> {
        let task = task.clone();
        self.read(move |conn| rechecks::subject(conn, &task, now))
            .await
    }

    async fn settle_recheck(&self, writes: SettlementWrites) -> StoreResult<Settled> {
        let (settled, reversed) = self
            .writer
            .write(move |conn| rechecks::settle(conn, &writes))
            .await?;
        crate::metrics::reversed(&reversed);
        Ok(settled)
    }

    async fn overdue_rechecks(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<TaskId>> {
        self.read(move |conn| rechecks::overdue(conn, now, limit))
            .await
    }

    async fn provider_evidence(
        &self,
        resolution: Resolution,
        from: i64,
    ) -> StoreResult<Vec<EvidenceBucket>> {
        self.read(move |conn| scores::provider_evidence(conn, resolution, from))
            .await
    }

    async fn worker_evidence(&self, worker: &str, from: i64) -> StoreResult<Vec<EvidenceBucket>> {
        let worker = worker.to_owned();
        self.read(move |conn| scores::worker_evidence(conn, &worker, from))
            .await
    }

    async fn prune_evidence(&self, minute: i64, hour: i64, day: i64) -> StoreResult<u64> {
        // In batches, each its own writer job: after a long stop the buckets due can number
        // hundreds of thousands, and one statement deleting them all would hold up every report
        // queued behind it.
        let mut dropped = 0;
        loop {
            let n = self
                .writer
                .write(move |conn| {
                    retention::prune_evidence(conn, (minute, hour, day), EVIDENCE_BATCH)
                })
                .await?;
            dropped += n;
            if n < u64::from(EVIDENCE_BATCH) {
                return Ok(dropped);
            }
        }
    }

    async fn prune_tasks(
        &self,
        before: Timestamp,
        after: Option<crate::TaskCursor>,
        limit: u32,
    ) -> StoreResult<crate::PrunedTasks> {
        self.writer
            .write(move |conn| retention::prune_tasks(conn, before, after.as_ref(), limit))
            .await
    }

    async fn whitelist(&self, account: AccountId) -> StoreResult<Vec<Whitelisted>> {
        self.read(move |conn| scores::whitelist(conn, account))
            .await
    }

    async fn whitelisted_by(&self, provider: &str, worker: &str) -> StoreResult<u64> {
        let (provider, worker) = (provider.to_owned(), worker.to_owned());
        self.read(move |conn| scores::whitelisted_by(conn, &provider, &worker))
            .await
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn set_meta_if_absent(&self, key: &str, value: &str) -> StoreResult<bool> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.writer
            .write(move |conn| {
                let n = conn
                    .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING")?
                    .execute([&key, &value])?;
                Ok(n == 1)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_new_database_and_its_wal_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("money.db");
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        for file in [path.clone(), dir.path().join("money.db-wal")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        drop(store);
    }

    /// What SQLite counted for each statement the traced connection ran: its text, and the
    /// sorts, full-scan steps and automatic indexes it needed.
    static COUNTED: std::sync::Mutex<Vec<(String, i32, i32, i32)>> =
        std::sync::Mutex::new(Vec::new());

    fn count(event: rusqlite::trace::TraceEvent<'_>) {
        use rusqlite::StatementStatus;
        if let rusqlite::trace::TraceEvent::Profile(stmt, _) = event {
            let counts = (
                stmt.sql().into_owned(),
                stmt.get_status(StatementStatus::Sort),
                stmt.get_status(StatementStatus::FullscanStep),
                stmt.get_status(StatementStatus::AutoIndex),
            );
            COUNTED.lock().unwrap().push(counts);
        }
    }

    /// Every statement a report costs, reads and writes, goes straight to its rows through an
    /// index: no sort, no temporary b-tree, no scan of a table, whatever the tables hold. (A
    /// key lookup with `IN (…) ORDER BY` once sorted on every report and cost more than the
    /// rest of its reads.)
    #[tokio::test]
    async fn a_reports_statements_neither_sort_nor_scan() {
        use verdict_domain::decision::Decision;
        use verdict_domain::keys::{KeyHasher, KeyId, KeyScheme, KeySecret};
        use verdict_domain::plan::{IngestWrites, ReportWrites};
        use verdict_domain::{
            Amount, ApiKey, CaptchaType, Evidence, Reason, ReportKind, Task, TaskId, Verdict,
        };

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plans.db");
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        let at = Timestamp::from_millis(1_800_000_000_000);
        let hasher =
            KeyHasher::new(&KeySecret::parse("plans-test-key-secret-0123456789abcdef").unwrap());
        let key = ApiKey::parse("plans-test-client-key-0123").unwrap();
        let account = store
            .create_account(crate::NewAccount {
                name: "plans".into(),
                trusted: false,
                key: crate::NewKey {
                    id: KeyId::from_random([1, 2, 3, 4, 5, 6]),
                    hash: hasher.hash(&key),
                    scheme: KeyScheme::Keyed,
                    label: None,
                    created_at: at,
                },
                created_at: at,
                idempotency: None,
            })
            .await
            .unwrap();
        let task = |n: usize| Task {
            id: TaskId::parse(&format!("plans-task-{n}")).unwrap(),
            account: account.id,
            captcha_type: CaptchaType::Image,
            provider: "prov-a".into(),
            worker: Some("w1".into()),
            answer: Some("KWG90".into()),
            cost: Amount::from_micros(1_000),
            completed_at: at,
        };
        // Enough rows that a scan or a sort would show in the counters.
        let tasks: Vec<Task> = (0..2_000).map(task).collect();
        store
            .ingest(IngestWrites::plan(tasks.clone(), |_, _| 0.5), at)
            .await
            .unwrap();
        let report = |task: &Task| Report {
            task: task.id.clone(),
            account: account.id,
            kind: ReportKind::Incorrect,
            correction: Some("KWG9O".into()),
            code: None,
            message: None,
            dialect: "test".into(),
            received_at: at,
            verdict: Verdict::Accepted,
            reason: Reason::IncorrectAccepted,
            evidence: Evidence::new().with("window_ms", 60_000),
            refund: Some(task.cost),
            trust_weight: 1.0,
            recheck: None,
        };
        let writes = |task: &Task| {
            ReportWrites::plan(
                Decision {
                    report: report(task),
                    effects: Vec::new(),
                },
                task.captcha_type.family(),
            )
        };
        for task in &tasks[..1_000] {
            store.record_report(writes(task)).await.unwrap();
        }

        // The report path's own statements, on a connection of this test's, counted.
        let conn = Connection::open(&path).unwrap();
        configure(&conn).unwrap();
        conn.trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_PROFILE,
            Some(count),
        );
        let fresh = &tasks[1_500];
        assert!(keys::holder(&conn, &hasher.lookup(&key)).unwrap().is_some());
        assert!(
            task_with_report(&conn, &fresh.id)
                .unwrap()
                .is_some_and(|(_, existing)| existing.is_none())
        );
        statistics::family_record(
            &conn,
            account.id,
            fresh.captcha_type.family(),
            hour_of(at) - 72,
        )
        .unwrap();
        let pending = std::cell::RefCell::new(pending::Pending::default());
        let tx = writer::Tx::new(&conn, &pending);
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let fresh_writes = writes(fresh);
        let columns = SerialisedColumns::of(&fresh_writes.report).unwrap();
        let (existing, _) = insert_report(&tx, &fresh_writes, &columns).unwrap();
        assert!(existing.is_none());
        pending.borrow_mut().flush(&conn).unwrap();
        conn.execute_batch("ROLLBACK").unwrap();

        let counted = std::mem::take(&mut *COUNTED.lock().unwrap());
        // The reads (key, task, activity, account family, cohort) and the writes (report,
        // ledger entry, balance, solver evidence, counters).
        assert!(counted.len() >= 10, "{counted:#?}");
        let costly: Vec<_> = counted
            .iter()
            .filter(|(sql, sorts, scans, autoindexes)| {
                !sql.starts_with("BEGIN")
                    && !sql.starts_with("ROLLBACK")
                    && (*sorts, *scans, *autoindexes) != (0, 0, 0)
            })
            .collect();
        assert!(
            costly.is_empty(),
            "statements that sorted, scanned or built an index (sql, sorts, scan steps, \
             automatic indexes): {costly:#?}"
        );
    }
}
