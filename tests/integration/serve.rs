//! `sluice serve` as a process: it starts from a config file, serves, and on
//! SIGTERM finishes in-flight requests before it exits.

use crate::mock_upstream::MockUpstream;
use crate::support::{sluice, spawn_serve};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_requests_finish() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "{}[[guardrails]]\nplugin = \"pii\"\n",
            mock.openai_provider_toml()
        ),
    )
    .unwrap();
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

    let child = served.child.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(status.status.success(), "exit: {:?}", status.status);
    let stderr = String::from_utf8_lossy(&status.stderr);
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
