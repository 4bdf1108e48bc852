//! Fresh stores for tests: a temp-file SQLite database per test.

use std::ops::Deref;
use std::sync::Arc;

use verdict_store::sqlite::SqliteOptions;
use verdict_store::{SqliteStore, Store};

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
