//! The simulation over the wire: verdict's HTTP service on loopback, and every account
//! creation, task batch, report and second solve sent through the native API as a platform
//! would send them. Either the service in this process on a clock the simulation sets, with
//! maintenance run beside it at the top of each simulated hour; or a whole `verdict serve`
//! process on a compressed clock, whose own timers refresh the statistics and settle
//! re-checks, with the simulation keeping pace with that clock.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};
use verdict_domain::{KeyHash, Policy, ReportKind, TaskInput, Timestamp, Verdict};
use verdict_engine::{Clock, Engine, ManualClock, ScaledClock, SystemClock};
use verdict_http::{AppState, Limits};

use crate::platform::{Answer, InProcess, Judged, Platform, SimReport};
use crate::scores::ShownScore;

const ADMIN_TOKEN: &str = "Simulation-Admin-Token-7f3a9c2e";

#[derive(Debug)]
pub struct OverHttp {
    service: Service,
    client: reqwest::Client,
    base: String,
    _dir: tempfile::TempDir,
}

/// Where the service runs.
#[derive(Debug)]
enum Service {
    /// verdict's HTTP app in this process, on a clock the simulation moves.
    InProcess {
        engine: Engine,
        clock: Arc<ManualClock>,
        server: tokio::task::JoinHandle<()>,
    },
    /// A `verdict serve` process on a compressed clock the simulation waits for.
    Served { child: Child, clock: ScaledClock },
}

/// How long after its start a served verdict's clock begins to run: it must be answering by
/// then, or the simulation would begin behind the clock (at 600×, every second late is ten
/// simulated minutes of reports arriving after their windows).
const STARTUP: Duration = Duration::from_secs(10);

impl OverHttp {
    /// `GET /v1/accounts/{account}`, as the operator sees it.
    async fn account_view(&self, account: i64) -> anyhow::Result<Value> {
        let request = self.admin(
            self.client
                .get(format!("{}/v1/accounts/{account}", self.base)),
        );
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK {
            bail!("account {account} answered {status}: {body}");
        }
        Ok(body)
    }

    /// `GET /v1/accounts/{account}/ledger`: its entries.
    async fn ledger_entries(&self, account: i64) -> anyhow::Result<Vec<Value>> {
        let request = self.admin(
            self.client
                .get(format!("{}/v1/accounts/{account}/ledger", self.base)),
        );
        let (status, mut body) = self.send(request).await?;
        if status != StatusCode::OK {
            bail!("ledger of {account} answered {status}: {body}");
        }
        Ok(match body["entries"].take() {
            Value::Array(entries) => entries,
            _ => Vec::new(),
        })
    }

