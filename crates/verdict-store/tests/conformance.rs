//! One storage conformance suite, run against every backend: each behaviour the engine relies
//! on is one named test, instantiated per backend by `conformance!` (`sqlite::<case>` on a
//! temp file, `postgres::<case>` in a schema of its own on `VERDICT_TEST_PG_URL`). Also: both
//! migration trees give the same tables and columns.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::TestStore;
use verdict_domain::account::Disabled;
use verdict_domain::corrections::{self, Correction};
use verdict_domain::decision::{Decision, Effect};
use verdict_domain::keys::{KeyHasher, KeyId, KeyLookup, KeyScheme, KeySecret};
use verdict_domain::plan::{IngestWrites, ReportWrites, SettlementWrites};
use verdict_domain::recheck::{Precision, Settlement};
use verdict_domain::report::RecheckState;
use verdict_domain::screen::{CohortPrior, CohortRecord, Counts, ScreenPolicy, advance_baseline};
use verdict_domain::timestamp::hour_of;
use verdict_domain::{
    AccountId, Amount, ApiKey, CaptchaType, EntryKind, Evidence, Family, KeyHash, Reason, Report,
    ReportKind, Standing, Task, TaskId, Timestamp, Verdict, ledger,
};
use verdict_store::{
    CorrectionQuery, CreationKey, EvidenceBucket, IngestResult, KeyRotation, NewAccount, NewKey,
    PrunedTasks, Recorded, ReportQuery, ReporterSample, Resolution, Settled, Store, StoreError,
    Whitelisted,
};

/// The reason a clawback in these cases gives its reversals.
const FLAGGED: &str = "the fast lane flagged the account";

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

/// An account the operator marked trusted: one of the cohort.
async fn trusted_account(s: &TestStore, name: &str) -> verdict_domain::Account {
    s.create_account(NewAccount {
        trusted: true,
        ..new_account(name)
    })
    .await
    .unwrap()
}

/// What hashes keys in these cases; any secret will do.
fn hasher() -> KeyHasher {
    KeyHasher::new(&KeySecret::parse("conformance-suite-key-secret-0123456789abcdef").unwrap())
}

/// The API key of the account named `name` in these cases (names may hold any text).
fn key_of(name: &str) -> ApiKey {
    ApiKey::parse(&format!(
        "key-of-{}",
        &KeyHash::unkeyed(name).to_hex()[..24]
    ))
    .unwrap()
}

/// How a client presenting the key of `name` is looked up.
fn lookup(name: &str) -> KeyLookup {
    hasher().lookup(&key_of(name))
}

/// A key to store for `name`'s key, with an id of its own.
fn new_key(name: &str, created_at: Timestamp) -> NewKey {
    let mut id = [0u8; 6];
    id.copy_from_slice(&KeyHash::unkeyed(name).as_bytes()[..6]);
    NewKey {
        id: KeyId::from_random(id),
        hash: hasher().hash(&key_of(name)),
        scheme: KeyScheme::Keyed,
        label: None,
        created_at,
    }
}

fn new_account(name: &str) -> NewAccount {
    NewAccount {
        name: name.into(),
        trusted: false,
        key: new_key(name, T0),
        created_at: T0,
        idempotency: None,
    }
}

fn task(id: &str, account: AccountId, t: CaptchaType, cost_micros: i64) -> Task {
    Task {
        id: TaskId::parse(id).unwrap(),
        account,
        captcha_type: t,
        provider: "prov-a".into(),
        worker: Some("w1".into()),
        answer: Some("KWG90".into()),
        cost: Amount::from_micros(cost_micros),
        completed_at: T0,
    }
}

fn plain(report: Report) -> Decision {
    Decision {
        report,
        effects: Vec::new(),
    }
}

fn family_of(task: &Task) -> Family {
    task.captcha_type.family()
}

fn accepted(task: &Task, at: Timestamp) -> Report {
    Report {
        task: task.id.clone(),
        account: task.account,
        kind: ReportKind::Incorrect,
        correction: Some("KWG9O".into()),
        code: Some("1001".into()),
        message: Some("rejected by site".into()),
        dialect: "test".into(),
        received_at: at,
        verdict: Verdict::Accepted,
        reason: Reason::IncorrectAccepted,
        evidence: Evidence::new()
            .with("window_ms", 60_000)
            .with("elapsed_ms", 5_000),
        refund: Some(task.cost),
        trust_weight: 1.0,
        recheck: None,
    }
}

/// A confirmation of `task`'s solution, acknowledged.
fn confirmed(task: &Task, at: Timestamp) -> Report {
    Report {
        kind: ReportKind::Correct,
        correction: None,
        verdict: Verdict::Acknowledged,
        reason: Reason::PositiveFeedback,
        refund: None,
        ..accepted(task, at)
    }
}

/// Records an image report on `task` held for a second solve due in an hour; the report and
/// its deadline.
async fn record_pending(s: &TestStore, task: &Task) -> (Report, Timestamp) {
    let pending = Report {
        verdict: Verdict::Pending,
        reason: Reason::AwaitingRecheck,
        refund: None,
        ..accepted(task, T0)
    };
    let deadline = T0.saturating_add(Duration::from_secs(3600));
    s.record_report(ReportWrites::plan(
        Decision {
            report: pending.clone(),
            effects: vec![Effect::Recheck { deadline }],
        },
        Family::Image,
    ))
    .await
    .unwrap();
    (pending, deadline)
}

async fn account_created_with_key_is_found_by_id_and_key(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    assert_eq!(a.name, "alice");
    assert_eq!(a.balance, Amount::ZERO);
    assert_eq!(s.account(a.id).await.unwrap(), Some(a.clone()));
    let by_key = s.account_by_key(&lookup("alice")).await.unwrap().unwrap();
    assert_eq!(by_key.account, a);
    assert_eq!(by_key.scheme, KeyScheme::Keyed);
    assert_eq!(by_key.key.account, a.id);
    assert!(s.account_by_key(&lookup("nobody")).await.unwrap().is_none());
    assert_eq!(s.account(AccountId(9_999)).await.unwrap(), None);
}

async fn an_account_has_several_keys_each_with_its_own_id(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let later = T0.saturating_add(Duration::from_secs(60));
    let second = NewKey {
        label: Some("ci runner".into()),
        ..new_key("alice-second", later)
    };
    let added = s.add_key(a.id, second.clone()).await.unwrap();
    assert_eq!(added.id, second.id);
    assert_eq!(added.label.as_deref(), Some("ci runner"));
    for name in ["alice", "alice-second"] {
        let holder = s.account_by_key(&lookup(name)).await.unwrap().unwrap();
        assert_eq!(holder.account.id, a.id, "{name}");
    }
    let keys = s.keys(a.id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
        vec![new_key("alice", T0).id, second.id.clone()],
        "oldest first"
    );
    assert!(keys.iter().all(|k| k.opens(later)));
    assert!(matches!(
        s.add_key(a.id, new_key("alice", later)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.add_key(AccountId(9_999), new_key("nobody", later)).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.account_by_key(&lookup("nobody")).await.unwrap().is_none());
}

async fn a_rotation_adds_a_key_and_sets_when_the_old_ones_expire(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let other = s.create_account(new_account("bob")).await.unwrap();
    let t1 = T0.saturating_add(Duration::from_secs(3600));
    let until = t1.saturating_add(Duration::from_secs(86_400));
    let old = new_key("alice", T0).id;
    let rotation = KeyRotation {
        new: new_key("alice-rotated", t1),
        expire: vec![(old.clone(), until), (new_key("bob", T0).id, until)],
    };
    let new = s.rotate_keys(a.id, rotation).await.unwrap();
    let keys = s.keys(a.id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].id, old);
    assert_eq!(keys[0].expires_at, Some(until));
    assert_eq!(keys[1], new);
    assert_eq!(keys[1].expires_at, None);
    // Another account's key named in the rotation is left alone.
    assert_eq!(s.keys(other.id).await.unwrap()[0].expires_at, None);
    assert!(matches!(
        s.rotate_keys(
            AccountId(9_999),
            KeyRotation {
                new: new_key("nobody", t1),
                expire: Vec::new()
            }
        )
        .await,
        Err(StoreError::NotFound)
    ));
}

async fn a_revoked_key_keeps_its_first_revocation(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let b = s.create_account(new_account("bob")).await.unwrap();
    let id = new_key("alice", T0).id;
    let t1 = T0.saturating_add(Duration::from_secs(10));
    let t2 = T0.saturating_add(Duration::from_secs(20));
    let revoked = s.revoke_key(a.id, &id, t1).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(t1));
    let again = s.revoke_key(a.id, &id, t2).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(t1));
    let holder = s.account_by_key(&lookup("alice")).await.unwrap().unwrap();
    assert_eq!(holder.key.revoked_at, Some(t1));
    assert!(!holder.key.opens(t1));
    // Not bob's to revoke, and no such key.
    assert_eq!(s.revoke_key(b.id, &id, t2).await.unwrap(), None);
    let unknown = KeyId::from_random([9; 6]);
    assert_eq!(s.revoke_key(a.id, &unknown, t2).await.unwrap(), None);
    assert!(
        s.account_by_key(&lookup("bob"))
            .await
            .unwrap()
            .unwrap()
            .key
            .opens(t2)
    );
}

async fn a_key_stored_unkeyed_is_found_and_rehashed_keyed(s: TestStore) {
    let key = key_of("legacy");
    let unkeyed = NewKey {
        hash: KeyHash::unkeyed(key.expose()),
        scheme: KeyScheme::Unkeyed,
        ..new_key("legacy", T0)
    };
    let a = s
        .create_account(NewAccount {
            key: unkeyed,
            ..new_account("legacy")
        })
        .await
        .unwrap();
    let holder = s.account_by_key(&lookup("legacy")).await.unwrap().unwrap();
    assert_eq!(
        (holder.account.id, holder.scheme),
        (a.id, KeyScheme::Unkeyed)
    );
    let found = lookup("legacy");
    s.rehash_key(&found.unkeyed, &found.keyed).await.unwrap();
    let holder = s.account_by_key(&lookup("legacy")).await.unwrap().unwrap();
    assert_eq!((holder.account.id, holder.scheme), (a.id, KeyScheme::Keyed));
    // The plain hash alone opens nothing any more.
    let plain_only = KeyLookup {
        keyed: KeyHash::unkeyed("something else entirely"),
        unkeyed: found.unkeyed,
    };
    assert!(s.account_by_key(&plain_only).await.unwrap().is_none());
}

