//! The response cache: exact-match hits (whole and streamed), partitioned by
//! key, bypass and refresh, what is never cached, and a Redis store shared by
//! two gateway processes.

use crate::gateway::{self, Harness, KEY};
use crate::governance::gateway_config;
use crate::mock_upstream::MockUpstream;
use crate::support::{RedisDb, spawn_serve};
use serde_json::{Value, json};

const OTHER_KEY: &str = "gw-key-team-b-0123456789";

const CACHE: &str = r#"
[response_cache]
enabled = true

[[keys]]
id = "team-b"
key = "gw-key-team-b-0123456789"

[[guardrails]]
plugin = "pii"
"#;

async fn ask(
    h: &Harness,
    key: &str,
    body: &Value,
    cache: Option<&str>,
) -> (String, String, String) {
    let mut request = h
        .client
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth(key)
        .json(body);
    if let Some(mode) = cache {
        request = request.header("x-sluice-cache", mode);
    }
    let response = request.send().await.unwrap();
    let status = response.headers()["x-sluice-cache"]
        .to_str()
        .unwrap()
        .to_string();
    let target = response.headers()["x-sluice-target"]
        .to_str()
        .unwrap()
        .to_string();
    (status, target, response.text().await.unwrap())
}

fn upstream_calls(h: &Harness, model: &str) -> usize {
    h.mock
        .received()
        .iter()
        .filter(|r| r.body["model"] == model)
        .count()
}

#[tokio::test]
async fn a_repeated_request_is_answered_from_the_cache_per_key() {
    let h = gateway::start(CACHE).await;
    let body = json!({"model": "@oa/echo-last", "temperature": 0, "messages": [{"role": "user", "content": "cache me"}]});
    let (status, _, first) = ask(&h, KEY, &body, None).await;
    assert_eq!(status, "miss");
    let (status, target, second) = ask(&h, KEY, &body, None).await;
    assert_eq!((status.as_str(), target.as_str()), ("hit", "@oa/echo-last"));
    assert_eq!(first, second);
    // The same request with its fields in another order is the same request.
    let reordered = json!({"messages": [{"content": "cache me", "role": "user"}], "temperature": 0, "model": "@oa/echo-last"});
    assert_eq!(ask(&h, KEY, &reordered, None).await.0, "hit");
    assert_eq!(upstream_calls(&h, "echo-last"), 1);
    // Another key never reads this key's answer.
    assert_eq!(ask(&h, OTHER_KEY, &body, None).await.0, "miss");
    // bypass neither reads nor writes; refresh writes without reading.
    assert_eq!(ask(&h, KEY, &body, Some("bypass")).await.0, "bypass");
    assert_eq!(ask(&h, KEY, &body, Some("refresh")).await.0, "refresh");
    assert_eq!(upstream_calls(&h, "echo-last"), 4);
    assert_eq!(ask(&h, KEY, &body, None).await.0, "hit");
    // A bad mode is a 400.
    let response = h
        .client
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth(KEY)
        .header("x-sluice-cache", "sometimes")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_cached_stream_is_replayed_as_the_same_stream() {
    let h = gateway::start(CACHE).await;
    let body = json!({"model": "@an/echo-last", "stream": true, "messages": [{"role": "user", "content": "stream me"}]});
    let (status, _, first) = ask(&h, KEY, &body, None).await;
    assert_eq!(status, "miss");
    // The stream is stored as it ends, just after the client read its end.
    let mut replay = (String::new(), String::new(), String::new());
    for _ in 0..50 {
        replay = ask(&h, KEY, &body, None).await;
        if replay.0 == "hit" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(replay.0, "hit");
    assert_eq!(replay.2, first, "byte for byte");
    assert!(first.contains("data: [DONE]"), "{first}");
}

#[tokio::test]
async fn errors_and_redacted_answers_are_never_cached() {
    let h = gateway::start(CACHE).await;
    let failing =
        json!({"model": "@oa/status-500", "messages": [{"role": "user", "content": "x"}]});
    let redacted =
        json!({"model": "@oa/leak-email", "messages": [{"role": "user", "content": "x"}]});
    let mut streamed = redacted.clone();
    streamed["stream"] = json!(true);
    for body in [&failing, &redacted, &streamed] {
        for _ in 0..2 {
            let response = h
                .client
                .post(format!("{}/v1/chat/completions", h.base))
                .bearer_auth(KEY)
                .json(body)
                .send()
                .await
                .unwrap();
            assert_ne!(response.headers()["x-sluice-cache"], "hit");
            response.text().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(upstream_calls(&h, "status-500"), 2);
    assert_eq!(upstream_calls(&h, "leak-email"), 4);
}

#[tokio::test]
async fn two_gateways_share_a_redis_response_cache() {
    let Some(redis) = RedisDb::create() else {
        return;
    };
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = gateway_config(
        dir.path(),
        &mock,
        &format!("redis = {:?}", redis.url),
        "[response_cache]\nenabled = true\nstore = \"redis\"\nmax_age_s = 60\n",
    );
    let first = spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    let second = spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    let client = reqwest::Client::new();
    let body =
        json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "shared"}]});
    let mut statuses = Vec::new();
    for base in [&first.base, &second.base] {
        let response = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(
            response.headers()["x-sluice-cache"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        assert_eq!(response.status(), 200);
    }
    assert_eq!(statuses, ["miss", "hit"]);
    assert_eq!(mock.received().len(), 1);
}
