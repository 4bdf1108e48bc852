//! Engine errors: "could not decide", as opposed to a refusal, which is an outcome. Every
//! message here that a client may see is written for clients; what went wrong underneath stays
//! in the error's source chain, for the logs ([`chain`]).

use std::error::Error;

use verdict_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed in a way the caller can fix.
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    /// A rule refused the change; `message` is written for the client, never taken from the
    /// database.
    #[error("conflict: {message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<StoreError>,
    },
    /// Storage is down or refusing writes; retry later.
    #[error(transparent)]
    Unavailable(StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl EngineError {
    /// A conflict the engine itself found.
    pub fn conflict(message: impl Into<String>) -> Self {
        EngineError::Conflict {
            message: message.into(),
            source: None,
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => EngineError::NotFound,
            StoreError::Conflict { ref what, .. } => EngineError::Conflict {
                message: what.clone(),
                source: Some(e),
            },
            unavailable @ StoreError::Unavailable { .. } => EngineError::Unavailable(unavailable),
            other @ StoreError::Other { .. } => EngineError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// An error with every cause under it, `outer: inner: innermost`: what a log line needs.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_keeps_the_drivers_error_in_its_chain() {
        let driver = std::io::Error::other("connection reset by peer");
        let e = EngineError::from(
            StoreError::unavailable("the PostgreSQL connection failed").because(driver),
        );
        assert_eq!(
            chain(&e),
            "storage unavailable: the PostgreSQL connection failed: connection reset by peer"
        );
    }

    #[test]
    fn a_store_conflict_shows_only_the_stores_own_words() {
        let db = std::io::Error::other("UNIQUE constraint failed: api_keys.key_hash");
        let e = EngineError::from(StoreError::conflict("API key already in use").because(db));
        let EngineError::Conflict { message, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(message, "API key already in use");
        assert!(chain(&e).contains("UNIQUE constraint failed"));
    }
}