async fn a_disabled_account_says_when_and_why_until_enabled(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    assert!(a.enabled());
    let disabled = Disabled {
        at: T0,
        reason: "chargeback".into(),
    };
    let changed = s
        .set_disabled(a.id, Some(disabled.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.disabled, Some(disabled.clone()));
    let holder = s.account_by_key(&lookup("alice")).await.unwrap().unwrap();
    assert_eq!(holder.account.disabled, Some(disabled));
    let enabled = s.set_disabled(a.id, None).await.unwrap().unwrap();
    assert!(enabled.enabled());
    assert_eq!(s.set_disabled(AccountId(9_999), None).await.unwrap(), None);
}

async fn an_idempotency_key_creates_one_account_and_finds_it_again(s: TestStore) {
    let creation = CreationKey {
        key: "order-4711".into(),
        fingerprint: "fp-1".into(),
    };
    let first = s
        .create_account(NewAccount {
            idempotency: Some(creation.clone()),
            ..new_account("alice")
        })
        .await
        .unwrap();
    let again = s
        .create_account(NewAccount {
            idempotency: Some(creation.clone()),
            ..new_account("alice-again")
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    // The refused creation took nothing with it: its key opens no account.
    assert!(
        s.account_by_key(&lookup("alice-again"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.account_by_creation_key("order-4711").await.unwrap(),
        Some((first, "fp-1".to_owned()))
    );
    assert_eq!(s.account_by_creation_key("order-4712").await.unwrap(), None);
    // Accounts created without one never clash.
    s.create_account(new_account("bob")).await.unwrap();
    s.create_account(new_account("carol")).await.unwrap();
}

async fn reports_list_newest_first_filtered_and_in_pages(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let b = s.create_account(new_account("bob")).await.unwrap();
    let mut tasks = Vec::new();
    for (n, (owner, t)) in [
        (a.id, CaptchaType::Image),
        (a.id, CaptchaType::Hcaptcha),
        (b.id, CaptchaType::Image),
        (a.id, CaptchaType::Image),
        (b.id, CaptchaType::RecaptchaV2),
    ]
    .into_iter()
    .enumerate()
    {
        tasks.push(task(&format!("{}", 500 + n), owner, t, 1_000 + n as i64));
    }
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    // Two reports arrive in the same millisecond: the task id orders them.
    let at = [10, 20, 20, 30, 40];
    for (n, t) in tasks.iter().enumerate() {
        let received = T0.saturating_add(Duration::from_secs(at[n]));
        let report = if n == 1 {
            Report {
                dialect: "twocaptcha".into(),
                ..confirmed(t, received)
            }
        } else {
            accepted(t, received)
        };
        s.record_report(ReportWrites::plan(plain(report), family_of(t)))
            .await
            .unwrap();
    }
    let ids = |listed: &[verdict_store::ListedReport]| -> Vec<String> {
        listed
            .iter()
            .map(|l| l.task.id.as_str().to_owned())
            .collect()
    };
    let all = ReportQuery {
        limit: 100,
        ..ReportQuery::default()
    };
    let everything = s.reports(&all).await.unwrap();
    assert_eq!(ids(&everything), ["504", "503", "502", "501", "500"]);
    let refunded = &everything[0];
    assert_eq!(
        refunded.report,
        accepted(&tasks[4], T0.saturating_add(Duration::from_secs(40)))
    );
    assert_eq!(refunded.ledger.len(), 1, "its refund entry comes with it");
    assert!(
        everything[3].ledger.is_empty(),
        "a confirmation moved no money"
    );

    let only = |q: ReportQuery| {
        let s = &s;
        async move { ids(&s.reports(&q).await.unwrap()) }
    };
    assert_eq!(
        only(ReportQuery {
            account: Some(b.id),
            ..all.clone()
        })
        .await,
        ["504", "502"]
    );
    assert_eq!(
        only(ReportQuery {
            verdict: Some(Verdict::Acknowledged),
            ..all.clone()
        })
        .await,
        ["501"]
    );
    assert_eq!(
        only(ReportQuery {
            reason: Some(Reason::PositiveFeedback.code().into()),
            ..all.clone()
        })
        .await,
        ["501"]
    );
    assert_eq!(
        only(ReportQuery {
            captcha_type: Some(CaptchaType::Image),
            ..all.clone()
        })
        .await,
        ["503", "502", "500"]
    );
    assert_eq!(
        only(ReportQuery {
            dialect: Some("twocaptcha".into()),
            ..all.clone()
        })
        .await,
        ["501"]
    );
    assert_eq!(
        only(ReportQuery {
            since: Some(T0.saturating_add(Duration::from_secs(20))),
            until: Some(T0.saturating_add(Duration::from_secs(40))),
            ..all.clone()
        })
        .await,
        ["503", "502", "501"]
    );
    // Pages of two, each continuing after the last of the one before, make the whole list.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .reports(&ReportQuery {
                after: after.clone(),
                limit: 2,
                ..ReportQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some((last.report.received_at, last.task.id.clone()));
        paged.extend(ids(&page));
    }
    assert_eq!(paged, ids(&everything));
}

async fn the_corrections_dataset_is_every_report_with_a_correction_oldest_first_in_pages(
    s: TestStore,
) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let mut audio = task("c7", a.id, CaptchaType::Audio, 1_000);
    audio.worker = None;
    audio.answer = None;
    let tasks = vec![
        task("c1", a.id, CaptchaType::Image, 1_000),
        task("c2", a.id, CaptchaType::Image, 1_000),
        task("c3", a.id, CaptchaType::Image, 1_000),
        task("c5", a.id, CaptchaType::Image, 1_000),
        task("c4", a.id, CaptchaType::Image, 1_000),
        task("c6", a.id, CaptchaType::Image, 1_000),
        audio,
    ];
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    let at = |secs: u64| T0.saturating_add(Duration::from_secs(secs));
    let with = |n: usize, secs: u64| -> Report {
        let report = accepted(&tasks[n], at(secs));
        Report {
            correction: Some(format!("RIGHT-{}", tasks[n].id.as_str())),
            ..report
        }
    };
    let rejected = Report {
        verdict: Verdict::Rejected,
        reason: Reason::AccountIgnored,
        refund: None,
        trust_weight: 0.125,
        ..with(2, 30)
    };
    let reports = vec![
        with(0, 10),
        // A confirmation and an incorrect-report without a correction are no labels.
        confirmed(&tasks[1], at(20)),
        rejected.clone(),
        // Two in the same millisecond: the task id orders them.
        with(3, 40),
        with(4, 40),
        Report {
            correction: None,
            ..with(5, 50)
        },
        with(6, 60),
    ];
    for report in &reports {
        let family = tasks
            .iter()
            .find(|t| t.id == report.task)
            .unwrap()
            .captcha_type
            .family();
        s.record_report(ReportWrites::plan(plain(report.clone()), family))
            .await
            .unwrap();
    }
    // Held for a re-check, then settled by a second solve: the dataset reads the settled
    // verdict and the solve.
    let held = task("c8", a.id, CaptchaType::Image, 1_000);
    s.ingest_tasks(vec![held.clone()], T0).await.unwrap();
    let mut decision = pending(&held, at(70));
    decision.report.recheck = Some(RecheckState::default());
    s.record_report(ReportWrites::plan(decision.clone(), Family::Image))
        .await
        .unwrap();
    let settled = Report {
        verdict: Verdict::Accepted,
        reason: Reason::RecheckConfirmed,
        refund: Some(held.cost),
        recheck: Some(RecheckState {
            suspect: false,
            solves: vec!["kwg9o".into()],
        }),
        ..decision.report
    };
    s.settle_recheck(SettlementWrites::plan(
        Settlement {
            report: settled.clone(),
            precision: Precision {
                confirmed: 1.0,
                refuted: 0.0,
            },
            effects: vec![],
        },
        Family::Image,
        at(80),
    ))
    .await
    .unwrap();

    let all = CorrectionQuery {
        limit: 100,
        ..CorrectionQuery::default()
    };
    let everything = s.corrections(&all).await.unwrap();
    let ids = |rows: &[Correction]| -> Vec<String> {
        rows.iter().map(|r| r.task.as_str().to_owned()).collect()
    };
    // The domain's rule names the rows; storage only selects them.
    let mut labels: Vec<&Report> = reports
        .iter()
        .chain([&settled])
        .filter(|r| corrections::is_label(r))
        .collect();
    labels.sort_by(|x, y| (x.received_at, x.task.as_str()).cmp(&(y.received_at, y.task.as_str())));
    let expected: Vec<String> = labels.iter().map(|r| r.task.as_str().to_owned()).collect();
    assert_eq!(ids(&everything), expected);
    assert_eq!(ids(&everything), ["c1", "c3", "c4", "c5", "c7", "c8"]);

    assert_eq!(
        everything[1],
        Correction {
            task: tasks[2].id.clone(),
            captcha_type: CaptchaType::Image,
            provider: "prov-a".into(),
            worker: Some("w1".into()),
            answer: Some("KWG90".into()),
            completed_at: T0,
            correction: "RIGHT-c3".into(),
            trust_weight: 0.125,
            verdict: Verdict::Rejected,
            reason: Reason::AccountIgnored,
            solves: vec![],
            reported_at: at(30),
        },
        "a rejected report is a row too, with its verdict and its reporter's weight"
    );
    let audio_row = &everything[4];
    assert_eq!(
        (audio_row.worker.as_deref(), audio_row.answer.as_deref()),
        (None, None)
    );
    let settled_row = everything.last().unwrap();
    assert_eq!(
        (
            settled_row.verdict,
            &settled_row.reason,
            &settled_row.solves
        ),
        (
            Verdict::Accepted,
            &Reason::RecheckConfirmed,
            &vec!["kwg9o".to_owned()]
        )
    );
    assert_eq!(
        settled_row.correction, "KWG9O",
        "the correction as the client sent it"
    );

    let only = |q: CorrectionQuery| {
        let s = &s;
        async move { ids(&s.corrections(&q).await.unwrap()) }
    };
    assert_eq!(
        only(CorrectionQuery {
            captcha_type: Some(CaptchaType::Audio),
            ..all.clone()
        })
        .await,
        ["c7"]
    );
    assert_eq!(
        only(CorrectionQuery {
            since: Some(at(30)),
            until: Some(at(60)),
            ..all.clone()
        })
        .await,
        ["c3", "c4", "c5"],
        "since inclusive, until exclusive"
    );
    // Pages of two, each after the last of the one before, make the whole dataset.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .corrections(&CorrectionQuery {
                after: after.clone(),
                limit: 2,
                ..CorrectionQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some((last.reported_at, last.task.clone()));
        paged.extend(ids(&page));
    }
    assert_eq!(paged, expected);
}

async fn a_key_in_use_cannot_be_given_to_a_second_account(s: TestStore) {
    s.create_account(new_account("alice")).await.unwrap();
    let mut again = new_account("alice");
    again.name = "mallory".into();
    assert!(matches!(
        s.create_account(again).await,
        Err(StoreError::Conflict { .. })
    ));
}

async fn ingest_inserts_new_tasks_and_never_overwrites(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let first = task("74455221488", a.id, CaptchaType::RecaptchaV2, 2_000);
    let mut changed = first.clone();
    changed.cost = Amount::from_micros(9_999);
    let uuid = task(
        "550e8400-e29b-41d4-a716-446655440000",
        a.id,
        CaptchaType::Image,
        1_000,
    );
    let results = s
        .ingest_tasks(vec![first.clone(), uuid.clone(), changed], T0)
        .await
        .unwrap();
    assert_eq!(
        results,
        vec![
            IngestResult::Inserted,
            IngestResult::Inserted,
            IngestResult::Duplicate
        ]
    );
    let again = s.ingest_tasks(vec![first.clone()], T0).await.unwrap();
    assert_eq!(again, vec![IngestResult::Duplicate]);
    assert_eq!(s.task(&first.id).await.unwrap(), Some((first, None)));
    assert_eq!(s.task(&uuid.id).await.unwrap(), Some((uuid, None)));
}

async fn ingest_names_tasks_of_unknown_accounts(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let results = s
        .ingest_tasks(
            vec![
                task("1", AccountId(424_242), CaptchaType::Image, 1),
                task("2", a.id, CaptchaType::Image, 1),
            ],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        results,
        vec![IngestResult::UnknownAccount, IngestResult::Inserted]
    );
    assert_eq!(s.task(&TaskId::parse("1").unwrap()).await.unwrap(), None);
}

async fn the_largest_integer_ids_round_trip(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task(&u64::MAX.to_string(), a.id, CaptchaType::Hcaptcha, 5);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let (stored, _) = s.task(&TaskId::from_u64(u64::MAX)).await.unwrap().unwrap();
    assert_eq!(stored.id.as_u64(), Some(u64::MAX));
}

async fn report_context_carries_account_task_and_existing_report(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("100", a.id, CaptchaType::Image, 2_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let key = lookup("alice");

    let ctx = s
        .report_context(&key, &t.id, None, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.account.id, a.id);
    assert_eq!(ctx.key.id, new_key("alice", T0).id);
    assert_eq!(ctx.scheme, KeyScheme::Keyed);
    assert_eq!(ctx.task, Some(t.clone()));
    assert_eq!(ctx.existing, None);

    let report = accepted(&t, T0);
    s.record_report(ReportWrites::plan(plain(report.clone()), family_of(&t)))
        .await
        .unwrap();
    let ctx = s
        .report_context(&key, &t.id, None, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.existing, Some(report));

    let missing = s
        .report_context(&key, &TaskId::parse("nope").unwrap(), None, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((missing.task, missing.existing), (None, None));
    assert!(
        s.report_context(&lookup("wrong"), &t.id, None, T0)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_recorded_report_refunds_its_cost_once(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("100", a.id, CaptchaType::Image, 2_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let report = accepted(&t, T0);

    assert_eq!(
        s.record_report(ReportWrites::plan(plain(report.clone()), family_of(&t)))
            .await
            .unwrap(),
        Recorded::Inserted(report.clone())
    );
    let mut second = report.clone();
    second.received_at = T0.saturating_add(Duration::from_secs(1));
    assert_eq!(
        s.record_report(ReportWrites::plan(plain(second), family_of(&t)))
            .await
            .unwrap(),
        Recorded::Existing(report.clone())
    );

    let entries = s.ledger(a.id).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount, Amount::from_micros(2_000));
    assert_eq!(entries[0].idempotency_key, "refund:100");
    let account = s.account(a.id).await.unwrap().unwrap();
    assert_eq!(account.balance, Amount::from_micros(2_000));
    assert_eq!(s.task(&t.id).await.unwrap().unwrap().1, Some(report));
}

async fn reports_without_refund_write_no_ledger_entry(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("100", a.id, CaptchaType::RecaptchaV3, 2_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    s.record_report(ReportWrites::plan(plain(confirmed(&t, T0)), family_of(&t)))
        .await
        .unwrap();
    assert!(s.ledger(a.id).await.unwrap().is_empty());
    assert_eq!(
        s.account(a.id).await.unwrap().unwrap().balance,
        Amount::ZERO
    );
}

async fn concurrent_reports_on_one_task_give_one_report_and_one_refund(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("100", a.id, CaptchaType::Image, 2_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let store: Arc<dyn Store> = s.store.clone();
    let mut handles = Vec::new();
    for i in 0..50u64 {
        let store = store.clone();
        let mut r = accepted(&t, T0.saturating_add(Duration::from_millis(i)));
        if i % 2 == 1 {
            r.kind = ReportKind::Correct;
            r.verdict = Verdict::Acknowledged;
            r.refund = None;
        }
        handles.push(tokio::spawn(async move {
            store
                .record_report(ReportWrites::plan(plain(r), Family::Image))
                .await
        }));
    }
    let mut inserted = 0;
    for h in handles {
        if let Recorded::Inserted(_) = h.await.unwrap().unwrap() {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 1);
    let entries = s.ledger(a.id).await.unwrap();
    assert!(entries.len() <= 1);
    let account = s.account(a.id).await.unwrap().unwrap();
    assert_eq!(ledger::balance(&entries), account.balance);
}

async fn the_balance_is_the_sum_of_the_ledger(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let b = s.create_account(new_account("bob")).await.unwrap();
    let tasks: Vec<Task> = (0..20)
        .map(|i| {
            task(
                &format!("t{i}"),
                if i % 3 == 0 { b.id } else { a.id },
                CaptchaType::Image,
                1_000 + i,
            )
        })
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for t in &tasks {
        s.record_report(ReportWrites::plan(plain(accepted(t, T0)), family_of(t)))
            .await
            .unwrap();
    }
    for id in [a.id, b.id] {
        let entries = s.ledger(id).await.unwrap();
        let account = s.account(id).await.unwrap().unwrap();
        assert_eq!(ledger::balance(&entries), account.balance);
        let charged: Amount = tasks
            .iter()
            .filter(|t| t.account == id)
            .map(|t| t.cost)
            .sum();
        assert_eq!(account.balance, charged);
    }
}

async fn activity_counts_tasks_and_reports_per_family_since_a_moment(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let mut old = task("old", a.id, CaptchaType::RecaptchaV2, 1);
    old.completed_at = T0.saturating_sub(Duration::from_secs(2 * 86_400));
    let v2 = task("v2", a.id, CaptchaType::RecaptchaV2, 1);
    let v3 = task("v3", a.id, CaptchaType::RecaptchaV3, 1);
    let img = task("img", a.id, CaptchaType::Image, 1);
    s.ingest_tasks(vec![old, v2.clone(), v3.clone(), img], T0)
        .await
        .unwrap();
    s.record_report(ReportWrites::plan(
        plain(accepted(&v2, T0)),
        Family::Recaptcha,
    ))
    .await
    .unwrap();
    let mut good = accepted(&v3, T0);
    good.kind = ReportKind::Correct;
    s.record_report(ReportWrites::plan(plain(good), Family::Recaptcha))
        .await
        .unwrap();

    let since = T0.saturating_sub(Duration::from_secs(86_400));
    let activity = s.account_activity(a.id, since).await.unwrap();
    let recaptcha = activity
        .iter()
        .find(|f| f.family == Family::Recaptcha)
        .unwrap();
    assert_eq!(
        (recaptcha.tasks, recaptcha.incorrect, recaptcha.correct),
        (2, 1, 1)
    );
    let image = activity.iter().find(|f| f.family == Family::Image).unwrap();
    assert_eq!((image.tasks, image.incorrect, image.correct), (1, 0, 0));
    assert_eq!(activity.len(), 2);
}

async fn metadata_is_set_only_once(s: TestStore) {
    assert_eq!(s.meta("admin").await.unwrap(), None);
    assert!(s.set_meta_if_absent("admin", "one").await.unwrap());
    assert!(!s.set_meta_if_absent("admin", "two").await.unwrap());
    assert_eq!(s.meta("admin").await.unwrap().as_deref(), Some("one"));
}

async fn ping_answers_when_the_database_is_up(s: TestStore) {
    s.ping().await.unwrap();
    assert!(!s.backend().is_empty());
}

async fn activity_is_counted_per_family_and_hour(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let hour = hour_of(T0);
    let mut earlier = task("e1", a.id, CaptchaType::RecaptchaV3, 1);
    earlier.completed_at = T0.saturating_sub(Duration::from_secs(3 * 3600));
    let now_tasks = [
        task("n1", a.id, CaptchaType::RecaptchaV2, 2_000),
        task("n2", a.id, CaptchaType::RecaptchaV2, 2_000),
    ];
    let mut all = vec![earlier];
    all.extend(now_tasks.iter().cloned());
    s.ingest_tasks(all, T0).await.unwrap();
    s.record_report(ReportWrites::plan(
        plain(accepted(&now_tasks[0], T0)),
        Family::Recaptcha,
    ))
    .await
    .unwrap();
    let key = lookup("alice");
    let ctx = s
        .report_context(&key, &now_tasks[1].id, Some(72), T0)
        .await
        .unwrap()
        .unwrap();
    let family = ctx.family.expect("asked for the family state");
    let mut hours = family.activity.hours.clone();
    hours.sort_by_key(|(h, _)| *h);
    assert_eq!(
        hours,
        vec![
            (
                hour - 3,
                Counts {
                    tasks: 1,
                    incorrect: 0,
                    correct: 0,
                    refunds: 0,
                    ..Counts::default()
                }
            ),
            (
                hour,
                Counts {
                    tasks: 2,
                    incorrect: 1,
                    correct: 0,
                    refunds: 1,
                    ..Counts::default()
                }
            ),
        ]
    );
    let short = s
        .report_context(&key, &now_tasks[1].id, Some(2), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        short.family.unwrap().activity.hours.len(),
        1,
        "only the hours asked for"
    );
    let (_, _, by_task) = s
        .task_context(&now_tasks[1].id, Some(72), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_task.unwrap().activity, family.activity);
}

async fn an_ignore_effect_sets_standing_never_shortens_and_counts_repeats(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let tasks: Vec<Task> = (0..3)
        .map(|i| task(&format!("t{i}"), a.id, CaptchaType::Hcaptcha, 1_000))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    let ignore = |hours: u64, why: &str| Effect::Ignore {
        until: T0.saturating_add(Duration::from_secs(hours * 3600)),
        reason: why.into(),
        count_since: T0.saturating_sub(Duration::from_secs(30 * 86_400)),
        lane: "slow",
    };
    let mut first = rejected(&tasks[0], T0);
    let d = Decision {
        report: first.clone(),
        effects: vec![ignore(72, "first")],
    };
    s.record_report(ReportWrites::plan(d, Family::Hcaptcha))
        .await
        .unwrap();
    let account = s.account(a.id).await.unwrap().unwrap();
    assert_eq!(
        account.standing,
        Standing::Ignored {
            until: T0.saturating_add(Duration::from_secs(72 * 3600)),
            reason: "first".into()
        }
    );
    assert_eq!(account.ignores.count, 1);
    // A shorter period while the first runs changes nothing, and is not counted again.
    first.task = tasks[1].id.clone();
    s.record_report(ReportWrites::plan(
        Decision {
            report: first.clone(),
            effects: vec![ignore(12, "second")],
        },
        Family::Hcaptcha,
    ))
    .await
    .unwrap();
    let account = s.account(a.id).await.unwrap().unwrap();
    assert_eq!(
        account.standing,
        Standing::Ignored {
            until: T0.saturating_add(Duration::from_secs(72 * 3600)),
            reason: "first".into()
        }
    );
    assert_eq!(account.ignores.count, 1);
    // A longer one extends it.
    first.task = tasks[2].id.clone();
    s.record_report(ReportWrites::plan(
        Decision {
            report: first,
            effects: vec![ignore(144, "third")],
        },
        Family::Hcaptcha,
    ))
    .await
    .unwrap();
    let account = s.account(a.id).await.unwrap().unwrap();
    assert!(matches!(account.standing, Standing::Ignored { ref reason, .. } if reason == "third"));
}

async fn a_recheck_is_handed_out_once_per_lease_and_settled_once(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("img1", a.id, CaptchaType::Image, 1_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let (_, deadline) = record_pending(&s, &t).await;

    let lease = Duration::from_secs(60);
    let item = s
        .claim_recheck(T0, lease)
        .await
        .unwrap()
        .expect("one open re-check");
    assert_eq!(
        (item.task.id.clone(), item.deadline),
        (t.id.clone(), deadline)
    );
    assert!(
        s.claim_recheck(T0, lease).await.unwrap().is_none(),
        "held by the first claim"
    );
    let again = s
        .claim_recheck(T0.saturating_add(Duration::from_secs(61)), lease)
        .await
        .unwrap();
    assert!(again.is_some(), "handed out again after the lease");
    assert!(s.overdue_rechecks(T0, 10).await.unwrap().is_empty());
    assert_eq!(
        s.overdue_rechecks(deadline, 10).await.unwrap(),
        vec![t.id.clone()]
    );

    let subject = s.recheck_subject(&t.id, T0).await.unwrap().expect("open");
    assert_eq!(
        (subject.last_day.tasks, subject.last_day.rechecks_upheld),
        (1, 0),
        "the day so far: its task, nothing settled yet"
    );
    assert_eq!(subject.report.verdict, Verdict::Pending);
    let mut settled = subject.report.clone();
    settled.verdict = Verdict::Accepted;
    settled.reason = Reason::RecheckConfirmed;
    settled.refund = Some(t.cost);
    let settlement = Settlement {
        report: settled.clone(),
        precision: Precision {
            confirmed: 1.0,
            refuted: 0.0,
        },
        effects: vec![],
    };
    let at = T0.saturating_add(Duration::from_secs(10));
    assert_eq!(
        s.settle_recheck(SettlementWrites::plan(
            settlement.clone(),
            Family::Image,
            at
        ))
        .await
        .unwrap(),
        Settled::Now(settled.clone())
    );
    assert_eq!(
        s.settle_recheck(SettlementWrites::plan(settlement, Family::Image, at))
            .await
            .unwrap(),
        Settled::Already(settled)
    );
    assert_eq!(s.ledger(a.id).await.unwrap().len(), 1, "refunded once");
    assert!(
        s.recheck_subject(&t.id, at).await.unwrap().is_none(),
        "closed"
    );
    assert!(
        s.claim_recheck(T0.saturating_add(Duration::from_secs(999)), lease)
            .await
            .unwrap()
            .is_none()
    );
    let key = lookup("alice");
    let ctx = s
        .report_context(&key, &t.id, Some(24), at)
        .await
        .unwrap()
        .unwrap();
    let family = ctx.family.unwrap();
    assert_eq!(
        family.precision,
        Precision {
            confirmed: 1.0,
            refuted: 0.0
        }
    );
    let day = family.activity.window(at, 24);
    assert_eq!(
        (day.refunds, day.rechecks_upheld, day.rechecks_refuted),
        (1, 1, 0)
    );
}

async fn an_inconclusive_solve_keeps_the_report_pending_and_requeues_it(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("img2", a.id, CaptchaType::Image, 1_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let (pending, deadline) = record_pending(&s, &t).await;
    let lease = Duration::from_secs(600);
    assert!(s.claim_recheck(T0, lease).await.unwrap().is_some());

    let mut still = pending.clone();
    still.evidence = still
        .evidence
        .with("recheck", serde_json::json!({ "answers": ["ZZZ"] }));
    let at = T0.saturating_add(Duration::from_secs(5));
    let again = Settlement {
        report: still.clone(),
        precision: Precision::default(),
        effects: vec![],
    };
    assert_eq!(
        s.settle_recheck(SettlementWrites::plan(again, Family::Image, at))
            .await
            .unwrap(),
        Settled::Now(still.clone())
    );
    let item = s
        .claim_recheck(at, lease)
        .await
        .unwrap()
        .expect("back in the queue before its lease ran out");
    assert_eq!(item.report.evidence, still.evidence, "the solve is kept");
    assert_eq!(item.deadline, deadline, "the deadline stands");
    assert!(
        s.ledger(a.id).await.unwrap().is_empty(),
        "nothing refunded yet"
    );
    let subject = s
        .recheck_subject(&t.id, at)
        .await
        .unwrap()
        .expect("still open");
    assert_eq!(
        subject.last_day.rechecks_upheld + subject.last_day.rechecks_refuted,
        0
    );
    assert_eq!(subject.report.verdict, Verdict::Pending);
}

async fn clawback_reverses_refunds_on_unverifiable_reports_only(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let token = task("tok", a.id, CaptchaType::Turnstile, 1_500);
    let image = task("img", a.id, CaptchaType::Image, 1_000);
    let last = task("last", a.id, CaptchaType::Turnstile, 1_500);
    s.ingest_tasks(vec![token.clone(), image.clone(), last.clone()], T0)
        .await
        .unwrap();
    s.record_report(ReportWrites::plan(
        plain(accepted(&token, T0)),
        Family::Turnstile,
    ))
    .await
    .unwrap();
    s.record_report(ReportWrites::plan(
        plain(accepted(&image, T0)),
        Family::Image,
    ))
    .await
    .unwrap();
    let since = T0.saturating_sub(Duration::from_secs(3600));
    let d = Decision {
        report: rejected(&last, T0),
        effects: vec![Effect::Clawback {
            since,
            reason: FLAGGED.into(),
            lane: "fast",
        }],
    };
    s.record_report(ReportWrites::plan(d, Family::Turnstile))
        .await
        .unwrap();
    let entries = s.ledger(a.id).await.unwrap();
    assert_eq!(entries.len(), 3, "{entries:?}");
    let reversal = entries
        .iter()
        .find(|e| e.kind == EntryKind::Reversal)
        .expect("a reversal");
    assert_eq!(
        (reversal.task.clone(), reversal.amount),
        (token.id.clone(), Amount::from_micros(-1_500))
    );
    assert_eq!(
        reversal.reason.as_deref(),
        Some(FLAGGED),
        "its reason reads back"
    );
    assert_eq!(reversal.lane.as_deref(), Some("fast"), "and its lane");
    assert_eq!(
        s.account(a.id).await.unwrap().unwrap().balance,
        Amount::from_micros(1_000)
    );
    assert_eq!(
        s.task_ledger(&token.id).await.unwrap().len(),
        2,
        "refund and reversal"
    );
    // Again, from a later report whose clawback covers the same refunds: nothing more is taken.
    let again = task("again", a.id, CaptchaType::Turnstile, 1_500);
    s.ingest_tasks(vec![again.clone()], T0).await.unwrap();
    let d = Decision {
        report: rejected(&again, T0),
        effects: vec![Effect::Clawback {
            since,
            reason: FLAGGED.into(),
            lane: "fast",
        }],
    };
    assert!(matches!(
        s.record_report(ReportWrites::plan(d, Family::Turnstile))
            .await
            .unwrap(),
        Recorded::Inserted(_)
    ));
    assert_eq!(
        s.account(a.id).await.unwrap().unwrap().balance,
        Amount::from_micros(1_000)
    );
    assert_eq!(s.ledger(a.id).await.unwrap().len(), 3, "no second reversal");
}

async fn the_cohort_is_trusted_accounts_in_good_standing(s: TestStore) {
    let trusted = trusted_account(&s, "trusted").await;
    let other = s.create_account(new_account("other")).await.unwrap();
    let ignored = trusted_account(&s, "ignored").await;
    for (acct, n) in [(&trusted, 5), (&other, 7), (&ignored, 9)] {
        let tasks: Vec<Task> = (0..n)
            .map(|i| {
                task(
                    &format!("{}-{i}", acct.name),
                    acct.id,
                    CaptchaType::RecaptchaV2,
                    1,
                )
            })
            .collect();
        s.ingest_tasks(tasks, T0).await.unwrap();
    }
    let until = T0.saturating_add(Duration::from_secs(3600));
    s.set_standing(
        ignored.id,
        Standing::Ignored {
            until,
            reason: "by hand".into(),
        },
        T0,
    )
    .await
    .unwrap();
    let samples = s
        .cohort_samples(Family::Recaptcha, hour_of(T0) - 71)
        .await
        .unwrap();
    assert_eq!(samples, vec![(5, 0)]);
    assert!(
        s.cohort_samples(Family::Image, hour_of(T0) - 71)
            .await
            .unwrap()
            .is_empty()
    );
    let record = CohortRecord {
        prior: CohortPrior::new(3.0, 27.0, 0.99, 40),
        rate: 0.1,
        fitted_at: T0,
    };
    s.save_cohort(Family::Recaptcha, record).await.unwrap();
    assert_eq!(
        s.cohorts().await.unwrap(),
        vec![(Family::Recaptcha, record)]
    );
    let key = lookup("other");
    let ctx = s
        .report_context(&key, &TaskId::parse("other-0").unwrap(), Some(72), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.family.unwrap().cohort, Some(record));
}

async fn baselines_fold_each_hour_once(s: TestStore) {
    let trusted = trusted_account(&s, "trusted").await;
    let a = s.create_account(new_account("alice")).await.unwrap();
    let at = T0.saturating_sub(Duration::from_secs(80 * 3600));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut t = task(&format!("c{i}"), trusted.id, CaptchaType::Hcaptcha, 1);
        t.completed_at = at;
        tasks.push(t);
        let mut t = task(&format!("a{i}"), a.id, CaptchaType::Hcaptcha, 1);
        t.completed_at = at;
        tasks.push(t);
    }
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    // The cohort reported 2 of its 10, alice 5 of hers, all in that same hour.
    for t in tasks
        .iter()
        .filter(|t| t.account == trusted.id)
        .take(2)
        .chain(tasks.iter().filter(|t| t.account == a.id).take(5))
    {
        s.record_report(ReportWrites::plan(plain(accepted(t, at)), Family::Hcaptcha))
            .await
            .unwrap();
    }
    let hour = hour_of(at);
    assert_eq!(s.folded_through().await.unwrap(), None);
    let policy = ScreenPolicy::default();
    assert!(s.fold_baselines(hour, &policy).await.unwrap());
    assert!(
        !s.fold_baselines(hour, &policy).await.unwrap(),
        "an hour is folded once"
    );
    assert!(
        !s.fold_baselines(hour - 1, &policy).await.unwrap(),
        "and never an earlier one"
    );
    assert_eq!(s.folded_through().await.unwrap(), Some(hour));
    let key = lookup("alice");
    let ctx = s
        .report_context(&key, &tasks[1].id, Some(1), T0)
        .await
        .unwrap()
        .unwrap();
    let baseline = ctx.family.unwrap().baseline;
    assert!((baseline.reports - 5.0).abs() < 1e-9, "{baseline:?}");
    assert!(
        (baseline.expected - 10.0 * 0.2).abs() < 1e-9,
        "expected at the cohort's hourly rate: {baseline:?}"
    );
}

async fn the_drift_sum_is_folded_with_the_baseline_and_restarts_after_an_ignored_period(
    s: TestStore,
) {
    let trusted = trusted_account(&s, "trusted").await;
    let a = s.create_account(new_account("alice")).await.unwrap();
    let ago = |h: u64| T0.saturating_sub(Duration::from_secs(h * 3600));
    // Alice: 600 tasks with 60 reports, then 100 with 40, then — after an ignored period —
    // 10 with 1; the cohort reports 2 in 10 every one of those hours.
    let hours = [(100, 600, 60), (90, 100, 40), (75, 10, 1)];
    let mut tasks = Vec::new();
    for (h, n, x) in hours {
        for (account, n, x, who) in [(trusted.id, 10, 2, "c"), (a.id, n, x, "a")] {
            for i in 0..n {
                let mut t = task(&format!("{who}{h}-{i}"), account, CaptchaType::Hcaptcha, 1);
                t.completed_at = ago(h);
                tasks.push((t, i < x));
            }
        }
    }
    s.ingest_tasks(tasks.iter().map(|(t, _)| t.clone()).collect(), T0)
        .await
        .unwrap();
    for (t, _) in tasks.iter().filter(|(_, reported)| *reported) {
        s.record_report(ReportWrites::plan(
            plain(accepted(t, t.completed_at)),
            Family::Hcaptcha,
        ))
        .await
        .unwrap();
    }
    let policy = ScreenPolicy::default();
    let key = lookup("alice");
    let alices = tasks
        .iter()
        .find(|(t, _)| t.account == a.id)
        .unwrap()
        .0
        .id
        .clone();
    let baseline = || async {
        s.report_context(&key, &alices, Some(1), T0)
            .await
            .unwrap()
            .unwrap()
            .family
            .unwrap()
            .baseline
    };
    assert!(s.fold_baselines(hour_of(ago(100)), &policy).await.unwrap());
    let first = baseline().await;
    assert!(first.expected >= policy.drift_min_expected, "{first:?}");
    assert!(s.fold_baselines(hour_of(ago(90)), &policy).await.unwrap());
    let second = baseline().await;
    let counts = Counts {
        tasks: 100,
        incorrect: 40,
        ..Counts::default()
    };
    let want = advance_baseline(first, hour_of(ago(90)), &counts, 0.2, 10.0, false, &policy);
    assert!(want.drift.llr > 0.0, "a rise from 10 % to 40 %: {want:?}");
    assert_eq!(second.drift.since_hour, hour_of(ago(90)));
    assert_eq!((second.drift.tasks, second.drift.reports), (100, 40));
    for (got, want) in [
        (second.drift.llr, want.drift.llr),
        (second.drift.expected, want.drift.expected),
        (second.reports, want.reports),
        (second.expected, want.expected),
    ] {
        assert!((got - want).abs() < 1e-9, "{second:?} vs {want:?}");
    }
    s.set_standing(
        a.id,
        Standing::Ignored {
            until: ago(80),
            reason: "by hand".into(),
        },
        ago(85),
    )
    .await
    .unwrap();
    assert!(s.fold_baselines(hour_of(ago(75)), &policy).await.unwrap());
    let third = baseline().await;
    assert!(
        third.drift.tasks <= 10,
        "the run before the period is gone: {third:?}"
    );
}

async fn operators_set_trust_and_standing(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    assert!(s.set_trusted(a.id, true).await.unwrap().unwrap().trusted);
    let until = T0.saturating_add(Duration::from_secs(86_400));
    let ignored = s
        .set_standing(
            a.id,
            Standing::Ignored {
                until,
                reason: "review".into(),
            },
            T0,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ignored.standing,
        Standing::Ignored {
            until,
            reason: "review".into()
        }
    );
    assert_eq!(ignored.ignores.ended_at, Some(until));
    let lifted_at = T0.saturating_add(Duration::from_secs(600));
    let lifted = s
        .set_standing(a.id, Standing::Good, lifted_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lifted.standing, Standing::Good);
    assert_eq!(
        lifted.ignores.ended_at,
        Some(lifted_at),
        "the screen counts from when the period was lifted"
    );
    let again = s
        .set_standing(a.id, Standing::Good, until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.ignores.ended_at,
        Some(lifted_at),
        "lifting twice changes nothing"
    );
    assert_eq!(s.set_trusted(AccountId(9_999), true).await.unwrap(), None);
}

async fn an_id_repeated_within_a_batch_is_inserted_once_at_its_first_valid_place(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let first = task("7", a.id, CaptchaType::Image, 1_000);
    let mut second = first.clone();
    second.cost = Amount::from_micros(2_000);
    let orphan = task("8", AccountId(424_242), CaptchaType::Image, 1);
    let adopted = task("8", a.id, CaptchaType::Image, 3_000);
    let results = s
        .ingest_tasks(vec![first.clone(), second, orphan, adopted.clone()], T0)
        .await
        .unwrap();
    assert_eq!(
        results,
        vec![
            IngestResult::Inserted,
            IngestResult::Duplicate,
            IngestResult::UnknownAccount,
            IngestResult::Inserted,
        ]
    );
    assert_eq!(s.task(&first.id).await.unwrap(), Some((first, None)));
    assert_eq!(s.task(&adopted.id).await.unwrap(), Some((adopted, None)));
    assert_eq!(s.ingest_tasks(Vec::new(), T0).await.unwrap(), Vec::new());
}

async fn a_large_batch_reports_every_record_in_order(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let existing = task("k-5", a.id, CaptchaType::Image, 1);
    s.ingest_tasks(vec![existing], T0).await.unwrap();
    let batch: Vec<Task> = (0..5_000)
        .map(|i| match i % 1_000 {
            999 => task(&format!("k-{i}"), AccountId(424_242), CaptchaType::Image, 1),
            _ => task(
                &format!("k-{}", i % 4_000),
                a.id,
                CaptchaType::Turnstile,
                10 + i,
            ),
        })
        .collect();
    let results = s.ingest_tasks(batch.clone(), T0).await.unwrap();
    assert_eq!(results.len(), batch.len());
    for (i, (t, r)) in batch.iter().zip(&results).enumerate() {
        let expected = if t.account != a.id {
            IngestResult::UnknownAccount
        } else if i == 5 || i >= 4_000 {
            IngestResult::Duplicate
        } else {
            IngestResult::Inserted
        };
        assert_eq!(*r, expected, "record {i} ({})", t.id);
    }
    let (stored, _) = s
        .task(&TaskId::parse("k-17").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.cost,
        Amount::from_micros(27),
        "the first occurrence is kept"
    );
}

async fn concurrent_ingests_of_the_same_ids_insert_each_once(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let batch: Vec<Task> = (0..200)
        .map(|i| task(&format!("c{i}"), a.id, CaptchaType::Image, 1))
        .collect();
    let store: Arc<dyn Store> = s.store.clone();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (store, batch) = (store.clone(), batch.clone());
            tokio::spawn(async move { store.ingest_tasks(batch, T0).await })
        })
        .collect();
    let mut inserted = 0;
    for h in handles {
        let results = h.await.unwrap().unwrap();
        inserted += results
            .iter()
            .filter(|r| **r == IngestResult::Inserted)
            .count();
    }
    assert_eq!(inserted, batch.len());
}

async fn a_report_on_a_task_that_does_not_exist_is_refused_as_a_conflict(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let ghost = task("ghost", a.id, CaptchaType::Image, 1_000);
    assert!(matches!(
        s.record_report(ReportWrites::plan(
            plain(accepted(&ghost, T0)),
            Family::Image
        ))
        .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(s.ledger(a.id).await.unwrap().is_empty());
}

async fn concurrent_reports_on_many_tasks_keep_the_balance_equal_to_the_ledger(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let tasks: Vec<Task> = (0..40)
        .map(|i| task(&format!("m{i}"), a.id, CaptchaType::Image, 1_000 + i))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    let store: Arc<dyn Store> = s.store.clone();
    // Every task reported five times at once: 200 concurrent writers on one account row.
    let handles: Vec<_> = (0..5)
        .flat_map(|_| tasks.clone())
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_report(ReportWrites::plan(plain(accepted(&t, T0)), Family::Image))
                    .await
            })
        })
        .collect();
    let mut inserted = 0;
    for h in handles {
        if let Recorded::Inserted(_) = h.await.unwrap().unwrap() {
            inserted += 1;
        }
    }
    assert_eq!(inserted, tasks.len());
    let entries = s.ledger(a.id).await.unwrap();
    assert_eq!(entries.len(), tasks.len());
    let charged: Amount = tasks.iter().map(|t| t.cost).sum();
    assert_eq!(ledger::balance(&entries), charged);
    assert_eq!(s.account(a.id).await.unwrap().unwrap().balance, charged);
}

async fn concurrent_first_starts_agree_on_one_metadata_value(s: TestStore) {
    let store: Arc<dyn Store> = s.store.clone();
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.set_meta_if_absent("admin", &format!("v{i}")).await })
        })
        .collect();
    let mut winners = 0;
    for h in handles {
        if h.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert!(s.meta("admin").await.unwrap().is_some());
}

async fn free_text_and_evidence_read_back_exactly_as_written(s: TestStore) {
    let a = s
        .create_account(new_account("ålice \"q\" \\ 🚀"))
        .await
        .unwrap();
    assert_eq!(a.name, "ålice \"q\" \\ 🚀");
    let mut t = task("txt", a.id, CaptchaType::Audio, 1_000);
    t.answer = Some("line one\nline 'two'\t«trois» 四 \\x00".into());
    t.worker = Some("wörker-🚀".into());
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let mut r = accepted(&t, T0);
    r.correction = Some("naïve \"fix\"\r\n".into());
    r.message = Some("%s %d $1 ' -- ; DROP TABLE reports".into());
    r.evidence = Evidence::new()
        .with("z_last", "first in text")
        .with("nested", serde_json::json!({"b": [1, 2.5, null], "a": "é"}))
        .with("big", i64::MAX);
    s.record_report(ReportWrites::plan(plain(r.clone()), Family::Audio))
        .await
        .unwrap();
    assert_eq!(s.task(&t.id).await.unwrap(), Some((t, Some(r))));
}

async fn a_concurrent_mix_of_accounts_repeats_and_missing_tasks_keeps_every_rule(s: TestStore) {
    let mut accounts = Vec::new();
    for name in ["alice", "bob", "carol"] {
        accounts.push(s.create_account(new_account(name)).await.unwrap());
    }
    let tasks: Vec<Task> = (0..30)
        .map(|i| {
            task(
                &format!("x{i}"),
                accounts[i % 3].id,
                CaptchaType::Image,
                100 + i as i64,
            )
        })
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    // A third of the tasks were reported before the storm.
    let mut earlier = Vec::new();
    for t in tasks.iter().step_by(3) {
        let r = accepted(t, T0);
        s.record_report(ReportWrites::plan(plain(r.clone()), Family::Image))
            .await
            .unwrap();
        earlier.push(r);
    }
    let store: Arc<dyn Store> = s.store.clone();
    let mut handles = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        for correct in [false, true] {
            let mut r = accepted(t, T0.saturating_add(Duration::from_secs(1)));
            if correct {
                r.kind = ReportKind::Correct;
                r.verdict = Verdict::Acknowledged;
                r.refund = None;
            }
            let store = store.clone();
            handles.push((
                i,
                tokio::spawn(async move {
                    store
                        .record_report(ReportWrites::plan(plain(r), Family::Image))
                        .await
                }),
            ));
        }
    }
    let mut inserted = vec![0; tasks.len()];
    for (i, h) in handles {
        match h.await.unwrap().unwrap() {
            Recorded::Inserted(_) => inserted[i] += 1,
            Recorded::Existing(r) if i % 3 == 0 => assert_eq!(r, earlier[i / 3]),
            Recorded::Existing(_) => {}
        }
    }
    // Reports on tasks that do not exist, racing valid ones: only they fail.
    let fresh: Vec<Task> = (0..5)
        .map(|i| {
            task(
                &format!("y{i}"),
                accounts[i % 3].id,
                CaptchaType::Image,
                1_000,
            )
        })
        .collect();
    s.ingest_tasks(fresh.clone(), T0).await.unwrap();
    let valid: Vec<_> = fresh
        .iter()
        .map(|t| {
            let (store, r) = (store.clone(), accepted(t, T0));
            tokio::spawn(async move {
                store
                    .record_report(ReportWrites::plan(plain(r), Family::Image))
                    .await
            })
        })
        .collect();
    let ghosts: Vec<_> = (0..5)
        .map(|i| {
            let ghost = task(
                &format!("ghost{i}"),
                accounts[i % 3].id,
                CaptchaType::Image,
                7,
            );
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_report(ReportWrites::plan(
                        plain(accepted(&ghost, T0)),
                        Family::Image,
                    ))
                    .await
            })
        })
        .collect();
    for g in ghosts {
        assert!(matches!(g.await.unwrap(), Err(StoreError::Conflict { .. })));
    }
    for v in valid {
        assert!(matches!(v.await.unwrap(), Ok(Recorded::Inserted(_))));
    }
    for (i, n) in inserted.iter().enumerate() {
        assert_eq!(*n, usize::from(i % 3 != 0), "task x{i}");
    }
    for a in &accounts {
        let entries = s.ledger(a.id).await.unwrap();
        let mut refunded = Amount::ZERO;
        for t in tasks.iter().chain(&fresh).filter(|t| t.account == a.id) {
            let (_, report) = s.task(&t.id).await.unwrap().unwrap();
            let report = report.unwrap();
            let for_task = entries.iter().filter(|e| e.task == t.id).count();
            assert_eq!(
                for_task,
                usize::from(report.refund.is_some()),
                "task {}",
                t.id
            );
            refunded = refunded
                .checked_add(report.refund.unwrap_or(Amount::ZERO))
                .unwrap();
        }
        assert_eq!(ledger::balance(&entries), refunded);
        assert_eq!(s.account(a.id).await.unwrap().unwrap().balance, refunded);
    }
}

