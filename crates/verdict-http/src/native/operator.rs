//! What operators change and inspect by hand: an account's membership of the trusted cohort,
//! its standing (impose or lift an ignore period), and the cohort's current priors.

use super::extract::Path;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use verdict_domain::Timestamp;
use verdict_domain::screen::CohortBasis;
use verdict_engine::FamilyCohort;

use super::{Admin, account_id, body_error, invalid, on_account, views};
use crate::dialect::lenient::{Field, Flag, Text};
use crate::dialect::parse_json;
use crate::error::ErrorBody;
use crate::{ApiError, AppState};

/// What an operator changes about an account: give at least one of `trusted` and `disabled`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountPatch {
    /// Member of the trusted cohort.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    trusted: Field<Flag>,
    /// Switch the account off (needs `reason`) or on.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    disabled: Field<Flag>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    reason: Field<Text>,
}

/// `PATCH /v1/accounts/{id}` (admin) `{"trusted"?: bool, "disabled"?: bool, "reason"?: "…"}`:
/// trust or distrust the account; disable it (a reason is required) or enable it again.
#[utoipa::path(
    patch, operation_id = "patch_account", path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = i64, Path)),
    request_body = AccountPatch,
    security(("admin_token" = [])),
    responses(
        (status = 200, body = views::Account, description = "OK"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"), (status = 404, body = ErrorBody, description = "Not found"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
pub(super) async fn patch_account(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<views::Account>, ApiError> {
    let id = account_id(&id)?;
    let patch: AccountPatch = parse_json(body).map_err(body_error)?;
    let trusted = patch
        .trusted
        .optional(invalid("trusted must be true or false"))?;
    let disabled = patch
        .disabled
        .optional(invalid("disabled must be true or false"))?;
    let reason = patch.reason.optional(invalid("reason must be a string"))?;
    if trusted.is_none() && disabled.is_none() {
        return Err(invalid("give trusted, disabled, or both"));
    }
    match (&disabled, reason) {
        (Some(Flag(true)), Some(Text(reason))) => {
            app.engine
                .disable_account(id, reason)
                .await
                .map_err(on_account)?;
        }
        (Some(Flag(true)), None) => return Err(invalid("disabling an account needs a reason")),
        (Some(Flag(false)), None) => {
            app.engine.enable_account(id).await.map_err(on_account)?;
        }
        (_, Some(_)) => return Err(invalid("reason goes with \"disabled\": true")),
        (None, None) => {}
    }
    if let Some(Flag(trusted)) = trusted {
        app.engine
            .set_trusted(id, trusted)
            .await
            .map_err(on_account)?;
    }
    let view = app.engine.account(id).await.map_err(on_account)?;
    Ok(Json(views::Account::of(&view, app.engine.now())))
}

/// `{"state": "good"}`, or `{"state": "ignored", "for": "72h" | "until": RFC 3339, "reason"}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StandingBody {
    /// `good` or `ignored`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    state: Field<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    until: Field<Text>,
    /// A duration such as `72h`, `3d`, `90m`.
    #[serde(default, rename = "for")]
    #[schema(value_type = Option<String>, rename = "for")]
    period: Field<Text>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    reason: Field<Text>,
}

/// `PUT /v1/accounts/{id}/standing` (admin): `{"state": "good"}` lifts an ignore period;
/// `{"state": "ignored", "for": "72h" | "until": RFC 3339, "reason": "…"}` imposes one.
#[utoipa::path(
    put, operation_id = "put_standing", path = "/v1/accounts/{id}/standing", tag = "accounts",
    params(("id" = i64, Path)),
    request_body = StandingBody,
    security(("admin_token" = [])),
    responses(
        (status = 200, body = views::Account, description = "OK"),
        (status = 400, body = ErrorBody, description = "The request cannot be read"), (status = 401, body = ErrorBody, description = "No valid credentials"),
        (status = 403, body = ErrorBody, description = "Not allowed with these credentials"), (status = 404, body = ErrorBody, description = "Not found"),
        (status = 422, body = ErrorBody, description = "A field is wrong"),
    ),
)]
pub(super) async fn put_standing(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<views::Account>, ApiError> {
    let id = account_id(&id)?;
    let body: StandingBody = parse_json(body).map_err(body_error)?;
    let Text(state) = body.state.require(
        invalid("state is required (good or ignored)"),
        invalid("state must be a string"),
    )?;
    match state.as_str() {
        "good" => {
            app.engine.lift_ignore(id).await.map_err(on_account)?;
        }
        "ignored" => {
            let now = app.engine.now();
            let until = match (
                body.until
                    .optional(invalid("until must be an RFC 3339 string"))?,
                body.period
                    .optional(invalid("for must be a duration such as \"72h\""))?,
            ) {
                (Some(Text(until)), None) => {
                    Timestamp::parse_rfc3339(&until).map_err(|e| invalid(format!("until: {e}")))?
                }
                (None, Some(Text(period))) => {
                    let d = parse_duration(&period).ok_or_else(|| {
                        invalid("for must be a duration such as \"72h\", \"3d\" or \"90m\"")
                    })?;
                    now.saturating_add(d)
                }
                _ => return Err(invalid("give exactly one of until and for")),
            };
            let Text(reason) = body.reason.require(
                invalid("reason is required"),
                invalid("reason must be a string"),
            )?;
            app.engine
                .impose_ignore(id, until, reason)
                .await
                .map_err(on_account)?;
        }
        _ => return Err(invalid("state must be good or ignored")),
    }
    let view = app.engine.account(id).await.map_err(on_account)?;
    Ok(Json(views::Account::of(&view, app.engine.now())))
}

/// Longest duration accepted anywhere: a century, so that no moment computed from one overflows.
const MAX_DURATION_SECS: u64 = 100 * 365 * 86_400;

/// "0s", "90s", "15m", "72h", "3d"; at most a century.
pub(super) fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs <= MAX_DURATION_SECS).then(|| std::time::Duration::from_secs(secs))
}

