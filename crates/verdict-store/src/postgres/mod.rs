//! The PostgreSQL backend: several stateless verdict nodes on one database, one truth. Every
//! rule that must hold across nodes is enforced by the database (unique keys, `ON CONFLICT`,
//! one statement or one transaction per method, an advisory lock for migrations, the fold
//! marker's row lock for baseline folds, `FOR UPDATE SKIP LOCKED` for re-check claims); nothing
//! that matters lives in a node's memory, so any node may be killed or added at any time.
//!
//! Connections come from a deadpool pool with a bounded wait, so a request fails fast to 503
//! when the database is down instead of hanging, and the pool opens fresh connections when it
//! is back: no restart needed. No TLS to the database yet (loopback or a private network is
//! assumed; TLS is a later change).

mod rechecks;
mod rows;
mod scores;
mod statistics;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime,
};
use futures_util::pin_mut;
use tokio_postgres::NoTls;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use verdict_domain::account::Disabled;
use verdict_domain::corrections::Correction;
use verdict_domain::keys::{KeyId, KeyLookup, KeyRecord};
use verdict_domain::plan::{Exposures, IngestWrites, ReportWrites, SettlementWrites, task_counts};
use verdict_domain::screen::{CohortRecord, ScreenPolicy};
use verdict_domain::timestamp::{HOUR_MS, hour_of};
use verdict_domain::{
    Account, AccountId, Family, KeyHash, LedgerEntry, Report, Standing, Task, TaskId, Timestamp,
};

use crate::migrations;
use crate::{
    AccountQuery, CorrectionQuery, EvidenceBucket, FamilyActivity, FamilyRecord, FlowCount,
    IngestResult, KeyHolder, KeyRotation, ListedReport, MoneyCount, NewAccount, NewKey,
    RecheckItem, RecheckQueue, RecheckSubject, Recorded, ReportContext, ReportQuery, Resolution,
    Settled, Store, StoreError, StoreResult, Whitelisted,
};
use rows::{
    ACCOUNT_COLUMNS, ACCOUNT_WIDTH, KEY_COLUMNS, KEY_WIDTH, LEDGER_COLUMNS, REPORT_COLUMNS,
    TASK_COLUMNS, get,
};

/// Serialization failures and deadlocks are retried this many times in all.
const ATTEMPTS: u32 = 5;
/// Any key will do, as long as every verdict node uses the same one.
const MIGRATION_LOCK: i64 = 0x7665_7264_6963_7400; // "verdict\0"
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool and connection settings.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections this node opens.
    pub pool_size: usize,
    /// How long a request waits for a connection (or for a new one to open) before it fails
    /// as unavailable.
    pub acquire_timeout: Duration,
    /// Tables live in this schema instead of the role's default (tests: one schema each).
    pub schema: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            // perf-anchors.md §6: 16 and 64 connections perform alike, 4 is much worse.
            pool_size: 16,
            acquire_timeout: Duration::from_secs(3),
            schema: None,
        }
    }
}

#[derive(Debug)]
pub struct PostgresStore {
    db: Db,
    writer: writer::ReportWriter,
}

/// Why a unit of work failed: a database error, which may be worth retrying, or a store error
/// decided already.
enum Fail {
    Pg(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<deadpool_postgres::PoolError> for Fail {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Fail::Store(e.into())
    }
}

/// What the helpers that run inside a unit of work return: a database error stays retryable.
type PgResult<T> = Result<T, Fail>;

impl From<Fail> for StoreError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Pg(e) => e.into(),
            Fail::Store(e) => e,
        }
    }
}

fn retryable(f: &Fail) -> bool {
    retry_cause(f).is_some()
}

/// Why a failed unit of work is worth running again: a serialization failure or a deadlock.
fn retry_cause(f: &Fail) -> Option<&'static str> {
    match f {
        Fail::Pg(e) => match e.code().map(|c| c.code()) {
            Some("40001") => Some("serialization_failure"),
            Some("40P01") => Some("deadlock"),
            _ => None,
        },
        Fail::Store(_) => None,
    }
}

/// Counts a unit of work about to run again.
fn count_retry(f: &Fail) {
    if let Some(cause) = retry_cause(f) {
        crate::metrics::retry("postgres", cause);
    }
}

/// Runs `$body` (which uses `$tx`, a transaction on a pooled connection) and commits,
/// retrying the whole transaction on a serialization failure or deadlock.
macro_rules! transaction {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<_, $crate::postgres::Fail> = async {
                let mut client = $store.pool.get().await?;
                let $tx = client.transaction().await?;
                let value = $body;
                $tx.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Err(fail)
                    if $crate::postgres::retryable(&fail)
                        && attempt < $crate::postgres::ATTEMPTS =>
                {
                    $crate::postgres::count_retry(&fail);
                    tokio::time::sleep(::std::time::Duration::from_millis(5 << attempt)).await;
                }
                other => break other.map_err($crate::StoreError::from),
            }
        }
    }};
}

