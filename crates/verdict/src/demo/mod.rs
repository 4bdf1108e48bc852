//! `verdict demo`: a server on its own SQLite file, and a client that creates three accounts,
//! ingests tasks and reports through every dialect, printing each wire answer next to the
//! verdict verdict reached (which the wire alone never shows). Then, unless told to exit,
//! it keeps serving with live traffic (`traffic.rs`) for the dashboard at `/`.

mod traffic;

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use verdict_domain::{CaptchaType, Family, KeyHash, ReportKind, Timestamp};
use verdict_engine::generate_secret;
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry::{self, WireRequest};

use crate::config::Config;
use crate::server;

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    admin: String,
    step: usize,
}

/// A report as the named dialect's clients send it (the registry's request builder).
fn wire(
    http: &reqwest::Client,
    base: &str,
    dialect: &str,
    report: &registry::Report<'_>,
) -> anyhow::Result<reqwest::RequestBuilder> {
    let entry = registry::find(dialect).with_context(|| format!("no dialect {dialect}"))?;
    let wire = entry
        .request(report)
        .with_context(|| format!("{dialect} cannot carry {report:?}"))?;
    Ok(request(http, base, wire))
}

fn request(http: &reqwest::Client, base: &str, wire: WireRequest) -> reqwest::RequestBuilder {
    let mut request = http
        .request(wire.method, format!("{base}{}", wire.path))
        .body(wire.body);
    for (name, value) in wire.headers {
        request = request.header(name, value);
    }
    request
}

/// What the demo prints for one exchange.
struct Exchange<'a> {
    dialect: &'a str,
    call: String,
    about: &'a str,
    task: Option<&'a str>,
}

impl Client {
    async fn admin_post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("POST {path} failed: {status} {body}");
        }
        Ok(body)
    }

    async fn admin_get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await?;
        Ok(resp.json().await?)
    }

    /// A report as the named dialect's clients send it (the registry's request builder).
    fn wire(
        &self,
        dialect: &str,
        report: &registry::Report<'_>,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        wire(&self.http, &self.base, dialect, report)
    }

    async fn send(
        &mut self,
        ex: Exchange<'_>,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<()> {
        self.step += 1;
        let resp = request.send().await?;
        let status = resp.status().as_u16();
        let body = resp.text().await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{:>2}. {:<12} {}", self.step, ex.dialect, ex.call)?;
        writeln!(out, "    {}", ex.about)?;
        writeln!(out, "    wire answer  {status} {body}")?;
        if let Some(task) = ex.task {
            let view = self.admin_get(&format!("/v1/tasks/{task}")).await?;
            let report = &view["report"];
            if report.is_null() {
                writeln!(
                    out,
                    "    verdict      nothing recorded (the request was refused before judging)"
                )?;
            } else {
                let refund = report["refund"]
                    .as_str()
                    .map(|r| format!("; refunded {r}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    verdict      {} ({}){refund}",
                    report["verdict"].as_str().unwrap_or("?"),
                    report["reason"].as_str().unwrap_or("?"),
                )?;
            }
        }
        writeln!(out)?;
        Ok(())
    }
}

