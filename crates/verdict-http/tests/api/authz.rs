//! Who may call what: every native route and every dialect's endpoint called with no
//! credentials, the owning client's key, another client's key and the admin token. Another
//! account's things are "not found", never "forbidden" (which would say they exist); the
//! operator's routes refuse clients; reports are made with an account's key, never the
//! admin token.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use verdict_domain::{Family, ReportKind};
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::Report;

use crate::support::{ADMIN, ALICE_KEY, BOB_KEY, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    Owner,
    Other,
    Admin,
}

const EVERYONE: [Who; 4] = [Who::Nobody, Who::Owner, Who::Other, Who::Admin];

impl Who {
    fn token(self) -> Option<&'static str> {
        match self {
            Who::Nobody => None,
            Who::Owner => Some(ALICE_KEY),
            Who::Other => Some(BOB_KEY),
            Who::Admin => Some(ADMIN),
        }
    }
}

/// What a route answers each caller: the status, or a class of them.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Is(StatusCode),
    /// Any 2xx.
    Success,
}

use Expect::{Is, Success};
const UNAUTHORIZED: Expect = Is(StatusCode::UNAUTHORIZED);
const FORBIDDEN: Expect = Is(StatusCode::FORBIDDEN);
const NOT_FOUND: Expect = Is(StatusCode::NOT_FOUND);

/// Alice's routes: hers and the operator's, "not found" for bob.
const OWNED: [Expect; 4] = [UNAUTHORIZED, Success, NOT_FOUND, Success];
/// The operator's only.
const OPERATOR: [Expect; 4] = [UNAUTHORIZED, FORBIDDEN, FORBIDDEN, Success];

struct Route {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    expect: [Expect; 4],
}

fn routes() -> Vec<Route> {
    let route = |method, path, body: Option<Value>, expect| Route {
        method,
        path,
        body,
        expect,
    };
    vec![
        route(
            "POST",
            "/v1/accounts",
            Some(json!({ "name": "zed" })),
            OPERATOR,
        ),
        route("GET", "/v1/accounts", None, OPERATOR),
        route("GET", "/v1/accounts?attention=true", None, OPERATOR),
        route("GET", "/v1/accounts/1", None, OWNED),
        route(
            "PATCH",
            "/v1/accounts/1",
            Some(json!({ "trusted": false })),
            OPERATOR,
        ),
        route(
            "PUT",
            "/v1/accounts/1/standing",
            Some(json!({ "state": "good" })),
            OPERATOR,
        ),
        route("GET", "/v1/accounts/1/ledger", None, OWNED),
        route("GET", "/v1/accounts/1/keys", None, OWNED),
        route(
            "POST",
            "/v1/accounts/1/keys",
            Some(json!({ "label": "x" })),
            OWNED,
        ),
        route(
            "POST",
            "/v1/accounts/1/keys/rotate",
            Some(json!({ "grace": "24h" })),
            OWNED,
        ),
        // No such key, for anyone allowed to look: bob may not even look.
        route(
            "DELETE",
            "/v1/accounts/1/keys/k_000000000000",
            None,
            [UNAUTHORIZED, NOT_FOUND, NOT_FOUND, NOT_FOUND],
        ),
        route("GET", "/v1/cohort", None, OPERATOR),
        route("GET", "/v1/providers?type=image", None, OPERATOR),
        route(
            "POST",
            "/v1/route",
            Some(json!({ "type": "image" })),
            OPERATOR,
        ),
        route("GET", "/v1/workers/w-1", None, OPERATOR),
        route("GET", "/v1/rechecks/next", None, OPERATOR),
        route(
            "POST",
            "/v1/rechecks/1001",
            Some(json!({ "answer": "KWG90" })),
            [UNAUTHORIZED, FORBIDDEN, FORBIDDEN, NOT_FOUND],
        ),
        route(
            "POST",
            "/v1/reports",
            Some(json!({ "task": "1013", "kind": "correct" })),
            // Bob cannot see alice's task; the operator reports nothing.
            [
                UNAUTHORIZED,
                Success,
                NOT_FOUND,
                Is(StatusCode::BAD_REQUEST),
            ],
        ),
        route("GET", "/v1/tasks/1001", None, OWNED),
        // Each client its own reports (bob has none), the operator everyone's.
        route(
            "GET",
            "/v1/reports",
            None,
            [UNAUTHORIZED, Success, Success, Success],
        ),
        route("GET", "/v1/reports?account=1", None, OWNED),
        // The dataset is the operator's (a client's own corrections are in its reports).
        route("GET", "/v1/corrections", None, OPERATOR),
        route("POST", "/v1/tasks", Some(json!([])), OPERATOR),
    ]
}

