//! Backups, restores and retention as an operator runs them: `verdict backup` as a process of
//! its own beside a `verdict serve` under load, `verdict restore` with each of its refusals and
//! an install a server then runs on, `verdict prune` and the server's own retention pass.

#[expect(
    dead_code,
    reason = "the multi-node tests use the rest of the shared harness"
)]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Dialect, Node, admin_get, admin_post, client, create_trusted_account, micros, send};

/// Runs `verdict <args>` on the SQLite database at `db`, with `env` besides; its output whether
/// it succeeded or not.
fn verdict(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(args)
        .env_clear()
        .env("VERDICT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("VERDICT_LOG", "warn")
        .envs(env.iter().copied())
        .current_dir(db.parent().unwrap())
        .stdin(Stdio::null())
        .output()
        .expect("run verdict")
}

/// `verdict <args>` that must succeed; its JSON output.
fn verdict_ok(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let out = verdict(db, args, env);
    assert!(
        out.status.success(),
        "verdict {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// `verdict <args>` that must fail; what it said on stderr.
fn verdict_refused(db: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = verdict(db, args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "verdict {args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn rfc3339_ago(ago: Duration) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let now = verdict_domain::Timestamp::from_millis(i64::try_from(ms).unwrap());
    now.saturating_sub(ago).to_rfc3339()
}

/// Ingests `(id, type)` tasks for `account`, completed `ago`, through the admin API.
async fn ingest(
    http: &reqwest::Client,
    node: &Node,
    account: i64,
    tasks: &[(String, &str)],
    ago: Duration,
) {
    let completed_at = rfc3339_ago(ago);
    for chunk in tasks.chunks(20_000) {
        let records: Vec<Value> = chunk
            .iter()
            .map(|(id, t)| {
                json!({ "id": id, "account": account, "type": t, "provider": "prov-a",
                        "answer": "KWG90", "cost": "0.002", "completed_at": completed_at })
            })
            .collect();
        let answer = admin_post(http, node, "/v1/tasks", &Value::Array(records)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.json()["inserted"], chunk.len(), "{}", answer.body);
    }
}

/// `(verdict, refund_micros)` of each report in the database at `db`, by task.
fn reports(db: &Path) -> BTreeMap<String, (String, Option<i64>)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.prepare("SELECT task_id, verdict, refund_micros FROM reports")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The refunds in the ledger of the database at `db`, by task.
fn refunds(db: &Path) -> BTreeMap<String, i64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.prepare("SELECT task_id, amount_micros FROM ledger_entries WHERE kind = 'refund'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn integrity(db: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// One client reporting its own tasks in one dialect, as fast as answers come, until told to
/// stop; every task whose report was answered with success goes into `acked`, in order.
fn report_steadily(
    http: reqwest::Client,
    base: String,
    dialect: Dialect,
    key: String,
    tasks: Vec<String>,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for task in tasks {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let answer = send(dialect.request(&http, &base, &key, "client", &task))
                .await
                .expect("an answer");
            assert!(
                dialect.recorded(&answer),
                "{dialect:?} on {task}: {answer:?}"
            );
            acked.lock().unwrap().push(task);
        }
    })
}

/// The load: four trusted clients, one dialect each (their refunds are never screened away).
const LOAD: [(Dialect, &str); 4] = [
    (Dialect::Native { incorrect: true }, "image"),
    (Dialect::AntiCaptchaIncorrect, "recaptcha_v2"),
    (Dialect::TwoCaptchaV2, "recaptcha_v2"),
    (Dialect::UCaptcha { invalid: true }, "image"),
];
const TASKS_PER_CLIENT: usize = 20_000;
/// Tasks nobody reports, so that the database has the bulk of a working one.
const FILLER: usize = 100_000;
/// Reports answered before the backup starts.
const ACKED_FIRST: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_holds_every_report_answered_before_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let no_limits = [
        ("VERDICT_LIMITS__PER_KEY__PER_SECOND", "0"),
        ("VERDICT_LIMITS__PER_ADDRESS__PER_SECOND", "0"),
    ];
    let node = Node::start(&sqlite_url(&db), &no_limits);
    let http = client();

    let mut clients = Vec::new();
    for (n, (dialect, captcha_type)) in LOAD.iter().enumerate() {
        let (id, key) = create_trusted_account(&http, &node, &format!("client-{n}")).await;
        // Integer ids: anti-captcha's dialect takes no others. One spare task per client, for
        // the server on the copy.
        let tasks: Vec<(String, &str)> = (0..=TASKS_PER_CLIENT)
            .map(|i| (((n + 1) * 1_000_000 + i).to_string(), *captcha_type))
            .collect();
        ingest(&http, &node, id, &tasks, Duration::ZERO).await;
        clients.push((id, key, *dialect, tasks));
    }
    let filler: Vec<(String, &str)> = (0..FILLER)
        .map(|i| ((9_000_000 + i).to_string(), "image"))
        .collect();
    ingest(&http, &node, clients[0].0, &filler, Duration::ZERO).await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load_began = Instant::now();
    let load: Vec<_> = clients
        .iter()
        .map(|(_, key, dialect, tasks)| {
            let ids = tasks[..TASKS_PER_CLIENT]
                .iter()
                .map(|(id, _)| id.clone())
                .collect();
            report_steadily(
                http.clone(),
                node.base(),
                *dialect,
                key.clone(),
                ids,
                acked.clone(),
                stop.clone(),
            )
        })
        .collect();
    while acked.lock().unwrap().len() < ACKED_FIRST {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Everything answered before the backup process starts must be in the copy.
    let before: Vec<String> = acked.lock().unwrap().clone();
    let rate_before = before.len() as f64 / load_began.elapsed().as_secs_f64();
    let copy = dir.path().join("copy.db");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (db, copy) = (db.clone(), copy.clone());
        move || verdict(&db, &["backup", copy.to_str().unwrap()], &[])
    })
    .await
    .unwrap();
    let wall = started.elapsed();
    let during = acked.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::SeqCst);
    for client in load {
        client.await.unwrap();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        during > 0,
        "reports kept being answered while the backup ran"
    );
    eprintln!(
        "backup under load: {} bytes, copy {:.3} s, check {:.3} s, process {:.3} s; {} reports \
         answered before it ({rate_before:.0}/s), {during} while it ran ({:.0}/s)",
        summary["bytes"],
        summary["copy_seconds"].as_f64().unwrap(),
        summary["check_seconds"].as_f64().unwrap(),
        wall.as_secs_f64(),
        before.len(),
        during as f64 / wall.as_secs_f64(),
    );

    #[cfg(unix)]
    assert_eq!((mode(&copy), mode(&beside(&copy, ".key"))), (0o600, 0o600));
    assert_eq!(
        std::fs::read(beside(&copy, ".key")).unwrap(),
        std::fs::read(beside(&db, ".key")).unwrap(),
        "the key secret travels with the copy"
    );
    assert_eq!(integrity(&copy), "ok");
    let (copied, live) = (reports(&copy), reports(&db));
    let copied_refunds = refunds(&copy);
    for task in &before {
        let stored = copied
            .get(task)
            .unwrap_or_else(|| panic!("report on {task} answered before the backup, not in it"));
        assert_eq!(stored, &live[task], "{task}");
        assert_eq!(
            stored,
            &("accepted".to_owned(), Some(2_000)),
            "{task}: a trusted client's report is upheld and refunded"
        );
        assert_eq!(copied_refunds.get(task), Some(&2_000), "{task}: its refund");
    }
    drop(node);

    // The copy with its key file is a working database: a server started on it opens the
    // clients' accounts with their keys.
    let restored = Node::start(&sqlite_url(&copy), &[]);
    let (id, key, dialect, tasks) = &clients[0];
    let view = admin_get(&http, &restored, &format!("/v1/accounts/{id}")).await;
    let balance: i64 = copied
        .iter()
        .filter(|(task, _)| tasks.iter().any(|(t, _)| t == *task))
        .map(|(_, (_, refund))| refund.unwrap_or(0))
        .sum();
    assert_eq!(micros(&view.json()["balance"]), balance, "{}", view.body);
    let spare = &tasks[TASKS_PER_CLIENT].0;
    let answer = send(dialect.request(&http, &restored.base(), key, "client", spare))
        .await
        .unwrap();
    assert!(dialect.recorded(&answer), "{answer:?}");
}