/// A script that reports every reCAPTCHA token it gets, as it gets it, through anti-captcha:
/// the service acknowledges each report, and verdict puts the account on ignored standing
/// within its first twenty tasks. Then 2captcha's answer to the ignored account.
async fn always_report_script(c: &mut Client) -> anyhow::Result<Value> {
    let mallory = c
        .admin_post(
            "/v1/accounts",
            json!({ "name": format!("mallory-{}", &generate_secret()[..6]) }),
        )
        .await?;
    let (id, key) = (
        mallory["id"].clone(),
        mallory["api_key"].as_str().unwrap_or_default().to_owned(),
    );
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "mallory (account {id}) runs a script that reports every reCAPTCHA token as wrong:"
    )?;
    let mut flagged = None;
    for i in 1..=21 {
        let now = Timestamp::from_millis(i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis(),
        )?);
        let task = numeric_id();
        c.admin_post(
            "/v1/tasks",
            json!([{ "id": task, "account": id, "type": "recaptcha_v2", "provider": "provider-b",
                     "answer": "03AFcWeD…", "cost": "0.0020", "completed_at": ago(now, 2) }]),
        )
        .await?;
        let wire = c
            .wire(
                "anticaptcha",
                &registry::Report {
                    key: &key,
                    account: "mallory",
                    task: &task,
                    family: Family::Recaptcha,
                    kind: ReportKind::Incorrect,
                },
            )?
            .send()
            .await?
            .text()
            .await?;
        let report = c.admin_get(&format!("/v1/tasks/{task}")).await?["report"].clone();
        let reason = report["reason"].as_str().unwrap_or("?").to_owned();
        writeln!(
            out,
            "    task {i:>2}: anti-captcha answered {wire}; verdict {} ({reason}){}",
            report["verdict"].as_str().unwrap_or("?"),
            report["refund"]
                .as_str()
                .map(|r| format!(", refunded {r}"))
                .unwrap_or_default()
        )?;
        if flagged.is_none() && reason == "rate_above_cohort" {
            flagged = Some(report);
        }
    }
    if let Some(report) = flagged {
        let fast = &report["evidence"]["screen"]["fast_lane"];
        writeln!(
            out,
            "    the screen's numbers: {} of {} tasks reported in {} h, p = {:.1e} < {:e}; ignored until {}",
            fast["incorrect"],
            fast["tasks"],
            fast["window_hours"],
            fast["p_value"].as_f64().unwrap_or(f64::NAN),
            fast["threshold"].as_f64().unwrap_or(f64::NAN),
            report["evidence"]["ignored_until"].as_str().unwrap_or("?"),
        )?;
        let ledger = c.admin_get(&format!("/v1/accounts/{id}/ledger")).await?;
        let mut reversed = (0, verdict_domain::Amount::ZERO);
        for entry in ledger["entries"].as_array().into_iter().flatten() {
            if entry["kind"] == "reversal" {
                let amount = verdict_domain::Amount::parse(entry["amount"].as_str().unwrap_or("0"))
                    .unwrap_or(verdict_domain::Amount::ZERO);
                reversed = (reversed.0 + 1, reversed.1 + amount);
            }
        }
        writeln!(
            out,
            "    clawback: the burst's {} refunds ({}) reversed in mallory's ledger",
            reversed.0,
            reversed.1.to_string().trim_start_matches('-')
        )?;
    }
    let late = numeric_id();
    c.admin_post(
        "/v1/tasks",
        json!([{ "id": late, "account": id, "type": "recaptcha_v2", "provider": "provider-b",
                 "answer": "03AFcWeE…", "cost": "0.0020",
                 "completed_at": Timestamp::from_millis(i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis())?).to_rfc3339() }]),
    )
    .await?;
    drop(out);
    let request = c.wire(
        "twocaptcha",
        &registry::Report {
            key: &key,
            account: "mallory",
            task: &late,
            family: Family::Recaptcha,
            kind: ReportKind::Incorrect,
        },
    )?;
    writeln!(std::io::stdout().lock())?;
    c.send(
        Exchange {
            dialect: "2captcha",
            call: "GET /res.php?action=reportbad".into(),
            about: "mallory, now ignored, reports through 2captcha, which says so in its own words",
            task: Some(&late),
        },
        request,
    )
    .await?;
    Ok(id)
}

/// One report through every dialect of the registry, each from carol on a fresh task of a family
/// it takes: a dialect added to the registry shows up here without a line of its own.
async fn every_dialect(c: &mut Client) -> anyhow::Result<()> {
    let carol = c
        .admin_post(
            "/v1/accounts",
            json!({ "name": format!("carol-{}", &generate_secret()[..6]), "trusted": true }),
        )
        .await?;
    let (id, key, name) = (
        carol["id"].clone(),
        carol["api_key"].as_str().unwrap_or_default().to_owned(),
        carol["name"].as_str().unwrap_or_default().to_owned(),
    );
    writeln!(
        std::io::stdout().lock(),
        "carol (account {id}, trusted) reports one wrong answer through every dialect verdict speaks:\n"
    )?;
    for dialect in DIALECTS {
        let family = dialect.some_family();
        let captcha_type = CaptchaType::ALL
            .into_iter()
            .find(|t| t.family() == family)
            .context("a captcha type of the family")?;
        let task = numeric_id();
        let now = Timestamp::from_millis(i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis(),
        )?);
        c.admin_post(
            "/v1/tasks",
            json!([{ "id": task, "account": id, "type": captcha_type.as_str(), "provider": "provider-a",
                     "answer": "X7", "cost": "0.0010", "completed_at": ago(now, 2) }]),
        )
        .await?;
        let report = registry::Report {
            key: &key,
            account: &name,
            task: &task,
            family,
            kind: ReportKind::Incorrect,
        };
        let wire = dialect
            .request(&report)
            .with_context(|| format!("{} cannot carry {report:?}", dialect.name))?;
        // The path only: res.php-style query strings carry the key.
        let call = format!(
            "{} {}",
            wire.method,
            wire.path.split('?').next().unwrap_or_default()
        );
        let about = format!(
            "carol: the answer to her {} task was wrong",
            captcha_type.as_str()
        );
        let request = request(&c.http, &c.base, wire);
        c.send(
            Exchange {
                dialect: dialect.service,
                call,
                about: &about,
                task: Some(&task),
            },
            request,
        )
        .await?;
    }
    Ok(())
}