/// The cohort's prior in one family, as the screen uses it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FamilyPrior {
    /// Whether the prior rests on data (measured, or pooled with the configured spread).
    pub fitted: bool,
    /// `fitted`, `pooled_trusted`, `pooled_good_standing` or `default`.
    pub basis: &'static str,
    pub a: f64,
    pub b: f64,
    pub mean: f64,
    pub cap_rate: f64,
    pub accounts: u32,
    pub pooled_rate: Option<f64>,
    /// Why the prior is not fitted on the trusted cohort's spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fitted_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cohorts {
    pub families: BTreeMap<String, FamilyPrior>,
}

/// `GET /v1/cohort` (admin): the trusted cohort's prior per family, as the screen uses it.
#[utoipa::path(
    get, operation_id = "cohort", path = "/v1/cohort", tag = "accounts",
    security(("admin_token" = [])),
    responses(
        (status = 200, body = Cohorts, description = "OK"),
        (status = 401, body = ErrorBody, description = "No valid credentials"), (status = 403, body = ErrorBody, description = "Not allowed with these credentials"),
    ),
)]
pub(super) async fn cohort(
    State(app): State<AppState>,
    _: Admin,
) -> Result<Json<Cohorts>, ApiError> {
    let cohorts = app.engine.cohorts().await?;
    let families = cohorts
        .into_iter()
        .map(|FamilyCohort { family, cohort, stored }| {
            let prior = cohort.prior;
            let why = match prior.basis {
                CohortBasis::Fitted => None,
                CohortBasis::PooledTrusted => Some(
                    "fewer trusted accounts with the minimum volume than measuring their spread needs: their pooled rate, with the configured spread",
                ),
                CohortBasis::PooledGoodStanding => Some(
                    "too little trusted data: the median rate of the reporting accounts in good standing, with the configured spread",
                ),
                CohortBasis::Default => Some("no data yet: the default prior"),
            };
            let shown = FamilyPrior {
                fitted: cohort.fitted(),
                basis: prior.basis.as_str(),
                a: prior.a,
                b: prior.b,
                mean: prior.mean(),
                cap_rate: prior.cap_rate,
                accounts: prior.accounts,
                pooled_rate: stored.map(|c| c.rate),
                why,
                fitted_at: stored
                    .filter(|_| cohort.fitted())
                    .map(|c| c.fitted_at.to_rfc3339()),
            };
            (family.as_str().to_owned(), shown)
        })
        .collect();
    Ok(Json(Cohorts { families }))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("72h"), Some(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("3d"), Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(
            parse_duration("36500d"),
            Some(Duration::from_secs(36_500 * 86_400))
        );
        for bad in [
            "",
            "h",
            "3w",
            "-1h",
            "1.5h",
            "36501d",
            "9000000000000000000s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
