//! Client connections: the accept loop, with a cap on how many are open, a
//! deadline for each request head, an idle timeout, and graceful shutdown.
//!
//! - **Request heads** (HTTP/1): hyper closes a connection that has not sent
//!   a whole request head [`Limits::header_read_timeout`] after it became ready
//!   for one (accepted, or its last answer sent). This drops slowloris clients
//!   that dribble header bytes, and ends HTTP/1 keep-alive waits as well.
//! - **Idle connections** (HTTP/1 and HTTP/2): one with no request in flight for
//!   [`Limits::idle_timeout`] is closed.
//! - **The cap**: at [`Limits::max_connections`] open connections, a new one
//!   makes room by closing the connection idle the longest (no request in
//!   flight, slowloris clients included); only when every connection has a
//!   request in flight is the new one refused (closed without an answer).
//! - **Shutdown**: once `shutdown` resolves, no connection is accepted; idle
//!   ones close, and those with a request in flight close after its answer.
//!
//! Header blocks: hyper itself answers a bare 431 (no body) past
//! [`HEADER_BUFFER`] bytes or [`MAX_HEADERS`] headers; the app's own, smaller
//! limits answer in the caller's format ([`crate::api::header_limits`]).

use crate::api::App;
use crate::config::ServerConfig;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// The bytes of one request head hyper buffers; past them it answers a bare 431.
pub const HEADER_BUFFER: usize = 256 << 10;
/// The headers hyper parses in one request; past them it answers a bare 431.
pub const MAX_HEADERS: usize = 1000;

