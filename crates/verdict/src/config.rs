//! Configuration, in layers where later wins: defaults in code, then the TOML file (`--config`,
//! or `verdict.toml` in the working directory if present), then `VERDICT_*` environment
//! variables (`__` nests: `VERDICT_LIMITS__REPORT_BODY_BYTES`), then command-line flags.
//! Parsed into typed values at start-up; a bad value stops start-up with its name. Loading never
//! writes a file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use verdict_domain::{Family, Policy};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where to serve (`VERDICT_LISTEN`).
    pub listen: SocketAddr,
    /// `sqlite://path` or `postgres://…` (`VERDICT_DATABASE_URL`).
    pub database_url: DatabaseUrl,
    /// The operator's bearer token (`VERDICT_ADMIN_TOKEN`). Unset: generated at first start,
    /// shown once, stored as a hash.
    #[serde(skip_serializing, deserialize_with = "secret_from_scalar")]
    pub admin_token: Option<SecretString>,
    /// The secret API keys are hashed under (`VERDICT_KEY_SECRET`, at least 32 characters), so
    /// that a leaked database does not give up weak imported keys. Unset: read from
    /// `key_secret_file`; else, on SQLite, from `<database>.key` beside the database (created
    /// at first start, readable by its owner only); else, on PostgreSQL, kept in the database
    /// (with a warning at start: set it on every node instead).
    #[serde(skip_serializing, deserialize_with = "secret_from_scalar")]
    pub key_secret: Option<SecretString>,
    /// A file holding the key secret (`VERDICT_KEY_SECRET_FILE`), e.g. a mounted secret.
    pub key_secret_file: Option<PathBuf>,
    /// A `tracing` filter, e.g. `info` or `verdict=debug,tower_http=info`.
    pub log: String,
    pub limits: LimitsConfig,
    pub connections: ConnectionsConfig,
    pub sqlite: SqliteConfig,
    pub postgres: PostgresConfig,
    pub judging: JudgingConfig,
    pub routing: RoutingConfig,
    pub tls: TlsConfig,
    pub retention: RetentionConfig,
}

/// Serve HTTPS on `listen` instead of HTTP: PEM certificate chain and private key files. Several
/// client libraries hard-code `https://`; with this, they are aimed at verdict by a host change
/// (plus the standard CA-bundle variable when the certificate is self-signed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// The two files, when TLS is on; an error when only one is given.
    pub fn files(&self) -> anyhow::Result<Option<(&Path, &Path)>> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            _ => bail!("TLS needs both tls.cert_file and tls.key_file"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DatabaseUrl::Sqlite(PathBuf::from("verdict.db")),
            admin_token: None,
            key_secret: None,
            key_secret_file: None,
            log: "info".into(),
            limits: LimitsConfig::default(),
            connections: ConnectionsConfig::default(),
            sqlite: SqliteConfig::default(),
            postgres: PostgresConfig::default(),
            judging: JudgingConfig::default(),
            routing: RoutingConfig::default(),
            tls: TlsConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

/// Retention of task records, off unless `tasks` is set: `serve` deletes, every `every`, the
/// tasks completed longer than `tasks` ago with their reports, `batch` tasks looked at per
/// transaction, never a task money moved on (a refunded report, any ledger entry) nor one with an
/// open re-check (`verdict_domain::retention`). Evidence buckets have their own fixed ages
/// (two days by minute, eight weeks by hour and day) and are pruned whatever this says.
///
/// ```toml
/// [retention]
/// tasks = "90d"   # longer than every report window
/// batch = 1000
/// every = "1h"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    #[serde(with = "humantime_serde")]
    pub tasks: Option<Duration>,
    pub batch: u32,
    #[serde(with = "humantime_serde")]
    pub every: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            tasks: None,
            batch: verdict_engine::PRUNE_BATCH,
            every: Duration::from_secs(3600),
        }
    }
}

impl RetentionConfig {
    /// The task retention configured, checked against the report windows of `policy`.
    pub fn tasks(
        &self,
        policy: &Policy,
    ) -> anyhow::Result<Option<verdict_domain::retention::TaskRetention>> {
        self.tasks
            .map(|age| {
                verdict_domain::retention::TaskRetention::new(age, &policy.windows)
                    .context("retention.tasks")
            })
            .transpose()
    }
}

