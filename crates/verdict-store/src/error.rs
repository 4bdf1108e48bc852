//! Storage errors, in the four kinds the layers above act on. Each says what failed in words
//! written here (`what`), and keeps what caused it (`source`: the database driver's error) for
//! the logs; only a conflict's `what` is ever shown to a client, and it never holds a database
//! message.

use std::error::Error;
use std::sync::Arc;

/// The underlying error, shared: one failed commit answers every request of its batch.
pub type Cause = Arc<dyn Error + Send + Sync + 'static>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or integrity rule refused the write.
    #[error("conflict: {what}")]
    Conflict {
        what: String,
        #[source]
        source: Option<Cause>,
    },
    /// The database cannot be reached or written right now (lost connection, locked, disk full,
    /// read-only). Worth retrying; becomes 503 or the dialect's equivalent.
    #[error("storage unavailable: {what}")]
    Unavailable {
        what: String,
        #[source]
        source: Option<Cause>,
    },
    #[error("storage error: {what}")]
    Other {
        what: String,
        #[source]
        source: Option<Cause>,
    },
}

impl StoreError {
    /// A conflict described for the client that caused it.
    pub fn conflict(what: impl Into<String>) -> Self {
        StoreError::Conflict {
            what: what.into(),
            source: None,
        }
    }

    pub fn unavailable(what: impl Into<String>) -> Self {
        StoreError::Unavailable {
            what: what.into(),
            source: None,
        }
    }

    pub fn other(what: impl Into<String>) -> Self {
        StoreError::Other {
            what: what.into(),
            source: None,
        }
    }

    /// A stored value that does not read back as its type.
    pub fn stored_value(cause: impl Error + Send + Sync + 'static) -> Self {
        StoreError::other("a stored value does not read back").because(cause)
    }

    /// The same error, caused by `cause`.
    pub fn because(self, cause: impl Error + Send + Sync + 'static) -> Self {
        let cause: Cause = Arc::new(cause);
        match self {
            StoreError::NotFound => StoreError::NotFound,
            StoreError::Conflict { what, .. } => StoreError::Conflict {
                what,
                source: Some(cause),
            },
            StoreError::Unavailable { what, .. } => StoreError::Unavailable {
                what,
                source: Some(cause),
            },
            StoreError::Other { what, .. } => StoreError::Other {
                what,
                source: Some(cause),
            },
        }
    }
}

/// A message that is itself the cause: for failures whose only description is text (a value
/// that does not parse, with the parser's own words).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Described(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let kind = match &e {
            rusqlite::Error::QueryReturnedNoRows => return StoreError::NotFound,
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                C::ConstraintViolation => {
                    StoreError::conflict("the write breaks a uniqueness or integrity rule")
                }
                C::DatabaseBusy | C::DatabaseLocked => {
                    StoreError::unavailable("the SQLite database is locked")
                }
                C::DiskFull => StoreError::unavailable("the disk is full"),
                C::ReadOnly => StoreError::unavailable("the SQLite database is read-only"),
                C::SystemIoFailure | C::CannotOpen | C::OutOfMemory | C::NoLargeFileSupport => {
                    StoreError::unavailable("SQLite cannot read or write")
                }
                _ => StoreError::other("SQLite refused the statement"),
            },
            _ => StoreError::other("SQLite call failed"),
        };
        let error = kind.because(e);
        crate::metrics::error("sqlite", &error);
        error
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        let error = StoreError::unavailable("no SQLite reader connection").because(e);
        crate::metrics::error("sqlite", &error);
        error
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let kind = if let Some(state) = e.code() {
            let code = state.code();
            match code {
                _ if code.starts_with("23") => {
                    StoreError::conflict("the write breaks a uniqueness or integrity rule")
                }
                // Serialization failure, deadlock: the backend retries these a few times first.
                "40001" | "40P01" => {
                    StoreError::unavailable("the transaction conflicted with another, repeatedly")
                }
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
                    StoreError::unavailable("PostgreSQL cannot serve the statement now")
                }
                _ => StoreError::other("PostgreSQL refused the statement"),
            }
        } else {
            // No SQLSTATE: the error is about the connection itself (refused, reset, closed,
            // timed out) unless it is about converting a value.
            let text = e.to_string();
            let about_values = text.starts_with("error serializing")
                || text.starts_with("error deserializing")
                || text.starts_with("invalid column")
                || text.starts_with("query returned")
                || text.starts_with("invalid connection string")
                || text.starts_with("invalid configuration");
            if about_values {
                StoreError::other("a value did not convert to or from PostgreSQL")
            } else {
                StoreError::unavailable("the PostgreSQL connection failed")
            }
        };
        // tokio-postgres's own text is often only "db error": keep the server's words with it.
        let cause = match e.as_db_error() {
            Some(db) => Described(format!("{e} ({}): {}", db.code().code(), db.message())),
            None => match std::error::Error::source(&e) {
                Some(inner) => Described(format!("{e}: {inner}")),
                None => Described(e.to_string()),
            },
        };
        let error = kind.because(cause);
        crate::metrics::error("postgres", &error);
        error
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError as P;
        // A driver's error is counted where it is converted.
        let error = match e {
            P::Backend(e) => return StoreError::from(e),
            P::PostCreateHook(deadpool_postgres::HookError::Backend(e)) => {
                return StoreError::from(e);
            }
            P::Timeout(kind) => StoreError::unavailable(format!(
                "no PostgreSQL connection within the pool's time limit ({kind:?})"
            )),
            P::Closed => StoreError::unavailable("the PostgreSQL pool is closed"),
            other => StoreError::unavailable("the PostgreSQL pool failed").because(other),
        };
        crate::metrics::error("postgres", &error);
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constraint_violation_keeps_the_database_message_as_its_cause_only() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('a');")
            .unwrap();
        let e = StoreError::from(conn.execute("INSERT INTO t VALUES ('a')", []).unwrap_err());
        let StoreError::Conflict { what, source } = &e else {
            panic!("{e:?}")
        };
        assert!(!what.contains("UNIQUE"), "{what}");
        let cause = source.as_ref().expect("the cause is kept").to_string();
        assert!(cause.contains("UNIQUE constraint failed"), "{cause}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
