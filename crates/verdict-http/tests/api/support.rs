//! The test app: the real router on a fresh SQLite file, a hand-set clock, and a fixed world of
//! two accounts and a task of every kind, so that fixtures can name ids and keys literally.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use tower::ServiceExt;
use verdict_domain::{AccountId, Amount, ApiKey, TaskInput, Timestamp, ledger};
use verdict_engine::{Engine, ManualClock};
use verdict_http::{AppState, Limits, app};
use verdict_store::SqliteStore;
use verdict_store::sqlite::SqliteOptions;

/// 2026-11-21T10:00:00Z, the world's "now".
pub const T0: Timestamp = Timestamp::from_millis(1_795_255_200_000);
pub const ADMIN: &str = "admin-token-for-tests-0000000000";
pub const ALICE_KEY: &str = "a11ce5f0d3c8b92e47a1f6e03d9c2b71";
pub const BOB_KEY: &str = "b0b07e2c91f4d8a3b5c06e9f1a2d4c83";
pub const ALICE: AccountId = AccountId(1);
pub const BOB: AccountId = AccountId(2);

/// (id, owner, type, answer, cost, seconds before T0)
pub const WORLD: &[(&str, AccountId, &str, &str, &str, u64)] = &[
    ("1001", ALICE, "image", "KWG90", "0.001", 10),
    ("1002", ALICE, "audio", "seven four one", "0.002", 10),
    ("1003", ALICE, "recaptcha_v2", "03AGdBq24", "0.002", 10),
    ("1004", ALICE, "recaptcha_v3", "03AGdBq25", "0.0025", 10),
    (
        "1005",
        ALICE,
        "recaptcha_enterprise",
        "03AGdBq26",
        "0.003",
        10,
    ),
    ("1006", ALICE, "hcaptcha", "P1_eyJ0eXAi", "0.003", 10),
    ("1007", ALICE, "turnstile", "0.zq3Lx", "0.0015", 10),
    ("1008", ALICE, "funcaptcha", "7165f2", "0.004", 10),
    ("1009", ALICE, "geetest", "lot_9", "0.003", 10),
    ("1010", ALICE, "other", "x", "0.001", 10),
    ("1011", ALICE, "recaptcha_v2", "03AGdBq27", "0.002", 61),
    ("1012", ALICE, "image", "ABCDE", "0.001", 25 * 3600),
    ("1013", ALICE, "image", "ZZ9Q", "0.001", 10),
    (
        "1014",
        ALICE,
        "recaptcha_v2",
        "03AGdBq31",
        "0.002",
        25 * 3600,
    ),
    ("12345", ALICE, "recaptcha_v2", "03AGdBq28", "0.002", 10),
    (
        "74455221488",
        ALICE,
        "recaptcha_v2",
        "03AGdBq29",
        "0.002",
        10,
    ),
    (
        "550e8400-e29b-41d4-a716-446655440000",
        ALICE,
        "image",
        "Q7TRV",
        "0.001",
        10,
    ),
    (
        "7587c9c6-cf5f-4dc9-a382-a808a2d90dc8",
        ALICE,
        "image",
        "KWG9O",
        "0.001",
        10,
    ),
    (
        "task_abc123xyz789",
        ALICE,
        "turnstile",
        "0.ab12",
        "0.0015",
        10,
    ),
    ("2001", BOB, "image", "HELLO", "0.001", 10),
    ("2002", BOB, "recaptcha_v2", "03AGdBq30", "0.002", 10),
];

/// Each account's last day: this many unreported tasks of each of these types, one every ten
/// minutes, so that both are judged as established accounts (the screen wants 100 tasks of a
/// family in 24 h before it judges an account by its rate).
pub const HISTORY_PER_TYPE: usize = 110;
pub const HISTORY_TYPES: [&str; 8] = [
    "image",
    "audio",
    "recaptcha_v2",
    "hcaptcha",
    "turnstile",
    "funcaptcha",
    "geetest",
    "other",
];