/// Body sizes and request rates (`verdict_http::guard`).
///
/// ```toml
/// [limits]
/// report_body_bytes = 65536
/// ingest_body_bytes = 268435456
/// per_address = { per_second = 1000, burst = 2000 }   # requests from one client address
/// per_key = { per_second = 200, burst = 400 }          # requests presenting one key
/// failed_logins = { per_second = 0.34, burst = 20 }    # wrong keys or passwords from one address
/// block_for = "60s"          # an address past its failed logins is refused this long
/// trusted_proxies = []       # e.g. ["10.0.0.0/8"]: take the client from their X-Forwarded-For
/// ```
/// A rate of `per_second = 0` turns that limit off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub report_body_bytes: usize,
    pub ingest_body_bytes: usize,
    pub per_address: RateConfig,
    pub per_key: RateConfig,
    pub failed_logins: RateConfig,
    #[serde(with = "humantime_serde")]
    pub block_for: Duration,
    pub trusted_proxies: Vec<String>,
}

/// A token bucket.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub per_second: f64,
    pub burst: u32,
}

impl RateConfig {
    fn of(rate: Option<verdict_http::guard::Rate>) -> Self {
        rate.map_or(
            Self {
                per_second: 0.0,
                burst: 1,
            },
            |r| Self {
                per_second: r.per_second,
                burst: r.burst,
            },
        )
    }

    fn rate(self, name: &str) -> anyhow::Result<Option<verdict_http::guard::Rate>> {
        if !(self.per_second.is_finite() && self.per_second >= 0.0) {
            bail!(
                "limits.{name}.per_second must be a number of requests per second, 0 for no limit"
            );
        }
        if self.burst == 0 {
            bail!("limits.{name}.burst must be at least 1");
        }
        Ok(
            (self.per_second > 0.0).then_some(verdict_http::guard::Rate {
                per_second: self.per_second,
                burst: self.burst,
            }),
        )
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = verdict_http::Limits::default();
        let rates = verdict_http::guard::RateLimits::default();
        Self {
            report_body_bytes: d.report_body,
            ingest_body_bytes: d.ingest_body,
            per_address: RateConfig::of(rates.per_address),
            per_key: RateConfig::of(rates.per_key),
            failed_logins: RateConfig::of(rates.failed_logins),
            block_for: rates.block_for,
            trusted_proxies: Vec::new(),
        }
    }
}

impl LimitsConfig {
    /// The rate limits, checked: a bad rate or proxy network stops start-up with its name.
    pub fn rates(&self) -> anyhow::Result<verdict_http::guard::RateLimits> {
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|net| {
                net.parse::<ipnet::IpNet>()
                    .or_else(|_| net.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "limits.trusted_proxies: {net:?} is not an address or a network such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(verdict_http::guard::RateLimits {
            per_address: self.per_address.rate("per_address")?,
            per_key: self.per_key.rate("per_key")?,
            failed_logins: self.failed_logins.rate("failed_logins")?,
            block_for: self.block_for,
            trusted_proxies,
        })
    }
}

/// How connections are accepted and ended (`listen.rs`).
///
/// ```toml
/// [connections]
/// max = 10000                # open connections at most; more wait in the kernel's backlog
/// header_timeout = "10s"     # to send a request's headers, and idle time between requests
/// body_timeout = "30s"       # to send a report's body; ingest: between two pieces of it
/// handshake_timeout = "10s"  # a TLS handshake
/// drain = "30s"              # after SIGTERM, for in-flight requests to finish
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsConfig {
    pub max: usize,
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub drain: Duration,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        let d = crate::listen::Listening::default();
        Self {
            max: d.max_connections,
            header_timeout: d.header_timeout,
            body_timeout: verdict_http::Limits::default().body_timeout,
            handshake_timeout: d.handshake_timeout,
            drain: d.drain,
        }
    }
}

impl Config {
    /// How `serve` accepts and ends connections; a zero cap or timeout is refused at load.
    pub fn listening(&self) -> crate::listen::Listening {
        crate::listen::Listening {
            max_connections: self.connections.max,
            header_timeout: self.connections.header_timeout,
            handshake_timeout: self.connections.handshake_timeout,
            drain: self.connections.drain,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteConfig {
    /// Page cache of the writing connection (see `SqliteOptions::writer_cache_mib` for the
    /// trade-off).
    pub cache_mib: u32,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            cache_mib: verdict_store::sqlite::SqliteOptions::DEFAULT_WRITER_CACHE_MIB,
        }
    }
}

/// The PostgreSQL pool of this node (several nodes share one database; each has its own pool).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    /// Most connections this node opens. Mind the server's `max_connections` across nodes.
    pub pool_size: usize,
    /// How long a request waits for a connection before it is answered as unavailable (503 or
    /// the dialect's equivalent) instead of hanging while the database is down.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        let d = verdict_store::postgres::PostgresOptions::default();
        Self {
            pool_size: d.pool_size,
            acquire_timeout: d.acquire_timeout,
        }
    }
}

