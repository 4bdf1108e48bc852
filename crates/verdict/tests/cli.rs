//! The `verdict` binary as an operator runs it: environment in, HTTP out, signals to stop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const ADMIN: &str = "test-admin-token-0123456789";

/// A running `verdict serve`, its address read from its own start-up log line.
struct Server {
    child: Child,
    addr: String,
    /// Everything printed to stderr before serving began.
    startup: Vec<String>,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    fn start(db: &Path, admin: Option<&str>) -> Server {
        Server::start_with(db, admin, &[])
    }

    fn start_with(db: &Path, admin: Option<&str>, env: &[(&str, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_verdict"));
        cmd.arg("serve")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("VERDICT_LISTEN", "127.0.0.1:0")
            .env("VERDICT_DATABASE_URL", format!("sqlite://{}", db.display()))
            .current_dir(db.parent().unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(token) = admin {
            cmd.env("VERDICT_ADMIN_TOKEN", token);
        }
        let mut child = cmd.spawn().expect("spawn verdict");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut startup = Vec::new();
        let serving = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("verdict started serving");
            if line.contains("verdict serving") {
                break line;
            }
            startup.push(line);
        };
        let addr = serving
            .split("addr=")
            .nth(1)
            .expect("addr in log")
            .split_whitespace()
            .next()
            .unwrap();
        Server {
            child,
            addr: addr.to_owned(),
            startup,
            stderr: rx,
        }
    }

    /// The next stderr line containing `needle`, skipping others (fails after 30 s).
    fn wait_for(&self, needle: &str) -> String {
        loop {
            match self.stderr.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no {needle:?} from verdict: {e}"),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A synchronous face on reqwest: a small runtime per client keeps these tests plain.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Self {
            rt,
            client: reqwest::Client::new(),
        }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> (u16, String) {
        self.rt.block_on(async {
            let resp = req.send().await.expect("request");
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    }

    fn get(&self, url: &str, token: &str) -> (u16, String) {
        self.send(self.client.get(url).bearer_auth(token))
    }

    fn post(&self, url: &str, token: Option<&str>, body: &Value) -> (u16, String) {
        let mut req = self.client.post(url).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }
}

fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    verdict_domain::Timestamp::from_millis(i64::try_from(ms).unwrap()).to_rfc3339()
}

#[test]
fn serve_starts_from_the_three_variables_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("v.db"), Some(ADMIN));
    let http = Http::new();
    let (status, body) = http.get(&server.url("/healthz"), "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    assert_eq!(http.get(&server.url("/readyz"), "").0, 200);

    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "verdict exited with {status}");
    server.wait_for("verdict stopped");
}

#[test]
fn an_answered_report_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let http = Http::new();
    let server = Server::start(&db, Some(ADMIN));
    let (_, account) = http.post(
        &server.url("/v1/accounts"),
        Some(ADMIN),
        &json!({ "name": "alice" }),
    );
    let account: Value = serde_json::from_str(&account).unwrap();
    let key = account["api_key"].as_str().unwrap().to_owned();
    let task = json!([{ "id": "555", "account": account["id"], "type": "hcaptcha", "provider": "p",
                         "cost": "0.003", "completed_at": now_rfc3339() }]);
    let (status, _) = http.post(&server.url("/v1/tasks"), Some(ADMIN), &task);
    assert_eq!(status, 200);
    let (status, body) = http.post(
        &server.url("/reportIncorrectHcaptcha"),
        None,
        &json!({ "clientKey": key, "taskId": 555 }),
    );
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"errorId":0,"status":"success"}"#)
    );

    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL: no shutdown code runs
    server.child.wait().unwrap();
    drop(server);

    let restarted = Server::start(&db, Some(ADMIN));
    let (_, view) = http.get(&restarted.url("/v1/tasks/555"), ADMIN);
    let view: Value = serde_json::from_str(&view).unwrap();
    assert_eq!(view["report"]["verdict"], "accepted");
    assert_eq!(view["report"]["refund"], "0.003");
    let (_, account) = http.get(
        &restarted.url(&format!("/v1/accounts/{}", account["id"])),
        ADMIN,
    );
    assert_eq!(
        serde_json::from_str::<Value>(&account).unwrap()["balance"],
        "0.003"
    );
}