fn pending(task: &Task, at: Timestamp) -> Decision {
    let mut report = accepted(task, at);
    report.verdict = Verdict::Pending;
    report.reason = Reason::AwaitingRecheck;
    report.refund = None;
    Decision {
        report,
        effects: vec![Effect::Recheck {
            deadline: at.saturating_add(Duration::from_secs(3600)),
        }],
    }
}

async fn ingest_counts_each_stored_task_once_in_the_activity(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let first = task("i1", a.id, CaptchaType::Funcaptcha, 1);
    let batch = vec![
        first.clone(),
        first.clone(),
        task("i2", a.id, CaptchaType::Funcaptcha, 1),
        task("i3", AccountId(424_242), CaptchaType::Funcaptcha, 1),
        task("i4", a.id, CaptchaType::Geetest, 1),
    ];
    s.ingest_tasks(batch.clone(), T0).await.unwrap();
    s.ingest_tasks(batch, T0).await.unwrap();
    let since = T0.saturating_sub(Duration::from_secs(3600));
    let activity = s.account_activity(a.id, since).await.unwrap();
    let tasks: Vec<(Family, u64)> = activity.iter().map(|f| (f.family, f.tasks)).collect();
    assert_eq!(tasks, vec![(Family::Funcaptcha, 2), (Family::Geetest, 1)]);
}

