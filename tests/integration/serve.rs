//! `sluice serve` as a process: it starts from a config file, serves, and on
//! SIGTERM finishes in-flight requests before it exits.

use crate::mock_upstream::MockUpstream;
use crate::support::{pii_config, sluice, spawn_serve};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_requests_finish() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = pii_config(&mock, dir.path());
    let mut served = spawn_serve(&config, Stdio::piped(), &[]).await;
    let base = served.base.clone();
    let client = reqwest::Client::new();

    // A request that takes 3 s upstream, then SIGTERM while it is in flight.
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/v1/chat/completions");
        async move {
            client
                .post(url)
                .json(&json!({"model": "@oa/slow", "messages": [{"role": "user", "content": "wait"}]}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    served.signal("-TERM");

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request got its answer");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "you said: wait");

    let stderr = stopped(&mut served).await;
    assert!(
        stderr.contains("finishing in-flight requests") && stderr.contains("stopped"),
        "{stderr}"
    );
    // What the segment cache did: pii scanned the one segment, found nothing to reuse.
    assert!(
        stderr.contains("sluice: guardrail cache: 0 hits, 1 misses"),
        "{stderr}"
    );
    assert!(
        client.get(format!("{base}/health")).send().await.is_err(),
        "no longer listening"
    );
}

/// With one CPU to use (here: pinned with `taskset`), `sluice serve` runs on
/// a single-threaded runtime; requests, guardrails and a graceful stop work
/// there as on many workers.
#[tokio::test(flavor = "multi_thread")]
async fn on_one_cpu_requests_are_served_on_one_thread() {
    sluice::server::install_crypto_provider();
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = pii_config(&mock, dir.path());
    let port = crate::support::free_port();
    let child = std::process::Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_sluice"), "serve", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("taskset (util-linux) runs");
    let mut served = crate::support::Served::started(child, port).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.base))
        .json(&json!({"model": "@oa/m", "messages": [{"role": "user", "content": "mail jane@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.starts_with("you said: mail "), "{answer}");
    assert!(!answer.contains("jane@example.com"), "{answer}");

    served.signal("-TERM");
    let stderr = stopped(&mut served).await;
    assert!(
        stderr.contains("sluice: requests are served on one thread"),
        "{stderr}"
    );
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn a_bad_config_stops_serve_at_start_up_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[providers]]\nslug = \"local\"\nkind = \"openai-compatible\"\n",
    )
    .unwrap();
    let output = sluice()
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml: providers[0].base_url: required"),
        "{stderr}"
    );
}

/// Waits for a signalled gateway to exit, checks it exited cleanly, and
/// returns what it wrote to stderr.
async fn stopped(served: &mut crate::support::Served) -> String {
    let child = served.child.take().unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "exit: {:?}", output.status);
    String::from_utf8_lossy(&output.stderr).into_owned()
}
