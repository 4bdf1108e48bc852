//! The load generator: one keep-alive HTTP/1.1 connection per worker task (so "64 connections"
//! means 64 in flight at most), closed loop for saturation and open loop for latency at a fixed
//! rate. It runs in the bench process, sharing the machine's cores with the server under test,
//! exactly as it does when the ceiling is measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What an answer must be for the request to count as served as intended.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// A 2xx whose body is exactly this.
    Exactly(&'static [u8]),
    /// The intended invalid share: any answer is the server's business.
    Any,
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Planned {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub body: Option<(Bytes, &'static str)>,
    pub expect: Expect,
}

/// Where requests come from. `n` is the request's index in the run (its scheduled slot in an
/// open loop); `None` means the source is used up and the run ends early.
pub trait Source: Send + Sync + 'static {
    fn next(&self, n: u64) -> Option<Planned>;
}

/// One HTTP/1.1 keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    host: String,
    sender: SendRequest<Full<Bytes>>,
    bearer: Option<String>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let sender = handshake(addr).await?;
        Ok(Self {
            addr,
            host: addr.to_string(),
            sender,
            bearer: None,
        })
    }

    pub fn with_bearer(mut self, token: &str) -> Self {
        self.bearer = Some(format!("Bearer {token}"));
        self
    }

    pub async fn send(&mut self, planned: &Planned) -> anyhow::Result<(StatusCode, Bytes)> {
        // verdict closes a keep-alive connection idle for longer than its header timeout (the
        // fixture's connection idles through whole measurements): open a new one, as any
        // client would.
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            self.reopen().await?;
            self.sender.ready().await?;
        }
        let mut request = Request::builder()
            .method(planned.method.clone())
            .uri(planned.uri.as_str())
            .header(HOST, self.host.as_str());
        if let Some(bearer) = &self.bearer {
            request = request.header(AUTHORIZATION, bearer.as_str());
        }
        let body = match &planned.body {
            Some((bytes, content_type)) => {
                request = request.header(CONTENT_TYPE, *content_type);
                bytes.clone()
            }
            None => Bytes::new(),
        };
        let response = self
            .sender
            .send_request(request.body(Full::new(body))?)
            .await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// A fresh connection after a transport error: the old one is unusable.
    async fn reopen(&mut self) -> anyhow::Result<()> {
        self.sender = handshake(self.addr).await?;
        Ok(())
    }

    pub async fn post(
        &mut self,
        path: &str,
        body: Bytes,
        content_type: &'static str,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let planned = Planned {
            method: Method::POST,
            uri: path.to_owned(),
            body: Some((body, content_type)),
            expect: Expect::Any,
        };
        self.send(&planned).await
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let planned = Planned {
            method: Method::GET,
            uri: path.to_owned(),
            body: None,
            expect: Expect::Any,
        };
        self.send(&planned).await
    }
}

async fn handshake(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors surface on send.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Latencies in microseconds, 1 µs to 100 s at three significant figures.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid histogram bounds")
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub requests: u64,
    pub elapsed: Duration,
    /// Request latency; in an open loop, from the scheduled send time.
    pub latency: Histogram<u64>,
    /// Open loop only: how late each request left against its schedule (timer and generator).
    pub send_lag: Option<Histogram<u64>>,
    /// Requests meant to succeed that got a non-2xx status.
    pub bad_status: u64,
    /// Requests meant to succeed that got a 2xx with another body than the dialect's success.
    pub bad_body: u64,
    pub transport_errors: u64,
    /// The first unexpected answer, to say what went wrong.
    pub first_unexpected: Option<String>,
    /// The source ran out before the run's end.
    pub exhausted: bool,
}

impl RunStats {
    fn empty() -> Self {
        Self {
            requests: 0,
            elapsed: Duration::ZERO,
            latency: histogram(),
            send_lag: None,
            bad_status: 0,
            bad_body: 0,
            transport_errors: 0,
            first_unexpected: None,
            exhausted: false,
        }
    }

