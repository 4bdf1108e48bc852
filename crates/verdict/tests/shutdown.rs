//! SIGTERM finishes in-flight requests (README): `verdict serve` gets SIGTERM while a task
//! ingest is half sent, stops taking connections, answers that request in full once its body
//! has arrived, keeps what it stored, and exits 0.

#[expect(
    dead_code,
    reason = "the multi-node and outage tests use the rest of the shared harness"
)]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{ADMIN, Node, client, create_account, now_rfc3339};

/// Tasks in the ingest that is in flight when SIGTERM arrives.
const TASKS: usize = 2_000;

/// Reads from `stream` until `buf` holds `needle` (the peer closing first is a failure).
async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> usize {
    loop {
        if let Some(at) = buf.windows(needle.len()).position(|w| w == needle) {
            return at + needle.len();
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read from verdict");
        assert!(
            n > 0,
            "verdict closed the connection before sending {:?}; got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads one HTTP/1.1 response with a Content-Length: its status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let head_end = read_until(stream, &mut buf, b"\r\n\r\n").await;
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read the body");
        assert!(
            n > 0,
            "the body ended after {} of {length} bytes",
            body.len()
        );
        body.extend_from_slice(&chunk[..n]);
    }
    (status, String::from_utf8(body).expect("a UTF-8 body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_an_ingest_in_flight_keeps_its_tasks_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let mut node = Node::start(&format!("sqlite://{}", path.display()), &[]);
    let http = client();
    let (alice, _) = create_account(&http, &node, "alice").await;

    let body: String = (0..TASKS)
        .map(|i| {
            let record = json!({ "id": format!("t-{i}"), "account": alice, "type": "image",
                "provider": "prov-a", "answer": "KWG90", "cost": "0.001",
                "completed_at": now_rfc3339() });
            format!("{record}\n")
        })
        .collect();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);

    // The request head, with Expect: 100-continue: verdict's "100 Continue" says the handler
    // is running and reading the body, so the request is in flight without any guessing.
    let mut stream = TcpStream::connect(&node.addr).await.unwrap();
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        node.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = Vec::new();
    let end = read_until(&mut stream, &mut interim, b"\r\n\r\n").await;
    assert!(
        interim[..end].starts_with(b"HTTP/1.1 100 Continue"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );
    stream.write_all(first).await.unwrap();
    stream.flush().await.unwrap();

    node.sigterm();
    node.wait_for("shutting down");
    // It stops taking connections (bounded poll, not a timing assertion)...
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&node.addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections 30 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(node.is_running(), "exited with a request in flight");

    // ...and the request in flight, finished now, gets its full answer.
    stream.write_all(rest).await.unwrap();
    stream.flush().await.unwrap();
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("a JSON answer");
    assert_eq!(
        answer,
        json!({ "inserted": TASKS, "duplicates": 0, "rejected": [] })
    );
    drop(stream);

    let status = node.exited().await;
    assert!(status.success(), "verdict exited with {status}");
    node.wait_for("verdict stopped");

    // What it answered is stored.
    let db = rusqlite::Connection::open(&path).unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, i64::try_from(TASKS).unwrap());
}
