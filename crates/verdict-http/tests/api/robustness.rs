//! Bad input never gets a panic, an HTML page or a bare 500: whatever the bytes, each dialect
//! answers in its own shape.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use serde_json::Value;
use verdict_domain::ReportKind;
use verdict_http::Limits;
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::{Dialect, Report};

use crate::support::{ALICE_KEY, TestApp};

/// One report endpoint of a dialect, as its clients call it (from the dialect's registry entry),
/// whose body each case replaces.
struct Endpoint {
    dialect: &'static Dialect,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
}

impl Endpoint {
    fn sends_json(&self) -> bool {
        self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type") && v.starts_with("application/json")
        })
    }
}

/// Every report endpoint of every dialect of the registry: each one's requests for every family
/// and kind it can carry (so all of anti-captcha's methods), and capsolver's feedback as
/// python3-capsolver posts it, to `/getToken`.
fn endpoints() -> Vec<Endpoint> {
    let mut all: Vec<Endpoint> = Vec::new();
    for dialect in DIALECTS {
        for family in dialect.families.families() {
            for kind in [ReportKind::Incorrect, ReportKind::Correct] {
                let report = Report {
                    key: ALICE_KEY,
                    account: "alice",
                    task: "1001",
                    family,
                    kind,
                };
                let Some(wire) = dialect.request(&report) else {
                    continue;
                };
                let seen = |e: &Endpoint| {
                    e.dialect.name == dialect.name && e.method == wire.method && e.path == wire.path
                };
                if all.iter().any(seen) {
                    continue;
                }
                all.push(Endpoint {
                    dialect,
                    method: wire.method,
                    path: wire.path,
                    headers: wire.headers,
                });
            }
        }
    }
    let capsolver = all
        .iter()
        .find(|e| e.dialect.name == "capsolver")
        .map(|e| Endpoint {
            dialect: e.dialect,
            method: Method::POST,
            path: "/getToken".into(),
            headers: e.headers.clone(),
        })
        .expect("capsolver is in the registry");
    all.push(capsolver);
    all
}

/// Whether a reply is in the dialect's shape, and no server error.
fn in_shape(endpoint: &Endpoint, status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status.is_server_error() {
        return Err(format!("server error {status}"));
    }
    let text = String::from_utf8_lossy(body);
    endpoint
        .dialect
        .is_shaped(status.as_u16(), &text)
        .then_some(())
        .ok_or_else(|| {
            format!(
                "{} {}: {} shape broken: {status} {text}",
                endpoint.method, endpoint.path, endpoint.dialect.name
            )
        })
}

async fn send(app: &TestApp, endpoint: &Endpoint, body: Vec<u8>) -> Result<(), String> {
    let mut request = Request::builder()
        .method(endpoint.method.clone())
        .uri(endpoint.path.as_str());
    for (name, value) in &endpoint.headers {
        request = request.header(*name, value.as_str());
    }
    let reply = app.send(request.body(Body::from(body)).unwrap()).await;
    in_shape(endpoint, reply.status, &reply.body)
}

/// JSON-ish bodies: objects with the fields dialects read, holding values of every shape.
fn json_bodies() -> impl Strategy<Value = Vec<u8>> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        Just(Value::from(ALICE_KEY)),
        Just(Value::from("1001")),
    ];
    let value = scalar.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let keys = prop_oneof![
        Just("clientKey"),
        Just("taskId"),
        Just("captchaGUID"),
        Just("correction"),
        Just("result"),
        Just("invalid"),
        Just("task"),
        Just("kind"),
        Just("code"),
        Just("message"),
        Just("valid"),
        Just("appId"),
        Just("access_token"),
    ];
    prop::collection::btree_map(keys, value, 0..6).prop_map(|m| {
        let obj: serde_json::Map<String, Value> =
            m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Value::Object(obj).to_string().into_bytes()
    })
}

/// Form bodies with the fields the form-style dialects read, holding any text.
fn form_bodies() -> impl Strategy<Value = Vec<u8>> {
    let keys = prop_oneof![
        Just("key"),
        Just("action"),
        Just("id"),
        Just("json"),
        Just("token"),
        Just("imageid"),
        Just("username"),
        Just("password"),
        Just("apikey"),
        Just("correct"),
        Just("access_token"),
        Just("authtoken"),
    ];
    prop::collection::vec((keys, ".{0,24}"), 0..6).prop_map(|pairs| {
        serde_urlencoded::to_string(pairs)
            .unwrap_or_default()
            .into_bytes()
    })
}

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_bodies(),
        form_bodies()
    ]
}

