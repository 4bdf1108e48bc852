//! Wiring: the store chosen by URL, the engine, the admin token, and the HTTP server with
//! graceful shutdown (in-flight requests finish; every answered write is already durable).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use verdict_domain::KeyHash;
use verdict_domain::keys::KeySecret;
use verdict_engine::{Clock, Engine, SystemClock, generate_secret};
use verdict_store::postgres::PostgresOptions;
use verdict_store::sqlite::SqliteOptions;
use verdict_store::{PostgresStore, SqliteStore, Store};

use crate::config::{Config, DatabaseUrl};

/// Opens the configured store (running migrations) and builds the engine on it, on the
/// system clock.
pub async fn open_engine(config: &Config) -> anyhow::Result<Engine> {
    open_engine_on(config, Arc::new(SystemClock)).await
}

/// As [`open_engine`], on `clock`.
pub async fn open_engine_on(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Engine> {
    let store: Arc<dyn Store> = match &config.database_url {
        DatabaseUrl::Sqlite(path) => {
            let options = SqliteOptions {
                writer_cache_mib: config.sqlite.cache_mib,
                durable: true,
            };
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path, options))
                .await?
                .with_context(|| format!("opening {}", config.database_url))?;
            Arc::new(store)
        }
        DatabaseUrl::Postgres(url) => {
            let options = PostgresOptions {
                pool_size: config.postgres.pool_size,
                acquire_timeout: config.postgres.acquire_timeout,
                schema: None,
            };
            // The error names the URL without its password; the driver's own text has none.
            let store = PostgresStore::connect(url, options)
                .await
                .with_context(|| format!("connecting to {}", config.database_url))?;
            Arc::new(store)
        }
    };
    let secret = key_secret(config, store.as_ref()).await?;
    Ok(Engine::new(store, config.judging.policy()?, clock)
        .with_routing(config.routing.settings()?)
        .with_key_secret(&secret))
}

/// Where the fingerprint of the key secret the database's keys are hashed under is kept.
pub(crate) const KEY_SECRET_FINGERPRINT: &str = "key_secret_fingerprint";
/// Where a PostgreSQL deployment without a configured key secret keeps the one it generated.
const KEY_SECRET_IN_DATABASE: &str = "key_secret";

/// The key secret, from the configuration, a file, or (first start) a new one; refused if the
/// database's keys were hashed under another (every client would be locked out).
async fn key_secret(config: &Config, store: &dyn Store) -> anyhow::Result<KeySecret> {
    let fingerprint = store.meta(KEY_SECRET_FINGERPRINT).await?;
    let secret = if let Some(text) = &config.key_secret {
        KeySecret::parse(text.expose_secret()).context("VERDICT_KEY_SECRET is refused")?
    } else if let Some(file) = &config.key_secret_file {
        read_secret_file(file)?
    } else {
        match &config.database_url {
            DatabaseUrl::Sqlite(path) => {
                let file = secret_file_beside(path);
                if file.exists() {
                    read_secret_file(&file)?
                } else if fingerprint.is_some() {
                    anyhow::bail!(
                        "{} holds keys hashed under a key secret, but {} is missing: restore it \
                         beside the database, or set VERDICT_KEY_SECRET to its contents",
                        path.display(),
                        file.display()
                    );
                } else {
                    create_secret_file(&file)?
                }
            }
            DatabaseUrl::Postgres(_) => {
                let generated = format!("{}{}", generate_secret(), generate_secret());
                store
                    .set_meta_if_absent(KEY_SECRET_IN_DATABASE, &generated)
                    .await?;
                let stored = store
                    .meta(KEY_SECRET_IN_DATABASE)
                    .await?
                    .context("the key secret was stored and cannot be read back")?;
                tracing::warn!(
                    "API keys are hashed under a secret kept in the database: a leaked database \
                     gives up weak imported keys. Set VERDICT_KEY_SECRET (the same on every node) \
                     to the value of meta key {KEY_SECRET_IN_DATABASE:?}, then delete it there"
                );
                KeySecret::parse(&stored).context("the key secret stored in the database")?
            }
        }
    };
    let ours = secret.fingerprint();
    let settled = match fingerprint {
        Some(stored) => stored,
        None => {
            store
                .set_meta_if_absent(KEY_SECRET_FINGERPRINT, &ours)
                .await?;
            store
                .meta(KEY_SECRET_FINGERPRINT)
                .await?
                .context("the key secret's fingerprint was stored and cannot be read back")?
        }
    };
    anyhow::ensure!(
        settled == ours,
        "the configured key secret is not the one this database's API keys were hashed under; \
         every client would be refused. Use the secret the database was set up with"
    );
    Ok(secret)
}

/// `verdict.db` → `verdict.db.key`.
pub(crate) fn secret_file_beside(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

pub(crate) fn read_secret_file(file: &Path) -> anyhow::Result<KeySecret> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the key secret from {}", file.display()))?;
    KeySecret::parse(&text).with_context(|| format!("the key secret in {}", file.display()))
}

/// Writes a new secret to `file`, readable by its owner only.
fn create_secret_file(file: &Path) -> anyhow::Result<KeySecret> {
    use std::io::Write;
    let text = format!("{}{}\n", generate_secret(), generate_secret());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options
        .open(file)
        .with_context(|| format!("creating the key secret file {}", file.display()))?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    tracing::info!(file = %file.display(), "key secret created: back it up with the database");
    KeySecret::parse(&text).context("a generated key secret")
}

