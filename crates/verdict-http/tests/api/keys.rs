//! Keys over their life through the native API: several per account, rotation with a grace
//! period, revocation, disabled accounts, and imports that are refused. A key that no longer
//! opens its account is answered as an unknown key on every route and in every dialect.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN, ALICE_KEY, BOB_KEY, TestApp};

/// An anti-captcha confirmation of alice's reCAPTCHA task, as its clients send it.
async fn anticaptcha_report(app: &TestApp, key: &str) -> Value {
    app.post_json(
        "/reportCorrectRecaptcha",
        &json!({ "clientKey": key, "taskId": 1003 }),
    )
    .await
    .json()
}

fn states(list: &Value) -> Vec<String> {
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_account_adds_rotates_and_revokes_its_own_keys() {
    let app = TestApp::new().await;
    let tick = || app.clock.advance(std::time::Duration::from_secs(1));
    let list = app.get("/v1/accounts/1/keys", ADMIN).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(states(&list.json()), ["active"]);
    assert!(
        !list.text().contains(ALICE_KEY),
        "a key is never shown again"
    );

    // A client adds a key for itself, shown once; bob cannot touch alice's keys.
    tick();
    let added = app
        .call(
            "POST",
            "/v1/accounts/1/keys",
            ALICE_KEY,
            Some(&json!({ "label": "ci" })),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let added = added.json();
    let second = added["api_key"].as_str().unwrap().to_owned();
    assert_eq!(second.len(), 32);
    assert_eq!(added["key"]["label"], "ci");
    assert!(added["key"]["id"].as_str().unwrap().starts_with("k_"));
    let bobs = app.call("POST", "/v1/accounts/1/keys", BOB_KEY, None).await;
    assert_eq!(bobs.status, StatusCode::NOT_FOUND);
    // Only the operator imports a key chosen elsewhere.
    let import = json!({ "api_key": "CAPFUN-7d1f0a3b9c5e2d8f" });
    let by_client = app
        .call("POST", "/v1/accounts/1/keys", ALICE_KEY, Some(&import))
        .await;
    assert_eq!(by_client.status, StatusCode::FORBIDDEN);
    tick();
    let by_admin = app
        .call("POST", "/v1/accounts/1/keys", ADMIN, Some(&import))
        .await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.text());
    assert_eq!(by_admin.json()["api_key"], "CAPFUN-7d1f0a3b9c5e2d8f");

    // A rotation with no grace: every earlier key stops at once, the new one works.
    tick();
    let rotated = app
        .call(
            "POST",
            "/v1/accounts/1/keys/rotate",
            &second,
            Some(&json!({ "grace": "0s" })),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text());
    let rotated = rotated.json();
    let newest = rotated["api_key"].as_str().unwrap().to_owned();
    assert_eq!(
        states(&rotated),
        ["expired", "expired", "expired", "active"]
    );
    for old in [ALICE_KEY, second.as_str(), "CAPFUN-7d1f0a3b9c5e2d8f"] {
        assert_eq!(
            app.get("/v1/accounts/1", old).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            anticaptcha_report(&app, old).await["errorCode"],
            "ERROR_KEY_DOES_NOT_EXIST"
        );
    }
    assert_eq!(
        app.get("/v1/accounts/1", &newest).await.status,
        StatusCode::OK
    );
    assert_eq!(anticaptcha_report(&app, &newest).await["errorId"], 0);

    // Revoked by the operator: the newest key opens nothing either.
    let id = rotated["key"]["id"].as_str().unwrap().to_owned();
    let revoked = app
        .call("DELETE", &format!("/v1/accounts/1/keys/{id}"), ADMIN, None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.json()["key"]["state"], "revoked");
    assert_eq!(
        app.get("/v1/accounts/1", &newest).await.status,
        StatusCode::UNAUTHORIZED
    );
    for missing in ["k_000000000000", "not-a-key-id"] {
        let reply = app
            .call(
                "DELETE",
                &format!("/v1/accounts/1/keys/{missing}"),
                ADMIN,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(reply.json()["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn a_rotation_keeps_the_old_key_working_through_its_grace() {
    let app = TestApp::new().await;
    // Keys list oldest first.
    app.clock.advance(std::time::Duration::from_secs(1));
    let rotated = app
        .call(
            "POST",
            "/v1/accounts/1/keys/rotate",
            ADMIN,
            Some(&json!({ "grace": "1h" })),
        )
        .await
        .json();
    assert_eq!(states(&rotated), ["expiring", "active"]);
    assert_eq!(
        app.get("/v1/accounts/1", ALICE_KEY).await.status,
        StatusCode::OK
    );
    app.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(
        app.get("/v1/accounts/1", ALICE_KEY).await.status,
        StatusCode::UNAUTHORIZED
    );
    for (body, named) in [
        (json!({ "grace": "forever" }), "grace"),
        (json!({ "grace": "31d" }), "grace"),
        (json!({ "api_key": "CAPFUN-7d1f0a3b9c5e2d8f" }), "import"),
        (json!({ "label": 7 }), "label"),
    ] {
        let reply = app
            .call("POST", "/v1/accounts/1/keys/rotate", ADMIN, Some(&body))
            .await;
        assert!(reply.status.is_client_error(), "{body}");
        assert!(reply.text().contains(named), "{body}: {}", reply.text());
    }
}

#[tokio::test]
async fn a_disabled_account_is_refused_everywhere_until_enabled() {
    let app = TestApp::new().await;
    let no_reason = app
        .call(
            "PATCH",
            "/v1/accounts/1",
            ADMIN,
            Some(&json!({ "disabled": true })),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let disabled = app
        .call(
            "PATCH",
            "/v1/accounts/1",
            ADMIN,
            Some(&json!({ "disabled": true, "reason": "chargeback" })),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert_eq!(disabled.json()["disabled"]["reason"], "chargeback");
    assert_eq!(
        app.get("/v1/accounts/1", ALICE_KEY).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anticaptcha_report(&app, ALICE_KEY).await["errorCode"],
        "ERROR_KEY_DOES_NOT_EXIST"
    );
    let native = app
        .call(
            "POST",
            "/v1/reports",
            ALICE_KEY,
            Some(&json!({ "task": "1003", "kind": "correct" })),
        )
        .await;
    assert_eq!(native.status, StatusCode::UNAUTHORIZED);
    // The operator still sees it, and bob is untouched.
    assert_eq!(
        app.get("/v1/accounts/1", ADMIN).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/accounts/2", BOB_KEY).await.status,
        StatusCode::OK
    );

    let enabled = app
        .call(
            "PATCH",
            "/v1/accounts/1",
            ADMIN,
            Some(&json!({ "disabled": false })),
        )
        .await;
    assert_eq!(enabled.json()["disabled"], Value::Null);
    assert_eq!(anticaptcha_report(&app, ALICE_KEY).await["errorId"], 0);
}

#[tokio::test]
async fn an_imported_key_equal_to_the_admin_token_or_weak_is_refused() {
    let app = TestApp::new().await;
    for key in [ADMIN, "password", "12345678"] {
        let reply = app
            .post_json_as(
                "/v1/accounts",
                ADMIN,
                &json!({ "name": "m", "api_key": key }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{key}");
        assert!(
            reply.text().contains("api_key is refused"),
            "{}",
            reply.text()
        );
        assert!(
            !reply.text().contains(ADMIN),
            "the answer never repeats the token"
        );
    }
    // The admin token still works as the admin token, and as nothing else.
    assert_eq!(
        app.get("/v1/accounts/1", ADMIN).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_retried_account_creation_with_an_idempotency_key_creates_one_account() {
    let app = TestApp::new().await;
    let create = |key: &'static str, name: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/v1/accounts",
                &[
                    ("authorization", &format!("Bearer {ADMIN}")),
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                json!({ "name": name }).to_string(),
            )
            .await
        }
    };
    let first = create("signup-81", "carol").await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let retry = create("signup-81", "carol").await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.json(), first.json(), "the same account and key");
    let key = first.json()["api_key"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/accounts/3", &key).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/accounts/4", ADMIN).await.status,
        StatusCode::NOT_FOUND
    );

    // The same key for a different request is refused; a new key creates a new account.
    let different = create("signup-81", "dave").await;
    assert_eq!(different.status, StatusCode::CONFLICT);
    assert!(different.text().contains("different request"));
    assert_eq!(
        create("signup-82", "dave").await.status,
        StatusCode::CREATED
    );

    // Once the key it gave is rotated away, a replay says so instead of showing a dead key.
    app.call(
        "POST",
        "/v1/accounts/3/keys/rotate",
        ADMIN,
        Some(&json!({ "grace": "0s" })),
    )
    .await;
    let late = create("signup-81", "carol").await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(
        late.text().contains("rotated or revoked"),
        "{}",
        late.text()
    );
    assert!(!late.text().contains(&key));
}
