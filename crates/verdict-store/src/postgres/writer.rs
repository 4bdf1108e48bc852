//! Group commit for reports on PostgreSQL. Every report of an account credits the same
//! `accounts` row, so one transaction per report serializes on that row lock and on one WAL
//! flush each: about 800 reports/s for one busy account on the project machine. Here one task
//! per node takes every report waiting, stores them with one statement in one transaction and
//! only then answers each: one row lock and one flush per batch (perf-anchors.md §6: a
//! single-writer batch reached 0.36-0.54 of the HTTP ceiling where one INSERT per request
//! reached 0.15).
//!
//! Per report it applies the domain's [`ReportWrites`], as SQLite does: the first report of a
//! task stands (in the database and within the batch), its refund entry is written unless its
//! idempotency key exists, only a written entry moves the balance, the planned counts, re-check
//! and solver evidence are written with the report, and the changes to the account (ignored
//! standing, clawback, whitelist) are applied, all in the transaction that stores the report.
//! Changes to an account run right after the statement that stored their report, before the
//! reports behind it in the batch, as if each report were stored on its own. Nothing depends on this queue: a
//! report is answered only after its batch committed, and a node that dies with a batch in hand
//! has answered none of it. A batch the database refuses as a whole (say, one report on a task
//! that does not exist) is retried one report at a time, so each report gets its own answer.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use verdict_domain::Report;
use verdict_domain::plan::ReportWrites;

use super::Db;
use super::statistics::{apply_account_changes, count};
use crate::metrics::Reversed;
use crate::{StoreError, StoreResult};

/// Most reports stored together.
const MAX_BATCH: usize = 512;
/// Reports waiting beyond this make callers wait (back-pressure, bounded memory).
const QUEUE_DEPTH: usize = 8192;

/// Whether the report was stored (`true`), or the task had one already (`false`).
type Reply = oneshot::Sender<StoreResult<bool>>;

struct Job {
    writes: ReportWrites,
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