async fn call(app: &TestApp, route: &Route, who: Who) -> crate::support::Reply {
    let mut builder = Request::builder().method(route.method).uri(route.path);
    if let Some(token) = who.token() {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = match &route.body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    };
    app.send(request.unwrap()).await
}

#[tokio::test]
async fn every_native_route_answers_each_caller_as_its_access_says() {
    let app = TestApp::new().await;
    let mut wrong = Vec::new();
    for route in routes() {
        for (who, expect) in EVERYONE.into_iter().zip(route.expect) {
            let reply = call(&app, &route, who).await;
            let fits = match expect {
                Is(status) => reply.status == status,
                Success => reply.status.is_success(),
            };
            if !fits {
                wrong.push(format!(
                    "{} {} as {who:?}: want {expect:?}, got {} {}",
                    route.method,
                    route.path,
                    reply.status,
                    reply.text()
                ));
            }
            // Every refusal in the native error shape, and nothing of alice's shown to bob.
            if !reply.status.is_success() && reply.status != StatusCode::NO_CONTENT {
                assert!(
                    reply.json()["error"]["code"].is_string(),
                    "{} {} as {who:?}: {}",
                    route.method,
                    route.path,
                    reply.text()
                );
            }
            if who == Who::Other {
                let text = reply.text();
                assert!(
                    !text.contains("alice") && !text.contains("KWG90"),
                    "{} {} shows bob alice's data: {text}",
                    route.method,
                    route.path
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The walk's table names every route of the native API's OpenAPI document (generated from
/// the handlers, so a route added without an access rule here fails this test), and the
/// document's security for each route is what the walk finds: the operator's routes take the
/// admin token only, a client's own things the admin token or its key, reports a key only.
#[test]
fn the_walk_covers_every_documented_route_and_the_document_states_its_access() {
    let document = serde_json::to_value(verdict_http::openapi()).unwrap();
    let paths = document["paths"].as_object().expect("paths");
    let concrete = |path: &str| -> String {
        path.split('/')
            .map(|seg| {
                if seg.starts_with('{')
                    || seg.chars().next().is_some_and(|c| c.is_ascii_digit())
                    || seg.starts_with("k_")
                    || seg == "w-1"
                {
                    "*"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let walked = routes();
    let mut documented = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            if path == "/healthz" || path == "/readyz" {
                assert!(operation.get("security").is_none(), "{path} is open");
                continue;
            }
            documented += 1;
            let walk = walked
                .iter()
                .find(|r| {
                    r.method.eq_ignore_ascii_case(method)
                        && concrete(r.path.split('?').next().unwrap()) == concrete(path)
                })
                .unwrap_or_else(|| {
                    panic!("{method} {path} is documented but the walk does not call it")
                });
            let mut schemes: Vec<String> = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} states no security"))
                .iter()
                .flat_map(|req| req.as_object().unwrap().keys().cloned())
                .collect();
            schemes.sort();
            let owner_may = !matches!(walk.expect[1], Is(StatusCode::FORBIDDEN));
            let admin_may = !matches!(walk.expect[3], Is(StatusCode::BAD_REQUEST));
            let mut expected = Vec::new();
            if admin_may {
                expected.push("admin_token".to_owned());
            }
            if owner_may {
                expected.push("api_key".to_owned());
            }
            assert_eq!(schemes, expected, "{method} {path}: documented security");
        }
    }
    // Two walked calls are one route (`GET /v1/reports`, `GET /v1/accounts`: with and without
    // a filter).
    let distinct: std::collections::BTreeSet<String> = walked
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                concrete(r.path.split('?').next().unwrap())
            )
        })
        .collect();
    assert_eq!(
        documented,
        distinct.len(),
        "every walked route is documented"
    );
}

#[tokio::test]
async fn every_dialect_refuses_no_key_another_key_and_the_admin_token_alike() {
    let app = TestApp::new().await;
    for (n, dialect) in DIALECTS.iter().enumerate() {
        let family = if dialect.families.allows(Family::Image) {
            Family::Image
        } else {
            dialect.some_family()
        };
        // A task of alice's for this dialect alone, so that the owner's report is its first.
        let task: &'static str = Box::leak(format!("{}", 7000 + n).into_boxed_str());
        let captcha_type = match family {
            Family::Image => "image",
            Family::Recaptcha => "recaptcha_v2",
            other => other.as_str(),
        };
        let at = crate::support::T0
            .saturating_sub(std::time::Duration::from_secs(5))
            .to_rfc3339();
        let ingested = app
            .engine
            .ingest(vec![Ok(verdict_domain::TaskInput {
                id: Some(task.into()),
                account: Some("1".into()),
                captcha_type: Some(captcha_type.into()),
                provider: Some("prov-a".into()),
                worker: Some("w-1".into()),
                answer: Some("QX7PL".into()),
                cost: Some("0.001".into()),
                completed_at: Some(at),
            })])
            .await
            .unwrap();
        assert_eq!(ingested.inserted, 1, "{:?}", ingested.rejected);
        let send = |key: &'static str, account: &'static str| {
            let wire = dialect
                .request(&Report {
                    key,
                    account,
                    task,
                    family,
                    kind: ReportKind::Incorrect,
                })
                .unwrap_or_else(|| panic!("{} carries no report", dialect.name));
            let mut builder = Request::builder().method(wire.method).uri(wire.path);
            for (name, value) in &wire.headers {
                builder = builder.header(*name, value.as_str());
            }
            let request = builder.body(Body::from(wire.body)).unwrap();
            let app = &app;
            async move { app.send(request).await }
        };
        for (who, key, account) in [
            ("nobody", "", "alice"),
            ("bob", BOB_KEY, "bob"),
            ("the admin token", ADMIN, "alice"),
        ] {
            let reply = send(key, account).await;
            let text = reply.text();
            assert!(
                dialect.is_shaped(reply.status.as_u16(), &text),
                "{} as {who}: {text}",
                dialect.name
            );
            assert!(
                !dialect.is_recorded(reply.status.as_u16(), &text),
                "{} recorded a report on alice's task for {who}: {text}",
                dialect.name
            );
            assert!(!text.contains("alice"), "{}: {text}", dialect.name);
        }
        // Bob's answer is the answer for a task that does not exist at all.
        let missing = dialect
            .request(&Report {
                key: BOB_KEY,
                account: "bob",
                task: "999999",
                family,
                kind: ReportKind::Incorrect,
            })
            .unwrap();
        let mut builder = Request::builder().method(missing.method).uri(missing.path);
        for (name, value) in &missing.headers {
            builder = builder.header(*name, value.as_str());
        }
        let none = app
            .send(builder.body(Body::from(missing.body)).unwrap())
            .await;
        let foreign = send(BOB_KEY, "bob").await;
        assert_eq!(
            (foreign.status, foreign.text()),
            (none.status, none.text()),
            "{}: another account's task must read exactly as a missing one",
            dialect.name
        );
        // The owner's report goes through.
        let own = send(ALICE_KEY, "alice").await;
        assert!(
            dialect.is_recorded(own.status.as_u16(), &own.text()),
            "{}: {}",
            dialect.name,
            own.text()
        );
    }
}
