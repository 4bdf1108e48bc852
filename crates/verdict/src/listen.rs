//! Accepting connections: HTTP/1.1, plain or TLS, with the limits a service open to the internet
//! needs and `axum::serve` does not set: a cap on open connections, a deadline for a request's
//! headers (which is also how long an idle keep-alive connection may wait for its next
//! request), a deadline for a TLS handshake, and a shutdown that drains in-flight requests
//! within a deadline on every listener.
//!
//! Hand-written over hyper's connection builder because `axum::serve` has no timer (hyper's
//! header timeout stays off, so a client sending a byte a second holds its connection for ever)
//! and no connection cap, and axum-server's drain deadline applied to TLS only; this is the
//! loop axum's own documentation points to for such needs (its `serve-with-hyper` example).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, EXPECT, HeaderValue};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// How connections are accepted and ended.
#[derive(Debug, Clone)]
pub struct Listening {
    /// Most connections open at once; beyond it new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, counted from the moment the
    /// server starts waiting for them: on a new connection, and on a kept-alive one after the
    /// previous response. A connection that misses it is closed.
    pub header_timeout: Duration,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// After the shutdown signal: how long in-flight requests get to finish before the
    /// connections still open are closed.
    pub drain: Duration,
}

impl Default for Listening {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(30),
        }
    }
}

/// The TLS acceptor for a PEM certificate chain and private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the TLS private key {}", key.display()))?;
    // One process-wide choice of crypto: ring (no C toolchain-heavy aws-lc build).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not make a server identity")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish (idle connections close at once) and returns once every connection is
