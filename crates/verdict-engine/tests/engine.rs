//! Use cases end to end on a real SQLite store and a hand-set clock.

use std::sync::Arc;
use std::time::Duration;

use verdict_domain::keys::{KeyScheme, KeySecret};
use verdict_domain::{
    Amount, ApiKey, Eligibility, Refusal, ReportKind, ReportRequest, TaskId, TaskInput, Timestamp,
    Verdict,
};
use verdict_engine::{Engine, EngineError, ManualClock, ReportOutcome};
use verdict_store::sqlite::SqliteOptions;
use verdict_store::{NewAccount, NewKey, SqliteStore, Store};

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const KEY: &str = "alice-key-0123456789abcdef";

struct World {
    engine: Engine,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    world_with(Default::default()).await
}

async fn world_with(policy: verdict_domain::Policy) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("v.db"),
        SqliteOptions {
            writer_cache_mib: 8,
            ..Default::default()
        },
    )
    .unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let engine = Engine::new(Arc::new(store), policy, clock.clone());
    let (alice, _) = engine
        .create_account("alice".into(), false, Some(ApiKey::parse(KEY).unwrap()))
        .await
        .unwrap();
    let record = |id: &str, t: &str| {
        Ok(TaskInput {
            id: Some(id.into()),
            account: Some(alice.id.to_string()),
            captcha_type: Some(t.into()),
            provider: Some("p".into()),
            worker: None,
            answer: Some("KWG90".into()),
            cost: Some("0.0020".into()),
            completed_at: Some(T0.to_rfc3339()),
        })
    };
    let summary = engine
        .ingest(vec![
            record("1", "image"),
            record("2", "recaptcha_v2"),
            Err("line 3: not JSON".into()),
        ])
        .await
        .unwrap();
    assert_eq!((summary.inserted, summary.rejected.len()), (2, 1));
    World {
        engine,
        clock,
        _dir: dir,
    }
}

fn request(id: &str, kind: ReportKind) -> ReportRequest {
    ReportRequest::new(TaskId::parse(id).unwrap(), kind, "test", Eligibility::ALL)
}

