//! `verdict`: serve, demo, and operator commands, all from one binary.

mod backup;
mod commands;
mod config;
mod demo;
mod listen;
mod prune;
mod server;
mod simulate;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use config::{Config, DatabaseUrl, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "verdict",
    version,
    about = "The solution-feedback service of a captcha-solving platform"
)]
struct Cli {
    /// TOML configuration file (default: ./verdict.toml if it exists).
    #[arg(long, global = true, env = "VERDICT_CONFIG")]
    config: Option<PathBuf>,
    /// Address to serve on (overrides VERDICT_LISTEN).
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// sqlite://path or postgres://… (overrides VERDICT_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Log filter, e.g. info or verdict=debug (overrides VERDICT_LOG).
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every report dialect and the native API.
    Serve(ServeArgs),
    /// Serve on a demo database (verdict-demo.db) and send reports through every dialect,
    /// printing each answer and verdict; keeps serving afterwards unless --exit.
    Demo {
        /// Stop once the scenario has run.
        #[arg(long)]
        exit: bool,
    },
    /// Create, list, inspect and change accounts and their keys.
    Accounts {
        #[command(flatten)]
        target: commands::Target,
        #[command(subcommand)]
        command: commands::Accounts,
    },
    /// Import and inspect tasks.
    Tasks {
        #[command(flatten)]
        target: commands::Target,
        #[command(subcommand)]
        command: commands::Tasks,
    },
    /// List reports and their verdicts.
    Reports {
        #[command(flatten)]
        target: commands::Target,
        #[command(subcommand)]
        command: commands::Reports,
    },
    /// Copy the SQLite database while it serves, consistently, with its key secret file
    /// (FILE.key); PostgreSQL: see README, "Backups".
    Backup(backup::BackupArgs),
    /// Check a copy `verdict backup` wrote and install it as the database (and FILE.key as its
    /// key secret); refused while a server holds the database.
    Restore(backup::RestoreArgs),
    /// Delete tasks completed longer ago than an age, with their reports, in small batches;
    /// never a task money moved on, nor the ledger. Also evidence past its age.
    Prune(prune::PruneArgs),
    /// Export datasets from the database.
    #[command(subcommand)]
    Export(commands::Export),
    /// Run the standard simulation of a platform (honest and abusive accounts) against this
    /// build's engine and print how well it judged; see docs/simulation.md.
    Simulate(simulate::SimulateArgs),
}

/// mimalloc instead of glibc's malloc: under load the server runs dozens of threads (tokio's
/// workers and blocking pool, the SQLite writer), and glibc's per-arena locking and
/// consolidation took about an eighth of its CPU (docs/performance.md, profile of 2026-12-03).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work: SQLite's reads (four connections) and ingest's parsing. More
/// would only wait for a connection, each with its own stack and allocator heap: at 64
/// connections tokio's default of 512 grew the pool to about seventy threads, whose heaps kept
/// tens of MiB of freed memory (docs/performance.md, "Memory"). Work beyond them queues.
const BLOCKING_THREADS: usize = 8;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen,
        database_url: cli.database_url.clone(),
        log: cli.log.clone(),
    };
    let mut base = Config::default();
    if matches!(cli.command, Command::Demo { .. }) {
        // The demo gets its own file so that it never mixes into a real database.
        base.database_url = DatabaseUrl::Sqlite(PathBuf::from("verdict-demo.db"));
    }
    if matches!(
        cli.command,
        Command::Accounts { .. } | Command::Tasks { .. } | Command::Reports { .. }
    ) {
        // The answer is the output: the engine's info lines would repeat it, and draw over an
        // import's progress bar.
        base.log = "warn".into();
    }
    if matches!(cli.command, Command::Simulate(_)) && cli.log.is_none() {
        // A report judged is logged at info: millions of lines in a simulation.
        base.log = "warn,verdict_sim=info".into();
    }
    let config = config::load(cli.config.as_deref(), overrides, base)?;
    let config_file = cli.config.clone();
    init_logging(&config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async move {
        let done = match cli.command {
            Command::Serve(args) => serve(config, args).await,
            Command::Demo { exit } => demo::run(config, exit).await,
            Command::Accounts { target, command } => {
                commands::accounts(target, command, &config).await
            }
            Command::Tasks { target, command } => commands::tasks(target, command, &config).await,
            Command::Reports { target, command } => {
                commands::reports(target, command, &config).await
            }
            Command::Backup(args) => backup::backup(args, &config).await,
            Command::Restore(args) => backup::restore(args, &config).await,
            Command::Prune(args) => prune::run(args, &config).await,
            Command::Export(cmd) => commands::export(cmd, &config).await,
            Command::Simulate(args) => {
                return simulate::run(args, &config, config_file.as_deref()).await;
            }
        };
        done.map(|()| std::process::ExitCode::SUCCESS)
    })
}

/// Compressed time, for simulations only (hidden from `--help`): `verdict simulate --served`
/// runs a whole `verdict serve` through simulated days in minutes, its own timers included.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The time the clock reads at `--time-anchor` (RFC 3339).
    #[arg(long, hide = true, requires_all = ["time_anchor", "time_scale"])]
    time_origin: Option<String>,
    /// The system time, in Unix milliseconds, at which the clock reads `--time-origin`.
    #[arg(long, hide = true, requires_all = ["time_origin", "time_scale"])]
    time_anchor: Option<i64>,
    /// How many times faster than real time the clock, and the maintenance timers, run.
    #[arg(long, hide = true, requires_all = ["time_origin", "time_anchor"])]
    time_scale: Option<f64>,
}

async fn serve(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let (clock, speed): (std::sync::Arc<dyn verdict_engine::Clock>, f64) =
        match (&args.time_origin, args.time_anchor, args.time_scale) {
            (Some(origin), Some(anchor), Some(speed)) => {
                let origin = verdict_domain::Timestamp::parse_rfc3339(origin)
                    .map_err(|e| anyhow::anyhow!("--time-origin {origin:?}: {e}"))?;
                anyhow::ensure!(
                    speed.is_finite() && speed >= 1.0,
                    "--time-scale must be at least 1, not {speed}"
                );
                let anchor = verdict_domain::Timestamp::from_millis(anchor);
                tracing::warn!(
                    origin = %origin.to_rfc3339(),
                    speed,
                    "serving on a compressed clock: for simulations only"
                );
                let clock = verdict_engine::ScaledClock::new(origin, anchor, speed);
                (std::sync::Arc::new(clock), speed)
            }
            _ => (std::sync::Arc::new(verdict_engine::SystemClock), 1.0),
        };
    let engine = server::open_engine_on(&config, clock).await?;
    let admin = server::admin_token(&engine, &config).await?;
    let listener = server::bind(config.listen).await?;
    server::spawn_maintenance(engine.clone(), speed);
    server::spawn_retention(engine.clone(), &config, speed)?;
    server::run(engine, admin, &config, listener, server::shutdown_signal()).await
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid log filter {filter:?}: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
