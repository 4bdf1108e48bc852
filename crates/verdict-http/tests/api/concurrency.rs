//! Concurrent reports through the real router: whatever the interleaving, one report and one
//! refund per task, and balances equal to their ledgers.

use std::sync::Arc;

use axum::http::StatusCode;
use verdict_domain::{Amount, TaskId};

use crate::support::{ALICE, ALICE_KEY, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_identical_and_conflicting_reports_give_one_refund() {
    let app = Arc::new(TestApp::new().await);
    let mut handles = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            // Identical incorrect-reports through three dialects, and conflicting positive ones.
            let reply = match i % 5 {
                0 => app.post("/v1/report/1003", &[("API_KEY", ALICE_KEY)], "").await,
                1 | 2 => {
                    app.post_json(
                        "/reportIncorrectRecaptcha",
                        &serde_json::json!({ "clientKey": ALICE_KEY, "taskId": 1003 }),
                    )
                    .await
                }
                3 => {
                    app.post_json(
                        "/feedbackTask",
                        &serde_json::json!({ "clientKey": ALICE_KEY, "taskId": "1003", "result": { "invalid": true } }),
                    )
                    .await
                }
                _ => {
                    app.post_json(
                        "/reportCorrectRecaptcha",
                        &serde_json::json!({ "clientKey": ALICE_KEY, "taskId": 1003 }),
                    )
                    .await
                }
            };
            assert!(reply.status != StatusCode::INTERNAL_SERVER_ERROR, "{}", reply.text());
            reply
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let (_, report) = app
        .engine
        .task(&TaskId::parse("1003").unwrap())
        .await
        .unwrap()
        .unwrap();
    let report = report.expect("one report stands");
    let ledger = app.ledger(ALICE).await;
    match report.kind {
        verdict_domain::ReportKind::Incorrect => {
            assert_eq!(
                ledger,
                vec![("1003".to_owned(), Amount::from_micros(2_000))]
            );
        }
        verdict_domain::ReportKind::Correct => assert!(ledger.is_empty()),
    }
    app.balance(ALICE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_reported_at_once_are_each_refunded_once() {
    let app = Arc::new(TestApp::new().await);
    let ids = [
        "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010",
    ];
    let mut handles = Vec::new();
    for round in 0..4 {
        for id in ids {
            let app = app.clone();
            handles.push(tokio::spawn(async move {
                let body = serde_json::json!({ "task": id, "kind": "incorrect" }).to_string();
                let auth = format!("Bearer {ALICE_KEY}");
                let reply = app
                    .post(
                        "/v1/reports",
                        &[
                            ("authorization", auth.as_str()),
                            ("content-type", "application/json"),
                        ],
                        body,
                    )
                    .await;
                assert!(
                    reply.status.is_success(),
                    "round {round} {id}: {} {}",
                    reply.status,
                    reply.text()
                );
            }));
        }
    }
    for h in handles {
        h.await.unwrap();
    }
    let ledger = app.ledger(ALICE).await;
    assert_eq!(ledger.len(), ids.len());
    let expected: Amount = [
        "0.001", "0.002", "0.002", "0.0025", "0.003", "0.003", "0.0015", "0.004", "0.003", "0.001",
    ]
    .iter()
    .map(|a| Amount::parse(a).unwrap())
    .sum();
    assert_eq!(app.balance(ALICE).await, expected);
}
