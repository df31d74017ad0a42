//! The HTTP client of provider calls (chat, embeddings, token counting):
//! hyper-util's pooled client over rustls, built once, with nothing between
//! the gateway and the connection pool.
//!
//! A provider makes a [`Request`] (a POST: its address, headers and body),
//! [`Client::send`] sends it, and the pipeline reads the [`Response`]: its
//! status and headers, then its body whole ([`Response::chunk`]) or as a
//! stream ([`Response::into_stream`]).
//!
//! What it keeps of the general-purpose client it replaces (reqwest, still
//! used for the Google token and MCP, called rarely):
//! - connections: TCP_NODELAY, a 10 s connect timeout, TCP keep-alive, idle
//!   pooled connections closed after 90 s;
//! - TLS: rustls with the process's crypto provider and the platform's
//!   certificate verifier; HTTP/2 when the server offers it by ALPN,
//!   HTTP/1.1 otherwise;
//! - redirects are never followed: a 3xx is the provider's answer (see
//!   [`super::Providers::new`]);
//! - proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (and
//!   their lower-case forms) are read when the client is built; a request
//!   one of them intercepts goes through reqwest, which speaks to proxies
//!   (CONNECT tunnels, forward proxying, proxy credentials; not SOCKS), the rest
//!   straight to the provider.

use super::body::UpstreamBody;
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::{BodyDataStream, BodyExt, Either};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::Duration;

/// How long a connection (TCP and TLS) may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The TCP keep-alive probes' idle time and interval.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

/// `Authorization: Bearer <key>` for a provider key that does not change,
/// made once when the provider is built rather than on every call: the
/// header's value (sensitive), or `None` when the key cannot be a header
/// value (a line break), which keeps every request from being sent.
#[derive(Debug, Clone)]
pub struct Bearer(Option<HeaderValue>);

impl Bearer {
    /// The header for `token`.
    pub fn new(token: &str) -> Self {
        Bearer(
            HeaderValue::from_str(&format!("Bearer {token}"))
                .ok()
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                }),
        )
    }
}

/// A provider call's request: always a POST.
#[derive(Debug)]
pub struct Request {
    inner: axum::http::Request<UpstreamBody>,
    /// A header that could not be used (its name; never the value, which
    /// may be a key): the request is not sent.
    invalid: Option<String>,
}

impl Request {
    /// A POST of `body` to `uri`.
    pub fn post(uri: Uri, body: impl Into<UpstreamBody>) -> Self {
        let mut inner = axum::http::Request::new(body.into());
        *inner.method_mut() = Method::POST;
        *inner.uri_mut() = uri;
        // room for what providers and the client add (type, key, version,
        // `Host`), so the map is not grown on the way
        *inner.headers_mut() = HeaderMap::with_capacity(8);
        Request {
            inner,
            invalid: None,
        }
    }

    /// A POST of a JSON `body` to `uri`.
    pub fn post_json(uri: Uri, body: impl Into<UpstreamBody>) -> Self {
        Self::post(uri, body).json()
    }

    /// The request with its body said to be JSON.
    pub fn json(self) -> Self {
        self.header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
    }

    /// A POST of `body` to `url`, parsed here (an address made per request).
    pub fn post_to(
        url: &str,
        body: impl Into<UpstreamBody>,
    ) -> Result<Self, axum::http::uri::InvalidUri> {
        Ok(Self::post(Uri::try_from(url)?, body))
    }

    /// The request with `name: value` added (a name may repeat).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers_mut().append(name, value);
        self
    }

    /// The request with `name: value` added, both checked; a name or value
    /// that is not valid in HTTP (a line break) keeps the request from being
    /// sent.
    pub fn header_str<N: AsRef<str>>(self, name: N, value: &str) -> Self {
        self.checked(name.as_ref(), value, false)
    }

    /// As [`Request::header_str`], for a credential: marked sensitive (HTTP/2
    /// never indexes it).
    pub fn secret<N: AsRef<str>>(self, name: N, value: &str) -> Self {
        self.checked(name.as_ref(), value, true)
    }

    /// The request with `token` as `Authorization: Bearer`.
    pub fn bearer(self, token: &str) -> Self {
        self.authorization(&Bearer::new(token))
    }

    /// The request with a provider's prebuilt [`Bearer`] header.
    pub fn authorization(mut self, bearer: &Bearer) -> Self {
        match &bearer.0 {
            Some(value) => {
                self.inner
                    .headers_mut()
                    .append(AUTHORIZATION, value.clone());
            }
            None => self.invalid = Some(AUTHORIZATION.as_str().to_string()),
        }
        self
    }

    fn checked(mut self, name: &str, value: &str, sensitive: bool) -> Self {
        match (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(sensitive);
                self.inner.headers_mut().append(name, value);
            }
            _ => self.invalid = Some(name.escape_debug().to_string()),
        }
        self
    }

    /// Its address.
    pub fn uri(&self) -> &Uri {
        self.inner.uri()
    }

    /// Its headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// Its body.
    pub fn body(&self) -> &UpstreamBody {
        self.inner.body()
    }
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    message: String,
    timed_out: bool,
}

impl SendError {
    /// Whether the time to connect ran out.
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }

    fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        SendError {
            message: error_chain(error),
            timed_out: timed_out(error),
        }
    }
}

/// A response body's bytes: from the pooled client, or from reqwest when
/// the request went through a proxy.
type Body = Either<Incoming, reqwest::Body>;

