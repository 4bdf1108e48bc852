//! The screen's numbers behind a decision, typed for judging to read and serialised as the
//! evidence the API shows.

use crate::timestamp::Timestamp;

/// The screen's numbers behind a decision on one incorrect-report: typed, so that judging reads
/// them as they are; [`Findings::to_value`] is the audit record the API shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Findings {
    /// The slow window: its hours, its tasks, its incorrect-reports (the one judged included)
    /// and the refunds granted in it.
    pub window_hours: i64,
    pub tasks: u64,
    pub incorrect: u64,
    pub refunds: u64,
    pub tasks_24h: u64,
    pub account_rate: f64,
    pub cohort_rate: f64,
    pub cohort_prior: PriorShown,
    /// Where counting began when a served ignore period ended inside the window.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_opt"
    )]
    pub counted_from: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast_lane: Option<FastLane>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_lane: Option<TailTest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_lane: Option<BaselineLane>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_lane: Option<DriftLane>,
    /// Set once every lane passed: the caps and the weight the account's reports carry.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Caps>,
}

/// The cohort prior as evidence shows it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PriorShown {
    pub a: f64,
    pub b: f64,
    pub accounts: u32,
}

/// The fast lane's beta-binomial test over the window that gave the smallest p-value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FastLane {
    pub window_hours: i64,
    pub tasks: u64,
    pub incorrect: u64,
    pub p_value: f64,
    pub threshold: f64,
}

/// A tail probability against its threshold.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TailTest {
    pub p_value: f64,
    pub threshold: f64,
}

/// The own-baseline lane: the account's rate relative to the cohort, and what it predicts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BaselineLane {
    pub own_relative_rate: f64,
    pub expected_incorrect: f64,
    pub p_value: f64,
    pub threshold: f64,
    pub refund_cap: u64,
}

/// The drift lane's sum as of this report.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DriftLane {
    pub llr: f64,
    pub threshold: f64,
    pub ratio: f64,
    pub history_rate: f64,
    /// Present while the sum is above zero: since when it has been rising, and over what.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub rise: Option<DriftRise>,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DriftRise {
    #[serde(serialize_with = "rfc3339")]
    pub since: Timestamp,
    pub tasks: u64,
    pub incorrect: u64,
    pub expected_incorrect: f64,
}

/// The refund caps an account that no lane flagged is held to, and its reports' weight.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Caps {
    pub refund_cap: u64,
    pub probation: bool,
    pub trust_weight: f64,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn rfc3339_opt<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

impl Findings {
    /// The findings as the report's evidence shows them.
    pub fn to_value(&self) -> serde_json::Value {
        // Plain numbers, strings and maps: serialising them cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }
}
