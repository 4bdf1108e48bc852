//! The database goes away under load and comes back: every dialect answers its own "unavailable"
//! shape (never a panic, an HTML page or a bare 500), the readiness probe fails, and the same
//! process recovers by itself once the database is back. PostgreSQL is cut off by a TCP proxy the
//! test controls; SQLite is locked by another connection, or its disk fills up.

#[expect(
    dead_code,
    reason = "the multi-node tests use the rest of the shared harness"
)]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use support::{Answer, Dialect, Node, PgSchema, admin_get, client, create_account, ingest, send};
use verdict_domain::CaptchaType;
use verdict_http::dialect::DIALECTS;

/// A TCP proxy in front of PostgreSQL (the idea of crates.io's ChaosProxy): `cut` closes every
/// open connection and turns new ones away; `restore` lets them through again.
struct ChaosProxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    /// Connections being piped right now.
    open: Arc<AtomicUsize>,
}

impl ChaosProxy {
    async fn start(upstream: String) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, watching) = watch::channel(false);
        let open = Arc::new(AtomicUsize::new(0));
        let counting = open.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *watching.borrow() {
                    drop(inbound); // refused: closed at once
                    continue;
                }
                let mut watching = watching.clone();
                let upstream = upstream.clone();
                let open = counting.clone();
                open.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = watching.wait_for(|cut| *cut) => {}
                        }
                    }
                    // Dropping both ends closes them, as a dead network path or server would.
                    drop(inbound);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        ChaosProxy { addr, cut, open }
    }

    /// Cuts the database off; returns once no connection is left open (at most 30 s).
    async fn cut(&self) {
        self.cut.send_replace(true);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.open.load(Ordering::SeqCst) > 0 {
            assert!(
                Instant::now() < deadline,
                "proxied connections did not close"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn restore(&self) {
        self.cut.send_replace(false);
    }
}

/// Every dialect of the registry with its own task: (dialect, task id, captcha type). Each
/// reports a task of a family it takes (image where it can).
fn dialect_tasks() -> Vec<(Dialect, String, &'static str)> {
    DIALECTS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let family = d.some_family();
            let captcha_type = CaptchaType::ALL
                .into_iter()
                .find(|t| t.family() == family)
                .expect("every family has a type");
            (
                Dialect::Registered(d.name, family),
                (910_001 + i).to_string(),
                captcha_type.as_str(),
            )
        })
        .collect()
}

/// What each dialect answers while storage is unavailable: status and exact body, as its
/// registry entry states it.
fn shape_answer(dialect: Dialect) -> Answer {
    dialect.unavailable()
}

/// Whether an answer is the dialect's own success answer (the report was recorded), as its
/// registry entry and its fixtures in crates/verdict-http/tests/fixtures/<dialect>/ show it: an
/// error the dialect answers with HTTP 200 (anti-captcha's `errorId` 16, 2captcha's
/// `ERROR_WRONG_CAPTCHA_ID`) is not a success.
fn recorded(dialect: Dialect, answer: &Answer) -> bool {
    dialect.recorded(answer)
}

/// Polls `/readyz` until it answers `want` (at most 60 s; a bound, not a timing assertion).
async fn wait_ready(http: &reqwest::Client, node: &Node, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(a) = send(http.get(node.url("/readyz"))).await
            && a.status == want
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered {want} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Background report traffic on fresh tasks until stopped; returns every answer.
struct Load {
    stop: Arc<AtomicBool>,
    recorded: Arc<AtomicUsize>,
    handles: Vec<tokio::task::JoinHandle<Vec<(Dialect, Answer)>>>,
}

impl Load {
    fn start(http: &reqwest::Client, node: &Node, key: &str, tasks: Vec<String>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(0));
        let tasks = Arc::new(tasks);
        let handles = (0..6)
            .map(|worker| {
                let (http, base, key) = (http.clone(), node.base(), key.to_owned());
                let (stop, count, next, tasks) =
                    (stop.clone(), counter.clone(), next.clone(), tasks.clone());
                tokio::spawn(async move {
                    let dialect = [
                        Dialect::AntiCaptchaIncorrect,
                        Dialect::UCaptcha { invalid: true },
                        Dialect::Native { incorrect: true },
                    ][worker % 3];
                    let mut answers = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(task) = tasks.get(i) else { break };
                        let answer = send(dialect.request(&http, &base, &key, "alice", task))
                            .await
                            .expect("the node answers every request");
                        if recorded(dialect, &answer) {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        answers.push((dialect, answer));
                    }
                    answers
                })
            })
            .collect();
        Load {
            stop,
            recorded: counter,
            handles,
        }
    }

    /// Waits (bounded) until `n` reports were recorded.
    async fn until_recorded(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.recorded.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "the load recorded fewer than {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> Vec<(Dialect, Answer)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Vec::new();
        for h in self.handles {
            all.extend(h.await.unwrap());
        }
        all
    }
}

