//! Several `verdict serve` processes on one PostgreSQL database, as a platform runs them behind a
//! load balancer: whatever node a request lands on, there is one truth. Each test has a schema of
//! its own on `VERDICT_TEST_PG_URL` (failing with a hint when it is unset).

#[expect(
    dead_code,
    reason = "the outage tests use the rest of the shared harness"
)]
mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use support::{
    Answer, Dialect, Node, PgSchema, admin_get, client, create_account, ingest, micros, send, spawn,
};

/// Starts `n` nodes at the same moment (so that they race to migrate) and waits for all.
fn start_together(url: &str, n: usize) -> Vec<Node> {
    // These tests are about correctness: a debug build of three nodes and PostgreSQL on two
    // cores, each node opening its whole pool at once under the storm, can take longer than the
    // default 3 s to hand out a connection, and a 503 then would be right but beside the point.
    let env = [("VERDICT_POSTGRES__ACQUIRE_TIMEOUT", "30s")];
    let spawned: Vec<_> = (0..n).map(|_| spawn(url, &env)).collect();
    tokio::task::block_in_place(|| spawned.into_iter().map(|s| s.ready()).collect())
}

/// A deterministic shuffle (no RNG crate needed): a fixed-stride permutation.
fn shuffled<T: Clone>(items: &[T]) -> Vec<T> {
    let n = items.len();
    let stride = (1..n)
        .rev()
        .find(|s| gcd(*s, n) == 1 && *s > n / 3)
        .unwrap_or(1);
    (0..n)
        .map(|i| items[(i * stride + 7) % n].clone())
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_identical_and_conflicting_reports_over_three_nodes_leaves_one_report_and_one_refund_per_task()
 {
    let db = PgSchema::create().await;
    let nodes = start_together(&db.url, 3);
    let bases: Arc<Vec<String>> = Arc::new(nodes.iter().map(Node::base).collect());
    let http = client();
    let (alice, key) = create_account(&http, &nodes[0], "alice").await;

    let int_tasks: Vec<String> = (0..12).map(|i| (880_000 + i).to_string()).collect();
    let uuid_tasks: Vec<String> = (0..8)
        .map(|i| format!("6f1c2d3e-0000-4000-8000-{i:012}"))
        .collect();
    let records: Vec<(String, &str, &str)> = int_tasks
        .iter()
        .map(|id| (id.clone(), "recaptcha_v2", "0.002"))
        .chain(uuid_tasks.iter().map(|id| (id.clone(), "image", "0.001")))
        .collect();
    ingest(&http, &nodes[1], &records, alice).await;

    // Per task: identical reports through several dialects, and conflicting ones (positive
    // feedback racing the incorrect-reports).
    let for_int = [
        Dialect::AntiCaptchaIncorrect,
        Dialect::AntiCaptchaIncorrect,
        Dialect::AntiCaptchaIncorrect,
        Dialect::AntiCaptchaCorrect,
        Dialect::AntiCaptchaCorrect,
        Dialect::UCaptcha { invalid: true },
        Dialect::UCaptcha { invalid: true },
        Dialect::UCaptcha { invalid: false },
        Dialect::Native { incorrect: true },
        Dialect::Native { incorrect: true },
        Dialect::Native { incorrect: false },
        Dialect::TwoCaptchaV2,
        Dialect::CapMonster,
    ];
    let for_uuid = [
        Dialect::CaptchaFun,
        Dialect::CaptchaFun,
        Dialect::CaptchaFun,
        Dialect::UCaptcha { invalid: true },
        Dialect::UCaptcha { invalid: true },
        Dialect::UCaptcha { invalid: false },
        Dialect::Native { incorrect: true },
        Dialect::Native { incorrect: false },
        Dialect::Decaptcha,
        Dialect::Decaptcha,
    ];
    let mut plan: Vec<(String, Dialect)> = Vec::new();
    for id in &int_tasks {
        plan.extend(for_int.iter().map(|d| (id.clone(), *d)));
    }
    for id in &uuid_tasks {
        plan.extend(for_uuid.iter().map(|d| (id.clone(), *d)));
    }
    let plan = shuffled(&plan);

    let handles: Vec<_> = plan
        .iter()
        .enumerate()
        .map(|(i, (task, dialect))| {
            let (bases, http, key) = (bases.clone(), http.clone(), key.clone());
            let (task, dialect) = (task.clone(), *dialect);
            tokio::spawn(async move {
                let base = &bases[i % bases.len()];
                let answer = send(dialect.request(&http, base, &key, "alice", &task))
                    .await
                    .expect("every node answers");
                (task, dialect, answer)
            })
        })
        .collect();
    for h in handles {
        let (task, dialect, answer) = h.await.unwrap();
        if answer.status >= 500 || answer.body.contains("ERROR_NO_SLOT_AVAILABLE") {
            for node in &nodes {
                for line in node
                    .log()
                    .iter()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                {
                    eprintln!("{line}");
                }
            }
        }
        assert!(
            answer.status < 500,
            "{dialect:?} on {task}: {} {}",
            answer.status,
            answer.body
        );
        assert!(
            !answer.body.contains("ERROR_NO_SLOT_AVAILABLE"),
            "{dialect:?} on {task}: {}",
            answer.body
        );
    }

    // Every node tells the same story.
    let mut reports: BTreeMap<String, Value> = BTreeMap::new();
    for id in int_tasks.iter().chain(&uuid_tasks) {
        for (n, node) in nodes.iter().enumerate() {
            let answer = admin_get(&http, node, &format!("/v1/tasks/{id}")).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            let report = answer.json()["report"].clone();
            assert!(report.is_object(), "task {id} has no report on node {n}");
            match reports.get(id) {
                Some(seen) => assert_eq!(seen, &report, "task {id}: node {n} disagrees"),
                None => {
                    reports.insert(id.clone(), report);
                }
            }
        }
    }
    let (mut ledgers, mut accounts) = (Vec::new(), Vec::new());
    for node in nodes.iter() {
        let ledger = admin_get(&http, node, &format!("/v1/accounts/{alice}/ledger")).await;
        ledgers.push(ledger.json());
        let account = admin_get(&http, node, &format!("/v1/accounts/{alice}")).await;
        accounts.push(account.json());
    }
    for n in 1..nodes.len() {
        assert_eq!(ledgers[0], ledgers[n], "ledger differs on node {n}");
        assert_eq!(accounts[0], accounts[n], "account differs on node {n}");
    }

    let entries = ledgers[0]["entries"].as_array().unwrap();
    let mut refunded = 0;
    for (id, report) in &reports {
        let for_task: Vec<&Value> = entries.iter().filter(|e| e["task"] == **id).collect();
        match report["refund"].as_str() {
            Some(refund) => {
                assert_eq!(report["kind"], "incorrect");
                assert_eq!(report["verdict"], "accepted");
                assert_eq!(for_task.len(), 1, "task {id}: {for_task:?}");
                assert_eq!(for_task[0]["amount"], refund);
                refunded += micros(&report["refund"]);
            }
            None => assert!(for_task.is_empty(), "task {id} refunded without a refund"),
        }
    }
    assert_eq!(
        entries.len(),
        reports.values().filter(|r| !r["refund"].is_null()).count()
    );
    let ledger_sum: i64 = entries.iter().map(|e| micros(&e["amount"])).sum();
    assert_eq!(ledger_sum, refunded);
    assert_eq!(micros(&accounts[0]["balance"]), ledger_sum);
    assert_eq!(micros(&ledgers[0]["balance"]), ledger_sum);

    // And the database agrees: one report per task, migrations applied once.
    let pg = db.client().await;
    let count = |sql: &'static str| {
        let pg = &pg;
        async move { pg.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT COUNT(*) FROM reports").await, 20);
    assert_eq!(
        count("SELECT COUNT(*) FROM ledger_entries").await,
        i64::try_from(entries.len()).unwrap()
    );
    assert_eq!(count("SELECT COUNT(*) FROM schema_migrations").await, 1);
}

/// Whether an answer is a dialect's "recorded" success.
fn acknowledged(dialect: Dialect, answer: &Answer) -> bool {
    match dialect {
        Dialect::AntiCaptchaIncorrect => {
            answer.status == 200 && answer.body == r#"{"errorId":0,"status":"success"}"#
        }
        Dialect::UCaptcha { .. } => {
            answer.status == 200 && answer.body == r#"{"errorId":0,"message":"Feedback recorded"}"#
        }
        Dialect::Native { .. } => answer.status == 201,
        other => panic!("no success shape for {other:?} here"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_storm_loses_nothing_it_acknowledged() {
    let db = PgSchema::create().await;
    let mut nodes = start_together(&db.url, 2);
    let http = client();
    let (alice, key) = create_account(&http, &nodes[1], "alice").await;
    let tasks: Vec<String> = (0..400).map(|i| (770_000 + i).to_string()).collect();
    let records: Vec<(String, &str, &str)> = tasks
        .iter()
        .map(|id| (id.clone(), "recaptcha_v2", "0.002"))
        .collect();
    ingest(&http, &nodes[1], &records, alice).await;

    let (victim, survivor) = (nodes[0].base(), nodes[1].base());
    let acked_by_victim = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let in_flight = Arc::new(tokio::sync::Semaphore::new(16));
    let dialects = [
        Dialect::AntiCaptchaIncorrect,
        Dialect::UCaptcha { invalid: true },
        Dialect::Native { incorrect: true },
    ];
    let handles: Vec<_> = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let dialect = dialects[i % dialects.len()];
            let to_victim = i % 2 == 0;
            let base = if to_victim { &victim } else { &survivor }.clone();
            let (http, key, task) = (http.clone(), key.clone(), task.clone());
            let (acked_by_victim, enough, in_flight) =
                (acked_by_victim.clone(), enough.clone(), in_flight.clone());
            tokio::spawn(async move {
                let _permit = in_flight.acquire_owned().await.unwrap();
                let answer = send(dialect.request(&http, &base, &key, "alice", &task)).await;
                let acked = matches!(&answer, Ok(a) if acknowledged(dialect, a));
                if acked && to_victim && acked_by_victim.fetch_add(1, Ordering::SeqCst) + 1 == 40 {
                    enough.notify_one();
                }
                (task, to_victim, acked)
            })
        })
        .collect();

    tokio::time::timeout(std::time::Duration::from_secs(120), enough.notified())
        .await
        .expect("the node to kill acknowledged 40 reports within 120 s");
    nodes[0].kill_9();

    let mut acked = HashSet::new();
    let (mut sent_to_victim, mut acked_victim) = (0, 0);
    for h in handles {
        let (task, to_victim, ok) = h.await.unwrap();
        if to_victim {
            sent_to_victim += 1;
            acked_victim += usize::from(ok);
        }
        if ok {
            acked.insert(task);
        }
    }
    assert!(
        acked_victim < sent_to_victim,
        "the node was killed mid-storm ({acked_victim} of {sent_to_victim} answered)"
    );
    assert!(acked_victim >= 40);

    let survivor = &nodes[1];
    for task in &acked {
        let answer = admin_get(&http, survivor, &format!("/v1/tasks/{task}")).await;
        let report = &answer.json()["report"];
        assert_eq!(
            report["verdict"], "accepted",
            "acknowledged {task} was lost"
        );
    }
    let ledger = admin_get(&http, survivor, &format!("/v1/accounts/{alice}/ledger"))
        .await
        .json();
    let refunded: HashSet<&str> = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    for task in &acked {
        assert!(
            refunded.contains(task.as_str()),
            "refund of {task} was lost"
        );
    }
    let pg = db.client().await;
    let rows = pg.query("SELECT task_id FROM reports", &[]).await.unwrap();
    let stored: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    assert!(acked.is_subset(&stored));
}
