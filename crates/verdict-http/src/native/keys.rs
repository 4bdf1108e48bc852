//! An account's API keys: list, add, rotate (the old keys keep working for a grace period),
//! revoke. The operator may do this for any account, a client for its own; only the operator
//! imports a key chosen elsewhere. A new key appears in its answer once and never again.

use super::extract::Path;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use verdict_domain::keys::{KeyId, KeyRecord};
use verdict_domain::{AccountId, ApiKey, Timestamp};
use verdict_engine::{DEFAULT_ROTATION_GRACE, IssuedKey};

use super::operator::parse_duration;
use super::{Caller, account_id, body_error, invalid, on_account};
use crate::dialect::lenient::{Field, SecretText, Text};
use crate::dialect::parse_json;
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// A key as operators and clients see it: never the key itself.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub label: Option<String>,
    /// `active`, `expiring` (replaced by a rotation, accepted until `expires_at`), `expired` or
    /// `revoked`.
    pub state: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl KeyView {
    pub fn of(key: &KeyRecord, now: Timestamp) -> Self {
        Self {
            id: key.id.to_string(),
            label: key.label.clone(),
            state: key.state(now).as_str().to_owned(),
            created_at: key.created_at.to_rfc3339(),
            expires_at: key.expires_at.map(|t| t.to_rfc3339()),
            revoked_at: key.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// An account's keys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    pub account: i64,
    pub keys: Vec<KeyView>,
}

/// A newly issued key: `api_key` is shown this once (and never by `Debug`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Issued {
    pub account: i64,
    pub key: KeyView,
    pub api_key: String,
    /// After a rotation: every key of the account as it now stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyView>>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("account", &self.account)
            .field("key", &self.key)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// A key just revoked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    pub account: i64,
    pub key: KeyView,
}

/// A new key: `label`, and (operator, adding) `api_key` to import or (rotating) `grace`. The
/// body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewKeyBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    label: Field<Text>,
    /// A key the client already uses, to import (operator only, adding a key).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    api_key: Field<SecretText>,
    /// How long the keys a rotation replaces keep working: `0s` to `30d`, default `24h`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    grace: Field<Text>,
}

/// The caller's account, if the caller may manage its keys: the operator any, a client its own
/// (another account's is "no such account", as everywhere).
fn own(caller: &Caller, raw: &str) -> Result<AccountId, ApiError> {
    let id = account_id(raw)?;
    if caller.may_see(id) {
        Ok(id)
    } else {
        Err(ApiError::not_found("account"))
    }
}

/// An optional JSON object body: an empty one is `{}`.
fn optional_body(body: Result<Bytes, BytesRejection>) -> Result<NewKeyBody, ApiError> {
    if let Ok(bytes) = &body
        && bytes.iter().all(u8::is_ascii_whitespace)
    {
        return Ok(NewKeyBody::default());
    }
    parse_json(body).map_err(body_error)
}

fn label(body: &mut NewKeyBody) -> Result<Option<String>, ApiError> {
    Ok(std::mem::take(&mut body.label)
        .optional(invalid("label must be a string"))?
        .map(|Text(l)| l))
}

/// `GET /v1/accounts/{id}/keys`.
#[utoipa::path(
    get, operation_id = "list_keys", path = "/v1/accounts/{id}/keys", tag = "keys",
    params(("id" = i64, Path)),
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 200, body = KeyList, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"), (status = 404, body = ErrorBody, description = "Not found"),
    ),
)]
pub(super) async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = own(&caller, &id)?;
    let now = app.engine.now();
    let keys = app.engine.keys(id).await.map_err(on_account)?;
    Ok(Json(KeyList {
        account: id.0,
        keys: keys.iter().map(|k| KeyView::of(k, now)).collect(),
    })
    .into_response())
}

