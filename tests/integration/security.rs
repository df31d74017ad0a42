//! Hardening against a client (or a provider) that tries to get text past the
//! guardrails or around governance, and against upstreams that answer too
//! much, too slowly or with an error: one test per hole found by the outside
//! probe (issue 16), each of which failed before its fix.

use crate::gateway::{self, Harness, KEY};
use crate::mock_upstream::LEAKED_EMAIL;
use serde_json::{Value, json};

/// A GitHub token the `secrets` guardrail redacts.
const TOKEN: &str = "ghp_FaKeA01yFdxCN4ki6E2UVnj4dfxo5NAPN5WY";

const GUARDRAILS: &str = r#"
[[guardrails]]
plugin = "secrets"

[[guardrails]]
plugin = "pii"
"#;

/// Every body the mock received, as text, with at least one received.
fn upstream_texts(h: &Harness) -> Vec<String> {
    let received = h.mock.received();
    assert!(!received.is_empty(), "the upstream received nothing");
    received.iter().map(|r| r.body.to_string()).collect()
}

async fn post(
    h: &Harness,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = h
        .client
        .post(format!("{}{path}", h.base))
        .bearer_auth(KEY)
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// An OpenAI chat request for `model` saying "hi", with the harness's key.
async fn ask(h: &Harness, model: &str) -> (u16, reqwest::header::HeaderMap, String) {
    post(h, "/v1/chat/completions", &[], &openai_chat(model, "hi")).await
}

/// An OpenAI chat request saying `text`, routed by the inline config `config`.
async fn routed(
    h: &Harness,
    config: &str,
    text: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let body = openai_chat("x", text);
    post(
        h,
        "/v1/chat/completions",
        &[("x-sluice-config", config)],
        &body,
    )
    .await
}

fn openai_chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Item 1: whatever way a body changes on its way out (a target's
/// overrides, translation to the other API, another target, a retry, a
/// fallback), the upstream receives only text the request guardrails checked.
#[tokio::test]
async fn every_way_out_sends_only_checked_text() {
    let h = gateway::start(GUARDRAILS).await;
    let text = format!("deploy with {TOKEN} please");
    let paths: Vec<(&str, &str, Value, Option<String>)> = vec![
        // (path, description, body, inline config)
        (
            "/v1/chat/completions",
            "direct",
            openai_chat("@oa/echo-last", &text),
            None,
        ),
        (
            "/v1/chat/completions",
            "translated to Anthropic",
            openai_chat("@an/echo-last", &text),
            None,
        ),
        (
            "/v1/messages",
            "translated to OpenAI",
            json!({"model": "@oa/echo-last", "max_tokens": 20, "messages": [{"role": "user", "content": text}]}),
            None,
        ),
        (
            "/v1/chat/completions",
            "fallback after a 500, retried",
            openai_chat("x", &text),
            Some(
                json!({"strategy": "fallback", "targets": [
                {"model": "@oa/status-500", "retry": {"attempts": 2, "backoff_ms": 1}},
                {"model": "@an/echo-last"}]})
                .to_string(),
            ),
        ),
        (
            "/v1/messages",
            "an override that sets the system prompt",
            json!({"model": "x", "max_tokens": 20, "messages": [{"role": "user", "content": "harmless"}]}),
            Some(
                json!({"strategy": "single", "targets": [
                {"model": "@an/echo-last", "override_params": {"system": format!("use {TOKEN}")}}]})
                .to_string(),
            ),
        ),
        (
            "/v1/chat/completions",
            "overrides on two targets",
            openai_chat("x", &text),
            Some(
                json!({"strategy": "fallback", "targets": [
                {"model": "@oa/status-500", "override_params": {"temperature": 0.1}},
                {"model": "@oa/echo-last", "override_params": {"temperature": 0.9}}]})
                .to_string(),
            ),
        ),
    ];
    for (path, what, body, config) in paths {
        let headers: Vec<(&str, &str)> = match &config {
            Some(config) => vec![("x-sluice-config", config.as_str())],
            None => vec![],
        };
        let before = h.mock.received().len();
        let (status, _, answer) = post(&h, path, &headers, &body).await;
        assert_eq!(status, 200, "{what}: {answer}");
        let sent = &upstream_texts(&h)[before..];
        assert!(!sent.is_empty(), "{what}: nothing went upstream");
        for body in sent {
            assert!(
                !body.contains(TOKEN),
                "{what}: the token went upstream: {body}"
            );
        }
    }
}

/// Item 1: an override may not replace the conversation (or the model, or
/// whether the answer streams); nothing is sent.
#[tokio::test]
async fn overrides_cannot_replace_the_conversation() {
    let h = gateway::start(GUARDRAILS).await;
    for field in ["messages", "model", "stream"] {
        let config = json!({"strategy": "single", "targets": [{"model": "@oa/echo-last",
            "override_params": {field: [{"role": "user", "content": TOKEN}]}}]})
        .to_string();
        let (status, _, answer) = routed(&h, &config, "harmless").await;
        assert_eq!(status, 400, "{field}: {answer}");
        assert!(answer.contains("cannot be overridden"), "{answer}");
    }
    assert!(h.mock.received().is_empty());
}

/// Item 2: embeddings and token counting pass the same phases as chat:
/// request guardrails (with audit), rate limits and usage.
#[tokio::test]
async fn embeddings_and_count_tokens_pass_every_phase() {
    let extra = format!(
        "{GUARDRAILS}\n[[rate_limits]]\nid = \"three\"\nkey = \"*\"\nper = \"minute\"\nrequests = 3\n"
    );
    let h = gateway::start(&extra).await;
    crate::support::clear_of_a_minute_edge().await;
    let (status, _, answer) = post(
        &h,
        "/v1/embeddings",
        &[],
        &json!({"model": "@oa/text-embedding-3-small", "input": ["ok", format!("key {TOKEN}")]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/embeddings");
    assert!(!sent.body.to_string().contains(TOKEN), "{}", sent.body);
    assert_eq!(sent.body["input"][0], "ok");
    let (status, _, answer) = post(
        &h,
        "/v1/messages/count_tokens",
        &[("anthropic-version", "2023-06-01")],
        &json!({"model": "@an/claude", "messages": [{"role": "user", "content": format!("key {TOKEN}")}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert!(!sent.body.to_string().contains(TOKEN), "{}", sent.body);
    // both redactions are in the audit trail
    let records = h.audit_records(2).await;
    assert!(records.len() >= 2, "{records:?}");
    // token ids cannot be checked, so they are refused while guardrails run
    let (status, _, answer) = post(
        &h,
        "/v1/embeddings",
        &[],
        &json!({"model": "@oa/e", "input": [[1, 2, 3]]}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    // the rate limit counts these requests too: 3 a minute (a window may
    // turn over during the test, so at most 3 more get through)
    let mut refused = 0;
    for _ in 0..8 {
        let (status, _, _) = post(
            &h,
            "/v1/embeddings",
            &[],
            &json!({"model": "@oa/e", "input": "hello"}),
        )
        .await;
        refused += u32::from(status == 429);
    }
    assert!(refused >= 3, "only {refused} of 8 were refused");
}

/// Item 5: a shared response cache never hands one key's answer to a key
/// whose response guardrails would have changed it.
#[tokio::test]
async fn a_shared_cache_answers_each_key_through_its_own_guardrails() {
    let extra = format!(
        r#"{GUARDRAILS}
[response_cache]
enabled = true
shared = true

[[keys]]
id = "unguarded"
key = "gw-key-unguarded-0123456789"
guardrails = []
"#
    );
    let h = gateway::start(&extra).await;
    let body = openai_chat("@oa/leak-email", "hi");
    let first = h
        .client
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth("gw-key-unguarded-0123456789")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(first.contains(LEAKED_EMAIL), "{first}");
    let (status, headers, second) = post(&h, "/v1/chat/completions", &[], &body).await;
    assert_eq!(status, 200, "{second}");
    assert!(!second.contains(LEAKED_EMAIL), "{second}");
    assert_ne!(
        headers["x-sluice-cache"], "hit",
        "a different guardrail set is another entry"
    );
    // and a hit is judged again: the guarded key's own answer, asked again
    let (_, headers, third) = post(&h, "/v1/chat/completions", &[], &body).await;
    assert!(!third.contains(LEAKED_EMAIL), "{third}");
    let _ = headers;
}

/// Item 6: a provider's error, whole or as a stream's error event, reaches
/// the client only through the response guardrails.
#[tokio::test]
async fn provider_errors_pass_the_response_guardrails() {
    let h = gateway::start(GUARDRAILS).await;
    let (status, _, answer) = ask(&h, "@oa/error-leak").await;
    assert_eq!(status, 400, "{answer}");
    assert!(!answer.contains(LEAKED_EMAIL), "{answer}");
    assert!(
        answer.contains("not allowed"),
        "the rest of the error is kept: {answer}"
    );
    for (path, model, extra) in [
        ("/v1/chat/completions", "@oa/stream-error-leak", json!({})),
        (
            "/v1/messages",
            "@an/stream-error-leak",
            json!({"max_tokens": 10}),
        ),
        // translated: the Anthropic error event becomes an OpenAI one
        ("/v1/chat/completions", "@an/stream-error-leak", json!({})),
    ] {
        let mut body = openai_chat(model, "hi");
        body["stream"] = json!(true);
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, _, answer) = post(&h, path, &[], &body).await;
        assert_eq!(status, 200);
        assert!(answer.contains("overloaded"), "{model}: {answer}");
        assert!(!answer.contains(LEAKED_EMAIL), "{model}: {answer}");
    }
}

/// Item 13: a provider's 429 keeps its `Retry-After` and rate-limit headers.
#[tokio::test]
async fn a_provider_429_keeps_its_retry_after() {
    let h = gateway::start("").await;
    let (status, headers, _) = ask(&h, "@oa/status-429").await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
}

/// Item 14: `timeout_s` bounds the wait for an answer to start, not a stream
/// that has started; a stream that goes quiet ends after `idle_timeout_s`.
#[tokio::test]
async fn timeouts_bound_the_start_and_the_silences_of_a_stream() {
    let extra = "[[providers]]\nslug = \"quiet\"\nkind = \"openai\"\nbase_url = \"http://{MOCK}/v1\"\nidle_timeout_s = 1\n";
    let h = gateway::start(extra).await;
    // slowpoke has timeout_s = 1; the stream pauses 2.5 s after it started
    let mut body = openai_chat("@slowpoke/pause-stream", "hi");
    body["stream"] = json!(true);
    let (status, _, answer) = post(&h, "/v1/chat/completions", &[], &body).await;
    assert_eq!(status, 200);
    assert!(answer.contains("after the pause"), "{answer}");
    assert!(answer.contains("[DONE]"), "{answer}");
    body["model"] = json!("@quiet/pause-stream");
    let (_, _, answer) = post(&h, "/v1/chat/completions", &[], &body).await;
    assert!(!answer.contains("after the pause"), "{answer}");
    assert!(answer.contains("idle_timeout_s"), "{answer}");
}

/// Item 9: an upstream answer past `[server] max_answer_mb` is a 502, and a
/// stream event past `max_stream_event_mb` ends the stream with an error.
#[tokio::test]
async fn oversized_answers_are_refused() {
    let h = gateway::start("").await;
    let (status, _, answer) = ask(&h, "@oa/huge-answer").await;
    assert_eq!(status, 502, "{}", &answer[..answer.len().min(300)]);
    assert!(answer.contains("max_answer_mb"), "{answer}");
    let mut body = openai_chat("@oa/huge-answer", "hi");
    body["stream"] = json!(true);
    let (status, _, answer) = post(&h, "/v1/chat/completions", &[], &body).await;
    assert_eq!(status, 200);
    assert!(answer.len() < 1 << 20, "the event was not passed on");
    assert!(answer.contains("larger than"), "{answer}");
}

/// Item 11: one request cannot multiply into unbounded upstream calls.
#[tokio::test]
async fn one_request_makes_a_bounded_number_of_upstream_calls() {
    let h = gateway::start("").await;
    // more targets than a plan may hold
    let targets: Vec<Value> = (0..17)
        .map(|i| json!({"model": format!("@oa/status-500-{i}")}))
        .collect();
    let config = json!({"strategy": "fallback", "targets": targets}).to_string();
    let (status, _, answer) = routed(&h, &config, "hi").await;
    assert_eq!(status, 400, "{answer}");
    assert!(h.mock.received().is_empty());
    // 16 failing targets with 10 retries each: at most 20 calls in all
    let targets: Vec<Value> = (0..16)
        .map(|i| json!({"model": format!("@oa/flaky-1000-{i}"), "retry": {"attempts": 10, "backoff_ms": 1}}))
        .collect();
    let config = json!({"strategy": "fallback", "targets": targets}).to_string();
    let (status, _, _) = routed(&h, &config, "hi").await;
    assert_eq!(status, 503);
    let calls = h.mock.received().len();
    assert!(calls <= 20, "{calls} upstream calls for one request");
    // a target whose circuit opens is not retried further (5 failures open it)
    let before = h.mock.received().len();
    let config = json!({"strategy": "single", "targets": [
        {"model": "@oa/flaky-1000-solo", "retry": {"attempts": 10, "backoff_ms": 1}}]})
    .to_string();
    let (status, _, _) = routed(&h, &config, "hi").await;
    assert_eq!(status, 503);
    assert_eq!(h.mock.received().len() - before, 5);
}

/// Item 16: a `max_tokens` no provider would take is a 400, not silently
/// replaced when translating.
#[tokio::test]
async fn absurd_max_tokens_are_refused() {
    let h = gateway::start("").await;
    for value in [json!(-5), json!(0), json!(1e30), json!(2.5), json!("many")] {
        let mut body = openai_chat("@an/echo-last", "hi");
        body["max_tokens"] = value.clone();
        let (status, _, answer) = post(&h, "/v1/chat/completions", &[], &body).await;
        assert_eq!(status, 400, "{value}: {answer}");
        assert!(answer.contains("max_tokens"), "{answer}");
        let body = json!({"model": "@oa/echo-last", "max_tokens": value,
                          "messages": [{"role": "user", "content": "hi"}]});
        let (status, _, answer) = post(&h, "/v1/messages", &[], &body).await;
        assert_eq!(status, 400, "{value}: {answer}");
        let error: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(error["type"], "error", "Anthropic's format: {answer}");
    }
    assert!(h.mock.received().is_empty());
}

/// Item 8: a caller without a key is refused before its body is read.
#[tokio::test]
async fn a_caller_without_a_key_is_refused_before_its_body_is_read() {
    let h = gateway::start("").await;
    // 2 MiB: over the harness's 1 MiB body limit, so reading it first would
    // have answered 413
    let big = "x".repeat(2 << 20);
    for path in ["/v1/chat/completions", "/v1/embeddings", "/v1/messages"] {
        let response = h
            .client
            .post(format!("{}{path}", h.base))
            .header("content-type", "application/json")
            .body(format!("{{\"messages\": [], \"input\": \"{big}\"}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
}
