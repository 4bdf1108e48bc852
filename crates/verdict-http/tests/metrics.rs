//! `/metrics` before and after a run through every dialect, an ingest, operator calls and
//! routing: what moved between the two scrapes is what the run implies (reports per dialect,
//! type, outcome, verdict and reason as storage kept them; refunds and reversals as the ledgers
//! hold them; standing changes, ingested rows, routing decisions, store errors, requests per
//! route group as sent); every label value belongs to its bounded set, and no id, key or address
//! is ever a label. The example Grafana dashboard is checked against the series the scrape
//! showed.
//!
//! A test binary of its own, and one test in it that records: the recorder is global to the
//! process, so a test running beside it could add to its counts.

#[expect(
    dead_code,
    reason = "the API tests' support, of which this binary uses a part"
)]
#[path = "api/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use verdict_domain::ledger::EntryKind;
use verdict_domain::{AccountId, ApiKey, CaptchaType, Family, ReportKind, TaskId, TaskInput};
use verdict_engine::{EngineError, ProviderProfile, RoutingSettings};
use verdict_http::Limits;
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::{Dialect, Report, WireRequest};
use verdict_http::guard::{Rate, RateLimits};

use support::{ADMIN, ALICE, ALICE_KEY, BOB, BOB_KEY, TestApp, WORLD};

const MALLORY_KEY: &str = "ma11ory8e2f4a9c1d7b3e5f60a8c2d4";
const GUESSER: &str = "203.0.113.66:5555";
const PROVIDERS: [&str; 2] = ["prov-a", "prov-b"];
const ROUTED: usize = 5;
const MALLORY_TASKS: usize = 30;

/// One line of a scrape.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a Prometheus text exposition (comments skipped).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("a name");
        let name = line[..name_end].to_owned();
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = inner;
            loop {
                rest = rest.strip_prefix(',').unwrap_or(rest);
                if let Some(after) = rest.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let eq = rest.find('=').expect("label=value");
                let key = rest[..eq].to_owned();
                let quoted = rest[eq + 1..].strip_prefix('"').expect("a quoted value");
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next().expect("a closing quote") {
                        (_, '\\') => match chars.next().expect("an escape").1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        (i, '"') => break i,
                        (_, c) => value.push(c),
                    }
                };
                rest = &quoted[end + 1..];
                labels.insert(key, value);
            }
        }
        let value = rest
            .split_whitespace()
            .next()
            .expect("a value")
            .parse()
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The sum of `name`'s samples carrying every one of `labels`.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// The scrapes before and after the run: what the run counted is the difference, whatever the
/// process counted before it (building the app ingests a world, for one).
struct Scrapes {
    before: Vec<Sample>,
    after: Vec<Sample>,
}

impl Scrapes {
    fn delta(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        sum(&self.after, name, labels) - sum(&self.before, name, labels)
    }
}

/// `/metrics` as the operator's Prometheus sees it.
async fn scrape(app: &TestApp) -> Vec<Sample> {
    let reply = app.get("/metrics", ADMIN).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&reply.text())
}

/// A task of `family`'s first type for `owner`, completed five seconds before `now`.
fn task(id: &str, owner: AccountId, family: Family, now: verdict_domain::Timestamp) -> TaskInput {
    let captcha_type = CaptchaType::ALL
        .into_iter()
        .find(|t| t.family() == family)
        .unwrap();
    TaskInput {
        id: Some(id.into()),
        account: Some(owner.to_string()),
        captcha_type: Some(captcha_type.as_str().into()),
        provider: Some("prov-a".into()),
        worker: Some("w-1".into()),
        answer: Some("ANSWER".into()),
        cost: Some("0.002".into()),
        completed_at: Some(now.saturating_sub(Duration::from_secs(5)).to_rfc3339()),
    }
}