/// `POST /v1/accounts/{id}/keys` `{"label"?, "api_key"?}`: one more key beside the others.
#[utoipa::path(
    post, operation_id = "add_key", path = "/v1/accounts/{id}/keys", tag = "keys",
    params(("id" = i64, Path)),
    request_body = NewKeyBody,
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 201, body = Issued, description = "Created"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "only the operator imports a key"),
        (status = 404, body = ErrorBody, description = "Not found"), (status = 409, body = ErrorBody, description = "Conflict"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
pub(super) async fn add(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = own(&caller, &id)?;
    let mut body = optional_body(body)?;
    let label = label(&mut body)?;
    let import = match body.api_key.optional(invalid("api_key must be a string"))? {
        Some(_) if !matches!(caller, Caller::Admin) => {
            return Err(ApiError::forbidden());
        }
        Some(SecretText(k)) => {
            Some(ApiKey::parse(&k).map_err(|e| invalid(format!("api_key: {e}")))?)
        }
        None => None,
    };
    if !matches!(body.grace, Field::Missing) {
        return Err(invalid("grace applies to a rotation: POST …/keys/rotate"));
    }
    let issued = app
        .engine
        .add_key(id, label, import)
        .await
        .map_err(on_account)?;
    Ok(issued_response(&app, id, issued, None))
}

/// `POST /v1/accounts/{id}/keys/rotate` `{"label"?, "grace"?: "24h"}`: a new key; every key the
/// account had expires after the grace ("0s": at once).
#[utoipa::path(
    post, operation_id = "rotate_keys", path = "/v1/accounts/{id}/keys/rotate", tag = "keys",
    params(("id" = i64, Path)),
    request_body = NewKeyBody,
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 201, body = Issued, description = "Created"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 404, body = ErrorBody, description = "Not found"), (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
pub(super) async fn rotate(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = own(&caller, &id)?;
    let mut body = optional_body(body)?;
    let label = label(&mut body)?;
    if !matches!(body.api_key, Field::Missing) {
        return Err(invalid(
            "a rotation issues a new random key; import one with POST …/keys",
        ));
    }
    let grace = match body
        .grace
        .optional(invalid("grace must be a duration such as \"24h\""))?
    {
        Some(Text(text)) => parse_duration(&text).ok_or_else(|| {
            invalid("grace must be a duration such as \"0s\", \"90m\", \"24h\" or \"7d\"")
        })?,
        None => DEFAULT_ROTATION_GRACE,
    };
    let (issued, keys) = app
        .engine
        .rotate_keys(id, label, grace)
        .await
        .map_err(on_account)?;
    Ok(issued_response(&app, id, issued, Some(keys)))
}

fn issued_response(
    app: &AppState,
    account: AccountId,
    issued: IssuedKey,
    keys: Option<Vec<KeyRecord>>,
) -> Response {
    let now = app.engine.now();
    let body = Issued {
        account: account.0,
        key: KeyView::of(&issued.record, now),
        api_key: issued.key.expose().to_owned(),
        keys: keys.map(|keys| keys.iter().map(|k| KeyView::of(k, now)).collect()),
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `DELETE /v1/accounts/{id}/keys/{key}`: the key opens nothing from now on.
#[utoipa::path(
    delete, operation_id = "revoke_key", path = "/v1/accounts/{id}/keys/{key}", tag = "keys",
    params(("id" = i64, Path), ("key" = String, Path, description = "The key's id, `k_…`")),
    security(("admin_token" = []), ("api_key" = [])),
    responses(
        (status = 200, body = Revoked, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"), (status = 404, body = ErrorBody, description = "Not found"),
    ),
)]
pub(super) async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = own(&caller, &id)?;
    let key = KeyId::parse(&key).ok_or_else(|| ApiError::not_found("key"))?;
    let record = app.engine.revoke_key(id, &key).await.map_err(|e| match e {
        verdict_engine::EngineError::NotFound => ApiError::not_found("key"),
        other => other.into(),
    })?;
    Ok(Json(Revoked {
        account: id.0,
        key: KeyView::of(&record, app.engine.now()),
    })
    .into_response())
}
