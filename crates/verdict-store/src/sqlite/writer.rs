//! Group commit: one thread owns the only writing connection. It takes every write job that is
//! waiting, runs them in one transaction, commits once — one fsync for the whole batch — and
//! only then answers each job. A caller therefore never hears "done" before its write is
//! durable, and writes never contend for SQLite's lock. See perf-anchors.md §5: per-request
//! fsync reaches 2-9 % of the HTTP ceiling, group commit 50-70 %.
//!
//! A batch runs optimistically: no savepoint per job, and the counters its jobs add to
//! ([`Pending`]) written once per batch. Should any job fail, the whole batch is rolled back and
//! run again job by job, each in its own savepoint, so that one failing job does not undo the
//! others. Jobs are therefore `Fn`: they may run twice, and only the run that commits counts.

use std::cell::{RefCell, RefMut};
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::pending::Pending;
use crate::StoreError;

/// Most jobs committed together.
const MAX_BATCH: usize = 1024;
/// Jobs waiting beyond this make callers wait (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 8192;

/// The writing connection inside a batch's transaction, with the counters the batch has added
/// to but not yet written. Derefs to the connection.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    pending: &'c RefCell<Pending>,
}

impl<'c> Tx<'c> {
    /// A transaction opened by the caller on `conn`, for tests that run a job's statements on
    /// a connection of their own.
    #[cfg(test)]
    pub(crate) fn new(conn: &'c Connection, pending: &'c RefCell<Pending>) -> Self {
        Self { conn, pending }
    }

    /// Counters to add to: written before the next job that reads them, and before the commit.
    pub(crate) fn pending(&self) -> RefMut<'_, Pending> {
        self.pending.borrow_mut()
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// A write waiting for the writer: run it (perhaps twice), then answer it once.
trait WriteJob: Send {
    /// Whether the job only adds rows and counters, never reading the counter tables, so that
    /// the batch's pending counters need not be written before it runs.
    fn appends_only(&self) -> bool;
    /// Runs the work, keeping its result for [`WriteJob::answer`]; false if it failed.
    fn run(&mut self, tx: &Tx<'_>) -> bool;
    /// Replaces the kept result with `error`: what the job wrote was rolled back after all.
    fn fail(&mut self, error: StoreError);
    /// Answers the caller: the kept result if the batch committed, else the batch's error.
    fn answer(self: Box<Self>, committed: Result<(), StoreError>);
}

type Job = Box<dyn WriteJob>;

struct Typed<T, F> {
    work: F,
    appends_only: bool,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Typed<T, F>
where
    T: Send + 'static,
    F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    fn appends_only(&self) -> bool {
        self.appends_only
    }

    fn run(&mut self, tx: &Tx<'_>) -> bool {
        self.result = None;
        let result = (self.work)(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, error: StoreError) {
        self.result = Some(Err(error));
    }

    fn answer(self: Box<Self>, committed: Result<(), StoreError>) {
        let reply = match (committed, self.result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::other(
                "a write job panicked; it was rolled back",
            )),
        };
        let _ = self.reply.send(reply);
    }
}

/// The handle to the writer thread. The thread ends when the last handle is dropped, after the
/// jobs already queued; every job that was answered is committed, so nothing needs flushing.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub(crate) fn spawn(conn: Connection) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("verdict-sqlite-writer".into())
            .spawn(move || run(conn, rx))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next batch, after the batch's pending counters are written, so that
    /// it reads everything written before it; answers once the batch has committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, false).await
    }

    /// Like [`Writer::write`], for work that inserts rows and adds to [`Tx::pending`] but never
    /// reads the counter tables: its batch's counters are written once, at the commit.
    pub(crate) async fn append<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(work, true).await
    }

    async fn submit<T, F>(&self, work: F, appends_only: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(Typed {
            work,
            appends_only,
            result: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::unavailable("the SQLite writer has stopped"))?;
        rx.await
            .map_err(|_| StoreError::other("the SQLite writer stopped before answering"))?
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let pending = RefCell::new(Pending::default());
    let tx = Tx {
        conn: &conn,
        pending: &pending,
    };
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&tx, &mut batch);
    }
}

