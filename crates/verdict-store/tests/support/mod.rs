//! Fresh stores for tests: a temp-file SQLite database, or a PostgreSQL schema of its own
//! (created here, dropped when the test ends, pass or fail).

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use verdict_store::postgres::PostgresOptions;
use verdict_store::sqlite::SqliteOptions;
use verdict_store::{PostgresStore, SqliteStore, Store};

/// A store and whatever keeps its database alive until the test ends.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn Send + Sync>,
}

impl Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

pub async fn fresh_sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        dir.path().join("verdict.db"),
        SqliteOptions {
            writer_cache_mib: 8,
            ..Default::default()
        },
    )
    .expect("open SQLite");
    TestStore {
        store: Arc::new(store),
        _guard: Box::new(dir),
    }
}

/// The PostgreSQL server the tests use. Missing is a failure, not a skip: a suite that quietly
/// runs on SQLite only is how a backend stops being tested.
pub fn pg_url() -> String {
    match std::env::var("VERDICT_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "VERDICT_TEST_PG_URL is not set, so the PostgreSQL cases cannot run.\n\
             ./.ci/run starts PostgreSQL and sets it; by hand:\n\
             \x20   pg_ctlcluster --skip-systemctl-redirect 15 main start\n\
             \x20   runuser -u postgres -- psql -c \"CREATE ROLE verdict LOGIN PASSWORD 'verdict'\"\n\
             \x20   runuser -u postgres -- psql -c \"CREATE DATABASE verdict_test OWNER verdict\"\n\
             \x20   export VERDICT_TEST_PG_URL=postgres://verdict:verdict@127.0.0.1:5432/verdict_test"
        ),
    }
}

/// A schema name no other test (in this or another process) uses.
pub fn unique_schema() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// Runs one statement on its own connection (schema set-up and tear-down).
pub async fn pg_execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to VERDICT_TEST_PG_URL: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = task.await;
}

/// Drops its schema when dropped.
pub struct SchemaGuard {
    url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (url, sql) = (
            self.url.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        );
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(pg_execute(&url, &sql));
        })
        .join();
    }
}

/// A new, empty schema on the test server.
pub async fn fresh_schema() -> (String, SchemaGuard) {
    let url = pg_url();
    let schema = unique_schema();
    pg_execute(&url, &format!("CREATE SCHEMA {schema}")).await;
    let guard = SchemaGuard {
        url,
        schema: schema.clone(),
    };
    (schema, guard)
}

pub async fn fresh_postgres() -> TestStore {
    let (schema, guard) = fresh_schema().await;
    let store = PostgresStore::connect(
        &guard.url,
        PostgresOptions {
            pool_size: 8,
            // The cases are about correctness. On a loaded two-core machine (a build or a
            // simulation beside the suite), fifty concurrent callers can wait longer than the
            // default 3 s for one of eight connections, and the 503-worthy `Unavailable` that
            // follows would be right but beside the point.
            acquire_timeout: std::time::Duration::from_secs(30),
            schema: Some(schema),
        },
    )
    .await
    .expect("connect to PostgreSQL and migrate");
    TestStore {
        store: Arc::new(store),
        _guard: Box::new(guard),
    }
}