#[tokio::test]
async fn an_accepted_report_credits_the_cost_and_a_retry_repeats_it() {
    let w = world().await;
    let first = w
        .engine
        .submit_report(KEY, request("1", ReportKind::Incorrect))
        .await
        .unwrap();
    let ReportOutcome::Recorded(report) = first else {
        panic!("{first:?}")
    };
    assert_eq!(report.verdict, Verdict::Accepted);
    let again = w
        .engine
        .submit_report(KEY, request("1", ReportKind::Incorrect))
        .await
        .unwrap();
    assert_eq!(again, ReportOutcome::Repeated(report.clone()));
    let view = w.engine.account(report.account).await.unwrap();
    assert_eq!(view.account.balance, Amount::from_micros(2_000));
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_refused_before_anything_else() {
    let w = world().await;
    for key in ["", "short", "someone-elses-key-0000000000"] {
        let out = w
            .engine
            .submit_report(key, request("1", ReportKind::Incorrect))
            .await
            .unwrap();
        assert_eq!(out, ReportOutcome::Refused(Refusal::UnknownKey));
    }
}

#[tokio::test]
async fn the_window_follows_the_clock() {
    let w = world().await;
    w.clock.advance(Duration::from_secs(61));
    let out = w
        .engine
        .submit_report(KEY, request("2", ReportKind::Incorrect))
        .await
        .unwrap();
    assert!(
        matches!(out, ReportOutcome::Refused(Refusal::WindowClosed { .. })),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reports_are_judged_against_whichever_was_stored_first() {
    let w = world().await;
    let engine = Arc::new(w.engine.clone());
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let engine = engine.clone();
            let kind = if i % 2 == 0 {
                ReportKind::Incorrect
            } else {
                ReportKind::Correct
            };
            tokio::spawn(async move {
                (
                    kind,
                    engine.submit_report(KEY, request("1", kind)).await.unwrap(),
                )
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await.unwrap());
    }
    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            ReportOutcome::Recorded(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1);
    let winner = &winners[0];
    for (kind, outcome) in &outcomes {
        match outcome {
            ReportOutcome::Recorded(_) => {}
            ReportOutcome::Repeated(r) => assert_eq!((r, *kind), (winner, winner.kind)),
            ReportOutcome::Refused(Refusal::Conflict { existing }) => {
                assert_eq!(existing.as_ref(), winner);
                assert_ne!(*kind, winner.kind);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let ledger = w.engine.ledger(winner.account).await.unwrap();
    assert_eq!(
        ledger.len(),
        usize::from(winner.kind == ReportKind::Incorrect)
    );
}

#[tokio::test]
async fn a_generated_admin_token_is_stored_once_and_a_configured_one_wins() {
    let w = world().await;
    let (hash, shown) = w.engine.admin_token(None).await.unwrap();
    let shown = shown.expect("first start shows the token");
    assert!(verdict_domain::KeyHash::unkeyed(&shown).matches(&hash));
    let (again, shown_again) = w.engine.admin_token(None).await.unwrap();
    assert!(again.matches(&hash) && shown_again.is_none());
    let (configured, _) = w
        .engine
        .admin_token(Some("From-The-Environment-42"))
        .await
        .unwrap();
    assert!(configured.matches(&verdict_domain::KeyHash::unkeyed("From-The-Environment-42")));
    for weak in ["a", "change-me", "adminadminadminadminadmin"] {
        assert!(
            matches!(
                w.engine.admin_token(Some(weak)).await,
                Err(EngineError::Invalid(_))
            ),
            "{weak}"
        );
    }
}

/// A report on alice's image task presented with `key`.
async fn report_with(w: &World, key: &str) -> ReportOutcome {
    let request = ReportRequest::new(
        TaskId::parse("1").unwrap(),
        ReportKind::Correct,
        "test",
        Eligibility::ALL,
    );
    w.engine.submit_report(key, request).await.unwrap()
}

fn unknown_key(outcome: &ReportOutcome) -> bool {
    matches!(outcome, ReportOutcome::Refused(Refusal::UnknownKey))
}

#[tokio::test]
async fn a_revoked_key_and_a_disabled_account_are_answered_as_unknown_keys() {
    let w = world().await;
    let alice = w.engine.authenticate(KEY).await.unwrap().unwrap();
    // Keys list oldest first.
    w.clock.advance(Duration::from_secs(1));
    let second = w
        .engine
        .add_key(alice.id, Some("backup".into()), None)
        .await
        .unwrap();
    assert_eq!(w.engine.keys(alice.id).await.unwrap().len(), 2);
    let first = w.engine.keys(alice.id).await.unwrap()[0].id.clone();
    w.engine.revoke_key(alice.id, &first).await.unwrap();
    assert!(unknown_key(&report_with(&w, KEY).await));
    assert!(w.engine.authenticate(KEY).await.unwrap().is_none());
    let second_key = second.key.expose().to_owned();
    assert_eq!(
        w.engine
            .authenticate(&second_key)
            .await
            .unwrap()
            .map(|a| a.id),
        Some(alice.id)
    );

    w.engine
        .disable_account(alice.id, "chargeback".into())
        .await
        .unwrap();
    assert!(unknown_key(&report_with(&w, &second_key).await));
    assert!(w.engine.authenticate(&second_key).await.unwrap().is_none());
    w.engine.enable_account(alice.id).await.unwrap();
    assert!(!unknown_key(&report_with(&w, &second_key).await));
    assert!(matches!(
        w.engine
            .revoke_key(alice.id, &verdict_domain::keys::KeyId::from_random([7; 6]))
            .await,
        Err(EngineError::NotFound)
    ));
}

#[tokio::test]
async fn a_rotated_key_works_through_its_grace_and_not_after() {
    let w = world().await;
    let alice = w.engine.authenticate(KEY).await.unwrap().unwrap();
    let grace = Duration::from_secs(3600);
    w.clock.advance(Duration::from_secs(1));
    let rotated_at = w.engine.now();
    let (new, keys) = w.engine.rotate_keys(alice.id, None, grace).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].expires_at, Some(rotated_at.saturating_add(grace)));
    assert_eq!(keys[1].id, new.record.id);
    w.clock.advance(grace - Duration::from_millis(1));
    assert!(w.engine.authenticate(KEY).await.unwrap().is_some());
    w.clock.advance(Duration::from_millis(1));
    assert!(w.engine.authenticate(KEY).await.unwrap().is_none());
    assert!(unknown_key(&report_with(&w, KEY).await));
    assert!(
        w.engine
            .authenticate(new.key.expose())
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        w.engine
            .rotate_keys(alice.id, None, Duration::from_secs(31 * 86_400))
            .await,
        Err(EngineError::Invalid(_))
    ));
}

#[tokio::test]
async fn an_imported_key_may_not_be_the_admin_token_or_a_weak_one() {
    let w = world().await;
    let admin = "Operator-Token-0123456789";
    w.engine.admin_token(Some(admin)).await.unwrap();
    for refused in [admin, "password"] {
        let import = Some(ApiKey::parse(refused).unwrap());
        assert!(
            matches!(
                w.engine.create_account("m".into(), false, import).await,
                Err(EngineError::Invalid(_))
            ),
            "{refused}"
        );
    }
    let alice = w.engine.authenticate(KEY).await.unwrap().unwrap();
    let import = Some(ApiKey::parse(admin).unwrap());
    assert!(matches!(
        w.engine.add_key(alice.id, None, import).await,
        Err(EngineError::Invalid(_))
    ));
}

#[tokio::test]
async fn keys_open_their_accounts_after_a_restart_only_under_the_same_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let secret = KeySecret::parse("restart-secret-0123456789abcdef-0123456789").unwrap();
    let other = KeySecret::parse("another-secret-0123456789abcdef-0123456789").unwrap();
    let open = |secret: &KeySecret| {
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        Engine::new(
            Arc::new(store),
            Default::default(),
            Arc::new(ManualClock::at(T0)),
        )
        .with_key_secret(secret)
    };
    let (alice, key) = open(&secret)
        .create_account("alice".into(), false, None)
        .await
        .unwrap();
    let again = open(&secret).authenticate(key.expose()).await.unwrap();
    assert_eq!(again.map(|a| a.id), Some(alice.id));
    assert!(
        open(&other)
            .authenticate(key.expose())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_key_stored_before_key_secrets_still_opens_its_account_and_is_rehashed() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open(dir.path().join("v.db"), SqliteOptions::default()).unwrap());
    let legacy = "legacy-key-0123456789abcdef";
    let account = store
        .create_account(NewAccount {
            name: "old".into(),
            trusted: false,
            key: NewKey {
                id: verdict_domain::keys::KeyId::from_random([1; 6]),
                hash: verdict_domain::KeyHash::unkeyed(legacy),
                scheme: KeyScheme::Unkeyed,
                label: None,
                created_at: T0,
            },
            created_at: T0,
            idempotency: None,
        })
        .await
        .unwrap();
    let engine = Engine::new(
        store.clone(),
        Default::default(),
        Arc::new(ManualClock::at(T0)),
    );
    let found = engine.authenticate(legacy).await.unwrap();
    assert_eq!(found.map(|a| a.id), Some(account.id));
    let lookup = verdict_domain::keys::KeyHasher::new(
        &KeySecret::parse("irrelevant-secret-0123456789abcdef-01234").unwrap(),
    )
    .lookup(&ApiKey::parse(legacy).unwrap());
    let stored = store
        .account_by_key(&verdict_domain::keys::KeyLookup {
            keyed: lookup.keyed,
            unkeyed: verdict_domain::KeyHash::unkeyed(legacy),
        })
        .await
        .unwrap();
    assert!(stored.is_none(), "the plain hash is gone once rehashed");
    assert!(engine.authenticate(legacy).await.unwrap().is_some());
}

#[tokio::test]
async fn the_hourly_refresh_fits_the_prior_on_trusted_accounts_only() {
    let w = world().await;
    let now = w.engine.now();
    // 35 trusted accounts with 120 hCaptcha tasks each in the last day, reporting 10 to 18 of
    // them (mean 14/120);
    // one untrusted account reporting everything.
    let mut records = Vec::new();
    let mut reports = Vec::new();
    for a in 0..36 {
        let trusted = a < 35;
        let key = format!("cohort-key-{a:04}-0000000000");
        let (account, _) = w
            .engine
            .create_account(format!("c{a}"), trusted, Some(ApiKey::parse(&key).unwrap()))
            .await
            .unwrap();
        let reported = if trusted { 10 + (a % 5) * 2 } else { 120 };
        for i in 0..120 {
            let id = format!("c{a}-{i}");
            records.push(Ok(TaskInput {
                id: Some(id.clone()),
                account: Some(account.id.to_string()),
                captcha_type: Some("hcaptcha".into()),
                provider: Some("p".into()),
                worker: None,
                answer: None,
                cost: Some("0.001".into()),
                completed_at: Some(now.saturating_sub(Duration::from_secs(30)).to_rfc3339()),
            }));
            if i < reported {
                reports.push((key.clone(), id));
            }
        }
    }
    w.engine.ingest(records).await.unwrap();
    for (key, id) in reports {
        w.engine
            .submit_report(&key, request(&id, ReportKind::Incorrect))
            .await
            .unwrap();
    }
    let refresh = w.engine.refresh_statistics().await.unwrap();
    // Only hCaptcha has a trusted cohort; alice's image and reCAPTCHA tasks (one untrusted
    // account) fit no prior.
    let families: Vec<_> = refresh.refitted.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        families,
        [verdict_domain::Family::Hcaptcha],
        "the families refitted"
    );
    let record = refresh.refitted[0].1;
    assert_eq!(
        record.prior.accounts, 35,
        "the untrusted account is not in the cohort"
    );
    let mean = 14.0 / 120.0;
    assert!(
        (record.prior.mean() - mean).abs() < 0.005,
        "mean {}",
        record.prior.mean()
    );
    assert!((record.rate - mean).abs() < 0.005, "pooled {}", record.rate);
    assert!(refresh.hours_folded > 0);
    assert_eq!(
        w.engine.refresh_statistics().await.unwrap().hours_folded,
        0,
        "each hour is folded once"
    );
}

/// Day one of a small platform: 20 trusted accounts and 10 untrusted honest ones report about
/// 10 % of their reCAPTCHA tokens, and from the same first minutes an account reports 60 % of
/// its tokens at random. No timed refresh ever runs: the cohort is estimated as the data grows
/// (pooled, too few trusted accounts to measure their spread), the abuser is stopped and what
/// it got taken back, and no honest account is ignored.
#[tokio::test]
async fn on_day_one_a_small_platform_stops_an_abuser_without_a_timed_refresh() {
    let w = world().await;
    let mut honest = Vec::new();
    for i in 0..30 {
        let (account, key) = w
            .engine
            .create_account(format!("honest-{i}"), i < 20, None)
            .await
            .unwrap();
        honest.push((account.id, key.expose().to_owned()));
    }
    let (abuser, abuser_key) = w
        .engine
        .create_account("abuser".into(), false, None)
        .await
        .unwrap();
    let abuser_key = abuser_key.expose().to_owned();
    let record = |id: String, account: verdict_domain::AccountId, at: Timestamp| {
        Ok(TaskInput {
            id: Some(id),
            account: Some(account.to_string()),
            captcha_type: Some("recaptcha_v2".into()),
            provider: Some("p".into()),
            worker: None,
            answer: Some("token".into()),
            cost: Some("0.002".into()),
            completed_at: Some(at.to_rfc3339()),
        })
    };
    let (mut claimed, mut seq) = (0u64, 0u64);
    for minute in 0..180u64 {
        w.clock
            .set(T0.saturating_add(Duration::from_secs(3_600 + minute * 60)));
        let now = w.engine.now();
        let mut records = Vec::new();
        let mut reports = Vec::new();
        for (i, (account, key)) in honest.iter().enumerate() {
            seq += 1;
            let id = format!("h{seq}");
            records.push(record(id.clone(), *account, now));
            // Every tenth task, staggered across accounts.
            if (minute + i as u64).is_multiple_of(10) {
                reports.push((key.clone(), id));
            }
        }
        for k in 0..2 {
            let id = format!("a{minute}-{k}");
            records.push(record(id.clone(), abuser.id, now));
            // 60 % at random (a fixed scramble of the task number).
            if (minute * 2 + k) * 7919 % 100 < 60 {
                reports.push((abuser_key.clone(), id));
                claimed += 2_000;
            }
        }
        w.engine.ingest(records).await.unwrap();
        w.clock.set(now.saturating_add(Duration::from_secs(5)));
        for (key, id) in reports {
            w.engine
                .submit_report(&key, request(&id, ReportKind::Incorrect))
                .await
                .unwrap();
        }
    }
    let recaptcha = w
        .engine
        .cohorts()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.family == verdict_domain::Family::Recaptcha)
        .unwrap();
    assert_eq!(
        recaptcha.cohort.prior.basis,
        verdict_domain::screen::CohortBasis::PooledTrusted
    );
    assert_eq!(recaptcha.cohort.prior.accounts, 20);
    assert!((recaptcha.cohort.prior.mean() - 0.1).abs() < 0.01);
    let abuser = w.engine.account(abuser.id).await.unwrap().account;
    assert_eq!(abuser.standing.state_name(), "ignored", "{abuser:?}");
    let kept = abuser.balance.micros() as f64 / claimed as f64;
    assert!(
        kept <= 0.05,
        "the abuser kept {:.1} % of its claims",
        kept * 100.0
    );
    for (id, _) in &honest {
        let account = w.engine.account(*id).await.unwrap().account;
        assert_eq!(account.standing.state_name(), "good", "{account:?}");
        assert!(account.balance.micros() > 0);
    }
}