fn ago(now: Timestamp, secs: u64) -> String {
    now.saturating_sub(Duration::from_secs(secs)).to_rfc3339()
}

fn numeric_id() -> String {
    // 2captcha-sized ids (beyond 2^32), from the random bits of a UUID.
    let n = uuid::Uuid::new_v4().as_u128() % 900_000_000_000 + 100_000_000_000;
    n.to_string()
}

pub async fn run(config: Config, exit: bool) -> anyhow::Result<()> {
    let engine = server::open_engine(&config).await?;
    let (admin_token, admin_hash) = match &config.admin_token {
        Some(token) => {
            let token = secrecy::ExposeSecret::expose_secret(token).to_owned();
            let hash = KeyHash::unkeyed(&token);
            (token, hash)
        }
        None => {
            let token = generate_secret();
            let hash = KeyHash::unkeyed(&token);
            (token, hash)
        }
    };
    let listener = server::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving_config = config.clone();
    let serving = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = stopped => {},
                () = server::shutdown_signal() => {},
            }
        };
        server::run(engine, admin_hash, &serving_config, listener, shutdown).await
    });

    let mut client = Client {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
        admin: admin_token.clone(),
        step: 0,
    };
    let header = format!(
        "verdict demo: serving every dialect on http://{addr}, data in {}\n\
         admin token for this run: {admin_token}\n",
        config.database_url
    );
    std::io::stdout().lock().write_all(header.as_bytes())?;
    scenario(&mut client).await.context("demo scenario")?;

    if exit {
        let _ = stop.send(());
    } else {
        let hint = format!(
            "Still serving on http://{addr}.\n\
             Dashboard: open http://{addr}/ and sign in with the admin token above.\n\
             API: curl -s -H 'Authorization: Bearer {admin_token}' http://{addr}/v1/reports\n\
             Ctrl-C stops.\n\n"
        );
        std::io::stdout().lock().write_all(hint.as_bytes())?;
        let traffic = client.clone();
        tokio::spawn(async move {
            if let Err(e) = traffic::run(traffic).await {
                eprintln!("demo traffic stopped: {e:#}");
            }
        });
    }
    serving.await??;
    Ok(())
}