/// Where the regression seeds live, checked in next to this directory.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/proptest-regressions/robustness.txt"
);

/// The runner's configuration. A hand-built `TestRunner` knows no source file unless told, and
/// without one proptest neither replays saved seeds nor saves new ones. From `file!()`
/// (tests/api/robustness.rs) `SourceParallel` climbs to the directory holding `main.rs`
/// (tests/api) and uses `proptest-regressions/robustness.txt` beside it: [`REGRESSIONS`].
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 240,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    }
}

#[test]
fn the_runner_replays_every_seed_of_the_checked_in_regressions_file() {
    let config = config();
    let loaded = config
        .failure_persistence
        .as_ref()
        .expect("failure persistence is on")
        .load_persisted_failures2(config.source_file);
    let text = std::fs::read_to_string(REGRESSIONS)
        .unwrap_or_else(|e| panic!("reading {REGRESSIONS}: {e}"));
    let checked_in = text.lines().filter(|l| l.starts_with("cc ")).count();
    assert!(checked_in > 0, "{REGRESSIONS} holds no seed");
    assert_eq!(
        loaded.len(),
        checked_in,
        "the runner's configuration does not load the seeds of {REGRESSIONS}"
    );
}

#[test]
fn any_body_gets_an_answer_in_the_dialects_shape() {
    // One world for every case: only the shape of each answer is checked.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::new());
    let endpoints = endpoints();
    let mut runner = TestRunner::new(config());
    runner
        .run(&(any_body(), 0..endpoints.len()), |(body, endpoint)| {
            let result = runtime.block_on(send(&app, &endpoints[endpoint], body));
            prop_assert!(result.is_ok(), "{}", result.unwrap_err());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn non_utf8_bodies_get_each_dialects_error() {
    let app = TestApp::new().await;
    for endpoint in endpoints() {
        for body in [
            b"\xff\xfe\xfd".to_vec(),
            b"{\"clientKey\":\"\xc3\x28\",\"taskId\":1001}".to_vec(),
        ] {
            let result = send(&app, &endpoint, body).await;
            assert!(result.is_ok(), "{}", result.unwrap_err());
        }
    }
}

#[tokio::test]
async fn oversized_bodies_get_each_dialects_error() {
    let app = TestApp::with_limits(Limits {
        report_body: 256,
        ingest_body: 1024,
        ..Limits::default()
    })
    .await;
    let huge = format!(
        "{{\"clientKey\":\"{ALICE_KEY}\",\"taskId\":1001,\"pad\":\"{}\"}}",
        "x".repeat(10_000)
    );
    for endpoint in endpoints() {
        let mut request = Request::builder()
            .method(endpoint.method.clone())
            .uri(endpoint.path.as_str());
        for (name, value) in &endpoint.headers {
            request = request.header(*name, value.as_str());
        }
        let reply = app
            .send(request.body(Body::from(huge.clone())).unwrap())
            .await;
        let at = format!("{} {}", endpoint.method, endpoint.path);
        assert!(
            in_shape(&endpoint, reply.status, &reply.body).is_ok(),
            "{at}: {} {}",
            reply.status,
            reply.text()
        );
        // A dialect that reads a JSON body refuses one too large to read; the others read forms
        // or nothing, so an oversized body is not read at all and the request is answered from
        // what else it carries.
        if endpoint.sends_json() {
            let refused =
                reply.status == StatusCode::PAYLOAD_TOO_LARGE || reply.json()["errorId"] == 1;
            assert!(refused, "{at} accepted an oversized body: {}", reply.text());
        }
    }
}

/// A client that sends half a body and stalls is answered once the body deadline passes, in
/// its dialect's shape, and nothing is recorded from the half it sent.
#[tokio::test]
async fn a_body_that_stalls_gets_each_dialects_error_at_the_deadline() {
    let app = TestApp::with_limits(Limits {
        body_timeout: std::time::Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let half = format!("{{\"clientKey\":\"{ALICE_KEY}\",");
    for endpoint in endpoints() {
        let mut request = Request::builder()
            .method(endpoint.method.clone())
            .uri(endpoint.path.as_str());
        for (name, value) in &endpoint.headers {
            request = request.header(*name, value.as_str());
        }
        let first = half.clone();
        let stalled = futures_util::stream::unfold(0u8, move |sent| {
            let first = first.clone();
            async move {
                if sent == 0 {
                    Some((Ok::<_, std::io::Error>(first.into_bytes()), 1))
                } else {
                    // Far longer than the deadline: only the deadline ends this request.
                    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
                    None
                }
            }
        });
        let at = format!("{} {}", endpoint.method, endpoint.path);
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            app.send(request.body(Body::from_stream(stalled)).unwrap()),
        )
        .await
        .unwrap_or_else(|_| panic!("{at}: no answer; the body deadline did not end it"));
        assert!(
            in_shape(&endpoint, reply.status, &reply.body).is_ok(),
            "{at}: {} {}",
            reply.status,
            reply.text()
        );
        if endpoint.sends_json() {
            assert!(
                !endpoint
                    .dialect
                    .is_recorded(reply.status.as_u16(), &reply.text()),
                "{at} recorded a report from half a body: {}",
                reply.text()
            );
        }
    }
}

/// A handler that panics behind a dialect's routes is answered in that dialect's shape (its
/// retry-later answer), never in the native API's.
#[tokio::test]
async fn a_panic_behind_a_dialect_is_answered_in_its_shape() {
    use tower::ServiceExt;
    for dialect in DIALECTS.iter().filter(|d| d.routes.is_some()) {
        let router: axum::Router = axum::Router::new()
            .route(
                "/boom",
                axum::routing::post(|| async {
                    if true {
                        panic!("a bug");
                    }
                    ""
                }),
            )
            .layer(verdict_http::dialect::catch_panic(dialect));
        let reply = router
            .oneshot(Request::post("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = reply.status();
        let body = axum::body::to_bytes(reply.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            dialect.is_shaped(status.as_u16(), &text),
            "{}: {status} {text}",
            dialect.name
        );
        assert!(
            !text.contains("\"error\":{"),
            "{}: native shape: {text}",
            dialect.name
        );
    }
}

/// How each dialect's request can be malformed, beside the property tests' arbitrary bodies: the
/// key and the task id replaced by values of every wrong kind wherever the dialect carries
/// them (JSON, form, query string, path, header), and the body emptied, cut, made a non-object,
/// made invalid UTF-8, sent with duplicate keys or under the other content type. Every answer is
/// in the dialect's shape and records nothing, and the database is unchanged after them all.
#[tokio::test]
async fn malformed_requests_get_each_dialects_error_and_change_nothing() {
    use verdict_domain::Family;
    let app = TestApp::new().await;
    let at = crate::support::T0
        .saturating_sub(std::time::Duration::from_secs(5))
        .to_rfc3339();
    // JSON literals for values carried in JSON, text for anything else.
    const BAD_IDS_JSON: [&str; 10] = [
        "-1",
        "9223372036854775808",
        "18446744073709551616",
        "1.5",
        "\"\"",
        "[]",
        "{}",
        "true",
        "null",
        "\"1 OR 1=1\"",
    ];
    const BAD_IDS_TEXT: [&str; 7] = [
        "-1",
        "18446744073709551616",
        "1.5",
        "",
        "%FF%FE",
        "abc%20def",
        "99999999999999999999999",
    ];
    const BAD_KEYS_JSON: [&str; 6] = ["123", "\"\"", "[]", "{}", "null", "\"short\""];
    const BAD_KEYS_TEXT: [&str; 4] = ["", "short", "%FF%FE%FD%FC%FB%FA%F9%F8", "a%00b0123456789"];

    let mut cases = 0;
    let mut before = Vec::new();
    for (n, dialect) in DIALECTS.iter().enumerate() {
        let family = if dialect.families.allows(Family::Image) {
            Family::Image
        } else {
            dialect.some_family()
        };
        let task = format!("{}", 7300 + n);
        let captcha_type = match family {
            Family::Image => "image",
            Family::Recaptcha => "recaptcha_v2",
            other => other.as_str(),
        };
        app.engine
            .ingest(vec![Ok(verdict_domain::TaskInput {
                id: Some(task.clone()),
                account: Some("1".into()),
                captcha_type: Some(captcha_type.into()),
                provider: Some("prov-a".into()),
                worker: Some("w-1".into()),
                answer: Some("QX7PL".into()),
                cost: Some("0.001".into()),
                completed_at: Some(at.clone()),
            })])
            .await
            .unwrap();
        before.push(task.clone());
        let base = dialect
            .request(&Report {
                key: ALICE_KEY,
                account: "alice",
                task: &task,
                family,
                kind: ReportKind::Incorrect,
            })
            .expect("a report");
        let json_body = base.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type") && v.starts_with("application/json")
        });
        let mut variants: Vec<(String, WireCase)> = Vec::new();
        // The id and the key, replaced where they are carried.
        let replace = |from: &str, json_set: &[&str], text_set: &[&str], what: &str| {
            let mut out = Vec::new();
            for bad in text_set {
                let path = base.path.replace(from, bad);
                let headers = base
                    .headers
                    .iter()
                    .map(|(k, v)| (*k, v.replace(from, bad)))
                    .collect::<Vec<_>>();
                let body = if json_body {
                    base.body.clone()
                } else {
                    base.body.replace(from, bad)
                };
                if path != base.path || headers != base.headers || body != base.body {
                    out.push((
                        format!("{what} as text {bad:?}"),
                        WireCase::new(&base, path, headers, body.into_bytes()),
                    ));
                }
            }
            if json_body {
                for bad in json_set {
                    let body = base
                        .body
                        .replace(&format!("\"{from}\""), bad)
                        .replace(&format!(":{from}"), &format!(":{bad}"));
                    if body != base.body {
                        out.push((
                            format!("{what} as JSON {bad}"),
                            WireCase::new(
                                &base,
                                base.path.clone(),
                                base.headers.clone(),
                                body.into_bytes(),
                            ),
                        ));
                    }
                }
            }
            out
        };
        variants.extend(replace(&task, &BAD_IDS_JSON, &BAD_IDS_TEXT, "id"));
        variants.extend(replace(ALICE_KEY, &BAD_KEYS_JSON, &BAD_KEYS_TEXT, "key"));
        // The body itself.
        if !base.body.is_empty() {
            let with_body =
                |body: Vec<u8>| WireCase::new(&base, base.path.clone(), base.headers.clone(), body);
            for (name, body) in [
                ("empty body", Vec::new()),
                (
                    "cut body",
                    base.body.as_bytes()[..base.body.len() / 2].to_vec(),
                ),
                (
                    "invalid UTF-8",
                    [base.body.as_bytes(), &[0xff, 0xfe, 0x80]].concat(),
                ),
                ("array body", b"[1,2,3]".to_vec()),
                ("null body", b"null".to_vec()),
            ] {
                variants.push((name.into(), with_body(body)));
            }
            if json_body {
                // The id given twice, the second time wrong.
                let dup =
                    base.body
                        .replacen('{', "{\"taskId\":-1,\"task\":-1,\"captchaGUID\":-1,", 1);
                let dup = format!("{},\"taskId\":-1}}", dup.trim_end_matches('}'));
                variants.push(("duplicate keys".into(), with_body(dup.into_bytes())));
            }
            // The other content type: a dialect may read its body whatever the label says (the
            // request is then a valid report), so these go to a task that does not exist, and
            // only their shape is held.
            let elsewhere = WireCase::new(
                &base,
                base.path.replace(&task, "9999999"),
                base.headers.clone(),
                base.body.replace(&task, "9999999").into_bytes(),
            );
            let mut relabelled = elsewhere;
            relabelled.set_content_type(if json_body {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            });
            if base.method == axum::http::Method::POST {
                variants.push(("the other content type".into(), relabelled));
            }
        }
        for (name, case) in variants {
            cases += 1;
            let reply = app.send(case.request()).await;
            let text = reply.text();
            assert!(
                !reply.status.is_server_error() || reply.status == StatusCode::SERVICE_UNAVAILABLE,
                "{} {name}: {} {text}",
                dialect.name,
                reply.status
            );
            assert!(
                dialect.is_shaped(reply.status.as_u16(), &text),
                "{} {name}: not its shape: {} {text}",
                dialect.name,
                reply.status
            );
            assert!(
                !dialect.is_recorded(reply.status.as_u16(), &text),
                "{} {name}: recorded from a malformed request: {text}",
                dialect.name
            );
        }
    }
    assert!(cases > 200, "{cases} cases");
    // Nothing was stored: no report on any of the tasks, and no money moved.
    for task in before {
        let view = app
            .get(&format!("/v1/tasks/{task}"), crate::support::ADMIN)
            .await;
        assert_eq!(
            view.json()["report"],
            Value::Null,
            "task {task}: {}",
            view.text()
        );
    }
    assert_eq!(app.ledger(crate::support::ALICE).await, Vec::new());
}

/// One malformed request.
struct WireCase {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl WireCase {
    fn new(
        base: &verdict_http::dialect::registry::WireRequest,
        path: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            method: base.method.clone(),
            path,
            headers,
            body,
        }
    }

    fn set_content_type(&mut self, value: &str) {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers.push(("content-type", value.to_owned()));
    }

    fn request(&self) -> Request<Body> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str());
        for (name, value) in &self.headers {
            if let Ok(value) = axum::http::HeaderValue::from_str(value) {
                builder = builder.header(*name, value);
            }
        }
        builder.body(Body::from(self.body.clone())).unwrap()
    }
}
