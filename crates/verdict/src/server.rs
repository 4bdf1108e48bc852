//! Wiring: the store chosen by URL, the engine, the admin token, and the HTTP server with
//! graceful shutdown (in-flight requests finish; every answered write is already durable).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use verdict_domain::KeyHash;
use verdict_engine::{Clock, Engine, SystemClock};
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
    Ok(
        Engine::new(store, config.judging.policy()?, clock)
            .with_routing(config.routing.settings()?),
    )
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

/// Binds the listener; the address is known (port 0 resolved) before serving starts.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// How long in-flight requests get to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn run(
    engine: Engine,
    admin: KeyHash,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = verdict_http::Limits {
        report_body: config.limits.report_body_bytes,
        ingest_body: config.limits.ingest_body_bytes,
    };
    let app = verdict_http::app(verdict_http::AppState {
        engine,
        admin,
        limits,
    });
    let addr = listener.local_addr()?;
    match config.tls.files()? {
        None => {
            tracing::info!(%addr, tls = false, database = %config.database_url, "verdict serving");
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .context("server failed")?;
        }
        Some((cert, key)) => {
            // One process-wide choice of crypto: ring. Installing twice is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let handle = Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(DRAIN));
            });
            tracing::info!(%addr, tls = true, database = %config.database_url, "verdict serving");
            axum_server::from_tcp_rustls(listener.into_std()?, tls)?
                .handle(handle)
                .serve(app.into_make_service())
                .await
                .context("server failed")?;
        }
    }
    tracing::info!("verdict stopped");
    Ok(())
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
