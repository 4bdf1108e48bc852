//! `GET /v1/corrections`: every report with a correction, oldest first, as JSON Lines or CSV,
//! with what was decided and what independent solves said of the correction.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN, ALICE_KEY, BOB_KEY, T0, TestApp};

fn with_rechecks() -> verdict_domain::Policy {
    let mut policy = verdict_http::default_policy();
    policy.rechecks.enabled = true;
    policy.rechecks.sample_rate = 1.0;
    policy
}

async fn report(app: &TestApp, key: &str, body: Value) {
    let reply = app.post_json_as("/v1/reports", key, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    app.clock.advance(Duration::from_secs(1));
}

async fn recheck(app: &TestApp, task: &str, answer: &str) {
    let auth = format!("Bearer {ADMIN}");
    let reply = app
        .post(
            &format!("/v1/rechecks/{task}"),
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ],
            json!({ "answer": answer }).to_string(),
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.text());
}

/// Four corrections a second apart (one corroborated by a re-check, one the delivered answer
/// again, one contradicted by a re-check, one still pending) and two reports that are no labels.
async fn corrected() -> TestApp {
    let app = TestApp::with_policy(with_rechecks()).await;
    let image = "550e8400-e29b-41d4-a716-446655440000";
    report(
        &app,
        ALICE_KEY,
        json!({ "task": "1001", "kind": "incorrect", "correction": "KWG9O" }),
    )
    .await;
    report(
        &app,
        ALICE_KEY,
        json!({ "task": "1002", "kind": "incorrect", "correction": "Seven Four One" }),
    )
    .await;
    report(
        &app,
        ALICE_KEY,
        json!({ "task": image, "kind": "incorrect", "correction": "Q7TRW" }),
    )
    .await;
    report(
        &app,
        BOB_KEY,
        json!({ "task": "2001", "kind": "incorrect", "correction": "HELL0" }),
    )
    .await;
    report(
        &app,
        ALICE_KEY,
        json!({ "task": "1013", "kind": "incorrect" }),
    )
    .await;
    report(
        &app,
        ALICE_KEY,
        json!({ "task": "1003", "kind": "correct" }),
    )
    .await;
    recheck(&app, "1001", "kwg9o").await;
    recheck(&app, image, "Q7TRV").await;
    app
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn field<'a>(rows: &'a [Value], name: &str) -> Vec<&'a Value> {
    rows.iter().map(|r| &r[name]).collect()
}

#[tokio::test]
async fn the_operator_gets_every_correction_as_json_lines_oldest_first() {
    let app = corrected().await;
    let reply = app.get("/v1/corrections", ADMIN).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/x-ndjson");
    let rows = lines(&reply.text());
    assert_eq!(
        field(&rows, "task"),
        [
            "1001",
            "1002",
            "550e8400-e29b-41d4-a716-446655440000",
            "2001"
        ]
    );
    assert_eq!(
        rows[0],
        json!({
            "task": "1001", "type": "image", "provider": "prov-a", "worker": "w-1",
            "answer": "KWG90", "correction": "KWG9O", "trust_weight": rows[0]["trust_weight"],
            "verdict": "accepted", "reason": "recheck_confirmed",
            "second_solve": "kwg9o", "third_solve": null, "label_confidence": "corroborated",
            "completed_at": T0.saturating_sub(Duration::from_secs(10)).to_rfc3339(),
            "reported_at": T0.to_rfc3339(),
        })
    );
    let weight = rows[0]["trust_weight"].as_f64().expect("a number");
    assert!((0.0..=1.0).contains(&weight), "{weight}");
    assert_eq!(
        field(&rows, "verdict"),
        ["accepted", "rejected", "rejected", "pending"]
    );
    assert_eq!(
        field(&rows, "reason"),
        [
            "recheck_confirmed",
            "correction_matches_answer",
            "recheck_refuted",
            "awaiting_recheck"
        ]
    );
    assert_eq!(
        field(&rows, "label_confidence"),
        ["corroborated", "unverified", "contradicted", "unverified"]
    );
    assert_eq!(
        field(&rows, "second_solve"),
        [&json!("kwg9o"), &Value::Null, &json!("Q7TRV"), &Value::Null]
    );
}

#[tokio::test]
async fn csv_holds_the_same_rows_under_a_header_row() {
    let app = corrected().await;
    let jsonl = lines(&app.get("/v1/corrections", ADMIN).await.text());
    let reply = app.get("/v1/corrections?format=csv", ADMIN).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers["content-type"],
        "text/csv; charset=utf-8; header=present"
    );
    let text = reply.text();
    assert!(text.ends_with("\r\n"), "RFC 4180 line ends");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, verdict_http::native::corrections::CSV_COLUMNS);
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), jsonl.len());
    for (record, row) in records.iter().zip(&jsonl) {
        for (name, value) in header.iter().zip(record.iter()) {
            let want = match &row[name] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(value, want, "{name} of {}", row["task"]);
        }
    }
}

#[tokio::test]
async fn filters_by_type_and_time_and_an_empty_export_is_only_its_header() {
    let app = corrected().await;
    let tasks = |text: String| -> Vec<String> {
        lines(&text)
            .iter()
            .map(|r| r["task"].as_str().unwrap().to_owned())
            .collect()
    };
    let audio = app.get("/v1/corrections?type=audio", ADMIN).await;
    assert_eq!(tasks(audio.text()), ["1002"]);
    let since = T0.saturating_add(Duration::from_secs(1)).to_rfc3339();
    let until = T0.saturating_add(Duration::from_secs(3)).to_rfc3339();
    let window = app
        .get(
            &format!("/v1/corrections?since={since}&until={until}"),
            ADMIN,
        )
        .await;
    assert_eq!(
        tasks(window.text()),
        ["1002", "550e8400-e29b-41d4-a716-446655440000"]
    );
    let none = app.get("/v1/corrections?type=hcaptcha", ADMIN).await;
    assert_eq!((none.status, none.text()), (StatusCode::OK, String::new()));
    let header_only = app
        .get("/v1/corrections?type=hcaptcha&format=csv", ADMIN)
        .await;
    assert_eq!(
        header_only.text(),
        format!(
            "{}\r\n",
            verdict_http::native::corrections::CSV_COLUMNS.join(",")
        )
    );
}

#[tokio::test]
async fn bad_filters_are_named_in_the_apis_error_shape() {
    let app = TestApp::new().await;
    for (query, named) in [
        ("since=yesterday", "since"),
        ("until=2027-13-01T00:00:00Z", "until"),
        ("type=captcha", "type"),
        ("format=xml", "format"),
    ] {
        let reply = app.get(&format!("/v1/corrections?{query}"), ADMIN).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(reply.json()["error"]["code"], "invalid_request", "{query}");
        assert!(reply.text().contains(named), "{query}: {}", reply.text());
    }
}

#[tokio::test]
async fn clients_may_not_export_even_their_own_corrections() {
    let app = corrected().await;
    for key in [ALICE_KEY, BOB_KEY] {
        let reply = app.get("/v1/corrections", key).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        assert!(!reply.text().contains("KWG9O") && !reply.text().contains("HELL0"));
    }
}
