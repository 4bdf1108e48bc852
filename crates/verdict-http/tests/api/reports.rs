//! `GET /v1/reports`: newest first, filtered, in pages; a client sees its own only.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN, ALICE_KEY, BOB_KEY, TestApp};

fn tasks(page: &Value) -> Vec<String> {
    page["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Alice reports three tasks through three dialects, a second apart; bob one of his own (2001,
/// an image task of the test world).
async fn reported() -> TestApp {
    let app = TestApp::new().await;
    let tick = || app.clock.advance(std::time::Duration::from_secs(1));
    let anti = app
        .post_json(
            "/reportIncorrectImageCaptcha",
            &json!({ "clientKey": ALICE_KEY, "taskId": 1001 }),
        )
        .await;
    assert_eq!(anti.json()["errorId"], 0, "{}", anti.text());
    tick();
    let v2 = app
        .post_json(
            "/reportCorrect",
            &json!({ "clientKey": ALICE_KEY, "taskId": 1003 }),
        )
        .await;
    assert_eq!(v2.json()["errorId"], 0, "{}", v2.text());
    tick();
    let native = app
        .post_json_as(
            "/v1/reports",
            ALICE_KEY,
            &json!({ "task": "1013", "kind": "incorrect" }),
        )
        .await;
    assert_eq!(native.status, StatusCode::CREATED, "{}", native.text());
    tick();
    let bobs = app
        .post_json_as(
            "/v1/reports",
            BOB_KEY,
            &json!({ "task": "2001", "kind": "correct" }),
        )
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED, "{}", bobs.text());
    app
}

#[tokio::test]
async fn the_operator_lists_every_report_newest_first_and_filters_them() {
    let app = reported().await;
    let all = app.get("/v1/reports", ADMIN).await;
    assert_eq!(all.status, StatusCode::OK);
    let all = all.json();
    assert_eq!(tasks(&all), ["2001", "1013", "1003", "1001"]);
    assert_eq!(all["next_cursor"], Value::Null);
    let first = &all["reports"][3];
    assert_eq!(first["report"]["dialect"], "anticaptcha");
    assert_eq!(first["task"]["type"], "image");
    assert!(first["report"]["verdict"].is_string() && first["report"]["reason"].is_string());

    for (query, want) in [
        ("account=2", vec!["2001"]),
        ("account=1&dialect=twocaptcha_v2", vec!["1003"]),
        ("verdict=acknowledged", vec!["2001", "1003"]),
        ("type=image", vec!["2001", "1013", "1001"]),
        ("reason=positive_feedback", vec!["2001", "1003"]),
    ] {
        let page = app.get(&format!("/v1/reports?{query}"), ADMIN).await.json();
        assert_eq!(tasks(&page), want, "{query}");
    }
    let since = crate::support::T0
        .saturating_add(std::time::Duration::from_secs(1))
        .to_rfc3339();
    let until = crate::support::T0
        .saturating_add(std::time::Duration::from_secs(3))
        .to_rfc3339();
    let window = app
        .get(&format!("/v1/reports?since={since}&until={until}"), ADMIN)
        .await
        .json();
    assert_eq!(tasks(&window), ["1013", "1003"]);
}

#[tokio::test]
async fn pages_follow_their_cursor_to_the_end() {
    let app = reported().await;
    let mut seen = Vec::new();
    let mut path = "/v1/reports?limit=1".to_owned();
    for _ in 0..10 {
        let page = app.get(&path, ADMIN).await.json();
        seen.extend(tasks(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/reports?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["2001", "1013", "1003", "1001"]);
}

#[tokio::test]
async fn a_client_sees_its_own_reports_only() {
    let app = reported().await;
    let alice = app.get("/v1/reports", ALICE_KEY).await.json();
    assert_eq!(tasks(&alice), ["1013", "1003", "1001"]);
    let bob = app.get("/v1/reports", BOB_KEY).await.json();
    assert_eq!(tasks(&bob), ["2001"]);
    let prying = app.get("/v1/reports?account=1", BOB_KEY).await;
    assert_eq!(prying.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/v1/reports", "").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_filters_are_named() {
    let app = TestApp::new().await;
    for (query, named) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=not-ours", "cursor"),
        ("since=yesterday", "since"),
        ("verdict=maybe", "verdict"),
        ("type=captcha", "type"),
        ("account=x", "account"),
    ] {
        let reply = app.get(&format!("/v1/reports?{query}"), ADMIN).await;
        assert!(reply.status.is_client_error(), "{query}: {}", reply.status);
        assert!(reply.text().contains(named), "{query}: {}", reply.text());
    }
}