async fn family_state_is_read_only_for_the_keys_own_task(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let b = s.create_account(new_account("bob")).await.unwrap();
    let bobs = task("bobs", b.id, CaptchaType::Image, 1);
    s.ingest_tasks(vec![bobs.clone()], T0).await.unwrap();
    let ctx = s
        .report_context(&lookup("alice"), &bobs.id, Some(24), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.account.id, a.id);
    assert_eq!(ctx.task, Some(bobs.clone()), "judging checks ownership");
    assert_eq!(ctx.family, None);
    let own = s
        .report_context(&lookup("bob"), &bobs.id, Some(24), T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.family.unwrap().activity.window(T0, 24).tasks, 1);
}

async fn concurrent_claims_hand_each_recheck_to_one_claimant(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let tasks: Vec<Task> = (0..10)
        .map(|i| task(&format!("r{i}"), a.id, CaptchaType::Image, 1_000))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for (i, t) in tasks.iter().enumerate() {
        let at = T0.saturating_add(Duration::from_millis(i as u64));
        s.record_report(ReportWrites::plan(pending(t, at), Family::Image))
            .await
            .unwrap();
    }
    let store: Arc<dyn Store> = s.store.clone();
    let now = T0.saturating_add(Duration::from_secs(1));
    let lease = Duration::from_secs(600);
    let handles: Vec<_> = (0..25)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_recheck(now, lease).await })
        })
        .collect();
    let mut claimed = Vec::new();
    for h in handles {
        if let Some(item) = h.await.unwrap().unwrap() {
            claimed.push(item.task.id);
        }
    }
    claimed.sort();
    let mut expected: Vec<TaskId> = tasks.iter().map(|t| t.id.clone()).collect();
    expected.sort();
    assert_eq!(claimed, expected, "each task handed out once");
    assert!(s.claim_recheck(now, lease).await.unwrap().is_none());
}

