//! One scenario through every dialect yields the same ledger and the same verdicts: the dialects
//! differ only in their bytes.

use verdict_domain::{Amount, TaskId};

use crate::support::{ALICE, ALICE_KEY, BOB, TestApp};

/// The scenario, as (task, key) pairs: two good reports, a retry, an expired task, another
/// account's task, an unknown id.
const SCENARIO: &[(&str, &str)] = &[
    ("1001", ALICE_KEY),
    ("550e8400-e29b-41d4-a716-446655440000", ALICE_KEY),
    ("1001", ALICE_KEY),
    ("1012", ALICE_KEY),
    ("2001", ALICE_KEY),
    ("424242", ALICE_KEY),
];

async fn report(app: &TestApp, dialect: &str, task: &str, key: &str) {
    let json_id = match task.parse::<u64>() {
        Ok(n) => serde_json::json!(n),
        Err(_) => serde_json::json!(task),
    };
    let reply = match dialect {
        "captchafun" => {
            app.post(&format!("/v1/report/{task}"), &[("API_KEY", key)], "")
                .await
        }
        "decaptcha" => {
            let body = serde_json::json!({ "captchaGUID": task });
            app.post(
                "/api/report",
                &[("x-api-key", key), ("content-type", "application/json")],
                body.to_string(),
            )
            .await
        }
        "anticaptcha" => {
            app.post_json(
                "/reportIncorrectImageCaptcha",
                &serde_json::json!({ "clientKey": key, "taskId": json_id }),
            )
            .await
        }
        "ucaptcha" => {
            let body = serde_json::json!({ "clientKey": key, "taskId": task, "result": { "invalid": true, "message": "bad" } });
            app.post_json("/feedbackTask", &body).await
        }
        "native" => {
            let body = serde_json::json!({ "task": task, "kind": "incorrect" }).to_string();
            app.post(
                "/v1/reports",
                &[
                    ("authorization", &format!("Bearer {key}")),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await
        }
        other => panic!("no dialect {other}"),
    };
    assert!(
        reply.status.as_u16() < 500,
        "{dialect}: {} {}",
        reply.status,
        reply.text()
    );
}

/// What the scenario left behind: ledgers, balances and each task's verdict.
async fn outcome(
    app: &TestApp,
) -> (
    Vec<(String, Amount)>,
    Amount,
    Amount,
    Vec<Option<(String, String)>>,
) {
    let mut verdicts = Vec::new();
    for (task, _) in SCENARIO {
        let found = app
            .engine
            .task(&TaskId::parse(task).unwrap())
            .await
            .unwrap();
        verdicts.push(
            found
                .and_then(|(_, r)| r)
                .map(|r| (r.verdict.as_str().to_owned(), r.reason.code().to_owned())),
        );
    }
    (
        app.ledger(ALICE).await,
        app.balance(ALICE).await,
        app.balance(BOB).await,
        verdicts,
    )
}

#[tokio::test]
async fn every_dialect_leaves_the_same_ledger_and_verdicts() {
    let mut results = Vec::new();
    for dialect in [
        "captchafun",
        "decaptcha",
        "anticaptcha",
        "ucaptcha",
        "native",
    ] {
        let app = TestApp::new().await;
        for (task, key) in SCENARIO {
            report(&app, dialect, task, key).await;
        }
        results.push((dialect, outcome(&app).await));
    }
    let (first_dialect, expected) = &results[0];
    assert_eq!(
        expected.0,
        vec![
            ("1001".to_owned(), Amount::from_micros(1_000)),
            (SCENARIO[1].0.to_owned(), Amount::from_micros(1_000))
        ],
        "{first_dialect}"
    );
    assert_eq!(expected.1, Amount::from_micros(2_000));
    assert_eq!(expected.2, Amount::ZERO);
    for (dialect, got) in &results[1..] {
        assert_eq!(got, expected, "{dialect} differs from {first_dialect}");
    }
}
