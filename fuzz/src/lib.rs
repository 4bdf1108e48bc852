//! Fuzz targets, each a function of bytes that panics when the property it holds breaks:
//!
//! - [`dialect_request`]: a request to one dialect's endpoint, built from the bytes, through
//!   the real router (dialect parsing, the engine, a real SQLite store). Whatever the bytes,
//!   the answer is in the dialect's own shape and never a server error.
//! - [`ingest_batch`]: bytes as an NDJSON ingest batch. Whatever the bytes, parsing names each
//!   bad record; every record that validates renders back to a record that parses and
//!   validates to the same task (`parse(render(x)) == x`).
//!
//! `cargo test -p verdict-fuzz` replays the committed corpus and a seeded random pass;
//! `cargo afl` fuzzes them coverage-guided (docs/fuzzing.md).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;
use verdict_domain::{Family, ReportKind, Task, TaskInput, Timestamp};
use verdict_engine::{Engine, ManualClock};
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::{Dialect, Report, WireRequest};
use verdict_http::{AppState, Limits, app};
use verdict_store::SqliteStore;
use verdict_store::sqlite::SqliteOptions;

/// The world every request is made against: one account, one image and one token task.
pub const KEY: &str = "f0zz5e7a9c3d1b8e6f4a2c0d9b7e5f31";
const ADMIN: &str = "Fuzz-Admin-Token-5c2e8a1f9d";
const IMAGE_TASK: &str = "4242";
const TOKEN_TASK: &str = "4343";
const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

struct World {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temp dir");
        let router = runtime.block_on(async {
            let store = SqliteStore::open(
                dir.path().join("fuzz.db"),
                SqliteOptions {
                    writer_cache_mib: 4,
                    // Throwaway data: no fsync, so that each execution is cheap.
                    durable: false,
                },
            )
            .expect("a store");
            let clock = Arc::new(ManualClock::at(T0));
            let engine = Engine::new(Arc::new(store), verdict_http::default_policy(), clock);
            let (admin, _) = engine.admin_token(Some(ADMIN)).await.expect("admin");
            engine
                .create_account(
                    "alice".into(),
                    true,
                    Some(verdict_domain::ApiKey::parse(KEY).expect("key")),
                )
                .await
                .expect("account");
            let task = |id: &str, t: &str| {
                Ok(TaskInput {
                    id: Some(id.into()),
                    account: Some("1".into()),
                    captcha_type: Some(t.into()),
                    provider: Some("p".into()),
                    worker: Some("w".into()),
                    answer: Some("QX7PL".into()),
                    cost: Some("0.001".into()),
                    completed_at: Some(T0.to_rfc3339()),
                })
            };
            engine
                .ingest(vec![
                    task(IMAGE_TASK, "image"),
                    task(TOKEN_TASK, "hcaptcha"),
                ])
                .await
                .expect("ingest");
            app(AppState {
                engine,
                admin,
                limits: Limits::default(),
                guard: Arc::new(verdict_http::guard::Guard::off()),
            })
        });
        World {
            runtime,
            router,
            _dir: dir,
        }
    })
}

/// A well-formed report of `dialect`'s on the world's task of `family`.
pub fn example(dialect: &Dialect, kind: ReportKind) -> Option<WireRequest> {
    let family = if dialect.families.allows(Family::Image) {
        Family::Image
    } else {
        dialect.some_family()
    };
    let task = if family == Family::Image {
        IMAGE_TASK
    } else {
        TOKEN_TASK
    };
    dialect.request(&Report {
        key: KEY,
        account: "alice",
        task,
        family,
        kind,
    })
}

/// Where a dialect's request carries what varies: its query string, or the task id in its
/// path; the rest of the path is the route, which stays the dialect's own so that the dialect
/// answers whatever the bytes.
enum Variable<'a> {
    Query {
        route: &'a str,
        query: &'a str,
    },
    PathId {
        before: &'a str,
        id: &'a str,
        after: &'a str,
    },
    Nothing,
}

fn variable(path: &str) -> Variable<'_> {
    if let Some((route, query)) = path.split_once('?') {
        return Variable::Query { route, query };
    }
    for id in [IMAGE_TASK, TOKEN_TASK] {
        if let Some(at) = path.find(id) {
            return Variable::PathId {
                before: &path[..at],
                id,
                after: &path[at + id.len()..],
            };
        }
    }
    Variable::Nothing
}