async fn concurrent_settlements_settle_once_and_refund_once(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("s1", a.id, CaptchaType::Audio, 1_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    s.record_report(ReportWrites::plan(pending(&t, T0), Family::Audio))
        .await
        .unwrap();
    let subject = s.recheck_subject(&t.id, T0).await.unwrap().unwrap();
    let mut settled = subject.report.clone();
    settled.verdict = Verdict::Accepted;
    settled.reason = Reason::RecheckConfirmed;
    settled.refund = Some(t.cost);
    let settlement = Settlement {
        report: settled.clone(),
        precision: Precision {
            confirmed: 1.0,
            refuted: 0.0,
        },
        effects: vec![],
    };
    let store: Arc<dyn Store> = s.store.clone();
    let at = T0.saturating_add(Duration::from_secs(5));
    let handles: Vec<_> = (0..12)
        .map(|_| {
            let (store, settlement) = (store.clone(), settlement.clone());
            tokio::spawn(async move {
                store
                    .settle_recheck(SettlementWrites::plan(settlement, Family::Audio, at))
                    .await
            })
        })
        .collect();
    let mut now = 0;
    for h in handles {
        match h.await.unwrap().unwrap() {
            Settled::Now(r) => {
                now += 1;
                assert_eq!(r, settled);
            }
            Settled::Already(r) => assert_eq!(r, settled),
        }
    }
    assert_eq!(now, 1);
    let entries = s.ledger(a.id).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        s.account(a.id).await.unwrap().unwrap().balance,
        ledger::balance(&entries)
    );
    let (_, _, family) = s.task_context(&t.id, Some(24), at).await.unwrap().unwrap();
    let day = family.unwrap().activity.window(at, 24);
    assert_eq!((day.refunds, day.rechecks_upheld), (1, 1));
}

