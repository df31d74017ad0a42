//! The gateway under hostile clients: idle and slowloris connections past the
//! cap, a provider's absurd `Retry-After`, oversized header blocks, wrong
//! methods, web pages calling a keyless gateway, and the modes of the files it
//! writes.

use crate::gateway::{self, KEY};
use crate::support::sluice;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Sends `request` (raw HTTP/1.1, ending `Connection: close`) and returns the
/// status and the body as JSON (`Value::Null` when empty or not JSON).
fn raw(addr: SocketAddr, request: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn addr_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

/// `sluice serve` with `config`, its open-files limit cut to `open_files`
/// (hard) and half that (soft), once it answers `/health`.
async fn serve_with_few_files(config: &Path, open_files: u32) -> crate::support::Served {
    sluice::server::install_crypto_provider();
    let port = crate::support::free_port();
    let program = sluice().get_program().to_owned();
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn {} && ulimit -Hn {open_files} && exec \"$0\" serve --config \"$1\" --listen 127.0.0.1:{port}",
            open_files / 2
        ))
        .arg(program)
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::support::Served::started(child, port).await
}

/// A client that sends a request head one header line at a time and never
/// ends it; returns whether the gateway closed the connection within `bound`.
fn slowloris(addr: SocketAddr, bound: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return true;
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .is_err()
    {
        return true;
    }
    let started = Instant::now();
    let mut buf = [0u8; 256];
    while started.elapsed() < bound {
        if stream.write_all(b"X-Drip: a\r\n").is_err() {
            return true;
        }
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // an answer (a 408 or an error): keep reading to the close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slowloris_connections_past_the_cap_do_not_starve_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        "[server]\nheader_read_timeout_s = 1\nidle_timeout_s = 60\n\n\
         [[providers]]\nslug = \"echo\"\nkind = \"echo\"\n",
    )
    .unwrap();
    // 128 open files: the gateway raises its soft limit from 64 to 128 and
    // caps connections at 64.
    let served = serve_with_few_files(&config, 128).await;
    let addr = addr_of(&served.base);

    // Twice the files the process may open, in idle connections and in
    // slowloris ones dribbling header bytes.
    let idle: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let dribblers: Vec<_> = (0..60)
        .map(|_| std::thread::spawn(move || slowloris(addr, Duration::from_secs(15))))
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/health", served.base))
        .send()
        .await
        .expect("/health answers");
    assert_eq!(health.status(), 200);
    let chat = client
        .post(format!("{}/v1/chat/completions", served.base))
        .json(
            &json!({"model": "@echo/x", "messages": [{"role": "user", "content": "still here?"}]}),
        )
        .send()
        .await
        .expect("a chat request answers");
    assert_eq!(chat.status(), 200);
    let body: Value = chat.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("still here?"),
        "{body}"
    );
    for dribbler in dribblers {
        assert!(
            dribbler.join().unwrap(),
            "a slowloris client was still connected after 15 s"
        );
    }
    drop(idle);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absurd_retry_after_is_a_429_not_an_empty_reply() {
    let h = gateway::start(
        r#"
[routing.huge-retry-after]
strategy = "single"
retry = { attempts = 2, backoff_ms = 10 }
targets = [{ model = "@oa/retry-after-huge" }]
"#,
    )
    .await;
    let response = h
        .client
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth(KEY)
        .header("x-sluice-config", "huge-retry-after")
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["x-sluice-retries"],
        "0",
        "a wait past the policy's: no retry"
    );
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_or_too_large_headers_get_a_431_in_the_callers_format() {
    let h = gateway::start("").await;
    let addr = addr_of(&h.base);
    let many: String = (0..150).map(|i| format!("x-h{i}: 1\r\n")).collect();
    let (status, body) = raw(
        addr,
        &format!("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}Connection: close\r\n\r\n"),
    );
    assert_eq!(status, 431);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit is 100")
    );

    let big = "a".repeat(80 << 10);
    let (status, body) = raw(
        addr,
        &format!(
            "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-big: {big}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    );
    assert_eq!(status, 431);
    assert_eq!(
        body["type"], "error",
        "Anthropic's format on /v1/messages: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("64 KiB")
    );

    // Past hyper's own buffer, hyper answers by itself, without a body.
    let huge = "a".repeat(300 << 10);
    let (status, body) = raw(
        addr,
        &format!(
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nx-huge: {huge}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 431);
    assert_eq!(body, Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_method_gets_a_405_in_the_callers_format() {
    let h = gateway::start("").await;
    let response = h
        .client
        .get(format!("{}/v1/chat/completions", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let response = h
        .client
        .delete(format!("{}/v1/messages", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
}

/// A gateway with no keys on a loopback socket, and its address.
async fn keyless() -> (SocketAddr, tempfile::TempDir) {
    sluice::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[state]\npath = {:?}\n\n[audit]\nenabled = false\n\n[[providers]]\nslug = \"echo\"\nkind = \"echo\"\n",
        dir.path().join("state.db").display().to_string()
    );
    let config = sluice::config::Config::parse(&text, dir.path(), &|_| None).unwrap();
    let gateway = sluice::gateway::Gateway::new(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = sluice::server::connections::Limits::from_config(&config.server);
    tokio::spawn(sluice::server::connections::serve(
        listener,
        sluice::server::app(gateway),
        limits,
        std::future::pending(),
    ));
    (addr, dir)
}

fn post(host: &str, headers: &str, body: &str) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn without_keys_web_pages_and_foreign_hosts_are_refused() {
    let (addr, _dir) = keyless().await;
    let chat = r#"{"model": "@echo/x", "messages": [{"role": "user", "content": "hi"}]}"#;
    let local = format!("127.0.0.1:{}", addr.port());
    let json = "Content-Type: application/json\r\n";

    // What the probe sent: a web page's simple request.
    let (status, body) = tokio::task::spawn_blocking(move || {
        raw(
            addr,
            &post(
                "evil.example",
                "Origin: https://evil.example\r\nContent-Type: text/plain\r\n",
                chat,
            ),
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 403, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("evil.example") && message.contains("sluice keys create"),
        "{message}"
    );

    let cases = [
        (
            post(
                &local,
                &format!("Origin: https://evil.example\r\n{json}"),
                chat,
            ),
            403,
        ),
        (post(&local, &format!("Origin: null\r\n{json}"), chat), 403),
        (post("attacker.example:8080", json, chat), 403),
        (post(&local, "Content-Type: text/plain\r\n", chat), 415),
        (post(&local, "", chat), 415),
        // What SDKs and curl send.
        (post(&local, json, chat), 200),
        (post(&format!("localhost:{}", addr.port()), json, chat), 200),
    ];
    for (request, expected) in cases {
        let (status, body) = tokio::task::spawn_blocking(move || raw(addr, &request))
            .await
            .unwrap();
        assert_eq!(status, expected, "{body}");
        // an answer of known length goes with its `Content-Length`, not
        // chunked (which `raw` would not read as JSON)
        assert!(body.is_object(), "{status}: {body}");
    }
    // Anthropic's format on its route.
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: evil.example\r\n{json}anthropic-version: 2023-06-01\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let (status, body) = tokio::task::spawn_blocking(move || raw(addr, &request))
        .await
        .unwrap();
    assert_eq!(status, 403);
    assert_eq!(body["error"]["type"], "permission_error", "{body}");
    assert_eq!(body["type"], "error");
    // The root URL's `/messages` (Vercel AI SDK clients) is guarded alike,
    // and answers in Anthropic's format without any Anthropic header.
    let request = format!(
        "POST /messages HTTP/1.1\r\nHost: evil.example\r\n{json}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let (status, body) = tokio::task::spawn_blocking(move || raw(addr, &request))
        .await
        .unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "error", "{body}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn state_audit_key_and_request_log_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("new/requests.jsonl");
    let h = gateway::start(&format!(
        "[request_log]\nmode = \"always\"\npath = {:?}\n",
        log.display().to_string()
    ))
    .await;
    assert_eq!(
        h.openai(json!({"model": "@echo/x", "messages": [{"role": "user", "content": "hi"}]}))
            .await
            .status(),
        200
    );
    h.audit_records(0).await;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let mut key = h.audit_db.as_os_str().to_owned();
    key.push(".key");
    let mut wal = h.audit_db.as_os_str().to_owned();
    wal.push("-wal");
    for file in [
        h.audit_db.clone(),
        key.into(),
        wal.into(),
        h.state_db.clone(),
        log.clone(),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(log.parent().unwrap()), 0o700);
}