/// Judging rules. Windows are durations such as `60s`, `15m`, `24h`.
///
/// ```toml
/// [judging.windows]            # per captcha family
/// hcaptcha = "120s"
/// [judging.dialect_windows.twocaptcha]
/// all = "15m"                  # every family, for this dialect
/// image = "1h"
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgingConfig {
    #[serde(with = "duration_map")]
    pub windows: BTreeMap<String, Duration>,
    pub dialect_windows: BTreeMap<String, DialectWindows>,
    /// Take back the refunds of an account the screen puts on ignored standing, from the
    /// period it found abnormal (default true).
    pub clawback: Option<bool>,
    /// Screen operator-trusted accounts like any other: ignore them, cap and claw back their
    /// refunds (default false: their reports are upheld and what the screen would have done is
    /// noted on the account, `screen_flag`, and logged).
    pub screen_trusted: bool,
    /// A client confirming a solution whitelists the worker who solved it (anti-captcha's rule).
    pub whitelist_on_correct: bool,
    pub screen: ScreenConfig,
    pub rechecks: RecheckConfig,
    pub scores: ScoresConfig,
}

/// What published score intervals allow for in how clients report (docs/scoring.md, "What an
/// interval holds"); unset values keep `ReportingBounds::default()`.
///
/// ```toml
/// [judging.scores]
/// report_share_min = 0.7    # reporting clients report at least this share of their failures
/// false_report_max = 0.08   # and at most this rate of right answers (sites' own rejections)
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoresConfig {
    pub report_share_min: Option<f64>,
    pub false_report_max: Option<f64>,
}

/// The statistical screen; unset values keep the defaults of `verdict_domain::screen`.
///
/// ```toml
/// [judging.screen]
/// min_volume = 100          # tasks of a family in 24 h before an account is judged by its rate
/// slow_p = 1e-6             # slow lane (72 h) threshold; fast_p = 1e-9 (6 h), baseline_p = 1e-6
/// drift_lane = false        # let the drift lane flag accounts (opt-in; see docs/simulation.md)
/// drift_ratio = 1.5         # the rise over its own history the drift lane looks for
/// drift_threshold = 12.0    # the drift lane's evidence (nats) that flags an account
/// ignore_for = "3d"         # how long a flagged account is ignored; fast_ignore_for = "12h"
/// pooled_concentration = 60 # spread of the pooled prior with fewer than min_cohort trusted
/// refit_growth = 0.25       # data growth since the last estimate that refits at ingest
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreenConfig {
    pub min_volume: Option<u64>,
    pub slow_window_hours: Option<i64>,
    pub slow_p: Option<f64>,
    pub fast_window_hours: Option<i64>,
    pub fast_min_tasks: Option<u64>,
    pub fast_p: Option<f64>,
    pub baseline_p: Option<f64>,
    pub drift_lane: Option<bool>,
    pub drift_ratio: Option<f64>,
    pub drift_threshold: Option<f64>,
    pub cap_quantile: Option<f64>,
    pub min_cohort: Option<usize>,
    /// With fewer trusted accounts than `min_cohort`: how much honest accounts' rates are taken
    /// to differ (the pooled prior's `a + b`).
    pub pooled_concentration: Option<f64>,
    pub pooled_min_tasks: Option<u64>,
    pub pooled_min_accounts: Option<usize>,
    /// Growth of a family's data since its last estimate that refits it at the next ingest.
    pub refit_growth: Option<f64>,
    #[serde(with = "humantime_serde")]
    pub ignore_for: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub fast_ignore_for: Option<Duration>,
}

