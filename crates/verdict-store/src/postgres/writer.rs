//! Group commit for reports on PostgreSQL. Every report of an account credits the same
//! `accounts` row, so one transaction per report serializes on that row lock and on one WAL
//! flush each: about 800 reports/s for one busy account on the project machine. Here one task
//! per node takes every report waiting, stores them with one statement in one transaction and
//! only then answers each: one row lock and one flush per batch (perf-anchors.md §6: a
//! single-writer batch reached 0.36-0.54 of the HTTP ceiling where one INSERT per request
//! reached 0.15).
//!
//! Per report the rules are exactly those of the single statement in `mod.rs`: the first report
//! of a task stands (in the database and within the batch), its refund entry is written unless
//! its idempotency key exists, and only a written entry moves the balance. Nothing depends on
//! this queue: a report is answered only after its batch committed, and a node that dies with a
//! batch in hand has answered none of it. A batch the database refuses as a whole (say, one
//! report on a task that does not exist) is retried one report at a time, so each report gets
//! its own answer.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use verdict_domain::{LedgerEntry, Report};

use super::Db;
use crate::{StoreError, StoreResult};

/// Most reports stored together.
const MAX_BATCH: usize = 512;
/// Reports waiting beyond this make callers wait (back-pressure, bounded memory).
const QUEUE_DEPTH: usize = 8192;

/// Whether the report was stored (`true`), or the task had one already (`false`).
type Reply = oneshot::Sender<StoreResult<bool>>;

struct Job {
    report: Report,
    reply: Reply,
}

/// The handle to a node's report writer; the task ends when the store is dropped.
#[derive(Debug)]
pub(super) struct ReportWriter {
    jobs: mpsc::Sender<Job>,
}

impl ReportWriter {
    pub(super) fn spawn(db: Db) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(db, rx));
        Self { jobs }
    }

    /// Stores `report` in the next batch; answers once that batch has committed.
    pub(super) async fn write(&self, report: Report) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { report, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the PostgreSQL report writer stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Other("the PostgreSQL report writer dropped a report".into())
        })?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let reports: Vec<&Report> = batch.iter().map(|j| &j.report).collect();
        let started = std::time::Instant::now();
        let stored = store_batch(&db, &reports).await;
        tracing::debug!(
            reports = reports.len(),
            elapsed_us = started.elapsed().as_micros(),
            ok = stored.is_ok(),
            "report batch"
        );
        match stored {
            Ok(inserted) => {
                for (job, inserted) in batch.drain(..).zip(inserted) {
                    let _ = job.reply.send(Ok(inserted));
                }
            }
            // The database is unreachable: every report in hand gets that answer.
            Err(StoreError::Unavailable(why)) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(StoreError::Unavailable(why.clone())));
                }
            }
            // Refused as a whole: one at a time, so that only the culprit fails.
            Err(why) => {
                tracing::debug!(error = %why, reports = batch.len(), "batch refused; storing one by one");

                for job in batch.drain(..) {
                    let answer = db.insert_report(&job.report).await;
                    let _ = job.reply.send(answer);
                }
            }
        }
    }
}

const BATCH_SQL: &str = "WITH input AS (
        SELECT * FROM unnest($1::INT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[],
                             $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BIGINT[], $10::TEXT[],
                             $11::TEXT[], $12::TEXT[], $13::BIGINT[], $14::BIGINT[], $15::TEXT[],
                             $16::TEXT[], $17::BIGINT[], $18::TEXT[], $19::BIGINT[])
            AS i (ord, task_id, account_id, kind, correction, code, message, dialect,
                  received_at, verdict, reason, evidence, refund_micros, e_account, e_task,
                  e_kind, e_amount, e_key, e_at)
    ), firsts AS (
        -- The first report of each task in the batch; sorted by task, so that concurrent
        -- batches on other nodes take the unique keys in the same order.
        SELECT DISTINCT ON (task_id) * FROM input ORDER BY task_id, ord
    ), inserted AS (
        INSERT INTO reports (task_id, account_id, kind, correction, code, message, dialect,
                             received_at, verdict, reason, evidence, refund_micros)
        SELECT task_id, account_id, kind, correction, code, message, dialect, received_at,
               verdict, reason, evidence, refund_micros
        FROM firsts
        ON CONFLICT (task_id) DO NOTHING
        RETURNING task_id
    ), refund AS (
        INSERT INTO ledger_entries (account_id, task_id, kind, amount_micros, idempotency_key,
                                    created_at)
        SELECT f.e_account, f.e_task, f.e_kind, f.e_amount, f.e_key, f.e_at
        FROM firsts f JOIN inserted USING (task_id)
        WHERE f.e_key IS NOT NULL
        ORDER BY f.e_key
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING account_id, amount_micros
    ), credited AS (
        UPDATE accounts a SET balance_micros = a.balance_micros + c.total
        FROM (SELECT account_id, SUM(amount_micros)::BIGINT AS total FROM refund
              GROUP BY account_id) c
        WHERE a.id = c.account_id
        RETURNING a.id
    )
    SELECT f.ord FROM firsts f JOIN inserted USING (task_id)";