/// How long the accept loop pauses after an error such as "too many open files".
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The limits on client connections (`[server]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long an HTTP/1 connection may take to send a request head, from when
    /// it is ready for one.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits `config` sets (`max_connections` before any lowering to fit
    /// the open-files limit).
    pub fn from_config(config: &ServerConfig) -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_s),
            idle_timeout: Duration::from_secs(config.idle_timeout_s),
            max_connections: config.max_connections,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the
/// requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    app: impl CurrentApp,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(HEADER_BUFFER)
        .max_headers(MAX_HEADERS);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let open = Arc::new(Open::default());
    let (stop, stopping) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let Some(connection) = open.admit(limits.max_connections) else {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection refused: every open connection has a request in flight ([server] max_connections)"
            );
            continue;
        };
        tokio::spawn(serve_connection(
            (stream, peer),
            app.clone(),
            builder.clone(),
            open.clone(),
            connection,
            limits.idle_timeout,
            stopping.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(());
    // Every connection task holds a receiver: this waits for the last to end.
    stop.closed().await;
}

/// What a connection hands each request to: one app, or the app of the
/// gateway the last reload made, looked up per request (a request that
/// started keeps the app it started on).
pub trait CurrentApp: Clone + Send + Sync + 'static {
    /// The app for a request arriving now.
    fn current(&self) -> App;
}

impl CurrentApp for App {
    fn current(&self) -> App {
        self.clone()
    }
}

impl CurrentApp for Arc<arc_swap::ArcSwap<App>> {
    fn current(&self) -> App {
        App::clone(&self.load())
    }
}

/// Serves one connection until it ends, idles out, is closed to make room, or
/// the server stops.
async fn serve_connection(
    (stream, peer): (TcpStream, SocketAddr),
    app: impl CurrentApp,
    builder: Arc<auto::Builder<TokioExecutor>>,
    open: Arc<Open>,
    connection: Arc<Connection>,
    idle_timeout: Duration,
    mut stopping: watch::Receiver<()>,
) {
    let service = hyper::service::service_fn({
        let connection = connection.clone();
        move |mut request: hyper::Request<Incoming>| {
            // The client's address, for the console's sign-in limit; only
            // the console's pages read it (an extension costs three
            // allocations, which API calls need not pay).
            if request.uri().path().starts_with("/console") {
                request.extensions_mut().insert(ConnectInfo(peer));
            }
            let in_flight = InFlight::start(connection.clone());
            let app = app.current();
            async move {
                let response = app.serve(request.map(Body::new)).await;
                // The request is in flight until its answer's body is sent
                // (or dropped), streams included.
                Ok::<_, Infallible>(response.map(|body| InFlightBody {
                    body,
                    _in_flight: in_flight,
                }))
            }
        }
    });
    let served = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            changed = stopping.changed(), if !shutting_down => {
                let _ = changed;
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
            () = connection.close.notified() => {
                if connection.in_flight() == 0 {
                    tracing::debug!("closed the longest-idle connection to make room for a new one");
                    break;
                }
                served.as_mut().graceful_shutdown();
            }
            () = &mut idle => {
                let now = Instant::now();
                match connection.idle_until(open.epoch, idle_timeout) {
                    Some(deadline) if deadline <= now => {
                        tracing::debug!("closed an idle connection ([server] idle_timeout_s)");
                        break;
                    }
                    Some(deadline) => idle.as_mut().reset(deadline.into()),
                    None => idle.as_mut().reset((now + idle_timeout).into()),
                }
            }
        }
    }
    open.remove(&connection);
}

/// The open connections.
struct Open {
    epoch: Instant,
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Default for Open {
    fn default() -> Self {
        Open {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
        }
    }
}

impl Open {
    /// Registers a new connection, first closing the longest-idle one when
    /// `max` are open; `None` when none is idle.
    fn admit(&self, max: usize) -> Option<Arc<Connection>> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let live = || connections.values().filter(|c| !c.closing());
        if connections.len() >= max && live().count() >= max {
            let victim = live()
                .filter(|c| c.in_flight() == 0)
                .min_by_key(|c| c.idle_since_ms.load(Ordering::Relaxed))?
                .clone();
            victim.closing.store(true, Ordering::Relaxed);
            victim.close.notify_one();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            epoch: self.epoch,
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(millis_since(self.epoch)),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        connections.insert(id, connection.clone());
        Some(connection)
    }

    fn remove(&self, connection: &Connection) {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&connection.id);
    }
}

/// One open connection, as the accept loop sees it.
struct Connection {
    id: u64,
    epoch: Instant,
    /// Requests whose answer is not yet sent.
    in_flight: AtomicUsize,
    /// When the last request ended (or the connection opened), in ms since
    /// `epoch`.
    idle_since_ms: AtomicU64,
    /// Picked to make room; no longer counted.
    closing: AtomicBool,
    /// Told when picked to make room.
    close: Notify,
}

impl Connection {
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// When this connection idles out: `None` while a request is in flight.
    fn idle_until(&self, epoch: Instant, idle_timeout: Duration) -> Option<Instant> {
        if self.in_flight() > 0 {
            return None;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        Some(epoch + since + idle_timeout)
    }
}

/// A request in flight on a connection, until dropped.
struct InFlight(Arc<Connection>);

impl InFlight {
    fn start(connection: Arc<Connection>) -> Self {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(connection)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let connection = &self.0;
        connection
            .idle_since_ms
            .store(millis_since(connection.epoch), Ordering::Release);
        connection.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body, which keeps its request [`InFlight`] until it is sent
/// or dropped, and says what the body says of its length (so that hyper
/// sends a body of known length with its `Content-Length`).
struct InFlightBody {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for InFlightBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn millis_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let open = Open::default();
        let first = open.admit(2).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let second = open.admit(2).unwrap();
        // The older one is busy: the newer idle one is closed instead.
        let busy = InFlight::start(first.clone());
        let third = open.admit(2).unwrap();
        assert!(!first.closing() && second.closing() && !third.closing());
        // Every live connection busy: refused.
        let _also_busy = InFlight::start(third.clone());
        assert!(open.admit(2).is_none());
        // Once the first request ends, its connection is idle again.
        drop(busy);
        assert!(open.admit(2).is_some());
        assert!(first.closing());
    }
}
