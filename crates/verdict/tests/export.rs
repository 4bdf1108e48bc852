//! `verdict export corrections` as an operator runs it, on a SQLite database filled with SQL:
//! what it writes, that a failed export leaves no file, and that its memory does not grow with
//! the dataset (a million rows in the memory of a hundred thousand; docs/corrections.md has the
//! figures and the command).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// 2026-01-01T00:00:00Z: the generated reports arrive one a second from here.
const T0_MS: i64 = 1_767_225_600_000;

fn verdict(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verdict"));
    cmd.env_clear()
        .env("VERDICT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("VERDICT_LOG", "warn")
        .current_dir(db.parent().unwrap());
    cmd
}

/// A database whose account 1 has `rows` image and audio tasks, each reported with a
/// correction one second after the one before, in a mix of verdicts and re-check solves; and
/// `plain` more reports without a correction, which are no labels (`data/corrections.sql`,
/// which docs/bench/corrections-rss.sh loads too).
fn database(dir: &Path, rows: u64, plain: u64) -> PathBuf {
    let db = dir.join("verdict.db");
    let created = verdict(&db)
        .args(["accounts", "create", "--name", "bulk"])
        .output()
        .expect("run verdict accounts create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let conn = rusqlite::Connection::open(&db).expect("open the database");
    conn.execute_batch("PRAGMA synchronous = OFF")
        .expect("a bulk load needs no fsync");
    let fill = include_str!("data/corrections.sql")
        .replace("{all}", &(rows + plain).to_string())
        .replace("{rows}", &rows.to_string())
        .replace("{t0}", &T0_MS.to_string());
    conn.execute_batch(&fill).expect("fill the database");
    db
}

fn rfc3339(ms: i64) -> String {
    verdict_domain::Timestamp::from_millis(ms).to_rfc3339()
}

#[test]
fn the_export_writes_every_correction_to_a_file_that_appears_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), 1_203, 40);
    let out = dir.path().join("corrections.csv");
    let run = verdict(&db)
        .args(["export", "corrections", "--format", "csv", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stdout.is_empty(), "the rows went to the file");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        verdict_http::native::corrections::CSV_COLUMNS
    );
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(
        records.len(),
        1_203,
        "the reports without a correction are left out"
    );
    let tasks: Vec<&str> = records.iter().map(|r| &r[0]).collect();
    let mut sorted = tasks.clone();
    sorted.sort_unstable();
    assert_eq!(tasks, sorted, "oldest first");
    assert_eq!(&records[7][4], "a,\"b\"", "quoted and read back whole");
    assert_eq!(
        (&records[3][9], &records[3][11]),
        ("c3", "corroborated"),
        "a re-check that agreed with the correction"
    );
    assert_eq!((&records[4][9], &records[4][11]), ("A4", "contradicted"));
    assert_eq!((&records[5][9], &records[5][11]), ("", "unverified"));
    assert!(!dir.path().join("corrections.csv.partial").exists());

    // JSON Lines to standard output, filtered by type and time.
    let since = rfc3339(T0_MS + 100_000);
    let until = rfc3339(T0_MS + 200_000);
    let run = verdict(&db)
        .args([
            "export",
            "corrections",
            "--type",
            "audio",
            "--since",
            &since,
        ])
        .args(["--until", &until])
        .output()
        .unwrap();
    assert!(run.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tasks: Vec<&str> = rows.iter().map(|r| r["task"].as_str().unwrap()).collect();
    assert_eq!(
        tasks,
        (10..20)
            .map(|n| format!("k{:07}", n * 10))
            .collect::<Vec<_>>()
    );

    // A refused filter fails before anything is written; the file from before stays.
    let bad = dir.path().join("bad.jsonl");
    let run = verdict(&db)
        .args(["export", "corrections", "--since", "yesterday", "--output"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("since"));
    assert!(!bad.exists() && !dir.path().join("bad.jsonl.partial").exists());
}

/// Rows of the larger export: 200,000 in the suite, or `VERDICT_EXPORT_ROWS` (the documented
/// run: `VERDICT_EXPORT_ROWS=1000000 cargo test -p verdict --test export -- --nocapture
/// --test-threads=1`, docs/corrections.md). The smaller export is a tenth of it.
fn rows() -> u64 {
    std::env::var("VERDICT_EXPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// Peak resident memory (VmHWM, KiB) of a running process.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the exporting process is running");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// Runs the export of `expected` rows to a pipe read here line by line, and reads the
/// exporter's peak resident memory while a quarter of the rows (at most 20,000) are still to
/// come: more than the pipe (64 KiB), the exporter's write buffer (64 KiB) and a page of
/// encoded rows together hold, so the exporter is certainly alive then, with every earlier row
/// behind it.
fn export_peak_kib(db: &Path, expected: u64, args: &[&str]) -> u64 {
    let tail = (expected / 4).min(20_000);
    let mut child = verdict(db)
        .args(["export", "corrections"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the export");
    let mut out = BufReader::with_capacity(1 << 16, child.stdout.take().unwrap());
    let mut line = Vec::new();
    let mut rows = 0u64;
    let mut peak = None;
    loop {
        line.clear();
        if out.read_until(b'\n', &mut line).expect("read the export") == 0 {
            break;
        }
        rows += 1;
        if rows == expected - tail {
            peak = Some(peak_kib(child.id()));
        }
    }
    let done = child.wait_with_output().expect("the export ends");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(rows, expected, "{args:?}");
    peak.expect("VmHWM read while the export ran")
}

/// The export reads, encodes and writes a page at a time, so ten times the rows take no more
/// memory. Reading every row first, or buffering the output, would add about 400 bytes a row:
/// some 70 MiB between the two exports of the suite, 350 MiB in the documented run.
#[test]
fn ten_times_the_corrections_export_in_the_same_memory() {
    let large = rows();
    let small = large / 10;
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), large, 0);
    // The first tenth by time, then all of them, through the same path.
    let until = rfc3339(T0_MS + small as i64 * 1000);
    let small_kib = export_peak_kib(&db, small, &["--until", &until]);
    let large_kib = export_peak_kib(&db, large, &[]);
    eprintln!(
        "verdict export corrections: peak RSS {small_kib} KiB for {small} rows, \
         {large_kib} KiB for {large} rows"
    );
    assert!(
        large_kib <= small_kib + 8 * 1024,
        "{large} rows took {large_kib} KiB, {small} rows {small_kib} KiB: memory grows with the dataset"
    );
}

/// `GET /v1/corrections` streams the same way: `verdict serve`'s peak memory after serving ten
/// times the rows is what it was after the smaller export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_export_of_ten_times_the_corrections_takes_the_same_memory() {
    const ADMIN: &str = "test-admin-token-0123456789";
    let large = rows();
    let small = large / 10;
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), large, 0);
    let mut server = verdict(&db)
        .arg("serve")
        .env("VERDICT_LISTEN", "127.0.0.1:0")
        .env("VERDICT_ADMIN_TOKEN", ADMIN)
        .env("VERDICT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn verdict serve");
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = log
            .next()
            .expect("verdict serve logs that it serves")
            .unwrap();
        if line.contains("verdict serving") {
            break line
                .split("addr=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
        }
    };
    // Keep draining the log so that the server never blocks on it.
    std::thread::spawn(move || log.for_each(drop));
    let client = reqwest::Client::new();
    let fetch = |query: String| {
        let client = client.clone();
        let url = format!("http://{addr}/v1/corrections{query}");
        async move {
            let mut response = client.get(url).bearer_auth(ADMIN).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let mut rows = 0u64;
            while let Some(chunk) = response.chunk().await.expect("the body arrives whole") {
                rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            }
            rows
        }
    };
    let until = rfc3339(T0_MS + small as i64 * 1000);
    assert_eq!(fetch(format!("?until={until}")).await, small);
    let small_kib = peak_kib(server.id());
    assert_eq!(fetch(String::new()).await, large);
    let large_kib = peak_kib(server.id());
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!(
        "GET /v1/corrections: verdict serve's peak RSS {small_kib} KiB after {small} rows, \
         {large_kib} KiB after {large} rows"
    );
    assert!(
        large_kib <= small_kib + 8 * 1024,
        "serving {large} rows took {large_kib} KiB, {small} rows {small_kib} KiB: memory grows with the dataset"
    );
}
