//! The dashboard at `/`: who may sign in, what each viewer sees, and what no viewer may see.
//! The browser suite (clients/test_dashboard.py) looks at the same pages in Chromium; these
//! tests pin the server's side of it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, ALICE_KEY, BOB_KEY, Reply, TestApp};

/// Signs in with `token` through the login form; the session cookie's `name=value`.
async fn sign_in(app: &TestApp, token: &str) -> Result<String, Reply> {
    let request = Request::post("/dashboard/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    let reply = app.send(request).await;
    if reply.status != StatusCode::SEE_OTHER {
        return Err(reply);
    }
    let cookie = reply
        .headers
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    Ok(cookie.split(';').next().unwrap().to_owned())
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> Reply {
    let request = Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

/// Alice reports two tasks (one through anti-captcha, one natively); bob one of his.
async fn reported() -> TestApp {
    let app = TestApp::new().await;
    let anti = app
        .post_json(
            "/reportIncorrectImageCaptcha",
            &json!({ "clientKey": ALICE_KEY, "taskId": 1001 }),
        )
        .await;
    assert_eq!(anti.json()["errorId"], 0, "{}", anti.text());
    let native = app
        .post_json_as(
            "/v1/reports",
            ALICE_KEY,
            &json!({ "task": "1013", "kind": "incorrect" }),
        )
        .await;
    assert_eq!(native.status, StatusCode::CREATED, "{}", native.text());
    let bobs = app
        .post_json_as(
            "/v1/reports",
            BOB_KEY,
            &json!({ "task": "2001", "kind": "incorrect" }),
        )
        .await;
    assert_eq!(bobs.status, StatusCode::CREATED, "{}", bobs.text());
    app
}

#[tokio::test]
async fn without_a_session_the_page_is_a_login_form_sent_with_a_strict_policy() {
    let app = TestApp::new().await;
    let reply = app
        .send(Request::get("/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(html.contains("action=\"/dashboard/login\""), "{html}");
    assert!(!html.contains("id=\"flow\""), "no data before signing in");
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");

    let css = app
        .send(
            Request::get("/dashboard/assets/dashboard.css")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn a_wrong_token_is_refused_without_a_cookie_and_a_stale_cookie_ends_the_session() {
    let app = TestApp::new().await;
    let refused = sign_in(&app, "not-a-key-of-anyone-000000000000")
        .await
        .expect_err("refused");
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.headers.get("set-cookie").is_none());
    assert!(refused.text().contains("action=\"/dashboard/login\""));

    let stale = page(&app, "/", "verdict_session=revoked-or-never-valid-0000000").await;
    assert_eq!(stale.status, StatusCode::OK);
    assert!(stale.text().contains("action=\"/dashboard/login\""));
    assert!(!stale.text().contains("id=\"flow\""));
}

#[tokio::test]
async fn the_operator_sees_the_flow_the_latest_reports_and_a_task_story() {
    let app = reported().await;
    let operator = sign_in(&app, ADMIN).await.expect("the admin token opens");
    let home = page(&app, "/", &operator).await;
    assert_eq!(home.status, StatusCode::OK);
    let html = home.text();
    for section in [
        "id=\"flow\"",
        "id=\"recent\"",
        "id=\"money\"",
        "id=\"attention\"",
        "id=\"providers\"",
        "id=\"rechecks\"",
    ] {
        assert!(html.contains(section), "{section}");
    }
    // Every account's reports are listed, alice's and bob's.
    for task in ["1001", "1013", "2001"] {
        assert!(html.contains(&format!("data-task=\"{task}\"")), "{task}");
    }
    assert!(html.contains("data-stat=\"reports\""));

    let story = page(&app, "/dashboard/tasks/1001", &operator).await;
    assert_eq!(story.status, StatusCode::OK);
    let story = story.text();
    assert!(
        story.contains("anticaptcha"),
        "the dialect the report came by"
    );
    assert!(story.contains("accepted"), "the verdict");
    assert!(story.contains("id=\"evidence-table\""));

    let search = page(&app, "/dashboard/tasks?id=1013", &operator).await;
    assert_eq!(search.status, StatusCode::SEE_OTHER);
    assert_eq!(search.headers["location"], "/dashboard/tasks/1013");

    let account = page(&app, "/dashboard/accounts/2", &operator).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.text().contains("bob"));
}

#[tokio::test]
async fn a_client_sees_its_own_reports_and_nothing_of_another_account() {
    let app = reported().await;
    let alice = sign_in(&app, ALICE_KEY).await.expect("alice's key opens");
    let home = page(&app, "/", &alice).await;
    assert_eq!(home.status, StatusCode::OK);
    let html = home.text();
    assert!(html.contains("data-task=\"1001\"") && html.contains("data-task=\"1013\""));
    assert!(!html.contains("2001"), "bob's task is not on alice's page");
    assert!(!html.contains("bob"), "nor his name");
    assert!(!html.contains("id=\"attention\""), "no operator section");
    assert!(html.contains("id=\"ledger-table\""));

    // Bob's task answers exactly as a task that does not exist (but for the id searched).
    let bobs = page(&app, "/dashboard/tasks/2001", &alice).await;
    let missing = page(&app, "/dashboard/tasks/9999", &alice).await;
    assert_eq!(bobs.status, StatusCode::NOT_FOUND);
    assert_eq!(bobs.status, missing.status);
    assert_eq!(bobs.text().replace("2001", "9999"), missing.text());
    let own = page(&app, "/dashboard/tasks/1001", &alice).await;
    assert_eq!(own.status, StatusCode::OK);

    // Account pages are the operator's.
    let account = page(&app, "/dashboard/accounts/2", &alice).await;
    assert_eq!(account.status, StatusCode::NOT_FOUND);
    assert!(!account.text().contains("bob"));
}

#[tokio::test]
async fn what_clients_wrote_is_shown_as_text_never_as_markup() {
    let app = TestApp::new().await;
    let created = app
        .post_json_as(
            "/v1/accounts",
            ADMIN,
            &json!({ "name": "<script>alert(1)</script>" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_u64().unwrap();
    let operator = sign_in(&app, ADMIN).await.unwrap();
    let html = page(&app, &format!("/dashboard/accounts/{id}"), &operator)
        .await
        .text();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"));
}

#[tokio::test]
async fn signing_out_clears_the_cookie() {
    let app = TestApp::new().await;
    let cookie = sign_in(&app, ADMIN).await.unwrap();
    let request = Request::post("/dashboard/logout")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let cleared = reply.headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("verdict_session=") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[tokio::test]
async fn wrong_tokens_at_the_login_form_spend_the_addresss_failed_login_budget() {
    use verdict_http::guard::{Rate, RateLimits};
    let app = TestApp::with_rates(RateLimits {
        failed_logins: Some(Rate {
            per_second: 0.001,
            burst: 3,
        }),
        block_for: std::time::Duration::from_secs(60),
        ..RateLimits::off()
    })
    .await;
    let form = |token: &str| {
        Request::post("/dashboard/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let guesser = "203.0.113.90:1";
    for n in 0..4 {
        let reply = app
            .send_from(
                guesser,
                form(&format!("guess-{n:02}-0d3c8b92e47a1f6e03d9c2b7")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    // Past the budget even the admin token is refused from that address, with no cookie.
    let blocked = app.send_from(guesser, form(ADMIN)).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers.contains_key("retry-after"));
    assert!(blocked.headers.get("set-cookie").is_none());
    // Another address signs in.
    let other = app.send_from("203.0.113.91:1", form(ADMIN)).await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
}
