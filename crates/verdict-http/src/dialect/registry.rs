//! What each dialect is, in one table ([`super::DIALECTS`]): its name, the routes it serves, the
//! report windows its service documents, which families and kinds of report it can carry, how a
//! report looks on its wire ([`Dialect::request`]) and what it answers on success and in an
//! outage. The router, the default policy, configuration checks, the tests and the demo all read
//! this table, so a dialect added here is served, configurable, tested and shown without a second
//! list to keep in step.
//!
//! This module describes dialects; it decides nothing and parses nothing of a live request.

use std::fmt;
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use verdict_domain::{Eligibility, Family, ReportKind};

use crate::AppState;
use crate::guard::Throttled;

/// One dialect: a service's report endpoints as verdict speaks them.
pub struct Dialect {
    /// The name recorded with each report, and the key of `[judging.dialect_windows.<name>]`.
    pub name: &'static str,
    /// The service, as people call it.
    pub service: &'static str,
    /// The endpoints, as documentation shows them (`POST /feedbackTask`).
    pub endpoints: &'static [&'static str],
    /// Its routes; `None` when another entry's routes serve it (the three `/feedbackTask`
    /// dialects share one route) or the native API mounts it.
    pub routes: Option<fn() -> Router<AppState>>,
    /// Report windows the service documents for itself: for every family (`None`) or one.
    /// Families it says nothing about keep the policy's per-family defaults.
    pub windows: &'static [(Option<Family>, Duration)],
    /// The families its endpoints take reports for, all endpoints together.
    pub families: Eligibility,
    /// Whether its ids are integers only (task ids made of digits).
    pub integer_ids: bool,
    /// A report in its wire format, as its clients send it; `None` for a report it cannot say
    /// (a confirmation where it has no such method, a family it has no endpoint for). Called
    /// through [`Dialect::request`], which checks the family and the id first.
    pub example: fn(&Report<'_>) -> Option<WireRequest>,
    /// Whether an answer is its success answer: the report was recorded.
    pub recorded: fn(u16, &str) -> bool,
    /// What it answers, status and exact body, while storage is unavailable.
    pub unavailable: (u16, &'static str),
    /// What it answers to a client over its rate or blocked for failed logins (the query
    /// string, for dialects whose answer format it chooses); `Throttle::respond` adds
    /// `Retry-After`.
    pub throttled: Throttled,
    /// Whether an answer, success or error, is in its shape (its envelope, its status
    /// conventions): what the robustness tests hold every answer to, whatever the request.
    pub shaped: fn(u16, &str) -> bool,
}

impl fmt::Debug for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialect")
            .field("name", &self.name)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// One report, said in no dialect yet.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The account's API key.
    pub key: &'a str,
    /// The account's name, for dialects that log in with a name and a password (the key).
    pub account: &'a str,
    pub task: &'a str,
    /// The task's family, for dialects with an endpoint per family.
    pub family: Family,
    pub kind: ReportKind,
}

/// An HTTP request, as a client of the dialect sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    pub method: Method,
    /// Path and query string.
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl WireRequest {
    pub fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn post(path: String) -> Self {
        Self {
            method: Method::POST,
            ..Self::get(path)
        }
    }

    /// A POST with a JSON body.
    pub fn json(path: String, body: &serde_json::Value) -> Self {
        Self::post(path)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// A POST with a form body (`application/x-www-form-urlencoded`).
    pub fn form(path: String, fields: &[(&str, &str)]) -> Self {
        Self::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap_or_default())
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: String) -> Self {
        self.body = body;
        self
    }
}

impl Dialect {
    /// The report in this dialect's wire format, or `None` if the dialect cannot carry it: its
    /// family, its kind or its id.
    pub fn request(&self, report: &Report<'_>) -> Option<WireRequest> {
        let id_fits = !self.integer_ids
            || (!report.task.is_empty() && report.task.bytes().all(|b| b.is_ascii_digit()));
        if self.families.allows(report.family) && id_fits {
            (self.example)(report)
        } else {
            None
        }
    }

    /// A family it takes reports for: image where it can, else the first it names.
    pub fn some_family(&self) -> Family {
        if self.families.allows(Family::Image) {
            Family::Image
        } else {
            self.families.families().next().unwrap_or(Family::Other)
        }
    }

    /// Whether `(status, body)` is in this dialect's shape, success or error.
    pub fn is_shaped(&self, status: u16, body: &str) -> bool {
        (self.shaped)(status, body)
    }

    /// Whether `(status, body)` is this dialect's success answer.
    pub fn is_recorded(&self, status: u16, body: &str) -> bool {
        (self.recorded)(status, body)
    }
}

/// A body read as JSON (`null` if it is not), for [`Dialect::recorded`] predicates.
pub fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_default()
}

/// A task id as a JSON number when it is one, else as a string: how integer-id dialects' clients
/// send it.
pub fn json_id(task: &str) -> serde_json::Value {
    task.parse::<u64>()
        .map(serde_json::Value::from)
        .unwrap_or_else(|_| serde_json::Value::from(task))
}

/// Whether a JSON body has every one of these keys.
pub fn has_keys(json: &serde_json::Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| json.get(k).is_some())
}

/// The dialect of that name.
pub fn find(name: &str) -> Option<&'static Dialect> {
    super::DIALECTS.iter().copied().find(|d| d.name == name)
}

/// Every dialect's name, in the registry's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    super::DIALECTS.iter().map(|d| d.name)
}

#[cfg(test)]
mod tests {
    use super::super::DIALECTS;
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case_words() {
        let mut seen = std::collections::BTreeSet::new();
        for d in DIALECTS {
            assert!(seen.insert(d.name), "{} twice", d.name);
            assert!(
                d.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                d.name
            );
        }
    }

    #[test]
    fn every_dialect_carries_an_incorrect_report_of_some_family() {
        for d in DIALECTS {
            let family = d.families.families().next();
            assert!(family.is_some(), "{} takes no family", d.name);
        }
    }

    #[test]
    fn a_dialect_refuses_to_build_what_it_cannot_carry() {
        let dbc = find("deathbycaptcha").unwrap();
        let report = Report {
            key: "k",
            account: "a",
            task: "550e8400-e29b-41d4-a716-446655440000",
            family: Family::Image,
            kind: ReportKind::Incorrect,
        };
        assert_eq!(dbc.request(&report), None, "a UUID is no DBC id");
        let report = Report {
            task: "1001",
            kind: ReportKind::Correct,
            ..report
        };
        assert_eq!(dbc.request(&report), None, "DBC has no correct-report");
        assert!(
            dbc.request(&Report {
                kind: ReportKind::Incorrect,
                ..report
            })
            .is_some()
        );
    }

    #[test]
    fn unknown_names_are_not_found() {
        assert!(find("twocaptcha").is_some());
        assert!(find("2captcha").is_none());
    }
}
