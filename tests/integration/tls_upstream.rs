//! Provider calls over TLS, as to every hosted provider: the certificate
//! verified by the platform's verifier (its roots from `SSL_CERT_FILE` here),
//! HTTP/2 when the provider offers it by ALPN, and through an `HTTPS_PROXY`
//! tunnel. The provider is a TLS server with a certificate for `localhost`
//! from a test authority (`tls/`: `ca.pem`, and `localhost.pem` with its key,
//! valid until 2126; test material, trusted nowhere else).

use crate::proxy::Proxy;
use crate::support::spawn_serve;
use axum::http::Version;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

/// A file of the test authority.
fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/integration/tls")
        .join(name)
}

/// An OpenAI-style provider over TLS that offers HTTP/2 and HTTP/1.1, and
/// records the HTTP version of each request.
struct TlsUpstream {
    port: u16,
    versions: Arc<Mutex<Vec<Version>>>,
}

impl TlsUpstream {
    async fn start() -> Self {
        sluice::server::install_crypto_provider();
        let certs = CertificateDer::pem_file_iter(tls_file("localhost.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(tls_file("localhost.key")).unwrap();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let versions = Arc::new(Mutex::new(Vec::new()));
        let recorded = versions.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, recorded) = (acceptor.clone(), recorded.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, recorded.clone())
                    });
                    let io = TokioIo::new(tls);
                    let _ = if h2 {
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(io, service)
                            .await
                    } else {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await
                    };
                });
            }
        });
        TlsUpstream { port, versions }
    }

    fn versions(&self) -> Vec<Version> {
        self.versions.lock().unwrap().clone()
    }

    /// Its config entry, as provider `slug`, by its name (`localhost`, the
    /// name its certificate is for).
    fn provider_toml(&self, slug: &str) -> String {
        format!(
            "[[providers]]\nslug = \"{slug}\"\nkind = \"openai\"\nbase_url = \"https://localhost:{}/v1\"\napi_key = \"sk-x\"\n",
            self.port
        )
    }
}

/// A chat completion saying "over tls".
async fn answer(
    request: hyper::Request<Incoming>,
    versions: Arc<Mutex<Vec<Version>>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    versions.lock().unwrap().push(request.version());
    let body = json!({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "over tls"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}});
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap())
}

/// `sluice serve` with `providers`, trusting the certificates of `roots`,
/// with `env` added; the status and body of a chat request to `model`.
async fn ask_served(
    providers: &str,
    roots: &str,
    env: &[(&str, &str)],
    model: &str,
) -> (u16, Value) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(&config, providers).unwrap();
    let roots = tls_file(roots);
    let mut env = env.to_vec();
    env.extend([
        ("SSL_CERT_FILE", roots.to_str().unwrap()),
        ("SSL_CERT_DIR", ""),
        ("NO_PROXY", ""),
    ]);
    let served = spawn_serve(&config, Stdio::null(), &env).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.base))
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_over_tls_is_verified_and_spoken_to_in_http2() {
    let upstream = TlsUpstream::start().await;
    let (status, body) = ask_served(&upstream.provider_toml("tls"), "ca.pem", &[], "@tls/m").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "over tls");
    assert_eq!(upstream.versions(), [Version::HTTP_2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_an_authority_not_trusted_is_refused() {
    let upstream = TlsUpstream::start().await;
    // The leaf certificate as the only root: its issuer is trusted nowhere.
    let (status, body) = ask_served(
        &upstream.provider_toml("tls"),
        "localhost.pem",
        &[],
        "@tls/m",
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not be reached") && message.contains("certificate"),
        "{message}"
    );
    assert!(upstream.versions().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_over_tls_is_reached_through_a_proxy_tunnel() {
    let upstream = TlsUpstream::start().await;
    let proxy = Proxy::start().await;
    let proxy_url = format!("http://{}", proxy.addr);
    let (status, body) = ask_served(
        &upstream.provider_toml("tls"),
        "ca.pem",
        &[
            ("HTTPS_PROXY", &proxy_url),
            ("HTTP_PROXY", ""),
            ("ALL_PROXY", ""),
        ],
        "@tls/m",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "over tls");
    assert_eq!(
        proxy.seen(),
        [format!("CONNECT localhost:{} HTTP/1.1", upstream.port)]
    );
    assert_eq!(upstream.versions(), [Version::HTTP_2]);
}
