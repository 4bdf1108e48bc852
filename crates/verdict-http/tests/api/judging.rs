//! Statistical judging through the wire: what each dialect tells an abusive client, what the
//! native API shows the operator, what operators can change, and re-checks end to end.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use verdict_domain::{Policy, TaskInput};

use crate::support::{ADMIN, ALICE_KEY, T0, TestApp};

const MALLORY_KEY: &str = "ma11ory8e2f4a9c1d7b3e5f60a8c2d4";

/// A new account, mallory.
async fn mallory(app: &TestApp) -> i64 {
    let (account, _) = app
        .engine
        .create_account(
            "mallory".into(),
            false,
            Some(verdict_domain::ApiKey::parse(MALLORY_KEY).unwrap()),
        )
        .await
        .unwrap();
    account.id.0
}

/// A reCAPTCHA task `id` of `account`, completed `ago` seconds before now.
fn recaptcha_task(app: &TestApp, account: i64, id: String, ago: u64) -> TaskInput {
    TaskInput {
        id: Some(id),
        account: Some(account.to_string()),
        captcha_type: Some("recaptcha_v2".into()),
        provider: Some("p".into()),
        worker: None,
        answer: Some("t".into()),
        cost: Some("0.002".into()),
        completed_at: Some(
            app.engine
                .now()
                .saturating_sub(Duration::from_secs(ago))
                .to_rfc3339(),
        ),
    }
}

/// One more solved reCAPTCHA task for mallory, `m-{i}`, completed just now.
async fn solve(app: &TestApp, account: i64, i: usize) {
    let record = recaptcha_task(app, account, format!("m-{i}"), 5);
    assert_eq!(
        app.engine.ingest(vec![Ok(record)]).await.unwrap().inserted,
        1
    );
}

/// Mallory reports `task` incorrect through anti-captcha, which acknowledges every complaint it
/// records whatever the verdict; returns the report as the native API shows it.
async fn mallory_reports(app: &TestApp, task: &str) -> Value {
    let reply = app
        .post_json(
            "/reportIncorrectRecaptcha",
            &json!({ "clientKey": MALLORY_KEY, "taskId": task }),
        )
        .await;
    assert_eq!(reply.text(), r#"{"errorId":0,"status":"success"}"#);
    report_native_view(app, task).await
}

/// The account's ledger as the native API shows it.
async fn ledger_of(app: &TestApp, account: i64) -> Value {
    app.get(&format!("/v1/accounts/{account}/ledger"), ADMIN)
        .await
        .json()
}

/// The ledger's entries of `kind` (`refund`, `reversal`), in its order.
fn entries_of<'a>(ledger: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> {
    ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |e| e["kind"] == kind)
}

async fn report_native_view(app: &TestApp, task: &str) -> Value {
    app.get(&format!("/v1/tasks/{task}"), ADMIN).await.json()["report"].clone()
}