/// Re-checks of image and audio reports (a second solve by the platform).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecheckConfig {
    pub enabled: Option<bool>,
    pub sample_rate: Option<f64>,
    pub min_precision: Option<f64>,
    /// Re-checks in 24 h before an account can be ignored for mostly false reports.
    pub min_verified: Option<f64>,
    /// Always re-check reports that carry a correction (default true).
    pub verify_corrections: Option<bool>,
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// `accept` or `reject`: what a report nobody re-checked in time becomes.
    pub on_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DialectWindows(#[serde(with = "duration_map")] pub BTreeMap<String, Duration>);

mod duration_map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<&String, String> = map
            .iter()
            .map(|(k, v)| {
                (
                    k,
                    humantime_serde::re::humantime::format_duration(*v).to_string(),
                )
            })
            .collect();
        text.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        let text = BTreeMap::<String, String>::deserialize(d)?;
        text.into_iter()
            .map(|(k, v)| {
                humantime_serde::re::humantime::parse_duration(&v)
                    .map(|d| (k.clone(), d))
                    .map_err(|e| serde::de::Error::custom(format!("window {k:?}: {e}")))
            })
            .collect()
    }
}

impl JudgingConfig {
    /// The domain policy these settings describe; unknown family names are an error.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let mut policy = verdict_http::default_policy();
        let family = |name: &str| {
            Family::parse(name).with_context(|| {
                let known: Vec<&str> = Family::ALL.iter().map(|f| f.as_str()).collect();
                format!(
                    "unknown captcha family {name:?} in judging windows; known: {}",
                    known.join(", ")
                )
            })
        };
        for (name, window) in &self.windows {
            policy.windows.set_family(family(name)?, *window);
        }
        for (dialect, windows) in &self.dialect_windows {
            if verdict_http::dialect::registry::find(dialect).is_none() {
                let known: Vec<&str> = verdict_http::dialect::registry::names().collect();
                bail!(
                    "unknown dialect {dialect:?} in [judging.dialect_windows]; known: {}",
                    known.join(", ")
                );
            }
            for (name, window) in &windows.0 {
                let f = if name == "all" {
                    None
                } else {
                    Some(family(name)?)
                };
                policy.windows.set_dialect(dialect, f, *window);
            }
        }
        set(&mut policy.clawback, self.clawback);
        policy.screen_trusted = self.screen_trusted;
        policy.whitelist_on_correct = self.whitelist_on_correct;
        let (s, c) = (&mut policy.screen, &self.screen);
        set(&mut s.min_volume, c.min_volume);
        set(&mut s.slow_window_hours, c.slow_window_hours);
        set(&mut s.slow_p, c.slow_p);
        set(&mut s.fast_window_hours, c.fast_window_hours);
        set(&mut s.fast_min_tasks, c.fast_min_tasks);
        set(&mut s.fast_p, c.fast_p);
        set(&mut s.baseline_p, c.baseline_p);
        set(&mut s.drift_lane, c.drift_lane);
        set(&mut s.drift_ratio, c.drift_ratio);
        set(&mut s.drift_threshold, c.drift_threshold);
        set(&mut s.cap_quantile, c.cap_quantile);
        set(&mut s.min_cohort, c.min_cohort);
        set(&mut s.pooled_concentration, c.pooled_concentration);
        set(&mut s.pooled_min_tasks, c.pooled_min_tasks);
        set(&mut s.pooled_min_accounts, c.pooled_min_accounts);
        set(&mut s.refit_growth, c.refit_growth);
        if !(s.pooled_concentration >= 2.0 && s.pooled_concentration.is_finite()) {
            bail!("judging.screen.pooled_concentration must be at least 2");
        }
        if !(s.refit_growth > 0.0 && s.refit_growth.is_finite()) {
            bail!("judging.screen.refit_growth must be above 0");
        }
        set(&mut s.ignore_for, c.ignore_for);
        set(&mut s.fast_ignore_for, c.fast_ignore_for);
        for (name, p) in [
            ("slow_p", s.slow_p),
            ("fast_p", s.fast_p),
            ("baseline_p", s.baseline_p),
        ] {
            if !(p > 0.0 && p < 1.0) {
                bail!("judging.screen.{name} must be between 0 and 1");
            }
        }
        if !(s.drift_ratio > 1.0 && s.drift_ratio <= 10.0) {
            bail!("judging.screen.drift_ratio must be above 1 and at most 10");
        }
        if !(s.drift_threshold >= 1.0 && s.drift_threshold.is_finite()) {
            bail!("judging.screen.drift_threshold must be at least 1");
        }
        if !(s.cap_quantile > 0.5 && s.cap_quantile < 1.0) {
            bail!("judging.screen.cap_quantile must be between 0.5 and 1");
        }
        if s.slow_window_hours < 24 || s.fast_window_hours < 1 {
            bail!(
                "judging.screen: the slow window is at least 24 hours, the fast window at least 1"
            );
        }
        let (r, c) = (&mut policy.rechecks, &self.rechecks);
        set(&mut r.enabled, c.enabled);
        set(&mut r.sample_rate, c.sample_rate);
        set(&mut r.min_precision, c.min_precision);
        set(&mut r.min_verified, c.min_verified);
        set(&mut r.verify_corrections, c.verify_corrections);
        set(&mut r.timeout, c.timeout);
        if let Some(on_timeout) = &c.on_timeout {
            r.on_timeout = match on_timeout.as_str() {
                "accept" => verdict_domain::policy::TimeoutVerdict::Accept,
                "reject" => verdict_domain::policy::TimeoutVerdict::Reject,
                other => {
                    bail!("judging.rechecks.on_timeout must be accept or reject, not {other:?}")
                }
            };
        }
        if !(0.0..=1.0).contains(&r.sample_rate) {
            bail!("judging.rechecks.sample_rate must be between 0 and 1");
        }
        let (b, c) = (&mut policy.reporting, &self.scores);
        set(&mut b.report_share_min, c.report_share_min);
        set(&mut b.false_report_max, c.false_report_max);
        if !(b.report_share_min > 0.0 && b.report_share_min <= 1.0) {
            bail!("judging.scores.report_share_min must be above 0 and at most 1");
        }
        if !(0.0..0.5).contains(&b.false_report_max) {
            bail!("judging.scores.false_report_max must be at least 0 and below 0.5");
        }
        Ok(policy)
    }
}

