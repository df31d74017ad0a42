//! Provider calls through a proxy named by the environment (`HTTP_PROXY`,
//! `NO_PROXY`), as companies behind one run the gateway: a `sluice serve`
//! process, a provider, and a small forward proxy between them.

use crate::mock_upstream::MockUpstream;
use crate::support::spawn_serve;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A forward proxy: plain HTTP requests in absolute form are passed to the
/// server they name, and `CONNECT` opens a tunnel. It records each
/// connection's first request line.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// A proxy on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, recorded.clone()));
            }
        });
        Proxy { addr, seen }
    }

    /// The first request line of each connection so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Relays one client connection to where its first request goes.
async fn relay(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let Ok(n) = client.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let line = String::from_utf8_lossy(&head[..head.iter().position(|&b| b == b'\r').unwrap()])
        .into_owned();
    seen.lock().unwrap().push(line.clone());
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap(), words.next().unwrap());
    let authority = if method == "CONNECT" {
        target
    } else {
        let rest = target.strip_prefix("http://").expect("absolute form");
        rest.split('/').next().unwrap()
    };
    let Ok(mut server) = TcpStream::connect(authority).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if method == "CONNECT" {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .unwrap();
        server.write_all(&head[end..]).await.unwrap();
    } else {
        // The server takes the request in absolute form as it is.
        server.write_all(&head).await.unwrap();
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// A chat request to `model` through the gateway at `base`; its answer's text.
async fn ask(base: &str, model: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "via"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{model}");
    let body: Value = response.json().await.unwrap();
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_are_reached_through_the_environments_proxy_but_for_no_proxy_hosts() {
    let mock = MockUpstream::start().await;
    let proxy = Proxy::start().await;
    let port = mock.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    // One provider by address (proxied), one by name (in NO_PROXY).
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nslug = \"far\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\napi_key = \"sk-x\"\n\n\
             [[providers]]\nslug = \"near\"\nkind = \"openai\"\nbase_url = \"http://localhost:{port}/v1\"\napi_key = \"sk-x\"\n"
        ),
    )
    .unwrap();
    let proxy_url = format!("http://{}", proxy.addr);
    let served = spawn_serve(
        &config,
        Stdio::null(),
        &[
            ("HTTP_PROXY", &proxy_url),
            ("NO_PROXY", "localhost"),
            ("HTTPS_PROXY", ""),
            ("ALL_PROXY", ""),
        ],
    )
    .await;

    assert_eq!(ask(&served.base, "@far/m").await, "you said: via");
    assert_eq!(
        proxy.seen(),
        [format!(
            "POST http://127.0.0.1:{port}/v1/chat/completions HTTP/1.1"
        )],
        "the provider call went through the proxy"
    );
    assert_eq!(mock.received().len(), 1);

    assert_eq!(ask(&served.base, "@near/m").await, "you said: via");
    assert_eq!(proxy.seen().len(), 1, "a NO_PROXY host is reached directly");
    assert_eq!(mock.received().len(), 2);
}

/// What a response from `client` to `request` is: status, the headers the
/// pipeline reads, the length said, and the body (whole, or streamed).
async fn outcome(
    client: &sluice::providers::http::Client,
    request: sluice::providers::http::Request,
    streamed: bool,
) -> (u16, Vec<String>, Option<u64>, Vec<u8>) {
    let mut response = client.send(request).await.unwrap();
    let headers = ["content-type", "retry-after", "x-ratelimit-remaining"]
        .iter()
        .map(|name| format!("{name}: {:?}", response.headers().get(*name)))
        .collect();
    let status = response.status().as_u16();
    let length = response.content_length();
    let mut body = Vec::new();
    if streamed {
        use futures_util::StreamExt;
        let mut stream = response.into_stream();
        while let Some(piece) = stream.next().await {
            body.extend_from_slice(&piece.unwrap());
        }
    } else {
        while let Some(piece) = response.chunk().await.unwrap() {
            body.extend_from_slice(&piece);
        }
    }
    (status, headers, length, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxied_call_gets_what_a_direct_one_gets() {
    use hyper_util::client::proxy::matcher::Matcher;
    use sluice::providers::http::{Client, Request};
    sluice::server::install_crypto_provider();
    let mock = MockUpstream::start().await;
    let proxy = Proxy::start().await;
    let proxy_url = format!("http://{}", proxy.addr);
    let direct = Client::with_proxies(Matcher::builder().build(), reqwest::Client::new()).unwrap();
    let proxied = Client::with_proxies(
        Matcher::builder().http(proxy_url.clone()).build(),
        // A connection per call, so that the proxy sees each.
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(&proxy_url).unwrap())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
    )
    .unwrap();
    let request = |model: &str, stream: bool| {
        let uri = format!("http://{}/v1/chat/completions", mock.addr);
        let body = json!({"model": model, "stream": stream,
                          "messages": [{"role": "user", "content": "same"}]});
        Request::post_to(&uri, serde_json::to_vec(&body).unwrap())
            .unwrap()
            .json()
            .bearer("sk-x")
    };
    for (model, stream) in [("m", false), ("status-429", false), ("m", true)] {
        let seen = proxy.seen().len();
        let straight = outcome(&direct, request(model, stream), stream).await;
        assert_eq!(
            proxy.seen().len(),
            seen,
            "{model}: the direct call kept off the proxy"
        );
        let through = outcome(&proxied, request(model, stream), stream).await;
        assert_eq!(
            proxy.seen().len(),
            seen + 1,
            "{model}: the proxied call went through the proxy"
        );
        // Streams carry a timestamp and an id; compare them by shape.
        if stream {
            assert_eq!(straight.0, through.0);
            assert_eq!(straight.1, through.1);
            let events = |body: &[u8]| String::from_utf8_lossy(body).matches("data: ").count();
            assert_eq!(events(&straight.3), events(&through.3), "{model}");
        } else {
            assert_eq!(straight, through, "{model}");
        }
    }
    let sent = mock.received();
    assert_eq!(sent.len(), 6);
    assert_eq!(sent[0].headers["authorization"], "Bearer sk-x");
    assert_eq!(sent[0].headers["accept"], "*/*");
    assert_eq!(
        sent[0].headers, sent[1].headers,
        "both send the same headers"
    );
}