    /// Stores `writes` in the next batch; answers once that batch has committed.
    pub(super) async fn write(&self, writes: ReportWrites) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { writes, reply })
            .await
            .map_err(|_| StoreError::unavailable("the PostgreSQL report writer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::other("the PostgreSQL report writer dropped a report"))?
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
        let reports: Vec<&ReportWrites> = batch.iter().map(|j| &j.writes).collect();
        crate::metrics::batch("postgres", reports.len());
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
            Err(unavailable @ StoreError::Unavailable { .. }) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(unavailable.clone()));
                }
            }
            // Refused as a whole: one at a time, so that only the culprit fails.
            Err(why) => {
                tracing::debug!(error = %why, reports = batch.len(), "batch refused; storing one by one");
                crate::metrics::retry("postgres", "batch_rerun");

                for job in batch.drain(..) {
                    let answer = store_batch(&db, &[&job.writes])
                        .await
                        .map(|inserted| inserted[0]);
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
                             $16::TEXT[], $17::BIGINT[], $18::TEXT[], $19::BIGINT[], $20::TEXT[],
                             $21::BIGINT[], $22::BIGINT[], $23::FLOAT8[], $24::FLOAT8[],
                             $25::BIGINT[], $26::BIGINT[], $27::FLOAT8[], $28::BOOL[],
                             $29::TEXT[], $30::BIGINT[], $31::BIGINT[], $32::FLOAT8[],
                             $33::INT[])
            AS i (ord, task_id, account_id, kind, correction, code, message, dialect,
                  received_at, verdict, reason, evidence, refund_micros, e_account, e_task,
                  e_kind, e_amount, e_key, e_at, family, hour, recheck_deadline, good, bad,
                  n_incorrect, n_correct, trust_weight, recheck_suspect, recheck_solves,
                  evidence_at, n_refunds, back, lag_bucket)
    ), firsts AS (
        -- The first report of each task in the batch; sorted by task, so that concurrent
        -- batches on other nodes take the unique keys in the same order.
        SELECT DISTINCT ON (task_id) * FROM input ORDER BY task_id, ord
    ), inserted AS (
        INSERT INTO reports (task_id, account_id, kind, correction, code, message, dialect,
                             received_at, verdict, reason, evidence, refund_micros,
                             trust_weight, recheck_suspect, recheck_solves)
        SELECT task_id, account_id, kind, correction, code, message, dialect, received_at,
               verdict, reason, evidence, refund_micros, trust_weight, recheck_suspect,
               recheck_solves
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
        RETURNING task_id, account_id, amount_micros
    ), credited AS (
        UPDATE accounts a SET balance_micros = a.balance_micros + c.total
        FROM (SELECT account_id, SUM(amount_micros)::BIGINT AS total FROM refund
              GROUP BY account_id) c
        WHERE a.id = c.account_id
        RETURNING a.id
    ), counted AS (
        -- The counts each stored report's plan adds.
        INSERT INTO activity AS x (account_id, family, hour, incorrect, correct, refunds)
        SELECT f.account_id, f.family, f.hour, SUM(f.n_incorrect)::BIGINT,
               SUM(f.n_correct)::BIGINT, SUM(f.n_refunds)::BIGINT
        FROM firsts f JOIN inserted USING (task_id)
        GROUP BY f.account_id, f.family, f.hour
        ORDER BY f.account_id, f.family, f.hour
        ON CONFLICT (account_id, family, hour) DO UPDATE SET
            incorrect = x.incorrect + excluded.incorrect, correct = x.correct + excluded.correct,
            refunds = x.refunds + excluded.refunds
    ), queued AS (
        INSERT INTO rechecks (task_id, account_id, created_at, deadline)
        SELECT f.task_id, f.account_id, f.received_at, f.recheck_deadline
        FROM firsts f JOIN inserted USING (task_id)
        WHERE f.recheck_deadline IS NOT NULL
        ON CONFLICT (task_id) DO NOTHING
    ), solved AS (
        -- What the stored reports say about their solvers, and the silence weight they take
        -- back from them (as sqlite/scores.rs).
        SELECT t.captcha_type, t.provider, t.worker, f.evidence_at AS received_at, f.good, f.bad,
               f.back * t.silence_weight AS taken,
               CASE WHEN f.good > 0 OR f.bad > 0 THEN 1 ELSE 0 END AS signalled
        FROM firsts f JOIN inserted USING (task_id) JOIN tasks t ON t.id = f.task_id
        WHERE f.good > 0 OR f.bad > 0 OR f.back * t.silence_weight > 0
    ), by_minute AS (
        INSERT INTO provider_evidence AS e (resolution, captcha_type, provider, bucket, good, bad, reports, taken)
        SELECT 'minute', captcha_type, provider, received_at / 60000, SUM(good), SUM(bad),
               SUM(signalled), SUM(taken)
        FROM solved GROUP BY captcha_type, provider, received_at / 60000
        ORDER BY 2, 3, 4
        ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
            good = e.good + excluded.good, bad = e.bad + excluded.bad,
            reports = e.reports + excluded.reports, taken = e.taken + excluded.taken
    ), by_hour AS (
        INSERT INTO provider_evidence AS e (resolution, captcha_type, provider, bucket, good, bad, reports, taken)
        SELECT 'hour', captcha_type, provider, received_at / 3600000, SUM(good), SUM(bad),
               SUM(signalled), SUM(taken)
        FROM solved GROUP BY captcha_type, provider, received_at / 3600000
        ORDER BY 2, 3, 4
        ON CONFLICT (resolution, captcha_type, provider, bucket) DO UPDATE SET
            good = e.good + excluded.good, bad = e.bad + excluded.bad,
            reports = e.reports + excluded.reports, taken = e.taken + excluded.taken
    ), by_worker AS (
        INSERT INTO worker_evidence AS e (provider, worker, captcha_type, day, good, bad, reports, taken)
        SELECT provider, worker, captcha_type, received_at / 86400000, SUM(good), SUM(bad),
               SUM(signalled), SUM(taken)
        FROM solved WHERE worker IS NOT NULL
        GROUP BY provider, worker, captcha_type, received_at / 86400000
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (provider, worker, captcha_type, day) DO UPDATE SET
            good = e.good + excluded.good, bad = e.bad + excluded.bad,
            reports = e.reports + excluded.reports, taken = e.taken + excluded.taken
    ), lagged AS (
        -- The stored reports' lags behind their tasks, in their families' histograms.
        INSERT INTO report_lags AS l (family, bucket, reports)
        SELECT f.family, f.lag_bucket, COUNT(*)
        FROM firsts f JOIN inserted USING (task_id)
        WHERE f.lag_bucket IS NOT NULL
        GROUP BY f.family, f.lag_bucket
        ORDER BY 1, 2
        ON CONFLICT (family, bucket) DO UPDATE SET reports = l.reports + excluded.reports
    )
    SELECT f.ord FROM firsts f JOIN inserted USING (task_id)";