/// The admin token hash to accept, printing a newly generated token once.
pub async fn admin_token(engine: &Engine, config: &Config) -> anyhow::Result<KeyHash> {
    let configured = config
        .admin_token
        .as_ref()
        .map(|t| t.expose_secret().to_owned());
    let (hash, generated) = engine.admin_token(configured.as_deref()).await?;
    if let Some(token) = generated {
        // Shown once, on stderr, never logged: only its hash is kept.
        eprintln!(
            "\nverdict: no VERDICT_ADMIN_TOKEN was set, so an admin token was generated.\n\
             It is shown this once; store it now:\n\n    {token}\n"
        );
    }
    Ok(hash)
}

/// How often the cohort priors are refitted and finished hours folded into baselines. Hours are
/// folded once whatever the frequency, so running often only keeps priors fresh.
const STATISTICS_EVERY: Duration = Duration::from_secs(600);
/// How often re-checks past their deadline are settled by the default.
const RECHECKS_EVERY: Duration = Duration::from_secs(30);

/// Runs the statistics refresh and the re-check timeout in the background for as long as the
/// process lives. Failures are logged and retried on the next tick; several nodes may run this.
/// `speed` is how much faster than real time the engine's clock runs (1 but in simulations):
/// the timers keep pace with it.
pub fn spawn_maintenance(engine: Engine, speed: f64) {
    let every = move |period: Duration| period.div_f64(speed.max(1.0));
    tokio::spawn(async move {
        let mut statistics = tokio::time::interval(every(STATISTICS_EVERY));
        let mut rechecks = tokio::time::interval(every(RECHECKS_EVERY));
        statistics.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        rechecks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = statistics.tick() => match engine.refresh_statistics().await {
                    Ok(r) => tracing::info!(refitted = r.refitted.len(), hours_folded = r.hours_folded, "statistics refreshed"),
                    Err(e) => tracing::warn!(error = %verdict_engine::chain(&e), "statistics refresh failed; retrying next time"),
                },
                _ = rechecks.tick() => match engine.settle_overdue_rechecks().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(settled = n, "overdue re-checks settled by the default"),
                    Err(e) => tracing::warn!(error = %verdict_engine::chain(&e), "settling overdue re-checks failed; retrying next time"),
                },
            }
        }
    });
}

/// Runs task retention every `[retention] every` for as long as the process lives, when
/// `[retention] tasks` is set, the first pass one period after start (out of start-up's way).
/// A pass goes in small batches, each its own transaction, so reports keep being answered
/// meanwhile. Several nodes may run it: on PostgreSQL a batch passes over the tasks another
/// node's batch holds.
pub fn spawn_retention(engine: Engine, config: &Config, speed: f64) -> anyhow::Result<()> {
    let Some(retention) = config.retention.tasks(engine.policy())? else {
        return Ok(());
    };
    let (batch, period) = (
        config.retention.batch,
        config.retention.every.div_f64(speed.max(1.0)),
    );
    tracing::info!(older_than = %crate::prune::age_text(retention.age()), batch, "task retention on");
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match engine.prune_tasks(retention, batch).await {
                Ok(p) => tracing::info!(
                    tasks = p.tasks,
                    reports = p.reports,
                    rechecks = p.rechecks,
                    kept_money = p.kept_money,
                    kept_open_recheck = p.kept_open_recheck,
                    batches = p.batches,
                    "old tasks pruned"
                ),
                Err(e) => {
                    tracing::warn!(error = %verdict_engine::chain(&e), "pruning old tasks failed; retrying next time")
                }
            }
        }
    });
    Ok(())
}

/// Binds the listener; the address is known (port 0 resolved) before serving starts.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// How often histogram samples are folded between scrapes, so that their memory stays bounded
/// when nobody scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder (once per process) and keeps it tidy in the background.
fn install_metrics() -> anyhow::Result<()> {
    let handle = verdict_http::metrics::install()?;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
    Ok(())
}

/// The request body limits configured.
pub fn limits(config: &Config) -> verdict_http::Limits {
    verdict_http::Limits {
        report_body: config.limits.report_body_bytes,
        ingest_body: config.limits.ingest_body_bytes,
        body_timeout: config.connections.body_timeout,
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish within the drain period.
pub async fn run(
    engine: Engine,
    admin: KeyHash,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install_metrics()?;
    let guard = Arc::new(verdict_http::guard::Guard::new(&config.limits.rates()?));
    spawn_guard_housekeeping(guard.clone());
    let app = verdict_http::app(verdict_http::AppState {
        engine,
        admin,
        limits: limits(config),
        guard,
    });
    let addr = listener.local_addr()?;
    let tls = match config.tls.files()? {
        None => None,
        Some((cert, key)) => Some(crate::listen::tls_acceptor(cert, key)?),
    };
    tracing::info!(%addr, tls = tls.is_some(), database = %config.database_url, "verdict serving");
    crate::listen::serve(listener, app, tls, config.listening(), shutdown).await?;
    tracing::info!("verdict stopped");
    Ok(())
}

/// Forgets idle clients' buckets every minute, so the guard's memory follows the clients active
/// now.
fn spawn_guard_housekeeping(guard: Arc<verdict_http::guard::Guard>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            guard.housekeep();
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
