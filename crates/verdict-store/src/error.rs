//! Storage errors, in the four kinds the layers above act on. Messages are for logs only: no
//! caller puts them in a response body.

/// `Clone` because one failed commit answers every request of its batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or integrity rule refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or written right now (lost connection, locked, disk full,
    /// read-only). Worth retrying; becomes 503 or the dialect's equivalent.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match &e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                C::ConstraintViolation => StoreError::Conflict(e.to_string()),
                C::DatabaseBusy
                | C::DatabaseLocked
                | C::DiskFull
                | C::SystemIoFailure
                | C::CannotOpen
                | C::ReadOnly
                | C::OutOfMemory
                | C::NoLargeFileSupport => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Other(e.to_string()),
            },
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let message = describe_pg(&e);
        if let Some(state) = e.code() {
            let code = state.code();
            return match code {
                _ if code.starts_with("23") => StoreError::Conflict(message),
                // Serialization failure, deadlock: the backend retries these a few times first.
                "40001" | "40P01" => StoreError::Unavailable(message),
                // Connection exceptions, insufficient resources (disk full, too many
                // connections), operator intervention (admin shutdown, starting up, cancelled),
                // read-only transaction (a standby after failover), lock not available, I/O.
                _ if code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57")
                    || code.starts_with("58")
                    || code == "25006"
                    || code == "55P03" =>
                {
                    StoreError::Unavailable(message)
                }
                _ => StoreError::Other(message),
            };
        }
        // No SQLSTATE: the error is about the connection itself (refused, reset, closed, timed
        // out) unless it is about converting a value.
        let text = e.to_string();
        let about_values = text.starts_with("error serializing")
            || text.starts_with("error deserializing")
            || text.starts_with("invalid column")
            || text.starts_with("query returned")
            || text.starts_with("invalid connection string")
            || text.starts_with("invalid configuration");
        if about_values {
            StoreError::Other(message)
        } else {
            StoreError::Unavailable(message)
        }
    }
}

/// The error with its cause: tokio-postgres's own text is often only "db error".
fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", e, db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError as P;
        match e {
            P::Backend(e) => StoreError::from(e),
            P::Timeout(kind) => StoreError::Unavailable(format!(
                "no PostgreSQL connection within the pool's time limit ({kind:?})"
            )),
            P::Closed => StoreError::Unavailable("the PostgreSQL pool is closed".into()),
            P::PostCreateHook(deadpool_postgres::HookError::Backend(e)) => StoreError::from(e),
            other => StoreError::Other(other.to_string()),
        }
    }
}
