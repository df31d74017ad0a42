//! Routing against a fault-injecting upstream: fallbacks (on 5xx, timeouts,
//! connection resets, malformed answers, streams that die before their first
//! byte), retries with backoff and Retry-After, load balancing, conditions,
//! circuit breaking, and a session that survives its primary going down.

use crate::gateway::{self, Harness, KEY};
use crate::mock_upstream::MockUpstream;
use serde_json::{Value, json};

/// Routing configs over the harness's providers (`oa`, `an`, `dead`) and
/// two more: `reset` (resets every connection) and `backup` (a second mock).
fn configs(mock: &MockUpstream, backup: &MockUpstream) -> String {
    format!(
        r#"
[[providers]]
slug = "reset"
kind = "openai"
base_url = "http://{reset}/v1"

[[providers]]
slug = "primary"
kind = "anthropic"
base_url = "http://{primary}"

[[providers]]
slug = "backup"
kind = "openai"
base_url = "http://{backup}/v1"

[routing.claude-safe]
strategy = "fallback"
targets = [{{ model = "@primary/echo-last" }}, {{ model = "@backup/echo-last" }}]

[routing.on-500]
strategy = "fallback"
targets = [{{ model = "@oa/status-500" }}, {{ model = "@an/echo-last" }}]

[routing.on-reset]
strategy = "fallback"
targets = [{{ model = "@reset/echo-last" }}, {{ model = "@dead/x" }}, {{ model = "@oa/echo-last" }}]

[routing.on-timeout]
strategy = "fallback"
targets = [{{ model = "@oa/slow", timeout_s = 1 }}, {{ model = "@an/echo-last" }}]

[routing.on-malformed]
strategy = "fallback"
targets = [{{ model = "@oa/not-json" }}, {{ model = "@oa/dies-before-first-event" }}, {{ model = "@an/echo-last" }}]

[routing.only-on-429]
strategy = "fallback"
on_status_codes = [429]
targets = [{{ model = "@oa/status-500" }}, {{ model = "@an/echo-last" }}]

[routing.retry-flaky]
strategy = "single"
retry = {{ attempts = 3, backoff_ms = 10 }}
targets = [{{ model = "@oa/flaky-2-retry" }}]

[routing.retry-429]
strategy = "single"
retry = {{ attempts = 1, backoff_ms = 10, max_backoff_ms = 2000 }}
targets = [{{ model = "@oa/status-429" }}]

[routing.split]
strategy = "loadbalance"
targets = [{{ model = "@oa/echo-last", weight = 1 }}, {{ model = "@an/echo-last", weight = 1 }}]

[routing.by-temperature]
strategy = "conditional"
conditions = [{{ when = {{ "params.temperature" = {{ gt = 0.5 }} }}, then = "creative" }}]
default = "careful"
targets = [{{ name = "creative", model = "@oa/echo-last" }}, {{ name = "careful", model = "@an/echo-last", override_params = {{ temperature = 0 }} }}]
"#,
        reset = mock.reset_addr,
        primary = mock.addr,
        backup = backup.addr,
    )
}

async fn harness() -> (Harness, MockUpstream, MockUpstream) {
    // `primary` is a mock of its own, so that it can go down alone.
    let primary = MockUpstream::start().await;
    let backup = MockUpstream::start().await;
    let harness = gateway::start(&configs(&primary, &backup)).await;
    (harness, primary, backup)
}

