//! Reliability scores and routing over HTTP: `GET /v1/providers`, `GET /v1/workers/{id}`,
//! `POST /v1/route`, from reports sent through the native API.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use verdict_domain::{ApiKey, CaptchaType, Policy, TaskInput};
use verdict_engine::{ProviderProfile, RoutingSettings};

use crate::support::{ADMIN, BOB, BOB_KEY, T0, TestApp};

const CAROL_KEY: &str = "ca401d9e3b7f2a1c8e4d6b0f5a3c7e9";

fn profile(name: &str, cost: f64) -> ProviderProfile {
    ProviderProfile {
        name: name.into(),
        cost,
        latency_ms: 10_000.0,
        p95_latency_ms: 20_000.0,
        types: vec![CaptchaType::RecaptchaV2],
    }
}

/// An app routing between `good` (right on every task Carol confirms) and `bad` (slightly
/// cheaper, wrong on half of what Carol reports on), with Carol, a busy honest account, having
/// sent her feedback: 40 confirmations of `good`'s answers (worker g-1), 10 confirmations and
/// 10 incorrect-reports on `bad`'s (worker b-1), out of 1,000 tasks in her last day. The
/// router's draws are seeded, so the routing figures are the same on every run.
async fn world(policy: Policy) -> TestApp {
    world_seeded(policy, 1).await
}