/// Stores a batch in one transaction; per report, whether it was inserted. Refunds its
/// clawbacks took back are counted once it has committed.
async fn store_batch(db: &Db, reports: &[&ReportWrites]) -> StoreResult<Vec<bool>> {
    let n = reports.len();
    // Runs of reports, each ending with the one report that changes its account (or with the
    // batch's last report).
    let mut segments: Vec<Columns> = vec![Columns::default()];
    for (ord, writes) in reports.iter().enumerate() {
        let last = segments.last_mut().expect("at least one segment");
        last.push(ord, writes)?;
        if writes.changes_account() {
            last.changes = Some((ord, *writes));
            segments.push(Columns::default());
        }
    }
    segments.retain(|c| !c.ord.is_empty());
    // Accounts this batch may change, locked in id order before anything else, so that two
    // batches on the same accounts queue instead of deadlocking.
    let mut accounts: Vec<i64> = reports.iter().map(|w| w.report.account.0).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let (inserted, reversed): (HashSet<i32>, Vec<Reversed>) =
        if accounts.len() > 1 || segments.iter().any(|c| c.changes.is_some()) {
            transaction!(db, |tx| {
                tx.execute(
                    "SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                    &[&accounts],
                )
                .await?;
                let stmt = tx.prepare_cached(BATCH_SQL).await?;
                let mut inserted = HashSet::new();
                let mut reversed = Vec::new();
                for segment in &segments {
                    let stored = ords(tx.query(&stmt, &segment.params()).await?)?;
                    if let Some((ord, writes)) = segment.changes
                        && i32::try_from(ord).is_ok_and(|ord| stored.contains(&ord))
                    {
                        reversed.extend(apply_account_changes(&tx, &writes.account).await?);
                    }
                    inserted.extend(stored);
                }
                (inserted, reversed)
            })?
        } else {
            // One account and nothing beyond the statement: one statement is its own transaction,
            // which saves the BEGIN and COMMIT round trips.
            let params = segments[0].params();
            let inserted = statement!(db, |client| {
                let stmt = client.prepare_cached(BATCH_SQL).await?;
                ords(client.query(&stmt, &params).await?)?
            })?;
            (inserted, Vec::new())
        };
    crate::metrics::reversed(&reversed);
    Ok((0..n)
        .map(|ord| i32::try_from(ord).is_ok_and(|ord| inserted.contains(&ord)))
        .collect())
}

fn ords(rows: Vec<tokio_postgres::Row>) -> StoreResult<HashSet<i32>> {
    rows.iter()
        .map(|row| super::rows::get::<i32>(row, 0))
        .collect()
}

/// Part of a batch, column by column, as `unnest` takes it.
#[derive(Default)]
struct Columns<'a> {
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
    family: Vec<&'static str>,
    hour: Vec<i64>,
    recheck_deadline: Vec<Option<i64>>,
    good: Vec<f64>,
    bad: Vec<f64>,
    n_incorrect: Vec<i64>,
    n_correct: Vec<i64>,
    trust_weight: Vec<f64>,
    recheck_suspect: Vec<Option<bool>>,
    recheck_solves: Vec<Option<String>>,
    evidence_at: Vec<i64>,
    n_refunds: Vec<i64>,
    /// 1 where the report takes back its task's silence weight.
    back: Vec<f64>,
    lag_bucket: Vec<Option<i32>>,
    /// The last report of the part, when its changes to the account are applied after the part
    /// is stored.
    changes: Option<(usize, &'a ReportWrites)>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, ord: usize, writes: &ReportWrites) -> StoreResult<()> {
        let r: &Report = &writes.report;
        let entry = writes.refund.as_ref();
        let counts = &writes.activity.counts;
        self.ord
            .push(i32::try_from(ord).map_err(|_| StoreError::other("batch too large"))?);
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
        self.evidence.push(crate::evidence_column(r)?);
        self.refund_micros.push(r.refund.map(|a| a.micros()));
        self.e_account.push(entry.map(|e| e.account.0));
        self.e_task.push(entry.map(|e| e.task.as_str().to_owned()));
        self.e_kind.push(entry.map(|e| e.kind.as_str()));
        self.e_amount.push(entry.map(|e| e.amount.micros()));
        self.e_key.push(entry.map(|e| e.idempotency_key.clone()));
        self.e_at.push(entry.map(|e| e.at.as_millis()));
        self.family.push(writes.activity.family.as_str());
        self.hour.push(writes.activity.hour);
        self.n_incorrect.push(count(counts.incorrect));
        self.n_correct.push(count(counts.correct));
        self.n_refunds.push(count(counts.refunds));
        self.recheck_deadline
            .push(writes.recheck_deadline.map(|d| d.as_millis()));
        self.good.push(writes.solver.signal.good);
        self.bad.push(writes.solver.signal.bad);
        self.evidence_at.push(writes.solver.at.as_millis());
        self.back
            .push(f64::from(u8::from(writes.solver.takes_back_silence)));
        self.lag_bucket
            .push(writes.lag.map(|l| i32::from(l.bucket)));
        self.trust_weight.push(r.trust_weight);
        let (suspect, solves) = crate::recheck_columns(r)?;
        self.recheck_suspect.push(suspect);
        self.recheck_solves.push(solves);
        Ok(())
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 33] {
        [
            &self.ord,
            &self.task_id,
            &self.account_id,
            &self.kind,
            &self.correction,
            &self.code,
            &self.message,
            &self.dialect,
            &self.received_at,
            &self.verdict,
            &self.reason,
            &self.evidence,
            &self.refund_micros,
            &self.e_account,
            &self.e_task,
            &self.e_kind,
            &self.e_amount,
            &self.e_key,
            &self.e_at,
            &self.family,
            &self.hour,
            &self.recheck_deadline,
            &self.good,
            &self.bad,
            &self.n_incorrect,
            &self.n_correct,
            &self.trust_weight,
            &self.recheck_suspect,
            &self.recheck_solves,
            &self.evidence_at,
            &self.n_refunds,
            &self.back,
            &self.lag_bucket,
        ]
    }
}