async fn a_settlement_applies_its_effects_with_it(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("s2", a.id, CaptchaType::Image, 1_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    s.record_report(ReportWrites::plan(pending(&t, T0), Family::Image))
        .await
        .unwrap();
    let mut refuted = s.task(&t.id).await.unwrap().unwrap().1.unwrap();
    refuted.verdict = Verdict::Rejected;
    refuted.reason = Reason::RecheckRefuted;
    let at = T0.saturating_add(Duration::from_secs(60));
    let until = at.saturating_add(Duration::from_secs(86_400));
    let settlement = Settlement {
        report: refuted.clone(),
        precision: Precision {
            confirmed: 0.0,
            refuted: 1.0,
        },
        effects: vec![Effect::Ignore {
            until,
            reason: "mostly false".into(),
            count_since: T0.saturating_sub(Duration::from_secs(30 * 86_400)),
            lane: "recheck",
        }],
    };
    assert_eq!(
        s.settle_recheck(SettlementWrites::plan(settlement, Family::Image, at))
            .await
            .unwrap(),
        Settled::Now(refuted)
    );
    let account = s.account(a.id).await.unwrap().unwrap();
    assert_eq!(
        account.standing,
        Standing::Ignored {
            until,
            reason: "mostly false".into()
        }
    );
    assert_eq!(
        (account.ignores.count, account.ignores.last_at),
        (1, Some(at))
    );
    assert!(s.ledger(a.id).await.unwrap().is_empty());
    let subject = s.task_context(&t.id, Some(24), at).await.unwrap().unwrap();
    let family = subject.2.unwrap();
    assert_eq!(
        (family.precision.refuted, family.precision_at),
        (1.0, Some(at))
    );
    assert_eq!(family.activity.window(at, 24).rechecks_refuted, 1);
    assert!(s.overdue_rechecks(until, 10).await.unwrap().is_empty());
}

async fn hours_up_to_the_end_of_an_ignored_period_stay_out_of_baselines_and_the_cohort(
    s: TestStore,
) {
    let a = trusted_account(&s, "trusted").await;
    let at_a = T0.saturating_sub(Duration::from_secs(10 * 3600));
    let at_b = T0.saturating_sub(Duration::from_secs(2 * 3600));
    let mut tasks = Vec::new();
    for (prefix, at, n) in [("a", at_a, 4), ("b", at_b, 3)] {
        for i in 0..n {
            let mut t = task(&format!("{prefix}{i}"), a.id, CaptchaType::Turnstile, 1);
            t.completed_at = at;
            tasks.push(t);
        }
    }
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for t in [&tasks[0], &tasks[1], &tasks[4]] {
        s.record_report(ReportWrites::plan(
            plain(accepted(t, t.completed_at)),
            Family::Turnstile,
        ))
        .await
        .unwrap();
    }
    // Ignored for three days from before hour A, lifted by hand between A and B.
    let lifted = T0.saturating_sub(Duration::from_secs(5 * 3600));
    s.set_standing(
        a.id,
        Standing::Ignored {
            until: T0.saturating_add(Duration::from_secs(72 * 3600)),
            reason: "by hand".into(),
        },
        T0.saturating_sub(Duration::from_secs(12 * 3600)),
    )
    .await
    .unwrap();
    s.set_standing(a.id, Standing::Good, lifted).await.unwrap();
    let samples = s
        .cohort_samples(Family::Turnstile, hour_of(T0) - 71)
        .await
        .unwrap();
    assert_eq!(samples, vec![(3, 1)], "hour B only");
    let policy = ScreenPolicy::default();
    assert!(s.fold_baselines(hour_of(at_a), &policy).await.unwrap());
    assert!(s.fold_baselines(hour_of(at_b), &policy).await.unwrap());
    let key = lookup("trusted");
    let ctx = s
        .report_context(&key, &tasks[6].id, Some(1), T0)
        .await
        .unwrap()
        .unwrap();
    let baseline = ctx.family.unwrap().baseline;
    assert!((baseline.reports - 1.0).abs() < 1e-9, "{baseline:?}");
    assert!(
        (baseline.expected - 1.0).abs() < 1e-9,
        "hour B's 3 tasks at that hour's cohort rate, 1 in 3: {baseline:?}"
    );
}

async fn concurrent_folds_of_one_hour_fold_it_once(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let at = T0.saturating_sub(Duration::from_secs(80 * 3600));
    let tasks: Vec<Task> = (0..6)
        .map(|i| {
            let mut t = task(&format!("f{i}"), a.id, CaptchaType::Hcaptcha, 1);
            t.completed_at = at;
            t
        })
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for t in &tasks[..3] {
        s.record_report(ReportWrites::plan(plain(accepted(t, at)), Family::Hcaptcha))
            .await
            .unwrap();
    }
    let store: Arc<dyn Store> = s.store.clone();
    let hour = hour_of(at);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.fold_baselines(hour, &ScreenPolicy::default()).await })
        })
        .collect();
    let mut folded = 0;
    for h in handles {
        folded += usize::from(h.await.unwrap().unwrap());
    }
    assert_eq!(folded, 1);
    assert_eq!(s.folded_through().await.unwrap(), Some(hour));
    let key = lookup("alice");
    let ctx = s
        .report_context(&key, &tasks[0].id, Some(1), T0)
        .await
        .unwrap()
        .unwrap();
    let baseline = ctx.family.unwrap().baseline;
    assert!(
        (baseline.reports - 3.0).abs() < 1e-9,
        "folded once: {baseline:?}"
    );
}

async fn concurrent_reports_with_clawbacks_keep_every_reversal_matched_to_a_refund(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let b = s.create_account(new_account("bob")).await.unwrap();
    let tasks: Vec<Task> = (0..60)
        .map(|i| {
            let owner = if i % 4 == 3 { b.id } else { a.id };
            task(&format!("w{i}"), owner, CaptchaType::Turnstile, 100 + i)
        })
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    let store: Arc<dyn Store> = s.store.clone();
    let since = T0.saturating_sub(Duration::from_secs(3600));
    let handles: Vec<_> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let decision = if i % 10 == 9 {
                Decision {
                    report: rejected(t, T0),
                    effects: vec![
                        Effect::Ignore {
                            until: T0.saturating_add(Duration::from_secs(3600 * (i as u64))),
                            reason: format!("burst {i}"),
                            count_since: since,
                            lane: "fast",
                        },
                        Effect::Clawback {
                            since,
                            reason: FLAGGED.into(),
                            lane: "fast",
                        },
                    ],
                }
            } else {
                plain(accepted(t, T0))
            };
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_report(ReportWrites::plan(decision, Family::Turnstile))
                    .await
            })
        })
        .collect();
    for h in handles {
        assert!(matches!(h.await.unwrap().unwrap(), Recorded::Inserted(_)));
    }
    for account in [a.id, b.id] {
        let entries = s.ledger(account).await.unwrap();
        assert_eq!(
            s.account(account).await.unwrap().unwrap().balance,
            ledger::balance(&entries)
        );
        for reversal in entries.iter().filter(|e| e.kind == EntryKind::Reversal) {
            let refunds: Vec<_> = entries
                .iter()
                .filter(|e| e.task == reversal.task && e.kind == EntryKind::Refund)
                .collect();
            assert_eq!(refunds.len(), 1, "{reversal:?}");
            assert_eq!(reversal.amount, -refunds[0].amount);
        }
        let reversed = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Reversal)
            .count();
        assert!(
            reversed
                <= entries
                    .iter()
                    .filter(|e| e.kind == EntryKind::Refund)
                    .count()
        );
        let standing = s.account(account).await.unwrap().unwrap();
        assert!(matches!(standing.standing, Standing::Ignored { .. }));
        assert_eq!(standing.ignores.count, 1, "one period, extended");
    }
    // One more clawback per account, after every report: every refund is now reversed, and
    // each exactly once, however the concurrent clawbacks interleaved.
    for (account, id) in [(a.id, "w-last-a"), (b.id, "w-last-b")] {
        let last = task(id, account, CaptchaType::Turnstile, 100);
        s.ingest_tasks(vec![last.clone()], T0).await.unwrap();
        s.record_report(ReportWrites::plan(
            Decision {
                report: rejected(&last, T0),
                effects: vec![Effect::Clawback {
                    since,
                    reason: FLAGGED.into(),
                    lane: "fast",
                }],
            },
            Family::Turnstile,
        ))
        .await
        .unwrap();
        let entries = s.ledger(account).await.unwrap();
        let refunded: Vec<&TaskId> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Refund)
            .map(|e| &e.task)
            .collect();
        assert!(!refunded.is_empty());
        for task in refunded {
            let reversals = entries
                .iter()
                .filter(|e| &e.task == task && e.kind == EntryKind::Reversal)
                .count();
            assert_eq!(reversals, 1, "task {task}: {entries:?}");
        }
        assert_eq!(
            s.account(account).await.unwrap().unwrap().balance,
            Amount::ZERO
        );
    }
    // Whatever the order, the longest period stands: alice's from w49, bob's from w59.
    for (account, last) in [(a.id, 49), (b.id, 59)] {
        let standing = s.account(account).await.unwrap().unwrap().standing;
        assert_eq!(
            standing,
            Standing::Ignored {
                until: T0.saturating_add(Duration::from_secs(3600 * last)),
                reason: format!("burst {last}"),
            }
        );
    }
}

fn rejected(task: &Task, at: Timestamp) -> Report {
    Report {
        verdict: Verdict::Rejected,
        reason: Reason::RateAboveCohort,
        refund: None,
        ..accepted(task, at)
    }
}

/// `(good, bad, reports)` summed over buckets, per provider.
fn sums(buckets: &[EvidenceBucket], provider: &str) -> (f64, f64, u64) {
    buckets
        .iter()
        .filter(|b| b.provider == provider)
        .fold((0.0, 0.0, 0), |(g, b, n), x| {
            (g + x.good, b + x.bad, n + x.reports)
        })
}

async fn reports_add_trust_weighted_evidence_about_their_solver(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let tasks: Vec<Task> = (0..24)
        .map(|i| task(&format!("ev{i}"), a.id, CaptchaType::RecaptchaV2, 1_000))
        .collect();
    let mut other = task("ev-b", a.id, CaptchaType::RecaptchaV2, 1_000);
    other.provider = "prov-b".into();
    other.worker = None;
    let mut all = tasks.clone();
    all.push(other.clone());
    s.ingest_tasks(all, T0).await.unwrap();

    // Half-trusted, with a correction: 0.5 × 1.5 against prov-a and its worker.
    let mut half = accepted(&tasks[0], T0);
    half.trust_weight = 0.5;
    s.record_report(ReportWrites::plan(plain(half.clone()), Family::Recaptcha))
        .await
        .unwrap();
    let (_, stored) = s.task(&half.task).await.unwrap().unwrap();
    assert_eq!(
        stored.map(|r| r.trust_weight),
        Some(0.5),
        "the weight reads back as recorded"
    );
    // A retry of the same report adds nothing.
    s.record_report(ReportWrites::plan(plain(half), Family::Recaptcha))
        .await
        .unwrap();
    // A confirmation from a fully trusted account: counts fully for prov-a.
    s.record_report(ReportWrites::plan(
        plain(confirmed(&tasks[1], T0)),
        Family::Recaptcha,
    ))
    .await
    .unwrap();
    // An ignored account's report says nothing.
    let mut ignored = accepted(&tasks[2], T0);
    ignored.verdict = Verdict::Rejected;
    ignored.reason = Reason::AccountIgnored;
    ignored.refund = None;
    s.record_report(ReportWrites::plan(plain(ignored), Family::Recaptcha))
        .await
        .unwrap();
    // Twenty at once, through whatever batching the backend does: each counts once.
    let store: Arc<dyn Store> = s.store.clone();
    let concurrent: Vec<_> = tasks[3..23]
        .iter()
        .map(|t| {
            let mut r = accepted(t, T0.saturating_add(Duration::from_secs(61)));
            r.correction = None;
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_report(ReportWrites::plan(plain(r), Family::Recaptcha))
                    .await
            })
        })
        .collect();
    for handle in concurrent {
        handle.await.unwrap().unwrap();
    }
    let mut on_b = accepted(&other, T0);
    on_b.correction = None;
    s.record_report(ReportWrites::plan(plain(on_b), Family::Recaptcha))
        .await
        .unwrap();

    let minutes = s.provider_evidence(Resolution::Minute, 0).await.unwrap();
    assert_eq!(sums(&minutes, "prov-a"), (1.0, 20.75, 22));
    assert_eq!(sums(&minutes, "prov-b"), (0.0, 1.0, 1));
    let bucket = |at: Timestamp| Resolution::Minute.bucket(at);
    assert_eq!(
        minutes
            .iter()
            .filter(|b| b.provider == "prov-a")
            .map(|b| (b.bucket, b.captcha_type))
            .collect::<Vec<_>>(),
        vec![
            (bucket(T0), CaptchaType::RecaptchaV2),
            (
                bucket(T0.saturating_add(Duration::from_secs(61))),
                CaptchaType::RecaptchaV2
            )
        ],
        "one bucket per minute and type, oldest first"
    );
    let later = Resolution::Minute.bucket(T0) + 1;
    assert_eq!(
        sums(
            &s.provider_evidence(Resolution::Minute, later)
                .await
                .unwrap(),
            "prov-a"
        ),
        (0.0, 20.0, 20),
        "read from a bucket on"
    );
    let hours = s.provider_evidence(Resolution::Hour, 0).await.unwrap();
    assert_eq!(sums(&hours, "prov-a"), (1.0, 20.75, 22));
    let worker = s.worker_evidence("w1", 0).await.unwrap();
    assert_eq!(sums(&worker, "prov-a"), (1.0, 20.75, 22));
    assert!(worker.iter().all(|b| b.worker.as_deref() == Some("w1")));
    assert!(s.worker_evidence("w2", 0).await.unwrap().is_empty());

    // Retention: buckets before these go.
    let dropped = s
        .prune_evidence(later, Resolution::Hour.bucket(T0) + 1, 0)
        .await
        .unwrap();
    assert_eq!(
        dropped, 4,
        "prov-a's and prov-b's first minutes and their hours"
    );
    assert_eq!(
        sums(
            &s.provider_evidence(Resolution::Minute, 0).await.unwrap(),
            "prov-a"
        ),
        (0.0, 20.0, 20)
    );
}