/// Where the data lives, chosen by URL scheme. `Debug` hides any password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                bail!("database URL {url:?} names no file; use sqlite://verdict.db");
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        bail!(
            "database URL must start with sqlite:// or postgres:// (got {:?})",
            redact(url)
        )
    }
}

/// `postgres://user:secret@host/db?password=secret` → `postgres://user:***@host/db?password=***`.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_owned(),
            },
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    match query {
        None => base,
        Some(query) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Written as `Display` writes it, without a password: nothing that serialises a
/// configuration (a dump, a log line) can leak one. Only the code's own defaults are ever
/// serialised to be read back (the first layer of [`load`]), and they are SQLite paths.
impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DatabaseUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The router (`POST /v1/route`) and the providers it chooses among.
///
/// ```toml
/// [routing]
/// explore = 0.002           # share of tasks routed uniformly (the default), to keep probing providers
/// memory_events = 1000      # the router remembers about this many feedback events per type
/// # half_life = "15m"       # or a fixed half-life instead
///
/// [[routing.providers]]
/// name = "acme"
/// cost = 0.0008             # per task, in the platform's currency
/// latency_ms = 12000
/// p95_latency_ms = 30000
/// types = ["recaptcha_v2", "hcaptcha"]   # empty or absent: every type it has evidence for
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub explore: Option<f64>,
    pub memory_events: Option<f64>,
    #[serde(with = "humantime_serde")]
    pub half_life: Option<Duration>,
    /// How stale a node's view of the other nodes' evidence may get (default 1 s).
    #[serde(with = "humantime_serde")]
    pub refresh: Option<Duration>,
    pub providers: Vec<ProviderConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub cost: f64,
    pub latency_ms: f64,
    /// Defaults to twice the mean latency.
    #[serde(default)]
    pub p95_latency_ms: Option<f64>,
    #[serde(default)]
    pub types: Vec<String>,
}