/// Like [`transaction!`] for a single statement, which PostgreSQL runs atomically on its own:
/// no BEGIN and COMMIT round trips. `$client` is a pooled connection.
macro_rules! statement {
    ($store:expr, |$client:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<_, $crate::postgres::Fail> = async {
                let $client = $store.pool.get().await?;
                Ok($body)
            }
            .await;
            match result {
                Err(fail)
                    if $crate::postgres::retryable(&fail)
                        && attempt < $crate::postgres::ATTEMPTS =>
                {
                    $crate::postgres::count_retry(&fail);
                    tokio::time::sleep(::std::time::Duration::from_millis(5 << attempt)).await;
                }
                other => break other.map_err($crate::StoreError::from),
            }
        }
    }};
}

mod keys;
mod writer;

/// The pool and what runs on it; shared by the store and its report writer.
#[derive(Debug, Clone)]
struct Db {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies pending
    /// migrations, once however many nodes start together.
    pub async fn connect(url: &str, options: PostgresOptions) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::other("invalid PostgreSQL URL").because(e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("verdict");
        }
        if let Some(schema) = &options.schema {
            if schema.is_empty()
                || !schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(StoreError::other(format!(
                    "schema name {schema:?}: use lower-case letters, digits and _"
                )));
            }
            let mut server_options = config.get_options().unwrap_or_default().to_owned();
            server_options.push_str(&format!(" -c search_path={schema}"));
            config.options(server_options.trim());
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A closed connection is noticed by its connection task; no probe per checkout.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            // Every statement here is a parameterized lookup or write whose best plan does not
            // depend on the values, so plan once per connection instead of re-planning the
            // first executions of each (about 15 % more reports/s with batches of ~20).
            // A commit is answered only once it is on disk, whatever the server's default: a
            // database configured with synchronous_commit = off would lose acknowledged
            // reports in a crash of its own.
            .post_create(Hook::async_fn(|client, _| {
                Box::pin(async move {
                    client
                        .batch_execute(
                            "SET plan_cache_mode = force_generic_plan; \
                             SET synchronous_commit = on",
                        )
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.acquire_timeout))
            .recycle_timeout(Some(options.acquire_timeout))
            .build()
            .map_err(|e| StoreError::other("building the PostgreSQL pool").because(e))?;
        let db = Db { pool };
        db.migrate().await?;
        let writer = writer::ReportWriter::spawn(db.clone());
        Ok(Self { db, writer })
    }
}

impl Db {
    async fn migrate(&self) -> StoreResult<()> {
        transaction!(self, |tx| {
            // Held until commit: a second node starting now waits here, then finds every
            // migration applied.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            // Checked rather than CREATE TABLE IF NOT EXISTS, whose notice every node would log.
            let fresh: bool = tx
                .query_one("SELECT to_regclass('schema_migrations') IS NULL", &[])
                .await?
                .get(0);
            if fresh {
                tx.batch_execute(
                    "CREATE TABLE schema_migrations (
                         version    TEXT PRIMARY KEY,
                         applied_at BIGINT NOT NULL
                     )",
                )
                .await?;
            }
            let applied: HashSet<String> = tx
                .query("SELECT version FROM schema_migrations", &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for (name, sql) in migrations::POSTGRES {
                if applied.contains(*name) {
                    continue;
                }
                tracing::info!(migration = name, "applying PostgreSQL migration");
                tx.batch_execute(sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at)
                     VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)",
                    &[name],
                )
                .await?;
            }
        })
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        Ok(self.pool.get().await?)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<tokio_postgres::Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query_opt(&stmt, params).await?)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }
}

/// The account, its row locked until the transaction `client` is in ends: what a change of
/// standing reads before it writes.
async fn locked_account<C: GenericClient>(client: &C, id: AccountId) -> PgResult<Option<Account>> {
    read_account(client, id, " FOR NO KEY UPDATE").await
}

async fn account_by_id<C: GenericClient>(client: &C, id: AccountId) -> PgResult<Option<Account>> {
    read_account(client, id, "").await
}

async fn read_account<C: GenericClient>(
    client: &C,
    id: AccountId,
    lock: &str,
) -> PgResult<Option<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1{lock}");
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&id.0]).await? {
        Some(row) => Ok(Some(rows::account(&row)?)),
        None => Ok(None),
    }
}