/// Every answer under load is a success or the dialect's unavailable shape; returns how many
/// were unavailable.
fn check_load(answers: &[(Dialect, Answer)]) -> usize {
    let mut unavailable = 0;
    for (dialect, answer) in answers {
        if *answer == shape_answer(*dialect) {
            unavailable += 1;
        } else {
            assert!(
                recorded(*dialect, answer),
                "{dialect:?} answered neither success nor its unavailable shape: {answer:?}"
            );
        }
    }
    unavailable
}

async fn every_dialect_answers_unavailable(
    http: &reqwest::Client,
    node: &Node,
    key: &str,
    tasks: &[(Dialect, String, &'static str)],
) {
    let requests = tasks.iter().map(|(dialect, task, _)| {
        let (dialect, req) = (
            *dialect,
            dialect.request(http, &node.base(), key, "alice", task),
        );
        async move { (dialect, send(req).await.expect("an answer")) }
    });
    for (dialect, answer) in futures_all(requests).await {
        assert_eq!(
            answer,
            shape_answer(dialect),
            "{dialect:?} during the outage"
        );
    }
    let ready = send(http.get(node.url("/readyz"))).await.unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);
    let health = send(http.get(node.url("/healthz"))).await.unwrap();
    assert_eq!(
        health.status, 200,
        "liveness does not depend on the database"
    );
}

async fn every_dialect_records_again(
    http: &reqwest::Client,
    node: &Node,
    key: &str,
    tasks: &[(Dialect, String, &'static str)],
) {
    for (dialect, task, _) in tasks {
        let answer = send(dialect.request(http, &node.base(), key, "alice", task))
            .await
            .unwrap();
        assert!(
            recorded(*dialect, &answer),
            "{dialect:?} after recovery: {answer:?}"
        );
        let view = admin_get(http, node, &format!("/v1/tasks/{task}")).await;
        assert!(
            view.json()["report"].is_object(),
            "{dialect:?}: {}",
            view.body
        );
    }
}

/// Runs futures concurrently on the runtime and collects their outputs in order.
async fn futures_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn setup(
    http: &reqwest::Client,
    node: &Node,
    load_tasks: usize,
) -> (String, Vec<(Dialect, String, &'static str)>, Vec<String>) {
    let (alice, key) = create_account(http, node, "alice").await;
    let tasks = dialect_tasks();
    let mut records: Vec<(String, &str, &str)> = tasks
        .iter()
        .map(|(_, id, t)| (id.clone(), *t, "0.002"))
        .collect();
    let load: Vec<String> = (0..load_tasks).map(|i| (500_000 + i).to_string()).collect();
    records.extend(load.iter().map(|id| (id.clone(), "recaptcha_v2", "0.001")));
    ingest(http, node, &records, alice).await;
    (key, tasks, load)
}

/// Checks the node's log: no panic, and the storage failure logged with its cause.
fn assert_logged_without_panic(node: &Node, cause: &str) {
    let log = node.log();
    assert!(
        !log.iter().any(|l| l.contains("panicked")),
        "the node panicked:\n{}",
        log.join("\n")
    );
    assert!(
        log.iter()
            .any(|l| l.contains("unavailable") && l.contains(cause)),
        "no storage failure naming {cause:?} in the log:\n{}",
        log.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_cut_off_under_load_gives_every_dialect_its_unavailable_answer_and_recovers_without_restart()
 {
    let db = PgSchema::create().await;
    let proxy = ChaosProxy::start(db.server_addr()).await;
    let mut node = Node::start(
        &db.url_via(&proxy.addr.to_string()),
        &[("VERDICT_POSTGRES__ACQUIRE_TIMEOUT", "2s")],
    );
    let http = client();
    let (key, tasks, load_tasks) = setup(&http, &node, 20_000).await;

    let load = Load::start(&http, &node, &key, load_tasks);
    load.until_recorded(30).await;
    proxy.cut().await;
    every_dialect_answers_unavailable(&http, &node, &key, &tasks).await;
    let answers = load.stop().await;
    assert!(check_load(&answers) > 0, "the load saw the outage");
    assert!(node.is_running());

    proxy.restore();
    wait_ready(&http, &node, 200).await;
    every_dialect_records_again(&http, &node, &key, &tasks).await;
    assert!(node.is_running(), "recovered in the same process");
    assert_logged_without_panic(&node, "connection");
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_locked_past_the_busy_timeout_gives_every_dialect_its_unavailable_answer_and_recovers()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let mut node = Node::start(&sqlite_url(&path), &[]);
    let http = client();
    let (key, tasks, load_tasks) = setup(&http, &node, 5_000).await;

    let load = Load::start(&http, &node, &key, load_tasks);
    load.until_recorded(30).await;
    // Another process takes the write lock and keeps it past verdict's 5 s busy timeout.
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.busy_timeout(Duration::from_secs(30)).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    every_dialect_answers_unavailable(&http, &node, &key, &tasks).await;
    let answers = load.stop().await;
    assert!(check_load(&answers) > 0, "the load saw the lock");
    assert!(node.is_running());

    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    wait_ready(&http, &node, 200).await;
    every_dialect_records_again(&http, &node, &key, &tasks).await;
    assert!(node.is_running(), "recovered in the same process");
    assert_logged_without_panic(&node, "database is locked");
}

/// A small tmpfs of its own (a full disk without filling the machine's), unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "verdict-test"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a small tmpfs failed: this test needs root (CI runs as root)"
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem has no space left.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last partial pages too.
        let small = [0u8; 512];
        while matches!(file.write(&small), Ok(n) if n > 0) {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_on_a_full_disk_gives_every_dialect_its_unavailable_answer_and_recovers() {
    let disk = SmallDisk::mount("32m");
    let path = disk.path().join("v.db");
    let mut node = Node::start(
        &sqlite_url(&path),
        // A small page cache, to keep the test's memory modest beside the 32 MiB disk.
        &[("VERDICT_SQLITE__CACHE_MIB", "8")],
    );
    let http = client();
    let (key, tasks, load_tasks) = setup(&http, &node, 2_000).await;

    // A reader holding a snapshot keeps the WAL from being rewound, so every commit must
    // append to it, and with the disk full that fails (SQLITE_FULL).
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    let filler = disk.fill();

    // Writes fail from the first commit that needs a new page of WAL: find it (bounded).
    let probe = Dialect::AntiCaptchaIncorrect;
    let mut failed = false;
    for task in &load_tasks {
        let answer = send(probe.request(&http, &node.base(), &key, "alice", task))
            .await
            .unwrap();
        if answer == shape_answer(probe) {
            failed = true;
            break;
        }
        assert!(recorded(probe, &answer), "{answer:?}");
    }
    assert!(failed, "no write failed on a full disk");
    every_dialect_answers_unavailable(&http, &node, &key, &tasks).await;
    assert!(node.is_running());

    std::fs::remove_file(filler).unwrap();
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    wait_ready(&http, &node, 200).await;
    every_dialect_records_again(&http, &node, &key, &tasks).await;
    assert!(node.is_running(), "recovered in the same process");
    assert_logged_without_panic(&node, "disk is full");
}
