//! `verdict simulate`: a seeded, reproducible captcha platform (research/domain.md §6) that
//! drives verdict's real engine — honest accounts with their true failure rates, abusive
//! accounts of every strategy of §6.2, providers of different accuracy, second solvers — and
//! measures how well verdict tells them apart. Only the simulation knows the truth; verdict
//! sees tasks and reports, as in production.

pub mod config;
pub mod http;
pub mod metrics;
pub mod platform;
pub mod routing;
pub mod run;
pub mod scores;
pub mod world;

use verdict_domain::{Policy, Timestamp};

pub use config::{SimConfig, World};
pub use http::OverHttp;
pub use metrics::Metrics;
pub use platform::{InProcess, Platform};
pub use run::Simulation;

/// The judging policy a simulation runs with: `base` (verdict's defaults, or an operator's
/// `[judging]` settings), with re-checks and clawback as the simulation's configuration says.
pub fn policy_for(config: &SimConfig, base: Policy) -> Policy {
    let mut policy = base;
    policy.rechecks.enabled = config.rechecks;
    policy.clawback = config.clawback;
    policy
}

/// Runs the simulation against verdict's engine in process.
pub async fn simulate_in_process(config: SimConfig, base: Policy) -> anyhow::Result<Metrics> {
    let policy = policy_for(&config, base);
    let platform = InProcess::open(policy.clone(), Timestamp::from_millis(run::START))?;
    Simulation::new(config, policy, platform).run().await
}

/// Runs the simulation against verdict's HTTP service on loopback, through the native API.
pub async fn simulate_over_http(config: SimConfig, base: Policy) -> anyhow::Result<Metrics> {
    let policy = policy_for(&config, base);
    let platform = OverHttp::start(policy.clone(), Timestamp::from_millis(run::START)).await?;
    Simulation::new(config, policy, platform).run().await
}

/// Runs the simulation against a `verdict serve` process (`bin`) on a compressed clock,
/// `speed` times real time, through the native API: the service's own timers refresh its
/// statistics and settle re-checks, and the simulation keeps pace with its clock. `config` is
/// the operator's file the service reads, whose `[judging]` `base` is; the simulation's
/// re-check and clawback choices are passed on as settings. Not reproducible to the digit:
/// where the simulation falls behind the clock, its reports arrive later than it meant.
pub async fn simulate_served(
    config: SimConfig,
    base: Policy,
    bin: &std::path::Path,
    operator_config: Option<&std::path::Path>,
    speed: f64,
) -> anyhow::Result<Metrics> {
    let policy = policy_for(&config, base);
    let env = [
        ("VERDICT_JUDGING__CLAWBACK", policy.clawback),
        (
            "VERDICT_JUDGING__RECHECKS__ENABLED",
            policy.rechecks.enabled,
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_string()));
    let start = Timestamp::from_millis(run::START);
    let platform = OverHttp::serve(bin, operator_config, &env, start, speed).await?;
    Simulation::new(config, policy, platform).run().await
}