/// closed or `drain` has passed, whichever is first.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    settings: Listening,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("connection slots closed")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: the listener
                    // itself is fine, so wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // The router as hyper calls it, every request carrying the peer's address.
        let transport = verdict_http::dashboard::Transport { tls: tls.is_some() };
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(transport);
            let (request, unread) = UnreadBody::watch(request);
            let answer = app.clone().call(request);
            async move {
                let mut response = answer.await?;
                unread.settle(&mut response).await;
                Ok::<_, Infallible>(response)
            }
        });
        let http = http.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake_timeout = settings.handshake_timeout;
        connections.spawn(async move {
            let _slot = slot;
            let served = match tls {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
                Some(acceptor) => {
                    let Some(stream) = handshake(acceptor, stream, handshake_timeout, peer).await
                    else {
                        return;
                    };
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await
                }
            };
            if let Err(e) = served {
                // Clients that hang up mid-request, or miss the header deadline: routine.
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let open = settings.max_connections - slots.available_permits();
    tracing::info!(
        open,
        drain_s = settings.drain.as_secs(),
        "no longer accepting; draining"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection closed"),
        () = tokio::time::sleep(settings.drain) => {
            let left = settings.max_connections - slots.available_permits();
            tracing::warn!(left, "drain deadline passed; closing the connections still open");
        }
    }
    connections.shutdown().await;
    Ok(())
}

/// The most of a request body left unread by its handler that is read and discarded so that
/// the connection can carry the next request; a larger remainder closes the connection.
const DRAINED_AT_MOST: u64 = 64 * 1024;
/// How long a body left unread may take to arrive before the connection is closed instead.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// A request body that its handler may leave unread (a rate limit, a wrong key, a malformed
/// path all answer before reading it), with what is needed to settle the connection.
///
/// hyper, finding a body unread after the answer, tries once to discard it and otherwise
/// closes the connection, after an answer that did not say so: a client that reuses the
/// connection (most HTTP libraries do, and none retries a POST) fails its next request with a
/// reset. So the rest of a small body is read here first, and when that is not possible the
/// answer carries `Connection: close`, which hyper honours and clients expect.
struct UnreadBody {
    /// Where the body is handed back if dropped unread; `None` when there was none to read.
    leftover: Option<Arc<Mutex<Option<Incoming>>>>,
    expects_continue: bool,
}

impl UnreadBody {
    fn watch(request: Request<Incoming>) -> (Request<WatchedBody>, Self) {
        let expects_continue = request
            .headers()
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let (parts, body) = request.into_parts();
        let leftover = (!body.is_end_stream()).then(|| Arc::new(Mutex::new(None)));
        let watched = WatchedBody {
            inner: Some(body),
            finished: false,
            leftover: leftover.clone(),
        };
        let unread = Self {
            leftover,
            expects_continue,
        };
        (Request::from_parts(parts, watched), unread)
    }

    /// Reads and discards what the handler left of the body, or marks `response` as the
    /// connection's last.
    async fn settle(self, response: &mut Response) {
        let Some(slot) = self.leftover else { return };
        let Some(mut body) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            // Read to its end, or still held by something the handler started.
            return;
        };
        // A client waiting for "100 Continue" has not sent the body: asking for it now would
        // only make it send what is refused.
        let drainable = !self.expects_continue
            && body
                .size_hint()
                .upper()
                .is_some_and(|n| n <= DRAINED_AT_MOST);
        let drained = drainable
            && tokio::time::timeout(DRAIN_WAIT, discard(&mut body))
                .await
                .unwrap_or(false);
        if !drained {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

/// Reads `body` to its end; whether it got there without an error.
async fn discard(body: &mut Incoming) -> bool {
    use http_body_util::BodyExt;
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return false;
        }
    }
    true
}

/// The body as handlers read it: hyper's, handed back to [`UnreadBody`] when dropped before
/// its end.
struct WatchedBody {
    inner: Option<Incoming>,
    finished: bool,
    leftover: Option<Arc<Mutex<Option<Incoming>>>>,
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        // An error ends the body as well: the connection is broken, and hyper closes it.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let (Some(body), Some(slot)) = (self.inner.take(), &self.leftover)
            && !body.is_end_stream()
        {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server with `settings` on a free port; resolving `stop` starts its shutdown.
    async fn start(
        settings: Listening,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "done"
                }),
            )
            // Refuses before reading the body, as a rate limit or a wrong key does.
            .route("/refuse", post(|| async { "refused" }))
            .route("/echo", post(|body: String| async move { body }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, None, settings, async {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    /// Reads until the server closes the connection (or 20 s pass: a hang, and a failure).
    async fn read_to_close(stream: &mut TcpStream) -> String {
        let mut seen = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut seen))
            .await
            .expect("the server closed the connection")
            .ok();
        String::from_utf8_lossy(&seen).into_owned()
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: verdict\r\n\r\n";

    /// A connection to `addr` on which `bytes` have been sent.
    async fn sent(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        stream
    }

    #[tokio::test]
    async fn slow_and_silent_clients_are_disconnected_at_the_header_deadline() {
        let (addr, _stop, _server) = start(Listening {
            header_timeout: Duration::from_millis(300),
            ..Listening::default()
        })
        .await;
        // Headers a piece at a time, never finished.
        let mut slow = sent(addr, b"GET / HTTP/1.1\r\nHost: ").await;
        // Nothing at all.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        // A finished request, then idle on a kept-alive connection.
        let mut idle = sent(addr, GET).await;
        for (name, stream) in [
            ("slow", &mut slow),
            ("silent", &mut silent),
            ("idle", &mut idle),
        ] {
            let seen = read_to_close(stream).await;
            if name == "idle" {
                assert!(seen.starts_with("HTTP/1.1 200"), "{name}: {seen}");
                assert!(
                    seen.ends_with("ok"),
                    "{name}: one answer, then closed: {seen}"
                );
            } else {
                assert!(!seen.contains("200 OK"), "{name}: {seen}");
            }
        }
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        let (addr, _stop, _server) = start(Listening {
            max_connections: 2,
            header_timeout: Duration::from_secs(30),
            ..Listening::default()
        })
        .await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        // The third is accepted by the kernel but not served while both slots are taken.
        let mut third = sent(addr, GET).await;
        let mut buf = [0u8; 64];
        let waited = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buf)).await;
        assert!(waited.is_err(), "served beyond the cap");
        // A slot frees when a connection ends.
        first
            .write_all(b"GET / HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        assert!(read_to_close(&mut first).await.starts_with("HTTP/1.1 200"));
        let n = tokio::time::timeout(Duration::from_secs(20), third.read(&mut buf))
            .await
            .expect("served once a slot freed")
            .unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }

    #[tokio::test]
    async fn shutdown_finishes_requests_in_flight_and_closes_the_rest_by_the_deadline() {
        let (addr, stop, server) = start(Listening {
            header_timeout: Duration::from_secs(60),
            drain: Duration::from_secs(2),
            ..Listening::default()
        })
        .await;
        let mut in_flight = sent(addr, b"GET /slow HTTP/1.1\r\nHost: v\r\n\r\n").await;
        let mut idle = sent(addr, GET).await;
        let mut buf = [0u8; 256];
        let _ = idle.read(&mut buf).await.unwrap();
        // Half a request: neither idle nor answerable; only the deadline ends it.
        let mut stuck = sent(addr, b"GET / HTTP/1.1\r\nHo").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();

        let answered = read_to_close(&mut in_flight).await;
        assert!(
            answered.ends_with("done"),
            "the request in flight finished: {answered}"
        );
        assert_eq!(
            read_to_close(&mut idle).await,
            "",
            "the idle connection was closed"
        );
        tokio::time::timeout(Duration::from_secs(20), server)
            .await
            .expect("serve returned by the drain deadline")
            .unwrap()
            .unwrap();
        assert!(!read_to_close(&mut stuck).await.contains("200"));
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }

    /// The head of each answer in `seen`, lower-cased.
    fn heads(seen: &str) -> Vec<String> {
        seen.split("HTTP/1.1 ")
            .skip(1)
            .map(|answer| answer.split("\r\n\r\n").next().unwrap().to_lowercase())
            .collect()
    }

    #[tokio::test]
    async fn a_small_body_left_unread_is_drained_and_the_connection_kept() {
        let (addr, _stop, _server) = start(Listening {
            header_timeout: Duration::from_millis(500),
            ..Listening::default()
        })
        .await;
        // A request refused before its body arrived (the body follows a moment later, as on
        // a slow link), then a second request on the same connection.
        let mut stream = sent(
            addr,
            b"POST /refuse HTTP/1.1\r\nHost: v\r\nContent-Length: 5\r\n\r\n",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream
            .write_all(b"helloPOST /echo HTTP/1.1\r\nHost: v\r\nContent-Length: 2\r\n\r\nhi")
            .await
            .unwrap();
        let seen = read_to_close(&mut stream).await;
        let heads = heads(&seen);
        assert_eq!(heads.len(), 2, "both answered on one connection: {seen}");
        assert!(
            heads
                .iter()
                .all(|h| h.starts_with("200") && !h.contains("connection: close")),
            "{seen}"
        );
        assert!(seen.ends_with("hi"), "{seen}");
    }

    #[tokio::test]
    async fn a_body_left_unread_that_cannot_be_drained_closes_the_connection_and_says_so() {
        let (addr, _stop, _server) = start(Listening {
            header_timeout: Duration::from_secs(30),
            ..Listening::default()
        })
        .await;
        // Too large to drain: the answer says the connection closes, and it does, although
        // the client would keep it.
        let mut large = sent(
            addr,
            b"POST /refuse HTTP/1.1\r\nHost: v\r\nContent-Length: 10000000\r\n\r\nab",
        )
        .await;
        // Small, but its body never comes.
        let mut withheld = sent(
            addr,
            b"POST /refuse HTTP/1.1\r\nHost: v\r\nContent-Length: 5\r\n\r\nhel",
        )
        .await;
        // Waiting for "100 Continue" before sending its body: nothing to drain, and the client
        // learns the connection ends rather than finding it closed under its next request.
        let mut expecting = sent(
            addr,
            b"POST /refuse HTTP/1.1\r\nHost: v\r\nContent-Length: 5\r\n\
                  Expect: 100-continue\r\n\r\n",
        )
        .await;
        // Chunked, so of no declared length: it cannot be known to be small.
        let mut chunked = sent(
            addr,
            b"POST /refuse HTTP/1.1\r\nHost: v\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n",
        )
        .await;
        for (name, stream) in [
            ("large", &mut large),
            ("withheld", &mut withheld),
            ("expecting", &mut expecting),
            ("chunked", &mut chunked),
        ] {
            let seen = read_to_close(stream).await;
            let heads = heads(&seen);
            assert_eq!(heads.len(), 1, "{name}: {seen}");
            assert!(heads[0].starts_with("200"), "{name}: {seen}");
            assert!(heads[0].contains("connection: close"), "{name}: {seen}");
        }
    }
}
