//! SPEC §4 is a contract outside tools are written against: one test per native route served
//! today pins the shape SPEC states (the keys it names, with their JSON types). Extra fields
//! are allowed; a missing or retyped one fails here.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN, ALICE_KEY, TestApp};

/// The JSON type of each key SPEC names, checked on `value`.
fn assert_shape(value: &Value, shape: &[(&str, &str)]) {
    for (key, kind) in shape {
        let field = value
            .get(key)
            .unwrap_or_else(|| panic!("no {key:?} in {value}"));
        let found = match field {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let allowed: Vec<&str> = kind.split('|').collect();
        assert!(
            allowed.contains(&found),
            "{key}: {found}, SPEC says {kind}, in {value}"
        );
    }
}

async fn post(app: &TestApp, path: &str, bearer: &str, body: Value) -> crate::support::Reply {
    app.post_json_as(path, bearer, &body).await
}

/// Alice's incorrect-report on one of the world's tasks, recorded.
async fn report_incorrect(app: &TestApp, task: u64) -> Value {
    let reply = post(
        app,
        "/v1/reports",
        ALICE_KEY,
        json!({ "task": task, "kind": "incorrect" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn post_accounts_answers_201_with_id_name_trusted_and_the_key() {
    let app = TestApp::new().await;
    let reply = post(
        &app,
        "/v1/accounts",
        ADMIN,
        json!({ "name": "carol", "trusted": false }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_shape(
        &reply.json(),
        &[
            ("id", "number"),
            ("name", "string"),
            ("trusted", "bool"),
            ("api_key", "string"),
        ],
    );
}

#[tokio::test]
async fn get_account_answers_balance_standing_and_stats_per_family() {
    let app = TestApp::new().await;
    let view = app.get("/v1/accounts/1", ALICE_KEY).await.json();
    assert_shape(
        &view,
        &[
            ("id", "number"),
            ("name", "string"),
            ("trusted", "bool"),
            ("balance", "string"),
            ("standing", "object"),
            ("stats", "object"),
        ],
    );
    assert_shape(
        &view["standing"],
        &[
            ("state", "string"),
            ("until", "string|null"),
            ("reason", "string|null"),
        ],
    );
    let (_, recaptcha) = view["stats"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .expect("the world's tasks are counted");
    assert_shape(
        recaptcha,
        &[
            ("tasks", "number"),
            ("incorrect", "number"),
            ("correct", "number"),
        ],
    );
}

#[tokio::test]
async fn post_tasks_answers_inserted_duplicates_and_rejected_records() {
    let app = TestApp::new().await;
    let records = json!([
        { "id": "s-1", "account": 1, "type": "image", "provider": "p", "cost": "0.001",
          "completed_at": "2026-11-21T10:00:00Z" },
        { "id": "1001", "account": 1, "type": "image", "provider": "p", "cost": "0.001",
          "completed_at": "2026-11-21T10:00:00Z" },
        { "id": "s-2", "account": 1, "type": "nonsense" },
    ]);
    let reply = post(&app, "/v1/tasks", ADMIN, records).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_shape(
        &body,
        &[
            ("inserted", "number"),
            ("duplicates", "number"),
            ("rejected", "array"),
        ],
    );
    assert_eq!(
        (body["inserted"].clone(), body["duplicates"].clone()),
        (json!(1), json!(1))
    );
    assert_shape(
        &body["rejected"][0],
        &[("index", "number"), ("error", "string")],
    );
}

#[tokio::test]
async fn get_task_answers_the_task_and_its_report_with_the_refund_kept() {
    let app = TestApp::new().await;
    let fresh = app.get("/v1/tasks/1003", ALICE_KEY).await.json();
    assert_shape(&fresh, &[("task", "object"), ("report", "null")]);
    report_incorrect(&app, 1003).await;
    let view = app.get("/v1/tasks/1003", ALICE_KEY).await.json();
    assert_shape(
        &view["task"],
        &[
            ("id", "string"),
            ("account", "number"),
            ("type", "string"),
            ("provider", "string"),
            ("cost", "string"),
            ("completed_at", "string"),
        ],
    );
    assert_shape(
        &view["report"],
        &[
            ("kind", "string"),
            ("dialect", "string"),
            ("correction", "string|null"),
            ("code", "string|null"),
            ("message", "string|null"),
            ("received_at", "string"),
            ("verdict", "string"),
            ("reason", "string"),
            ("evidence", "object"),
            ("refund", "string|null"),
        ],
    );
}

#[tokio::test]
async fn post_reports_answers_with_the_verdict() {
    let app = TestApp::new().await;
    let made = report_incorrect(&app, 1006).await;
    assert_shape(
        &made["report"],
        &[
            ("verdict", "string"),
            ("reason", "string"),
            ("refund", "string|null"),
        ],
    );
}

#[tokio::test]
async fn providers_and_route_answer_in_specs_shapes() {
    let app = TestApp::new().await;
    // Evidence about the world's reCAPTCHA provider: one report on its task.
    report_incorrect(&app, 1003).await;
    app.clock.advance(std::time::Duration::from_secs(2));
    let providers = app
        .get("/v1/providers?type=recaptcha_v2", ADMIN)
        .await
        .json();
    assert_shape(&providers, &[("type", "string"), ("providers", "array")]);
    let first = &providers["providers"][0];
    assert_shape(
        first,
        &[
            ("provider", "string"),
            ("score", "number"),
            ("interval", "array"),
            ("evidence", "object"),
        ],
    );
    assert_eq!(first["interval"].as_array().map(Vec::len), Some(2));
    let routed = post(&app, "/v1/route", ADMIN, json!({ "type": "recaptcha_v2" })).await;
    assert_eq!(routed.status, StatusCode::OK, "{}", routed.text());
    assert_shape(
        &routed.json(),
        &[("provider", "string"), ("explanation", "object")],
    );
}
