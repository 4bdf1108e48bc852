//! What the multi-node and outage tests share: `verdict serve` processes started the way an
//! operator starts them (environment in, address read from the start-up log line, never a
//! sleep), a PostgreSQL schema per test, an HTTP client, and one report request per dialect.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use serde_json::{Value, json};
use verdict_domain::{Family, ReportKind};
use verdict_http::dialect::registry;

pub const ADMIN: &str = "test-admin-token-0123456789";

/// A running `verdict serve`.
pub struct Node {
    child: Child,
    pub addr: String,
    /// Lines printed before "verdict serving": the first maintenance can finish before the
    /// server says it serves, and a test waiting for its line must still find it.
    before_ready: Mutex<Vec<String>>,
    stderr: mpsc::Receiver<String>,
}

/// Starts `verdict serve` on a loopback port of its own; call [`Node::ready`] to wait for it.
pub fn spawn(database_url: &str, env: &[(&str, &str)]) -> Spawned {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verdict"));
    cmd.arg("serve")
        .env_clear()
        .env("VERDICT_LISTEN", "127.0.0.1:0")
        .env("VERDICT_DATABASE_URL", database_url)
        .env("VERDICT_ADMIN_TOKEN", ADMIN)
        .env("VERDICT_LOG", "info")
        // Token captchas get 60 s by default; a slow CI machine must not push a task out of it.
        .env("VERDICT_JUDGING__WINDOWS__RECAPTCHA", "1h")
        .env("VERDICT_JUDGING__WINDOWS__HCAPTCHA", "1h")
        .envs(env.iter().copied())
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn verdict");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    // Drains stderr for the whole life of the process, so that logging never blocks it.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Spawned { child, stderr: rx }
}

/// A `verdict serve` process that has not yet said it is serving.
pub struct Spawned {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Spawned {
    /// Waits for the "verdict serving" line (at most 60 s) and reads the address from it.
    pub fn ready(mut self) -> Node {
        let mut seen = Vec::new();
        let line = loop {
            match self.stderr.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains("verdict serving") => break line,
                Ok(line) => seen.push(line),
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("verdict did not start ({e}):\n{}", seen.join("\n"));
                }
            }
        };
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("addr in the serving line")
            .to_owned();
        Node {
            child: self.child,
            addr,
            before_ready: Mutex::new(seen),
            stderr: self.stderr,
        }
    }
}

impl Node {
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Node {
        spawn(database_url, env).ready()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://host:port`, for building requests without holding the node.
    pub fn base(&self) -> String {
        self.url("")
    }

    /// The process id, to read its memory from /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Whether the process is still running (it has not crashed or exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends the process SIGTERM, as an orchestrator stopping it does.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits (at most 60 s; a bound, not a timing assertion) for the process to exit by
    /// itself, and returns how it exited.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "verdict did not exit within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every stderr line printed so far.
    pub fn log(&self) -> Vec<String> {
        let mut lines = std::mem::take(&mut *self.before_ready.lock().unwrap());
        lines.extend(self.stderr.try_iter());
        lines
    }

    /// Waits (at most 120 s) for the next stderr line containing `needle` and returns it; the
    /// lines before it are consumed.
    pub fn wait_for(&self, needle: &str) -> String {
        let mut seen = std::mem::take(&mut *self.before_ready.lock().unwrap());
        if let Some(at) = seen.iter().position(|line| line.contains(needle)) {
            let line = seen[at].clone();
            *self.before_ready.lock().unwrap() = seen.split_off(at + 1);
            return line;
        }
        loop {
            match self.stderr.recv_timeout(Duration::from_secs(120)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(e) => panic!("no line with {needle:?} ({e}):\n{}", seen.join("\n")),
            }
        }
    }
}

/// Runs an operator command of the binary (`verdict accounts create …`, `verdict tasks import
/// -`) against `database_url`, with `stdin` as its standard input; returns its JSON output
/// (`--json`).
pub fn cli(database_url: &str, args: &[&str], stdin: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(args)
        .arg("--json")
        .env_clear()
        .env("VERDICT_DATABASE_URL", database_url)
        .env("VERDICT_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn verdict");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "verdict {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PostgreSQL server the tests use; unset is a failure with a hint, never a skip.
pub fn pg_url() -> String {
    match std::env::var("VERDICT_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "VERDICT_TEST_PG_URL is not set, so the PostgreSQL tests cannot run.\n\
             ./.ci/run starts PostgreSQL and sets it; by hand:\n\
             \x20   pg_ctlcluster --skip-systemctl-redirect 15 main start\n\
             \x20   runuser -u postgres -- psql -c \"CREATE ROLE verdict LOGIN PASSWORD 'verdict'\"\n\
             \x20   runuser -u postgres -- psql -c \"CREATE DATABASE verdict_test OWNER verdict\"\n\
             \x20   export VERDICT_TEST_PG_URL=postgres://verdict:verdict@127.0.0.1:5432/verdict_test"
        ),
    }
}

/// A schema of its own on the test server, dropped with this value.
pub struct PgSchema {
    /// The test server's URL, selecting this schema (`options=-c search_path=…`).
    pub url: String,
    base: String,
    name: String,
}

impl PgSchema {
    pub async fn create() -> PgSchema {
        let base = pg_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("n_{}_{}", std::process::id(), nanos);
        pg_execute(&base, &format!("CREATE SCHEMA {name}")).await;
        let url = with_schema(&base, &name);
        PgSchema { url, base, name }
    }

