//! The demo's live traffic, after its script: a small platform going about its day so that the
//! dashboard has something to show. Shops ingest tasks routed by verdict's router to three
//! providers of different quality, report most wrong answers they notice through whichever
//! dialect they use, rarely confirm a right one; one account reports far more than it could
//! have seen wrong. Runs until the server stops; an error is printed and the traffic goes on.

use std::time::Duration;

use anyhow::Context;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::{Value, json};
use verdict_domain::{CaptchaType, ReportKind, Timestamp};
use verdict_http::dialect::DIALECTS;
use verdict_http::dialect::registry;

use super::{Client, numeric_id, request};

/// How often a round of tasks is ingested.
const TICK: Duration = Duration::from_millis(1_000);

/// The providers and the share of their answers that are right, per type.
const PROVIDERS: [(&str, [f64; 4]); 3] = [
    ("provider-a", [0.97, 0.95, 0.96, 0.98]),
    ("provider-b", [0.93, 0.88, 0.90, 0.95]),
    ("provider-c", [0.85, 0.74, 0.80, 0.90]),
];

const TYPES: [CaptchaType; 4] = [
    CaptchaType::Image,
    CaptchaType::RecaptchaV2,
    CaptchaType::Hcaptcha,
    CaptchaType::Turnstile,
];

/// One client account of the demo platform and how it reports.
struct Shop {
    id: Value,
    key: String,
    name: String,
    /// Tasks per round.
    tasks: u32,
    /// Of the wrong answers it gets, the share it reports.
    reports_wrong: f64,
    /// Of the right answers, the share it reports as wrong anyway (refund farming).
    reports_right: f64,
    /// Of the right answers, the share it confirms.
    confirms: f64,
}

fn now() -> anyhow::Result<Timestamp> {
    Ok(Timestamp::from_millis(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?))
}

async fn shop(
    c: &Client,
    name: &str,
    trusted: bool,
    tasks: u32,
    rates: (f64, f64, f64),
) -> anyhow::Result<Shop> {
    let suffix = &verdict_engine::generate_secret()[..4];
    let created = c
        .admin_post(
            "/v1/accounts",
            json!({ "name": format!("{name}-{suffix}"), "trusted": trusted }),
        )
        .await?;
    Ok(Shop {
        id: created["id"].clone(),
        key: created["api_key"]
            .as_str()
            .context("the new account's key")?
            .to_owned(),
        name: created["name"].as_str().unwrap_or(name).to_owned(),
        tasks,
        reports_wrong: rates.0,
        reports_right: rates.1,
        confirms: rates.2,
    })
}

/// The shops: three trusted, two new, one farming refunds.
async fn shops(c: &Client) -> anyhow::Result<Vec<Shop>> {
    Ok(vec![
        shop(c, "shop-north", true, 4, (0.7, 0.0, 0.02)).await?,
        shop(c, "shop-east", true, 3, (0.6, 0.0, 0.05)).await?,
        shop(c, "shop-west", true, 3, (0.8, 0.0, 0.0)).await?,
        shop(c, "shop-south", false, 2, (0.5, 0.0, 0.01)).await?,
        shop(c, "shop-new", false, 1, (0.7, 0.0, 0.0)).await?,
        shop(c, "refund-farmer", false, 2, (1.0, 0.45, 0.0)).await?,
    ])
}

/// A task this round: who, what, from whom, and whether its answer was right.
struct Solved {
    task: String,
    shop: usize,
    captcha_type: CaptchaType,
    right: bool,
}

/// Sends the demo platform's traffic until the process ends. Prints the accounts it uses once.
pub async fn run(c: Client) -> anyhow::Result<()> {
    let shops = shops(&c).await?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Live traffic: {} accounts send tasks and reports every second. Sign in to the \
             dashboard as a client with one of these keys:",
            shops.len()
        )?;
        for s in &shops {
            writeln!(out, "  {:<20} {}", s.name, s.key)?;
        }
        writeln!(out)?;
    }
    let mut rng = Pcg64Mcg::seed_from_u64(now()?.as_millis() as u64);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0u32;
    loop {
        ticker.tick().await;
        match round(&c, &shops, &mut rng).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                // Said once per outage, not once a second.
                if failures == 1 {
                    eprintln!("demo traffic: {e:#} (retrying every second)");
                }
            }
        }
    }
}

async fn round(c: &Client, shops: &[Shop], rng: &mut Pcg64Mcg) -> anyhow::Result<()> {
    let completed = now()?.saturating_sub(Duration::from_secs(2)).to_rfc3339();
    let mut solved = Vec::new();
    let mut records = Vec::new();
    for (i, shop) in shops.iter().enumerate() {
        for _ in 0..shop.tasks {
            let t = rng.random_range(0..TYPES.len());
            let captcha_type = TYPES[t];
            let routed = c
                .admin_post("/v1/route", json!({ "type": captcha_type.as_str() }))
                .await;
            // Until the router knows a provider for the type, any will do.
            let provider = match routed {
                Ok(r) => r["provider"].as_str().unwrap_or("provider-a").to_owned(),
                Err(_) => PROVIDERS[rng.random_range(0..PROVIDERS.len())].0.to_owned(),
            };
            let quality = PROVIDERS
                .iter()
                .find(|(name, _)| *name == provider)
                .map_or(0.9, |(_, q)| q[t]);
            let task = numeric_id();
            records.push(json!({
                "id": task, "account": shop.id, "type": captcha_type.as_str(),
                "provider": provider, "worker": format!("w-{}", rng.random_range(1..40)),
                "answer": "X7K2", "cost": "0.0010", "completed_at": completed,
            }));
            solved.push(Solved {
                task,
                shop: i,
                captcha_type,
                right: rng.random::<f64>() < quality,
            });
        }
    }
    c.admin_post("/v1/tasks", Value::Array(records)).await?;
    for s in solved {
        let shop = &shops[s.shop];
        let draw = rng.random::<f64>();
        let kind = match s.right {
            false if draw < shop.reports_wrong => ReportKind::Incorrect,
            true if draw < shop.reports_right => ReportKind::Incorrect,
            true if draw < shop.reports_right + shop.confirms => ReportKind::Correct,
            _ => continue,
        };
        let report = registry::Report {
            key: &shop.key,
            account: &shop.name,
            task: &s.task,
            family: s.captcha_type.family(),
            kind,
        };
        // Each report through one of the dialects that can carry it.
        let carriers: Vec<_> = DIALECTS.iter().filter_map(|d| d.request(&report)).collect();
        if carriers.is_empty() {
            continue;
        }
        let wire = carriers[rng.random_range(0..carriers.len())].clone();
        request(&c.http, &c.base, wire).send().await?;
    }
    Ok(())
}