/// A type nobody has solved a task of has no provider to route to.
#[tokio::test]
async fn a_type_without_any_evidence_has_no_provider() {
    let w = world().await;
    // A minute on, the silence of alice's tasks is evidence.
    w.clock.set(T0.saturating_add(Duration::from_secs(120)));
    let request = |t: verdict_domain::CaptchaType| verdict_engine::RouteRequest {
        captcha_type: Some(t),
        ..Default::default()
    };
    assert!(matches!(
        w.engine
            .route(request(verdict_domain::CaptchaType::Geetest))
            .await,
        Err(verdict_engine::EngineError::NotFound)
    ));
    // Alice's reCAPTCHA task makes its provider known.
    let routed = w
        .engine
        .route(request(verdict_domain::CaptchaType::RecaptchaV2))
        .await
        .unwrap();
    assert_eq!(routed.provider, "p");
}

/// Ingests `n` image tasks of `provider` for alice, ids `<provider>-<i>`, completed at `at`.
async fn ingest_images(w: &World, provider: &str, n: usize, at: Timestamp) {
    let alice = w.engine.authenticate(KEY).await.unwrap().unwrap();
    let records = (0..n)
        .map(|i| {
            Ok(TaskInput {
                id: Some(format!("{provider}-{i}")),
                account: Some(alice.id.to_string()),
                captcha_type: Some("image".into()),
                provider: Some(provider.into()),
                worker: None,
                answer: Some("KWG90".into()),
                cost: Some("0.0010".into()),
                completed_at: Some(at.to_rfc3339()),
            })
        })
        .collect();
    let summary = w.engine.ingest(records).await.unwrap();
    assert_eq!(summary.inserted, n);
}