impl RoutingConfig {
    /// The router's settings; a bad value is an error naming it.
    pub fn settings(&self) -> anyhow::Result<verdict_engine::RoutingSettings> {
        use verdict_domain::routing::HalfLife;
        let mut settings = verdict_engine::RoutingSettings::default();
        let route = &mut settings.route;
        if let Some(explore) = self.explore {
            if !(0.0..0.5).contains(&explore) {
                bail!("routing.explore must be at least 0 and below 0.5");
            }
            route.explore = explore;
        }
        match (self.half_life, self.memory_events) {
            (Some(_), Some(_)) => bail!("routing: give half_life or memory_events, not both"),
            (Some(h), None) => {
                if h < Duration::from_secs(1) {
                    bail!("routing.half_life must be at least 1s");
                }
                route.half_life = HalfLife::Fixed(h);
            }
            (None, Some(events)) => {
                if !(events >= 10.0 && events.is_finite()) {
                    bail!("routing.memory_events must be at least 10");
                }
                if let HalfLife::Adaptive { memory_events, .. } = &mut route.half_life {
                    *memory_events = events;
                }
            }
            (None, None) => {}
        }
        if let Some(refresh) = self.refresh {
            settings.refresh = refresh;
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.providers {
            let name = &p.name;
            if name.is_empty() || name.len() > verdict_domain::task::MAX_NAME_LEN {
                bail!("routing.providers: a name must be 1 to 128 bytes");
            }
            if !seen.insert(name.as_str()) {
                bail!("routing.providers: {name:?} is listed twice");
            }
            let p95 = p.p95_latency_ms.unwrap_or(2.0 * p.latency_ms);
            for (field, v) in [
                ("cost", p.cost),
                ("latency_ms", p.latency_ms),
                ("p95_latency_ms", p95),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    bail!("routing.providers {name:?}: {field} must be a non-negative number");
                }
            }
            let types = p
                .types
                .iter()
                .map(|t| {
                    verdict_domain::CaptchaType::parse(t)
                        .map_err(|e| anyhow::anyhow!("routing.providers {name:?}: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            settings.providers.push(verdict_engine::ProviderProfile {
                name: name.clone(),
                cost: p.cost,
                latency_ms: p.latency_ms,
                p95_latency_ms: p95,
                types,
            });
        }
        Ok(settings)
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// Environment values are parsed as TOML scalars, so a token of digits arrives as a number.
fn secret_from_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i128),
        Float(f64),
    }
    Ok(match Option::<Scalar>::deserialize(d)? {
        None => None,
        Some(Scalar::Text(s)) => Some(s),
        Some(Scalar::Int(n)) => Some(n.to_string()),
        Some(Scalar::Float(n)) => Some(n.to_string()),
    }
    .filter(|s| !s.is_empty())
    .map(SecretString::from))
}

/// Values given on the command line, which beat every other layer.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// Top-level settings, for picking `VERDICT_*` variables out of the environment.
const SETTINGS: &[&str] = &[
    "listen",
    "database_url",
    "admin_token",
    "key_secret",
    "key_secret_file",
    "log",
    "limits",
    "connections",
    "sqlite",
    "postgres",
    "judging",
    "routing",
    "tls",
    "retention",
];

/// Loads the configuration. `file` is `--config`; without it `verdict.toml` is read if present.
pub fn load(file: Option<&Path>, overrides: Overrides, base: Config) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(base));
    match file {
        Some(path) => {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // Only the working directory: figment's `Toml::file` would also search parent directories.
        None if Path::new("verdict.toml").exists() => {
            figment = figment.merge(Toml::file_exact("verdict.toml"))
        }
        None => {}
    }
    // Only the variables that name settings: test harnesses set others (VERDICT_TEST_PG_URL).
    let settings = Env::prefixed("VERDICT_")
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            SETTINGS.iter().any(|s| key.starts_with(s))
        })
        .split("__");
    figment = figment
        .merge(settings)
        .merge(Serialized::defaults(overrides));
    let config: Config = figment.extract().context("invalid configuration")?;
    let policy = config.judging.policy()?;
    config.retention.tasks(&policy)?;
    if config.retention.batch == 0 || config.retention.every.is_zero() {
        bail!("retention.batch must be at least 1 and retention.every longer than zero");
    }
    config.tls.files()?;
    config.limits.rates()?;
    let c = &config.connections;
    if c.max == 0 {
        bail!("connections.max must be at least 1");
    }
    for (name, value) in [
        ("header_timeout", c.header_timeout),
        ("body_timeout", c.body_timeout),
        ("handshake_timeout", c.handshake_timeout),
    ] {
        if value.is_zero() {
            bail!("connections.{name} must be longer than zero");
        }
    }
    Ok(config)
}

