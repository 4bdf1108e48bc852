//! `verdict-bench`: measures verdict against a bare axum "ceiling" in the same run, so that every
//! figure is a ratio to what this machine can do at all, not an absolute number that moves with
//! the hardware.

mod ceiling;
mod load;
mod report;
mod scenarios;
mod servers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "verdict-bench",
    about = "verdict's benchmark suite: ratios to a bare axum ceiling"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the bare endpoints every ratio is measured against (spawned by `run`).
    Ceiling {
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
    /// Measure everything in one run; print the table, write results.json and results.md.
    Run(RunArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Tiny sizes for a smoke test (about a minute): 1 s runs, 1 pair, small stores.
    #[arg(long)]
    pub quick: bool,
    #[arg(long, value_delimiter = ',', default_values = ["sqlite", "postgres"])]
    pub backends: Vec<Backend>,
    /// Backends the growth measures (d) run on; 10 M rows into PostgreSQL takes minutes.
    #[arg(long, value_delimiter = ',', default_values = ["sqlite"])]
    pub growth_backends: Vec<Backend>,
    /// Alternating ceiling/verdict saturation pairs per backend (default 3; 1 with --quick).
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Length of each saturation and fixed-rate run, e.g. 10s, 500ms (default 10s; 1s with --quick).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 64)]
    pub conns: usize,
    #[arg(long, default_value = "docs/bench")]
    pub out: PathBuf,
    /// PostgreSQL server (role and password); the databases verdict_bench and
    /// verdict_bench_growth on it are dropped and recreated.
    #[arg(long, default_value = "postgres://verdict:verdict@127.0.0.1:5432")]
    pub pg_server: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: use e.g. 10s, 500ms or 2m"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("{text:?}: must be positive"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// The same allocator as verdict's, so that the ceiling's ratio compares servers, not mallocs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Ceiling { listen } => ceiling::serve(listen).await.map(|()| ExitCode::SUCCESS),
            Command::Run(args) => scenarios::run(args).await,
        }
    })
}