/// A provider's response, its body not yet read.
#[derive(Debug)]
pub struct Response {
    inner: axum::http::Response<Body>,
}

impl Response {
    /// Its status.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// Its headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The length of its body, when the provider said it
    /// (`Content-Length`).
    pub fn content_length(&self) -> Option<u64> {
        hyper::body::Body::size_hint(self.inner.body()).exact()
    }

    /// The next piece of its body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        while let Some(frame) = self.inner.body_mut().frame().await {
            let frame = frame.map_err(|e| error_chain(&*e))?;
            if let Ok(data) = frame.into_data() {
                return Ok(Some(data));
            }
        }
        Ok(None)
    }

    /// Its body as a stream of pieces.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, String>> {
        BodyDataStream::new(self.inner.into_body())
            .map_err(|e| error_chain(&*e))
            .boxed()
    }
}

/// The pooled connection client for provider calls.
#[derive(Clone)]
pub struct Client {
    direct: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, UpstreamBody>,
    /// Which requests go through a proxy.
    proxies: Arc<Matcher>,
    /// How they do.
    proxied: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client, with the proxies of the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`).
    pub fn new() -> anyhow::Result<Self> {
        let proxied = reqwest_client(reqwest::Client::builder())?;
        Self::with_proxies(Matcher::from_system(), proxied)
    }

    /// The client, with `proxies` choosing the requests that go through
    /// `proxied` (a client that honours the same proxies).
    pub fn with_proxies(proxies: Matcher, proxied: reqwest::Client) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_keepalive(Some(TCP_KEEPALIVE));
        http.set_keepalive_interval(Some(TCP_KEEPALIVE));
        http.set_keepalive_retries(Some(3));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let direct = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(https);
        Ok(Client {
            direct,
            proxies: Arc::new(proxies),
            proxied,
        })
    }

    /// Sends `request`; the response once its head has arrived. No time
    /// limit is set here but the connect timeout: the caller bounds the
    /// wait.
    pub async fn send(&self, request: Request) -> Result<Response, SendError> {
        if let Some(name) = request.invalid {
            return Err(SendError {
                message: format!("its header `{name}` is not valid in HTTP"),
                timed_out: false,
            });
        }
        let mut request = request.inner;
        if !request.headers().contains_key(ACCEPT) {
            request
                .headers_mut()
                .insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        if self.proxies.intercept(request.uri()).is_some() {
            return self
                .send_proxied(request.map(UpstreamBody::into_bytes))
                .await;
        }
        let response = self
            .direct
            .request(request)
            .await
            .map_err(|e| SendError::of(&e))?;
        Ok(Response {
            inner: response.map(Either::Left),
        })
    }

    /// Sends `request` through its proxy, by reqwest.
    async fn send_proxied(
        &self,
        request: axum::http::Request<Bytes>,
    ) -> Result<Response, SendError> {
        let request = reqwest::Request::try_from(request).map_err(|e| SendError::of(&e))?;
        let response = self.proxied.execute(request).await.map_err(|e| SendError {
            message: error_chain(&e),
            timed_out: e.is_timeout(),
        })?;
        let response: axum::http::Response<reqwest::Body> = response.into();
        Ok(Response {
            inner: response.map(Either::Right),
        })
    }
}

/// `builder` as the pooled client is set up: the same connect timeout, and
/// no redirects followed.
pub fn reqwest_client(builder: reqwest::ClientBuilder) -> anyhow::Result<reqwest::Client> {
    Ok(builder
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// TLS for provider calls: the process's crypto provider (ring, installed
/// at start), TLS 1.2 and 1.3, the platform's verifier of certificates.
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let verifier = rustls_platform_verifier::Verifier::new(provider)?;
    Ok(config
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// An error and its causes on one line.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether `error` or a cause of it is a timeout.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::new().unwrap()
    }

    #[tokio::test]
    async fn a_header_that_cannot_be_sent_stops_the_request_and_its_value_stays_out() {
        let request = Request::post_json(Uri::from_static("http://127.0.0.1:9/v1"), b"{}".to_vec())
            .secret("x-api-key", "sk-secret\r\nx-evil: 1");
        let error = client().send(request).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("x-api-key"), "{message}");
        assert!(!message.contains("sk-secret"), "{message}");
        assert!(!error.is_timeout());
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_cause_not_a_timeout() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let uri = Uri::try_from(format!("http://127.0.0.1:{port}/v1")).unwrap();
        let error = client()
            .send(Request::post_json(uri, b"{}".to_vec()).bearer("sk-secret"))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("refused"), "{message}");
        assert!(!message.contains("sk-secret"), "{message}");
        assert!(!error.is_timeout());
    }

    #[test]
    fn a_timeout_is_found_among_the_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect error")]
        struct Outer(#[source] std::io::Error);
        let timed = Outer(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"));
        assert!(timed_out(&timed));
        assert_eq!(error_chain(&timed), "connect error: slow");
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!timed_out(&refused));
    }

    #[test]
    fn credentials_are_marked_sensitive() {
        let request = Request::post(Uri::from_static("http://h/"), Vec::new())
            .bearer("t")
            .header_str("x-other", "v");
        assert!(request.headers()["authorization"].is_sensitive());
        assert_eq!(request.headers()["authorization"], "Bearer t");
        assert!(!request.headers()["x-other"].is_sensitive());
        assert_eq!(request.inner.method(), Method::POST);
    }
}