/// The fuzz input of a request: the dialect's index, then the varying part of its path (query
/// string or id), its header values and its body, separated by NUL bytes.
pub fn encode(dialect: usize, request: &WireRequest) -> Vec<u8> {
    let mut bytes = vec![u8::try_from(dialect).unwrap_or(0)];
    match variable(&request.path) {
        Variable::Query { query, .. } => bytes.extend_from_slice(query.as_bytes()),
        Variable::PathId { id, .. } => bytes.extend_from_slice(id.as_bytes()),
        Variable::Nothing => {}
    }
    bytes.push(0);
    let values: Vec<&str> = request.headers.iter().map(|(_, v)| v.as_str()).collect();
    bytes.extend_from_slice(values.join("\n").as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(request.body.as_bytes());
    bytes
}

/// The request the bytes make for the dialect they name: its endpoint's method, route and
/// header names; the varying part of the path, the header values and the body from the bytes.
fn decode(data: &[u8]) -> Option<(&'static Dialect, Request<Body>)> {
    let (&selector, rest) = data.split_first()?;
    let dialect = DIALECTS[usize::from(selector) % DIALECTS.len()];
    let template = example(dialect, ReportKind::Incorrect)?;
    let mut parts = rest.splitn(3, |&b| b == 0);
    let varying = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let values = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default().to_vec();
    let (path, route) = match variable(&template.path) {
        Variable::Query { route, .. } => (format!("{route}?{varying}"), route),
        Variable::PathId { before, after, .. } => (format!("{before}{varying}{after}"), before),
        Variable::Nothing => (template.path.clone(), template.path.as_str()),
    };
    let mut builder = Request::builder().method(template.method.clone());
    builder = match path.parse::<axum::http::Uri>() {
        // A path that leaves the route (`..`, another prefix) would be another endpoint's.
        Ok(uri) if uri.path().starts_with(route) => builder.uri(uri),
        _ => builder.uri(template.path.as_str()),
    };
    for ((name, _), value) in template.headers.iter().zip(values.split(|&b| b == b'\n')) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    if template.method == Method::GET && body.is_empty() {
        return Some((dialect, builder.body(Body::empty()).ok()?));
    }
    Some((dialect, builder.body(Body::from(body)).ok()?))
}

/// Sends the request the bytes make; panics if the answer is a server error or not in the
/// dialect's shape.
pub fn dialect_request(data: &[u8]) {
    let Some((dialect, request)) = decode(data) else {
        return;
    };
    let world = world();
    let (status, body) = world.runtime.block_on(async {
        let response = world
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (status, body)
    });
    let text = String::from_utf8_lossy(&body);
    assert!(
        !status.is_server_error() || status.as_u16() == dialect.unavailable.0,
        "{}: server error {status}: {text}",
        dialect.name
    );
    assert!(
        dialect.is_shaped(status.as_u16(), &text),
        "{}: answer not in its shape: {status} {text}",
        dialect.name
    );
}

/// The record a task was ingested from, as a platform would send it.
fn render(task: &Task) -> String {
    serde_json::json!({
        "id": task.id.as_str(),
        "account": task.account.0,
        "type": task.captcha_type.as_str(),
        "provider": task.provider,
        "worker": task.worker,
        "answer": task.answer,
        "cost": task.cost.to_string(),
        "completed_at": task.completed_at.to_rfc3339(),
    })
    .to_string()
}

/// Parses the bytes as NDJSON; each record that validates must render back to itself.
pub fn ingest_batch(data: &[u8]) {
    let now = T0;
    let records = verdict_http::native::parse_batch(data, true).expect("NDJSON never fails whole");
    for record in records {
        let Ok(input) = record else { continue };
        let Ok(task) = input.validate(now) else {
            continue;
        };
        let again = verdict_http::native::parse_batch(render(&task).as_bytes(), true)
            .expect("a rendered record parses");
        assert_eq!(again.len(), 1);
        let again = again
            .into_iter()
            .next()
            .and_then(Result::ok)
            .expect("a rendered record reads")
            .validate(now)
            .expect("a rendered record validates");
        assert_eq!(again, task, "parse(render(x)) != x");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz input format loses nothing of a dialect's own request: the seeds are the
    /// requests they stand for, so the fuzzer starts from well-formed reports.
    #[test]
    fn decoding_an_encoded_request_gives_the_request_back() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut checked = 0;
        for (n, dialect) in DIALECTS.iter().enumerate() {
            for kind in [ReportKind::Incorrect, ReportKind::Correct] {
                // `decode` rebuilds from the incorrect report's route: a correct report on
                // another route is fuzzed as that route's input, not round-tripped.
                let Some(wire) = example(dialect, kind) else {
                    continue;
                };
                let template = example(dialect, ReportKind::Incorrect).unwrap();
                if template.path.split('?').next() != wire.path.split('?').next()
                    || template.method != wire.method
                {
                    continue;
                }
                let (decoded_dialect, request) = decode(&encode(n, &wire)).expect("decodes");
                assert_eq!(decoded_dialect.name, dialect.name);
                assert_eq!(request.method(), &wire.method, "{}", dialect.name);
                assert_eq!(request.uri().to_string(), wire.path, "{}", dialect.name);
                for (name, value) in &wire.headers {
                    assert_eq!(
                        request.headers().get(*name).map(|v| v.as_bytes()),
                        Some(value.as_bytes()),
                        "{} {name}",
                        dialect.name
                    );
                }
                let body = runtime
                    .block_on(request.into_body().collect())
                    .unwrap()
                    .to_bytes();
                assert_eq!(body, wire.body.as_bytes(), "{}", dialect.name);
                checked += 1;
            }
        }
        assert!(
            checked >= DIALECTS.len(),
            "{checked} requests round-tripped"
        );
    }

    #[test]
    fn a_path_that_would_leave_the_route_stays_on_it() {
        let (n, dialect) = DIALECTS
            .iter()
            .enumerate()
            .find(|(_, d)| {
                example(d, ReportKind::Incorrect)
                    .is_some_and(|w| matches!(variable(&w.path), Variable::PathId { .. }))
            })
            .expect("a dialect with the task id in its path");
        let wire = example(dialect, ReportKind::Incorrect).unwrap();
        let Variable::PathId { before, .. } = variable(&wire.path) else {
            unreachable!()
        };
        let mut data = vec![u8::try_from(n).unwrap()];
        data.extend_from_slice(b"../../v1/accounts");
        let (_, request) = decode(&data).expect("decodes");
        assert!(
            request.uri().path().starts_with(before),
            "{} left {before}",
            request.uri()
        );
    }
}