async fn a_settled_recheck_adds_its_evidence_once_when_settled(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let t = task("img-ev", a.id, CaptchaType::Image, 1_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    let (pending, _) = record_pending(&s, &t).await;
    assert!(
        s.provider_evidence(Resolution::Minute, 0)
            .await
            .unwrap()
            .is_empty(),
        "a pending report says nothing yet"
    );
    let mut settled = pending;
    settled.verdict = Verdict::Accepted;
    settled.reason = Reason::RecheckConfirmed;
    settled.refund = Some(t.cost);
    let at = T0.saturating_add(Duration::from_secs(600));
    let settlement = Settlement {
        report: settled,
        precision: Precision::default(),
        effects: vec![],
    };
    s.settle_recheck(SettlementWrites::plan(
        settlement.clone(),
        Family::Image,
        at,
    ))
    .await
    .unwrap();
    s.settle_recheck(SettlementWrites::plan(settlement, Family::Image, at))
        .await
        .unwrap();
    let minutes = s.provider_evidence(Resolution::Minute, 0).await.unwrap();
    assert_eq!(
        sums(&minutes, "prov-a"),
        (0.0, verdict_domain::scoring::RECHECK_WEIGHT, 1),
        "settled once"
    );
    assert_eq!(minutes[0].bucket, Resolution::Minute.bucket(at));
    assert_eq!(minutes[0].captcha_type, CaptchaType::Image);
}

async fn a_whitelist_effect_whitelists_the_worker_once(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let b = s.create_account(new_account("bob")).await.unwrap();
    let mut tasks = Vec::new();
    for (id, account) in [("wl1", a.id), ("wl2", a.id), ("wl3", b.id)] {
        tasks.push(task(id, account, CaptchaType::RecaptchaV2, 1_000));
    }
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for (i, t) in tasks.iter().enumerate() {
        s.record_report(ReportWrites::plan(
            Decision {
                report: confirmed(t, T0.saturating_add(Duration::from_secs(i as u64))),
                effects: vec![Effect::Whitelist {
                    provider: "prov-a".into(),
                    worker: "w1".into(),
                }],
            },
            Family::Recaptcha,
        ))
        .await
        .unwrap();
    }
    let listed = s.whitelist(a.id).await.unwrap();
    assert_eq!(
        listed,
        vec![Whitelisted {
            account: a.id,
            provider: "prov-a".into(),
            worker: "w1".into(),
            since: T0,
        }],
        "the first confirmation counts"
    );
    assert_eq!(s.whitelisted_by("prov-a", "w1").await.unwrap(), 2);
    assert_eq!(s.whitelisted_by("prov-b", "w1").await.unwrap(), 0);
    assert!(
        s.whitelist(AccountId(9_999)).await.unwrap().is_empty(),
        "an unknown account has none"
    );
}

async fn a_screen_flag_on_a_trusted_account_is_noted_and_the_latest_kept(s: TestStore) {
    let a = trusted_account(&s, "alice").await;
    assert_eq!(a.screen_flag, None);
    let tasks: Vec<Task> = (0..2)
        .map(|i| task(&format!("sf{i}"), a.id, CaptchaType::RecaptchaV2, 1_000))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    for (i, (t, lane)) in tasks.iter().zip(["fast", "slow"]).enumerate() {
        let at = T0.saturating_add(Duration::from_secs(i as u64 * 60));
        s.record_report(ReportWrites::plan(
            Decision {
                report: accepted(t, at),
                effects: vec![Effect::NoteScreenFlag {
                    lane,
                    reason: format!("{lane}: 2 of 2 reported"),
                }],
            },
            Family::Recaptcha,
        ))
        .await
        .unwrap();
    }
    let account = s.account(a.id).await.unwrap().unwrap();
    let flag = account.screen_flag.expect("noted");
    assert_eq!(flag.lane, "slow");
    assert_eq!(flag.reason, "slow: 2 of 2 reported");
    assert_eq!(flag.at, T0.saturating_add(Duration::from_secs(60)));
    assert_eq!(
        account.standing,
        Standing::Good,
        "a note changes no standing"
    );
    assert_eq!(
        account.balance,
        Amount::from_micros(2_000),
        "nor any refund"
    );
}

async fn ingested_tasks_expose_their_solvers_and_a_report_takes_its_tasks_weight_back(
    s: TestStore,
) {
    let a = trusted_account(&s, "alice").await;
    let b = s.create_account(new_account("bob")).await.unwrap();
    let mut tasks: Vec<Task> = (0..4)
        .map(|i| task(&format!("sx{i}"), a.id, CaptchaType::RecaptchaV2, 1_000))
        .collect();
    // An hour later, another minute and hour; bob's silence says nothing.
    tasks[3].completed_at = T0.saturating_add(Duration::from_secs(3_600));
    tasks.push(task("sx-b", b.id, CaptchaType::RecaptchaV2, 1_000));
    let silence = vec![1.0, 1.0, 0.5, 1.0, 0.0];
    let writes = IngestWrites {
        tasks: tasks.clone(),
        silence: silence.clone(),
    };
    s.ingest(writes.clone(), T0).await.unwrap();
    // The same tasks again are duplicates: no exposure twice.
    s.ingest(writes, T0).await.unwrap();
    let exposure = |buckets: &[EvidenceBucket]| -> Vec<(i64, f64, f64)> {
        buckets
            .iter()
            .map(|b| (b.bucket, b.exposure, b.taken))
            .collect()
    };
    let minute = Resolution::Minute.bucket(T0);
    let hour = Resolution::Hour.bucket(T0);
    assert_eq!(
        exposure(&s.provider_evidence(Resolution::Minute, 0).await.unwrap()),
        [(minute, 2.5, 0.0), (minute + 60, 1.0, 0.0)]
    );
    assert_eq!(
        exposure(&s.provider_evidence(Resolution::Hour, 0).await.unwrap()),
        [(hour, 2.5, 0.0), (hour + 1, 1.0, 0.0)]
    );
    let worker = s.worker_evidence("w1", 0).await.unwrap();
    assert_eq!(
        worker.iter().map(|b| b.exposure).sum::<f64>(),
        3.5,
        "{worker:?}"
    );
    // A complaint on the half-weight task, 8 s after it was solved, takes its 0.5 back.
    let at = T0.saturating_add(Duration::from_secs(8));
    s.record_report(
        ReportWrites::plan(plain(accepted(&tasks[2], at)), Family::Recaptcha).after(T0),
    )
    .await
    .unwrap();
    let minutes = s.provider_evidence(Resolution::Minute, 0).await.unwrap();
    assert_eq!(exposure(&minutes)[0], (minute, 2.5, 0.5));
    assert_eq!(
        sums(&minutes, "prov-a"),
        (0.0, 1.0, 1),
        "a corrected complaint weighs one task at most"
    );
    let worker = s.worker_evidence("w1", 0).await.unwrap();
    assert_eq!(worker.iter().map(|b| b.taken).sum::<f64>(), 0.5);
    let bucket = verdict_domain::scoring::lag_bucket(Duration::from_secs(8));
    assert_eq!(
        s.report_lags().await.unwrap(),
        [(Family::Recaptcha, bucket, 1)]
    );
    // What silence weights are computed from: counts per account and family, trust, standing.
    let mut samples = s
        .reporter_samples(hour_of(T0) - 71, T0.saturating_add(Duration::from_secs(60)))
        .await
        .unwrap();
    samples.sort_by_key(|x| x.account);
    assert_eq!(
        samples,
        [
            ReporterSample {
                account: a.id,
                family: Family::Recaptcha,
                tasks: 4,
                incorrect: 1,
                trusted: true,
                ignored: false
            },
            ReporterSample {
                account: b.id,
                family: Family::Recaptcha,
                tasks: 1,
                incorrect: 0,
                trusted: false,
                ignored: false
            },
        ]
    );
}

async fn report_flow_counts_per_bucket_dialect_type_and_verdict(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let hour = 3_600_000;
    let types = [
        CaptchaType::Image,
        CaptchaType::Image,
        CaptchaType::Image,
        CaptchaType::Hcaptcha,
        CaptchaType::RecaptchaV2,
    ];
    let tasks: Vec<Task> = types
        .iter()
        .enumerate()
        .map(|(n, t)| task(&format!("flow{n}"), a.id, *t, 1_000))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    let at = |secs: i64| Timestamp::from_millis(T0.as_millis() + secs * 1_000);
    let reports = [
        accepted(&tasks[0], at(10)),
        accepted(&tasks[1], at(20)),
        Report {
            dialect: "twocaptcha".into(),
            ..confirmed(&tasks[2], at(30))
        },
        accepted(&tasks[3], at(3_700)),
        // Before the window: not counted.
        accepted(&tasks[4], at(-1)),
    ];
    for (report, t) in reports.into_iter().zip(&tasks) {
        s.record_report(ReportWrites::plan(plain(report), family_of(t)))
            .await
            .unwrap();
    }
    let mut flow = s.report_flow(T0, hour).await.unwrap();
    flow.sort_by(|x, y| {
        (x.bucket, &x.dialect, x.verdict.as_str()).cmp(&(y.bucket, &y.dialect, y.verdict.as_str()))
    });
    let row = |bucket: Timestamp, dialect: &str, t, verdict, count| verdict_store::FlowCount {
        bucket,
        dialect: dialect.into(),
        captcha_type: t,
        verdict,
        count,
    };
    assert_eq!(
        flow,
        [
            row(T0, "test", CaptchaType::Image, Verdict::Accepted, 2),
            row(
                T0,
                "twocaptcha",
                CaptchaType::Image,
                Verdict::Acknowledged,
                1
            ),
            row(
                at(3_600),
                "test",
                CaptchaType::Hcaptcha,
                Verdict::Accepted,
                1
            ),
        ]
    );
    assert!(
        s.report_flow(at(7_200), hour).await.unwrap().is_empty(),
        "nothing since"
    );
}

async fn money_flow_counts_and_sums_entries_per_bucket_and_kind(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let token = task("mtok", a.id, CaptchaType::Turnstile, 1_500);
    let image = task("mimg", a.id, CaptchaType::Image, 1_000);
    let last = task("mlast", a.id, CaptchaType::Turnstile, 1_500);
    let early = task("mearly", a.id, CaptchaType::Image, 700);
    s.ingest_tasks(
        vec![token.clone(), image.clone(), last.clone(), early.clone()],
        T0,
    )
    .await
    .unwrap();
    let later = T0.saturating_add(Duration::from_secs(3_600));
    s.record_report(ReportWrites::plan(
        plain(accepted(&early, T0.saturating_sub(Duration::from_secs(1)))),
        Family::Image,
    ))
    .await
    .unwrap();
    s.record_report(ReportWrites::plan(
        plain(accepted(&token, T0)),
        Family::Turnstile,
    ))
    .await
    .unwrap();
    s.record_report(ReportWrites::plan(
        plain(accepted(&image, T0)),
        Family::Image,
    ))
    .await
    .unwrap();
    s.record_report(ReportWrites::plan(
        Decision {
            report: rejected(&last, later),
            effects: vec![Effect::Clawback {
                since: T0,
                reason: FLAGGED.into(),
                lane: "fast",
            }],
        },
        Family::Turnstile,
    ))
    .await
    .unwrap();
    let mut flow = s.money_flow(T0, 3_600_000).await.unwrap();
    flow.sort_by_key(|m| (m.bucket, m.kind.as_str()));
    let row = |bucket, kind, count, micros| verdict_store::MoneyCount {
        bucket,
        kind,
        count,
        amount: Amount::from_micros(micros),
    };
    assert_eq!(
        flow,
        [
            row(T0, EntryKind::Refund, 2, 2_500),
            row(later, EntryKind::Reversal, 1, -1_500),
        ],
        "the refund before the window is left out; the reversal counts when it was written"
    );
}

async fn accounts_list_in_id_order_and_those_needing_attention(s: TestStore) {
    let names = ["alice", "bob", "carol", "dave", "erin"];
    let mut accounts = Vec::new();
    for name in names {
        accounts.push(trusted_account(&s, name).await);
    }
    let ids = |listed: &[verdict_domain::Account]| -> Vec<AccountId> {
        listed.iter().map(|a| a.id).collect()
    };
    let all = s
        .accounts(&verdict_store::AccountQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&all), accounts.iter().map(|a| a.id).collect::<Vec<_>>());
    let page = s
        .accounts(&verdict_store::AccountQuery {
            after: Some(accounts[1].id),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page), [accounts[2].id, accounts[3].id]);

    // bob ignored for a day, carol flagged by the screen, dave disabled, erin ignored until T0.
    let day = T0.saturating_add(Duration::from_secs(86_400));
    let ignore = |until| Standing::Ignored {
        until,
        reason: "review".into(),
    };
    s.set_standing(accounts[1].id, ignore(day), T0)
        .await
        .unwrap();
    s.set_standing(accounts[4].id, ignore(T0), T0)
        .await
        .unwrap();
    let t = task("att", accounts[2].id, CaptchaType::RecaptchaV2, 1_000);
    s.ingest_tasks(vec![t.clone()], T0).await.unwrap();
    s.record_report(ReportWrites::plan(
        Decision {
            report: accepted(&t, T0),
            effects: vec![Effect::NoteScreenFlag {
                lane: "slow",
                reason: "slow: 9 of 10 reported".into(),
            }],
        },
        Family::Recaptcha,
    ))
    .await
    .unwrap();
    s.set_disabled(
        accounts[3].id,
        Some(Disabled {
            at: T0,
            reason: "chargeback".into(),
        }),
    )
    .await
    .unwrap();
    let now = T0.saturating_add(Duration::from_secs(60));
    let attention = s
        .accounts(&verdict_store::AccountQuery {
            attention_at: Some(now),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&attention),
        [accounts[1].id, accounts[2].id, accounts[3].id],
        "an ignored period that has ended needs no attention"
    );
    assert!(attention.iter().all(|a| a.needs_attention(now)));
    for left_out in [accounts[0].id, accounts[4].id] {
        let account = s.account(left_out).await.unwrap().unwrap();
        assert!(
            !account.needs_attention(now),
            "the store and the domain agree on {left_out:?}"
        );
    }
}

