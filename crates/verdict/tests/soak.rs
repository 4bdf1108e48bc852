//! A bounded soak: `verdict serve` on SQLite for a while at a fixed rate of reports through
//! every dialect of the registry, ingest running beside them, while a swarm of slow clients
//! (a header byte a second, never finishing) and idle connections keeps coming back. Every
//! report gets its dialect's success answer, no request fails, the slow clients are cut off at
//! the header deadline, and the server's memory is flat once warm.
//!
//! 45 s by default (in `.ci/run`); `VERDICT_SOAK_SECS=600 cargo test --release -p verdict
//! --test soak -- --nocapture` for the documented long run (docs/security.md).

#[expect(
    dead_code,
    reason = "the multi-node and outage tests use the rest of the shared harness"
)]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Dialect, Node};
use tokio::io::AsyncWriteExt;
use verdict_domain::Family;
use verdict_http::dialect::DIALECTS;

/// Reports a second, open loop: each is sent on its tick whether or not earlier ones returned.
const RATE: u64 = 100;
/// Connections of the slow-client swarm, each replaced as soon as the server drops it.
const SLOW_CLIENTS: usize = 60;
const IDLE_CLIENTS: usize = 40;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The dialects the soak reports through, with the family of the tasks each gets.
fn dialects() -> Vec<(&'static str, Family)> {
    DIALECTS
        .iter()
        .map(|d| {
            let family = if d.families.allows(Family::Image) {
                Family::Image
            } else {
                d.some_family()
            };
            (d.name, family)
        })
        .collect()
}

fn captcha_type(family: Family) -> &'static str {
    match family {
        Family::Image => "image",
        Family::Recaptcha => "recaptcha_v2",
        other => other.as_str(),
    }
}

/// One slow client: connects, sends a header byte a second until the server hangs up, counts
/// the hang-up, starts again.
async fn slow_client(addr: String, stop: Arc<std::sync::atomic::AtomicBool>, cut: Arc<AtomicU64>) {
    let header = b"POST /reportIncorrectImageCaptcha HTTP/1.1\r\nHost: verdict\r\nX-Slow: ";
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        for byte in header.iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if stream.write_all(&[*byte]).await.is_err() {
                cut.fetch_add(1, Ordering::Relaxed);
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_rate_with_a_slow_client_swarm_keeps_memory_flat_and_answers_every_report() {
    let secs: u64 = std::env::var("VERDICT_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(45);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("soak.db").display());
    let node: Node = Node::start(
        &url,
        &[
            ("VERDICT_LOG", "warn,verdict=info"),
            ("VERDICT_CONNECTIONS__HEADER_TIMEOUT", "3s"),
        ],
    );
    let http = support::client();
    let names = dialects();
    // One trusted account per dialect, so that reports are judged without the screen's
    // probation cap getting in the way of "every report succeeds".
    let mut accounts = Vec::new();
    for (name, _) in &names {
        accounts.push(support::create_trusted_account(&http, &node, &format!("soak-{name}")).await);
    }

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cut = Arc::new(AtomicU64::new(0));
    let mut swarm = Vec::new();
    for _ in 0..SLOW_CLIENTS {
        swarm.push(tokio::spawn(slow_client(
            node.addr.clone(),
            stop.clone(),
            cut.clone(),
        )));
    }
    let mut idle = Vec::new();
    for _ in 0..IDLE_CLIENTS {
        idle.push(tokio::net::TcpStream::connect(&node.addr).await.unwrap());
    }

    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
    let mut next_task = 10_000_000u64;
    let mut batch: Vec<(u64, usize)> = Vec::new();
    let mut second = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        // Each second: ingest the next second's tasks (one per report), sample memory.
        if batch.is_empty() {
            let mut records = Vec::new();
            for n in 0..RATE {
                let d = usize::try_from(n).unwrap() % names.len();
                next_task += 1;
                batch.push((next_task, d));
                records.push(json!({
                    "id": next_task.to_string(), "account": accounts[d].0,
                    "type": captcha_type(names[d].1), "provider": "prov-a", "worker": "w-1",
                    "answer": "QX7PL", "cost": "0.001", "completed_at": support::now_rfc3339(),
                }));
            }
            let answer =
                support::admin_post(&http, &node, "/v1/tasks", &Value::Array(records)).await;
            assert_eq!(answer.status, 200, "ingest: {}", answer.body);
            samples.push((started.elapsed().as_secs_f64(), rss_kib(node.pid())));
            second += 1;
        }
        tick.tick().await;
        let (task, d) = batch.remove(0);
        let (name, family) = names[d];
        let dialect = Dialect::Registered(name, family);
        let (_, key) = &accounts[d];
        let request = dialect.request(
            &http,
            &node.base(),
            key,
            &format!("soak-{name}"),
            &task.to_string(),
        );
        let failed = failed.clone();
        sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            match support::send(request).await {
                Ok(answer) if dialect.recorded(&answer) => {}
                Ok(answer) => failed
                    .lock()
                    .unwrap()
                    .push(format!("{name}: {} {}", answer.status, answer.body)),
                Err(e) => failed.lock().unwrap().push(format!("{name}: {e}")),
            }
        });
    }
    // Let the last reports come back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for client in swarm {
        client.abort();
    }
    drop(idle);

    let failed = failed.lock().unwrap().clone();
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        failed.is_empty(),
        "{} of {sent} reports failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(
        sent >= RATE * secs * 9 / 10,
        "the load was applied: {sent} reports"
    );
    // The swarm was cut off at the header deadline, again and again.
    let cut = cut.load(Ordering::Relaxed);
    assert!(
        cut >= SLOW_CLIENTS as u64 * (secs / 10),
        "slow clients disconnected {cut} times in {secs} s"
    );
    // Memory once warm (after the first third) grows by no more than a tenth plus a little.
    let warm: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= secs as f64 / 3.0)
        .map(|(_, kib)| *kib)
        .collect();
    let (first, last) = warm.split_at(warm.len() / 2);
    let (early, late) = (
        first.iter().copied().max().unwrap_or(0),
        last.iter().copied().max().unwrap_or(0),
    );
    assert!(
        late <= early + early / 10 + 4 * 1024,
        "memory grew while warm: {early} KiB then {late} KiB (samples {samples:?})"
    );
    // The server still answers.
    let health = support::send(http.get(node.url("/readyz"))).await.unwrap();
    assert_eq!(health.status, 200);
    let balance =
        support::admin_get(&http, &node, &format!("/v1/accounts/{}", accounts[0].0)).await;
    assert_eq!(balance.status, 200);
    eprintln!(
        "soak: {secs} s, {sent} reports at {RATE}/s through {} dialects, {second} ingests, \
         slow clients cut {cut} times, RSS warm {early} KiB -> {late} KiB, max {} KiB",
        names.len(),
        samples.iter().map(|(_, k)| *k).max().unwrap_or(0)
    );
}