fn shown_token(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.len() == 32 && l.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

#[test]
fn without_a_configured_token_one_is_generated_shown_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let http = Http::new();

    let first = Server::start(&db, None);
    let token = shown_token(&first.startup).expect("the generated token is shown at first start");
    let (status, _) = http.post(
        &first.url("/v1/accounts"),
        Some(&token),
        &json!({ "name": "x" }),
    );
    assert_eq!(status, 201, "the shown token is the admin token");
    drop(first);

    let second = Server::start(&db, None);
    assert_eq!(shown_token(&second.startup), None, "shown once only");
    let (status, _) = http.get(&second.url("/v1/accounts/1"), &token);
    assert_eq!(status, 200, "the stored token still works");
}

#[test]
fn demo_reports_through_every_dialect_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["demo", "--exit", "--listen", "127.0.0.1:0"])
        .env_clear()
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "captcha.fun",
        "decaptcha",
        "anti-captcha",
        "uCaptcha",
        "native",
        r#"{"message": "Report submitted successfully"}"#,
        "ERROR_NO_SUCH_CAPCHA_ID",
        "accepted (incorrect_accepted)",
        "rejected (correction_matches_answer)",
        "acknowledged (positive_feedback)",
        "ERROR_FEEDBACK_EXISTS",
        "rejected (rate_above_cohort)",
        "rejected (account_ignored)",
        "ERROR_REPORT_NOT_RECORDED",
        "GET /v1/providers?type=recaptcha_v2",
        "POST /v1/route",
    ] {
        assert!(
            stdout.contains(needle),
            "demo output lacks {needle:?}:\n{stdout}"
        );
    }
    // One report through every dialect of the registry, each answered with its success.
    for dialect in verdict_http::dialect::DIALECTS {
        let line = stdout
            .lines()
            .skip_while(|l| !l.contains("reports one wrong answer through every dialect"))
            .skip_while(|l| !l.contains(dialect.service))
            .nth(2)
            .unwrap_or_else(|| panic!("no exchange through {}:\n{stdout}", dialect.name));
        let answer = line
            .trim_start()
            .strip_prefix("wire answer  ")
            .unwrap_or_else(|| panic!("{line:?}"));
        let (status, body) = answer.split_once(' ').unwrap_or((answer, ""));
        assert!(
            dialect.is_recorded(status.parse().unwrap(), body),
            "{}: {answer}",
            dialect.name
        );
    }
    // Clawback (the default) reverses every refund mallory's burst got.
    let script = &stdout[stdout.find("runs a script").expect("mallory's script")..];
    let refunded = script
        .lines()
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("task"))
        .filter(|l| l.contains("refunded"))
        .count();
    assert!(refunded > 0, "{script}");
    assert!(
        script.contains(&format!("the burst's {refunded} refunds")),
        "{script}"
    );
    assert!(
        stdout.contains("balance 0.00 refunded, standing ignored"),
        "{stdout}"
    );
    assert!(
        dir.path().join("verdict-demo.db").exists(),
        "the demo keeps to its own database file"
    );
}

/// A GET over TLS with a client that trusts exactly `ca`; returns the raw HTTP response.
fn https_get(
    addr: &str,
    path: &str,
    ca: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
) -> String {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exchange = async {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake with verdict");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tls.read_to_string(&mut response).await.unwrap();
        response
    };
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("HTTPS exchange timed out")
    })
}

#[test]
fn serve_speaks_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let env = [
        ("VERDICT_TLS__CERT_FILE", cert_file.display().to_string()),
        ("VERDICT_TLS__KEY_FILE", key_file.display().to_string()),
    ];
    let server = Server::start_with(&dir.path().join("v.db"), Some(ADMIN), &env);
    let response = https_get(&server.addr, "/healthz", cert.cert.der().clone());
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");
}

#[test]
fn a_half_configured_tls_stops_start_up_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .arg("serve")
        .env_clear()
        .env(
            "VERDICT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("v.db").display()),
        )
        .env("VERDICT_TLS__CERT_FILE", "/nonexistent/cert.pem")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.key_file"));
}

/// `verdict serve` with these variables, run until it exits (for start-ups that must fail).
fn serve_until_exit(db: &Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_verdict"))
        .arg("serve")
        .env_clear()
        .env("VERDICT_LISTEN", "127.0.0.1:0")
        .env("VERDICT_DATABASE_URL", format!("sqlite://{}", db.display()))
        .envs(env.iter().copied())
        .current_dir(db.parent().unwrap())
        .output()
        .unwrap()
}