/// A provider whose solutions start drawing complaints is seen falling over the window, below
/// the one nobody complains about, and the router's shares follow.
#[tokio::test]
async fn provider_history_shows_a_provider_falling_and_the_router_shares_follow() {
    let w = world().await;
    ingest_images(&w, "steady", 40, T0).await;
    ingest_images(&w, "failing", 40, T0).await;
    w.clock
        .set(T0.saturating_add(Duration::from_secs(4 * 3600)));
    for i in 0..30 {
        let outcome = w
            .engine
            .submit_report(KEY, request(&format!("failing-{i}"), ReportKind::Incorrect))
            .await
            .unwrap();
        assert!(!matches!(outcome, ReportOutcome::Refused(_)), "{outcome:?}");
    }
    w.clock
        .set(T0.saturating_add(Duration::from_secs(6 * 3600)));
    let history = w
        .engine
        .provider_history(
            Some(verdict_domain::CaptchaType::Image),
            Duration::from_secs(6 * 3600),
            7,
        )
        .await
        .unwrap();
    let of = |name: &str| {
        history
            .iter()
            .find(|h| h.provider == name)
            .unwrap_or_else(|| panic!("{name} in {history:?}"))
    };
    let (steady, failing) = (of("steady"), of("failing"));
    assert_eq!(failing.points.len(), 7);
    let mean = |p: &(Timestamp, Option<verdict_domain::scoring::Score>)| {
        p.1.as_ref()
            .expect("scored at every moment")
            .reliability
            .mean
    };
    let (first, last) = (
        mean(&failing.points[0]),
        mean(failing.points.last().unwrap()),
    );
    assert!(last < first, "failing went from {first} to {last}");
    assert!(
        last < mean(steady.points.last().unwrap()),
        "failing ends below steady"
    );
    for (at, score) in &failing.points {
        let score = score.as_ref().expect("scored at every moment");
        assert!(
            score.interval.lower <= score.reliability.mean
                && score.reliability.mean <= score.interval.upper,
            "at {at:?} the interval holds the mean"
        );
    }

    let shares = w
        .engine
        .router_shares(verdict_domain::CaptchaType::Image, 1_000)
        .await
        .unwrap();
    assert_eq!(shares[0].0, "steady", "{shares:?}");
    assert!(shares[0].1 > shares[1].1);
    let total: f64 = shares.iter().map(|s| s.1).sum();
    assert!((total - 1.0).abs() < 1e-9, "{shares:?}");
    assert_eq!(
        w.engine
            .router_shares(verdict_domain::CaptchaType::Image, 1_000)
            .await
            .unwrap(),
        shares,
        "the same beliefs show the same shares"
    );
}

