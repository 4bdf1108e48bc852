//! `verdict simulate`: the standard simulation of research/domain.md §6 against this build's
//! engine, printed and optionally written as JSON; with `--routing`, the routing simulation
//! of §5.4 against this build's router instead.

use std::path::PathBuf;

use anyhow::Context;
use verdict_sim::SimConfig;
use verdict_sim::routing::{RoutingConfig, simulate_routing};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// The CI size: 240 honest accounts, 6 per strategy, 10 scored days (about a minute);
    /// routing: two types, two days.
    Ci,
    /// domain.md §6: 2,000 honest accounts, 50 per strategy, 20 sybils a day, 30 scored days;
    /// routing: four types, 30 days, 1,000 tasks a minute.
    Full,
}

/// The world the judging simulation runs in (docs/simulation.md, "Worlds").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorldArg {
    /// Three warm-up days, a quarter of the honest accounts trusted, 30 % confirming.
    Standard,
    /// A fresh database: no warm-up, every abuser abusing from the first minute.
    DayOne,
    /// 15 trusted accounts: fewer than a cohort fit needs.
    SmallPlatform,
    /// Nobody confirms a solution that worked.
    NoConfirmations,
}

impl From<WorldArg> for verdict_sim::World {
    fn from(w: WorldArg) -> Self {
        match w {
            WorldArg::Standard => verdict_sim::World::Standard,
            WorldArg::DayOne => verdict_sim::World::DayOne,
            WorldArg::SmallPlatform => verdict_sim::World::SmallPlatform,
            WorldArg::NoConfirmations => verdict_sim::World::NoConfirmations,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Simulate routing (providers, policies, the router) instead of judging.
    #[arg(long)]
    routing: bool,
    #[arg(long, value_enum, default_value = "ci")]
    size: Size,
    #[arg(long, value_enum, default_value = "standard")]
    world: WorldArg,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scored days (overrides the size's).
    #[arg(long)]
    days: Option<u32>,
    /// Honest accounts (overrides the size's).
    #[arg(long)]
    honest: Option<usize>,
    /// Accounts per abuse strategy (overrides the size's).
    #[arg(long)]
    per_strategy: Option<usize>,
    /// Screen image and audio reports like tokens instead of re-checking them.
    #[arg(long)]
    no_rechecks: bool,
    /// Do not claw back the refunds of accounts put on ignored standing (also off when the
    /// configuration's `[judging] clawback` is false).
    #[arg(long)]
    no_clawback: bool,
    /// Send tasks, reports and second solves over HTTP (the native API on loopback) instead
    /// of calling the engine in process.
    #[arg(long)]
    over_http: bool,
    /// Run a whole `verdict serve` (this binary) on a compressed clock and drive it over HTTP:
    /// its own timers refresh statistics and settle re-checks. Figures vary a little from run
    /// to run, where the simulation falls behind the clock.
    #[arg(long, conflicts_with = "over_http")]
    served: bool,
    /// With --served: how many times faster than real time the service's clock runs (1440: a
    /// simulated day a minute).
    #[arg(long, default_value_t = 1440.0, requires = "served")]
    time_scale: f64,
    /// Write the metrics as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Exit with status 2 when a bar is missed.
    #[arg(long)]
    check: bool,
}

impl SimulateArgs {
    fn config(&self) -> SimConfig {
        let mut config = match self.size {
            Size::Ci => SimConfig::ci(self.seed),
            Size::Full => SimConfig::full(self.seed),
        }
        .in_world(self.world.into());
        if let Some(days) = self.days {
            config.days = days;
        }
        if let Some(honest) = self.honest {
            config.honest = honest;
        }
        if let Some(n) = self.per_strategy {
            config.per_strategy = n;
        }
        config.rechecks = !self.no_rechecks;
        config
    }
}

/// Runs the simulation with the `[judging]` settings of `settings` (the defaults unless a
/// configuration says otherwise: an operator can try a policy before serving with it); the
/// process's exit status when bars are checked.
pub async fn run(
    args: SimulateArgs,
    settings: &crate::config::Config,
    config_file: Option<&std::path::Path>,
) -> anyhow::Result<std::process::ExitCode> {
    if args.routing {
        return routing(&args);
    }
    let mut config = args.config();
    anyhow::ensure!(config.days > 0, "--days must be at least 1");
    let policy = settings.judging.policy()?;
    config.clawback = policy.clawback && !args.no_clawback;
    let metrics = if args.served {
        anyhow::ensure!(
            args.time_scale.is_finite() && args.time_scale >= 1.0,
            "--time-scale must be at least 1"
        );
        let bin = std::env::current_exe().context("finding this binary to serve with")?;
        verdict_sim::simulate_served(config, policy, &bin, config_file, args.time_scale).await?
    } else if args.over_http {
        verdict_sim::simulate_over_http(config, policy).await?
    } else {
        verdict_sim::simulate_in_process(config, policy).await?
    };
    std::io::Write::write_all(&mut std::io::stdout().lock(), metrics.render().as_bytes())?;
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&metrics)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if args.check && !metrics.all_bars_met() {
        std::process::ExitCode::from(2)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// The routing simulation: pure computation, so off the async runtime's threads.
fn routing(args: &SimulateArgs) -> anyhow::Result<std::process::ExitCode> {
    let config = match args.size {
        Size::Ci => RoutingConfig::ci(args.seed),
        Size::Full => RoutingConfig::full(args.seed),
    };
    let config = match args.world {
        WorldArg::Standard => config,
        WorldArg::NoConfirmations => config.without_confirmations(),
        other => anyhow::bail!(
            "the routing simulation has the worlds standard and no-confirmations, not {}",
            verdict_sim::World::from(other).name()
        ),
    };
    let figures = tokio::task::block_in_place(|| simulate_routing(&config));
    std::io::Write::write_all(&mut std::io::stdout().lock(), figures.render().as_bytes())?;
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&figures)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if args.check && !figures.all_bars_met() {
        std::process::ExitCode::from(2)
    } else {
        std::process::ExitCode::SUCCESS
    })
}