fn history() -> Vec<Result<TaskInput, String>> {
    let mut records = Vec::new();
    for (owner, name) in [(ALICE, "alice"), (BOB, "bob")] {
        for t in HISTORY_TYPES {
            for i in 1..=HISTORY_PER_TYPE {
                let completed = T0.saturating_sub(Duration::from_secs(600 * i as u64));
                records.push(Ok(TaskInput {
                    id: Some(format!("h-{name}-{t}-{i}")),
                    account: Some(owner.to_string()),
                    captcha_type: Some(t.into()),
                    provider: Some("prov-a".into()),
                    worker: Some("w-1".into()),
                    answer: Some("x".into()),
                    cost: Some("0.001".into()),
                    completed_at: Some(completed.to_rfc3339()),
                }));
            }
        }
    }
    records
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub struct TestApp {
    pub router: Router,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// A fresh database holding the fixed world.
    pub async fn new() -> Self {
        Self::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> Self {
        Self::build(limits, verdict_http::default_policy()).await
    }

    pub async fn with_policy(policy: verdict_domain::Policy) -> Self {
        Self::build(Limits::default(), policy).await
    }

    pub async fn with_routing(
        policy: verdict_domain::Policy,
        routing: verdict_engine::RoutingSettings,
    ) -> Self {
        Self::build_with(Limits::default(), policy, routing).await
    }

    /// With rate limits (every other app has none).
    pub async fn with_rates(rates: verdict_http::guard::RateLimits) -> Self {
        Self::build_full(
            Limits::default(),
            verdict_http::default_policy(),
            Default::default(),
            rates,
        )
        .await
    }

    async fn build(limits: Limits, policy: verdict_domain::Policy) -> Self {
        Self::build_with(limits, policy, Default::default()).await
    }

    async fn build_with(
        limits: Limits,
        policy: verdict_domain::Policy,
        routing: verdict_engine::RoutingSettings,
    ) -> Self {
        Self::build_full(
            limits,
            policy,
            routing,
            verdict_http::guard::RateLimits::off(),
        )
        .await
    }

    /// With every setting chosen by the caller.
    pub async fn build_full(
        limits: Limits,
        policy: verdict_domain::Policy,
        routing: verdict_engine::RoutingSettings,
        rates: verdict_http::guard::RateLimits,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(
            dir.path().join("verdict.db"),
            SqliteOptions {
                writer_cache_mib: 8,
                ..Default::default()
            },
        )
        .expect("open store");
        let clock = Arc::new(ManualClock::at(T0));
        let engine = Engine::new(Arc::new(store), policy, clock.clone()).with_routing(routing);
        // As `verdict serve` does: the engine knows the admin token, so no client key may equal it.
        let (admin, _) = engine.admin_token(Some(ADMIN)).await.expect("admin token");
        for (name, key) in [("alice", ALICE_KEY), ("bob", BOB_KEY)] {
            engine
                .create_account(name.into(), false, Some(ApiKey::parse(key).unwrap()))
                .await
                .expect("create account");
        }
        let records = WORLD
            .iter()
            .map(|(id, owner, t, answer, cost, age)| {
                Ok(TaskInput {
                    id: Some((*id).into()),
                    account: Some(owner.to_string()),
                    captcha_type: Some((*t).into()),
                    provider: Some("prov-a".into()),
                    worker: Some("w-1".into()),
                    answer: Some((*answer).into()),
                    cost: Some((*cost).into()),
                    completed_at: Some(T0.saturating_sub(Duration::from_secs(*age)).to_rfc3339()),
                })
            })
            .collect();
        let summary = engine.ingest(records).await.expect("ingest world");
        assert_eq!(summary.inserted, WORLD.len(), "{:?}", summary.rejected);
        let history = engine.ingest(history()).await.expect("ingest history");
        assert_eq!(
            history.inserted,
            2 * HISTORY_TYPES.len() * HISTORY_PER_TYPE,
            "{:?}",
            history.rejected
        );
        let router = app(AppState {
            guard: std::sync::Arc::new(verdict_http::guard::Guard::new(&rates)),
            engine: engine.clone(),
            admin,
            limits,
        });
        Self {
            router,
            engine,
            clock,
            _dir: dir,
        }
    }

    /// A request as if it came over a connection from `peer`.
    pub async fn send_from(&self, peer: &str, mut request: Request<Body>) -> Reply {
        request.extensions_mut().insert(axum::extract::ConnectInfo(
            peer.parse::<std::net::SocketAddr>()
                .expect("a socket address"),
        ));
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request built by a dialect's registry entry.
    pub async fn send_wire(&self, wire: verdict_http::dialect::registry::WireRequest) -> Reply {
        let mut builder = Request::builder().method(wire.method).uri(wire.path);
        for (name, value) in wire.headers {
            builder = builder.header(name, value);
        }
        self.send(builder.body(Body::from(wire.body)).unwrap())
            .await
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Reply {
        let mut builder = Request::post(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(body.into()).unwrap()).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.post(
            path,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    /// A JSON body with a bearer token.
    pub async fn post_json_as(&self, path: &str, bearer: &str, body: &serde_json::Value) -> Reply {
        let auth = format!("Bearer {bearer}");
        self.post(
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            body.to_string(),
        )
        .await
    }

    /// Any method, with a bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {bearer}"));
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Reply {
        let request = Request::get(path)
            .header("authorization", format!("Bearer {bearer}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// The account's balance, after checking it equals the sum of its ledger.
    pub async fn balance(&self, account: AccountId) -> Amount {
        let view = self.engine.account(account).await.expect("account");
        let entries = self.engine.ledger(account).await.expect("ledger");
        assert_eq!(
            ledger::balance(&entries),
            view.account.balance,
            "balance drifted from ledger"
        );
        view.account.balance
    }

    /// (task id, amount) of every ledger entry of the account, in order.
    pub async fn ledger(&self, account: AccountId) -> Vec<(String, Amount)> {
        self.engine
            .ledger(account)
            .await
            .expect("ledger")
            .into_iter()
            .map(|e| (e.task.to_string(), e.amount))
            .collect()
    }
}