async fn scenario(c: &mut Client) -> anyhow::Result<()> {
    let alice = c
        .admin_post(
            "/v1/accounts",
            json!({ "name": format!("alice-{}", &generate_secret()[..6]) }),
        )
        .await?;
    let bob = c
        .admin_post(
            "/v1/accounts",
            json!({ "name": format!("bob-{}", &generate_secret()[..6]) }),
        )
        .await?;
    let (alice_id, alice_key, alice_name) = (
        alice["id"].clone(),
        alice["api_key"].as_str().unwrap_or_default().to_owned(),
        alice["name"].as_str().unwrap_or_default().to_owned(),
    );
    let (bob_id, bob_key) = (
        bob["id"].clone(),
        bob["api_key"].as_str().unwrap_or_default().to_owned(),
    );

    let now = Timestamp::from_millis(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?);
    let image = uuid::Uuid::new_v4().to_string();
    let audio = uuid::Uuid::new_v4().to_string();
    let image_right = uuid::Uuid::new_v4().to_string();
    let recaptcha = numeric_id();
    let recaptcha_good = numeric_id();
    let recaptcha_late = numeric_id();
    let hcaptcha = numeric_id();
    let turnstile = uuid::Uuid::new_v4().to_string();
    let geetest = numeric_id();
    let image_numeric = numeric_id();
    let funcaptcha = uuid::Uuid::new_v4().to_string();
    let turnstile_capsolver = uuid::Uuid::new_v4().to_string();
    let task = |id: &str,
                account: &Value,
                t: &str,
                answer: &str,
                cost: &str,
                completed_at: String| {
        json!({ "id": id, "account": account, "type": t, "provider": "provider-a", "worker": "w-17",
                "answer": answer, "cost": cost, "completed_at": completed_at })
    };
    let tasks = json!([
        task(
            &image,
            &alice_id,
            "image",
            "W7KQ2",
            "0.0010",
            ago(now, 3600)
        ),
        task(
            &audio,
            &alice_id,
            "audio",
            "seven four one",
            "0.0020",
            ago(now, 600)
        ),
        task(
            &image_right,
            &alice_id,
            "image",
            "KWG90",
            "0.0010",
            ago(now, 120)
        ),
        task(
            &recaptcha,
            &alice_id,
            "recaptcha_v2",
            "03AFcWeA…",
            "0.0020",
            ago(now, 15)
        ),
        task(
            &recaptcha_good,
            &alice_id,
            "recaptcha_v3",
            "03AFcWeB…",
            "0.0025",
            ago(now, 10)
        ),
        task(
            &recaptcha_late,
            &alice_id,
            "recaptcha_v2",
            "03AFcWeC…",
            "0.0020",
            ago(now, 300)
        ),
        task(
            &hcaptcha,
            &alice_id,
            "hcaptcha",
            "P1_eyJ0…",
            "0.0030",
            ago(now, 5)
        ),
        task(
            &turnstile,
            &alice_id,
            "turnstile",
            "0.zq3…",
            "0.0015",
            ago(now, 20)
        ),
        task(
            &geetest,
            &bob_id,
            "geetest",
            "{\"lot_number\":…}",
            "0.0030",
            ago(now, 8)
        ),
        task(
            &image_numeric,
            &alice_id,
            "image",
            "J4N7",
            "0.0010",
            ago(now, 30)
        ),
        task(
            &funcaptcha,
            &alice_id,
            "funcaptcha",
            "5217c1f6…",
            "0.0040",
            ago(now, 12)
        ),
        task(
            &turnstile_capsolver,
            &alice_id,
            "turnstile",
            "0.Xy7…",
            "0.0015",
            ago(now, 6)
        ),
        json!({ "id": "007", "account": alice_id, "type": "image", "provider": "p", "cost": "0.001", "completed_at": ago(now, 1) }),
    ]);
    let ingested = c.admin_post("/v1/tasks", tasks).await?;
    writeln!(
        std::io::stdout().lock(),
        "Created accounts {alice_id} (alice) and {bob_id} (bob); ingested tasks: {ingested}\n"
    )?;

    let base = c.base.clone();
    let http = c.http.clone();
    // Alice's reports in the words of each dialect's clients, from the registry.
    let alice_says = registry::Report {
        key: &alice_key,
        account: &alice_name,
        task: "",
        family: Family::Image,
        kind: ReportKind::Incorrect,
    };
    c.send(
        Exchange {
            dialect: "captcha.fun",
            call: format!("POST /v1/report/{image}"),
            about: "alice: image task solved an hour ago was wrong",
            task: Some(&image),
        },
        wire(
            &http,
            &base,
            "captchafun",
            &registry::Report {
                task: &image,
                family: Family::Image,
                kind: ReportKind::Incorrect,
                ..alice_says
            },
        )?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "decaptcha",
            call: "POST /api/report {captchaGUID, correction}".into(),
            about: "alice: audio answer was wrong; the right text goes along as a training label",
            task: Some(&audio),
        },
        http.post(format!("{base}/api/report"))
            .header("x-api-key", &alice_key)
            .json(&json!({ "captchaGUID": audio, "correction": "seven four nine" })),
    )
    .await?;
    c.send(
        Exchange {
            dialect: "decaptcha",
            call: "POST /api/report {captchaGUID, correction}".into(),
            about: "alice: 'corrects' an image answer with the very answer it got (kwg90 = KWG90)",
            task: Some(&image_right),
        },
        http.post(format!("{base}/api/report"))
            .header("x-api-key", &alice_key)
            .json(&json!({ "captchaGUID": image_right, "correction": "kwg90" })),
    )
    .await?;
    let anti = |key: &str, task: &str, family: Family, kind: ReportKind| {
        wire(
            &http,
            &base,
            "anticaptcha",
            &registry::Report {
                key,
                account: "",
                task,
                family,
                kind,
            },
        )
    };
    c.send(
        Exchange {
            dialect: "anti-captcha",
            call: "POST /reportIncorrectRecaptcha".into(),
            about: "alice: reCAPTCHA token solved 15 s ago was rejected by the site",
            task: Some(&recaptcha),
        },
        anti(
            &alice_key,
            &recaptcha,
            Family::Recaptcha,
            ReportKind::Incorrect,
        )?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "anti-captcha",
            call: "POST /reportCorrectRecaptcha".into(),
            about: "alice: confirms a reCAPTCHA v3 token worked",
            task: Some(&recaptcha_good),
        },
        anti(
            &alice_key,
            &recaptcha_good,
            Family::Recaptcha,
            ReportKind::Correct,
        )?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "anti-captcha",
            call: "POST /reportIncorrectRecaptcha".into(),
            about: "alice: reports a token solved 5 minutes ago (window: 60 s)",
            task: Some(&recaptcha_late),
        },
        anti(
            &alice_key,
            &recaptcha_late,
            Family::Recaptcha,
            ReportKind::Incorrect,
        )?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "anti-captcha",
            call: "POST /reportIncorrectHcaptcha".into(),
            about: "bob: reports alice's task (answered exactly as an unknown task)",
            task: Some(&hcaptcha),
        },
        anti(&bob_key, &hcaptcha, Family::Hcaptcha, ReportKind::Incorrect)?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "anti-captcha",
            call: "POST /reportIncorrectImageCaptcha".into(),
            about: "alice: sends an hCaptcha task to the image endpoint",
            task: Some(&hcaptcha),
        },
        anti(&alice_key, &hcaptcha, Family::Image, ReportKind::Incorrect)?,
    )
    .await?;
    let feedback = |kind: ReportKind| {
        wire(
            &http,
            &base,
            "ucaptcha",
            &registry::Report {
                task: &turnstile,
                family: Family::Turnstile,
                kind,
                ..alice_says
            },
        )
    };
    c.send(
        Exchange {
            dialect: "uCaptcha",
            call: "POST /feedbackTask {invalid: true}".into(),
            about: "alice: Turnstile token was rejected",
            task: Some(&turnstile),
        },
        feedback(ReportKind::Incorrect)?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "uCaptcha",
            call: "POST /feedbackTask {invalid: true}".into(),
            about: "alice: the same feedback again (a client retry): same answer, no second refund",
            task: Some(&turnstile),
        },
        feedback(ReportKind::Incorrect)?,
    )
    .await?;
    c.send(
        Exchange {
            dialect: "uCaptcha",
            call: "POST /feedbackTask {invalid: false}".into(),
            about: "alice: now says the same token worked: the first report stands",
            task: Some(&turnstile),
        },
        feedback(ReportKind::Correct)?,
    )
    .await?;
    c.send(
        Exchange { dialect: "2captcha", call: "GET /res.php?action=reportbad".into(), about: "alice: the token refused at step 6 again, through 2captcha, whose window is 15 minutes", task: Some(&recaptcha_late) },
        wire(&http, &base, "twocaptcha", &registry::Report { task: &recaptcha_late, family: Family::Recaptcha, kind: ReportKind::Incorrect, ..alice_says })?,
    ).await?;
    c.send(
        Exchange { dialect: "2captcha", call: "GET /res.php?action=reportbad&json=1 (again)".into(), about: "alice: a second report of the same captcha gets 2captcha's documented duplicate answer", task: Some(&recaptcha_late) },
        http.get(format!("{base}/res.php?key={alice_key}&action=reportbad&id={recaptcha_late}&json=1")),
    ).await?;
    c.send(
        Exchange {
            dialect: "CapMonster",
            call: "POST /reportIncorrectTokenCaptcha".into(),
            about: "alice: the hCaptcha token of step 8, through CapMonster's token method",
            task: Some(&hcaptcha),
        },
        wire(
            &http,
            &base,
            "capmonster",
            &registry::Report {
                task: &hcaptcha,
                family: Family::Hcaptcha,
                kind: ReportKind::Incorrect,
                ..alice_says
            },
        )?,
    )
    .await?;
    c.send(
        Exchange { dialect: "capsolver", call: "POST /getToken (python3-capsolver's feedback)".into(), about: "alice: a Turnstile token rejected, sent where python3-capsolver 1.2.2 sends feedback", task: Some(&turnstile_capsolver) },
        http.post(format!("{base}/getToken")).json(&json!({
            "clientKey": alice_key, "task": {}, "callbackUrl": null, "appId": "3E36E3CD-7EB5-4CAF-AA15-91011E652321",
            "result": { "type": "Control", "invalid": true, "code": 1001, "message": "invalid token" }, "taskId": turnstile_capsolver
        })),
    ).await?;
    c.send(
        Exchange {
            dialect: "regotcha",
            call: "POST /feedbackTask {valid: true}".into(),
            about: "alice: a FunCaptcha token worked (regotcha's flag is 'valid')",
            task: Some(&funcaptcha),
        },
        wire(
            &http,
            &base,
            "regotcha",
            &registry::Report {
                task: &funcaptcha,
                family: Family::Funcaptcha,
                kind: ReportKind::Correct,
                ..alice_says
            },
        )?,
    )
    .await?;
    c.send(
        Exchange { dialect: "DBC", call: format!("POST /api/captcha/{image_numeric}/report"), about: "alice: an image answer was wrong, as DeathByCaptcha's client reports it (username and key as password)", task: Some(&image_numeric) },
        wire(&http, &base, "deathbycaptcha", &registry::Report { task: &image_numeric, family: Family::Image, kind: ReportKind::Incorrect, ..alice_says })?,
    ).await?;
    c.send(
        Exchange {
            dialect: "native",
            call: "POST /v1/reports".into(),
            about: "bob: reports his GeeTest task through verdict's own API",
            task: Some(&geetest),
        },
        http.post(format!("{base}/v1/reports"))
            .bearer_auth(&bob_key)
            .json(&json!({ "task": geetest, "kind": "incorrect", "message": "site said invalid" })),
    )
    .await?;

    every_dialect(c).await?;
    let mallory = always_report_script(c).await?;

    let mut out = std::io::stdout().lock();
    for (name, id) in [
        ("alice", &alice_id),
        ("bob", &bob_id),
        ("mallory", &mallory),
    ] {
        let account = c.admin_get(&format!("/v1/accounts/{id}")).await?;
        writeln!(
            out,
            "{name} (account {id}): balance {} refunded, standing {}, last 24 h: {}",
            account["balance"].as_str().unwrap_or("?"),
            account["standing"]["state"].as_str().unwrap_or("?"),
            account["stats"]
        )?;
    }
    writeln!(out)?;
    drop(out);
    providers_and_routing(c).await
}