#[cfg(test)]
// figment's Jail API returns its own large error type; the lint is about that API, not ours.
#[expect(clippy::result_large_err)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn database_urls_pick_the_backend_and_hide_passwords() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://verdict.db").unwrap(),
            DatabaseUrl::Sqlite("verdict.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/v.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/v.db".into())
        );
        let pg = DatabaseUrl::parse("postgres://verdict:hunter2@db:5432/verdict").unwrap();
        assert_eq!(
            format!("{pg:?}"),
            "DatabaseUrl(postgres://verdict:***@db:5432/verdict)"
        );
        assert!(!pg.to_string().contains("hunter2"));
        let serialised = serde_json::to_string(&pg).unwrap();
        assert!(!serialised.contains("hunter2"), "{serialised}");
        let in_query =
            DatabaseUrl::parse("postgresql://db/verdict?user=v&password=hunter2&sslmode=disable")
                .unwrap();
        assert_eq!(
            in_query.to_string(),
            "postgresql://db/verdict?user=v&password=***&sslmode=disable"
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn every_toml_example_in_the_readme_loads() {
        let readme = include_str!("../../../README.md");
        let blocks: Vec<&str> = readme
            .split("```toml\n")
            .skip(1)
            .map(|rest| rest.split("```").next().unwrap_or_default())
            .collect();
        assert!(blocks.len() >= 2, "the README shows its settings");
        for block in blocks {
            figment::Jail::expect_with(|jail| {
                jail.create_file("verdict.toml", block)?;
                let c = load(None, Overrides::default(), Config::default())
                    .unwrap_or_else(|e| panic!("{e:#}\n{block}"));
                c.judging.policy().expect("a valid policy");
                Ok(())
            });
        }
    }

    #[test]
    fn the_benchmark_configuration_loads_and_limits_nothing_it_sends() {
        let bench = include_str!("../../verdict-bench/bench.toml");
        figment::Jail::expect_with(|jail| {
            jail.create_file("verdict.toml", bench)?;
            let c = load(None, Overrides::default(), Config::default())
                .unwrap_or_else(|e| panic!("{e:#}"));
            for limit in [
                c.limits.per_address,
                c.limits.per_key,
                c.limits.failed_logins,
            ] {
                assert!(limit.per_second >= 1e9 && limit.burst >= 1_000_000_000);
            }
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order_file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "verdict.toml",
                r#"
                listen = "127.0.0.1:7000"
                log = "debug"
                [judging.windows]
                hcaptcha = "2m"
                [judging.dialect_windows.twocaptcha]
                all = "15m"
                [judging.screen]
                slow_p = 1e-5
                ignore_for = "4d"
                [judging.rechecks]
                enabled = true
                on_timeout = "reject"
                verify_corrections = false
                "#,
            )?;
            jail.set_env("VERDICT_LISTEN", "127.0.0.1:7001");
            jail.set_env("VERDICT_ADMIN_TOKEN", "12345678");
            jail.set_env("VERDICT_DATABASE_URL", "sqlite://from-env.db");
            jail.set_env("VERDICT_LIMITS__REPORT_BODY_BYTES", "1024");
            jail.set_env("VERDICT_TEST_PG_URL", "postgres://not-a-setting");
            jail.set_env("VERDICT_TLS__CERT_FILE", "/etc/verdict/cert.pem");
            jail.set_env("VERDICT_TLS__KEY_FILE", "/etc/verdict/key.pem");
            let overrides = Overrides {
                database_url: Some("sqlite://from-flag.db".into()),
                ..Overrides::default()
            };
            let c = load(None, overrides, Config::default()).expect("loads");
            assert_eq!(c.listen, "127.0.0.1:7001".parse().unwrap());
            assert_eq!(c.log, "debug");
            assert_eq!(c.limits.report_body_bytes, 1024);
            assert_eq!(
                c.tls.cert_file.as_deref(),
                Some(Path::new("/etc/verdict/cert.pem"))
            );
            assert_eq!(c.database_url, DatabaseUrl::Sqlite("from-flag.db".into()));
            assert_eq!(
                c.admin_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_owned())
                    .as_deref(),
                Some("12345678")
            );
            let policy = c.judging.policy().expect("valid");
            assert_eq!(
                policy.windows.window("native", Family::Hcaptcha),
                Duration::from_secs(120)
            );
            assert_eq!(
                policy.windows.window("twocaptcha", Family::Image),
                Duration::from_secs(900)
            );
            assert_eq!(
                (policy.screen.slow_p, policy.screen.ignore_for),
                (1e-5, Duration::from_secs(4 * 86_400))
            );
            assert_eq!(
                policy.screen.fast_p, 1e-9,
                "unset values keep their defaults"
            );
            assert!(policy.rechecks.enabled);
            assert!(!policy.rechecks.verify_corrections);
            assert_eq!(
                policy.rechecks.on_timeout,
                verdict_domain::policy::TimeoutVerdict::Reject
            );
            Ok(())
        });
    }

    #[test]
    fn routing_settings_read_from_toml_and_bad_ones_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "verdict.toml",
                r#"
                [routing]
                explore = 0.02
                half_life = "15m"

                [[routing.providers]]
                name = "acme"
                cost = 0.0008
                latency_ms = 12000
                types = ["recaptcha_v2"]
                "#,
            )?;
            let config = load(None, Overrides::default(), Config::default()).unwrap();
            let settings = config.routing.settings().unwrap();
            assert_eq!(settings.route.explore, 0.02);
            assert_eq!(
                settings.route.half_life,
                verdict_domain::routing::HalfLife::Fixed(Duration::from_secs(900))
            );
            let acme = &settings.providers[0];
            assert_eq!(
                (acme.cost, acme.latency_ms, acme.p95_latency_ms),
                (0.0008, 12_000.0, 24_000.0),
                "p95 defaults to twice the mean"
            );
            assert_eq!(acme.types, vec![verdict_domain::CaptchaType::RecaptchaV2]);
            Ok(())
        });
        let bad = |toml: &str| {
            let routing: RoutingConfig = Figment::from(Toml::string(toml)).extract().unwrap();
            format!("{:#}", routing.settings().unwrap_err())
        };
        assert!(bad("explore = 0.9").contains("routing.explore"));
        assert!(bad("half_life = \"1m\"\nmemory_events = 100").contains("not both"));
        let provider = |extra: &str| {
            format!("[[providers]]\nname = \"acme\"\ncost = 1\nlatency_ms = 10\n{extra}")
        };
        assert!(bad(&provider("types = [\"recaptha\"]")).contains("acme"));
        assert!(bad(&format!("{}\n{}", provider(""), provider(""))).contains("twice"));
        assert!(bad(&provider("p95_latency_ms = -1")).contains("p95_latency_ms"));
    }

    #[test]
    fn drift_lane_settings_are_read_and_bad_ones_are_named() {
        let judging =
            |toml: &str| -> JudgingConfig { Figment::from(Toml::string(toml)).extract().unwrap() };
        let policy =
            judging("[screen]\ndrift_lane = true\ndrift_ratio = 2.0\ndrift_threshold = 15.5")
                .policy()
                .unwrap();
        let s = &policy.screen;
        assert_eq!(
            (s.drift_lane, s.drift_ratio, s.drift_threshold),
            (true, 2.0, 15.5)
        );
        let d = judging("").policy().unwrap().screen;
        assert_eq!(
            (d.drift_lane, d.drift_ratio, d.drift_threshold),
            (false, 1.5, 12.0)
        );
        for (toml, named) in [
            ("[screen]\ndrift_ratio = 1.0", "drift_ratio"),
            ("[screen]\ndrift_threshold = 0.5", "drift_threshold"),
        ] {
            let err = format!("{:#}", judging(toml).policy().unwrap_err());
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn reporting_bounds_are_read_and_bad_ones_are_named() {
        let judging =
            |toml: &str| -> JudgingConfig { Figment::from(Toml::string(toml)).extract().unwrap() };
        let exact = judging("[scores]\nreport_share_min = 1.0\nfalse_report_max = 0.0")
            .policy()
            .unwrap();
        assert_eq!(
            exact.reporting,
            verdict_domain::scoring::ReportingBounds::EXACT
        );
        assert_eq!(
            judging("").policy().unwrap().reporting,
            verdict_domain::scoring::ReportingBounds::default()
        );
        for (toml, named) in [
            ("[scores]\nreport_share_min = 0.0", "report_share_min"),
            ("[scores]\nreport_share_min = 1.5", "report_share_min"),
            ("[scores]\nfalse_report_max = 0.5", "false_report_max"),
            ("[scores]\nfalse_report_max = -0.1", "false_report_max"),
        ] {
            let err = format!("{:#}", judging(toml).policy().unwrap_err());
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn every_top_level_setting_can_come_from_the_environment() {
        let value = serde_json::to_value(Config::default()).unwrap();
        let mut fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.push("admin_token"); // never serialised, being secrets
        fields.push("key_secret");
        fields.sort_unstable();
        let mut listed = SETTINGS.to_vec();
        listed.sort_unstable();
        assert_eq!(listed, fields);
    }

    #[test]
    fn unknown_settings_and_families_stop_start_up() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("verdict.toml", "lisen = \"127.0.0.1:1\"")?;
            assert!(load(None, Overrides::default(), Config::default()).is_err());
            jail.create_file("verdict.toml", "[judging.windows]\nrecaptha = \"1m\"")?;
            let err = load(None, Overrides::default(), Config::default()).unwrap_err();
            assert!(format!("{err:#}").contains("recaptha"));
            Ok(())
        });
    }

    #[test]
    fn the_admin_token_never_shows_in_debug_output() {
        let c = Config {
            admin_token: Some(SecretString::from("s3cret-token")),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("s3cret-token"));
    }
}
