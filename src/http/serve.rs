//! The accept loop, with the bounds `axum::serve` lacks: a connection limit, a header-read timeout
//! (slow clients, and keep-alive connections waiting for a next request that never comes) and an idle
//! timeout (nothing read or written). A flood of slow or idle connections then holds at most
//! `max_connections` descriptors for at most `header_read_timeout`, and the rest of the daemon keeps
//! the descriptors its DNS queries and store need.
//!
//! At the limit, a new connection takes the slot of the connection that has waited longest without
//! sending a request head ([`waiting`]), so idle and slow-header floods displace only themselves.
//! When every slot is held by a connection that has sent a request, a small reserve of connections is
//! served for `/healthz` and `/readyz` only, with a one-second header budget: probes still get through
//! while the API is saturated.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

mod waiting;
use waiting::{Ticket, Waiting};

/// Connections past `max_connections` kept for health probes.
const PROBE_RESERVE: usize = 16;
/// How long a probe connection may take to send its request head.
const PROBE_HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a connection checks its idle time.
const IDLE_TICK: Duration = Duration::from_millis(500);
/// After an accept error (e.g. EMFILE), wait this long before accepting again instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The server's bounds, from `server.*`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time to send a whole request head.
    pub header_read_timeout: Duration,
    /// Time without a byte read or written.
    pub idle_timeout: Duration,
}

/// Serve `app` on `listener` until `shutdown`, then stop accepting, let open requests finish and
/// return when every connection is closed (the caller bounds how long it waits).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let waiting = Arc::new(Waiting::default());
    let probe_slots = Arc::new(Semaphore::new(PROBE_RESERVE));
    let (mut refused, mut evicted): (u64, u64) = (0, 0);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let main_slot = slots.clone().try_acquire_owned().ok().or_else(|| {
            let handed_over = waiting.evict_oldest()?;
            evicted += 1;
            if evicted % 1000 == 1 {
                tracing::warn!(
                    limit = limits.max_connections,
                    evicted,
                    "connection limit reached; closing the connections that waited longest without a request"
                );
            }
            Some(handed_over)
        });
        let (slot, header_timeout, probes_only) = match main_slot {
            Some(permit) => (
                Slot::Parked(waiting.park(permit)),
                limits.header_read_timeout,
                false,
            ),
            None => match probe_slots.clone().try_acquire_owned() {
                Ok(permit) => (Slot::Probe(permit), PROBE_HEADER_TIMEOUT, true),
                Err(_) => {
                    refused += 1;
                    // One line per 1,000 refusals: a flood must not flood the log too.
                    if refused % 1000 == 1 {
                        tracing::warn!(
                            limit = limits.max_connections,
                            refused,
                            "connection limit reached; closing new connections"
                        );
                    }
                    drop(stream);
                    continue;
                }
            },
        };
        let app = app.clone();
        let stop = shutdown.clone();
        tokio::spawn(connection(
            stream,
            app,
            Conn {
                slot,
                header_timeout,
                idle_timeout: limits.idle_timeout,
                probes_only,
            },
            stop,
        ));
    }
    drop(listener);
    // Every connection holds a permit until it closes (parked ones through `waiting`, released when
    // their connection ends): all permits back means all closed.
    let _all = slots.acquire_many(limits.max_connections as u32).await;
    let _probes = probe_slots.acquire_many(PROBE_RESERVE as u32).await;
    Ok(())
}

/// What keeps a connection's place.
enum Slot {
    /// A main slot, parked until the first request head claims it.
    Parked(Ticket),
    /// One of the probes' reserve.
    Probe(OwnedSemaphorePermit),
}

struct Conn {
    slot: Slot,
    header_timeout: Duration,
    idle_timeout: Duration,
    probes_only: bool,
}

async fn connection(stream: TcpStream, app: Router, conn: Conn, shutdown: CancellationToken) {
    let (ticket, _probe_slot) = match conn.slot {
        Slot::Parked(ticket) => (Some(Arc::new(ticket)), None),
        Slot::Probe(permit) => (None, Some(permit)),
    };
    let evicted = ticket
        .as_ref()
        .map_or_else(CancellationToken::new, |t| t.evicted().clone());
    let _ = stream.set_nodelay(true);
    let started = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched {
        inner: stream,
        started,
        activity: activity.clone(),
    });
    let probes_only = conn.probes_only;
    let service = tower::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        // The first request head takes the slot back from the parked set (false: evicted just now).
        let kept = ticket.as_ref().is_none_or(|t| t.claim());
        async move {
            let probe = matches!(request.uri().path(), "/healthz" | "/readyz");
            if !kept || (probes_only && !probe) {
                return Ok::<Response<Body>, Infallible>(overloaded());
            }
            app.oneshot(request.map(Body::new)).await
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(conn.header_timeout)
        .keep_alive(!probes_only);
    let served = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(served);
    let mut tick = tokio::time::interval(IDLE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut draining = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.cancelled(), if !draining => {
                served.as_mut().graceful_shutdown();
                draining = true;
            }
            _ = evicted.cancelled() => {
                tracing::debug!("closing a connection that sent no request, to make room");
                return;
            }
            _ = tick.tick() => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if started.elapsed().saturating_sub(last) > conn.idle_timeout {
                    tracing::debug!("closing an idle connection");
                    return;
                }
            }
        }
    }
}

/// 503 for anything but a probe on a connection past the limit (not logged: a flood would flood the
/// log; the refusals are counted in the accept loop's warning).
fn overloaded() -> Response<Body> {
    let body = serde_json::json!({"error": {
        "code": "overloaded",
        "message": "the server is at its connection limit; try again shortly",
    }});
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// A stream that records when it last moved a byte (milliseconds since `started`).
struct Watched {
    inner: TcpStream,
    started: Instant,
    activity: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
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