fn request(wire: &WireRequest) -> Request<Body> {
    let mut builder = Request::builder()
        .method(wire.method.clone())
        .uri(wire.path.as_str());
    for (name, value) in &wire.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(Body::from(wire.body.clone())).unwrap()
}

/// What the run sent and what it must show.
#[derive(Default)]
struct Expected {
    /// Route group → requests.
    requests: BTreeMap<&'static str, f64>,
    /// (dialect, type, outcome, verdict, reason) → reports.
    reports: BTreeMap<[String; 5], f64>,
    /// (change, lane) → standing changes.
    standing: BTreeMap<(String, String), f64>,
    inserted: f64,
    duplicates: f64,
    rejected: f64,
    /// Every id, key and address the run used: none may be a label.
    secrets: BTreeSet<String>,
}

impl Expected {
    fn request(&mut self, group: &'static str) {
        *self.requests.entry(group).or_default() += 1.0;
    }

    fn report(&mut self, dialect: &str, t: &str, outcome: &str, verdict: &str, reason: &str) {
        *self
            .reports
            .entry([dialect, t, outcome, verdict, reason].map(str::to_owned))
            .or_default() += 1.0;
    }

    /// Counts the report stored on `task` (sent now) as recorded, or as repeated.
    async fn stored(&mut self, app: &TestApp, task: &str, outcome: &str) {
        let (found, report) = app
            .engine
            .task(&TaskId::parse(task).unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("task {task}"));
        let report = report.unwrap_or_else(|| panic!("{task} has no report"));
        self.report(
            &report.dialect,
            found.captcha_type.as_str(),
            outcome,
            report.verdict.as_str(),
            report.reason.code(),
        );
        if outcome == "recorded"
            && matches!(
                report.reason.code(),
                "rate_above_cohort" | "rate_above_own_history"
            )
        {
            let lane = report.evidence.get("lane").and_then(Value::as_str).unwrap();
            *self
                .standing
                .entry(("ignored".into(), lane.into()))
                .or_default() += 1.0;
        }
    }
}

/// The route group a dialect's requests are timed in: the shared `/feedbackTask` routes have
/// their own.
fn group_of(dialect: &Dialect) -> &'static str {
    if dialect.endpoints.contains(&"POST /feedbackTask") {
        "feedback_task"
    } else {
        dialect.name
    }
}

/// Sends a request to a route of `group`, and counts it.
async fn send(
    app: &TestApp,
    expected: &mut Expected,
    group: &'static str,
    request: Request<Body>,
) -> support::Reply {
    expected.request(group);
    app.send(request).await
}

