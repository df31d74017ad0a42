//! Governance end to end: usage and cost per key, team and tag; budgets that
//! refuse with 402; rate limits that refuse with 429 and exact counts under
//! concurrency; state that survives a restart; and two gateway processes that
//! share one Redis and so enforce one limit and one budget.

use crate::gateway::{self, KEY};
use crate::mock_upstream::MockUpstream;
use crate::support::{RedisDb, sluice, spawn_serve, text};
use serde_json::{Value, json};

const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

/// `echo-last` answers with 10 input and 5 output tokens; at $3 and $15 per
/// million that is 10×3 + 5×15 = 105 millionths of a dollar.
const PRICING: &str = r#"
[admin]
key = "admin-key-0123456789abcdef"

[metadata]
request_tags = ["project"]

[pricing."echo-last"]
input = 3.0
output = 15.0
"#;
const COST_NANOS: i64 = 105_000;

fn data_lines(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn usage_and_cost_are_counted_from_provider_usage_per_team_and_tag() {
    let harness = gateway::start(PRICING).await;
    let ask = |stream: bool| json!({"model": "@oa/echo-last", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    // OpenAI, whole answer, with a tag and a trace id.
    let response = harness
        .client
        .post(format!("{}/v1/chat/completions", harness.base))
        .bearer_auth(KEY)
        .header("x-sluice-metadata", r#"{"project": "apollo"}"#)
        .header("x-sluice-trace-id", "run-7")
        .json(&ask(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-sluice-trace-id"], "run-7");
    response.text().await.unwrap();
    // OpenAI stream without include_usage: the gateway asks upstream for usage
    // but the client sees no usage chunk and no `usage` field.
    let body = harness.openai_text(ask(true)).await;
    let chunks = data_lines(&body);
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none() && !c["choices"].as_array().unwrap().is_empty()),
        "{body}"
    );
    assert_eq!(
        harness.mock.last().body["stream_options"]["include_usage"],
        true
    );
    // OpenAI stream with include_usage: the client gets its usage chunk.
    let mut wants = ask(true);
    wants["stream_options"] = json!({"include_usage": true});
    let chunks = data_lines(&harness.openai_text(wants).await);
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 5);
    // Anthropic, whole and streamed, and an Anthropic client on an OpenAI model.
    let claude = |model: &str, stream: bool| json!({"model": model, "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    for (model, stream) in [
        ("@an/echo-last", false),
        ("@an/echo-last", true),
        ("claude-on-openai", true),
    ] {
        let response = harness.anthropic(claude(model, stream)).await;
        assert_eq!(response.status(), 200, "{model}");
        response.text().await.unwrap();
    }

    let rows = harness
        .usage_rows(ADMIN_KEY, "by=team,tag:project&per=all", 6)
        .await;
    let apollo = rows.iter().find(|r| r["tag:project"] == "apollo").unwrap();
    assert_eq!(apollo["team"], "a");
    assert_eq!(
        (apollo["requests"].as_i64(), apollo["input_tokens"].as_i64()),
        (Some(1), Some(10))
    );
    let untagged = rows.iter().find(|r| r["tag:project"] == "").unwrap();
    assert_eq!(untagged["requests"], 5);
    assert_eq!(untagged["input_tokens"], 50);
    assert_eq!(untagged["output_tokens"], 25);
    let cost: f64 = rows.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!(
        (cost - 6.0 * COST_NANOS as f64 / 1e9).abs() < 1e-12,
        "{cost}"
    );
    // By model and provider, as CSV; the trace id is not a usage dimension.
    let csv = harness
        .client
        .get(format!(
            "{}/admin/usage?by=provider,tag:trace_id&per=day&format=csv",
            harness.base
        ))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("period,provider,tag:trace_id,requests,"),
        "{csv}"
    );
    assert!(lines.iter().any(|l| l.contains(",an,,2,")), "{csv}");
    assert!(lines.iter().any(|l| l.contains(",oa,,4,")), "{csv}");
    assert!(!csv.contains("run-7"), "{csv}");
    // A gateway key does not open the admin API; bad parameters are named.
    let denied = harness
        .client
        .get(format!("{}/admin/usage", harness.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let bad = harness
        .client
        .get(format!("{}/admin/usage?by=colour", harness.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("colour"));
}

#[tokio::test]
async fn a_budget_refuses_once_spent_naming_it_and_its_reset() {
    let harness = gateway::start(&format!(
        "{PRICING}
[[budgets]]
id = \"team-a-daily\"
team = \"a\"
period = \"day\"
cost_usd = 0.0003
"
    ))
    .await;
    let ask = json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]});
    // 105, 210, 315 millionths: the third request starts below the limit.
    for _ in 0..3 {
        assert_eq!(harness.openai(ask.clone()).await.status(), 200);
    }
    let refused = harness.openai(ask.clone()).await;
    assert_eq!(refused.status(), 402);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "insufficient_quota");
    assert_eq!(body["error"]["code"], "budget_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("budget `team-a-daily` for team a is used up"),
        "{message}"
    );
    assert!(
        message.contains("$0.000315 of $0.000300 this day"),
        "{message}"
    );
    let tomorrow =
        sluice::clock::format_time((sluice::clock::now_ms() / 86_400_000 + 1) * 86_400_000);
    assert!(message.contains(&tomorrow[..10]), "{message} / {tomorrow}");
    // The Anthropic API gets it in its own shape; the upstream saw 3 requests.
    let refused = harness
        .anthropic(json!({"model": "@an/echo-last", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(refused.status(), 402);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "billing_error");
    assert_eq!(harness.mock.received().len(), 3);
}

/// Sends `n` OpenAI requests at once with `key`; the statuses and responses.
async fn burst(base: &str, key: &str, n: usize) -> Vec<reqwest::Response> {
    let client = reqwest::Client::new();
    let requests = (0..n).map(|_| {
        client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key)
            .json(
                &json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
    });
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn hour() -> i64 {
    sluice::clock::now_ms() / 3_600_000
}

#[tokio::test]
async fn a_rate_limit_lets_exactly_its_count_through_200_concurrent_requests() {
    let harness = gateway::start(
        "
[[rate_limits]]
id = \"per-key\"
key = \"*\"
per = \"hour\"
requests = 50
",
    )
    .await;
    let started = hour();
    let responses = burst(&harness.base, KEY, 200).await;
    if hour() != started {
        eprintln!("skipped: the burst straddled an hour boundary");
        return;
    }
    let ok: Vec<&reqwest::Response> = responses.iter().filter(|r| r.status() == 200).collect();
    let limited: Vec<&reqwest::Response> = responses.iter().filter(|r| r.status() == 429).collect();
    assert_eq!((ok.len(), limited.len()), (50, 150));
    let mut remaining: Vec<i64> = ok
        .iter()
        .map(|r| {
            r.headers()["x-ratelimit-remaining-requests"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    remaining.sort();
    assert_eq!(
        remaining,
        (0..50).collect::<Vec<_>>(),
        "each admitted request saw its own count"
    );
    let refused = limited[0];
    assert_eq!(refused.headers()["x-ratelimit-limit-requests"], "50");
    assert_eq!(refused.headers()["x-ratelimit-remaining-requests"], "0");
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert!(
        refused.headers()["x-ratelimit-reset-requests"]
            .to_str()
            .unwrap()
            .ends_with('s')
    );
    assert_eq!(harness.mock.received().len(), 50);
    // Anthropic clients get their own headers and error type.
    let response = harness
        .anthropic(json!({"model": "@an/echo-last", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(
        response.headers()["anthropic-ratelimit-requests-limit"],
        "50"
    );
    assert_eq!(
        response.headers()["anthropic-ratelimit-requests-remaining"],
        "0"
    );
    assert!(
        response.headers()["anthropic-ratelimit-requests-reset"]
            .to_str()
            .unwrap()
            .ends_with(":00:00Z")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit `per-key` for key team-a reached: 50 requests per hour")
    );
}

#[tokio::test]
async fn under_200_concurrent_requests_a_budget_counts_every_cent_and_then_refuses() {
    let harness = gateway::start(&format!(
        "{PRICING}
[[budgets]]
id = \"key-daily\"
key = \"team-a\"
period = \"day\"
cost_usd = 0.00105
"
    ))
    .await;
    let responses = burst(&harness.base, KEY, 200).await;
    let admitted = responses.iter().filter(|r| r.status() == 200).count() as i64;
    let refused = responses.iter().filter(|r| r.status() == 402).count() as i64;
    assert_eq!(admitted + refused, 200);
    let limit_requests = 1_050_000 / COST_NANOS; // 10
    // Nothing refused early: at least the requests the budget pays for got in.
    assert!(admitted >= limit_requests, "{admitted}");
    // The documented bound: past the limit only by requests already in flight
    // (at most the 200 sent at once).
    assert!(admitted - limit_requests < 200);
    // Every admitted request's cost was counted, none twice.
    let rows = harness
        .usage_rows(ADMIN_KEY, "by=key&per=all", admitted)
        .await;
    let cost = rows[0]["cost_usd"].as_f64().unwrap();
    assert!((cost - (admitted * COST_NANOS) as f64 / 1e9).abs() < 1e-12);
    // And now the budget is spent.
    let ask = json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(harness.openai(ask).await.status(), 402);
    eprintln!("200 concurrent requests on a 10-request budget: {admitted} admitted");
}

pub fn gateway_config(
    dir: &std::path::Path,
    mock: &MockUpstream,
    state: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("sluice.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[providers]]
slug = "oa"
kind = "openai"
base_url = "http://{addr}/v1"
api_key = "sk-test-provider-openai-key"

[[keys]]
id = "team-a"
key = "{KEY}"
metadata = {{ team = "a" }}

[audit]
enabled = false

[state]
{state}

{extra}
"#,
            addr = mock.addr
        ),
    )
    .unwrap();
    path
}

async fn ask(base: &str) -> u16 {
    ask_as(base, KEY).await
}

async fn ask_as(base: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_restart_does_not_reset_a_budget() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = gateway_config(
        dir.path(),
        &mock,
        "path = \"state.db\"",
        "[[budgets]]\nid = \"tokens\"\nkey = \"team-a\"\nperiod = \"month\"\ntokens = 30\n",
    );
    let served = spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    assert_eq!(ask(&served.base).await, 200);
    assert_eq!(ask(&served.base).await, 200);
    assert_eq!(ask(&served.base).await, 402);
    served.signal("-TERM");
    let mut served = served;
    served.child.take().unwrap().wait().unwrap();
    let served = spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    assert_eq!(ask(&served.base).await, 402, "the restart reset the budget");
    drop(served);
    // `sluice usage` reads the same file.
    let output = sluice()
        .args(["usage", "--config"])
        .arg(&config)
        .args(["--by", "key,model", "--per", "all", "--format", "csv"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("team-a,@oa/echo-last,2,20,10,"), "{stdout}");
}

#[tokio::test]
async fn two_gateways_on_one_redis_enforce_one_limit_and_one_budget() {
    let Some(redis) = RedisDb::create() else {
        return;
    };
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let limits = "
[[rate_limits]]
id = \"shared-rpm\"
team = \"a\"
per = \"hour\"
requests = 20

[[keys]]
id = \"team-b\"
key = \"gw-key-team-b-0123456789\"
metadata = { team = \"b\" }

[[budgets]]
id = \"shared-tokens\"
key = \"team-b\"
period = \"day\"
tokens = 30
";
    let config = gateway_config(
        dir.path(),
        &mock,
        &format!("redis = {:?}", redis.url),
        limits,
    );
    let first = spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    let second = spawn_serve(&config, std::process::Stdio::null(), &[]).await;
    let started = hour();
    let (a, b) = tokio::join!(burst(&first.base, KEY, 15), burst(&second.base, KEY, 15));
    if hour() != started {
        eprintln!("skipped: the bursts straddled an hour boundary");
        return;
    }
    let ok = a.iter().chain(&b).filter(|r| r.status() == 200).count();
    let limited = a.iter().chain(&b).filter(|r| r.status() == 429).count();
    assert_eq!((ok, limited), (20, 10), "one limit across both processes");
    assert!(a.iter().any(|r| r.status() == 200) && b.iter().any(|r| r.status() == 200));
    // The budget is shared too: 30 tokens spent through the first process
    // are spent for the second.
    let key_b = "gw-key-team-b-0123456789";
    assert_eq!(ask_as(&first.base, key_b).await, 200);
    assert_eq!(ask_as(&first.base, key_b).await, 200);
    assert_eq!(ask_as(&second.base, key_b).await, 402);
    assert_eq!(ask_as(&first.base, key_b).await, 402);
    // Usage from both processes, as `sluice usage` reads it from Redis.
    let usage = sluice()
        .args(["usage", "--config"])
        .arg(&config)
        .args(["--by", "team", "--per", "all", "--format", "json"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&usage);
    assert!(usage.status.success(), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let team = |name: &str| rows.iter().find(|r| r["team"] == name).cloned().unwrap();
    assert_eq!(team("a")["requests"], 20, "{stdout}");
    assert_eq!(team("a")["input_tokens"], 200, "{stdout}");
    assert_eq!(team("b")["requests"], 2, "{stdout}");

    // Managed keys live in Redis too: a key made with the CLI works on both
    // gateways, and a revocation through one stops it on the other.
    let created = sluice()
        .args(["keys", "create", "--config"])
        .arg(&config)
        .args(["--id", "shared-bot", "--team", "c", "--json"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&created);
    assert!(created.status.success(), "{stderr}");
    let secret = serde_json::from_str::<Value>(&stdout).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let works_on = |base: String, secret: String, wanted: u16| async move {
        for _ in 0..40 {
            if ask_as(&base, &secret).await == wanted {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{base} never answered {wanted}");
    };
    works_on(first.base.clone(), secret.clone(), 200).await;
    works_on(second.base.clone(), secret.clone(), 200).await;
    let revoked = sluice()
        .args(["keys", "revoke", "shared-bot", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{}", text(&revoked).1);
    works_on(first.base.clone(), secret.clone(), 401).await;
    works_on(second.base.clone(), secret, 401).await;
}
