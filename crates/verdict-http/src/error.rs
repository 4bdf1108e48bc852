//! The native API's one error type: `{"error": {"code", "message", "details"?}}` with a fitting
//! status. Written once; handlers use `?`. Internal causes are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use verdict_engine::EngineError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Value>,
    /// Seconds for `Retry-After`, on throttled requests.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send `Authorization: Bearer <API key or admin token>`.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This needs the admin token.",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No such {what}."),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error.",
        )
    }
}

/// The native API's error body.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code: `unauthorized`, `forbidden`, `not_found`, `invalid_request`, …
    pub code: String,
    /// Written for the client.
    pub message: String,
    /// The numbers behind the refusal, where there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(m) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m)
            }
            EngineError::NotFound => Self::new(StatusCode::NOT_FOUND, "not_found", "Not found."),
            EngineError::Conflict { message, source } => {
                if let Some(source) = source {
                    tracing::debug!(cause = %verdict_engine::chain(&source), "conflict");
                }
                Self::new(StatusCode::CONFLICT, "conflict", message)
            }
            EngineError::Unavailable(cause) => {
                tracing::warn!(cause = %verdict_engine::chain(&cause), "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Storage is temporarily unavailable; retry shortly.",
                )
            }
            EngineError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                Self::internal()
            }
        }
    }
}
