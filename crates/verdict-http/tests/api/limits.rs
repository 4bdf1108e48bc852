//! Request rates and failed logins, per client address and per key: a throttled client gets
//! its own service's throttling answer with `Retry-After`, and an address that keeps
//! presenting wrong keys is blocked, logged once with the address.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use verdict_domain::{Family, ReportKind};
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::{Dialect, Report, WireRequest};
use verdict_http::guard::{Rate, RateLimits};

use crate::support::{ADMIN, ALICE_KEY, Reply, TestApp};

fn request(wire: &WireRequest) -> Request<Body> {
    let mut builder = Request::builder()
        .method(wire.method.clone())
        .uri(wire.path.as_str());
    for (name, value) in &wire.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Body::from(wire.body.clone())).unwrap()
}

/// A confirmation of alice's hCaptcha task (or, for dialects without confirmations, a report)
/// in `dialect`'s wire format, presented with `key`.
fn report_in(dialect: &Dialect, key: &str) -> WireRequest {
    [ReportKind::Correct, ReportKind::Incorrect]
        .into_iter()
        .flat_map(|kind| {
            [Family::Hcaptcha, dialect.some_family()].map(|family| Report {
                key,
                account: "alice",
                task: "1006",
                family,
                kind,
            })
        })
        .find_map(|r| dialect.request(&r))
        .unwrap_or_else(|| panic!("{} carries no report", dialect.name))
}

fn throttled_in_shape(dialect: &Dialect, reply: &Reply) -> Result<(), String> {
    let text = reply.text();
    if !dialect.is_shaped(reply.status.as_u16(), &text) {
        return Err(format!(
            "{}: not its shape: {} {text}",
            dialect.name, reply.status
        ));
    }
    if dialect.is_recorded(reply.status.as_u16(), &text) {
        return Err(format!("{}: answered as recorded: {text}", dialect.name));
    }
    let retry = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match retry {
        Some(s) if s >= 1 => Ok(()),
        _ => Err(format!(
            "{}: no Retry-After: {:?}",
            dialect.name, reply.headers
        )),
    }
}

fn one_at_a_time() -> Rate {
    Rate {
        per_second: 0.001,
        burst: 1,
    }
}