/// Stores a batch in one transaction; per report, whether it was inserted.
async fn store_batch(db: &Db, reports: &[&Report]) -> StoreResult<Vec<bool>> {
    let n = reports.len();
    let mut cols = Columns::default();
    for (ord, report) in reports.iter().enumerate() {
        cols.push(ord, report)?;
    }
    // Accounts whose balance may move, locked in id order before anything else, so that two
    // batches crediting the same accounts queue instead of deadlocking.
    let mut accounts: Vec<i64> = cols.e_account.iter().flatten().copied().collect();
    accounts.sort_unstable();
    accounts.dedup();
    let params: [&(dyn ToSql + Sync); 19] = [
        &cols.ord,
        &cols.task_id,
        &cols.account_id,
        &cols.kind,
        &cols.correction,
        &cols.code,
        &cols.message,
        &cols.dialect,
        &cols.received_at,
        &cols.verdict,
        &cols.reason,
        &cols.evidence,
        &cols.refund_micros,
        &cols.e_account,
        &cols.e_task,
        &cols.e_kind,
        &cols.e_amount,
        &cols.e_key,
        &cols.e_at,
    ];
    let ords = |rows: Vec<tokio_postgres::Row>| {
        rows.iter()
            .map(|row| super::rows::get::<i32>(row, 0))
            .collect::<StoreResult<HashSet<i32>>>()
    };
    let inserted: HashSet<i32> = if accounts.len() > 1 {
        transaction!(db, |tx| {
            tx.execute(
                "SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                &[&accounts],
            )
            .await?;
            let stmt = tx.prepare_cached(BATCH_SQL).await?;
            ords(tx.query(&stmt, &params).await?)?
        })?
    } else {
        // One account or none: nothing to order, and one statement is its own transaction,
        // which saves the BEGIN and COMMIT round trips.
        statement!(db, |client| {
            let stmt = client.prepare_cached(BATCH_SQL).await?;
            ords(client.query(&stmt, &params).await?)?
        })?
    };
    Ok((0..n)
        .map(|ord| i32::try_from(ord).is_ok_and(|ord| inserted.contains(&ord)))
        .collect())
}

/// The batch, column by column, as `unnest` takes it.
#[derive(Default)]
struct Columns {
    ord: Vec<i32>,
    task_id: Vec<String>,
    account_id: Vec<i64>,
    kind: Vec<&'static str>,
    correction: Vec<Option<String>>,
    code: Vec<Option<String>>,
    message: Vec<Option<String>>,
    dialect: Vec<String>,
    received_at: Vec<i64>,
    verdict: Vec<&'static str>,
    reason: Vec<String>,
    evidence: Vec<String>,
    refund_micros: Vec<Option<i64>>,
    e_account: Vec<Option<i64>>,
    e_task: Vec<Option<String>>,
    e_kind: Vec<Option<&'static str>>,
    e_amount: Vec<Option<i64>>,
    e_key: Vec<Option<String>>,
    e_at: Vec<Option<i64>>,
}

impl Columns {
    fn push(&mut self, ord: usize, r: &Report) -> StoreResult<()> {
        let entry = LedgerEntry::refund_for(r);
        self.ord
            .push(i32::try_from(ord).map_err(|_| StoreError::Other("batch too large".into()))?);
        self.task_id.push(r.task.as_str().to_owned());
        self.account_id.push(r.account.0);
        self.kind.push(r.kind.as_str());
        self.correction.push(r.correction.clone());
        self.code.push(r.code.clone());
        self.message.push(r.message.clone());
        self.dialect.push(r.dialect.clone());
        self.received_at.push(r.received_at.as_millis());
        self.verdict.push(r.verdict.as_str());
        self.reason.push(r.reason.code().to_owned());
        self.evidence
            .push(serde_json::Value::Object(r.evidence.as_map().clone()).to_string());
        self.refund_micros.push(r.refund.map(|a| a.micros()));
        self.e_account.push(entry.as_ref().map(|e| e.account.0));
        self.e_task
            .push(entry.as_ref().map(|e| e.task.as_str().to_owned()));
        self.e_kind.push(entry.as_ref().map(|e| e.kind.as_str()));
        self.e_amount
            .push(entry.as_ref().map(|e| e.amount.micros()));
        self.e_key
            .push(entry.as_ref().map(|e| e.idempotency_key.clone()));
        self.e_at.push(entry.as_ref().map(|e| e.at.as_millis()));
        Ok(())
    }
}
