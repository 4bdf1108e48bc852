//! What each backend tells the `metrics` facade, read back from a Prometheus recorder: refunds a
//! clawback took back (only those it wrote), group-commit batches, errors and batches run again.
//!
//! A test binary of its own: the recorder is global to the process. Reversals carry no backend
//! label, so the two backends' cases take turns ([`ONE_AT_A_TIME`]) and compare scrapes taken
//! before and after.

mod support;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use support::TestStore;
use verdict_domain::decision::{Decision, Effect};
use verdict_domain::keys::{KeyHasher, KeyId, KeyScheme, KeySecret};
use verdict_domain::plan::ReportWrites;
use verdict_domain::{
    Amount, ApiKey, CaptchaType, Evidence, Family, Reason, Report, ReportKind, Task, TaskId,
    Timestamp, Verdict,
};
use verdict_store::{NewAccount, NewKey, StoreError};

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).expect("the only recorder of this process");
        handle
    })
}

/// The sum of the samples of `name` carrying every one of `labels` (`key="value"` pairs).
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labelled, number) = rest.rsplit_once(' ')?;
            let inside = labelled.strip_prefix('{')?.strip_suffix('}')?;
            let all = labels
                .iter()
                .all(|l| inside.split(',').any(|pair| pair == *l));
            all.then(|| number.parse::<f64>().ok()).flatten()
        })
        .sum()
}

fn new_account(name: &str) -> NewAccount {
    let key = ApiKey::parse(&format!("metrics-test-key-of-{name}")).unwrap();
    let hasher =
        KeyHasher::new(&KeySecret::parse("metrics-test-key-secret-0123456789abcdef").unwrap());
    NewAccount {
        name: name.into(),
        trusted: false,
        key: NewKey {
            id: KeyId::from_random([7; 6]),
            hash: hasher.hash(&key),
            scheme: KeyScheme::Keyed,
            label: None,
            created_at: T0,
        },
        created_at: T0,
        idempotency: None,
    }
}

fn task(id: &str, account: verdict_domain::AccountId, cost_micros: i64) -> Task {
    Task {
        id: TaskId::parse(id).unwrap(),
        account,
        captcha_type: CaptchaType::Turnstile,
        provider: "prov-a".into(),
        worker: Some("w1".into()),
        answer: Some("0.ab12".into()),
        cost: Amount::from_micros(cost_micros),
        completed_at: T0,
    }
}

fn report(task: &Task, verdict: Verdict, refund: Option<Amount>) -> Report {
    Report {
        task: task.id.clone(),
        account: task.account,
        kind: ReportKind::Incorrect,
        correction: None,
        code: None,
        message: None,
        dialect: "test".into(),
        received_at: T0,
        verdict,
        reason: Reason::IncorrectAccepted,
        evidence: Evidence::new(),
        refund,
        trust_weight: 1.0,
        recheck: None,
    }
}

/// A rejected report on `task` whose clawback takes back every token refund since before T0.
fn flagging(task: &Task) -> ReportWrites {
    let decision = Decision {
        report: Report {
            reason: Reason::RateAboveCohort,
            ..report(task, Verdict::Rejected, None)
        },
        effects: vec![Effect::Clawback {
            since: T0.saturating_sub(std::time::Duration::from_secs(3600)),
            reason: "flagged".into(),
            lane: "fast",
        }],
    };
    ReportWrites::plan(decision, Family::Turnstile)
}

async fn counts_what_it_wrote(s: TestStore, backend: &str) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scrape = || recorder().render();
    let before = scrape();

    let a = s.create_account(new_account("alice")).await.unwrap();
    let tasks: Vec<Task> = ["m1", "m2", "m3", "m4"]
        .iter()
        .zip([1_000, 2_000, 1_500, 1_500])
        .map(|(id, cost)| task(id, a.id, cost))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for t in &tasks[..2] {
        let accepted = report(t, Verdict::Accepted, Some(t.cost));
        s.record_report(ReportWrites::plan(
            Decision {
                report: accepted,
                effects: Vec::new(),
            },
            Family::Turnstile,
        ))
        .await
        .unwrap();
    }
    // Takes back both refunds; the second clawback finds them taken and writes nothing.
    s.record_report(flagging(&tasks[2])).await.unwrap();
    s.record_report(flagging(&tasks[3])).await.unwrap();
    // A report on a task never ingested: the database refuses it (a foreign key), and the
    // writer runs its batch again report by report to find the culprit.
    let ghost = task("ghost", a.id, 1_000);
    let refused = s
        .record_report(ReportWrites::plan(
            Decision {
                report: report(&ghost, Verdict::Accepted, Some(ghost.cost)),
                effects: Vec::new(),
            },
            Family::Turnstile,
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );

    let after = scrape();
    let delta =
        |name: &str, labels: &[&str]| value(&after, name, labels) - value(&before, name, labels);
    assert_eq!(delta("verdict_reversals_total", &[r#"lane="fast""#]), 2.0);
    assert_eq!(
        delta("verdict_reversed_micros_total", &[r#"lane="fast""#]),
        3_000.0
    );
    let this = format!(r#"backend="{backend}""#);
    // Five reports, each in some batch of the writer.
    let batched = delta("verdict_store_batch_size_sum", &[&this]);
    assert!(batched >= 5.0, "{batched}\n{after}");
    assert!(delta("verdict_store_batch_size_count", &[&this]) >= 1.0);
    let conflicts = delta("verdict_store_errors_total", &[&this, r#"kind="conflict""#]);
    assert!(conflicts >= 1.0, "{after}");
    let reruns = delta(
        "verdict_store_retries_total",
        &[&this, r#"cause="batch_rerun""#],
    );
    assert!(reruns >= 1.0, "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_counts_reversals_batches_and_errors_it_wrote() {
    counts_what_it_wrote(support::fresh_sqlite().await, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_counts_reversals_batches_and_errors_it_wrote() {
    counts_what_it_wrote(support::fresh_postgres().await, "postgres").await;
}