async fn task_with_report<C: GenericClient>(
    client: &C,
    id: &TaskId,
) -> PgResult<Option<(Task, Option<Report>)>> {
    let sql = format!(
        "SELECT {TASK_COLUMNS}, {REPORT_COLUMNS} FROM tasks t
         LEFT JOIN reports r ON r.task_id = t.id WHERE t.id = $1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let Some(row) = client.query_opt(&stmt, &[&id.as_str()]).await? else {
        return Ok(None);
    };
    let task = rows::task(&row, 0)?.ok_or(StoreError::NotFound)?;
    Ok(Some((task, rows::report(&row, 8)?)))
}

async fn existing_report<C: GenericClient>(client: &C, task: &TaskId) -> PgResult<Report> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM reports r WHERE r.task_id = $1");
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_opt(&stmt, &[&task.as_str()])
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(rows::report(&row, 0)?.ok_or(StoreError::NotFound)?)
}

/// Writes a ledger entry unless its idempotency key is taken, and moves the balance by what was
/// written; one statement. Returns whether the entry was written.
async fn insert_entry<C: GenericClient>(client: &C, entry: &LedgerEntry) -> PgResult<bool> {
    let stmt = client
        .prepare_cached(
            "WITH written AS (
                 INSERT INTO ledger_entries (account_id, task_id, kind, amount_micros,
                                             idempotency_key, created_at, reason, lane)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (idempotency_key) DO NOTHING
                 RETURNING account_id, amount_micros
             ), credited AS (
                 UPDATE accounts a SET balance_micros = a.balance_micros + w.amount_micros
                 FROM written w WHERE a.id = w.account_id
                 RETURNING a.id
             )
             SELECT COUNT(*) FROM written",
        )
        .await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &entry.account.0,
                &entry.task.as_str(),
                &entry.kind.as_str(),
                &entry.amount.micros(),
                &entry.idempotency_key,
                &entry.at.as_millis(),
                &entry.reason,
                &entry.lane,
            ],
        )
        .await?;
    Ok(get::<i64>(&row, 0)? == 1)
}

/// The batch staging table: per connection, emptied at every commit, so it is created once per
/// connection and never churns the catalog.
const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS verdict_ingest (
         pos          INTEGER NOT NULL,
         id           TEXT    NOT NULL,
         account_id   BIGINT  NOT NULL,
         captcha_type TEXT    NOT NULL,
         provider     TEXT    NOT NULL,
         worker       TEXT,
         answer       TEXT,
         cost_micros  BIGINT  NOT NULL,
         completed_at BIGINT  NOT NULL,
         silence      FLOAT8  NOT NULL
     ) ON COMMIT DELETE ROWS";

/// Stores every staged task whose account exists, unless its id is taken.
const INSERT_ALL: &str = "INSERT INTO tasks (id, account_id, captcha_type, provider, worker,
                                             answer, cost_micros, completed_at, ingested_at,
                                             silence_weight)
     SELECT s.id, s.account_id, s.captcha_type, s.provider, s.worker, s.answer, s.cost_micros,
            s.completed_at, $1, s.silence
     FROM verdict_ingest s WHERE s.account_id IN (SELECT id FROM accounts)
     ON CONFLICT (id) DO NOTHING
     RETURNING id";

/// The same when the batch repeats ids: the first occurrence (with a known account) of each.
const INSERT_FIRST_OCCURRENCES: &str = "INSERT INTO tasks (id, account_id, captcha_type,
                                             provider, worker, answer, cost_micros,
                                             completed_at, ingested_at, silence_weight)
     SELECT DISTINCT ON (s.id) s.id, s.account_id, s.captcha_type, s.provider, s.worker,
            s.answer, s.cost_micros, s.completed_at, $1, s.silence
     FROM verdict_ingest s WHERE s.account_id IN (SELECT id FROM accounts)
     ORDER BY s.id, s.pos
     ON CONFLICT (id) DO NOTHING
     RETURNING id";

