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

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
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
            app.clone().call(request)
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
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server with `settings` on a free port; resolving `stop` starts its shutdown.
    async fn start(
        settings: Listening,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let app = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        );
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

    #[tokio::test]
    async fn slow_and_silent_clients_are_disconnected_at_the_header_deadline() {
        let (addr, _stop, _server) = start(Listening {
            header_timeout: Duration::from_millis(300),
            ..Listening::default()
        })
        .await;
        // Headers a piece at a time, never finished.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: ").await.unwrap();
        // Nothing at all.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        // A finished request, then idle on a kept-alive connection.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(GET).await.unwrap();
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
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(GET).await.unwrap();
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
        let mut in_flight = TcpStream::connect(addr).await.unwrap();
        in_flight
            .write_all(b"GET /slow HTTP/1.1\r\nHost: v\r\n\r\n")
            .await
            .unwrap();
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(GET).await.unwrap();
        let mut buf = [0u8; 256];
        let _ = idle.read(&mut buf).await.unwrap();
        // Half a request: neither idle nor answerable; only the deadline ends it.
        let mut stuck = TcpStream::connect(addr).await.unwrap();
        stuck.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
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
}
