//! How much one client may ask: requests per client address and per key (token buckets), and a
//! much stricter budget for failed logins per address, past which the address is blocked for a
//! while, so that no key or password can be guessed online. A throttled request is answered
//! the way its own service answers when it throttles ([`Dialect::throttled`]), with a
//! `Retry-After` header; the judging engine never sees it.
//!
//! The client address is the connection's peer, or, when that peer is a proxy the operator
//! trusts, the last address in `X-Forwarded-For` that is not one of those proxies.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::http::header::RETRY_AFTER;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use verdict_domain::{Account, KeyHash, Refusal, ReportRequest};
use verdict_engine::{EngineError, ReportOutcome};

use crate::AppState;
use crate::dialect::registry::Dialect;

/// A token bucket: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Option<Quota> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / self.per_second).max(Duration::from_nanos(1));
        Some(Quota::with_period(period)?.allow_burst(NonZeroU32::new(self.burst.max(1))?))
    }
}

/// The limits; `None` turns one off.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Requests from one client address, whatever they carry.
    pub per_address: Option<Rate>,
    /// Requests presenting one key (known or not).
    pub per_key: Option<Rate>,
    /// Failed logins (an unknown, revoked or expired key, a wrong password or admin token) from
    /// one address; past it the address is blocked for `block_for`.
    pub failed_logins: Option<Rate>,
    pub block_for: Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

impl RateLimits {
    /// No limit at all: in-process tests and benchmarks of throughput.
    pub fn off() -> Self {
        Self {
            per_address: None,
            per_key: None,
            failed_logins: None,
            block_for: Duration::ZERO,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for RateLimits {
    /// Generous for clients (a platform may forward many clients from one address), strict for
    /// guessing: twenty failed logins, then one every three seconds, and a minute's block for
    /// an address that keeps trying.
    fn default() -> Self {
        Self {
            per_address: Some(Rate {
                per_second: 1000.0,
                burst: 2000,
            }),
            per_key: Some(Rate {
                per_second: 200.0,
                burst: 400,
            }),
            failed_logins: Some(Rate {
                per_second: 1.0 / 3.0,
                burst: 20,
            }),
            block_for: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why a request was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Over the request rate of its address or its key.
    TooManyRequests,
    /// Its address failed to log in too often and is blocked for now.
    TooManyFailedLogins,
}

/// How a dialect answers a throttled request.
pub type Throttled = fn(&Throttle, Option<&str>) -> Response;

/// A request refused for its rate, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub cause: Cause,
    pub retry_after: Duration,
}

impl Throttle {
    /// Whole seconds, at least one: what `Retry-After` says.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }

    /// A dialect's own throttling answer ([`Dialect::throttled`]) with `Retry-After`. `query`
    /// is the request's query string, for dialects whose answer format it chooses (`json=1`).
    pub fn respond(&self, throttled: Throttled, query: Option<&str>) -> Response {
        let mut response = throttled(self, query);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(self.retry_after_secs()));
        response
    }
}

/// The limiters and the addresses blocked for failed logins.
#[derive(Debug)]
pub struct Guard {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_key: Option<DefaultKeyedRateLimiter<KeyHash>>,
    failed_logins: Option<DefaultKeyedRateLimiter<IpAddr>>,
    block_for: Duration,
    trusted_proxies: Vec<IpNet>,
    /// Addresses blocked for failed logins, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Guard {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            per_address: keyed(limits.per_address),
            per_key: keyed(limits.per_key),
            failed_logins: keyed(limits.failed_logins),
            block_for: limits.block_for,
            trusted_proxies: limits.trusted_proxies.clone(),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// No limit at all.
    pub fn off() -> Self {
        Self::new(&RateLimits::off())
    }

    /// The client's address: the peer, or what a trusted proxy says the client is.
    pub fn client_address(&self, request: &Request) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()?
            .0
            .ip();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        // Each proxy appends the address it received from: the last untrusted one is the client.
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|a| !self.trusts(*a))
                .unwrap_or(peer),
        )
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|net| net.contains(&address))
    }

    /// Whether a request from `address` may be served now.
    pub fn admit_address(&self, address: IpAddr) -> Result<(), Throttle> {
        if let Some(until) = self.blocked_until(address) {
            return Err(Throttle {
                cause: Cause::TooManyFailedLogins,
                retry_after: until.saturating_duration_since(Instant::now()),
            });
        }
        check(self.per_address.as_ref(), &address)
    }

    /// Whether a request presenting `key` may be served now.
    pub fn admit_key(&self, key: &str) -> Result<(), Throttle> {
        check(self.per_key.as_ref(), &KeyHash::unkeyed(key))
    }

    fn blocked_until(&self, address: IpAddr) -> Option<Instant> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked
            .get(&address)
            .copied()
            .filter(|t| *t > Instant::now())
    }

    /// Counts a failed login from `address`; past the budget the address is blocked, and the
    /// block is logged once, with the address.
    pub fn failed_login(&self, address: IpAddr) {
        let Some(limiter) = &self.failed_logins else {
            return;
        };
        if limiter.check_key(&address).is_ok() {
            return;
        }
        let until = Instant::now() + self.block_for;
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let newly = blocked.get(&address).is_none_or(|t| *t <= Instant::now());
        blocked.insert(address, until);
        if newly {
            tracing::warn!(
                client = %address,
                block_s = self.block_for.as_secs(),
                "too many failed logins from one address: blocked"
            );
        }
    }

    /// Forgets buckets and blocks no longer in force, so that memory follows the clients active
    /// now, not every address ever seen. Run now and then.
    pub fn housekeep(&self) {
        for limiter in [&self.per_address, &self.failed_logins]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_key {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
    }
}

