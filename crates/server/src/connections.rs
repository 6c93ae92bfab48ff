//! The accept loop `serve` and `serve_tls` share: caps on connections (in total, and per client address)
//! and timeouts on slow clients, the same on HTTP and HTTPS.
//!
//! A connection over a cap is closed as soon as it is accepted, before any byte is read or any TLS work
//! is done. Each connection must send a request's headers within the header timeout and finish its TLS
//! handshake within the same time; bodies are bounded by the router's body timeout; a connection that
//! moves no byte either way for the idle timeout is closed (hyper's header timer does not run on an idle
//! keep-alive connection). So a client trickling a byte every few seconds, or holding idle connections
//! open, costs a bounded number of sockets for a bounded time, and `/healthz` keeps answering.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// Connection caps and slow-client timeouts.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one client address (an IPv6 client's /64). Trusted proxies are exempt: many
    /// clients share their address.
    pub max_per_address: usize,
    /// Time a connection has to send a request's headers (and to finish its TLS handshake).
    pub header_timeout: Duration,
    /// Time a request has to send its whole body.
    pub body_timeout: Duration,
    /// Time a connection may move no byte either way (a keep-alive connection between requests, or one
    /// that never sends anything) before it is closed. Longer than any request takes to answer.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 10_000,
            max_per_address: 256,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// How long in-flight requests get to finish once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// The open connections, counted in all and per address.
struct Caps {
    total: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_per_address: usize,
    trusted: Vec<ipnet::IpNet>,
}

/// One admitted connection; dropping it gives its places back.
struct Admitted {
    caps: Arc<Caps>,
    address: Option<IpAddr>,
    _total: OwnedSemaphorePermit,
}

impl Caps {
    /// A place for a connection from `peer`, if both caps have one.
    fn admit(self: &Arc<Caps>, peer: IpAddr) -> Option<Admitted> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        let proxy = self.trusted.iter().any(|net| net.contains(&peer.to_canonical()));
        let address = (!proxy).then(|| talon_auth::address_key(peer));
        if let Some(key) = address {
            let mut open = self.per_address.lock();
            let count = open.entry(key).or_insert(0);
            if *count >= self.max_per_address {
                return None;
            }
            *count += 1;
        }
        Some(Admitted { caps: self.clone(), address, _total: total })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Some(key) = self.address else { return };
        let mut open = self.caps.per_address.lock();
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then lets the open
/// requests finish for up to ten seconds.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: &ConnectionLimits,
    trusted: Vec<ipnet::IpNet>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let caps = Arc::new(Caps {
        total: Arc::new(Semaphore::new(limits.max_connections)),
        per_address: Mutex::new(HashMap::new()),
        max_per_address: limits.max_per_address,
        trusted,
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(limits.header_timeout));
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    let (header_timeout, idle_timeout) = (limits.header_timeout, limits.idle_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admitted) = caps.admit(peer.ip()) else {
            tracing::debug!(peer = %peer.ip(), "connection over the cap closed");
            continue;
        };
        let Ok(service) = make.call(peer).await;
        let service = TowerToHyperService::new(service);
        let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let _admitted = admitted;
            let _ = stream.set_nodelay(true);
            let stream = Idle::new(stream, idle_timeout);
            match tls {
                None => {
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await else {
                        return;
                    };
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => tracing::warn!("requests still open after {DRAIN:?}: closed"),
    }
    Ok(())
}

/// A stream that fails its reads once it has moved no byte either way for a whole `timeout` period, which
/// ends the connection hyper serves on it (so an idle connection lasts between one and two periods).
/// Reads and writes only bump a counter, with no clock read and no timer work (a clock read costs a system
/// call on some virtual machines, and there are several reads and writes a request); the one timer, when
/// it fires, sees whether the counter moved since it was armed.
struct Idle<S> {
    inner: S,
    timeout: Duration,
    activity: u64,
    seen: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Idle<S> {
    fn new(inner: S, timeout: Duration) -> Idle<S> {
        Idle { inner, timeout, activity: 0, seen: 0, deadline: Box::pin(tokio::time::sleep(timeout)) }
    }

    /// Whether a whole period has passed without activity; re-arms the timer when it has not.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.deadline.as_mut().poll(cx).is_ready() {
            if self.activity == self.seen {
                return true;
            }
            self.seen = self.activity;
            let next = tokio::time::Instant::now() + self.timeout;
            self.deadline.as_mut().reset(next);
        }
        false
    }

    fn touch(&mut self) {
        self.activity = self.activity.wrapping_add(1);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Idle<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.expired(cx) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Idle<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        written
    }

    // Passed through so that hyper keeps writing head and body in one vectored write (without it, it
    // copies them into one buffer first: measured as ~2 µs a guarded request).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