#[tokio::test]
async fn an_always_report_script_is_ignored_within_its_first_tasks_and_each_dialect_says_so_its_way()
 {
    let app = TestApp::new().await;
    let id = mallory(&app).await;
    let mut flagged_at = None;
    let mut clawback_since = String::new();
    // A script that reports every token it gets, as it gets it.
    for i in 0..30 {
        app.clock.advance(Duration::from_secs(30));
        solve(&app, id, i).await;
        let report = mallory_reports(&app, &format!("m-{i}")).await;
        if report["reason"] == "rate_above_cohort" && flagged_at.is_none() {
            flagged_at = Some(i);
            let screen = &report["evidence"]["screen"];
            assert_eq!(report["evidence"]["lane"], "fast");
            assert!(
                screen["fast_lane"]["p_value"].as_f64().unwrap() < 1e-9,
                "{screen}"
            );
            assert_eq!(screen["cohort_rate"], 0.1);
            clawback_since = report["evidence"]["clawback_since"]
                .as_str()
                .unwrap()
                .to_owned();
        }
    }
    // The fast lane needs 20 tasks in 6 h; with the default prior (no trusted cohort yet),
    // 20 reports of 20 tasks is p = 3e-10 < 1e-9: flagged at the 20th.
    assert_eq!(flagged_at, Some(19));
    // Before that, probation held refunds within what 99 % of accounts like the cohort stay
    // within: for the default prior Beta(2, 18), 1 of 1 task, 2 of 2, 3 of 5, 4 of 7, 5 of 10,
    // 6 of 13, 7 of 17 (scipy.stats.betabinom.ppf(0.99, n, 2, 18)).
    let ledger = ledger_of(&app, id).await;
    let tasks_of = |kind| -> Vec<&str> {
        let mut tasks: Vec<&str> = entries_of(&ledger, kind)
            .map(|e| e["task"].as_str().unwrap())
            .collect();
        tasks.sort_by_key(|t| t[2..].parse::<u32>().unwrap());
        tasks
    };
    let refunded = ["m-0", "m-1", "m-4", "m-6", "m-9", "m-12", "m-16"];
    assert_eq!(tasks_of("refund"), refunded, "{ledger}");
    // Clawback (the default): the verdict says since when; the script reported from its first
    // task, so that is before every one of those refunds, and each is reversed.
    let first_refund_at = entries_of(&ledger, "refund")
        .map(|e| e["at"].as_str().unwrap())
        .min()
        .unwrap();
    assert!(
        clawback_since.as_str() <= first_refund_at,
        "{clawback_since} {ledger}"
    );
    assert_eq!(tasks_of("reversal"), refunded, "{ledger}");
    assert!(
        entries_of(&ledger, "reversal").all(|e| e["lane"] == "fast"),
        "{ledger}"
    );
    assert!(
        entries_of(&ledger, "refund").all(|e| e["lane"].is_null()),
        "{ledger}"
    );
    // Each task tells the truth about the money: a reversed refund shows as kept at nothing,
    // with when, why and by which lane it was taken back, and the tasks' refunds add up to the
    // balance.
    let mut kept = 0.0;
    for i in 0..30 {
        let report = report_native_view(&app, &format!("m-{i}")).await;
        if let Some(refund) = report["refund"].as_str() {
            kept += refund.parse::<f64>().unwrap();
        }
        if refunded.contains(&format!("m-{i}").as_str()) {
            assert_eq!(report["refund"], "0.00", "m-{i}: {report}");
            assert_eq!(report["refund_granted"], "0.002", "m-{i}: {report}");
            let reversal = &report["reversal"];
            assert_eq!(reversal["amount"], "-0.002", "m-{i}: {report}");
            assert!(reversal["at"].as_str().unwrap() > first_refund_at);
            let why = reversal["reason"].as_str().unwrap();
            assert!(
                why.starts_with("the fast lane flagged the account: "),
                "{why}"
            );
            assert_eq!(reversal["lane"], "fast", "m-{i}: {report}");
        } else {
            assert!(report.get("reversal").is_none(), "m-{i}: {report}");
        }
    }
    let balance: f64 = app.get(&format!("/v1/accounts/{id}"), ADMIN).await.json()["balance"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(kept, balance);
    // Reporting a reversed task again through the native API repeats the decision with the
    // money as it now stands.
    let again = app
        .post(
            "/v1/reports",
            &[
                ("authorization", &format!("Bearer {MALLORY_KEY}")),
                ("content-type", "application/json"),
            ],
            json!({ "task": "m-0", "kind": "incorrect" }).to_string(),
        )
        .await
        .json();
    assert_eq!(again["repeat"], true, "{again}");
    assert_eq!(again["report"]["refund"], "0.00", "{again}");
    assert_eq!(again["report"]["refund_granted"], "0.002", "{again}");
    assert_eq!(again["report"]["reversal"]["amount"], "-0.002", "{again}");

    let account = app.get(&format!("/v1/accounts/{id}"), ADMIN).await.json();
    assert_eq!(account["standing"]["state"], "ignored");
    let reason = account["standing"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("recaptcha tasks") && reason.contains("p = "),
        "{reason}"
    );
    assert_eq!(account["ignore_history"]["periods"], 1);

    // 2captcha answers a report from an ignored account as not recorded; the report is still
    // stored, rejected, with the reason.
    solve(&app, id, 35).await;
    let reply = app
        .post_json(
            "/reportIncorrect",
            &json!({ "clientKey": MALLORY_KEY, "taskId": "m-35" }),
        )
        .await;
    assert_eq!(reply.json()["errorCode"], "ERROR_REPORT_NOT_RECORDED");
    assert_eq!(
        report_native_view(&app, "m-35").await["reason"],
        "account_ignored"
    );
}

/// The same always-report script on an account the operator trusts: the operator's word
/// stands (every report upheld, nothing clawed back), and the account view shows what the
/// screen found; with `screen_trusted` it is stopped like anyone else.
#[tokio::test]
async fn a_trusted_always_report_account_keeps_its_refunds_and_the_operator_sees_the_flag() {
    async fn run(policy: Policy) -> (Value, Value) {
        let app = TestApp::with_policy(policy).await;
        let id = mallory(&app).await;
        app.engine
            .set_trusted(verdict_domain::AccountId(id), true)
            .await
            .unwrap();
        for i in 0..30 {
            app.clock.advance(Duration::from_secs(30));
            solve(&app, id, i).await;
            mallory_reports(&app, &format!("m-{i}")).await;
        }
        let account = app.get(&format!("/v1/accounts/{id}"), ADMIN).await.json();
        (account, ledger_of(&app, id).await)
    }

    let (account, ledger) = run(Policy::default()).await;
    assert_eq!(account["standing"]["state"], "good", "{account}");
    assert_eq!(account["balance"], "0.06", "30 refunds of 0.002: {account}");
    assert_eq!(entries_of(&ledger, "refund").count(), 30);
    assert_eq!(entries_of(&ledger, "reversal").count(), 0);
    let flag = &account["screen_flag"];
    assert_eq!(flag["lane"], "fast", "{account}");
    assert!(
        flag["reason"].as_str().unwrap().contains("recaptcha tasks"),
        "{flag}"
    );
    assert!(flag["at"].is_string(), "{flag}");

    let (account, ledger) = run(Policy {
        screen_trusted: true,
        ..Policy::default()
    })
    .await;
    assert_eq!(account["standing"]["state"], "ignored", "{account}");
    assert_eq!(account["screen_flag"], Value::Null);
    assert!(entries_of(&ledger, "reversal").count() > 0, "{ledger}");
}

#[tokio::test]
async fn operators_mark_trust_and_impose_or_lift_an_ignore_period() {
    let app = TestApp::new().await;
    let auth = format!("Bearer {ADMIN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let reply = app
        .send(
            axum::http::Request::patch("/v1/accounts/1")
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(r#"{"trusted":true}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()["trusted"].clone()),
        (StatusCode::OK, json!(true))
    );

    let put = |body: Value| {
        axum::http::Request::put("/v1/accounts/1/standing")
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let imposed = app
        .send(put(
            json!({ "state": "ignored", "for": "2d", "reason": "chargeback review" }),
        ))
        .await
        .json();
    assert_eq!(imposed["standing"]["state"], "ignored");
    assert_eq!(
        imposed["standing"]["until"],
        T0.saturating_add(Duration::from_secs(2 * 86_400))
            .to_rfc3339()
    );
    assert_eq!(
        imposed["standing"]["reason"],
        "by an operator: chargeback review"
    );

    // While ignored, alice's token reports are rejected with that reason.
    let reply = app
        .post(
            "/v1/reports",
            &[
                ("authorization", &format!("Bearer {ALICE_KEY}")),
                ("content-type", "application/json"),
            ],
            json!({ "task": "1003", "kind": "incorrect" }).to_string(),
        )
        .await;
    assert_eq!(reply.json()["report"]["reason"], "account_ignored");

    let lifted = app.send(put(json!({ "state": "good" }))).await.json();
    assert_eq!(lifted["standing"]["state"], "good");
    for (body, why) in [
        (
            json!({ "state": "ignored", "reason": "x" }),
            "neither until nor for",
        ),
        (json!({ "state": "ignored", "for": "2d" }), "no reason"),
        (
            json!({ "state": "ignored", "until": "2020-01-01T00:00:00Z", "reason": "x" }),
            "in the past",
        ),
        (json!({ "state": "asleep" }), "unknown state"),
    ] {
        let reply = app.send(put(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {}",
            reply.text()
        );
    }
    let as_client = app.post("/v1/accounts/1/standing", &headers, "{}").await;
    assert_eq!(as_client.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_cohort_endpoint_shows_the_default_prior_until_one_is_fitted() {
    let app = TestApp::new().await;
    let cohort = app.get("/v1/cohort", ADMIN).await.json();
    let recaptcha = &cohort["families"]["recaptcha"];
    assert_eq!(
        (recaptcha["fitted"].clone(), recaptcha["mean"].clone()),
        (json!(false), json!(0.1))
    );
    assert_eq!(recaptcha["basis"], "default");
    assert_eq!(cohort["families"].as_object().unwrap().len(), 8);
    assert_eq!(
        app.get("/v1/cohort", ALICE_KEY).await.status,
        StatusCode::FORBIDDEN
    );

    // Three trusted accounts with 300 reCAPTCHA tokens, 30 reported: too few to measure their
    // spread, enough for a pooled prior, estimated as the data arrives.
    for n in 0..3 {
        let (account, key) = app
            .engine
            .create_account(format!("trusted-{n}"), true, None)
            .await
            .unwrap();
        let records = (0..100)
            .map(|k| Ok(recaptcha_task(&app, account.id.0, format!("c{n}-{k}"), 10)))
            .collect();
        app.engine.ingest(records).await.unwrap();
        for k in 0..10 {
            let reply = app
                .post_json(
                    "/reportIncorrectRecaptcha",
                    &json!({ "clientKey": key.expose(), "taskId": format!("c{n}-{}", k * 10) }),
                )
                .await;
            assert_eq!(reply.json()["errorId"], 0);
        }
    }
    // The next ingest after the data grew refits it.
    let records = (0..200)
        .map(|k| Ok(recaptcha_task(&app, 1, format!("late-{k}"), 10)))
        .collect();
    app.engine.ingest(records).await.unwrap();
    let recaptcha = app.get("/v1/cohort", ADMIN).await.json()["families"]["recaptcha"].clone();
    assert_eq!(recaptcha["basis"], "pooled_trusted", "{recaptcha}");
    assert_eq!(recaptcha["fitted"], true);
    assert_eq!(recaptcha["accounts"], 3);
    assert!(
        (recaptcha["mean"].as_f64().unwrap() - 0.1).abs() < 1e-9,
        "{recaptcha}"
    );
    // The configured spread: a concentration of 60 at a 10 % rate.
    assert!(
        (recaptcha["a"].as_f64().unwrap() - 6.0).abs() < 1e-9,
        "{recaptcha}"
    );
    assert!(recaptcha["why"].as_str().unwrap().contains("pooled"));
}

async fn answer_for(app: &TestApp, task: &str, answer: &str) -> crate::support::Reply {
    let auth = format!("Bearer {ADMIN}");
    let body = json!({ "answer": answer }).to_string();
    let path = format!("/v1/rechecks/{task}");
    app.post(
        &path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
}

fn with_rechecks() -> Policy {
    let mut policy = verdict_http::default_policy();
    policy.rechecks.enabled = true;
    policy.rechecks.sample_rate = 1.0;
    policy
}

#[tokio::test]
async fn image_reports_wait_for_a_second_solve_which_settles_them() {
    let app = TestApp::with_policy(with_rechecks()).await;
    let reply = app
        .post("/v1/report/1001", &[("API_KEY", ALICE_KEY)], "")
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "received: captcha.fun answers on receipt"
    );
    let pending = report_native_view(&app, "1001").await;
    assert_eq!(
        (pending["verdict"].clone(), pending["refund"].clone()),
        (json!("pending"), Value::Null)
    );
    let decaptcha = app
        .post(
            "/api/report",
            &[
                ("x-api-key", ALICE_KEY),
                ("content-type", "application/json"),
            ],
            r#"{"captchaGUID":"1013","correction":"ZZ9Q"}"#,
        )
        .await;
    // The correction equals the answer: rejected at once, no second solve needed.
    assert_eq!(decaptcha.status, StatusCode::BAD_REQUEST);
    app.post(
        "/v1/report/550e8400-e29b-41d4-a716-446655440000",
        &[("API_KEY", ALICE_KEY)],
        "",
    )
    .await;

    let first = app.get("/v1/rechecks/next", ADMIN).await;
    let item = first.json();
    assert_eq!(item["task"]["id"], "1001");
    assert!(
        item["task"].get("answer").is_none(),
        "the second solve must not see the first answer"
    );
    let second = app.get("/v1/rechecks/next", ADMIN).await.json();
    assert_eq!(
        second["task"]["id"], "550e8400-e29b-41d4-a716-446655440000",
        "the first is held"
    );
    assert_eq!(
        app.get("/v1/rechecks/next", ADMIN).await.status,
        StatusCode::NO_CONTENT
    );

    // A different answer: the first was wrong; upheld and refunded.
    let settled = answer_for(&app, "1001", "KWG9O").await.json();
    assert_eq!(
        (
            settled["report"]["verdict"].clone(),
            settled["report"]["reason"].clone()
        ),
        (json!("accepted"), json!("recheck_confirmed"))
    );
    assert_eq!(settled["report"]["refund"], "0.001");
    // The same answer: the first was right; rejected.
    let refuted = answer_for(&app, "550e8400-e29b-41d4-a716-446655440000", " q7trv ")
        .await
        .json();
    assert_eq!(refuted["report"]["reason"], "recheck_refuted");
    assert_eq!(refuted["report"]["refund"], Value::Null);
    let again = answer_for(&app, "1001", "KWG9O").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        answer_for(&app, "2001", "x").await.status,
        StatusCode::NOT_FOUND
    );
    let ledger = app.get("/v1/accounts/1/ledger", ADMIN).await.json();
    assert_eq!(ledger["balance"], "0.001");
}

#[tokio::test]
async fn a_solve_agreeing_with_neither_answer_nor_correction_asks_for_one_more() {
    let app = TestApp::with_policy(with_rechecks()).await;
    let reply = app
        .post(
            "/api/report",
            &[
                ("x-api-key", ALICE_KEY),
                ("content-type", "application/json"),
            ],
            r#"{"captchaGUID":"1013","correction":"ZZ9R"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let item = app.get("/v1/rechecks/next", ADMIN).await.json();
    assert_eq!(item["task"]["id"], "1013");
    assert_eq!(item["report"]["correction"], "ZZ9R");

    let unclear = answer_for(&app, "1013", "AB12").await;
    assert_eq!(unclear.status, StatusCode::ACCEPTED);
    let unclear = unclear.json();
    assert_eq!(unclear["another_solve"], true);
    assert_eq!(unclear["report"]["verdict"], "pending");
    assert_eq!(
        unclear["report"]["evidence"]["recheck"]["answers"],
        json!(["AB12"])
    );
    let again = app.get("/v1/rechecks/next", ADMIN).await.json();
    assert_eq!(again["task"]["id"], "1013", "queued for one more solve");

    let settled = answer_for(&app, "1013", "zz9r").await;
    assert_eq!(settled.status, StatusCode::OK);
    let settled = settled.json();
    assert_eq!(settled["another_solve"], false);
    assert_eq!(
        (
            settled["report"]["verdict"].clone(),
            settled["report"]["reason"].clone()
        ),
        (json!("accepted"), json!("recheck_confirmed"))
    );
    assert_eq!(
        settled["report"]["evidence"]["recheck"]["answers"],
        json!(["AB12", "zz9r"])
    );
}

#[tokio::test]
async fn a_report_nobody_rechecks_in_time_settles_by_the_default() {
    let app = TestApp::with_policy(with_rechecks()).await;
    app.post("/v1/report/1001", &[("API_KEY", ALICE_KEY)], "")
        .await;
    assert_eq!(
        app.engine.settle_overdue_rechecks().await.unwrap(),
        0,
        "not yet due"
    );
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(app.engine.settle_overdue_rechecks().await.unwrap(), 1);
    let report = report_native_view(&app, "1001").await;
    assert_eq!(
        (report["verdict"].clone(), report["reason"].clone()),
        (json!("accepted"), json!("recheck_timed_out"))
    );
    assert_eq!(report["evidence"]["recheck"]["timed_out"], true);
}

/// `n` solved reCAPTCHA tasks for `account`, `{prefix}-{k}`, completed in the last seconds.
async fn solve_batch(app: &TestApp, account: i64, prefix: &str, n: usize) {
    let records = (0..n)
        .map(|k| {
            Ok(recaptcha_task(
                app,
                account,
                format!("{prefix}-{k}"),
                (n - k) as u64,
            ))
        })
        .collect();
    assert_eq!(app.engine.ingest(records).await.unwrap().inserted, n);
}

#[tokio::test]
async fn a_few_percent_more_reports_than_the_accounts_own_history_is_caught_by_the_drift_lane() {
    // The lane is opt-in (docs/simulation.md says why); this operator turned it on.
    let mut policy = Policy::default();
    policy.screen.drift_lane = true;
    let app = TestApp::with_policy(policy).await;
    let id = mallory(&app).await;
    // Ten days at 10 % of 20 tasks an hour, then 17.5 %: within what honest accounts differ
    // by, and never much in any 72 h window, but a rise that keeps going.
    let rise_from = 10 * 24;
    let mut flagged = None;
    for hour in 0..16 * 24 {
        app.clock.advance(Duration::from_secs(3600));
        let prefix = format!("d{hour}");
        solve_batch(&app, id, &prefix, 20).await;
        let reports = match hour {
            h if h < rise_from => 2,
            h if h % 2 == 0 => 3,
            _ => 4,
        };
        for k in 0..reports {
            let report = mallory_reports(&app, &format!("{prefix}-{k}")).await;
            if report["reason"] == "rate_above_own_history" {
                flagged = Some((hour, report));
                break;
            }
        }
        if flagged.is_some() {
            break;
        }
        app.engine.refresh_statistics().await.unwrap();
    }
    let (hour, report) = flagged.expect("flagged within six days of the rise");
    assert!(
        hour >= rise_from,
        "an account at its own rate is never flagged: hour {hour}"
    );
    assert!(
        hour < rise_from + 72,
        "caught within three days: hour {hour}"
    );
    assert_eq!(report["evidence"]["lane"], "drift", "{report}");
    let screen = &report["evidence"]["screen"];
    let drift = &screen["drift_lane"];
    assert!(drift["llr"].as_f64().unwrap() >= 12.0, "{drift}");
    assert!(
        screen["slow_lane"]["p_value"].as_f64().unwrap() > 1e-6
            && screen["baseline_lane"]["p_value"].as_f64().unwrap() > 1e-6,
        "neither 72 h lane would have flagged it: {screen}"
    );
    let (x, e) = (
        drift["incorrect"].as_f64().unwrap(),
        drift["expected_incorrect"].as_f64().unwrap(),
    );
    assert!(x > 1.4 * e, "{x} reports where the history predicts {e}");
    let since = verdict_domain::Timestamp::parse_rfc3339(drift["since"].as_str().unwrap()).unwrap();
    let rise = T0.saturating_add(Duration::from_secs((rise_from + 1) * 3600));
    let off = since.as_millis().abs_diff(rise.as_millis()) / 3_600_000;
    assert!(off <= 6, "the run began {off} h from the rise");
    assert_eq!(
        report["evidence"]["clawback_since"], drift["since"],
        "{report}"
    );

    // Clawback (the default) reverses the refunds since the rise began, and only those.
    let ledger = ledger_of(&app, id).await;
    let hour_of_task = |e: &Value| -> i64 {
        let task = e["task"].as_str().unwrap();
        task[1..task.find('-').unwrap()].parse().unwrap()
    };
    let reversed: Vec<i64> = entries_of(&ledger, "reversal").map(hour_of_task).collect();
    assert!(!reversed.is_empty(), "{ledger}");
    let first_run_hour = (since.as_millis() - T0.as_millis()) / 3_600_000 - 1;
    assert!(
        reversed.iter().all(|h| *h >= first_run_hour),
        "nothing from before the rise: {reversed:?}"
    );
    let refunded_since = entries_of(&ledger, "refund")
        .filter(|e| hour_of_task(e) >= first_run_hour)
        .count();
    assert_eq!(reversed.len(), refunded_since, "every refund since, once");
}

#[tokio::test]
async fn an_honest_client_whose_integration_breaks_loses_the_outages_refunds_not_the_hours_before()
{
    let app = TestApp::new().await;
    let id = mallory(&app).await;
    // Five hours at ten tasks an hour, the first of each hour reported: the solver's real
    // mistakes, each refunded.
    let mut i = 0;
    let mut before = Vec::new();
    for _hour in 0..5 {
        for k in 0..10 {
            app.clock.advance(Duration::from_secs(360));
            solve(&app, id, i).await;
            if k == 0 {
                let report = mallory_reports(&app, &format!("m-{i}")).await;
                assert_eq!(report["verdict"], "accepted", "{report}");
                before.push(format!("m-{i}"));
            }
            i += 1;
        }
    }
    // Then the client's own integration breaks and it reports every task it gets.
    let outage_from = i;
    let mut flagged = None;
    while flagged.is_none() && i < outage_from + 120 {
        app.clock.advance(Duration::from_secs(30));
        solve(&app, id, i).await;
        let report = mallory_reports(&app, &format!("m-{i}")).await;
        if report["reason"] == "rate_above_cohort" {
            flagged = Some(report);
        }
        i += 1;
    }
    let report = flagged.expect("flagged within an hour of the outage");
    // By then the account has 125 tasks in 24 h: the slow lane judges it, and flags it before
    // the fast lane's stricter p < 1e-9 would. It judged the last 72 h, all five honest hours
    // in them; the rise began with the outage, on the hour.
    assert_eq!(report["evidence"]["lane"], "slow", "{report}");
    let outage_began = T0.saturating_add(Duration::from_secs(5 * 3600));
    assert_eq!(
        report["evidence"]["clawback_since"],
        outage_began.to_rfc3339(),
        "{report}"
    );
    let ledger = ledger_of(&app, id).await;
    let tasks_of = |kind| -> Vec<usize> {
        entries_of(&ledger, kind)
            .map(|e| e["task"].as_str().unwrap()[2..].parse().unwrap())
            .collect()
    };
    let refunded = tasks_of("refund");
    let reversed = tasks_of("reversal");
    let outage_refunds: Vec<usize> = refunded
        .iter()
        .copied()
        .filter(|t| *t >= outage_from)
        .collect();
    assert!(!outage_refunds.is_empty(), "{ledger}");
    assert_eq!(reversed, outage_refunds, "{ledger}");
    assert_eq!(
        refunded.len() - outage_refunds.len(),
        before.len(),
        "{ledger}"
    );
}