#[test]
fn a_weak_admin_token_stops_start_up_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve_until_exit(
        &dir.path().join("v.db"),
        &[("VERDICT_ADMIN_TOKEN", "change-me")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("admin token is refused"), "{stderr}");
    assert!(
        !stderr.contains("change-me"),
        "the token is not repeated: {stderr}"
    );
}

#[cfg(unix)]
#[test]
fn the_database_and_its_key_secret_are_private_and_belong_together() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let secret = dir.path().join("v.db.key");
    let http = Http::new();
    let key = {
        let server = Server::start(&db, Some(ADMIN));
        let (status, body) = http.send(
            http.client
                .post(server.url("/v1/accounts"))
                .bearer_auth(ADMIN)
                .json(&json!({ "name": "alice" })),
        );
        assert_eq!(status, 201, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        created["api_key"].as_str().unwrap().to_owned()
    };
    for file in [&db, &secret] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let stored = std::fs::read_to_string(&secret).unwrap();
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !raw.windows(key.len()).any(|w| w == key.as_bytes()),
        "the database never holds a key"
    );

    // Restarted with its secret, the key still opens the account.
    {
        let server = Server::start(&db, Some(ADMIN));
        let (status, _) = http.send(
            http.client
                .get(server.url("/v1/accounts/1"))
                .bearer_auth(&key),
        );
        assert_eq!(status, 200);
    }
    // Without it, or with another one, verdict refuses to start rather than lock everyone out.
    std::fs::remove_file(&secret).unwrap();
    let out = serve_until_exit(&db, &[("VERDICT_ADMIN_TOKEN", ADMIN)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("v.db.key is missing"));
    let other = "another-secret-0123456789abcdef-0123456789";
    let out = serve_until_exit(
        &db,
        &[
            ("VERDICT_ADMIN_TOKEN", ADMIN),
            ("VERDICT_KEY_SECRET", other),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not the one this database"), "{stderr}");
    assert!(!stderr.contains(other), "the secret is not repeated");
    // The same secret, given by the environment, works.
    let server = Server::start_with(
        &db,
        Some(ADMIN),
        &[("VERDICT_KEY_SECRET", stored.trim().to_owned())],
    );
    let (status, _) = http.send(
        http.client
            .get(server.url("/v1/accounts/1"))
            .bearer_auth(&key),
    );
    assert_eq!(status, 200);
}

#[test]
fn a_misspelled_dialect_in_the_windows_stops_start_up_naming_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("verdict.toml"),
        "[judging.dialect_windows.twocapcha]\nall = \"15m\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .arg("serve")
        .env_clear()
        .env(
            "VERDICT_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("v.db").display()),
        )
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started despite the typo: {stderr}");
    assert!(stderr.contains("\"twocapcha\""), "{stderr}");
    for name in verdict_http::dialect::registry::names() {
        assert!(stderr.contains(name), "{name} not listed: {stderr}");
    }
    assert!(
        !dir.path().join("v.db").exists(),
        "nothing was created before the configuration was read"
    );
}

/// A whole run logged at trace level, every dialect, imports, rotations, wrong keys and a
/// DeathByCaptcha password: no secret appears in the logs.
#[test]
fn no_secret_reaches_the_logs_even_at_trace_level() {
    use verdict_http::dialect::DIALECTS;
    use verdict_http::dialect::registry::Report;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db");
    let mut server = Server::start_with(&db, Some(ADMIN), &[("VERDICT_LOG", "trace".to_owned())]);
    let http = Http::new();
    let imported = "Imported-Key-7f3a9c2e5b";
    let (status, created) = http.post(
        &server.url("/v1/accounts"),
        Some(ADMIN),
        &json!({ "name": "alice", "api_key": imported }),
    );
    assert_eq!(status, 201, "{created}");
    let (_, created) = http.post(
        &server.url("/v1/accounts"),
        Some(ADMIN),
        &json!({ "name": "bob" }),
    );
    let created: Value = serde_json::from_str(&created).unwrap();
    let generated = created["api_key"].as_str().unwrap().to_owned();
    let (_, rotated) = http.post(
        &server.url("/v1/accounts/1/keys/rotate"),
        Some(imported),
        &json!({ "grace": "1h" }),
    );
    let rotated: Value = serde_json::from_str(&rotated).unwrap();
    let rotated = rotated["api_key"].as_str().unwrap().to_owned();
    let at = now_rfc3339();
    let tasks: Vec<Value> = (0..DIALECTS.len())
        .flat_map(|n| {
            [
                json!({ "id": format!("{}", 800 + n), "account": 1, "type": "image", "provider": "p", "answer": "QX7PL", "cost": "0.001", "completed_at": at }),
                json!({ "id": format!("{}", 900 + n), "account": 1, "type": "hcaptcha", "provider": "p", "cost": "0.001", "completed_at": at }),
            ]
        })
        .collect();
    let (status, body) = http.post(&server.url("/v1/tasks"), Some(ADMIN), &Value::from(tasks));
    assert_eq!(status, 200, "{body}");
    let wrong = "Wrong-Key-0c1d2e3f4a5b6c";
    for (n, dialect) in DIALECTS.iter().enumerate() {
        for (key, task) in [
            (imported, 800 + n),
            (rotated.as_str(), 900 + n),
            (wrong, 800 + n),
        ] {
            let family = if task < 900 {
                verdict_domain::Family::Image
            } else {
                verdict_domain::Family::Hcaptcha
            };
            let report = Report {
                key,
                account: "alice",
                task: &task.to_string(),
                family,
                kind: verdict_domain::ReportKind::Incorrect,
            };
            let Some(wire) = dialect.request(&report) else {
                continue;
            };
            let mut req = http
                .client
                .request(wire.method.clone(), server.url(&wire.path))
                .body(wire.body.clone());
            for (name, value) in &wire.headers {
                req = req.header(*name, value.as_str());
            }
            http.send(req);
        }
    }
    http.get(&server.url("/v1/accounts/2"), &generated);
    http.get(
        &server.url("/v1/accounts/1"),
        "not-the-admin-token-0123456789",
    );
    let key_secret = std::fs::read_to_string(dir.path().join("v.db.key")).unwrap();

    let _ = server.child.kill();
    let _ = server.child.wait();
    let mut logs = server.startup.join("\n");
    while let Ok(line) = server.stderr.recv_timeout(Duration::from_secs(5)) {
        logs.push_str(&line);
        logs.push('\n');
    }
    assert!(logs.contains("report judged"), "the run was logged: {logs}");
    assert!(logs.lines().count() > 100, "trace level logs plenty");
    for (name, secret) in [
        ("admin token", ADMIN),
        ("imported key", imported),
        ("generated key", generated.as_str()),
        ("rotated key", rotated.as_str()),
        ("wrong key", wrong),
        ("key secret", key_secret.trim()),
    ] {
        assert!(!logs.contains(secret), "the {name} is in the logs");
    }
}

/// `verdict simulate --served`: a day-one world (abuse from the first minute, no warm-up) run
/// against a whole `verdict serve` on a clock 600 times real time, so that the service's own
/// maintenance timers, not the simulation, refresh its statistics and settle re-checks. A
/// simulated day takes about two and a half minutes of real time.
#[test]
fn a_day_one_world_runs_against_verdict_serve_on_a_compressed_clock() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("served.json");
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["simulate", "--served", "--world", "day-one", "--days", "1"])
        .args([
            "--honest",
            "30",
            "--per-strategy",
            "1",
            "--time-scale",
            "600",
        ])
        .arg("--json")
        .arg(&json)
        .env_remove("VERDICT_CONFIG")
        .current_dir(dir.path())
        .output()
        .expect("run verdict simulate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(m["config"]["warmup_days"], 0, "{stdout}");
    // Reports the simulation sent in time but that reached the service after their window (a
    // simulated minute is a tenth of a real second here, so a loaded machine makes some late)
    // are left out of the figures; those judged must still be enough to mean something.
    let honest = &m["honest"];
    let genuine = honest["genuine"]["reports"].as_f64().unwrap();
    assert!(genuine > 500.0, "{stdout}");
    assert!(
        honest["genuine_refunded_pct"].as_f64().unwrap() > 80.0,
        "{stdout}"
    );
    // Judged on day one, on the service's own timers and refits: the always-report script is
    // stopped and no honest account is ignored.
    let always = m["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["strategy"] == "always-report")
        .unwrap();
    assert_eq!(always["detected"], always["accounts"], "{stdout}");
    let wrongly = m["bars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["name"]
                .as_str()
                .unwrap()
                .starts_with("honest accounts wrongly")
        })
        .unwrap();
    assert_eq!(wrongly["value"], 0.0, "{stdout}");
}
