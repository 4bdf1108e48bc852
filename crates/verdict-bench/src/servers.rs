//! The servers under test run as their own processes, so that their CPU time and peak memory
//! can be read from /proc apart from the load generator's, and so that verdict runs exactly as
//! deployed (`verdict serve` with a config file and environment).

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::StatusCode;

use crate::load::Conn;

pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";

/// Every report of a run must fall inside its window, however long setup takes; the guard runs
/// with rates no benchmark reaches.
const BENCH_TOML: &str = include_str!("../bench.toml");

/// A spawned server; killed when dropped.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
    stderr: PathBuf,
}

/// The verdict binary built beside this one (`cargo build --release -p verdict -p verdict-bench`).
pub fn verdict_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("locating verdict-bench")?;
    let dir = me.parent().context("verdict-bench has no directory")?;
    let verdict = dir.join("verdict");
    if !verdict.is_file() {
        bail!(
            "{} not found: build it with cargo build --release -p verdict",
            verdict.display()
        );
    }
    Ok(verdict)
}

/// A port nobody listens on now. Another process could take it before the server binds; the
/// server then fails to start and says so.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

impl Server {
    pub async fn ceiling(work: &Path) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let stderr = work.join("ceiling.stderr");
        let child = Command::new(std::env::current_exe()?)
            .args(["ceiling", "--listen", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?)
            .spawn()
            .context("starting the ceiling")?;
        let mut server = Self {
            name: "ceiling".into(),
            addr,
            child,
            stderr,
        };
        server.wait_healthy(Duration::from_secs(20)).await?;
        Ok(server)
    }

    /// `verdict --config bench.toml serve` on `database_url`; `tag` names its files in `work`.
    pub async fn verdict(
        binary: &Path,
        work: &Path,
        tag: &str,
        database_url: &str,
    ) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let config = work.join("bench.toml");
        std::fs::write(&config, BENCH_TOML)?;
        let stderr = work.join(format!("verdict-{tag}.stderr"));
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("VERDICT_LISTEN", addr.to_string())
            .env("VERDICT_DATABASE_URL", database_url)
            .env("VERDICT_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("VERDICT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            name: format!("verdict ({tag})"),
            addr,
            child,
            stderr,
        };
        server.wait_healthy(Duration::from_secs(120)).await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready; its stderr:\n{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            if let Ok(mut conn) = Conn::open(self.addr).await
                && let Ok((StatusCode::OK, _)) = conn.get("/healthz").await
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} did not answer GET /healthz with 200 within {timeout:?}; its stderr:\n{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the server wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// User plus system CPU seconds the process has used so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // The command name (field 2) may hold spaces; fields after it are plain numbers.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("unreadable /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After ")": state is field 3, so utime (14) and stime (15) are at 11 and 12.
        let utime: f64 = fields.get(11).context("no utime")?.parse()?;
        let stime: f64 = fields.get(12).context("no stime")?.parse()?;
        Ok((utime + stime) / clock_ticks())
    }

    /// Peak resident memory (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .context("no VmHWM")?;
        Ok(line
            .trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second for /proc times; `getconf` rather than `sysconf`, which would need
/// `unsafe`. Linux uses 100 almost everywhere.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Makes sure the local PostgreSQL runs and `verdict` owns each of `databases`, recreated
/// empty, and the schema `raw_schema` in the first (the raw store's; the store does not create
/// the schema it is given). `Err` says why the backend cannot be measured here.
pub fn prepare_postgres(databases: &[&str], raw_schema: &str) -> anyhow::Result<()> {
    let ready = || {
        Command::new("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready() {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL is not installed (/usr/lib/postgresql)")?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            .context("no PostgreSQL version installed")?;
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "start"])
            .status();
        let start = Instant::now();
        while !ready() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("PostgreSQL on 127.0.0.1:5432 does not accept connections");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    psql(
        None,
        &[
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'verdict') THEN \
         CREATE ROLE verdict LOGIN PASSWORD 'verdict'; END IF; END $$",
        ],
    )?;
    for name in databases {
        psql(
            None,
            &[
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                &format!("CREATE DATABASE {name} OWNER verdict"),
            ],
        )?;
    }
    if let Some(first) = databases.first() {
        psql(
            Some(first),
            &[&format!("CREATE SCHEMA {raw_schema} AUTHORIZATION verdict")],
        )?;
    }
    Ok(())
}

fn psql(database: Option<&str>, commands: &[&str]) -> anyhow::Result<()> {
    let mut cmd = Command::new("runuser");
    cmd.args([
        "-u",
        "postgres",
        "--",
        "psql",
        "-qX",
        "-v",
        "ON_ERROR_STOP=1",
    ]);
    if let Some(database) = database {
        cmd.args(["-d", database]);
    }
    for c in commands {
        cmd.arg("-c").arg(c);
    }
    let out = cmd.output().context("running psql as postgres")?;
    if !out.status.success() {
        bail!(
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
