//! Request ids: every response carries one (the client's when it is sane, else a new one), and
//! the lines logged while handling the request carry it too, beside the path and never the
//! query string.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use verdict_domain::{Family, ReportKind};
use verdict_http::dialect::registry::{Report, find};

use crate::support::{ALICE_KEY, Reply, TestApp};

/// Log lines written while the test runs, to read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Alice reports `task` (an image) through 2captcha's `res.php`, whose query string holds her
/// key, with these `X-Request-Id` headers.
async fn report(app: &TestApp, task: &str, ids: &[&[u8]]) -> Reply {
    let wire = find("twocaptcha")
        .unwrap()
        .request(&Report {
            key: ALICE_KEY,
            account: "alice",
            task,
            family: Family::Image,
            kind: ReportKind::Incorrect,
        })
        .unwrap();
    assert!(wire.path.contains(ALICE_KEY), "{}", wire.path);
    let mut builder = Request::builder().method(wire.method).uri(wire.path);
    for (name, value) in wire.headers {
        builder = builder.header(name, value);
    }
    for id in ids {
        builder = builder.header("x-request-id", *id);
    }
    app.send(builder.body(Body::from(wire.body)).unwrap()).await
}

fn id_of(reply: &Reply) -> String {
    reply
        .headers
        .get("x-request-id")
        .expect("an X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

#[tokio::test]
async fn a_request_id_is_echoed_and_carried_by_the_requests_log_lines() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::new().await;

    // The client's own id, kept.
    let reply = report(&app, "1001", &[b"client-id-42"]).await;
    assert_eq!(id_of(&reply), "client-id-42");
    // None, too long, with a space, not ASCII, or two of them: a new one each time.
    let long = "x".repeat(verdict_http::request_id::MAX_LEN + 1);
    let mut made = Vec::new();
    for (task, ids) in [
        ("1013", vec![]),
        ("1003", vec![long.as_bytes()]),
        ("1004", vec![&b"two words"[..]]),
        ("2001", vec![&b"caf\xc3\xa9"[..]]),
        ("1012", vec![&b"first"[..], &b"second"[..]]),
    ] {
        let id = id_of(&report(&app, task, &ids).await);
        assert!(is_uuid(&id), "{task}: {id}");
        made.push((task, id));
    }
    let distinct: std::collections::BTreeSet<&String> = made.iter().map(|(_, id)| id).collect();
    assert_eq!(distinct.len(), made.len());

    let lines = logs.lines();
    let judged = |id: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("request_id={id}")) && l.contains("report judged"))
            .unwrap_or_else(|| panic!("no report judged with {id} in:\n{}", lines.join("\n")))
            .clone()
    };
    let line = judged("client-id-42");
    assert!(line.contains("path=/res.php"), "{line}");
    assert!(line.contains("task=1001"), "{line}");
    // A report judged: its line carries the id made for it.
    let (_, made_for_1013) = &made[0];
    assert!(judged(made_for_1013).contains("task=1013"));
    for line in &lines {
        assert!(!line.contains(ALICE_KEY), "a key in the logs: {line}");
        assert!(
            !line.contains("two words") && !line.contains(&long),
            "{line}"
        );
    }
}
