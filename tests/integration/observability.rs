//! Observability as an operator sees it: traffic with guardrails, a budget and
//! a fallback in `/metrics` and in the request log; spans at an OTLP receiver
//! with the client's trace as their parent; a config reload under load that
//! drops no request, and a bad config refused while the old one serves.

use crate::gateway::{self, KEY};
use crate::mock_upstream::MockUpstream;
use crate::support::spawn_serve;
use axum::body::Bytes;
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EMAIL: &str = "jane.roe@example.com";

/// The value of the first metric line that starts with `series` (name and
/// labels as far as given).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(client: &reqwest::Client, base: &str) -> String {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    response.text().await.unwrap()
}

/// Lines of a JSON-lines file, once it has at least `count`.
pub async fn log_lines(path: &std::path::Path, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect();
        if lines.len() >= count || started.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn traffic_with_guardrails_a_budget_and_a_fallback_shows_in_metrics_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("requests.jsonl");
    let h = gateway::start(&format!(
        r#"
[[guardrails]]
plugin = "pii"

[[budgets]]
id = "billing-daily"
tag = "app=billing"
period = "day"
tokens = 1

[routing.on-500]
strategy = "fallback"
targets = [{{ model = "@oa/status-500" }}, {{ model = "@an/echo-last" }}]

[metrics]
tags = ["app"]

[metadata]
request_tags = ["app"]

[request_log]
mode = "always"
path = {path:?}
bodies = true
"#,
        path = log_path.display().to_string()
    ))
    .await;
    let url = format!("{}/v1/chat/completions", h.base);
    let ask = |stream: bool| {
        h.client
            .post(&url)
            .bearer_auth(KEY)
            .header("x-sluice-config", "on-500")
            .header("x-sluice-metadata", r#"{"app": "billing"}"#)
            .json(&json!({
                "stream": stream,
                "messages": [{"role": "user", "content": format!("mail me at {EMAIL}")}]
            }))
    };
    // 1. a stream, through the fallback, with an e-mail address redacted
    let first = ask(true).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let overhead: f64 = first.headers()["x-sluice-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .expect("the overhead header is a number of milliseconds");
    assert!(overhead >= 0.0);
    let streamed = first.text().await.unwrap();
    assert!(streamed.contains("[EMAIL_1]"), "{streamed}");
    // 2. the budget is spent by the first one's tokens: 402
    let refused = ask(false).send().await.unwrap();
    assert_eq!(refused.status(), 402);
    // 3. without the tag, the budget does not apply; not streamed
    let plain = h
        .client
        .post(&url)
        .bearer_auth(KEY)
        .json(&json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    plain.text().await.unwrap();

    let text = scrape(&h.client, &h.base).await;
    let value =
        |series: &str| metric(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        value(
            r#"sluice_requests_total{api="openai",provider="an",model="@an/echo-last",key="team-a",team="a",status="200",tag_app="billing"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            r#"sluice_requests_total{api="openai",provider="oa",model="@oa/echo-last",key="team-a",team="a",status="200",tag_app="none"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            r#"sluice_requests_total{api="openai",provider="oa",model="@oa/status-500",key="team-a",team="a",status="402",tag_app="billing"}"#
        ),
        1.0
    );
    assert_eq!(
        value(r#"sluice_fallbacks_total{config="on-500",provider="an"}"#),
        1.0
    );
    assert_eq!(
        value(r#"sluice_rejections_total{kind="budget",key="team-a",team="a"}"#),
        1.0
    );
    assert_eq!(
        value(r#"sluice_errors_total{api="openai",class="budget_exceeded"}"#),
        1.0
    );
    assert!(
        value(
            r#"sluice_guardrail_decisions_total{guardrail="pii",phase="request",rule="pii.email",action="redact"}"#
        ) >= 1.0
    );
    assert!(value(r#"sluice_tokens_total{direction="input",provider="an""#) > 0.0);
    assert!(value(r#"sluice_tokens_total{direction="output",provider="an""#) > 0.0);
    assert_eq!(
        value(r#"sluice_time_to_first_token_seconds_count{api="openai",provider="an"}"#),
        1.0
    );
    assert_eq!(
        value(r#"sluice_upstream_duration_seconds_count{api="openai",provider="oa"}"#),
        1.0
    );
    assert!(value(r#"sluice_gateway_overhead_seconds_count{api="openai"}"#) >= 3.0);
    assert!(
        value(r#"sluice_guardrail_duration_seconds_count{guardrail="pii",phase="request"}"#) >= 2.0
    );
    assert!(!text.contains("req_"), "no request id is a label");
    assert!(!text.contains(EMAIL));

    let lines = log_lines(&log_path, 3).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    let whole = std::fs::read_to_string(&log_path).unwrap();
    for secret in [
        EMAIL,
        KEY,
        "sk-test-provider-openai-key",
        "sk-ant-test-provider-key",
    ] {
        assert!(!whole.contains(secret), "{secret} is in the request log");
    }
    let stream = &lines[0];
    assert_eq!(stream["status"], 200);
    assert_eq!(stream["stream"], true);
    assert_eq!(stream["key_id"], "team-a");
    assert_eq!(stream["team"], "a");
    assert_eq!(stream["metadata"]["app"], "billing");
    assert_eq!(stream["config"], "on-500");
    assert_eq!(stream["fallback"], true);
    assert_eq!(stream["model"], "@an/echo-last");
    assert!(stream["input_tokens"].as_u64().unwrap() > 0);
    assert!(stream["time_to_first_token_ms"].as_f64().unwrap() > 0.0);
    assert!(stream["upstream_ms"].as_f64().is_some());
    assert!(stream["overhead_ms"].as_f64().unwrap() <= stream["duration_ms"].as_f64().unwrap());
    let pii = stream["guardrails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["guardrail"] == "pii" && g["phase"] == "request")
        .expect("the pii request check is logged");
    assert_eq!(pii["action"], "redact");
    assert_eq!(pii["rules"], json!(["pii.email"]));
    assert!(
        stream["request_body"]
            .as_str()
            .unwrap()
            .contains("[EMAIL_1]")
    );
    assert!(stream["response_body"].as_str().unwrap().contains("data: "));
    let budget = &lines[1];
    assert_eq!(budget["status"], 402);
    assert_eq!(budget["error"]["class"], "budget_exceeded");
    assert!(
        budget["error"]["message"]
            .as_str()
            .unwrap()
            .contains("billing-daily")
    );
    assert!(budget["upstream_ms"].is_null(), "no provider was called");
    assert_eq!(lines[2]["model"], "@oa/echo-last");
    assert!(
        lines[2]["response_body"]
            .as_str()
            .unwrap()
            .contains("you said: hi")
    );
}

#[tokio::test]
async fn on_request_mode_logs_only_requests_that_ask() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("r.jsonl");
    let h = gateway::start(&format!(
        "[request_log]\nmode = \"on_request\"\npath = {:?}\n",
        log_path.display().to_string()
    ))
    .await;
    for (ask, model) in [(false, "@oa/echo-last"), (true, "@an/echo-last")] {
        let mut request = h
            .client
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(KEY)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}));
        if ask {
            request = request.header("x-sluice-log", "true");
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    let lines = log_lines(&log_path, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lines_later = log_lines(&log_path, 1).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines_later.len(), 1);
    assert_eq!(lines[0]["model"], "@an/echo-last");
    assert!(
        lines[0].get("request_body").is_none(),
        "bodies are off by default"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let h = gateway::start("").await;
    let health = h
        .client
        .get(format!("{}/health", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = h
        .client
        .get(format!("{}/ready", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

/// An OTLP/HTTP receiver: keeps every JSON body posted to `/v1/traces`.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).expect("OTLP JSON"));
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_reach_an_otlp_collector_under_the_clients_trace() {
    let mock = MockUpstream::start().await;
    let (endpoint, bodies) = otlp_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            "{}[[guardrails]]\nplugin = \"pii\"\n\n\
             [tracing]\notlp_endpoint = {endpoint:?}\nprotocol = \"http/json\"\nservice_name = \"sluice-test\"\n",
            mock.openai_provider_toml()
        ),
    )
    .unwrap();
    let mut served = spawn_serve(&config, Stdio::null(), &[]).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.base))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .json(&json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-sluice-trace-id"], trace_id);
    // Shutting down sends the spans still queued.
    served.signal("-TERM");
    let child = served.child.take().unwrap();
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();

    let bodies = bodies.lock().unwrap().clone();
    let mut spans = Vec::new();
    for body in &bodies {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].clone());
            assert_eq!(service, Some(json!("sluice-test")));
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                spans.extend(scope["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    let names: Vec<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
    for expected in ["request", "auth", "guardrails", "guardrail", "attempt"] {
        assert!(
            names.contains(&expected),
            "no `{expected}` span in {names:?}"
        );
    }
    for span in &spans {
        assert_eq!(
            span["traceId"].as_str().unwrap().to_lowercase(),
            trace_id,
            "{span}"
        );
    }
    let request = spans.iter().find(|s| s["name"] == "request").unwrap();
    assert_eq!(
        request["parentSpanId"].as_str().unwrap().to_lowercase(),
        parent_id
    );
}

fn reload_config(mock: &MockUpstream, alias_target: &str) -> String {
    format!(
        "{oa}[[providers]]\nslug = \"an\"\nkind = \"anthropic\"\nbase_url = \"http://{addr}\"\napi_key = \"sk-ant-x\"\n\n\
         [models]\n\"m\" = \"{alias_target}\"\n",
        oa = mock.openai_provider_toml(),
        addr = mock.addr
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_under_load_drops_no_request_and_a_bad_config_is_refused() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sluice.toml");
    std::fs::write(&config, reload_config(&mock, "@oa/echo-last")).unwrap();
    let served = spawn_serve(&config, Stdio::null(), &[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", served.base);

    // A slow request in flight across both reloads.
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move {
            client
                .post(url)
                .json(&json!({"model": "@oa/slow", "messages": [{"role": "user", "content": "wait"}]}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..8 {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut served_by = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client
                    .post(&url)
                    .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
                    .await
                    .expect("no request is dropped");
                assert_eq!(response.status(), 200);
                let target = response.headers()["x-sluice-target"]
                    .to_str()
                    .unwrap()
                    .to_string();
                response.text().await.expect("whole answer");
                served_by.push(target);
            }
            served_by
        }));
    }
    let wait_for = |series: &'static str, want: f64| {
        let (client, base) = (client.clone(), served.base.clone());
        async move {
            let started = Instant::now();
            loop {
                let text = scrape(&client, &base).await;
                if metric(&text, series) == Some(want) {
                    return;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "{series} never reached {want}:\n{text}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&config, reload_config(&mock, "@an/echo-last")).unwrap();
    wait_for(r#"sluice_config_reloads_total{result="ok"}"#, 1.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(&config, "[[providers]\nthis is not toml").unwrap();
    wait_for(r#"sluice_config_reloads_total{result="refused"}"#, 1.0).await;
    served.signal("-HUP");
    wait_for(r#"sluice_config_reloads_total{result="refused"}"#, 2.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    for task in load {
        let served_by = task.await.unwrap();
        // Each client's answers come from the old config, then the new one,
        // which the bad config left serving.
        let switched = served_by
            .iter()
            .position(|t| t == "@an/echo-last")
            .expect("the new config served");
        assert!(switched > 0, "the old config served first");
        assert!(served_by[..switched].iter().all(|t| t == "@oa/echo-last"));
        assert!(served_by[switched..].iter().all(|t| t == "@an/echo-last"));
    }
    assert_eq!(
        slow.await.unwrap().unwrap(),
        200,
        "the in-flight request finished"
    );
}