const STAGING_TYPES: &[Type] = &[
    Type::INT4,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::FLOAT8,
];

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        // Answering is not enough: a standby after failover answers but refuses writes.
        let row = self
            .db
            .query_opt("SELECT current_setting('transaction_read_only')", &[])
            .await?
            .ok_or(StoreError::NotFound)?;
        match get::<String>(&row, 0)?.as_str() {
            "off" => Ok(()),
            _ => Err(StoreError::unavailable("the database is read-only")),
        }
    }

    async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        transaction!(self.db, |tx| {
            if keys::hash_taken(&tx, &new.key.hash).await? {
                return Err(Fail::Store(StoreError::conflict("API key already in use")));
            }
            let sql = format!(
                "INSERT INTO accounts AS a (name, trusted, created_at, idempotency_key,
                                            creation_fingerprint)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING {ACCOUNT_COLUMNS}"
            );
            let creation = new.idempotency.as_ref();
            let row = tx
                .query_one(
                    &sql,
                    &[
                        &new.name,
                        &new.trusted,
                        &new.created_at.as_millis(),
                        &creation.map(|c| c.key.as_str()),
                        &creation.map(|c| c.fingerprint.as_str()),
                    ],
                )
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict { .. } => {
                        Fail::Store(StoreError::conflict("idempotency key already used"))
                    }
                    other => Fail::Store(other),
                })?;
            let account = rows::account(&row)?;
            keys::insert(&tx, account.id, &new.key).await?;
            account
        })
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let client = self.db.client().await?;
        Ok(account_by_id(&client, id).await?)
    }

    async fn account_by_creation_key(&self, key: &str) -> StoreResult<Option<(Account, String)>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, a.creation_fingerprint FROM accounts a
             WHERE a.idempotency_key = $1"
        );
        match self.db.query_opt(&sql, &[&key]).await? {
            Some(row) => Ok(Some((
                rows::account(&row)?,
                get::<Option<String>>(&row, ACCOUNT_WIDTH)?.unwrap_or_default(),
            ))),
            None => Ok(None),
        }
    }

    async fn account_by_key(&self, key: &KeyLookup) -> StoreResult<Option<KeyHolder>> {
        let row = self
            .db
            .query_opt(
                &keys::holder_sql(),
                &[
                    &key.keyed.as_bytes().as_slice(),
                    &key.unkeyed.as_bytes().as_slice(),
                ],
            )
            .await?;
        match row {
            Some(row) => keys::holder_of(&row, key),
            None => Ok(None),
        }
    }

    async fn add_key(&self, account: AccountId, key: NewKey) -> StoreResult<KeyRecord> {
        transaction!(self.db, |tx| {
            if !keys::lock_account(&tx, account).await? {
                return Err(Fail::Store(StoreError::NotFound));
            }
            keys::insert(&tx, account, &key).await?
        })
    }

    async fn rotate_keys(
        &self,
        account: AccountId,
        rotation: KeyRotation,
    ) -> StoreResult<KeyRecord> {
        transaction!(self.db, |tx| {
            if !keys::lock_account(&tx, account).await? {
                return Err(Fail::Store(StoreError::NotFound));
            }
            for (id, at) in &rotation.expire {
                keys::set_expiry(&tx, account, id, *at).await?;
            }
            keys::insert(&tx, account, &rotation.new).await?
        })
    }

    async fn revoke_key(
        &self,
        account: AccountId,
        key: &KeyId,
        at: Timestamp,
    ) -> StoreResult<Option<KeyRecord>> {
        transaction!(self.db, |tx| { keys::revoke(&tx, account, key, at).await? })
    }

    async fn keys(&self, account: AccountId) -> StoreResult<Vec<KeyRecord>> {
        let client = self.db.client().await?;
        Ok(keys::of_account(&client, account).await?)
    }

    async fn rehash_key(&self, unkeyed: &KeyHash, keyed: &KeyHash) -> StoreResult<()> {
        statement!(self.db, |client| {
            keys::rehash(&client, unkeyed, keyed).await?
        })
    }

    async fn set_disabled(
        &self,
        id: AccountId,
        disabled: Option<Disabled>,
    ) -> StoreResult<Option<Account>> {
        let sql = format!(
            "UPDATE accounts a SET disabled_at = $2, disabled_reason = $3 WHERE a.id = $1
             RETURNING {ACCOUNT_COLUMNS}"
        );
        let at = disabled.as_ref().map(|d| d.at.as_millis());
        let reason = disabled.as_ref().map(|d| d.reason.as_str());
        self.db
            .query_opt(&sql, &[&id.0, &at, &reason])
            .await?
            .map(|row| rows::account(&row))
            .transpose()
    }

    async fn account_activity(
        &self,
        id: AccountId,
        since: Timestamp,
    ) -> StoreResult<Vec<FamilyActivity>> {
        let rows = self
            .db
            .query(
                "SELECT family, SUM(tasks)::BIGINT, SUM(incorrect)::BIGINT, SUM(correct)::BIGINT
                 FROM activity WHERE account_id = $1 AND hour >= $2 GROUP BY family",
                &[&id.0, &hour_of(since)],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(family) = Family::parse(&get::<String>(row, 0)?) else {
                continue;
            };
            let activity = FamilyActivity {
                family,
                tasks: get::<i64>(row, 1)?.unsigned_abs(),
                incorrect: get::<i64>(row, 2)?.unsigned_abs(),
                correct: get::<i64>(row, 3)?.unsigned_abs(),
            };
            if activity.tasks + activity.incorrect + activity.correct > 0 {
                out.push(activity);
            }
        }
        out.sort_by_key(|a| a.family);
        Ok(out)
    }

    /// The fast path (perf-anchors.md §8: COPY is 1.5-1.7× multi-row INSERT): the batch is
    /// COPYed in binary into a staging table with each record's position, then one
    /// `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING id` stores every new id whose account
    /// exists (`DISTINCT ON (id)`, first occurrence, when the batch repeats an id). Results are derived from what came
    /// back, in input order; all in one transaction.
    async fn ingest(&self, writes: IngestWrites, at: Timestamp) -> StoreResult<Vec<IngestResult>> {
        let IngestWrites { tasks, silence } = writes;
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let positions: Vec<i32> = (0..tasks.len())
            .map(|i| i32::try_from(i).map_err(|_| StoreError::other("batch too large")))
            .collect::<StoreResult<_>>()?;
        // Only a batch that repeats an id needs DISTINCT ON, and so a sort; most batches don't.
        let repeats = {
            let mut seen = HashSet::with_capacity(tasks.len());
            !tasks.iter().all(|t| seen.insert(t.id.as_str()))
        };
        transaction!(self.db, |tx| {
            let started = std::time::Instant::now();
            tx.batch_execute(STAGING).await?;
            let sink = tx
                .copy_in(
                    "COPY verdict_ingest (pos, id, account_id, captcha_type, provider, worker,
                                          answer, cost_micros, completed_at, silence)
                     FROM STDIN (FORMAT binary)",
                )
                .await?;
            let writer = BinaryCopyInWriter::new(sink, STAGING_TYPES);
            pin_mut!(writer);
            for ((task, pos), weight) in tasks.iter().zip(&positions).zip(&silence) {
                let row: [&(dyn ToSql + Sync); 10] = [
                    pos,
                    &task.id.as_str(),
                    &task.account.0,
                    &task.captcha_type.as_str(),
                    &task.provider,
                    &task.worker,
                    &task.answer,
                    &task.cost.micros(),
                    &task.completed_at.as_millis(),
                    weight,
                ];
                writer.as_mut().write(&row).await?;
            }
            writer.finish().await?;
            let copied = started.elapsed();
            let known: HashSet<i64> = tx
                .query(
                    "SELECT a.id FROM accounts a
                     WHERE a.id IN (SELECT DISTINCT account_id FROM verdict_ingest)",
                    &[],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let sql = if repeats {
                // Sorting a large batch in the default 4 MB spills to disk.
                tx.batch_execute("SET LOCAL work_mem = '256MB'").await?;
                INSERT_FIRST_OCCURRENCES
            } else {
                INSERT_ALL
            };
            let mut inserted: HashSet<String> = tx
                .query(sql, &[&at.as_millis()])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let stored = started.elapsed();
            // The first occurrence (among tasks of known accounts) of an id that was inserted
            // is the one inserted; every other occurrence is a duplicate.
            let mut stored_tasks: Vec<(&Task, f64)> = Vec::new();
            let results: Vec<IngestResult> = tasks
                .iter()
                .zip(&silence)
                .map(|(task, weight)| {
                    if !known.contains(&task.account.0) {
                        IngestResult::UnknownAccount
                    } else if inserted.remove(task.id.as_str()) {
                        stored_tasks.push((task, *weight));
                        IngestResult::Inserted
                    } else {
                        IngestResult::Duplicate
                    }
                })
                .collect();
            statistics::bump_tasks(&tx, &task_counts(stored_tasks.iter().map(|(t, _)| *t))).await?;
            scores::add_exposures(&tx, &Exposures::of(stored_tasks)).await?;
            tracing::debug!(
                tasks = tasks.len(),
                copy_ms = copied.as_millis(),
                insert_ms = (stored - copied).as_millis(),
                activity_ms = (started.elapsed() - stored).as_millis(),
                "ingest batch staged and stored"
            );
            results
        })
    }

    async fn task(&self, id: &TaskId) -> StoreResult<Option<(Task, Option<Report>)>> {
        let client = self.db.client().await?;
        Ok(task_with_report(&client, id).await?)
    }

    async fn report_context(
        &self,
        key: &KeyLookup,
        task: &TaskId,
        history_hours: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<ReportContext>> {
        let client = self.db.client().await?;
        // One round trip for the key's account and the task with its report, one more for the
        // account's state in the task's family when asked for.
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, {KEY_COLUMNS}, {TASK_COLUMNS}, {REPORT_COLUMNS}
             FROM api_keys k JOIN accounts a ON a.id = k.account_id
             LEFT JOIN tasks t ON t.id = $3
             LEFT JOIN reports r ON r.task_id = t.id
             WHERE k.key_hash IN ($1, $2) ORDER BY k.scheme LIMIT 1"
        );
        let stmt = client.prepare_cached(&sql).await?;
        let Some(row) = client
            .query_opt(
                &stmt,
                &[
                    &key.keyed.as_bytes().as_slice(),
                    &key.unkeyed.as_bytes().as_slice(),
                    &task.as_str(),
                ],
            )
            .await?
        else {
            return Ok(None);
        };
        let Some(KeyHolder {
            account,
            key,
            scheme,
        }) = keys::holder_of(&row, key)?
        else {
            return Ok(None);
        };
        let task_at = ACCOUNT_WIDTH + KEY_WIDTH;
        let task = rows::task(&row, task_at)?;
        let existing = rows::report(&row, task_at + 8)?;
        let family = match (&task, history_hours) {
            (Some(t), Some(hours)) if t.account == account.id => Some(
                statistics::family_record(
                    &client,
                    account.id,
                    t.captcha_type.family(),
                    hour_of(now) - hours + 1,
                )
                .await?,
            ),
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
    }

    async fn task_context(
        &self,
        task: &TaskId,
        history_hours: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<Option<(Task, Option<Report>, Option<FamilyRecord>)>> {
        let client = self.db.client().await?;
        let Some((task, existing)) = task_with_report(&client, task).await? else {
            return Ok(None);
        };
        let family = match history_hours {
            Some(hours) => Some(
                statistics::family_record(
                    &client,
                    task.account,
                    task.captcha_type.family(),
                    hour_of(now) - hours + 1,
                )
                .await?,
            ),
            None => None,
        };
        Ok(Some((task, existing, family)))
    }

    /// Reports go through the node's group-commit writer (`writer.rs`): one transaction per
    /// batch with the report's refund, counts and effects, answered after the commit.
    async fn record_report(&self, writes: ReportWrites) -> StoreResult<Recorded> {
        let task = writes.report.task.clone();
        let report = writes.report.clone();
        if self.writer.write(writes).await? {
            return Ok(Recorded::Inserted(report));
        }
        // ON CONFLICT waited for the other report's transaction to commit, so this statement's
        // fresh snapshot sees it.
        let client = self.db.client().await?;
        Ok(Recorded::Existing(existing_report(&client, &task).await?))
    }

    async fn ledger(&self, account: AccountId) -> StoreResult<Vec<LedgerEntry>> {
        let sql = format!(
            "SELECT {LEDGER_COLUMNS} FROM ledger_entries WHERE account_id = $1 ORDER BY id"
        );
        self.db
            .query(&sql, &[&account.0])
            .await?
            .iter()
            .map(rows::ledger_entry)
            .collect()
    }

    async fn reports(&self, query: &ReportQuery) -> StoreResult<Vec<ListedReport>> {
        let (from, params) = crate::listing::from_where(query, |n| format!("${n}"));
        let sql = format!("SELECT {TASK_COLUMNS}, {REPORT_COLUMNS} {from}");
        let values: Vec<Box<dyn ToSql + Sync + Send>> = params
            .into_iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match p {
                    crate::listing::Param::Int(n) => Box::new(n),
                    crate::listing::Param::Text(t) => Box::new(t),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client.query(&stmt, &refs).await?;
        let mut listed = Vec::with_capacity(rows.len());
        let mut tasks = Vec::with_capacity(rows.len());
        for row in &rows {
            let (Some(task), Some(report)) = (rows::task(row, 0)?, rows::report(row, 8)?) else {
                continue;
            };
            tasks.push(task.id.as_str().to_owned());
            listed.push(ListedReport {
                task,
                report,
                ledger: Vec::new(),
            });
        }
        // The page's ledger entries in one round trip.
        let entries = client
            .query(
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM ledger_entries WHERE task_id = ANY($1) ORDER BY id"
                ),
                &[&tasks],
            )
            .await?;
        for row in &entries {
            let entry = rows::ledger_entry(row)?;
            if let Some(listed) = listed.iter_mut().find(|l| l.task.id == entry.task) {
                listed.ledger.push(entry);
            }
        }
        Ok(listed)
    }

    async fn report_flow(&self, since: Timestamp, bucket_ms: i64) -> StoreResult<Vec<FlowCount>> {
        let sql = crate::listing::report_flow(|n| format!("${n}::BIGINT"));
        self.db
            .query(&sql, &[&since.as_millis(), &bucket_ms.max(1)])
            .await?
            .iter()
            .map(|r| {
                crate::flow_count((get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?, get(r, 4)?))
            })
            .collect()
    }

    async fn money_flow(&self, since: Timestamp, bucket_ms: i64) -> StoreResult<Vec<MoneyCount>> {
        let sql = crate::listing::money_flow(|n| format!("${n}::BIGINT"));
        self.db
            .query(&sql, &[&since.as_millis(), &bucket_ms.max(1)])
            .await?
            .iter()
            .map(|r| crate::money_count((get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?)))
            .collect()
    }

    async fn accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        let (sql, params) = crate::listing::accounts(query, ACCOUNT_COLUMNS, |n| format!("${n}"));
        // The account filters bind integers only (a moment, an id).
        let values: Vec<i64> = params
            .into_iter()
            .filter_map(|p| match p {
                crate::listing::Param::Int(n) => Some(n),
                crate::listing::Param::Text(_) => None,
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.db
            .query(&sql, &refs)
            .await?
            .iter()
            .map(rows::account)
            .collect()
    }

    async fn recheck_queue(&self, now: Timestamp) -> StoreResult<RecheckQueue> {
        let sql = crate::listing::recheck_queue(|n| format!("${n}::BIGINT"));
        let row = self
            .db
            .query_opt(&sql, &[&now.as_millis()])
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(RecheckQueue {
            open: get::<i64>(&row, 0)?.max(0) as u64,
            overdue: get::<i64>(&row, 1)?.max(0) as u64,
            held: get::<i64>(&row, 2)?.max(0) as u64,
            oldest: get::<Option<i64>>(&row, 3)?.map(Timestamp::from_millis),
        })
    }

    async fn corrections(&self, query: &CorrectionQuery) -> StoreResult<Vec<Correction>> {
        // One short statement per page on a pooled connection, given back before the page is
        // sent on: no portal or transaction stays open while the reader of the export dawdles.
        let (sql, params) = crate::corrections::page_sql(query, |n| format!("${n}"));
        let values: Vec<Box<dyn ToSql + Sync + Send>> = params
            .into_iter()
            .map(|p| -> Box<dyn ToSql + Sync + Send> {
                match p {
                    crate::listing::Param::Int(n) => Box::new(n),
                    crate::listing::Param::Text(t) => Box::new(t),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.db.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        client
            .query(&stmt, &refs)
            .await?
            .iter()
            .map(rows::correction)
            .collect()
    }

    async fn task_ledger(&self, task: &TaskId) -> StoreResult<Vec<LedgerEntry>> {
        let sql =
            format!("SELECT {LEDGER_COLUMNS} FROM ledger_entries WHERE task_id = $1 ORDER BY id");
        self.db
            .query(&sql, &[&task.as_str()])
            .await?
            .iter()
            .map(rows::ledger_entry)
            .collect()
    }

    async fn set_trusted(&self, id: AccountId, trusted: bool) -> StoreResult<Option<Account>> {
        let sql = format!(
            "UPDATE accounts a SET trusted = $1 WHERE a.id = $2 RETURNING {ACCOUNT_COLUMNS}"
        );
        self.db
            .query_opt(&sql, &[&trusted, &id.0])
            .await?
            .map(|row| rows::account(&row))
            .transpose()
    }

    async fn set_standing(
        &self,
        id: AccountId,
        standing: Standing,
        now: Timestamp,
    ) -> StoreResult<Option<Account>> {
        transaction!(self.db, |tx| {
            match locked_account(&tx, id).await? {
                Some(current) => {
                    let next = current.standing_state().set_by_operator(&standing, now);
                    statistics::write_standing(&tx, id, &next).await?;
                    account_by_id(&tx, id).await?
                }
                None => None,
            }
        })
    }

    async fn cohort_samples(&self, family: Family, from_hour: i64) -> StoreResult<Vec<(u64, u64)>> {
        // As on SQLite: standing is judged at the end of the window's first hour.
        let now = Timestamp::from_millis(from_hour.saturating_add(1).saturating_mul(HOUR_MS));
        let client = self.db.client().await?;
        Ok(statistics::cohort_samples(&client, family, from_hour, now, true).await?)
    }

    async fn reporter_samples(
        &self,
        from_hour: i64,
        now: Timestamp,
    ) -> StoreResult<Vec<crate::ReporterSample>> {
        let client = self.db.client().await?;
        Ok(statistics::reporter_samples(&client, from_hour, now).await?)
    }

    async fn trusted_accounts(&self) -> StoreResult<Vec<AccountId>> {
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached("SELECT id FROM accounts WHERE trusted ORDER BY id")
            .await?;
        let rows = client.query(&stmt, &[]).await?;
        rows.iter()
            .map(|r| Ok(AccountId(rows::get(r, 0)?)))
            .collect()
    }

    async fn report_lags(&self) -> StoreResult<Vec<(Family, u8, u64)>> {
        let client = self.db.client().await?;
        Ok(scores::report_lags(&client).await?)
    }

    async fn standing_samples(
        &self,
        family: Family,
        from_hour: i64,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let now = Timestamp::from_millis(from_hour.saturating_add(1).saturating_mul(HOUR_MS));
        let client = self.db.client().await?;
        Ok(statistics::cohort_samples(&client, family, from_hour, now, false).await?)
    }

    async fn save_cohort(&self, family: Family, cohort: CohortRecord) -> StoreResult<()> {
        let client = self.db.client().await?;
        Ok(statistics::save_cohort(&client, family, &cohort).await?)
    }

    async fn cohorts(&self) -> StoreResult<Vec<(Family, CohortRecord)>> {
        let client = self.db.client().await?;
        Ok(statistics::all_cohorts(&client).await?)
    }

    async fn fold_baselines(&self, hour: i64, policy: &ScreenPolicy) -> StoreResult<bool> {
        transaction!(self.db, |tx| {
            statistics::fold_baselines(&tx, hour, policy).await?
        })
    }

    async fn folded_through(&self) -> StoreResult<Option<i64>> {
        let client = self.db.client().await?;
        Ok(statistics::folded_through(&client).await?)
    }

    async fn claim_recheck(
        &self,
        now: Timestamp,
        lease: Duration,
    ) -> StoreResult<Option<RecheckItem>> {
        statement!(self.db, |client| {
            rechecks::claim(&client, now, lease).await?
        })
    }

    async fn recheck_subject(
        &self,
        task: &TaskId,
        now: Timestamp,
    ) -> StoreResult<Option<RecheckSubject>> {
        let client = self.db.client().await?;
        Ok(rechecks::subject(&client, task, now).await?)
    }

    async fn settle_recheck(&self, writes: SettlementWrites) -> StoreResult<Settled> {
        let (settled, reversed) =
            transaction!(self.db, |tx| { rechecks::settle(&tx, &writes).await? })?;
        crate::metrics::reversed(&reversed);
        Ok(settled)
    }

    async fn overdue_rechecks(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<TaskId>> {
        let client = self.db.client().await?;
        Ok(rechecks::overdue(&client, now, limit).await?)
    }

    async fn provider_evidence(
        &self,
        resolution: Resolution,
        from: i64,
    ) -> StoreResult<Vec<EvidenceBucket>> {
        let name = resolution.provider_table_name()?;
        scores::buckets(
            self.db
                .query(scores::PROVIDER_EVIDENCE, &[&name, &from])
                .await?,
        )
    }

    async fn worker_evidence(&self, worker: &str, from: i64) -> StoreResult<Vec<EvidenceBucket>> {
        scores::buckets(
            self.db
                .query(scores::WORKER_EVIDENCE, &[&worker, &from])
                .await?,
        )
    }

    async fn prune_evidence(&self, minute: i64, hour: i64, day: i64) -> StoreResult<u64> {
        let client = self.db.client().await?;
        let providers = client.prepare_cached(scores::PRUNE_PROVIDERS).await?;
        let workers = client.prepare_cached(scores::PRUNE_WORKERS).await?;
        Ok(client.execute(&providers, &[&minute, &hour]).await?
            + client.execute(&workers, &[&day]).await?)
    }

    async fn prune_tasks(
        &self,
        before: Timestamp,
        after: Option<crate::TaskCursor>,
        limit: u32,
    ) -> StoreResult<crate::PrunedTasks> {
        let (from_at, from_id) = crate::cursor_position(after.as_ref());
        // Locked until the batch commits, and passed over by another node's batch (SKIP
        // LOCKED): two nodes pruning at once share the work instead of waiting for each other.
        let select = format!("{} FOR UPDATE OF t SKIP LOCKED", crate::OLD_TASKS);
        transaction!(self.db, |tx| {
            let rows = tx
                .query(
                    &select,
                    &[&before.as_millis(), &from_at, &from_id, &i64::from(limit)],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
                .collect();
            let (doomed, mut tally) = crate::judge_old_tasks(rows, before, limit)?;
            if !doomed.is_empty() {
                tally.rechecks = tx
                    .execute("DELETE FROM rechecks WHERE task_id = ANY($1)", &[&doomed])
                    .await?;
                tally.reports = tx
                    .execute("DELETE FROM reports WHERE task_id = ANY($1)", &[&doomed])
                    .await?;
                tally.tasks = tx
                    .execute("DELETE FROM tasks WHERE id = ANY($1)", &[&doomed])
                    .await?;
            }
            tally
        })
    }

    async fn whitelist(&self, account: AccountId) -> StoreResult<Vec<Whitelisted>> {
        let rows = self
            .db
            .query(
                "SELECT provider, worker, since FROM worker_whitelist WHERE account_id = $1
                 ORDER BY since, provider, worker",
                &[&account.0],
            )
            .await?;
        scores::whitelisted(account, rows)
    }

    async fn whitelisted_by(&self, provider: &str, worker: &str) -> StoreResult<u64> {
        let row = self
            .db
            .query_opt(
                "SELECT COUNT(*) FROM worker_whitelist WHERE provider = $1 AND worker = $2",
                &[&provider, &worker],
            )
            .await?;
        let n: i64 = row.map(|r| get(&r, 0)).transpose()?.unwrap_or(0);
        Ok(n.max(0) as u64)
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.db
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?
            .map(|row| get(&row, 0))
            .transpose()
    }

    async fn set_meta_if_absent(&self, key: &str, value: &str) -> StoreResult<bool> {
        let client = self.db.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .await?;
        Ok(client.execute(&stmt, &[&key, &value]).await? == 1)
    }
}