fn keyed<K: std::hash::Hash + Eq + Clone>(
    rate: Option<Rate>,
) -> Option<DefaultKeyedRateLimiter<K>> {
    rate.and_then(Rate::quota)
        .map(DefaultKeyedRateLimiter::keyed)
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), Throttle> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(key).map_err(|not_until| Throttle {
        cause: Cause::TooManyRequests,
        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
    })
}

tokio::task_local! {
    /// Set by whatever in a request's handling found its credentials wrong.
    static LOGIN_FAILED: Cell<bool>;
}

/// Notes that the request being handled presented credentials that open nothing.
pub fn note_failed_login() {
    let _ = LOGIN_FAILED.try_with(|failed| failed.set(true));
}

/// Middleware for one dialect's routes: the address's rate and block before the handler, its
/// failed logins counted after.
pub async fn guard_requests(
    State((app, dialect)): State<(AppState, &'static Dialect)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(address) = app.guard.client_address(&request) else {
        // Called in-process, without a connection: nothing to limit by.
        return next.run(request).await;
    };
    if let Err(throttle) = app.guard.admit_address(address) {
        tracing::debug!(client = %address, ?throttle, dialect = dialect.name, "throttled");
        return throttle.respond(dialect.throttled, request.uri().query());
    }
    let (response, failed) = LOGIN_FAILED
        .scope(Cell::new(false), async {
            let response = next.run(request).await;
            (response, LOGIN_FAILED.with(Cell::get))
        })
        .await;
    if failed {
        app.guard.failed_login(address);
    }
    response
}

/// What handlers call instead of the engine's authentication and reporting: the same, noting a
/// failed login for the guard.
impl AppState {
    /// A report presented with `key`, within the key's rate (else the dialect's `throttled`
    /// answer), rendered by `render`.
    pub async fn report(
        &self,
        throttled: Throttled,
        query: Option<&str>,
        key: &str,
        request: ReportRequest,
        render: impl FnOnce(Result<ReportOutcome, EngineError>) -> Response,
    ) -> Response {
        match self.guard.admit_key(key) {
            Ok(()) => render(self.submit_report(key, request).await),
            Err(throttle) => throttle.respond(throttled, query),
        }
    }