#[tokio::test]
async fn every_dialect_throttles_an_address_over_its_rate_in_its_own_shape() {
    let app = TestApp::with_rates(RateLimits {
        per_address: Some(one_at_a_time()),
        ..RateLimits::off()
    })
    .await;
    for (n, dialect) in DIALECTS.iter().enumerate() {
        let peer = format!("192.0.2.{}:40000", n + 1);
        let wire = report_in(dialect, ALICE_KEY);
        let first = app.send_from(&peer, request(&wire)).await;
        assert!(
            first.headers.get("retry-after").is_none(),
            "{}: the first request is within the rate: {}",
            dialect.name,
            first.text()
        );
        let second = app.send_from(&peer, request(&wire)).await;
        throttled_in_shape(dialect, &second).unwrap();
    }
    // The native API says 429 and why.
    let reply = app
        .send_from(
            "192.0.2.1:40000",
            Request::get("/v1/accounts/1")
                .header("authorization", format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.json()["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn a_key_over_its_rate_is_throttled_from_any_address() {
    let app = TestApp::with_rates(RateLimits {
        per_key: Some(one_at_a_time()),
        ..RateLimits::off()
    })
    .await;
    let anticaptcha = verdict_http::dialect::registry::find("anticaptcha").unwrap();
    let wire = report_in(anticaptcha, ALICE_KEY);
    let first = app.send_from("192.0.2.10:1", request(&wire)).await;
    assert_eq!(first.json()["errorId"], 0, "{}", first.text());
    let second = app.send_from("198.51.100.10:1", request(&wire)).await;
    throttled_in_shape(anticaptcha, &second).unwrap();
    assert_eq!(second.json()["errorCode"], "ERROR_NO_SLOT_AVAILABLE");
    // Another key is another bucket.
    let bobs = report_in(anticaptcha, crate::support::BOB_KEY);
    let reply = app.send_from("198.51.100.10:1", request(&bobs)).await;
    assert!(
        reply.headers.get("retry-after").is_none(),
        "{}",
        reply.text()
    );
}

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

#[tokio::test]
async fn wrong_keys_from_an_address_block_it_and_the_block_is_logged_once() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::with_rates(RateLimits {
        failed_logins: Some(Rate {
            per_second: 0.001,
            burst: 3,
        }),
        block_for: Duration::from_secs(60),
        ..RateLimits::off()
    })
    .await;
    let anticaptcha = verdict_http::dialect::registry::find("anticaptcha").unwrap();
    let guesser = "203.0.113.66:5555";
    for n in 0..6 {
        let wrong = format!("guess-{n:02}-5f0d3c8b92e47a1f6e03d9c2b7");
        let reply = app
            .send_from(guesser, request(&report_in(anticaptcha, &wrong)))
            .await;
        let code = reply.json()["errorCode"].clone();
        if n < 4 {
            assert_eq!(
                code,
                "ERROR_KEY_DOES_NOT_EXIST",
                "guess {n}: {}",
                reply.text()
            );
        } else {
            assert_eq!(
                code,
                "ERROR_IP_BLOCKED",
                "guess {n} is refused unread: {}",
                reply.text()
            );
        }
    }
    // Blocked is blocked: the right key from that address waits too, in every dialect.
    for dialect in DIALECTS {
        let reply = app
            .send_from(guesser, request(&report_in(dialect, ALICE_KEY)))
            .await;
        throttled_in_shape(dialect, &reply).unwrap();
    }
    let twocaptcha = verdict_http::dialect::registry::find("twocaptcha").unwrap();
    let reply = app
        .send_from(guesser, request(&report_in(twocaptcha, ALICE_KEY)))
        .await;
    assert!(reply.text().contains("ERROR: 1004"), "{}", reply.text());
    // Another address is not.
    let reply = app
        .send_from(
            "203.0.113.67:1",
            request(&report_in(anticaptcha, ALICE_KEY)),
        )
        .await;
    assert_eq!(reply.json()["errorId"], 0, "{}", reply.text());

    // Wrong admin tokens count the same way on the native API.
    let prober = "203.0.113.80:1";
    let get = |token: &str| {
        Request::get("/v1/accounts/1")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    for _ in 0..4 {
        let reply = app
            .send_from(prober, get("not-the-admin-token-at-all"))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = app.send_from(prober, get(ADMIN)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.json()["error"]["code"], "blocked");
    assert!(reply.headers.contains_key("retry-after"));

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let blocked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("too many failed logins"))
        .collect();
    assert_eq!(blocked.len(), 2, "one line per blocked address: {text}");
    assert!(blocked[0].contains("203.0.113.66"), "{text}");
    assert!(blocked[1].contains("203.0.113.80"), "{text}");
    assert!(
        !text.contains("guess-0"),
        "no presented key is logged: {text}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_bucket() {
    let app = TestApp::with_rates(RateLimits {
        per_address: Some(one_at_a_time()),
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..RateLimits::off()
    })
    .await;
    let anticaptcha = verdict_http::dialect::registry::find("anticaptcha").unwrap();
    let via_proxy = |client: &str| {
        let mut r = request(&report_in(anticaptcha, ALICE_KEY));
        r.headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        r
    };
    let a = app.send_from("10.0.0.5:1", via_proxy("192.0.2.1")).await;
    let b = app.send_from("10.0.0.5:2", via_proxy("192.0.2.2")).await;
    assert_eq!(
        (a.json()["errorId"].clone(), b.json()["errorId"].clone()),
        (json!(0), json!(0))
    );
    let again = app.send_from("10.0.0.5:3", via_proxy("192.0.2.1")).await;
    throttled_in_shape(anticaptcha, &again).unwrap();
    // An untrusted peer cannot pick its address by the header.
    let spoof = app
        .send_from("198.51.100.1:1", via_proxy("192.0.2.9"))
        .await;
    assert_eq!(spoof.json()["errorId"], 0);
    let spoof_again = app
        .send_from("198.51.100.1:1", via_proxy("192.0.2.10"))
        .await;
    throttled_in_shape(anticaptcha, &spoof_again).unwrap();
}