    /// The same schema, reached through another host and port (a proxy).
    pub fn url_via(&self, addr: &str) -> String {
        let (head, tail) = self.url.split_once('@').expect("user@host in the URL");
        let path = tail.find('/').map(|i| &tail[i..]).unwrap_or("");
        format!("{head}@{addr}{path}")
    }

    /// The host:port of the server itself.
    pub fn server_addr(&self) -> String {
        let tail = self.base.split_once('@').expect("user@host in the URL").1;
        let hostport = tail.split(['/', '?']).next().unwrap();
        if hostport.contains(':') {
            hostport.to_owned()
        } else {
            format!("{hostport}:5432")
        }
    }

    /// A client on this schema, for looking at what the nodes wrote.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test schema");
        tokio::spawn(connection);
        client
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, sql) = (
            self.base.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(pg_execute(&url, &sql));
        })
        .join();
    }
}

fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

async fn pg_execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to VERDICT_TEST_PG_URL: {e}"));
    let conn = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = conn.await;
}

/// An HTTP answer: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub async fn send(req: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok(Answer {
        status,
        body: resp.text().await?,
    })
}

pub async fn admin_get(http: &reqwest::Client, node: &Node, path: &str) -> Answer {
    send(http.get(node.url(path)).bearer_auth(ADMIN))
        .await
        .expect("admin GET")
}

pub async fn admin_post(http: &reqwest::Client, node: &Node, path: &str, body: &Value) -> Answer {
    send(http.post(node.url(path)).bearer_auth(ADMIN).json(body))
        .await
        .expect("admin POST")
}

/// Creates an account; returns its id, name and API key.
pub async fn create_account(http: &reqwest::Client, node: &Node, name: &str) -> (i64, String) {
    let answer = admin_post(http, node, "/v1/accounts", &json!({ "name": name })).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let v = answer.json();
    (
        v["id"].as_i64().unwrap(),
        v["api_key"].as_str().unwrap().to_owned(),
    )
}

/// Creates an account in the trusted cohort; returns its id and API key.
pub async fn create_trusted_account(
    http: &reqwest::Client,
    node: &Node,
    name: &str,
) -> (i64, String) {
    let body = json!({ "name": name, "trusted": true });
    let answer = admin_post(http, node, "/v1/accounts", &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let v = answer.json();
    (
        v["id"].as_i64().unwrap(),
        v["api_key"].as_str().unwrap().to_owned(),
    )
}

/// Ingests tasks completed just now.
pub async fn ingest(
    http: &reqwest::Client,
    node: &Node,
    tasks: &[(String, &str, &str)],
    account: i64,
) {
    let records: Vec<Value> = tasks
        .iter()
        .map(|(id, captcha_type, cost)| {
            json!({ "id": id, "account": account, "type": captcha_type, "provider": "prov-a",
                    "answer": "KWG90", "cost": cost, "completed_at": now_rfc3339() })
        })
        .collect();
    let answer = admin_post(http, node, "/v1/tasks", &Value::Array(records)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["inserted"], tasks.len(), "{}", answer.body);
}

pub fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    verdict_domain::Timestamp::from_millis(i64::try_from(ms).unwrap()).to_rfc3339()
}