async fn ask(h: &Harness, config: &str, body: Value) -> reqwest::Response {
    h.client
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth(KEY)
        .header("x-sluice-config", config)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn hi() -> Value {
    json!({"messages": [{"role": "user", "content": "hi"}]})
}

/// The answer's text: a whole answer's body as is, or a stream's text deltas
/// (OpenAI or Anthropic) joined.
fn answer_text(body: &str) -> String {
    if !body.starts_with("data:") && !body.starts_with("event:") {
        return body.to_string();
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|event| {
            event["choices"][0]["delta"]["content"]
                .as_str()
                .or(event["delta"]["text"].as_str())
                .map(str::to_string)
        })
        .collect()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_fallback_moves_on_from_every_kind_of_failure() {
    let (h, _primary, _backup) = harness().await;
    for (config, served_by) in [
        ("on-500", "@an/echo-last"),
        ("on-reset", "@oa/echo-last"),
        ("on-timeout", "@an/echo-last"),
        ("on-malformed", "@an/echo-last"),
    ] {
        let response = ask(&h, config, hi()).await;
        assert_eq!(response.status(), 200, "{config}");
        assert_eq!(header(&response, "x-sluice-target"), served_by, "{config}");
        assert_eq!(header(&response, "x-sluice-fallback"), "true", "{config}");
        assert_eq!(header(&response, "x-sluice-config"), config);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["choices"][0]["message"]["content"], "you said: hi",
            "{config}"
        );
    }
    // A stream whose provider dies before the first byte falls back too.
    let mut stream = hi();
    stream["stream"] = json!(true);
    let response = ask(&h, "on-malformed", stream).await;
    assert_eq!(header(&response, "x-sluice-target"), "@an/echo-last");
    let body = response.text().await.unwrap();
    assert_eq!(answer_text(&body), "you said: hi", "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    // A status the fallback does not list is passed on, not retried elsewhere.
    let response = ask(&h, "only-on-429", hi()).await;
    assert_eq!(response.status(), 500);
    assert_eq!(header(&response, "x-sluice-fallback"), "false");
}

#[tokio::test]
async fn retries_back_off_and_honour_retry_after() {
    let (h, _primary, _backup) = harness().await;
    let response = ask(&h, "retry-flaky", hi()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-sluice-retries"), "2");
    let calls = h
        .mock
        .received()
        .iter()
        .filter(|r| r.body["model"] == "flaky-2-retry")
        .count();
    assert_eq!(calls, 3);
    // 429 with Retry-After: 1 is retried once, then passed on as a 429.
    let response = ask(&h, "retry-429", hi()).await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "x-sluice-retries"), "1");
}

#[tokio::test]
async fn load_balancing_spreads_and_conditions_choose() {
    let (h, _primary, _backup) = harness().await;
    let mut served = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let response = ask(&h, "split", hi()).await;
        *served
            .entry(header(&response, "x-sluice-target"))
            .or_insert(0) += 1;
    }
    assert_eq!(served.len(), 2, "both targets serve: {served:?}");
    let mut hot = hi();
    hot["temperature"] = json!(0.9);
    let response = ask(&h, "by-temperature", hot).await;
    assert_eq!(header(&response, "x-sluice-target"), "@oa/echo-last");
    let mut cool = hi();
    cool["temperature"] = json!(0.2);
    let response = ask(&h, "by-temperature", cool).await;
    assert_eq!(header(&response, "x-sluice-target"), "@an/echo-last");
    // The careful target's override reached the provider.
    assert_eq!(h.mock.last().body["temperature"], 0);
    // An inline config, and a bad one.
    let inline = r#"{"strategy": "fallback", "targets": [{"model": "@dead/x"}, {"model": "@oa/echo-last"}]}"#;
    let response = ask(&h, inline, hi()).await;
    assert_eq!(header(&response, "x-sluice-target"), "@oa/echo-last");
    assert_eq!(header(&response, "x-sluice-config"), "inline");
    let response = ask(&h, r#"{"strategy": "fallback"}"#, hi()).await;
    assert_eq!(response.status(), 400);
    let response = ask(&h, "no-such-config", hi()).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("no routing config `no-such-config`")
    );
}

#[tokio::test]
async fn a_session_survives_its_primary_going_down_and_the_circuit_opens() {
    let (h, primary, backup) = harness().await;
    let mut messages: Vec<Value> = Vec::new();
    let mut turn = |n: usize, stream: bool| {
        messages.push(json!({"role": "user", "content": format!("turn {n}")}));
        json!({"model": "claude-sonnet", "max_tokens": 100, "stream": stream, "messages": messages.clone()})
    };
    let send = |body: Value| {
        h.client
            .post(format!("{}/v1/messages", h.base))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .header("x-sluice-config", "claude-safe")
            .json(&body)
            .send()
    };
    for n in 1..=3 {
        let response = send(turn(n, n == 2)).await.unwrap();
        assert_eq!(header(&response, "x-sluice-target"), "@primary/echo-last");
        let text = answer_text(&response.text().await.unwrap());
        assert!(text.contains(&format!("turn {n}")), "turn {n}: {text}");
    }
    primary.set_down(true);
    for n in 4..=12 {
        let response = send(turn(n, n % 2 == 0)).await.unwrap();
        assert_eq!(response.status(), 200, "turn {n}");
        assert_eq!(
            header(&response, "x-sluice-target"),
            "@backup/echo-last",
            "turn {n}"
        );
        assert_eq!(header(&response, "x-sluice-fallback"), "true");
        let text = answer_text(&response.text().await.unwrap());
        assert!(text.contains(&format!("turn {n}")), "turn {n}: {text}");
    }
    // After 5 failures in a row the primary is skipped without being asked.
    let asked = |mock: &MockUpstream| mock.received().len();
    assert_eq!(
        asked(&primary),
        3 + 5,
        "the circuit opened after 5 failures"
    );
    assert_eq!(asked(&backup), 9);
}

#[tokio::test]
async fn a_managed_key_brings_its_routing_config() {
    let (h, _primary, _backup) = harness().await;
    let created = crate::support::sluice()
        .args(["keys", "create", "--db"])
        .arg(&h.state_db)
        .args(["--id", "routed", "--routing-config", "on-500", "--json"])
        .output()
        .unwrap();
    let (stdout, stderr) = crate::support::text(&created);
    assert!(created.status.success(), "{stderr}");
    let secret = serde_json::from_str::<Value>(&stdout).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let mut response = None;
    for _ in 0..40 {
        let r = h
            .client
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(&secret)
            .json(&hi())
            .send()
            .await
            .unwrap();
        if r.status() != 401 {
            response = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let response = response.expect("the new key works");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-sluice-config"), "on-500");
    assert_eq!(header(&response, "x-sluice-target"), "@an/echo-last");
}
