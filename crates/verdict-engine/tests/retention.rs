//! Task retention on a real SQLite store: a big prune goes in batches, each one job of the
//! writer the reports share, so a report sent while it runs is answered before it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use verdict_domain::retention::TaskRetention;
use verdict_domain::{
    Amount, ApiKey, Eligibility, ReportKind, ReportRequest, TaskId, TaskInput, Timestamp, Verdict,
};
use verdict_engine::{Engine, ManualClock, ReportOutcome};
use verdict_store::SqliteStore;
use verdict_store::sqlite::SqliteOptions;

const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const DAY: Duration = Duration::from_secs(86_400);
const KEY: &str = "alice-key-0123456789abcdef";
const OLD_TASKS: usize = 20_000;
/// Of the old tasks, how many were reported incorrect (upheld, refunded: kept for good) and
/// how many correct (acknowledged, no money: pruned with their reports).
const REFUNDED: usize = 300;
const CONFIRMED: usize = 300;
const BATCH: u32 = 100;

fn record(account: &str, id: &str, at: Timestamp) -> Result<TaskInput, String> {
    Ok(TaskInput {
        id: Some(id.into()),
        account: Some(account.into()),
        captcha_type: Some("image".into()),
        provider: Some("p".into()),
        worker: None,
        answer: Some("KWG90".into()),
        cost: Some("0.0020".into()),
        completed_at: Some(at.to_rfc3339()),
    })
}

fn request(id: &str, kind: ReportKind) -> ReportRequest {
    ReportRequest::new(TaskId::parse(id).unwrap(), kind, "test", Eligibility::ALL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_report_is_answered_while_a_big_prune_runs_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("v.db"),
        SqliteOptions {
            writer_cache_mib: 8,
            // Throwaway data: the test is about who waits for whom, not about the disk.
            durable: false,
        },
    )
    .unwrap();
    let long_ago = NOW.saturating_sub(100 * DAY);
    let clock = Arc::new(ManualClock::at(long_ago));
    let engine = Engine::new(Arc::new(store), Default::default(), clock.clone());
    // Trusted: the screen notes what it would do and upholds every incorrect-report.
    let (alice, _) = engine
        .create_account("alice".into(), true, Some(ApiKey::parse(KEY).unwrap()))
        .await
        .unwrap();
    let account = alice.id.to_string();
    let old: Vec<_> = (0..OLD_TASKS)
        .map(|i| record(&account, &format!("old-{i}"), long_ago))
        .collect();
    assert_eq!(engine.ingest(old).await.unwrap().inserted, OLD_TASKS);
    clock.advance(Duration::from_secs(60));
    for i in 0..REFUNDED + CONFIRMED {
        let kind = if i < REFUNDED {
            ReportKind::Incorrect
        } else {
            ReportKind::Correct
        };
        let outcome = engine
            .submit_report(KEY, request(&format!("old-{i}"), kind))
            .await
            .unwrap();
        assert!(matches!(outcome, ReportOutcome::Recorded(_)), "{outcome:?}");
    }

    clock.set(NOW);
    let fresh = vec![record(&account, "fresh", NOW)];
    assert_eq!(engine.ingest(fresh).await.unwrap().inserted, 1);
    let retention = TaskRetention::new(90 * DAY, &engine.policy().windows).unwrap();
    let batches_done = Arc::new(AtomicU64::new(0));
    let prune = tokio::spawn({
        let (engine, batches_done) = (engine.clone(), batches_done.clone());
        async move {
            engine
                .prune_tasks_with(retention, BATCH, move |so_far| {
                    batches_done.store(so_far.batches, Ordering::SeqCst);
                })
                .await
        }
    });
    while batches_done.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let outcome = engine
        .submit_report(KEY, request("fresh", ReportKind::Incorrect))
        .await
        .unwrap();
    let answered_after = batches_done.load(Ordering::SeqCst);
    let pruned = prune.await.unwrap().unwrap();

    let ReportOutcome::Recorded(report) = outcome else {
        panic!("the report during the prune: {outcome:?}");
    };
    assert_eq!(
        (report.verdict, report.refund),
        (Verdict::Accepted, Some(Amount::from_micros(2_000)))
    );
    let expected_batches = (OLD_TASKS as u64).div_ceil(u64::from(BATCH));
    assert!(
        pruned.batches >= expected_batches,
        "a batch looks at {BATCH} tasks: {pruned:?}"
    );
    assert!(
        answered_after < pruned.batches,
        "the report waited for the batch in progress, not for the whole prune: answered after \
         batch {answered_after} of {}",
        pruned.batches
    );
    assert_eq!(
        (
            pruned.examined,
            pruned.tasks,
            pruned.reports,
            pruned.kept_money
        ),
        (
            OLD_TASKS as u64,
            (OLD_TASKS - REFUNDED) as u64,
            CONFIRMED as u64,
            REFUNDED as u64
        )
    );
    let balance = engine.account(alice.id).await.unwrap().account.balance;
    assert_eq!(
        balance,
        Amount::from_micros(2_000 * (REFUNDED as i64 + 1)),
        "every refund stays, the new one with them"
    );
    eprintln!(
        "prune of {OLD_TASKS} old tasks: {} batches of {BATCH}; the report was answered after \
         batch {answered_after}",
        pruned.batches
    );
}
