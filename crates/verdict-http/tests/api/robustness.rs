//! Bad input never gets a panic, an HTML page or a bare 500: whatever the bytes, each dialect
//! answers in its own shape.

use axum::http::StatusCode;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use serde_json::Value;
use verdict_http::Limits;

use crate::support::{ALICE_KEY, TestApp};

/// Every report endpoint, with the headers its clients send.
const ENDPOINTS: &[(&str, &str)] = &[
    ("/v1/report/1001", "captchafun"),
    ("/api/report", "decaptcha"),
    ("/reportIncorrectImageCaptcha", "anticaptcha"),
    ("/reportIncorrectRecaptcha", "anticaptcha"),
    ("/reportCorrectRecaptcha", "anticaptcha"),
    ("/reportIncorrectHcaptcha", "anticaptcha"),
    ("/feedbackTask", "ucaptcha"),
    ("/getToken", "ucaptcha"),
    ("/reportIncorrect", "anticaptcha"),
    ("/reportCorrect", "anticaptcha"),
    ("/reportIncorrectTokenCaptcha", "anticaptcha"),
    ("/res.php", "twocaptcha"),
    ("/api/captcha/1003/report", "deathbycaptcha"),
    ("/v1/reports", "native"),
];

/// Whether a reply is in the dialect's shape.
fn in_shape(dialect: &str, status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status.is_server_error() {
        return Err(format!("server error {status}"));
    }
    if dialect == "twocaptcha" {
        // A bare token, HTTP 200 always (json=1 is a query parameter, absent here).
        let text = String::from_utf8_lossy(body);
        let token = text.starts_with("OK_") || text.starts_with("ERROR_");
        let bare = !text.contains(char::is_whitespace);
        return (status == StatusCode::OK && token && bare)
            .then_some(())
            .ok_or(format!("2captcha shape broken: {status} {text:?}"));
    }
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| format!("not JSON: {}", String::from_utf8_lossy(body)))?;
    let has = |k: &str| json.get(k).is_some();
    let shaped = match dialect {
        "captchafun" => {
            json.as_object().is_some_and(|o| o.len() == 1) && json["message"].is_string()
        }
        "decaptcha" => {
            ["isSuccess", "statusCode", "errorMessage", "data"]
                .iter()
                .all(|k| has(k))
                && json["statusCode"].as_u64() == Some(u64::from(status.as_u16()))
        }
        // HTTP 200 always, and on error all three fields.
        "anticaptcha" => {
            status == StatusCode::OK
                && (json["errorId"] == 0 && json["status"] == "success"
                    || ["errorId", "errorCode", "errorDescription"]
                        .iter()
                        .all(|k| has(k)))
        }
        "ucaptcha" => {
            json["errorId"] == 0
                || ["errorId", "errorCode", "errorDescription"]
                    .iter()
                    .all(|k| has(k))
        }
        // DBC: the captcha object on success, {"error"} with a real HTTP error status otherwise.
        "deathbycaptcha" => {
            (status == StatusCode::OK && json["is_correct"] == false)
                || (status.is_client_error() && json["error"].is_string())
        }
        "native" => status.is_success() || json["error"]["code"].is_string(),
        _ => false,
    };
    if status.is_server_error() {
        return Err(format!("server error {status}"));
    }
    shaped
        .then_some(())
        .ok_or_else(|| format!("{dialect} shape broken: {status} {json}"))
}

fn headers(dialect: &str) -> Vec<(&'static str, String)> {
    let mut h = vec![("content-type", "application/json".to_owned())];
    match dialect {
        "captchafun" => h.push(("API_KEY", ALICE_KEY.to_owned())),
        "decaptcha" => h.push(("x-api-key", ALICE_KEY.to_owned())),
        "twocaptcha" | "deathbycaptcha" => h[0].1 = "application/x-www-form-urlencoded".to_owned(),
        "native" => h.push(("authorization", format!("Bearer {ALICE_KEY}"))),
        _ => {}
    }
    h
}

async fn send(app: &TestApp, path: &str, dialect: &str, body: Vec<u8>) -> Result<(), String> {
    let h = headers(dialect);
    let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = app.post(path, &refs, body).await;
    in_shape(dialect, reply.status, &reply.body)
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
    ];
    prop::collection::btree_map(keys, value, 0..6).prop_map(|m| {
        let obj: serde_json::Map<String, Value> =
            m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Value::Object(obj).to_string().into_bytes()
    })
}

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..300), json_bodies()]
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
    let mut runner = TestRunner::new(config());
    runner
        .run(&(any_body(), 0..ENDPOINTS.len()), |(body, endpoint)| {
            let (path, dialect) = ENDPOINTS[endpoint];
            let result = runtime.block_on(send(&app, path, dialect, body));
            prop_assert!(result.is_ok(), "{}", result.unwrap_err());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn non_utf8_bodies_get_each_dialects_error() {
    let app = TestApp::new().await;
    for (path, dialect) in ENDPOINTS {
        for body in [
            b"\xff\xfe\xfd".to_vec(),
            b"{\"clientKey\":\"\xc3\x28\",\"taskId\":1001}".to_vec(),
        ] {
            let result = send(&app, path, dialect, body).await;
            assert!(result.is_ok(), "{path}: {}", result.unwrap_err());
        }
    }
}

#[tokio::test]
async fn oversized_bodies_get_each_dialects_error() {
    let app = TestApp::with_limits(Limits {
        report_body: 256,
        ingest_body: 1024,
    })
    .await;
    let huge = format!(
        "{{\"clientKey\":\"{ALICE_KEY}\",\"taskId\":1001,\"pad\":\"{}\"}}",
        "x".repeat(10_000)
    );
    for (path, dialect) in ENDPOINTS {
        let h = headers(dialect);
        let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = app.post(path, &refs, huge.clone()).await;
        if matches!(*dialect, "captchafun" | "twocaptcha" | "deathbycaptcha") {
            // Bodies these read are forms or nothing: an oversized one is not read at all, and
            // the request is answered from what else it carries (here: no key).
            assert!(
                in_shape(dialect, reply.status, &reply.body).is_ok(),
                "{path}: {} {}",
                reply.status,
                reply.text()
            );
            continue;
        }
        assert!(
            in_shape(dialect, reply.status, &reply.body).is_ok(),
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        let refused = reply.status == StatusCode::PAYLOAD_TOO_LARGE || reply.json()["errorId"] == 1;
        assert!(
            refused,
            "{path} accepted an oversized body: {}",
            reply.text()
        );
    }
}
