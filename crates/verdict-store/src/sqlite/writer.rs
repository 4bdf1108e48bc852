//! Group commit: one thread owns the only writing connection. It takes every write job that is
//! waiting, runs them in one transaction (each inside its own savepoint, so one failing job does
//! not undo the others), commits once — one fsync for the whole batch — and only then answers
//! each job. A caller therefore never hears "done" before its write is durable, and writes never
//! contend for SQLite's lock. See perf-anchors.md §5: per-request fsync reaches 2-9 % of the HTTP
//! ceiling, group commit 50-70 %.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

/// Most jobs committed together.
const MAX_BATCH: usize = 1024;
/// Jobs waiting beyond this make callers wait (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 8192;

type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

struct JobDone {
    ok: bool,
    finish: Finish,
}

/// A write waiting for the writer: run it, or answer it with an error without running it.
trait WriteJob: Send {
    fn run(self: Box<Self>, conn: &Connection) -> JobDone;
    fn fail(self: Box<Self>, error: StoreError);
}

type Job = Box<dyn WriteJob>;

struct Typed<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for Typed<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> JobDone {
        let Typed { work, reply } = *self;
        let result = work(conn);
        JobDone {
            ok: result.is_ok(),
            finish: Box::new(move |committed| {
                let _ = reply.send(committed.and(result));
            }),
        }
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
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

    /// Runs `work` in the next batch; answers once the batch has committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(Typed { work, reply });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::unavailable("the SQLite writer has stopped"))?;
        rx.await
            .map_err(|_| StoreError::other("a write job panicked; it was rolled back"))?
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = batch.len(), "could not begin a write batch");
        for job in batch.drain(..) {
            job.fail(e.clone());
        }
        return;
    }
    let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "could not open a savepoint");
            job.fail(e);
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(done) => {
                if !done.ok {
                    let _ = exec(conn, "ROLLBACK TO job");
                }
                let _ = exec(conn, "RELEASE job");
                finishes.push(done.finish);
            }
            Err(_) => {
                tracing::error!("a write job panicked; rolled back");
                let _ = exec(conn, "ROLLBACK TO job");
                let _ = exec(conn, "RELEASE job");
            }
        }
    }
    let committed = exec(conn, "COMMIT");
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = finishes.len(), "write batch failed to commit");
        let _ = exec(conn, "ROLLBACK");
    }
    for finish in finishes {
        finish(committed.clone());
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