/// A database with one account (`alice`), a refunded report and a spare task, served once and
/// stopped, and a backup of it at `backup`. Returns alice's id and key.
async fn seeded(db: &Path, backup: &Path) -> (i64, String) {
    let node = Node::start(&sqlite_url(db), &[]);
    let http = client();
    let (id, key) = create_trusted_account(&http, &node, "alice").await;
    let tasks = [("101".to_owned(), "image"), ("102".to_owned(), "image")];
    ingest(&http, &node, id, &tasks, Duration::ZERO).await;
    let dialect = Dialect::Native { incorrect: true };
    let answer = send(dialect.request(&http, &node.base(), &key, "alice", "101"))
        .await
        .unwrap();
    assert!(dialect.recorded(&answer), "{answer:?}");
    drop(node);
    verdict_ok(db, &["backup", backup.to_str().unwrap()], &[]);
    (id, key)
}

/// Another database, with an account of its own (`bob`), served once and stopped.
async fn other_database(db: &Path) {
    let node = Node::start(&sqlite_url(db), &[]);
    create_trusted_account(&client(), &node, "bob").await;
}

fn fingerprint_of_files(paths: &[&Path]) -> Vec<Option<Vec<u8>>> {
    paths.iter().map(|p| std::fs::read(p).ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_damaged_copy_a_foreign_file_a_mismatched_key_and_a_database_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let (source, good) = (dir.path().join("source.db"), dir.path().join("good.db"));
    seeded(&source, &good).await;
    let target = dir.path().join("target.db");
    other_database(&target).await;
    let target_files = [target.as_path(), &beside(&target, ".key")];
    let untouched = fingerprint_of_files(&target_files);
    let restore = |file: &Path, env: &[(&str, &str)]| {
        let said = verdict_refused(&target, &["restore", file.to_str().unwrap()], env);
        assert_eq!(
            fingerprint_of_files(&target_files),
            untouched,
            "a refused restore leaves the database and its key as they were"
        );
        assert!(
            !beside(&target, ".restoring").exists(),
            "nothing left beside it"
        );
        said
    };
    let with_key = |name: &str, bytes: &[u8], key: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::write(beside(&path, ".key"), key).unwrap();
        path
    };
    let good_bytes = std::fs::read(&good).unwrap();
    let good_key = std::fs::read(beside(&good, ".key")).unwrap();

    // Damaged: a page in the middle zeroed (SQLite either lists what its integrity check found
    // or stops at the damage, depending on the page).
    let page = 4096;
    let mut damaged = good_bytes.clone();
    let middle = damaged.len() / page / 2;
    assert!(middle > 1);
    damaged[middle * page..(middle + 1) * page].fill(0);
    let said = restore(&with_key("damaged.db", &damaged, &good_key), &[]);
    assert!(said.contains("is damaged"), "{said}");

    // Not a SQLite file, and a SQLite database that is not verdict's.
    let said = restore(&with_key("notes.txt", &[b'x'; 8192], &good_key), &[]);
    assert!(said.contains("file is not a database"), "{said}");
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hello')")
        .unwrap();
    let said = restore(&foreign, &[]);
    assert!(said.contains("not a verdict database"), "{said}");

    // Written by a newer verdict: a migration this build does not know.
    let newer = with_key("newer.db", &good_bytes, &good_key);
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ('29990101000000_future', 0)",
            [],
        )
        .unwrap();
    let said = restore(&newer, &[]);
    assert!(said.contains("newer verdict"), "{said}");

    // A key secret other than the one the copy's keys were hashed under: beside the copy, or
    // configured.
    let other_secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let mismatched = with_key("mismatched.db", &good_bytes, other_secret.as_bytes());
    let said = restore(&mismatched, &[]);
    assert!(said.contains("is not the one the API keys"), "{said}");
    let said = restore(&good, &[("VERDICT_KEY_SECRET", other_secret)]);
    assert!(said.contains("VERDICT_KEY_SECRET"), "{said}");
    let keyless = dir.path().join("keyless.db");
    std::fs::write(&keyless, &good_bytes).unwrap();
    std::fs::remove_file(beside(&target, ".key")).unwrap();
    let said = verdict_refused(&target, &["restore", keyless.to_str().unwrap()], &[]);
    assert!(said.contains("there is none to use"), "{said}");
    std::fs::write(beside(&target, ".key"), untouched[1].as_ref().unwrap()).unwrap();

    // In use: a server holds the database.
    let node = Node::start(&sqlite_url(&target), &[]);
    let said = verdict_refused(&target, &["restore", good.to_str().unwrap()], &[]);
    assert!(said.contains("is in use"), "{said}");
    let health = send(client().get(node.url("/readyz"))).await.unwrap();
    assert_eq!(health.status, 200, "the server kept serving");
    let bob = admin_get(&client(), &node, "/v1/accounts/1").await;
    assert_eq!(bob.json()["name"], "bob", "{}", bob.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_copy_serves_its_accounts_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (source, good) = (dir.path().join("source.db"), dir.path().join("good.db"));
    let (alice, key) = seeded(&source, &good).await;
    let target = dir.path().join("target.db");
    other_database(&target).await;
    assert_ne!(
        std::fs::read(beside(&target, ".key")).unwrap(),
        std::fs::read(beside(&good, ".key")).unwrap(),
        "each database began with a secret of its own"
    );

    let done = verdict_ok(&target, &["restore", good.to_str().unwrap()], &[]);
    assert_eq!(done["migrations_to_apply"], 0, "{done}");
    assert_eq!(
        std::fs::read(beside(&target, ".key")).unwrap(),
        std::fs::read(beside(&good, ".key")).unwrap(),
        "the copy's key secret is installed with it"
    );
    #[cfg(unix)]
    assert_eq!(
        (mode(&target), mode(&beside(&target, ".key"))),
        (0o600, 0o600)
    );

    let node = Node::start(&sqlite_url(&target), &[]);
    let http = client();
    let view = admin_get(&http, &node, &format!("/v1/accounts/{alice}")).await;
    assert_eq!(view.json()["name"], "alice", "{}", view.body);
    assert_eq!(micros(&view.json()["balance"]), 2_000, "{}", view.body);
    let task = admin_get(&http, &node, "/v1/tasks/101").await;
    assert_eq!(
        micros(&task.json()["report"]["refund"]),
        2_000,
        "{}",
        task.body
    );
    let dialect = Dialect::Native { incorrect: true };
    let answer = send(dialect.request(&http, &node.base(), &key, "alice", "102"))
        .await
        .unwrap();
    assert!(
        dialect.recorded(&answer),
        "alice's key opens her account: {answer:?}"
    );
}

