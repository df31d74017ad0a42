//! A bare reverse proxy on sluice's own HTTP stack: the floor of what any
//! gateway built on it can do on one core.
//!
//! It is what sluice is made of minus sluice: hyper's HTTP/1.1 server on a
//! single-threaded tokio runtime, and hyper-util's pooled client (the one
//! reqwest wraps) with kept-alive upstream connections. Each request goes to
//! the upstream with its method, path, headers and body untouched (the body
//! streamed, never read whole), and the answer comes back the same way: no
//! auth, no parsing, no metrics, no logs. nginx measures a proxy's speed on
//! this core; this measures how much of the gap between sluice and nginx is
//! the stack rather than sluice's own work.
//!
//! It runs on a thread of the harness pinned to the gateway's core (a thread
//! rather than a process, so that the test suite's smoke run, which has no
//! `sluice-bench` binary to start, measures it too); its memory is therefore
//! not reported.

use crate::server_thread::{ServerThread, accept_until};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;

/// The proxy's answer body: the upstream's, or a short error.
type ProxyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, hyper::Error>;

/// A running proxy, stopped when dropped.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Dropping it stops the proxy.
    _server: ServerThread,
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1, on a thread
    /// of its own pinned to `cpu` when one is given.
    pub fn start(upstream: SocketAddr, cpu: Option<usize>) -> anyhow::Result<Proxy> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (pinned, pinning) = std::sync::mpsc::channel();
        let server = ServerThread::spawn("hyper-proxy", move |stopped| {
            let _ = pinned.send(cpu.map_or(Ok(()), crate::targets::pin_this_thread));
            serve(listener, upstream, stopped)
        })?;
        pinning.recv()??;
        Ok(Proxy {
            addr,
            _server: server,
        })
    }
}

async fn serve(
    listener: std::net::TcpListener,
    upstream: SocketAddr,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let authority = HeaderValue::from_str(&upstream.to_string()).expect("an address");
    accept_until(listener, stopped, move |socket| {
        let client = client.clone();
        let authority = authority.clone();
        let service = hyper::service::service_fn(move |request| {
            forward(client.clone(), upstream, authority.clone(), request)
        });
        async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        }
    })
    .await;
}

/// `request` sent on to `upstream` as it came (its `Host` set to the
/// upstream's), and the upstream's answer as it comes; 502 when the upstream
/// cannot be reached.
async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream: SocketAddr,
    authority: HeaderValue,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = Uri::try_from(format!("http://{upstream}{path}")) else {
        return Ok(error(StatusCode::BAD_REQUEST));
    };
    parts.uri = uri;
    parts.headers.insert(HOST, authority);
    match client.request(Request::from_parts(parts, body)).await {
        Ok(answer) => Ok(answer.map(|body| body.boxed_unsync())),
        Err(_) => Ok(error(StatusCode::BAD_GATEWAY)),
    }
}

fn error(status: StatusCode) -> Response<ProxyBody> {
    let body = http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}
