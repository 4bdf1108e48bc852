//! Request/response fixtures per dialect, compared byte for byte.
//!
//! Format of `tests/fixtures/<dialect>/<case>.http` (each file runs on a fresh world):
//!
//! ```text
//! # what the case shows
//! POST /path                 <- request line
//! Header: value              <- request headers
//!                            <- blank line
//! {"body": 1}                <- request body (may be empty)
//! >>>
//! 200                        <- expected status
//! Content-Type: application/json   <- expected headers (only those listed are checked)
//!
//! {"exact":"bytes"}          <- expected body, byte for byte
//! ===                        <- next exchange, same world
//! …
//! @@@                        <- optional checks on the outcome, one per line:
//! balance alice 0.001           the account's balance (also checked against its ledger)
//! verdict 1001 accepted incorrect_accepted
//! report 1003 none              no report recorded for the task
//! ```

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use verdict_domain::{AccountId, Amount, TaskId};

use verdict_http::dialect::DIALECTS;

use crate::support::{ALICE, BOB, TestApp};

struct Exchange {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
    expect_headers: Vec<(String, String)>,
    expect_body: String,
}

struct Fixture {
    exchanges: Vec<Exchange>,
    checks: Vec<String>,
}

fn parse_head_and_body(block: &str) -> (String, Vec<(String, String)>, String) {
    let (head, body) = block.split_once("\n\n").unwrap_or((block, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .map(|l| {
            let (name, value) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {l:?}"));
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    (
        first,
        headers,
        body.strip_suffix('\n').unwrap_or(body).to_owned(),
    )
}

fn parse(text: &str) -> Fixture {
    let text: String = text
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let (exchanges_text, checks) = match text.split_once("@@@\n") {
        Some((e, c)) => (
            e.to_owned(),
            c.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        None => (text.clone(), Vec::new()),
    };
    let exchanges = exchanges_text
        .split("===\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let (request, response) = block
                .split_once(">>>\n")
                .expect("a '>>>' line between request and response");
            let (line, headers, body) = parse_head_and_body(request);
            let (method, path) = line.split_once(' ').expect("request line: METHOD PATH");
            let (status, expect_headers, expect_body) = parse_head_and_body(response);
            Exchange {
                method: method.to_owned(),
                path: path.to_owned(),
                headers,
                body,
                status: status.trim().parse().expect("status line"),
                expect_headers,
                expect_body,
            }
        })
        .collect();
    Fixture { exchanges, checks }
}

fn account(name: &str) -> AccountId {
    match name {
        "alice" => ALICE,
        "bob" => BOB,
        other => panic!("unknown account {other} in a check"),
    }
}

async fn check(app: &TestApp, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["balance", who, amount] => {
            let got = app.balance(account(who)).await;
            let want = Amount::parse(amount).expect("amount in check");
            (got == want)
                .then_some(())
                .ok_or(format!("balance {who}: got {got}, want {want}"))
        }
        ["verdict", task, verdict, reason] => {
            let found = app
                .engine
                .task(&TaskId::parse(task).unwrap())
                .await
                .unwrap();
            match found.and_then(|(_, r)| r) {
                Some(r) if r.verdict.as_str() == *verdict && r.reason.code() == *reason => Ok(()),
                Some(r) => Err(format!(
                    "task {task}: verdict {} {}, want {verdict} {reason}",
                    r.verdict.as_str(),
                    r.reason
                )),
                None => Err(format!("task {task}: no report, want {verdict}")),
            }
        }
        ["report", task, "none"] => {
            let found = app
                .engine
                .task(&TaskId::parse(task).unwrap())
                .await
                .unwrap();
            match found.and_then(|(_, r)| r) {
                None => Ok(()),
                Some(r) => Err(format!(
                    "task {task}: unexpected report {} {}",
                    r.verdict.as_str(),
                    r.reason
                )),
            }
        }
        _ => panic!("unknown check {line:?}"),
    }
}

async fn run_file(path: &Path) -> Vec<String> {
    let fixture = parse(&std::fs::read_to_string(path).expect("read fixture"));
    assert!(
        !fixture.exchanges.is_empty(),
        "{} has no exchanges",
        path.display()
    );
    let app = TestApp::new().await;
    let mut failures = Vec::new();
    for (i, ex) in fixture.exchanges.iter().enumerate() {
        let mut request = Request::builder()
            .method(ex.method.as_str())
            .uri(ex.path.as_str());
        for (name, value) in &ex.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let reply = app
            .send(request.body(Body::from(ex.body.clone())).unwrap())
            .await;
        let at = format!("{} exchange {}", path.display(), i + 1);
        if reply.status.as_u16() != ex.status {
            failures.push(format!(
                "{at}: status {} want {}; body {}",
                reply.status,
                ex.status,
                reply.text()
            ));
        }
        for (name, value) in &ex.expect_headers {
            let got = reply
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok());
            if got != Some(value.as_str()) {
                failures.push(format!("{at}: header {name}: {got:?} want {value:?}"));
            }
        }
        if reply.body != ex.expect_body.as_bytes() {
            failures.push(format!(
                "{at}: body\n   got: {}\n  want: {}",
                reply.text(),
                ex.expect_body
            ));
        }
    }
    for line in &fixture.checks {
        if let Err(e) = check(&app, line).await {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    failures
}

/// Runs every fixture of a dialect; returns the failures.
async fn run_dialect(dialect: &str) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dialect);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![format!("{}: no fixtures", dir.display())];
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "http"))
        .collect();
    files.sort();
    if files.len() < 5 {
        return vec![format!("{dialect} has only {} fixtures", files.len())];
    }
    let mut failures = Vec::new();
    for file in &files {
        failures.extend(run_file(file).await);
    }
    failures
}

/// Every dialect of the registry answers its fixtures, in `tests/fixtures/<name>/` (the native
/// API's reports are tested in `native.rs` and `spec.rs` instead). The dialects run side by side,
/// each file on a fresh world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_of_the_registry_answers_its_fixtures() {
    let dialects: Vec<&str> = DIALECTS
        .iter()
        .map(|d| d.name)
        .filter(|name| *name != verdict_http::native::NAME)
        .collect();
    assert!(dialects.len() >= 10, "{dialects:?}");
    let runs = dialects.iter().map(|name| async move {
        let failures = run_dialect(name).await;
        (*name, failures)
    });
    let mut failures = Vec::new();
    for (name, found) in futures_util::future::join_all(runs).await {
        failures.extend(found.into_iter().map(|f| format!("[{name}] {f}")));
    }
    assert!(
        failures.is_empty(),
        "{} fixture failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_directory_belongs_to_a_dialect_of_the_registry() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            verdict_http::dialect::registry::find(&name).is_some(),
            "tests/fixtures/{name} is no dialect of the registry"
        );
    }
}

#[tokio::test]
async fn the_fixture_format_catches_a_wrong_body() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.http");
    std::fs::write(
        &file,
        "# deliberately wrong\nPOST /v1/report/1001\nAPI_KEY: a11ce5f0d3c8b92e47a1f6e03d9c2b71\n\n>>>\n200\n\n{\"message\": \"wrong\"}\n",
    )
    .unwrap();
    let failures = run_file(&file).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
}
