//! The operator CLI as an operator runs it: every command against the database directly and
//! against a running `verdict serve` (`--server`), answering the same JSON both ways; tables for
//! people; task files as JSON arrays, NDJSON and CSV, a large one in batches; errors in the
//! API's words with a failing exit.

#[expect(
    dead_code,
    reason = "the multi-node tests use the rest of the shared harness"
)]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use support::{ADMIN, Node, client, now_rfc3339, send};

/// How a command reaches the native API.
#[derive(Clone, Copy)]
enum Via<'a> {
    /// The database, opened by the command itself.
    Database,
    /// A running server, named by VERDICT_SERVER and VERDICT_TOKEN.
    Server(&'a Node),
}

/// `verdict <args>` on the SQLite database `db`, with `stdin` as its standard input.
fn verdict(db: &Path, via: Via, args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verdict"));
    command
        .args(args)
        .env_clear()
        .env("VERDICT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("VERDICT_LOG", "warn")
        .current_dir(db.parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Via::Server(node) = via {
        command
            .env("VERDICT_SERVER", node.base())
            .env("VERDICT_TOKEN", ADMIN);
    }
    let mut child = command.spawn().expect("spawn verdict");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `verdict <args>` that must succeed; what it printed.
fn ok(db: &Path, via: Via, args: &[&str], stdin: &[u8]) -> String {
    let out = verdict(db, via, args, stdin);
    assert!(
        out.status.success(),
        "verdict {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `verdict <args> --json` that must succeed; its JSON.
fn json_of(db: &Path, via: Via, args: &[&str], stdin: &[u8]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let printed = ok(db, via, &args, stdin);
    serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{args:?} ({e}): {printed}"))
}

/// `verdict <args>` that must fail; what it said on stderr.
fn refused(db: &Path, via: Via, args: &[&str]) -> String {
    let out = verdict(db, via, args, b"");
    assert!(
        !out.status.success(),
        "verdict {args:?} succeeded: {}",
        text(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    text(&out.stderr)
}

/// What two runs of the same commands may differ in: the moment (any RFC 3339 time, how long
/// after its task a report came), generated keys and their ids.
fn masked(value: &Value) -> Value {
    match value {
        Value::String(s) if verdict_domain::Timestamp::parse_rfc3339(s).is_ok() => json!("<time>"),
        Value::String(s) if s.starts_with("k_") => json!("<key id>"),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| {
                    let v = if name == "api_key" {
                        json!("<api key>")
                    } else if name == "elapsed_ms" {
                        json!("<elapsed>")
                    } else {
                        masked(v)
                    };
                    (name.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One database with a server on it: the CLI goes to the database or to the server, and
/// clients report through the server either way.
struct World {
    db: PathBuf,
    node: Node,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        let node = Node::start(&format!("sqlite://{}", db.display()), &[]);
        World {
            db,
            node,
            _dir: dir,
        }
    }

    /// A file in the world's folder.
    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.db.parent().unwrap().join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    async fn report(&self, key: &str, task: &str) {
        let answer = send(
            client()
                .post(self.node.url("/v1/reports"))
                .bearer_auth(key)
                .json(&json!({ "task": task, "kind": "incorrect" })),
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
}

/// Alice's tasks, one line that is not JSON and one task of an account that does not exist.
fn tasks_ndjson() -> Vec<u8> {
    let at = now_rfc3339();
    let task = |id: &str, account: i64, captcha_type: &str| {
        json!({ "id": id, "account": account, "type": captcha_type, "provider": "prov-a",
                "worker": "w-1", "answer": "KWG90", "cost": "0.002", "completed_at": at })
        .to_string()
    };
    [
        task("t1", 1, "image"),
        task("t2", 1, "hcaptcha"),
        String::new(),
        "{not json".to_owned(),
        task("t3", 9, "image"),
        task("t4", 1, "image"),
    ]
    .join("\n")
    .into_bytes()
}

/// The operator's day, run the same way in two worlds: one reaching its database, one its
/// server. Each answer is the same but for times and generated keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_the_same_json_directly_and_through_a_server() {
    let (direct, served) = (World::new(), World::new());
    let worlds = [
        (&direct, Via::Database),
        (&served, Via::Server(&served.node)),
    ];
    let mut keys = Vec::new();
    for (world, via) in worlds {
        let created = json_of(
            &world.db,
            via,
            &["accounts", "create", "--name", "alice"],
            b"",
        );
        keys.push(created["api_key"].as_str().unwrap().to_owned());
    }
    let run = |args: &[&str], stdin: &[u8]| -> Value {
        let answers: Vec<Value> = worlds
            .iter()
            .map(|(world, via)| json_of(&world.db, *via, args, stdin))
            .collect();
        assert_eq!(
            masked(&answers[0]),
            masked(&answers[1]),
            "verdict {args:?}: directly, then through the server"
        );
        answers[0].clone()
    };

    let bob = run(&["accounts", "create", "--name", "bob", "--trusted"], b"");
    assert_eq!((&bob["id"], &bob["trusted"]), (&json!(2), &json!(true)));
    let carol = run(
        &["accounts", "create", "--name", "carol", "--import-stdin"],
        b"Carol-Imported-Key-1f2e3d4c\n",
    );
    assert_eq!(carol["api_key"], "Carol-Imported-Key-1f2e3d4c");

    let tasks = tasks_ndjson();
    let imported = {
        let answers: Vec<Value> = worlds
            .iter()
            .map(|(world, via)| {
                let file = world.file("tasks.ndjson", &tasks);
                json_of(&world.db, *via, &["tasks", "import", &file], b"")
            })
            .collect();
        assert_eq!(answers[0], answers[1], "tasks import");
        answers[0].clone()
    };
    assert_eq!(
        imported,
        json!({ "inserted": 3, "duplicates": 0, "rejected": [
            { "index": 2, "error": "line 4: not a JSON object: key must be a string at line 1 column 2" },
            { "index": 3, "error": "line 5: account: no account with id 9" },
        ]})
    );
    let again = run(&["tasks", "import", "-", "--format", "ndjson"], &tasks);
    assert_eq!(
        (&again["inserted"], &again["duplicates"]),
        (&json!(0), &json!(3))
    );

    for ((world, _), key) in worlds.iter().zip(&keys) {
        world.report(key, "t1").await;
    }

    let shown = run(&["accounts", "show", "1"], b"");
    assert_eq!(shown["balance"], "0.002", "{shown}");
    let ledger = run(&["accounts", "ledger", "1"], b"");
    assert_eq!(ledger["entries"][0]["kind"], "refund", "{ledger}");
    let task = run(&["tasks", "show", "t1"], b"");
    assert_eq!(task["report"]["verdict"], "accepted", "{task}");
    let reports = run(&["reports", "list"], b"");
    assert_eq!(reports["reports"].as_array().unwrap().len(), 1, "{reports}");
    for filtered in [
        &["reports", "list", "--account", "1", "--verdict", "accepted"][..],
        &[
            "reports",
            "list",
            "--type",
            "image",
            "--dialect",
            "native",
            "--limit",
            "1",
            "--all",
        ],
        &["reports", "list", "--reason", "incorrect_accepted"],
        &[
            "reports",
            "list",
            "--since",
            "2020-01-01T00:00:00Z",
            "--until",
            "2999-01-01T00:00:00Z",
        ],
    ] {
        let listed = run(filtered, b"");
        assert_eq!(listed["reports"], reports["reports"], "{filtered:?}");
        assert_eq!(listed["next_cursor"], Value::Null, "{filtered:?}");
    }
    let none = run(&["reports", "list", "--verdict", "rejected"], b"");
    assert_eq!(none["reports"], json!([]));

    let all = run(&["accounts", "list"], b"");
    assert_eq!(all["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(all["accounts"][0], shown, "each account as `show` shows it");
    let first = run(&["accounts", "list", "--limit", "1"], b"");
    assert_eq!(first["next_cursor"], 1);
    let paged = run(&["accounts", "list", "--limit", "1", "--all"], b"");
    assert_eq!(paged, all, "every page, gathered");
    let rest = run(&["accounts", "list", "--after", "1"], b"");
    assert_eq!(rest["accounts"][0]["name"], "bob");

    run(&["accounts", "trust", "1"], b"");
    let untrusted = run(&["accounts", "untrust", "1"], b"");
    assert_eq!(untrusted["trusted"], false);
    let ignored = run(
        &[
            "accounts",
            "standing",
            "2",
            "--ignore-for",
            "72h",
            "--reason",
            "farming",
        ],
        b"",
    );
    assert_eq!(ignored["standing"]["state"], "ignored");
    run(
        &[
            "accounts",
            "standing",
            "3",
            "--ignore-until",
            "2999-01-01T00:00:00Z",
            "--reason",
            "x",
        ],
        b"",
    );
    let disabled = run(&["accounts", "disable", "1", "--reason", "chargeback"], b"");
    assert_eq!(disabled["disabled"]["reason"], "chargeback");
    let attention = run(&["accounts", "list", "--attention"], b"");
    assert_eq!(attention["accounts"].as_array().unwrap().len(), 3);
    run(&["accounts", "enable", "1"], b"");
    let good = run(&["accounts", "standing", "2", "--good"], b"");
    assert_eq!(good["standing"]["state"], "good");
    let attention = run(&["accounts", "list", "--attention"], b"");
    assert_eq!(attention["accounts"][0]["name"], "carol", "{attention}");
    assert_eq!(attention["accounts"].as_array().unwrap().len(), 1);

    let added = run(&["accounts", "add-key", "1", "--label", "ci"], b"");
    assert_eq!(added["key"]["label"], "ci");
    run(
        &["accounts", "add-key", "3", "--import-stdin"],
        b"Carol-Second-Key-9a8b7c6d\n",
    );
    let rotated = run(
        &[
            "accounts",
            "rotate-key",
            "1",
            "--grace",
            "1h",
            "--label",
            "next",
        ],
        b"",
    );
    assert_eq!(rotated["keys"].as_array().unwrap().len(), 3);
    let listed = run(&["accounts", "keys", "1"], b"");
    assert_eq!(listed["keys"][0]["state"], "expiring", "{listed}");
    // Key ids differ between the worlds: each revokes its own first key.
    let revoked: Vec<Value> = worlds
        .iter()
        .map(|(world, via)| {
            let keys = json_of(&world.db, *via, &["accounts", "keys", "1"], b"");
            let first = keys["keys"][0]["id"].as_str().unwrap().to_owned();
            json_of(
                &world.db,
                *via,
                &["accounts", "revoke-key", "1", &first],
                b"",
            )
        })
        .collect();
    assert_eq!(masked(&revoked[0]), masked(&revoked[1]), "revoke-key");
    assert_eq!(revoked[0]["key"]["state"], "revoked");
}

/// The value beside `name` in a table of names and values.
fn value<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .filter(|rest| rest.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("no {name:?} in\n{table}"))
        .trim()
}

/// Tables are what an operator reads: a header and a row per thing, columns aligned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_show_each_answer_with_its_headers_and_rows() {
    let world = World::new();
    let db = &world.db;
    let via = Via::Database;
    let created = ok(db, via, &["accounts", "create", "--name", "alice"], b"");
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("api key"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    assert!(created.contains("(shown this once)"), "{created}");
    let file = world.file("tasks.json", &{
        let lines = String::from_utf8(tasks_ndjson()).unwrap();
        let records: Vec<Value> = lines
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        serde_json::to_vec(&records).unwrap()
    });
    let imported = ok(db, via, &["tasks", "import", &file], b"");
    assert_eq!(
        imported,
        "inserted    3\nduplicates  0\nrejected    1\n\n\
         WHERE     ERROR\n\
         record 3  account: no account with id 9\n"
    );
    world.report(&key, "t1").await;

    let listed = ok(db, via, &["accounts", "list"], b"");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "ID", "NAME", "TRUSTED", "BALANCE", "STANDING", "DISABLED", "CREATED"
        ]
    );
    assert_eq!(
        lines[1].split_whitespace().take(6).collect::<Vec<_>>(),
        ["1", "alice", "no", "0.002", "good", "-"]
    );
    assert_eq!(
        lines[0].find("NAME"),
        lines[1].find("alice"),
        "columns line up"
    );

    let shown = ok(db, via, &["accounts", "show", "1"], b"");
    assert_eq!(
        ["name", "balance", "standing"].map(|name| value(&shown, name)),
        ["alice", "0.002", "good"],
        "{shown}"
    );
    let stats = shown
        .lines()
        .skip_while(|l| !l.starts_with("FAMILY"))
        .collect::<Vec<_>>();
    assert_eq!(
        stats[0].split_whitespace().collect::<Vec<_>>(),
        ["FAMILY", "(last", "24h)", "TASKS", "INCORRECT", "CORRECT"]
    );
    assert!(
        stats
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["image", "2", "1", "0"]),
        "{shown}"
    );

    let ledger = ok(db, via, &["accounts", "ledger", "1"], b"");
    assert!(
        ledger.starts_with("account  1\nbalance  0.002\n\nAT"),
        "{ledger}"
    );
    let row = ledger.lines().last().unwrap();
    assert_eq!(
        row.split_whitespace().skip(1).take(3).collect::<Vec<_>>(),
        ["t1", "refund", "0.002"],
        "{ledger}"
    );

    let reports = ok(db, via, &["reports", "list"], b"");
    let lines: Vec<Vec<&str>> = reports
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "RECEIVED", "TASK", "ACCOUNT", "TYPE", "DIALECT", "KIND", "VERDICT", "REASON", "REFUND"
        ]
    );
    assert_eq!(
        lines[1][1..],
        [
            "t1",
            "1",
            "image",
            "native",
            "incorrect",
            "accepted",
            "incorrect_accepted",
            "0.002"
        ]
    );
    let empty = ok(db, via, &["reports", "list", "--verdict", "rejected"], b"");
    assert_eq!(empty, "no reports\n");

    let task = ok(db, via, &["tasks", "show", "t1"], b"");
    assert_eq!(
        ["task", "verdict", "refund", "refund granted"].map(|name| value(&task, name)),
        ["t1", "accepted (incorrect_accepted)", "0.002", "0.002"],
        "{task}"
    );

    let keys = ok(db, via, &["accounts", "keys", "1"], b"");
    let lines: Vec<Vec<&str>> = keys
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["KEY", "LABEL", "STATE", "CREATED", "EXPIRES", "REVOKED"]
    );
    assert_eq!((lines[1][1], lines[1][2]), ("-", "active"), "{keys}");
    let rotated = ok(
        db,
        via,
        &["accounts", "rotate-key", "1", "--grace", "0s"],
        b"",
    );
    assert!(rotated.contains("api key  "), "{rotated}");
    assert_eq!(
        rotated.lines().filter(|l| l.starts_with("k_")).count(),
        2,
        "{rotated}"
    );

    let ignored = ok(
        db,
        via,
        &[
            "accounts",
            "standing",
            "1",
            "--ignore-for",
            "3d",
            "--reason",
            "farming",
        ],
        b"",
    );
    assert!(ignored.contains("by an operator: farming"), "{ignored}");
    let attention = ok(db, via, &["accounts", "list", "--attention"], b"");
    assert_eq!(attention.lines().count(), 2, "{attention}");
}

/// CSV as spreadsheets write it: quoted cells with commas, quotes and line breaks, an empty
/// cell for an absent field; a row with a field missing is named by its line, and the rest go
/// in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_file_goes_in_with_its_quoted_cells_and_its_bad_rows_named_by_line() {
    let world = World::new();
    let (db, via) = (&world.db, Via::Server(&world.node));
    json_of(db, via, &["accounts", "create", "--name", "alice"], b"");
    let at = now_rfc3339();
    let csv = format!(
        "id,account,type,provider,worker,answer,cost,completed_at\n\
         c1,1,image,prov-a,w-1,\"KWG, 90\",0.001,{at}\n\
         c2,1,image,prov-a,,\"she said \"\"hi\"\"\",0.001,{at}\n\
         c3,1,image,prov-a,w-1,0.001,{at}\n\
         c4,1,image,prov-a,w-1,\"two\nlines\",0.001,{at}\n\
         c5,1,image,prov-a,w-1,x,free,{at}\n"
    );
    let file = world.file("tasks.csv", csv.as_bytes());
    let table = ok(db, via, &["tasks", "import", &file], b"");
    assert_eq!(
        table,
        "inserted    3\nduplicates  0\nrejected    2\n\n\
         WHERE   ERROR\n\
         line 4  7 fields where the header row has 8\n\
         line 7  cost: an amount is a decimal string such as \"0.0020\"\n"
    );
    for (task, answer, worker) in [
        ("c1", json!("KWG, 90"), json!("w-1")),
        ("c2", json!("she said \"hi\""), Value::Null),
        ("c4", json!("two\nlines"), json!("w-1")),
    ] {
        let shown = json_of(db, Via::Database, &["tasks", "show", task], b"");
        assert_eq!(
            (&shown["task"]["answer"], &shown["task"]["worker"]),
            (&answer, &worker),
            "{task}"
        );
    }
    // From standard input the format is named; JSON output names the lines in the errors.
    let again = json_of(
        db,
        via,
        &["tasks", "import", "-", "--format", "csv"],
        csv.as_bytes(),
    );
    assert_eq!(
        (&again["inserted"], &again["duplicates"]),
        (&json!(0), &json!(3))
    );
    assert_eq!(
        again["rejected"][0],
        json!({ "index": 2, "error": "line 4: 7 fields where the header row has 8" })
    );

    let unknown = world.file("bad.csv", b"id,acount\n1,1\n");
    let said = refused(db, via, &["tasks", "import", &unknown]);
    assert!(
        said.contains("the header row names \"acount\"; the columns are id, account"),
        "{said}"
    );
    assert!(said.contains("before it stored anything"), "{said}");
}

/// 50,000 tasks go in as five requests of 10,000 (the server logs each), with nothing on stderr
/// but the summary when stderr is not a terminal (no progress bar).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_ndjson_file_goes_in_batches() {
    let world = World::new();
    let (db, via) = (&world.db, Via::Server(&world.node));
    json_of(db, via, &["accounts", "create", "--name", "alice"], b"");
    let at = now_rfc3339();
    let mut file = Vec::new();
    for n in 0..50_000 {
        writeln!(
            file,
            r#"{{"id":"bulk-{n}","account":1,"type":"image","provider":"prov-a","answer":"x","cost":"0.001","completed_at":"{at}"}}"#
        )
        .unwrap();
    }
    let path = world.file("bulk.ndjson", &file);
    drop(file);
    world.node.log();
    let out = verdict(db, via, &["tasks", "import", &path, "--json"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer,
        json!({ "inserted": 50_000, "duplicates": 0, "rejected": [] })
    );
    let mut batches = 0;
    while batches < 5 {
        let line = world.node.wait_for("tasks ingested");
        assert!(line.contains("inserted=10000"), "{line}");
        batches += 1;
    }
    assert!(
        !world
            .node
            .log()
            .iter()
            .any(|l| l.contains("tasks ingested")),
        "five requests, no more"
    );
}

/// A refusal is the API's message on stderr, with a failing exit and nothing on stdout.
#[test]
fn errors_say_what_the_api_said_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let node = Node::start(&format!("sqlite://{}", db.display()), &[]);
    for via in [Via::Database, Via::Server(&node)] {
        for args in [
            &["accounts", "show", "99"][..],
            &["accounts", "ledger", "99"],
            &["accounts", "trust", "99"],
            &["accounts", "keys", "99"],
            &["accounts", "standing", "99", "--good"],
        ] {
            let said = refused(&db, via, args);
            assert!(
                said.contains("No such account. (404 not_found)"),
                "{args:?}: {said}"
            );
        }
        let said = refused(&db, via, &["tasks", "show", "nope/../x"]);
        assert!(said.contains("No such task."), "{said}");
        let said = refused(
            &db,
            via,
            &[
                "accounts",
                "standing",
                "1",
                "--ignore-for",
                "soon",
                "--reason",
                "x",
            ],
        );
        assert!(said.contains("for must be a duration such as"), "{said}");
        let said = refused(&db, via, &["reports", "list", "--verdict", "maybe"]);
        assert!(
            said.contains("verdict must be accepted, rejected, acknowledged or pending"),
            "{said}"
        );
    }
    let wrong = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args([
            "accounts",
            "list",
            "--server",
            &node.base(),
            "--token",
            "not-the-admin-token-000",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let said = text(&wrong.stderr);
    assert!(
        said.contains("Send `Authorization: Bearer <API key or admin token>`. (401 unauthorized)"),
        "{said}"
    );
    let said = refused(
        &db,
        Via::Database,
        &["accounts", "list", "--server", &node.base()],
    );
    assert!(said.contains("--server needs the admin token"), "{said}");
    let said = refused(
        &db,
        Via::Database,
        &[
            "accounts",
            "list",
            "--server",
            "https://127.0.0.1:1",
            "--token",
            ADMIN,
        ],
    );
    assert!(said.contains("takes an http:// URL"), "{said}");
}