fn commit_batch(tx: &Tx<'_>, batch: &mut Vec<Job>) {
    crate::metrics::batch("sqlite", batch.len());
    let committed = match exec(tx, "BEGIN IMMEDIATE") {
        // Nothing ran, and running the jobs one by one would only wait for the lock again.
        Err(e) => {
            tracing::error!(error = %e, jobs = batch.len(), "could not begin a write batch");
            Err(e)
        }
        Ok(()) => match run_optimistically(tx, batch) {
            Ok(()) => commit(tx),
            Err(failure) => {
                tracing::debug!(%failure, jobs = batch.len(), "a write batch failed; running it job by job");
                let _ = exec(tx, "ROLLBACK");
                tx.pending().clear();
                crate::metrics::retry("sqlite", "batch_rerun");
                run_job_by_job(tx, batch).and_then(|()| commit(tx))
            }
        },
    };
    for job in batch.drain(..) {
        job.answer(committed.clone());
    }
}

/// Runs every job in the open transaction; the first failure stops it (the caller rolls back).
fn run_optimistically(tx: &Tx<'_>, batch: &mut [Job]) -> Result<(), StoreError> {
    for job in batch.iter_mut() {
        if !job.appends_only() {
            tx.pending().flush(tx)?;
        }
        match catch_unwind(AssertUnwindSafe(|| job.run(tx))) {
            Ok(true) => {}
            Ok(false) => return Err(StoreError::other("a job of the batch failed")),
            Err(_) => return Err(StoreError::other("a job of the batch panicked")),
        }
    }
    tx.pending().flush(tx)
}

/// Runs every job in its own savepoint with its counters written inside it, so that a failing
/// job leaves nothing behind and the others still commit.
fn run_job_by_job(tx: &Tx<'_>, batch: &mut [Job]) -> Result<(), StoreError> {
    exec(tx, "BEGIN IMMEDIATE").inspect_err(|e| {
        tracing::error!(error = %e, jobs = batch.len(), "could not begin a write batch");
    })?;
    for job in batch.iter_mut() {
        if let Err(e) = exec(tx, "SAVEPOINT job") {
            tracing::error!(error = %e, "could not open a savepoint");
            let _ = exec(tx, "ROLLBACK");
            return Err(e);
        }
        let ok = match catch_unwind(AssertUnwindSafe(|| job.run(tx))) {
            Ok(true) => match tx.pending().flush(tx) {
                Ok(()) => true,
                Err(e) => {
                    job.fail(e);
                    false
                }
            },
            Ok(false) => false,
            Err(_) => {
                tracing::error!("a write job panicked; rolled back");
                false
            }
        };
        if !ok {
            tx.pending().clear();
            let _ = exec(tx, "ROLLBACK TO job");
        }
        let _ = exec(tx, "RELEASE job");
    }
    Ok(())
}