#[tokio::test]
async fn a_scrape_after_reports_through_every_dialect_and_an_ingest_shows_them_in_bounded_labels() {
    verdict_http::metrics::install().expect("the only recorder of this process");
    let routing = RoutingSettings {
        providers: PROVIDERS
            .map(|name| ProviderProfile {
                name: name.into(),
                cost: 0.001,
                latency_ms: 1000.0,
                p95_latency_ms: 2000.0,
                types: Vec::new(),
            })
            .to_vec(),
        seed: Some(7),
        ..Default::default()
    };
    let rates = RateLimits {
        failed_logins: Some(Rate {
            per_second: 0.001,
            burst: 2,
        }),
        block_for: Duration::from_secs(60),
        ..RateLimits::off()
    };
    let app = TestApp::build_full(
        Limits::default(),
        verdict_http::default_policy(),
        routing,
        rates,
    )
    .await;
    let mut expected = Expected::default();
    expected.secrets.extend(
        [ALICE_KEY, BOB_KEY, MALLORY_KEY, ADMIN, "203.0.113.66"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    expected
        .secrets
        .extend(WORLD.iter().map(|(id, ..)| (*id).to_owned()));
    let before = scrape(&app).await;
    // Timed once its text is rendered: in the second scrape, not in its own.
    expected.request("metrics");

    // One report through every dialect, each on a fresh task of a family it takes.
    let mut first = None;
    for (i, dialect) in DIALECTS.iter().enumerate() {
        let id = format!("77{i:02}");
        let family = dialect.some_family();
        let summary = app
            .engine
            .ingest(vec![Ok(task(&id, ALICE, family, app.engine.now()))])
            .await
            .unwrap();
        assert_eq!(summary.inserted, 1);
        expected.inserted += 1.0;
        expected.secrets.insert(id.clone());
        let wire = [ReportKind::Incorrect, ReportKind::Correct]
            .into_iter()
            .find_map(|kind| {
                dialect.request(&Report {
                    key: ALICE_KEY,
                    account: "alice",
                    task: &id,
                    family,
                    kind,
                })
            })
            .unwrap_or_else(|| panic!("{} carries no report", dialect.name));
        let reply = send(&app, &mut expected, group_of(dialect), request(&wire)).await;
        assert!(
            reply.status.as_u16() < 500,
            "{}: {}",
            dialect.name,
            reply.text()
        );
        expected.stored(&app, &id, "recorded").await;
        first.get_or_insert((group_of(dialect), id, wire));
    }
    // A retry of the first: the same report again.
    let (group, id, wire) = first.unwrap();
    send(&app, &mut expected, group, request(&wire)).await;
    expected.stored(&app, &id, "repeated").await;

    // A task nobody has, through anti-captcha.
    let anticaptcha = verdict_http::dialect::registry::find("anticaptcha").unwrap();
    let nobodys = |key: &'static str, task: &'static str| Report {
        key,
        account: "alice",
        task,
        family: Family::Image,
        kind: ReportKind::Incorrect,
    };
    let wire = anticaptcha.request(&nobodys(ALICE_KEY, "4242424")).unwrap();
    send(&app, &mut expected, "anticaptcha", request(&wire)).await;
    expected.report("anticaptcha", "unknown", "refused", "none", "unknown_task");
    expected.secrets.insert("4242424".into());

    // Guessing keys from one address: two wrong keys within the budget, the third blocks the
    // address, the fourth is refused by the guard unread, and still timed in its group.
    let guesses = [
        "deadbeef000000000000000000000001",
        "deadbeef000000000000000000000002",
        "deadbeef000000000000000000000003",
        "deadbeef000000000000000000000004",
    ];
    for (n, guess) in guesses.into_iter().enumerate() {
        let wire = anticaptcha.request(&nobodys(guess, "1001")).unwrap();
        expected.request("anticaptcha");
        let reply = app.send_from(GUESSER, request(&wire)).await;
        let code = reply.json()["errorCode"].clone();
        if n < 3 {
            assert_eq!(code, "ERROR_KEY_DOES_NOT_EXIST", "{}", reply.text());
            expected.report("anticaptcha", "unknown", "refused", "none", "unknown_key");
        } else {
            assert_eq!(code, "ERROR_IP_BLOCKED", "{}", reply.text());
        }
        expected.secrets.insert(guess.into());
    }

    // A script that reports every reCAPTCHA token it gets: refunded at first, then flagged by
    // the screen, its refunds clawed back.
    let (mallory, _) = app
        .engine
        .create_account(
            "mallory".into(),
            false,
            Some(ApiKey::parse(MALLORY_KEY).unwrap()),
        )
        .await
        .unwrap();
    for i in 0..MALLORY_TASKS {
        app.clock.advance(Duration::from_secs(30));
        let id = format!("m-{i}");
        let record = task(&id, mallory.id, Family::Recaptcha, app.engine.now());
        assert_eq!(
            app.engine.ingest(vec![Ok(record)]).await.unwrap().inserted,
            1
        );
        expected.inserted += 1.0;
        let body = json!({ "clientKey": MALLORY_KEY, "taskId": id });
        let reply = send(
            &app,
            &mut expected,
            "anticaptcha",
            Request::post("/reportIncorrectRecaptcha")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.text(), r#"{"errorId":0,"status":"success"}"#);
        expected.stored(&app, &id, "recorded").await;
        expected.secrets.insert(id);
    }
    expected.secrets.insert("mallory".into());
    for account in [ALICE, BOB, mallory.id] {
        expected.secrets.insert(account.to_string());
    }

    // A key already in use: storage refuses the write, and the SQLite writer runs that batch
    // again job by job, where it fails again.
    let taken = app
        .engine
        .create_account("eve".into(), false, Some(ApiKey::parse(ALICE_KEY).unwrap()))
        .await;
    assert!(
        matches!(taken, Err(EngineError::Conflict { .. })),
        "{taken:?}"
    );

    // The operator puts bob on ignored standing, then lifts it.
    for body in [
        json!({ "state": "ignored", "for": "72h", "reason": "testing" }),
        json!({ "state": "good" }),
    ] {
        expected.request("native");
        let reply = app
            .call(
                "PUT",
                &format!("/v1/accounts/{BOB}/standing"),
                ADMIN,
                Some(&body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    for change in ["ignored", "lifted"] {
        expected
            .standing
            .insert((change.into(), "operator".into()), 1.0);
    }

    // Ingest over HTTP: one new task, one already there, one unreadable.
    let now = app.engine.now().to_rfc3339();
    let records = json!([
        { "id": "s-1", "account": 1, "type": "image", "provider": "p", "cost": "0.001", "completed_at": now },
        { "id": "1001", "account": 1, "type": "image", "provider": "p", "cost": "0.001", "completed_at": now },
        { "id": "s-2", "account": 1, "type": "nonsense" },
    ]);
    expected.request("native");
    let reply = app.post_json_as("/v1/tasks", ADMIN, &records).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    (expected.inserted, expected.duplicates, expected.rejected) =
        (expected.inserted + 1.0, 1.0, 1.0);

    // Routing: some decisions, and one no provider fits.
    for _ in 0..ROUTED {
        expected.request("native");
        let reply = app
            .post_json_as("/v1/route", ADMIN, &json!({ "type": "recaptcha_v2" }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    expected.request("native");
    let reply = app
        .post_json_as(
            "/v1/route",
            ADMIN,
            &json!({ "type": "recaptcha_v2", "candidates": ["nobody"] }),
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.text());

    // A route with an id in its path, a path no route has, the dashboard's stylesheet, a probe
    // and the document.
    for (group, path, status) in [
        ("native", "/v1/tasks/1001", StatusCode::OK),
        (
            "dashboard",
            "/dashboard/assets/dashboard.css",
            StatusCode::OK,
        ),
        ("unmatched", "/no/such/7701", StatusCode::NOT_FOUND),
        ("health", "/healthz", StatusCode::OK),
        ("openapi", "/openapi.json", StatusCode::OK),
    ] {
        expected.request(group);
        assert_eq!(app.get(path, ADMIN).await.status, status, "{path}");
    }

    // `/metrics` is the operator's, and says so in the native API's shape.
    for (bearer, status, code) in [
        ("", StatusCode::UNAUTHORIZED, "unauthorized"),
        (ALICE_KEY, StatusCode::FORBIDDEN, "forbidden"),
    ] {
        expected.request("metrics");
        let refused = app.get("/metrics", bearer).await;
        assert_eq!(refused.status, status, "{}", refused.text());
        assert_eq!(refused.json()["error"]["code"], code, "{}", refused.text());
    }
    let scrapes = Scrapes {
        before,
        after: scrape(&app).await,
    };

    check_reports(&scrapes, &expected);
    check_money(&app, &scrapes, &[ALICE, BOB, mallory.id]).await;
    check_counts(&scrapes, &expected);
    check_requests(&scrapes, &expected);
    check_labels(&scrapes.after, &expected.secrets);
    let seen: BTreeSet<String> = scrapes.after.iter().map(|s| series_name(&s.name)).collect();
    check_dashboard(&seen);
}

/// Reports as sent and stored, and nothing else.
fn check_reports(scrapes: &Scrapes, expected: &Expected) {
    for ([dialect, t, outcome, verdict, reason], count) in &expected.reports {
        let labels = [
            ("dialect", dialect.as_str()),
            ("type", t.as_str()),
            ("outcome", outcome.as_str()),
            ("verdict", verdict.as_str()),
            ("reason", reason.as_str()),
        ];
        assert_eq!(
            scrapes.delta("verdict_reports_total", &labels),
            *count,
            "{labels:?}"
        );
    }
    let all: f64 = expected.reports.values().sum();
    assert_eq!(scrapes.delta("verdict_reports_total", &[]), all);
    // Every dialect of the registry reported through.
    for dialect in DIALECTS {
        let through = [("dialect", dialect.name)];
        assert!(
            scrapes.delta("verdict_reports_total", &through) >= 1.0,
            "{}",
            dialect.name
        );
    }
}

/// Refunds and reversals as the ledgers hold them, by type and by lane.
async fn check_money(app: &TestApp, scrapes: &Scrapes, accounts: &[AccountId]) {
    let mut refunds: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut reversals: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for account in accounts {
        for entry in app.engine.ledger(*account).await.unwrap() {
            let micros = entry.amount.micros().unsigned_abs() as f64;
            match entry.kind {
                EntryKind::Refund => {
                    let (task, _) = app.engine.task(&entry.task).await.unwrap().unwrap();
                    let e = refunds.entry(task.captcha_type.as_str()).or_default();
                    (e.0, e.1) = (e.0 + 1.0, e.1 + micros);
                }
                EntryKind::Reversal => {
                    let e = reversals.entry(entry.lane.clone().unwrap()).or_default();
                    (e.0, e.1) = (e.0 + 1.0, e.1 + micros);
                }
            }
        }
    }
    assert!(
        !refunds.is_empty() && !reversals.is_empty(),
        "the run moves money both ways"
    );
    for (t, (count, micros)) in &refunds {
        let labels = [("type", *t)];
        assert_eq!(scrapes.delta("verdict_refunds_total", &labels), *count);
        let refunded = scrapes.delta("verdict_refunded_micros_total", &labels);
        assert_eq!(refunded, *micros, "{t}");
    }
    let all: f64 = refunds.values().map(|(n, _)| n).sum();
    assert_eq!(scrapes.delta("verdict_refunds_total", &[]), all);
    for (lane, (count, micros)) in &reversals {
        let labels = [("lane", lane.as_str())];
        assert_eq!(scrapes.delta("verdict_reversals_total", &labels), *count);
        let reversed = scrapes.delta("verdict_reversed_micros_total", &labels);
        assert_eq!(reversed, *micros, "{lane}");
    }
    let all: f64 = reversals.values().map(|(n, _)| n).sum();
    assert_eq!(scrapes.delta("verdict_reversals_total", &[]), all);
}

/// Standing, ingest, routing, storage.
fn check_counts(scrapes: &Scrapes, expected: &Expected) {
    assert!(!expected.standing.is_empty());
    for ((change, lane), count) in &expected.standing {
        let labels = [("change", change.as_str()), ("lane", lane.as_str())];
        assert_eq!(
            scrapes.delta("verdict_standing_changes_total", &labels),
            *count,
            "{labels:?}"
        );
    }
    let all: f64 = expected.standing.values().sum();
    assert_eq!(scrapes.delta("verdict_standing_changes_total", &[]), all);

    for (result, count) in [
        ("inserted", expected.inserted),
        ("duplicate", expected.duplicates),
        ("rejected", expected.rejected),
    ] {
        let labels = [("result", result)];
        assert_eq!(
            scrapes.delta("verdict_ingest_rows_total", &labels),
            count,
            "{result}"
        );
    }

    let routes = |labels: &[(&str, &str)]| scrapes.delta("verdict_route_decisions_total", labels);
    let refused = routes(&[("rule", "no_eligible_provider"), ("provider", "none")]);
    assert_eq!(refused, 1.0);
    assert_eq!(routes(&[("type", "recaptcha_v2")]), ROUTED as f64 + refused);
    let configured: f64 = PROVIDERS
        .iter()
        .map(|p| routes(&[("type", "recaptcha_v2"), ("provider", p)]))
        .sum();
    let unconfigured = routes(&[("provider", "unconfigured")]);
    assert_eq!(configured + unconfigured, ROUTED as f64);

    // Each recorded report is a job of the SQLite writer, some batched together.
    let recorded: f64 = expected
        .reports
        .iter()
        .filter(|(k, _)| k[2] == "recorded")
        .map(|(_, n)| n)
        .sum();
    let sqlite = [("backend", "sqlite")];
    let jobs = scrapes.delta("verdict_store_batch_size_sum", &sqlite);
    assert!(jobs >= recorded, "{jobs} jobs batched, {recorded} reports");
    assert!(scrapes.delta("verdict_store_batch_size_count", &sqlite) >= 1.0);
    // The conflict above, once per run of its job; nothing else failed or ran twice.
    let conflicts = [("backend", "sqlite"), ("kind", "conflict")];
    assert_eq!(scrapes.delta("verdict_store_errors_total", &conflicts), 2.0);
    assert_eq!(scrapes.delta("verdict_store_errors_total", &[]), 2.0);
    let reruns = [("backend", "sqlite"), ("cause", "batch_rerun")];
    assert_eq!(scrapes.delta("verdict_store_retries_total", &reruns), 1.0);
    assert_eq!(scrapes.delta("verdict_store_retries_total", &[]), 1.0);
}

/// Requests timed in their route groups, refusals and misses in their status classes.
fn check_requests(scrapes: &Scrapes, expected: &Expected) {
    let count = "verdict_http_request_duration_seconds_count";
    for (group, n) in &expected.requests {
        assert_eq!(scrapes.delta(count, &[("group", group)]), *n, "{group}");
    }
    let all: f64 = expected.requests.values().sum();
    assert_eq!(scrapes.delta(count, &[]), all);
    let missed = [("group", "unmatched"), ("status", "4xx")];
    assert_eq!(scrapes.delta(count, &missed), 1.0);
    let refused = [("group", "metrics"), ("status", "4xx")];
    assert_eq!(scrapes.delta(count, &refused), 2.0);
    // Every request is in some bucket, the slowest in `+Inf`.
    let bucket = "verdict_http_request_duration_seconds_bucket";
    assert_eq!(scrapes.delta(bucket, &[("le", "+Inf")]), all);
}

/// Every label value from its bounded set; no id, key or address anywhere.
fn check_labels(samples: &[Sample], secrets: &BTreeSet<String>) {
    let set =
        |values: &[&str]| -> BTreeSet<String> { values.iter().map(|v| (*v).to_owned()).collect() };
    let mut reasons = set(&[
        "unknown_key",
        "unknown_task",
        "window_closed",
        "ineligible_type",
        "correction_not_applicable",
        "conflicting_report",
        "invalid",
        "not_found",
        "conflict",
        "unavailable",
        "internal",
        "unrecognized",
    ]);
    reasons.extend(
        verdict_domain::Reason::KNOWN
            .iter()
            .map(|r| r.code().to_owned()),
    );
    let mut types: BTreeSet<String> = CaptchaType::ALL.iter().map(|t| t.as_str().into()).collect();
    types.insert("unknown".into());
    let mut providers = set(&PROVIDERS);
    providers.extend(set(&["unconfigured", "none"]));
    let dialects: BTreeSet<String> = DIALECTS.iter().map(|d| d.name.to_owned()).collect();
    let mut groups = dialects.clone();
    groups.extend(set(&[
        "feedback_task",
        "dashboard",
        "health",
        "openapi",
        "metrics",
        "unmatched",
    ]));
    let bounded: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("dialect", dialects),
        ("group", groups),
        ("type", types),
        (
            "outcome",
            set(&["recorded", "repeated", "refused", "error"]),
        ),
        (
            "verdict",
            set(&["accepted", "rejected", "acknowledged", "pending", "none"]),
        ),
        ("reason", reasons),
        (
            "lane",
            set(&["fast", "slow", "baseline", "drift", "recheck", "operator"]),
        ),
        ("change", set(&["ignored", "lifted", "noted"])),
        ("result", set(&["inserted", "duplicate", "rejected"])),
        (
            "rule",
            set(&[
                "cheapest_expected_success",
                "fastest_expected_success",
                "exploration",
                "no_provider",
                "no_eligible_provider",
            ]),
        ),
        ("provider", providers),
        ("backend", set(&["sqlite", "postgres"])),
        ("kind", set(&["conflict", "unavailable", "other"])),
        (
            "cause",
            set(&["serialization_failure", "deadlock", "batch_rerun"]),
        ),
        ("status", set(&["1xx", "2xx", "3xx", "4xx", "5xx"])),
    ]);
    for sample in samples {
        for (label, value) in &sample.labels {
            if label == "le" {
                // A histogram bucket's bound.
                assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{value}");
                continue;
            }
            let allowed = bounded
                .get(label.as_str())
                .unwrap_or_else(|| panic!("{}: unexpected label {label}", sample.name));
            assert!(
                allowed.contains(value),
                "{}: {label}={value} is not in its set",
                sample.name
            );
            for secret in secrets {
                assert!(
                    value != secret && !(secret.len() >= 4 && value.contains(secret.as_str())),
                    "{}: {label}={value} shows {secret}",
                    sample.name
                );
            }
        }
    }
}

/// A sample's series: `_bucket`, `_sum` and `_count` are their histogram's.
fn series_name(sample: &str) -> String {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix))
        .unwrap_or(sample)
        .to_owned()
}

fn dashboard() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana/verdict.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Every `expr` of every panel.
fn exprs(dashboard: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dashboard];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(expr)) = map.get("expr") {
                    found.push(expr.clone());
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// The metric names a PromQL expression mentions: `verdict_…` words.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("verdict_"))
        .map(series_name)
        .collect()
}

/// Every query of the example dashboard names series the scrape showed.
fn check_dashboard(seen: &BTreeSet<String>) {
    for expr in exprs(&dashboard()) {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{expr} names no verdict series");
        for name in names {
            assert!(
                seen.contains(&name),
                "the dashboard queries {name}, which no scrape showed ({expr})"
            );
        }
    }
}

#[test]
fn the_example_dashboard_is_grafana_json_with_a_query_per_panel() {
    let dashboard = dashboard();
    assert!(dashboard["title"].is_string());
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut titles = BTreeSet::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().expect("a title");
        assert!(titles.insert(title), "{title} twice");
        assert!(!exprs(panel).is_empty(), "panel {title} has no query");
        assert!(panel["gridPos"].is_object(), "{title} has no place");
    }
    // Every series verdict exports, each on some panel.
    let all: Vec<String> = exprs(&dashboard)
        .iter()
        .flat_map(|e| metric_names(e))
        .collect();
    for series in [
        "verdict_reports_total",
        "verdict_http_request_duration_seconds",
        "verdict_refunds_total",
        "verdict_refunded_micros_total",
        "verdict_reversals_total",
        "verdict_reversed_micros_total",
        "verdict_standing_changes_total",
        "verdict_ingest_rows_total",
        "verdict_store_errors_total",
        "verdict_store_retries_total",
        "verdict_store_batch_size",
        "verdict_route_decisions_total",
    ] {
        assert!(all.iter().any(|n| n == series), "no panel shows {series}");
    }
}
