//! The native API: accounts, ingest, task and ledger inspection, reports, health.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN, ALICE_KEY, BOB_KEY, T0, TestApp};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn admin_post(app: &TestApp, path: &str, body: &Value) -> crate::support::Reply {
    app.post(
        path,
        &[
            ("authorization", &bearer(ADMIN)),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
    .await
}

async fn client_report(app: &TestApp, key: &str, body: Value) -> crate::support::Reply {
    app.post(
        "/v1/reports",
        &[
            ("authorization", &bearer(key)),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn accounts_are_created_by_the_operator_and_keys_shown_once() {
    let app = TestApp::new().await;
    let reply = admin_post(
        &app,
        "/v1/accounts",
        &json!({ "name": "carol", "trusted": true }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let created = reply.json();
    let key = created["api_key"].as_str().unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(created["trusted"], json!(true));

    let id = created["id"].as_i64().unwrap();
    let view = app.get(&format!("/v1/accounts/{id}"), key).await.json();
    assert_eq!(view["name"], "carol");
    assert_eq!(view["balance"], "0.00");
    assert_eq!(
        view["standing"],
        json!({ "state": "good", "until": null, "reason": null })
    );
    assert!(
        !view.to_string().contains(key),
        "the key is never shown again"
    );

    let imported = admin_post(
        &app,
        "/v1/accounts",
        &json!({ "name": "dave", "api_key": "CAPFUN-0123456789ABCDEF0123456789ABCDEF" }),
    )
    .await;
    assert_eq!(imported.status, StatusCode::CREATED);
    let again = admin_post(
        &app,
        "/v1/accounts",
        &json!({ "name": "eve", "api_key": "CAPFUN-0123456789ABCDEF0123456789ABCDEF" }),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn account_creation_checks_caller_and_input() {
    let app = TestApp::new().await;
    let no_auth = app.post_json("/v1/accounts", &json!({ "name": "x" })).await;
    assert_eq!(no_auth.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_auth.json()["error"]["code"], "unauthorized");
    let as_client = app
        .post(
            "/v1/accounts",
            &[("authorization", &bearer(ALICE_KEY))],
            json!({ "name": "x" }).to_string(),
        )
        .await;
    assert_eq!(as_client.status, StatusCode::FORBIDDEN);
    for (body, status) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "name": "" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "name": 5 }), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({ "name": "x", "api_key": "short" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "name": "x", "trusted": "perhaps" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = admin_post(&app, "/v1/accounts", &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert!(reply.json()["error"]["message"].is_string());
    }
    let broken = app
        .post(
            "/v1/accounts",
            &[("authorization", &bearer(ADMIN))],
            "{\"name\":",
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn accounts_are_visible_to_the_operator_and_to_themselves_only() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/v1/accounts/1", ADMIN).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/accounts/1", ALICE_KEY).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/accounts/1", BOB_KEY).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/accounts/99", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/accounts/nope", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/accounts/1", "wrong-token-wrong-token")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let stats = app.get("/v1/accounts/1", ADMIN).await.json()["stats"].clone();
    // The world gave alice six reCAPTCHA tasks in the last 24 h, and 110 of history.
    assert_eq!(
        stats["recaptcha"],
        json!({ "tasks": 116, "incorrect": 0, "correct": 0 })
    );
    assert!(stats.get("image").is_some());
}

#[tokio::test]
async fn accounts_are_listed_in_id_order_a_page_at_a_time_and_those_to_look_at_apart() {
    let app = TestApp::new().await;
    for name in ["carol", "dave", "erin"] {
        let created = admin_post(&app, "/v1/accounts", &json!({ "name": name })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    }
    let page = app.get("/v1/accounts?limit=2", ADMIN).await.json();
    let names = |page: &Value| -> Vec<String> {
        page["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&page), ["alice", "bob"]);
    assert_eq!(page["next_cursor"], 2);
    // Each account as `GET /v1/accounts/{id}` shows it.
    assert_eq!(
        page["accounts"][0],
        app.get("/v1/accounts/1", ADMIN).await.json()
    );
    let next = app.get("/v1/accounts?limit=2&after=2", ADMIN).await.json();
    assert_eq!(names(&next), ["carol", "dave"]);
    let last = app.get("/v1/accounts?limit=2&after=4", ADMIN).await.json();
    assert_eq!(
        (names(&last), &last["next_cursor"]),
        (vec!["erin".to_owned()], &Value::Null)
    );

    // None needs a look until one is disabled and another ignored.
    let none = app.get("/v1/accounts?attention=true", ADMIN).await.json();
    assert_eq!((names(&none), &none["next_cursor"]), (vec![], &Value::Null));
    let patched = app
        .call(
            "PATCH",
            "/v1/accounts/4",
            ADMIN,
            Some(&json!({ "disabled": true, "reason": "chargeback" })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let ignored = app
        .call(
            "PUT",
            "/v1/accounts/2/standing",
            ADMIN,
            Some(&json!({ "state": "ignored", "for": "72h", "reason": "refund farming" })),
        )
        .await;
    assert_eq!(ignored.status, StatusCode::OK, "{}", ignored.text());
    let attention = app.get("/v1/accounts?attention=true", ADMIN).await.json();
    assert_eq!(names(&attention), ["bob", "dave"]);
    // A page as long as its limit has a cursor, even where what follows needs no look.
    let first = app
        .get("/v1/accounts?attention=true&limit=1", ADMIN)
        .await
        .json();
    assert_eq!(
        (names(&first), &first["next_cursor"]),
        (vec!["bob".to_owned()], &json!(2))
    );

    for bad in ["limit=0", "limit=1001", "after=x", "attention=perhaps"] {
        let reply = app.get(&format!("/v1/accounts?{bad}"), ADMIN).await;
        assert!(reply.status.is_client_error(), "{bad}: {}", reply.text());
        assert!(reply.json()["error"]["message"].is_string(), "{bad}");
    }
    let unknown = app.get("/v1/accounts/99", ADMIN).await.json();
    assert_eq!(unknown["error"]["message"], "No such account.");
}

#[tokio::test]
async fn ingest_stores_each_valid_record_and_names_each_invalid_one() {
    let app = TestApp::new().await;
    let at = T0.to_rfc3339();
    let batch = json!([
        { "id": "9001", "account": 1, "type": "image", "provider": "p", "answer": "AB12", "cost": "0.0020", "completed_at": at },
        { "id": 18446744073709551615u64, "account": "1", "type": "hcaptcha", "provider": "p", "cost": 0.003, "completed_at": at },
        { "id": "9001", "account": 1, "type": "image", "provider": "p", "answer": "CHANGED", "cost": "9", "completed_at": at },
        { "id": "1001", "account": 2, "type": "audio", "provider": "p", "cost": "1", "completed_at": at },
        { "id": "18446744073709551616", "account": 1, "type": "image", "provider": "p", "cost": "1", "completed_at": at },
        { "id": "x".repeat(129), "account": 1, "type": "image", "provider": "p", "cost": "1", "completed_at": at },
        { "id": "9002", "account": 77, "type": "image", "provider": "p", "cost": "1", "completed_at": at },
        { "id": "9003", "account": 1, "type": "captcha", "provider": "p", "cost": "1", "completed_at": at },
        { "id": "9004", "account": 1, "type": "image", "provider": "p", "cost": "-1", "completed_at": at },
        { "id": "9005", "account": 1, "type": "image", "provider": "p", "cost": "1", "completed_at": "yesterday" },
        { "id": "9006", "account": 1, "type": "image", "cost": "1", "completed_at": at },
        "not an object",
    ]);
    let reply = admin_post(&app, "/v1/tasks", &batch).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let summary = reply.json();
    assert_eq!(summary["inserted"], 2);
    assert_eq!(summary["duplicates"], 2);
    let rejected: Vec<(u64, String)> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let indexes: Vec<u64> = rejected.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, vec![4, 5, 6, 7, 8, 9, 10, 11]);
    for ((_, error), field) in rejected.iter().zip([
        "id:",
        "id:",
        "account:",
        "type:",
        "cost:",
        "completed_at:",
        "provider:",
        "not a JSON object",
    ]) {
        assert!(error.starts_with(field), "{error:?} should name {field}");
    }
    let stored = app.get("/v1/tasks/9001", ADMIN).await.json();
    assert_eq!(
        stored["task"]["answer"], "AB12",
        "a duplicate never overwrites"
    );
    assert_eq!(stored["task"]["cost"], "0.002");
    let big = app
        .get("/v1/tasks/18446744073709551615", ADMIN)
        .await
        .json();
    assert_eq!(big["task"]["cost"], "0.003");
}

#[tokio::test]
async fn ingest_reads_ndjson_and_rejects_unreadable_batches() {
    let app = TestApp::new().await;
    let at = T0.to_rfc3339();
    let ndjson = format!(
        "{}\n\n{}\n{{broken\n",
        json!({ "id": "a-1", "account": 1, "type": "turnstile", "provider": "p", "cost": "0.001", "completed_at": at }),
        json!({ "id": "a-2", "account": 2, "type": "geetest", "provider": "p", "cost": "0.001", "completed_at": at }),
    );
    let reply = app
        .post(
            "/v1/tasks",
            &[
                ("authorization", &bearer(ADMIN)),
                ("content-type", "application/x-ndjson"),
            ],
            ndjson,
        )
        .await;
    let summary = reply.json();
    assert_eq!(
        (summary["inserted"].as_u64(), summary["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(summary["rejected"][0]["index"], 2);
    assert!(
        summary["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 4:")
    );

    let not_array = admin_post(&app, "/v1/tasks", &json!({ "id": "x" })).await;
    assert_eq!(not_array.status, StatusCode::BAD_REQUEST);
    let as_client = app
        .post("/v1/tasks", &[("authorization", &bearer(ALICE_KEY))], "[]")
        .await;
    assert_eq!(as_client.status, StatusCode::FORBIDDEN);
}

/// A batch several steps long (`verdict_engine::INGEST_STEP`), arriving in small pieces that
/// cut records in two: every record is stored or named at its place in the whole batch, and a
/// repeated id keeps its first record although the steps wait for the store together.
#[tokio::test]
async fn a_long_ndjson_ingest_arriving_in_pieces_is_stored_step_by_step() {
    let app = TestApp::new().await;
    let at = T0.to_rfc3339();
    let n = 2 * verdict_engine::INGEST_STEP + 500;
    let mut body = String::new();
    for i in 0..n {
        let record = match i {
            // Unreadable, invalid, and a repeat of the first record, each in a later step.
            5000 => "{broken".to_owned(),
            7000 => json!({ "id": "s-x", "account": 1, "type": "image", "provider": "p", "cost": "-1", "completed_at": at }).to_string(),
            8600 => json!({ "id": "s-0", "account": 1, "type": "image", "provider": "q", "cost": "0.001", "completed_at": at }).to_string(),
            _ => json!({ "id": format!("s-{i}"), "account": 1 + i % 2, "type": "image", "provider": "p", "cost": "0.001", "completed_at": at }).to_string(),
        };
        body.push_str(&record);
        body.push_str(if i % 1000 == 999 { "\r\n\n" } else { "\n" });
    }
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let reply = app
        .post(
            "/v1/tasks",
            &[
                ("authorization", &bearer(ADMIN)),
                ("content-type", "application/x-ndjson"),
            ],
            axum::body::Body::from_stream(futures_util::stream::iter(pieces)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let summary = reply.json();
    assert_eq!(summary["inserted"], n - 3);
    assert_eq!(summary["duplicates"], 1);
    let rejected = summary["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 5000);
    // Lines 1000, 2000, … end with a blank line after them: record 5000 is on line 5006.
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 5006:"),
        "{}",
        rejected[0]
    );
    assert_eq!(rejected[1]["index"], 7000);
    assert!(rejected[1]["error"].as_str().unwrap().starts_with("cost:"));
    // Steps are stored in their order, however many wait for the store at once: the first
    // record with an id is the one kept.
    let first = app.get("/v1/tasks/s-0", ADMIN).await;
    assert_eq!(first.json()["task"]["provider"], "p", "{}", first.text());
    let last = app.get(&format!("/v1/tasks/s-{}", n - 1), ADMIN).await;
    assert_eq!(last.status, StatusCode::OK);
    assert_eq!(last.json()["task"]["account"], 1 + (n - 1) % 2);
}

#[tokio::test]
async fn an_ingest_over_the_limit_is_refused_whether_its_length_is_declared_or_not() {
    let app = TestApp::with_limits(verdict_http::Limits {
        report_body: 64 * 1024,
        ingest_body: 4096,
        ..verdict_http::Limits::default()
    })
    .await;
    let at = T0.to_rfc3339();
    let line = json!({ "id": "big-0", "account": 1, "type": "image", "provider": "p", "cost": "0.001", "completed_at": at }).to_string() + "\n";
    let body = line.repeat(4096 / line.len() + 1);
    let auth = bearer(ADMIN);
    for ndjson in [true, false] {
        let content_type = if ndjson {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        let length = body.len().to_string();
        let declared = app
            .post(
                "/v1/tasks",
                &[
                    ("authorization", &auth),
                    ("content-type", content_type),
                    ("content-length", &length),
                ],
                body.clone(),
            )
            .await;
        let streamed = app
            .post(
                "/v1/tasks",
                &[("authorization", &auth), ("content-type", content_type)],
                axum::body::Body::from_stream(futures_util::stream::iter(
                    body.as_bytes()
                        .chunks(100)
                        .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                        .collect::<Vec<_>>(),
                )),
            )
            .await;
        for reply in [declared, streamed] {
            assert_eq!(
                reply.status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{}",
                reply.text()
            );
            assert_eq!(
                reply.json()["error"]["code"],
                "body_too_large",
                "{}",
                reply.text()
            );
        }
    }
    let fits = app
        .post(
            "/v1/tasks",
            &[
                ("authorization", &auth),
                ("content-type", "application/x-ndjson"),
            ],
            line,
        )
        .await;
    assert_eq!(fits.json()["inserted"], 1, "{}", fits.text());
}

#[tokio::test]
async fn a_task_shows_its_report_verdict_evidence_and_refund() {
    let app = TestApp::new().await;
    let fresh = app.get("/v1/tasks/1003", ALICE_KEY).await.json();
    assert_eq!(fresh["report"], Value::Null);
    assert_eq!(fresh["task"]["type"], "recaptcha_v2");

    let reply = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": 1003, "kind": "incorrect", "code": 1001, "message": "site rejected" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let made = reply.json();
    assert_eq!(made["repeat"], false);
    let view = app.get("/v1/tasks/1003", ADMIN).await.json();
    let report = &view["report"];
    assert_eq!(report, &made["report"]);
    assert_eq!(report["verdict"], "accepted");
    assert_eq!(report["reason"], "incorrect_accepted");
    assert_eq!(report["refund"], "0.002");
    assert_eq!(report["dialect"], "native");
    assert_eq!(report["code"], "1001");
    let evidence = &report["evidence"];
    assert_eq!(
        (
            evidence["window_ms"].clone(),
            evidence["elapsed_ms"].clone(),
            evidence["cost"].clone()
        ),
        (json!(60000), json!(10000), json!("0.002"))
    );
    // The screen's numbers: 117 reCAPTCHA tasks in 72 h (116 of them in 24 h), this the first
    // report, judged against the default prior (no trusted cohort yet).
    let screen = &evidence["screen"];
    assert_eq!(
        (
            screen["tasks"].clone(),
            screen["tasks_24h"].clone(),
            screen["incorrect"].clone(),
            screen["probation"].clone()
        ),
        (json!(117), json!(116), json!(1), json!(false))
    );
    assert_eq!(screen["cohort_prior"]["accounts"], 0);
    for key in [
        "account_rate",
        "cohort_rate",
        "slow_lane",
        "fast_lane",
        "refund_cap",
    ] {
        assert!(screen.get(key).is_some(), "evidence lacks {key}: {screen}");
    }
    assert!(report["explanation"].as_str().unwrap().contains("refunded"));

    assert_eq!(
        app.get("/v1/tasks/1003", BOB_KEY).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1/tasks/nope", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );
    let ledger = app.get("/v1/accounts/1/ledger", ALICE_KEY).await.json();
    assert_eq!(ledger["balance"], "0.002");
    assert_eq!(ledger["entries"][0]["idempotency_key"], "refund:1003");
}

#[tokio::test]
async fn native_reports_refuse_with_reasons_and_numbers() {
    let app = TestApp::new().await;
    let first = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": "1006", "kind": "incorrect" }),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let repeat = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": "1006", "kind": "incorrect" }),
    )
    .await;
    assert_eq!(repeat.status, StatusCode::OK);
    assert_eq!(repeat.json()["repeat"], true);

    let cases = [
        (
            json!({ "task": "1006", "kind": "correct" }),
            StatusCode::CONFLICT,
            "conflicting_report",
        ),
        (
            json!({ "task": "1011", "kind": "incorrect" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "window_closed",
        ),
        (
            json!({ "task": "2001", "kind": "incorrect" }),
            StatusCode::NOT_FOUND,
            "unknown_task",
        ),
        (
            json!({ "task": "1007", "kind": "incorrect", "correction": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "correction_not_applicable",
        ),
        (
            json!({ "task": "1007", "kind": "wrong" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            json!({ "kind": "incorrect" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let reply = client_report(&app, ALICE_KEY, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], code, "{body}");
    }
    let conflict = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": "1006", "kind": "correct" }),
    )
    .await
    .json();
    assert_eq!(
        conflict["error"]["details"]["existing"]["verdict"],
        "accepted"
    );
    let late = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": "1011", "kind": "incorrect" }),
    )
    .await
    .json();
    assert_eq!(
        late["error"]["details"],
        json!({ "window_ms": 60000, "elapsed_ms": 61000 })
    );

    let as_admin = client_report(&app, ADMIN, json!({ "task": "1007", "kind": "incorrect" })).await;
    assert_eq!(as_admin.status, StatusCode::BAD_REQUEST);
    let anonymous = app
        .post_json(
            "/v1/reports",
            &json!({ "task": "1007", "kind": "incorrect" }),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_probes_and_unknown_routes_answer_json() {
    let app = TestApp::new().await;
    let health = app.get("/healthz", "").await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (StatusCode::OK, json!("ok"))
    );
    let ready = app.get("/readyz", "").await;
    assert_eq!(
        ready.json(),
        json!({ "status": "ready", "storage": "sqlite" })
    );
    let missing = app.get("/nope/nothing", "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let get_unknown_method = app.get("/createTask", "").await;
    assert_eq!(get_unknown_method.status, StatusCode::NOT_FOUND);
    let unknown_method = app
        .post_json("/createTask", &json!({ "clientKey": ALICE_KEY }))
        .await;
    assert_eq!(unknown_method.json()["errorId"], 14);
}

#[tokio::test]
async fn unreadable_paths_and_query_strings_get_json_errors() {
    let app = TestApp::new().await;
    let query = app.get("/v1/rechecks/next?lease=soon", ADMIN).await;
    assert_eq!(query.status, StatusCode::BAD_REQUEST);
    assert_eq!(query.json()["error"]["code"], "invalid_request");
    assert!(query.text().contains("lease"), "{}", query.text());
    for path in ["/v1/accounts/%FF", "/v1/tasks/%C3%28"] {
        let reply = app.get(path, ADMIN).await;
        assert!(reply.status.is_client_error(), "{path}");
        assert_eq!(reply.json()["error"]["code"], "invalid_path", "{path}");
    }
}

#[tokio::test]
async fn the_window_closes_as_the_clock_moves() {
    let app = TestApp::new().await;
    // Task 1006 (hCaptcha) was completed 10 s before T0: 50 s of its 60 s window remain.
    app.clock.advance(std::time::Duration::from_secs(50));
    let at_edge = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": "1006", "kind": "incorrect" }),
    )
    .await;
    assert_eq!(at_edge.status, StatusCode::CREATED, "{}", at_edge.text());
    app.clock.advance(std::time::Duration::from_millis(1));
    let late = client_report(
        &app,
        ALICE_KEY,
        json!({ "task": "1007", "kind": "incorrect" }),
    )
    .await;
    assert_eq!(
        late.json()["error"]["details"],
        json!({ "window_ms": 60000, "elapsed_ms": 60001 })
    );
}
