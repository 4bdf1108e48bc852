//! What operators change and inspect by hand: an account's membership of the trusted cohort,
//! its standing (impose or lift an ignore period), and the cohort's current priors.

use super::extract::Path;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use verdict_domain::Timestamp;
use verdict_domain::screen::CohortBasis;
use verdict_engine::FamilyCohort;

use super::{Admin, account_id, body_error, invalid, views};
use crate::dialect::lenient::{Field, Flag, Text};
use crate::dialect::parse_json;
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
pub(super) struct AccountPatch {
    #[serde(default)]
    trusted: Field<Flag>,
    #[serde(default)]
    disabled: Field<Flag>,
    #[serde(default)]
    reason: Field<Text>,
}

/// `PATCH /v1/accounts/{id}` (admin) `{"trusted"?: bool, "disabled"?: bool, "reason"?: "…"}`:
/// trust or distrust the account; disable it (a reason is required) or enable it again.
pub(super) async fn patch_account(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
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
            app.engine.disable_account(id, reason).await?;
        }
        (Some(Flag(true)), None) => return Err(invalid("disabling an account needs a reason")),
        (Some(Flag(false)), None) => {
            app.engine.enable_account(id).await?;
        }
        (_, Some(_)) => return Err(invalid("reason goes with \"disabled\": true")),
        (None, None) => {}
    }
    if let Some(Flag(trusted)) = trusted {
        app.engine.set_trusted(id, trusted).await?;
    }
    let view = app.engine.account(id).await?;
    Ok(Json(views::account(&view, app.engine.now())).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct StandingBody {
    #[serde(default)]
    state: Field<Text>,
    #[serde(default)]
    until: Field<Text>,
    #[serde(default, rename = "for")]
    period: Field<Text>,
    #[serde(default)]
    reason: Field<Text>,
}

/// `PUT /v1/accounts/{id}/standing` (admin): `{"state": "good"}` lifts an ignore period;
/// `{"state": "ignored", "for": "72h" | "until": RFC 3339, "reason": "…"}` imposes one.
pub(super) async fn put_standing(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = account_id(&id)?;
    let body: StandingBody = parse_json(body).map_err(body_error)?;
    let Text(state) = body.state.require(
        invalid("state is required (good or ignored)"),
        invalid("state must be a string"),
    )?;
    match state.as_str() {
        "good" => {
            app.engine.lift_ignore(id).await?;
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
            app.engine.impose_ignore(id, until, reason).await?;
        }
        _ => return Err(invalid("state must be good or ignored")),
    }
    let view = app.engine.account(id).await?;
    Ok(Json(views::account(&view, app.engine.now())).into_response())
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

/// `GET /v1/cohort` (admin): the trusted cohort's prior per family, as the screen uses it.
pub(super) async fn cohort(State(app): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let cohorts = app.engine.cohorts().await?;
    let families: serde_json::Map<String, serde_json::Value> = cohorts
        .into_iter()
        .map(|FamilyCohort { family, cohort, stored }| {
            let prior = cohort.prior;
            // `fitted`: the prior rests on data (measured, or pooled with the configured
            // spread); `basis` says which.
            let mut value = json!({
                "fitted": cohort.fitted(), "basis": prior.basis.as_str(),
                "a": prior.a, "b": prior.b, "mean": prior.mean(), "cap_rate": prior.cap_rate,
                "accounts": prior.accounts, "pooled_rate": stored.map(|c| c.rate),
            });
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
            if let Some(why) = why {
                value["why"] = why.into();
            }
            if let Some(c) = stored.filter(|_| cohort.fitted()) {
                value["fitted_at"] = c.fitted_at.to_rfc3339().into();
            }
            (family.as_str().to_owned(), value)
        })
        .collect();
    Ok(Json(json!({ "families": families })).into_response())
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