/// The overview counts what arrived in its period, the money it moved, and lists an account
/// an operator put on ignored standing with its numbers.
#[tokio::test]
async fn the_overview_counts_the_period_and_lists_accounts_needing_attention() {
    let w = world().await;
    w.clock.set(T0.saturating_add(Duration::from_secs(30)));
    let outcome = w
        .engine
        .submit_report(KEY, request("1", ReportKind::Incorrect))
        .await
        .unwrap();
    assert!(!matches!(outcome, ReportOutcome::Refused(_)));
    w.engine
        .submit_report(KEY, request("2", ReportKind::Correct))
        .await
        .unwrap();
    let overview = w
        .engine
        .overview(verdict_engine::Period::Hour)
        .await
        .unwrap();
    let reports: u64 = overview.flow.iter().map(|f| f.count).sum();
    assert_eq!(reports, 2);
    assert!(overview.since <= T0 && overview.now.millis_since(overview.since) <= 3_600_000);
    let refunded: i64 = overview.money.iter().map(|m| m.amount.micros()).sum();
    let balance = w
        .engine
        .authenticate(KEY)
        .await
        .unwrap()
        .unwrap()
        .balance
        .micros();
    assert_eq!(refunded, balance, "the period holds every entry so far");
    assert!(overview.attention.is_empty());

    let alice = w.engine.authenticate(KEY).await.unwrap().unwrap();
    w.engine
        .impose_ignore(
            alice.id,
            T0.saturating_add(Duration::from_secs(86_400)),
            "refund farming".into(),
        )
        .await
        .unwrap();
    let overview = w
        .engine
        .overview(verdict_engine::Period::Day)
        .await
        .unwrap();
    assert_eq!(overview.attention.len(), 1);
    let listed = &overview.attention[0];
    assert_eq!(listed.account.id, alice.id);
    let tasks: u64 = listed.activity.iter().map(|a| a.tasks).sum();
    assert_eq!(tasks, 2, "{:?}", listed.activity);
    assert_eq!(overview.rechecks.open, 0);
}

