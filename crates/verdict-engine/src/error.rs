//! Engine errors: "could not decide", as opposed to a refusal, which is an outcome.

use verdict_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed in a way the caller can fix.
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// Storage is down or refusing writes; retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => EngineError::NotFound,
            StoreError::Conflict(m) => EngineError::Conflict(m),
            StoreError::Unavailable(m) => EngineError::Unavailable(m),
            StoreError::Other(m) => EngineError::Internal(anyhow::anyhow!(m)),
        }
    }
}