#[test]
fn backup_and_restore_on_postgresql_point_to_its_own_tools() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["backup", "restore"] {
        let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
            .args([command, "copy.db"])
            .env_clear()
            .env(
                "VERDICT_DATABASE_URL",
                "postgres://verdict:secret@127.0.0.1:1/verdict",
            )
            .current_dir(dir.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            said.contains("pg_dump") && said.contains("pg_basebackup"),
            "{said}"
        );
        assert!(
            !said.contains("secret@"),
            "no password in the message: {said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_old_tasks_in_batches_and_keeps_those_money_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let long_ago = Duration::from_secs(100 * 86_400);
    // Report windows long enough to report tasks completed 100 days ago, this once.
    let node = Node::start(
        &sqlite_url(&db),
        &[("VERDICT_JUDGING__WINDOWS__IMAGE", "200d")],
    );
    let http = client();
    let (alice, key) = create_trusted_account(&http, &node, "alice").await;
    let old: Vec<(String, &str)> = (1..=9).map(|i| (format!("{i}"), "image")).collect();
    ingest(&http, &node, alice, &old, long_ago).await;
    ingest(
        &http,
        &node,
        alice,
        &[("100".into(), "image")],
        Duration::ZERO,
    )
    .await;
    for (task, incorrect) in [("1", true), ("2", false)] {
        let dialect = Dialect::Native { incorrect };
        let answer = send(dialect.request(&http, &node.base(), &key, "alice", task))
            .await
            .unwrap();
        assert!(dialect.recorded(&answer), "{answer:?}");
    }
    drop(node);

    let said = verdict_refused(&db, &["prune", "--older-than", "12h"], &[]);
    assert!(said.contains("report window"), "{said}");
    let pruned = verdict_ok(&db, &["prune", "--older-than", "90d", "--batch", "2"], &[]);
    assert_eq!(pruned["batches"], 5, "{pruned}");
    assert_eq!(pruned["examined"], 9, "{pruned}");
    let deleted = &pruned["deleted"];
    assert_eq!(
        (&deleted["tasks"], &deleted["reports"], &deleted["rechecks"]),
        (&json!(8), &json!(1), &json!(0)),
        "{pruned}"
    );
    // The buckets the old tasks' ingest exposed their solver in, 100 days back: past their age.
    assert!(
        deleted["evidence_buckets"].as_u64().unwrap() > 0,
        "{pruned}"
    );
    assert_eq!(
        pruned["kept"],
        json!({ "money": 1, "open_rechecks": 0 }),
        "{pruned}"
    );
    let kept = verdict_ok(&db, &["tasks", "show", "1", "--json"], &[]);
    assert_eq!(micros(&kept["report"]["refund"]), 2_000, "{kept}");
    verdict_ok(&db, &["tasks", "show", "100", "--json"], &[]);
    for gone in ["2", "9"] {
        let said = verdict_refused(&db, &["tasks", "show", gone], &[]);
        assert!(said.contains("No such task."), "{said}");
    }
    let ledger = verdict_ok(
        &db,
        &["accounts", "ledger", &alice.to_string(), "--json"],
        &[],
    );
    assert_eq!(micros(&ledger["balance"]), 2_000, "{ledger}");

    // The server prunes by itself once retention is configured.
    let more: Vec<(String, &str)> = (11..=13).map(|i| (format!("{i}"), "image")).collect();
    let node = Node::start(&sqlite_url(&db), &[]);
    ingest(&client(), &node, alice, &more, long_ago).await;
    drop(node);
    let node = Node::start(
        &sqlite_url(&db),
        &[
            ("VERDICT_RETENTION__TASKS", "90d"),
            ("VERDICT_RETENTION__EVERY", "1s"),
        ],
    );
    let line = node.wait_for("old tasks pruned");
    assert!(line.contains("tasks=3"), "{line}");
    assert!(line.contains("kept_money=1"), "{line}");
    let gone = admin_get(&client(), &node, "/v1/tasks/12").await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    let kept = admin_get(&client(), &node, "/v1/tasks/1").await;
    assert_eq!(kept.status, 200, "{}", kept.body);
}