/// A report in one dialect's wire format; the request itself is the dialect's registry entry's
/// (`verdict_http::dialect::DIALECTS`). The variants name the ones the tests here use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// anti-captcha `/reportIncorrectRecaptcha` (integer ids, reCAPTCHA).
    AntiCaptchaIncorrect,
    /// anti-captcha `/reportCorrectRecaptcha`.
    AntiCaptchaCorrect,
    /// uCaptcha `/feedbackTask` with `invalid`.
    UCaptcha { invalid: bool },
    /// captcha.fun `POST /v1/report/{uuid}`.
    CaptchaFun,
    /// The text/audio Reporting API `POST /api/report`.
    Decaptcha,
    /// 2captcha API v2 `/reportIncorrect`.
    TwoCaptchaV2,
    /// CapMonster `/reportIncorrectTokenCaptcha`.
    CapMonster,
    /// The native API `POST /v1/reports`.
    Native { incorrect: bool },
    /// Any dialect of the registry, reporting a task of this family as incorrect.
    Registered(&'static str, Family),
}

impl Dialect {
    /// The registry's entry, the family the report is about and what it says.
    pub fn spec(self) -> (&'static registry::Dialect, Family, ReportKind) {
        let kind = |incorrect: bool| {
            if incorrect {
                ReportKind::Incorrect
            } else {
                ReportKind::Correct
            }
        };
        let (name, family, kind) = match self {
            Dialect::AntiCaptchaIncorrect => ("anticaptcha", Family::Recaptcha, kind(true)),
            Dialect::AntiCaptchaCorrect => ("anticaptcha", Family::Recaptcha, kind(false)),
            Dialect::UCaptcha { invalid } => ("ucaptcha", Family::Image, kind(invalid)),
            Dialect::CaptchaFun => ("captchafun", Family::Image, kind(true)),
            Dialect::Decaptcha => ("decaptcha", Family::Image, kind(true)),
            Dialect::TwoCaptchaV2 => ("twocaptcha_v2", Family::Recaptcha, kind(true)),
            Dialect::CapMonster => ("capmonster", Family::Recaptcha, kind(true)),
            Dialect::Native { incorrect } => ("native", Family::Image, kind(incorrect)),
            Dialect::Registered(name, family) => (name, family, kind(true)),
        };
        let entry = registry::find(name).unwrap_or_else(|| panic!("no dialect {name}"));
        (entry, family, kind)
    }

    pub fn request(
        self,
        http: &reqwest::Client,
        base: &str,
        key: &str,
        account_name: &str,
        task: &str,
    ) -> reqwest::RequestBuilder {
        let (entry, family, kind) = self.spec();
        let report = registry::Report {
            key,
            account: account_name,
            task,
            family,
            kind,
        };
        wire_request(http, base, entry, &report)
            .unwrap_or_else(|| panic!("{} cannot carry {report:?}", entry.name))
    }

    /// Whether an answer is the dialect's own success answer (the report was recorded).
    pub fn recorded(self, answer: &Answer) -> bool {
        self.spec().0.is_recorded(answer.status, &answer.body)
    }

    /// What the dialect answers while storage is unavailable.
    pub fn unavailable(self) -> Answer {
        let (status, body) = self.spec().0.unavailable;
        Answer {
            status,
            body: body.to_owned(),
        }
    }
}

/// A report in a registry dialect's wire format, sent to `base`; `None` if the dialect cannot
/// carry it (its family, its kind or its id).
pub fn wire_request(
    http: &reqwest::Client,
    base: &str,
    entry: &registry::Dialect,
    report: &registry::Report<'_>,
) -> Option<reqwest::RequestBuilder> {
    let wire = entry.request(report)?;
    let mut request = http
        .request(wire.method, format!("{base}{}", wire.path))
        .body(wire.body);
    for (name, value) in wire.headers {
        request = request.header(name, value);
    }
    Some(request)
}

/// A decimal money string ("0.0020") in micro-units.
pub fn micros(decimal: &Value) -> i64 {
    verdict_domain::Amount::parse(decimal.as_str().expect("a decimal string"))
        .expect("a decimal amount")
        .micros()
}