    pub async fn submit_report(
        &self,
        key: &str,
        request: ReportRequest,
    ) -> Result<ReportOutcome, EngineError> {
        let outcome = self.engine.submit_report(key, request).await;
        if matches!(outcome, Ok(ReportOutcome::Refused(Refusal::UnknownKey))) {
            note_failed_login();
        }
        outcome
    }

    pub async fn authenticate(&self, key: &str) -> Result<Option<Account>, EngineError> {
        noted(self.engine.authenticate(key).await)
    }

    pub async fn authenticate_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, EngineError> {
        noted(self.engine.authenticate_login(username, password).await)
    }
}

fn noted(found: Result<Option<Account>, EngineError>) -> Result<Option<Account>, EngineError> {
    if matches!(found, Ok(None)) {
        note_failed_login();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            per_address: Some(Rate {
                per_second: 1.0,
                burst: 3,
            }),
            per_key: Some(Rate {
                per_second: 1.0,
                burst: 2,
            }),
            failed_logins: Some(Rate {
                per_second: 0.01,
                burst: 2,
            }),
            block_for: Duration::from_secs(60),
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        }
    }

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = Request::builder().uri("/");
        if let Some(f) = forwarded {
            builder = builder.header("x-forwarded-for", f);
        }
        let mut request = builder.body(axum::body::Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        request
    }

    #[test]
    fn a_bucket_empties_at_its_burst_and_says_when_to_come_back() {
        let guard = Guard::new(&limits());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(guard.admit_address(a).is_ok());
        }
        let throttle = guard.admit_address(a).unwrap_err();
        assert_eq!(throttle.cause, Cause::TooManyRequests);
        assert!(throttle.retry_after <= Duration::from_secs(1));
        assert_eq!(throttle.retry_after_secs(), 1);
        // Another address, another bucket.
        assert!(guard.admit_address("192.0.2.2".parse().unwrap()).is_ok());
        assert!(guard.admit_key("k1").is_ok() && guard.admit_key("k1").is_ok());
        assert!(guard.admit_key("k1").is_err());
        assert!(guard.admit_key("k2").is_ok());
    }

    #[test]
    fn failed_logins_past_the_budget_block_the_address() {
        let guard = Guard::new(&limits());
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        guard.failed_login(a);
        guard.failed_login(a);
        assert!(guard.admit_address(a).is_ok(), "within the budget");
        guard.failed_login(a);
        let throttle = guard.admit_address(a).unwrap_err();
        assert_eq!(throttle.cause, Cause::TooManyFailedLogins);
        assert!(throttle.retry_after > Duration::from_secs(50));
        assert!(guard.admit_address("198.51.100.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_an_untrusted_peer_cannot() {
        let guard = Guard::new(&limits());
        let from_proxy = request("10.1.2.3:5000", Some("203.0.113.9, 10.9.9.9"));
        assert_eq!(
            guard.client_address(&from_proxy),
            Some("203.0.113.9".parse().unwrap())
        );
        let spoofed = request("192.0.2.50:5000", Some("203.0.113.9"));
        assert_eq!(
            guard.client_address(&spoofed),
            Some("192.0.2.50".parse().unwrap())
        );
        let bare_proxy = request("10.1.2.3:5000", None);
        assert_eq!(
            guard.client_address(&bare_proxy),
            Some("10.1.2.3".parse().unwrap())
        );
    }

    #[test]
    fn zero_or_absent_rates_limit_nothing() {
        let guard = Guard::new(&RateLimits {
            per_address: Some(Rate {
                per_second: 0.0,
                burst: 1,
            }),
            ..RateLimits::off()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10_000 {
            assert!(guard.admit_address(a).is_ok());
            guard.failed_login(a);
        }
    }
}