    fn merge(&mut self, other: RunStats) {
        self.requests += other.requests;
        self.latency.add(&other.latency).expect("same bounds");
        match (&mut self.send_lag, other.send_lag) {
            (Some(mine), Some(theirs)) => mine.add(&theirs).expect("same bounds"),
            (mine @ None, theirs) => *mine = theirs,
            _ => {}
        }
        self.bad_status += other.bad_status;
        self.bad_body += other.bad_body;
        self.transport_errors += other.transport_errors;
        if self.first_unexpected.is_none() {
            self.first_unexpected = other.first_unexpected;
        }
        self.exhausted |= other.exhausted;
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn lag_quantile_ms(&self, q: f64) -> Option<f64> {
        self.send_lag
            .as_ref()
            .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
    }

    fn record(&mut self, planned: &Planned, outcome: anyhow::Result<(StatusCode, Bytes)>) {
        self.requests += 1;
        let (status, body) = match outcome {
            Ok(answer) => answer,
            Err(e) => {
                self.transport_errors += 1;
                self.note(format!("{} {}: {e:#}", planned.method, planned.uri));
                return;
            }
        };
        if let Expect::Exactly(wanted) = planned.expect {
            if !status.is_success() {
                self.bad_status += 1;
                self.note(describe(planned, status, &body));
            } else if body.as_ref() != wanted {
                self.bad_body += 1;
                self.note(describe(planned, status, &body));
            }
        }
    }

    fn note(&mut self, what: String) {
        if self.first_unexpected.is_none() {
            self.first_unexpected = Some(what);
        }
    }
}

fn describe(planned: &Planned, status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    format!("{} {} -> {status} {text}", planned.method, planned.uri)
}

/// Saturation: every connection sends its next request as soon as the last is answered.
pub async fn closed_loop(
    addr: SocketAddr,
    conns: usize,
    duration: Duration,
    source: Arc<dyn Source>,
) -> anyhow::Result<RunStats> {
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut connections = Vec::with_capacity(conns);
    for _ in 0..conns {
        connections.push(Conn::open(addr).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(conns);
    for mut conn in connections {
        let (counter, stop, source) = (counter.clone(), stop.clone(), source.clone());
        workers.push(tokio::spawn(async move {
            let mut stats = RunStats::empty();
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let Some(planned) = source.next(n) else {
                    stats.exhausted = true;
                    stop.store(true, Ordering::Relaxed);
                    break;
                };
                let sent = Instant::now();
                let outcome = conn.send(&planned).await;
                let failed = outcome.is_err();
                stats
                    .latency
                    .saturating_record(sent.elapsed().as_micros() as u64);
                stats.record(&planned, outcome);
                if failed && conn.reopen().await.is_err() {
                    break;
                }
            }
            stats
        }));
    }
    join(workers, start).await
}

/// Fixed rate: request `n` is due at `start + n / rate`, whatever happened to earlier ones, and
/// its latency counts from then — a stalled server delays every request behind the stall, and
/// that wait is part of their latency (no coordinated omission). Request `n` goes out on
/// connection `n % conns`.
pub async fn open_loop(
    addr: SocketAddr,
    conns: usize,
    rate: f64,
    duration: Duration,
    source: Arc<dyn Source>,
) -> anyhow::Result<RunStats> {
    let total_requests = (rate * duration.as_secs_f64()).round().max(1.0) as u64;
    let conns = conns.max(1).min(total_requests as usize);
    let stop = Arc::new(AtomicBool::new(false));
    let mut connections = Vec::with_capacity(conns);
    for _ in 0..conns {
        connections.push(Conn::open(addr).await?);
    }
    let start = Instant::now() + Duration::from_millis(50);
    let interval = 1.0 / rate;
    let mut workers = Vec::with_capacity(conns);
    for (k, mut conn) in connections.into_iter().enumerate() {
        let (stop, source) = (stop.clone(), source.clone());
        workers.push(tokio::spawn(async move {
            let mut stats = RunStats::empty();
            let mut lag = histogram();
            let mut n = k as u64;
            while n < total_requests && !stop.load(Ordering::Relaxed) {
                let due = start + Duration::from_secs_f64(n as f64 * interval);
                tokio::time::sleep_until(due.into()).await;
                let Some(planned) = source.next(n) else {
                    stats.exhausted = true;
                    stop.store(true, Ordering::Relaxed);
                    break;
                };
                lag.saturating_record(due.elapsed().as_micros() as u64);
                let outcome = conn.send(&planned).await;
                let failed = outcome.is_err();
                stats
                    .latency
                    .saturating_record(due.elapsed().as_micros() as u64);
                stats.record(&planned, outcome);
                if failed && conn.reopen().await.is_err() {
                    break;
                }
                n += conns as u64;
            }
            stats.send_lag = Some(lag);
            stats
        }));
    }
    join(workers, start).await
}

/// Waits for every worker and merges their figures over the run's whole length.
async fn join(
    workers: Vec<tokio::task::JoinHandle<RunStats>>,
    start: Instant,
) -> anyhow::Result<RunStats> {
    let mut total = RunStats::empty();
    for worker in workers {
        total.merge(worker.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}
