//! One scenario through every dialect yields the same ledger and the same verdicts: the dialects
//! differ only in their bytes. No single captcha family can be reported through every endpoint
//! (CapMonster's method takes tokens only, decaptcha's text and audio only), so there are two
//! scenarios, each run through every dialect that takes its family.

use verdict_domain::{Amount, TaskId};

use crate::support::{ALICE, ALICE_KEY, BOB, TestApp};

/// Two good reports, a retry, a task past every dialect's window, another account's task, and an
/// id no task has. All numeric, so that integer-only dialects can carry them.
const IMAGE_SCENARIO: [&str; 6] = ["1001", "1013", "1001", "1012", "2001", "424242"];
const TOKEN_SCENARIO: [&str; 6] = ["1003", "1006", "1003", "1014", "2002", "424242"];

async fn report(app: &TestApp, dialect: &str, task: &str, token: bool) {
    let n: u64 = task.parse().unwrap();
    let key = ALICE_KEY;
    let json = |body: serde_json::Value| body.to_string();
    let reply = match dialect {
        "captchafun" => {
            app.post(&format!("/v1/report/{task}"), &[("API_KEY", key)], "")
                .await
        }
        "decaptcha" => {
            let body = json(serde_json::json!({ "captchaGUID": task }));
            app.post(
                "/api/report",
                &[("x-api-key", key), ("content-type", "application/json")],
                body,
            )
            .await
        }
        "anticaptcha" => {
            let method = match (token, task) {
                (false, _) => "/reportIncorrectImageCaptcha",
                (true, "1006") => "/reportIncorrectHcaptcha",
                (true, _) => "/reportIncorrectRecaptcha",
            };
            app.post_json(
                method,
                &serde_json::json!({ "clientKey": key, "taskId": n }),
            )
            .await
        }
        "twocaptcha_v2" => {
            app.post_json(
                "/reportIncorrect",
                &serde_json::json!({ "clientKey": key, "taskId": n }),
            )
            .await
        }
        "capmonster" => {
            app.post_json(
                "/reportIncorrectTokenCaptcha",
                &serde_json::json!({ "clientKey": key, "taskId": n }),
            )
            .await
        }
        "twocaptcha" => {
            app.get(
                &format!("/res.php?key={key}&action=reportbad&id={task}"),
                "",
            )
            .await
        }
        "ucaptcha" | "capsolver" | "regotcha" => {
            let result = match dialect {
                "ucaptcha" => serde_json::json!({ "invalid": true, "message": "bad" }),
                "capsolver" => serde_json::json!({ "invalid": true, "code": 1001 }),
                _ => serde_json::json!({ "valid": false }),
            };
            let mut body =
                serde_json::json!({ "clientKey": key, "taskId": task, "result": result });
            if dialect == "capsolver" {
                body["appId"] = serde_json::json!("APP");
            }
            app.post_json("/feedbackTask", &body).await
        }
        "deathbycaptcha" => {
            let form = format!("authtoken={key}");
            app.post(
                &format!("/api/captcha/{task}/report"),
                &[("content-type", "application/x-www-form-urlencoded")],
                form,
            )
            .await
        }
        "native" => {
            let body = json(serde_json::json!({ "task": task, "kind": "incorrect" }));
            let auth = format!("Bearer {key}");
            app.post(
                "/v1/reports",
                &[
                    ("authorization", auth.as_str()),
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

type Outcome = (
    Vec<(String, Amount)>,
    Amount,
    Amount,
    Vec<Option<(String, String)>>,
);

/// What a scenario left behind: ledgers, balances and each task's verdict.
async fn outcome(app: &TestApp, scenario: &[&str]) -> Outcome {
    let mut verdicts = Vec::new();
    for task in scenario {
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

async fn run(dialects: &[&str], scenario: &[&str], token: bool) -> Vec<(String, Outcome)> {
    let mut results = Vec::new();
    for dialect in dialects {
        let app = TestApp::new().await;
        for task in scenario {
            report(&app, dialect, task, token).await;
        }
        results.push(((*dialect).to_owned(), outcome(&app, scenario).await));
    }
    results
}

fn assert_all_equal(results: &[(String, Outcome)], ledger: Vec<(&str, i64)>) {
    let (first, expected) = &results[0];
    let want: Vec<(String, Amount)> = ledger
        .into_iter()
        .map(|(t, m)| (t.to_owned(), Amount::from_micros(m)))
        .collect();
    assert_eq!(expected.0, want, "{first}");
    assert_eq!(expected.2, Amount::ZERO, "bob was never refunded");
    for (dialect, got) in &results[1..] {
        assert_eq!(got, expected, "{dialect} differs from {first}");
    }
}

#[tokio::test]
async fn every_dialect_leaves_the_same_ledger_for_image_reports() {
    let dialects = [
        "captchafun",
        "decaptcha",
        "anticaptcha",
        "twocaptcha",
        "twocaptcha_v2",
        "ucaptcha",
        "capsolver",
        "regotcha",
        "deathbycaptcha",
        "native",
    ];
    let results = run(&dialects, &IMAGE_SCENARIO, false).await;
    assert_all_equal(&results, vec![("1001", 1_000), ("1013", 1_000)]);
}

#[tokio::test]
async fn every_dialect_leaves_the_same_ledger_for_token_reports() {
    let dialects = [
        "captchafun",
        "anticaptcha",
        "twocaptcha",
        "twocaptcha_v2",
        "capmonster",
        "ucaptcha",
        "capsolver",
        "regotcha",
        "deathbycaptcha",
        "native",
    ];
    let results = run(&dialects, &TOKEN_SCENARIO, true).await;
    assert_all_equal(&results, vec![("1003", 2_000), ("1006", 3_000)]);
}
