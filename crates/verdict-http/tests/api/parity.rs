//! One scenario through every dialect yields the same ledger and the same verdicts: the dialects
//! differ only in their bytes. No single captcha family can be reported through every endpoint
//! (CapMonster's method takes tokens only, decaptcha's text and audio only), so there are two
//! scenarios, each run through every dialect of the registry that can carry all of its reports,
//! in the request its registry entry builds.

use verdict_domain::{Amount, Family, ReportKind, TaskId};
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::{Dialect, Report};

use crate::support::{ALICE, ALICE_KEY, BOB, TestApp};

/// Two good reports, a retry, a task past every dialect's window, another account's task, and an
/// id no task has. All numeric, so that integer-only dialects can carry them.
const IMAGE_SCENARIO: [(&str, Family); 6] = [
    ("1001", Family::Image),
    ("1013", Family::Image),
    ("1001", Family::Image),
    ("1012", Family::Image),
    ("2001", Family::Image),
    ("424242", Family::Image),
];
const TOKEN_SCENARIO: [(&str, Family); 6] = [
    ("1003", Family::Recaptcha),
    ("1006", Family::Hcaptcha),
    ("1003", Family::Recaptcha),
    ("1014", Family::Recaptcha),
    ("2002", Family::Recaptcha),
    ("424242", Family::Recaptcha),
];

fn incorrect(task: &str, family: Family) -> Report<'_> {
    Report {
        key: ALICE_KEY,
        account: "alice",
        task,
        family,
        kind: ReportKind::Incorrect,
    }
}

/// The registry's dialects that can carry every report of the scenario.
fn carriers(scenario: &[(&str, Family)]) -> Vec<&'static Dialect> {
    DIALECTS
        .iter()
        .copied()
        .filter(|d| {
            scenario
                .iter()
                .all(|(task, family)| d.request(&incorrect(task, *family)).is_some())
        })
        .collect()
}

type Outcome = (
    Vec<(String, Amount)>,
    Amount,
    Amount,
    Vec<Option<(String, String)>>,
);

/// What a scenario left behind: ledgers, balances and each task's verdict.
async fn outcome(app: &TestApp, scenario: &[(&str, Family)]) -> Outcome {
    let mut verdicts = Vec::new();
    for (task, _) in scenario {
        let found = app
            .engine
            .task(&TaskId::parse(task).unwrap())
            .await
            .unwrap();
        verdicts.push(
            found
                .and_then(|(_, r)| r)
                .map(|r| (r.verdict.as_str().to_owned(), r.reason.code().to_owned())),
        );
    }
    (
        app.ledger(ALICE).await,
        app.balance(ALICE).await,
        app.balance(BOB).await,
        verdicts,
    )
}

async fn run(dialects: &[&Dialect], scenario: &[(&str, Family)]) -> Vec<(String, Outcome)> {
    let mut results = Vec::new();
    for dialect in dialects {
        let app = TestApp::new().await;
        for (task, family) in scenario {
            let request = dialect.request(&incorrect(task, *family)).unwrap();
            let reply = app.send_wire(request).await;
            assert!(
                reply.status.as_u16() < 500,
                "{}: {} {}",
                dialect.name,
                reply.status,
                reply.text()
            );
        }
        results.push((dialect.name.to_owned(), outcome(&app, scenario).await));
    }
    results
}

fn assert_all_equal(results: &[(String, Outcome)], ledger: Vec<(&str, i64)>) {
    let (first, expected) = &results[0];
    let want: Vec<(String, Amount)> = ledger
        .into_iter()
        .map(|(t, m)| (t.to_owned(), Amount::from_micros(m)))
        .collect();
    assert_eq!(expected.0, want, "{first}");
    assert_eq!(expected.2, Amount::ZERO, "bob was never refunded");
    for (dialect, got) in &results[1..] {
        assert_eq!(got, expected, "{dialect} differs from {first}");
    }
}

#[tokio::test]
async fn every_dialect_leaves_the_same_ledger_for_image_reports() {
    let dialects = carriers(&IMAGE_SCENARIO);
    let results = run(&dialects, &IMAGE_SCENARIO).await;
    assert_all_equal(&results, vec![("1001", 1_000), ("1013", 1_000)]);
}

#[tokio::test]
async fn every_dialect_leaves_the_same_ledger_for_token_reports() {
    let dialects = carriers(&TOKEN_SCENARIO);
    let results = run(&dialects, &TOKEN_SCENARIO).await;
    assert_all_equal(&results, vec![("1003", 2_000), ("1006", 3_000)]);
}

#[test]
fn every_dialect_of_the_registry_runs_in_a_parity_scenario() {
    let image = carriers(&IMAGE_SCENARIO);
    let token = carriers(&TOKEN_SCENARIO);
    for dialect in DIALECTS {
        assert!(
            image.iter().chain(&token).any(|d| d.name == dialect.name),
            "{} carries neither scenario",
            dialect.name
        );
    }
    // The scenarios are not run by a lone dialect: image by all but CapMonster, tokens by all
    // but decaptcha.
    assert!(image.len() + 1 >= DIALECTS.len(), "{image:?}");
    assert!(token.len() + 1 >= DIALECTS.len(), "{token:?}");
}
