//! axum's `Path` and `Query`, answering a request they cannot read in the native API's JSON
//! error shape (axum's own rejections are plain text: `Failed to deserialize query string`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Path parameters, or a 400/404 in the native shape.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            // A path segment that is not valid percent-encoded UTF-8 names nothing that exists.
            Err(rejection) => Err(ApiError::new(
                rejection.into_response().status(),
                "invalid_path",
                "The request path could not be read (is it valid percent-encoded UTF-8?).",
            )),
        }
    }
}

/// The query string, or a 400 in the native shape naming what was wrong.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::bad_request(format!(
                "The query string could not be read: {}.",
                rejection.body_text()
            ))),
        }
    }
}