fn commit(tx: &Tx<'_>) -> Result<(), StoreError> {
    exec(tx, "COMMIT").inspect_err(|e| {
        tracing::error!(error = %e, "write batch failed to commit");
        let _ = exec(tx, "ROLLBACK");
    })
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use verdict_domain::Family;
    use verdict_domain::plan::LagSample;

    use super::*;

    const LAG: LagSample = LagSample {
        family: Family::Image,
        bucket: 3,
    };

    /// What a job of a test batch does besides inserting its row and counting one lag.
    #[derive(Clone, Copy)]
    enum Then {
        Succeed,
        Fail,
        Panic,
    }

    struct Harness {
        writer: Arc<Writer>,
        queued: usize,
        release: Arc<AtomicBool>,
        blocker: tokio::task::JoinHandle<Result<(), StoreError>>,
    }

    fn store() -> Writer {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        Writer::spawn(conn).unwrap()
    }

    /// Holds the writer thread inside a job until released, so that the jobs queued meanwhile
    /// all land in the next batch.
    async fn hold(writer: Writer) -> Harness {
        let writer = Arc::new(writer);
        let (started, release) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let blocker = tokio::spawn({
            let (writer, started, release) = (writer.clone(), started.clone(), release.clone());
            async move {
                writer
                    .write(move |_| {
                        started.store(true, Ordering::SeqCst);
                        while !release.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Ok(())
                    })
                    .await
            }
        });
        while !started.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Harness {
            writer,
            queued: 0,
            release,
            blocker,
        }
    }

    impl Harness {
        /// Queues a job that inserts a `meta` row named `key`, counts one lag, then does `then`.
        async fn queue(
            &mut self,
            key: &'static str,
            then: Then,
            runs: &Arc<AtomicUsize>,
        ) -> tokio::task::JoinHandle<Result<(), StoreError>> {
            let (writer, runs) = (self.writer.clone(), runs.clone());
            let job = tokio::spawn(async move {
                writer
                    .append(move |tx| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tx.execute("INSERT INTO meta (key, value) VALUES (?1, 'x')", [key])?;
                        tx.pending().lag(LAG);
                        match then {
                            Then::Succeed => Ok(()),
                            Then::Fail => Err(StoreError::other("refused")),
                            Then::Panic => panic!("a job that panics"),
                        }
                    })
                    .await
            });
            self.wait_queued().await;
            job
        }

        /// Queues a job that reads what every job before it wrote, counters included.
        async fn queue_read(
            &mut self,
        ) -> tokio::task::JoinHandle<Result<(Vec<String>, i64), StoreError>> {
            let writer = self.writer.clone();
            let job = tokio::spawn(async move { writer.write(read_back).await });
            self.wait_queued().await;
            job
        }

        /// Returns once the job just spawned is in the queue, so that jobs queue in order
        /// (once released, the writer takes jobs as they come, and there is nothing to wait for).
        async fn wait_queued(&mut self) {
            if self.release.load(Ordering::SeqCst) {
                return;
            }
            self.queued += 1;
            while self.writer.jobs.capacity() > QUEUE_DEPTH - self.queued {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }

        /// Lets the held batch commit; the jobs queued meanwhile form the next batch.
        async fn release(&mut self) {
            self.release.store(true, Ordering::SeqCst);
            (&mut self.blocker).await.unwrap().unwrap();
        }
    }

    fn read_back(tx: &Tx<'_>) -> Result<(Vec<String>, i64), StoreError> {
        let keys = tx
            .prepare("SELECT key FROM meta WHERE value = 'x' ORDER BY key")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        let lags = tx.query_row(
            "SELECT COALESCE(SUM(reports), 0) FROM report_lags WHERE family = ?1 AND bucket = ?2",
            rusqlite::params![LAG.family.as_str(), LAG.bucket],
            |r| r.get(0),
        )?;
        Ok((keys, lags))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_succeeds_runs_each_job_once_and_writes_its_counters_before_a_reader() {
        let mut held = hold(store()).await;
        let runs = Arc::new(AtomicUsize::new(0));
        let a = held.queue("a", Then::Succeed, &runs).await;
        let b = held.queue("b", Then::Succeed, &runs).await;
        let read = held.queue_read().await;
        let c = held.queue("c", Then::Succeed, &runs).await;
        held.release().await;
        for job in [a, b, c] {
            job.await.unwrap().unwrap();
        }
        // The reader ran between b and c in the same batch and saw both counts already.
        assert_eq!(
            read.await.unwrap().unwrap(),
            (vec!["a".to_owned(), "b".to_owned()], 2)
        );
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let committed = held.queue_read().await.await.unwrap().unwrap();
        assert_eq!(committed, (vec!["a".into(), "b".into(), "c".into()], 3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_rolled_back_alone_with_its_counters() {
        for then in [Then::Fail, Then::Panic] {
            let mut held = hold(store()).await;
            let (runs, failing_runs) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let a = held.queue("a", Then::Succeed, &runs).await;
            let bad = held.queue("bad", then, &failing_runs).await;
            let c = held.queue("c", Then::Succeed, &runs).await;
            let read = held.queue_read().await;
            held.release().await;
            a.await.unwrap().unwrap();
            c.await.unwrap().unwrap();
            let refused = bad.await.unwrap().unwrap_err().to_string();
            let expected = match then {
                Then::Panic => "panicked",
                _ => "refused",
            };
            assert!(refused.contains(expected), "{refused}");
            assert_eq!(
                read.await.unwrap().unwrap(),
                (vec!["a".to_owned(), "c".to_owned()], 2)
            );
            // The optimistic run stopped at the failing job, so a ran twice and c once; the
            // failing job ran in both.
            assert_eq!(runs.load(Ordering::SeqCst), 3);
            assert_eq!(failing_runs.load(Ordering::SeqCst), 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_cannot_begin_fails_at_once_without_running_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let mut conn = Connection::open(&path).unwrap();
        super::super::configure(&conn).unwrap();
        super::super::migrate(&mut conn).unwrap();
        // Counts each wait for the lock, and gives up at once.
        static WAITS: AtomicUsize = AtomicUsize::new(0);
        fn give_up(attempt: i32) -> bool {
            if attempt == 0 {
                WAITS.fetch_add(1, Ordering::SeqCst);
            }
            false
        }
        conn.busy_handler(Some(give_up)).unwrap();
        let writer = Writer::spawn(conn).unwrap();
        let locker = Connection::open(&path).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let refused = writer
            .append(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("locked"), "{refused}");
        // One wait for the lock, not a second one for a job-by-job retry; no job ran.
        assert_eq!(WAITS.load(Ordering::SeqCst), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        locker.execute_batch("COMMIT").unwrap();
        writer.append(|_| Ok(())).await.unwrap();
    }
}