#[tokio::test]
async fn the_corrections_dataset_reads_page_after_page_up_to_when_the_export_began() {
    let mut policy = verdict_domain::Policy::default();
    policy.rechecks.enabled = true;
    let w = world_with(policy).await;
    // Seven more image tasks, each reported with a correction; one re-check agrees with its
    // correction, one gives the delivered answer back, the rest stay pending.
    let records = (10..17)
        .map(|n| {
            Ok(TaskInput {
                id: Some(n.to_string()),
                account: Some("1".into()),
                captcha_type: Some("image".into()),
                provider: Some("p".into()),
                worker: Some("w".into()),
                answer: Some("KWG90".into()),
                cost: Some("0.0020".into()),
                completed_at: Some(T0.to_rfc3339()),
            })
        })
        .collect();
    w.engine.ingest(records).await.unwrap();
    for n in 10..17 {
        w.clock.advance(Duration::from_millis(1));
        let corrected = request(&n.to_string(), ReportKind::Incorrect)
            .with_correction(Some(format!("RIGHT{n}")))
            .unwrap();
        let out = w.engine.submit_report(KEY, corrected).await.unwrap();
        let ReportOutcome::Recorded(report) = out else {
            panic!("{out:?}")
        };
        assert_eq!(
            report.verdict,
            Verdict::Pending,
            "a correction is re-checked"
        );
    }
    let id = |n: &str| TaskId::parse(n).unwrap();
    w.engine.submit_recheck(&id("11"), "right11").await.unwrap();
    w.engine.submit_recheck(&id("12"), "KWG90").await.unwrap();

    let mut pages = w
        .engine
        .corrections_in_pages_of(verdict_engine::CorrectionFilter::default(), 3);
    // Arrives after the export began: not in it, although it is read later.
    w.clock.advance(Duration::from_millis(1));
    w.engine
        .ingest(vec![Ok(TaskInput {
            id: Some("99".into()),
            account: Some("1".into()),
            captcha_type: Some("image".into()),
            provider: Some("p".into()),
            worker: None,
            answer: Some("KWG90".into()),
            cost: Some("0.0020".into()),
            completed_at: Some(T0.to_rfc3339()),
        })])
        .await
        .unwrap();
    let late = request("99", ReportKind::Incorrect)
        .with_correction(Some("LATE".into()))
        .unwrap();
    w.engine.submit_report(KEY, late).await.unwrap();

    let mut sizes = Vec::new();
    let mut rows = Vec::new();
    while let Some(page) = pages.next_page().await.unwrap() {
        sizes.push(page.len());
        rows.extend(page);
    }
    assert_eq!(sizes, [3, 3, 1], "pages of three, none empty");
    let ids: Vec<&str> = rows.iter().map(|r| r.task.as_str()).collect();
    assert_eq!(ids, ["10", "11", "12", "13", "14", "15", "16"]);
    use verdict_domain::corrections::LabelConfidence;
    let confidence: Vec<LabelConfidence> = rows.iter().map(|r| r.label_confidence()).collect();
    assert_eq!(confidence[1], LabelConfidence::Corroborated);
    assert_eq!(rows[1].verdict, Verdict::Accepted);
    assert_eq!(confidence[2], LabelConfidence::Contradicted);
    assert_eq!(rows[2].verdict, Verdict::Rejected);
    assert_eq!(rows[2].second_solve(), Some("KWG90"));
    assert!(
        confidence[3..]
            .iter()
            .all(|c| *c == LabelConfidence::Unverified)
            && rows[3..].iter().all(|r| r.verdict == Verdict::Pending)
    );
    assert!(pages.next_page().await.unwrap().is_none(), "and stays done");
}