async fn world_seeded(policy: Policy, seed: u64) -> TestApp {
    let routing = RoutingSettings {
        providers: vec![profile("good", 1.0), profile("bad", 0.9)],
        seed: Some(seed),
        ..RoutingSettings::default()
    };
    let app = TestApp::with_routing(policy, routing).await;
    let (carol, _) = app
        .engine
        .create_account(
            "carol".into(),
            false,
            Some(ApiKey::parse(CAROL_KEY).unwrap()),
        )
        .await
        .unwrap();
    let task = |id: String, provider: &str, worker: &str, age: Duration| {
        Ok(TaskInput {
            id: Some(id),
            account: Some(carol.id.to_string()),
            captcha_type: Some("recaptcha_v2".into()),
            provider: Some(provider.into()),
            worker: Some(worker.into()),
            answer: Some("03AGdBq".into()),
            cost: Some("0.001".into()),
            completed_at: Some(T0.saturating_sub(age).to_rfc3339()),
        })
    };
    let mut records: Vec<_> = (0..940)
        .map(|i| {
            task(
                format!("c-old-{i}"),
                "good",
                "g-1",
                Duration::from_secs(90 * (i + 1)),
            )
        })
        .collect();
    records.extend(
        (0..40).map(|i| task(format!("c-good-{i}"), "good", "g-1", Duration::from_secs(5))),
    );
    records
        .extend((0..20).map(|i| task(format!("c-bad-{i}"), "bad", "b-1", Duration::from_secs(5))));
    let summary = app.engine.ingest(records).await.unwrap();
    assert_eq!(summary.inserted, 1_000, "{:?}", summary.rejected);
    let report = |task: String, kind: &str| {
        let app = &app;
        let kind = kind.to_owned();
        async move {
            let reply = app
                .post_json_as(
                    "/v1/reports",
                    CAROL_KEY,
                    &json!({ "task": task, "kind": kind }),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            reply.json()
        }
    };
    for i in 0..40 {
        report(format!("c-good-{i}"), "correct").await;
    }
    for i in 0..20 {
        let kind = if i < 10 { "correct" } else { "incorrect" };
        let r = report(format!("c-bad-{i}"), kind).await;
        if kind == "incorrect" {
            assert_eq!(r["report"]["verdict"], "accepted", "{r}");
            let trust = r["report"]["evidence"]["trust_weight"].as_f64().unwrap();
            assert!(
                trust > 0.9,
                "an honest account counts nearly fully: {trust}"
            );
        }
    }
    app
}

fn ranked(body: &Value, t: &str) -> Vec<Value> {
    assert_eq!(body["type"], t, "{body}");
    body["providers"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn providers_are_ranked_by_their_evidence_with_its_numbers() {
    let app = world(Policy::default()).await;
    let reply = app.get("/v1/providers?type=recaptcha_v2", ADMIN).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let list = ranked(&body, "recaptcha_v2");
    let names: Vec<&str> = list
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    // prov-a: the fixed world's provider, with no reports yet, at the type's prior.
    assert_eq!(names.first(), Some(&"good"), "{body}");
    let good = &list[0];
    let bad = list.iter().find(|p| p["provider"] == "bad").unwrap();
    assert_eq!(good["rank"], 1);
    // SPEC §4's shape: the score, its interval and the evidence behind it.
    assert_eq!(good["score"], good["reliability"]["mean"]);
    // The interval is the credible one widened by what complaints and silence cannot tell
    // apart: lower where silence could hide unreported failures, higher where complaints
    // could be right answers a site rejected (docs/scoring.md).
    let interval: Vec<f64> = good["interval"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let credible = &good["reliability"];
    assert_eq!(good["reliability"]["interval"], good["interval"]);
    let share = credible["silent_share"].as_f64().unwrap();
    assert!(
        share > 0.0 && share < 1.0,
        "40 confirmations and silence: {share}"
    );
    assert!(interval[0] < credible["lower"].as_f64().unwrap(), "{good}");
    assert!(
        bad["interval"][1].as_f64().unwrap() > bad["reliability"]["upper"].as_f64().unwrap(),
        "{bad}"
    );
    // 40 confirmations, and the silence of Carol's other tasks.
    assert!(good["evidence"]["good"].as_f64().unwrap() > 40.0, "{good}");
    assert_eq!(good["evidence"]["reports"], 40);
    assert_eq!(good["reliability"]["reports"], 40);
    assert_eq!(bad["evidence"]["reports"], 20);
    let bad_evidence = bad["evidence"]["bad"].as_f64().unwrap();
    assert!(
        bad_evidence > 9.0 && bad_evidence <= 10.0,
        "trust-weighted: {bad_evidence}"
    );
    let (g, b) = (&good["reliability"], &bad["reliability"]);
    assert!(g["mean"].as_f64() > b["mean"].as_f64(), "{g} vs {b}");
    assert!(g["lower"].as_f64() < g["mean"].as_f64() && g["mean"].as_f64() < g["upper"].as_f64());
    assert_eq!(good["cost"], 1.0);
    assert_eq!(good["latency_ms"], 10_000.0);
    // The router's view rests on the same reports.
    assert!(
        good["routing"]["correctness"]["mean"].as_f64()
            > bad["routing"]["correctness"]["mean"].as_f64()
    );
    // Every type when none is named; a bad type is named in the error.
    let all = app.get("/v1/providers", ADMIN).await.json();
    let recaptcha = all["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "recaptcha_v2")
        .expect("every type when none is named");
    assert_eq!(recaptcha["providers"], body["providers"]);
    let bad_type = app.get("/v1/providers?type=nonsense", ADMIN).await;
    assert_eq!(bad_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_type.text().contains("type"), "{}", bad_type.text());
    assert_eq!(
        app.get("/v1/providers", BOB_KEY).await.status,
        StatusCode::FORBIDDEN,
        "operators only"
    );
}

#[tokio::test]
async fn the_router_sends_tasks_to_the_cheaper_success_and_says_why() {
    let app = world(Policy::default()).await;
    app.clock.advance(Duration::from_secs(2));
    let mut to_good = 0;
    for routed in routes(&app, 200).await {
        let [provider, why] = [&routed[0], &routed[1]];
        // SPEC §4: {"provider", "explanation": {…}}.
        assert!(provider.is_string() && why.is_object(), "{routed}");
        if provider == "good" {
            to_good += 1;
        }
        assert!(why["rule"].is_string() && why["eligible"] == 2, "{routed}");
        let success = &why["success"];
        assert!(
            success["lower"].as_f64() <= success["mean"].as_f64(),
            "{routed}"
        );
        assert!(why["cost_per_success"].as_f64().unwrap() > 0.0, "{routed}");
    }
    // 1/0.94 per success against 0.9/0.66: only exploration and rare draws go to `bad`.
    assert!(to_good >= 180, "{to_good} of 200 to the better provider");

    // Limits: a price only `bad` meets; a candidate list of one.
    let cheap = app
        .post_json_as(
            "/v1/route",
            ADMIN,
            &json!({ "type": "recaptcha_v2", "max_cost": "0.95" }),
        )
        .await
        .json();
    assert_eq!(cheap["provider"], "bad", "{cheap}");
    let only = app
        .post_json_as(
            "/v1/route",
            ADMIN,
            &json!({ "type": "recaptcha_v2", "candidates": ["bad"] }),
        )
        .await
        .json();
    assert_eq!(only["provider"], "bad", "{only}");
}

/// The answers to `n` route requests between `good` and `bad`, in order: the provider and
/// why (with the success chance drawn for it).
async fn routes(app: &TestApp, n: usize) -> Vec<Value> {
    let mut chosen = Vec::new();
    for _ in 0..n {
        let reply = app
            .post_json_as(
                "/v1/route",
                ADMIN,
                &json!({ "type": "recaptcha_v2", "candidates": ["good", "bad"] }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let body = reply.json();
        chosen.push(json!([body["provider"], body["explanation"]]));
    }
    chosen
}

#[tokio::test]
async fn a_seeded_router_routes_the_same_way_every_time() {
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let app = world_seeded(Policy::default(), seed).await;
        app.clock.advance(Duration::from_secs(2));
        runs.push(routes(&app, 200).await);
    }
    assert_eq!(runs[0], runs[1], "the same seed, the same routes and draws");
    assert_ne!(runs[0], runs[2], "another seed, other draws");
}

#[tokio::test]
async fn route_requests_get_clear_errors() {
    let app = world(Policy::default()).await;
    let cases = [
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "type is required",
        ),
        (
            json!({ "type": 7 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "type must be a string",
        ),
        (
            json!({ "type": "nonsense" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "type",
        ),
        (
            json!({ "type": "recaptcha_v2", "candidates": "good" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "candidates",
        ),
        (
            json!({ "type": "recaptcha_v2", "candidates": [1] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "candidates",
        ),
        (
            json!({ "type": "recaptcha_v2", "max_cost": -1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "max_cost",
        ),
        (
            json!({ "type": "recaptcha_v2", "max_latency_ms": "soon" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "max_latency_ms",
        ),
        (
            json!({ "type": "recaptcha_v2", "max_cost": 0.1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_eligible_provider",
        ),
        (
            json!({ "type": "recaptcha_v2", "candidates": ["nobody"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_eligible_provider",
        ),
    ];
    for (body, status, needle) in cases {
        let reply = app.post_json_as("/v1/route", ADMIN, &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert!(reply.text().contains(needle), "{body}: {}", reply.text());
    }
    // A type no configured provider solves is routed to whoever solved its tasks: the fixed
    // world's prov-a solved geetest tasks, and their silence makes it known. (A type nobody
    // solved is refused as unknown: verdict-engine's tests.)
    let geetest = app
        .post_json_as("/v1/route", ADMIN, &json!({ "type": "geetest" }))
        .await
        .json();
    assert_eq!(geetest["provider"], "prov-a", "{geetest}");
    let not_json = app
        .post(
            "/v1/route",
            &[("authorization", &format!("Bearer {ADMIN}"))],
            "type=recaptcha_v2",
        )
        .await;
    assert_eq!(
        not_json.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_json.text()
    );
    let client = app
        .post_json_as("/v1/route", BOB_KEY, &json!({ "type": "recaptcha_v2" }))
        .await;
    assert_eq!(client.status, StatusCode::FORBIDDEN, "operators only");
}

#[tokio::test]
async fn an_ignored_accounts_reports_do_not_move_scores() {
    let app = world(Policy::default()).await;
    let before = app
        .get("/v1/providers?type=recaptcha_v2", ADMIN)
        .await
        .json();
    let prov_a = |body: &Value| {
        ranked(body, "recaptcha_v2")
            .into_iter()
            .find(|p| p["provider"] == "prov-a")
            .map(|p| p["score"].clone())
    };
    assert!(prov_a(&before).is_some(), "the silence of its tasks");
    app.engine
        .impose_ignore(
            BOB,
            T0.saturating_add(Duration::from_secs(3600)),
            "test".into(),
        )
        .await
        .unwrap();
    let reply = app
        .post_json_as(
            "/v1/reports",
            BOB_KEY,
            &json!({ "task": "2002", "kind": "incorrect" }),
        )
        .await;
    assert_eq!(reply.json()["report"]["evidence"]["trust_weight"], 0.0);
    let after = app
        .get("/v1/providers?type=recaptcha_v2", ADMIN)
        .await
        .json();
    assert_eq!(prov_a(&after), prov_a(&before), "{after}");
    assert_eq!(
        ranked(&before, "recaptcha_v2"),
        ranked(&after, "recaptcha_v2")
    );
}

#[tokio::test]
async fn workers_have_scores_and_a_confirmation_whitelists_when_the_policy_says_so() {
    let app = world(Policy {
        whitelist_on_correct: true,
        ..Policy::default()
    })
    .await;
    let reply = app.get("/v1/workers/g-1", ADMIN).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    let score = &body["scores"][0];
    assert_eq!(
        (score["provider"].as_str(), score["type"].as_str()),
        (Some("good"), Some("recaptcha_v2"))
    );
    assert_eq!(score["score"]["reports"], 40);
    assert_eq!(score["whitelisted_by"], 1, "Carol confirmed its answers");
    let b1 = app.get("/v1/workers/b-1", ADMIN).await.json();
    assert!(b1["scores"][0]["score"]["mean"].as_f64() < score["score"]["mean"].as_f64());
    assert_eq!(
        app.get("/v1/workers/nobody", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );

    // Carol's tasks at `good` go to the workers she whitelisted.
    let carol = app.engine.authenticate(CAROL_KEY).await.unwrap().unwrap();
    let routed = app
        .post_json_as(
            "/v1/route",
            ADMIN,
            &json!({ "type": "recaptcha_v2", "candidates": ["good"], "account": carol.id.0 }),
        )
        .await
        .json();
    assert_eq!(routed["preferred_workers"], json!(["g-1"]), "{routed}");
}

#[tokio::test]
async fn without_the_policy_a_confirmation_whitelists_nobody() {
    let app = world(Policy::default()).await;
    let body = app.get("/v1/workers/g-1", ADMIN).await.json();
    assert_eq!(body["scores"][0]["whitelisted_by"], 0, "{body}");
}

/// Real clients complain about bad solutions and almost never confirm good ones. A trusted
/// client that reports exactly its wrong tokens, within seconds, and confirms nothing: P1 is
/// right on 95 % of its 2,000 tasks, P2 on 85 % of 600, P3 on 70 % of 400. Silence is the
/// evidence for the right ones, so the scores rank the providers in their true order with
/// intervals around their true accuracy, and the router sends P1 nearly everything.
#[tokio::test]
async fn without_confirmations_silence_ranks_providers_by_accuracy_and_the_router_follows() {
    let routing = RoutingSettings {
        providers: ["P1", "P2", "P3"].map(|p| profile(p, 1.0)).to_vec(),
        seed: Some(3),
        ..RoutingSettings::default()
    };
    let app = TestApp::with_routing(Policy::default(), routing).await;
    let (dana, key) = app
        .engine
        .create_account("dana".into(), true, None)
        .await
        .unwrap();
    let key = key.expose().to_owned();
    // Per minute: 67, 20 and 13 tasks (2,010, 600 and 390 in 30 minutes).
    let plan = [("P1", 67, 20, 1), ("P2", 20, 20, 3), ("P3", 13, 10, 3)];
    let mut seq = 0u64;
    for minute in 0..30 {
        app.clock.advance(Duration::from_secs(60));
        let now = app.engine.now();
        let mut records = Vec::new();
        let mut wrong = Vec::new();
        for (provider, per_minute, every, bad) in plan {
            for i in 0..per_minute {
                seq += 1;
                let id = format!("s-{seq}");
                records.push(Ok(TaskInput {
                    id: Some(id.clone()),
                    account: Some(dana.id.to_string()),
                    captcha_type: Some("recaptcha_v2".into()),
                    provider: Some(provider.into()),
                    worker: None,
                    answer: Some("03AGdBq".into()),
                    cost: Some("0.001".into()),
                    completed_at: Some(now.to_rfc3339()),
                }));
                // Wrong on `bad` of every `every` tasks, spread over the minutes.
                if (i + minute * per_minute) % every < bad {
                    wrong.push(id);
                }
            }
        }
        app.engine.ingest(records).await.unwrap();
        app.clock.advance(Duration::from_secs(5));
        for id in wrong {
            let reply = app
                .post_json_as(
                    "/v1/reports",
                    &key,
                    &json!({ "task": id, "kind": "incorrect" }),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        }
    }
    app.clock.advance(Duration::from_secs(120));
    let body = app
        .get("/v1/providers?type=recaptcha_v2", ADMIN)
        .await
        .json();
    // The fixed world's provider aside.
    let list: Vec<Value> = ranked(&body, "recaptcha_v2")
        .into_iter()
        .filter(|p| p["provider"] != "prov-a")
        .collect();
    let names: Vec<&str> = list
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["P1", "P2", "P3"], "{body}");
    for (p, truth) in list.iter().zip([0.95, 0.85, 0.70]) {
        let interval = p["interval"].as_array().unwrap();
        let (lo, hi) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
        assert!(lo <= truth && truth <= hi, "{truth} outside {p}");
        // This client reports exactly its failures: the credible interval alone holds it too.
        let credible = &p["reliability"];
        let (lo, hi) = (
            credible["lower"].as_f64().unwrap(),
            credible["upper"].as_f64().unwrap(),
        );
        assert!(
            lo <= truth && truth <= hi,
            "{truth} outside the credible interval: {p}"
        );
        assert!(
            p["evidence"]["good"].as_f64().unwrap() > 0.0,
            "silence counts: {p}"
        );
    }
    let mut to_best = 0;
    for _ in 0..200 {
        let routed = app
            .post_json_as(
                "/v1/route",
                ADMIN,
                &json!({ "type": "recaptcha_v2", "candidates": ["P1", "P2", "P3"] }),
            )
            .await
            .json();
        if routed["provider"] == "P1" {
            to_best += 1;
        }
    }
    assert!(
        to_best >= 160,
        "{to_best} of 200 routed to the best provider"
    );
}