async fn the_recheck_queue_counts_open_overdue_and_held(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    assert_eq!(
        s.recheck_queue(T0).await.unwrap(),
        verdict_store::RecheckQueue::default(),
        "empty"
    );
    let tasks: Vec<Task> = (0..3)
        .map(|n| task(&format!("rq{n}"), a.id, CaptchaType::Image, 1_000))
        .collect();
    s.ingest_tasks(tasks.clone(), T0).await.unwrap();
    let mut deadline = T0;
    for t in &tasks {
        deadline = record_pending(&s, t).await.1;
    }
    s.claim_recheck(T0, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("one to hold");
    assert_eq!(
        s.recheck_queue(T0).await.unwrap(),
        verdict_store::RecheckQueue {
            open: 3,
            overdue: 0,
            held: 1,
            oldest: Some(T0),
        }
    );
    let queue = s.recheck_queue(deadline).await.unwrap();
    assert_eq!(
        (queue.open, queue.overdue, queue.held),
        (3, 3, 0),
        "past the deadline and the lease"
    );
}

/// Runs a whole retention pass of `limit`-task batches; the batches' tallies, in order.
async fn prune_pass(s: &TestStore, before: Timestamp, limit: u32) -> Vec<PrunedTasks> {
    let mut batches = Vec::new();
    let mut after = None;
    loop {
        let batch = s.prune_tasks(before, after.take(), limit).await.unwrap();
        after = batch.next.clone();
        batches.push(batch);
        if after.is_none() {
            return batches;
        }
    }
}

fn totals(batches: &[PrunedTasks]) -> [u64; 6] {
    batches.iter().fold([0; 6], |t, b| {
        [
            t[0] + b.examined,
            t[1] + b.tasks,
            t[2] + b.reports,
            t[3] + b.rechecks,
            t[4] + b.kept_money,
            t[5] + b.kept_open_recheck,
        ]
    })
}

async fn retention_deletes_old_tasks_nothing_holds_and_keeps_every_money_record(s: TestStore) {
    let a = s.create_account(new_account("alice")).await.unwrap();
    let old = |id: &str| task(id, a.id, CaptchaType::Image, 1_000);
    let young = Task {
        completed_at: T0.saturating_add(Duration::from_secs(86_400)),
        ..old("young")
    };
    let bare: Vec<Task> = (0..7).map(|i| old(&format!("bare{i}"))).collect();
    let (refunded, rejected_one, confirmed_one) =
        (old("refunded"), old("rejected"), old("confirmed"));
    // Upheld on a task that cost nothing: a refund of zero on the report, no ledger entry.
    let free = Task {
        cost: Amount::ZERO,
        ..old("free")
    };
    let (pending, settled_rejected, settled_accepted) =
        (old("pending"), old("settled-no"), old("settled-yes"));
    let mut all = bare.clone();
    all.extend([
        refunded.clone(),
        free.clone(),
        rejected_one.clone(),
        confirmed_one.clone(),
        pending.clone(),
        settled_rejected.clone(),
        settled_accepted.clone(),
        young.clone(),
    ]);
    s.ingest_tasks(all, T0).await.unwrap();
    for report in [
        accepted(&refunded, T0),
        accepted(&free, T0),
        rejected(&rejected_one, T0),
        confirmed(&confirmed_one, T0),
    ] {
        s.record_report(ReportWrites::plan(plain(report), Family::Image))
            .await
            .unwrap();
    }
    for t in [&pending, &settled_rejected, &settled_accepted] {
        record_pending(&s, t).await;
    }
    let at = T0.saturating_add(Duration::from_secs(10));
    for (t, verdict, refund) in [
        (&settled_rejected, Verdict::Rejected, None),
        (
            &settled_accepted,
            Verdict::Accepted,
            Some(Amount::from_micros(1_000)),
        ),
    ] {
        let mut report = s.recheck_subject(&t.id, at).await.unwrap().unwrap().report;
        report.verdict = verdict;
        report.reason = Reason::RecheckConfirmed;
        report.refund = refund;
        let settlement = Settlement {
            report,
            precision: Precision::default(),
            effects: vec![],
        };
        s.settle_recheck(SettlementWrites::plan(settlement, Family::Image, at))
            .await
            .unwrap();
    }
    let ledger = s.ledger(a.id).await.unwrap();
    assert_eq!(
        ledger.len(),
        2,
        "the refunded report and the settled-accepted one"
    );
    let balance = s.account(a.id).await.unwrap().unwrap().balance;
    let activity = s.account_activity(a.id, T0).await.unwrap();

    // Everything completed at T0 is old at this cut-off; `young` is not.
    let cutoff = T0.saturating_add(Duration::from_secs(3_600));
    let batches = prune_pass(&s, cutoff, 3).await;
    // 14 old tasks, three at a time: five batches, the last one short.
    assert_eq!(batches.len(), 5, "{batches:?}");
    assert_eq!(
        totals(&batches),
        [14, 10, 3, 1, 3, 1],
        "examined, deleted tasks, reports, re-checks; kept for money, for an open re-check"
    );
    let gone: Vec<&Task> = bare
        .iter()
        .chain([&rejected_one, &confirmed_one, &settled_rejected])
        .collect();
    for t in gone {
        assert!(s.task(&t.id).await.unwrap().is_none(), "{} pruned", t.id);
    }
    for t in [&refunded, &free, &settled_accepted, &pending] {
        let (_, report) = s.task(&t.id).await.unwrap().expect("kept");
        assert!(report.is_some(), "{} keeps its report", t.id);
    }
    assert!(s.task(&young.id).await.unwrap().is_some());
    assert_eq!(
        s.ledger(a.id).await.unwrap(),
        ledger,
        "the ledger is never pruned"
    );
    assert_eq!(s.account(a.id).await.unwrap().unwrap().balance, balance);
    assert_eq!(
        s.account_activity(a.id, T0).await.unwrap(),
        activity,
        "counts stay as they were"
    );

    // Another pass finds nothing more; once its re-check is settled, `pending` goes too.
    assert_eq!(totals(&prune_pass(&s, cutoff, 3).await), [4, 0, 0, 0, 3, 1]);
    let mut report = s
        .recheck_subject(&pending.id, at)
        .await
        .unwrap()
        .unwrap()
        .report;
    report.verdict = Verdict::Rejected;
    report.reason = Reason::RecheckRefuted;
    s.settle_recheck(SettlementWrites::plan(
        Settlement {
            report,
            precision: Precision::default(),
            effects: vec![],
        },
        Family::Image,
        at,
    ))
    .await
    .unwrap();
    assert_eq!(
        totals(&prune_pass(&s, cutoff, 1000).await),
        [4, 1, 1, 1, 3, 0]
    );
    assert!(s.task(&pending.id).await.unwrap().is_none());
}

macro_rules! conformance {
    ($backend:ident, $fresh:path, [$($case:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case($fresh().await).await
                }
            )*
        }
    };
}

macro_rules! all_backends {
    ($($case:ident),* $(,)?) => {
        conformance!(sqlite, crate::support::fresh_sqlite, [$($case),*]);
        conformance!(postgres, crate::support::fresh_postgres, [$($case),*]);
    };
}

all_backends!(
    reports_add_trust_weighted_evidence_about_their_solver,
    a_settled_recheck_adds_its_evidence_once_when_settled,
    a_whitelist_effect_whitelists_the_worker_once,
    a_screen_flag_on_a_trusted_account_is_noted_and_the_latest_kept,
    ingested_tasks_expose_their_solvers_and_a_report_takes_its_tasks_weight_back,
    account_created_with_key_is_found_by_id_and_key,
    an_account_has_several_keys_each_with_its_own_id,
    a_rotation_adds_a_key_and_sets_when_the_old_ones_expire,
    a_revoked_key_keeps_its_first_revocation,
    a_key_stored_unkeyed_is_found_and_rehashed_keyed,
    a_disabled_account_says_when_and_why_until_enabled,
    a_key_in_use_cannot_be_given_to_a_second_account,
    reports_list_newest_first_filtered_and_in_pages,
    the_corrections_dataset_is_every_report_with_a_correction_oldest_first_in_pages,
    an_idempotency_key_creates_one_account_and_finds_it_again,
    ingest_inserts_new_tasks_and_never_overwrites,
    ingest_names_tasks_of_unknown_accounts,
    the_largest_integer_ids_round_trip,
    report_context_carries_account_task_and_existing_report,
    a_recorded_report_refunds_its_cost_once,
    reports_without_refund_write_no_ledger_entry,
    concurrent_reports_on_one_task_give_one_report_and_one_refund,
    the_balance_is_the_sum_of_the_ledger,
    activity_counts_tasks_and_reports_per_family_since_a_moment,
    metadata_is_set_only_once,
    ping_answers_when_the_database_is_up,
    activity_is_counted_per_family_and_hour,
    an_ignore_effect_sets_standing_never_shortens_and_counts_repeats,
    a_recheck_is_handed_out_once_per_lease_and_settled_once,
    an_inconclusive_solve_keeps_the_report_pending_and_requeues_it,
    clawback_reverses_refunds_on_unverifiable_reports_only,
    the_cohort_is_trusted_accounts_in_good_standing,
    baselines_fold_each_hour_once,
    the_drift_sum_is_folded_with_the_baseline_and_restarts_after_an_ignored_period,
    operators_set_trust_and_standing,
    an_id_repeated_within_a_batch_is_inserted_once_at_its_first_valid_place,
    a_large_batch_reports_every_record_in_order,
    concurrent_ingests_of_the_same_ids_insert_each_once,
    a_report_on_a_task_that_does_not_exist_is_refused_as_a_conflict,
    concurrent_reports_on_many_tasks_keep_the_balance_equal_to_the_ledger,
    concurrent_first_starts_agree_on_one_metadata_value,
    free_text_and_evidence_read_back_exactly_as_written,
    a_concurrent_mix_of_accounts_repeats_and_missing_tasks_keeps_every_rule,
    ingest_counts_each_stored_task_once_in_the_activity,
    family_state_is_read_only_for_the_keys_own_task,
    concurrent_claims_hand_each_recheck_to_one_claimant,
    concurrent_settlements_settle_once_and_refund_once,
    a_settlement_applies_its_effects_with_it,
    hours_up_to_the_end_of_an_ignored_period_stay_out_of_baselines_and_the_cohort,
    concurrent_folds_of_one_hour_fold_it_once,
    concurrent_reports_with_clawbacks_keep_every_reversal_matched_to_a_refund,
    report_flow_counts_per_bucket_dialect_type_and_verdict,
    money_flow_counts_and_sums_entries_per_bucket_and_kind,
    accounts_list_in_id_order_and_those_needing_attention,
    the_recheck_queue_counts_open_overdue_and_held,
    retention_deletes_old_tasks_nothing_holds_and_keeps_every_money_record,
);

/// The (table, column) pairs a migrated database has, without the backend's own tables.
type Columns = std::collections::BTreeSet<(String, String)>;

#[tokio::test]
async fn both_migration_trees_give_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(
        verdict_store::SqliteStore::open(&path, verdict_store::sqlite::SqliteOptions::default())
            .unwrap(),
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sqlite: Columns = conn
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();

    let (schema, guard) = support::fresh_schema().await;
    let store = verdict_store::PostgresStore::connect(
        &support::pg_url(),
        verdict_store::postgres::PostgresOptions {
            schema: Some(schema.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    drop(store);
    let (client, connection) = tokio_postgres::connect(&support::pg_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let postgres: Columns = client
        .query(
            "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns
             WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    drop(guard);

    assert!(sqlite.contains(&("reports".into(), "refund_micros".into())));
    assert!(sqlite.contains(&("schema_migrations".into(), "version".into())));
    assert_eq!(sqlite, postgres);
}