/// What the reports above say about the solvers: each provider's score, every report weighed
/// by its reporter's trust (mallory's complaints against provider-b count for little, then for
/// nothing), and one routing decision with its reasons.
async fn providers_and_routing(c: &Client) -> anyhow::Result<()> {
    let providers = c.admin_get("/v1/providers?type=recaptcha_v2").await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "GET /v1/providers?type=recaptcha_v2 — reports weighed by their reporters' trust:"
    )?;
    for p in providers["providers"].as_array().into_iter().flatten() {
        let s = &p["reliability"];
        writeln!(
            out,
            "  #{} {}: score {:.3} (90 % in {:.3}..{:.3}) from {} reports weighing {:.2} good, {:.2} bad",
            p["rank"],
            p["provider"].as_str().unwrap_or("?"),
            s["mean"].as_f64().unwrap_or(f64::NAN),
            s["lower"].as_f64().unwrap_or(f64::NAN),
            s["upper"].as_f64().unwrap_or(f64::NAN),
            s["reports"],
            s["evidence"]["good"].as_f64().unwrap_or(f64::NAN),
            s["evidence"]["bad"].as_f64().unwrap_or(f64::NAN),
        )?;
    }
    let routed = c
        .admin_post("/v1/route", json!({ "type": "recaptcha_v2" }))
        .await?;
    let why = &routed["explanation"];
    writeln!(
        out,
        "POST /v1/route {{\"type\":\"recaptcha_v2\"}} -> {} ({}: drew success {:.3}, posterior mean {:.3}, {:.3} per success)\n",
        routed["provider"].as_str().unwrap_or("?"),
        why["rule"].as_str().unwrap_or("?"),
        why["sampled_success"].as_f64().unwrap_or(f64::NAN),
        why["success"]["mean"].as_f64().unwrap_or(f64::NAN),
        why["cost_per_success"].as_f64().unwrap_or(f64::NAN),
    )?;
    Ok(())
}
