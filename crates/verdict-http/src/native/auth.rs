//! Who is calling the native API: the operator (admin token) or a client (its API key), both as
//! `Authorization: Bearer …`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use verdict_domain::{Account, AccountId, KeyHash};

use crate::{ApiError, AppState};

#[derive(Debug, Clone)]
pub enum Caller {
    Admin,
    /// Boxed: an account is several times larger than the operator's empty variant.
    Client(Box<Account>),
}

impl Caller {
    /// Whether the caller may see what belongs to `account`.
    pub fn may_see(&self, account: AccountId) -> bool {
        match self {
            Caller::Admin => true,
            Caller::Client(a) => a.id == account,
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        if KeyHash::unkeyed(token).matches(&app.admin) {
            return Ok(Caller::Admin);
        }
        if let Err(throttle) = app.guard.admit_key(token) {
            return Err(super::throttled(&throttle));
        }
        // A wrong admin token and an unknown key both count as a failed login (noted by
        // `authenticate`).
        match app.authenticate(token).await? {
            Some(account) => Ok(Caller::Client(Box::new(account))),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// The operator, and only the operator.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, app).await? {
            Caller::Admin => Ok(Admin),
            Caller::Client(_) => Err(ApiError::forbidden()),
        }
    }
}

/// A client, and only a client: reports are made by accounts, not by the operator.
#[derive(Debug, Clone)]
pub struct Client(pub Account);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, app).await? {
            Caller::Client(account) => Ok(Client(*account)),
            Caller::Admin => Err(ApiError::bad_request(
                "Reports are sent with the reporting account's API key, not the admin token.",
            )),
        }
    }
}