    pub async fn start(policy: Policy, start: Timestamp) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory for the simulation")?;
        let (engine, clock) = InProcess::engine_in(dir.path(), policy, start)?;
        let state = AppState {
            guard: std::sync::Arc::new(verdict_http::guard::Guard::off()),
            engine: engine.clone(),
            admin: KeyHash::unkeyed(ADMIN_TOKEN),
            limits: Limits::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port for the simulation")?;
        let base = format!("http://{}", listener.local_addr()?);
        let app = verdict_http::app(state);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulation server stopped");
            }
        });
        Ok(Self {
            service: Service::InProcess {
                engine,
                clock,
                server,
            },
            client: reqwest::Client::new(),
            base,
            _dir: dir,
        })
    }

    /// Starts `bin serve` on a fresh SQLite database, its clock reading `start` [`STARTUP`]
    /// from now and running `speed` times faster than real time. `env` adds settings
    /// (`VERDICT_JUDGING__…`) on top of `config`, the operator's file if any.
    pub async fn serve(
        bin: &Path,
        config: Option<&Path>,
        env: &[(String, String)],
        start: Timestamp,
        speed: f64,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory for the simulation")?;
        // A free port: bound, read and released; the child binds it a moment later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free loopback port")?
            .port();
        let anchor = SystemClock.now().saturating_add(STARTUP);
        let clock = ScaledClock::new(start, anchor, speed);
        let mut command = Command::new(bin);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command
            .arg("serve")
            .args(["--time-origin", &start.to_rfc3339()])
            .args(["--time-anchor", &anchor.as_millis().to_string()])
            .args(["--time-scale", &speed.to_string()])
            .env(
                "VERDICT_DATABASE_URL",
                format!("sqlite://{}", dir.path().join("served.db").display()),
            )
            .env("VERDICT_LISTEN", format!("127.0.0.1:{port}"))
            .env("VERDICT_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("VERDICT_LOG", "warn")
            // Every simulated client calls from this one address: limit per key only.
            .env("VERDICT_LIMITS__PER_ADDRESS__PER_SECOND", "0")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command
            .spawn()
            .with_context(|| format!("starting {} serve", bin.display()))?;
        let platform = Self {
            service: Service::Served { child, clock },
            client: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        loop {
            let ready = platform
                .client
                .get(format!("{}/readyz", platform.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            if SystemClock.now() > anchor {
                bail!(
                    "{} serve did not answer within {STARTUP:?}, when its clock started: the \
                     simulation would begin behind it",
                    bin.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(platform)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<(StatusCode, Value)> {
        let response = request.send().await?;
        let status = response.status();
        let body = if status == StatusCode::NO_CONTENT {
            Value::Null
        } else {
            response.json().await.context("a body that is not JSON")?
        };
        Ok((status, body))
    }

    fn admin(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(ADMIN_TOKEN)
    }
}

impl Drop for OverHttp {
    fn drop(&mut self) {
        match &mut self.service {
            Service::InProcess { server, .. } => server.abort(),
            Service::Served { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn judged_from(report: &Value) -> anyhow::Result<Judged> {
    let verdict = report["verdict"]
        .as_str()
        .and_then(Verdict::parse)
        .with_context(|| format!("a report without a verdict: {report}"))?;
    let refund = match report["refund"].as_str() {
        Some(text) => verdict_domain::Amount::parse(text)
            .map_err(|e| anyhow::anyhow!("refund {text:?}: {e}"))?
            .micros(),
        None => 0,
    };
    Ok(Judged {
        verdict,
        reason: report["reason"].as_str().unwrap_or_default().to_owned(),
        refund,
        lane: report["evidence"]["lane"].as_str().map(str::to_owned),
        screen: report["evidence"]["lane"]
            .is_string()
            .then(|| report["evidence"]["screen"].clone()),
    })
}

impl Platform for OverHttp {
    async fn set_time(&self, t: Timestamp) {
        match &self.service {
            Service::InProcess { clock, .. } => clock.set(t),
            Service::Served { clock, .. } => {
                let wait = clock.real_time_of(t).millis_since(SystemClock.now());
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
                }
            }
        }
    }

    async fn create_account(&self, name: &str, trusted: bool) -> anyhow::Result<(i64, String)> {
        let request = self
            .admin(self.client.post(format!("{}/v1/accounts", self.base)))
            .json(&json!({ "name": name, "trusted": trusted }));
        let (status, body) = self.send(request).await?;
        if status != StatusCode::CREATED {
            bail!("creating an account answered {status}: {body}");
        }
        let id = body["id"].as_i64().context("account id")?;
        let key = body["api_key"].as_str().context("api key")?.to_owned();
        Ok((id, key))
    }

    async fn ingest(&self, tasks: Vec<TaskInput>) -> anyhow::Result<()> {
        let records: Vec<Value> = tasks
            .into_iter()
            .map(|t| {
                json!({
                    "id": t.id, "account": t.account, "type": t.captcha_type,
                    "provider": t.provider, "worker": t.worker, "answer": t.answer,
                    "cost": t.cost, "completed_at": t.completed_at,
                })
            })
            .collect();
        let count = records.len();
        let request = self
            .admin(self.client.post(format!("{}/v1/tasks", self.base)))
            .json(&records);
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK || body["inserted"].as_u64() != Some(count as u64) {
            bail!("ingest of {count} tasks answered {status}: {body}");
        }
        Ok(())
    }

    async fn report(&self, key: &str, report: &SimReport) -> anyhow::Result<Answer> {
        let kind = match report.kind {
            ReportKind::Incorrect => "incorrect",
            ReportKind::Correct => "correct",
        };
        let mut body = json!({ "task": report.task.to_string(), "kind": kind });
        if let Some(correction) = &report.correction {
            body["correction"] = correction.as_str().into();
        }
        let request = self
            .client
            .post(format!("{}/v1/reports", self.base))
            .bearer_auth(key)
            .json(&body);
        let (status, body) = self.send(request).await?;
        Ok(match status {
            StatusCode::CREATED => Answer::Recorded(judged_from(&body["report"])?),
            StatusCode::OK => Answer::Repeated(judged_from(&body["report"])?),
            s if s.is_client_error() => Answer::Refused(
                body["error"]["code"]
                    .as_str()
                    .with_context(|| format!("a refusal without a code: {body}"))?
                    .to_owned(),
            ),
            s => bail!("a report answered {s}: {body}"),
        })
    }

    async fn next_recheck(&self) -> anyhow::Result<Option<u64>> {
        let request = self.admin(self.client.get(format!("{}/v1/rechecks/next", self.base)));
        let (status, body) = self.send(request).await?;
        match status {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::OK => Ok(body["task"]["id"].as_str().and_then(|s| s.parse().ok())),
            s => bail!("the re-check queue answered {s}: {body}"),
        }
    }

    async fn answer_recheck(&self, task: u64, answer: &str) -> anyhow::Result<Option<Judged>> {
        let request = self
            .admin(
                self.client
                    .post(format!("{}/v1/rechecks/{task}", self.base)),
            )
            .json(&json!({ "answer": answer }));
        let (status, body) = self.send(request).await?;
        match status {
            StatusCode::OK => Ok(Some(judged_from(&body["report"])?)),
            StatusCode::ACCEPTED | StatusCode::CONFLICT | StatusCode::NOT_FOUND => Ok(None),
            s => bail!("a second answer answered {s}: {body}"),
        }
    }

    async fn maintain(&self) -> anyhow::Result<()> {
        // A served verdict does this on its own timers.
        if let Service::InProcess { engine, .. } = &self.service {
            engine.refresh_statistics().await?;
            engine.settle_overdue_rechecks().await?;
        }
        Ok(())
    }

    async fn ignores(&self, account: i64) -> anyhow::Result<(u32, Option<Timestamp>)> {
        let body = self.account_view(account).await?;
        let history = &body["ignore_history"];
        let count = history["periods"].as_u64().unwrap_or(0);
        let last = match history["last_started_at"].as_str() {
            Some(t) => {
                Some(Timestamp::parse_rfc3339(t).map_err(|e| anyhow::anyhow!("{t:?}: {e}"))?)
            }
            None => None,
        };
        Ok((u32::try_from(count).unwrap_or(u32::MAX), last))
    }

    async fn screen_flagged(&self, account: i64) -> anyhow::Result<bool> {
        Ok(self.account_view(account).await?["screen_flag"].is_object())
    }

    async fn untrust(&self, account: i64) -> anyhow::Result<()> {
        let request = self
            .admin(
                self.client
                    .patch(format!("{}/v1/accounts/{account}", self.base)),
            )
            .json(&json!({ "trusted": false }));
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK {
            bail!("untrusting account {account} answered {status}: {body}");
        }
        Ok(())
    }

    async fn reversals(&self, account: i64) -> anyhow::Result<Vec<(u64, i64)>> {
        let mut out = Vec::new();
        for entry in self.ledger_entries(account).await? {
            if entry["kind"] != "reversal" {
                continue;
            }
            let task = entry["task"].as_str().and_then(|s| s.parse().ok());
            let amount = entry["amount"]
                .as_str()
                .and_then(|a| verdict_domain::Amount::parse(a).ok());
            if let (Some(task), Some(amount)) = (task, amount) {
                out.push((task, -amount.micros()));
            }
        }
        Ok(out)
    }

    async fn money(&self, account: i64) -> anyhow::Result<(i64, i64)> {
        let micros = |v: &Value| -> anyhow::Result<i64> {
            let text = v
                .as_str()
                .with_context(|| format!("an amount that is not text: {v}"))?;
            verdict_domain::Amount::parse(text)
                .map(|a| a.micros())
                .map_err(|e| anyhow::anyhow!("amount {text:?}: {e}"))
        };
        let balance = micros(&self.account_view(account).await?["balance"])?;
        let mut sum = 0;
        for entry in self.ledger_entries(account).await? {
            sum += micros(&entry["amount"])?;
        }
        Ok((balance, sum))
    }

    async fn provider_scores(&self) -> anyhow::Result<Vec<ShownScore>> {
        let request = self.admin(self.client.get(format!("{}/v1/providers", self.base)));
        let (status, body) = self.send(request).await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "providers answered {status}: {body}"
        );
        let mut shown = Vec::new();
        for listed in body["types"].as_array().into_iter().flatten() {
            let captcha_type = listed["type"].as_str().unwrap_or_default();
            for p in listed["providers"].as_array().into_iter().flatten() {
                shown.push(ShownScore {
                    provider: p["provider"].as_str().unwrap_or_default().to_owned(),
                    captcha_type: captcha_type.to_owned(),
                    mean: p["score"]
                        .as_f64()
                        .with_context(|| format!("a score without a mean: {p}"))?,
                    lower: p["interval"][0]
                        .as_f64()
                        .with_context(|| format!("a score without an interval: {p}"))?,
                    upper: p["interval"][1]
                        .as_f64()
                        .with_context(|| format!("a score without an interval: {p}"))?,
                });
            }
        }
        Ok(shown)
    }

    async fn final_decision(&self, task: u64) -> anyhow::Result<Option<Judged>> {
        let request = self.admin(self.client.get(format!("{}/v1/tasks/{task}", self.base)));
        let (status, body) = self.send(request).await?;
        match status {
            StatusCode::OK if body["report"].is_object() => Ok(Some(judged_from(&body["report"])?)),
            StatusCode::OK | StatusCode::NOT_FOUND => Ok(None),
            s => bail!("task {task} answered {s}: {body}"),
        }
    }
}
