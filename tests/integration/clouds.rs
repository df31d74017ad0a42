//! The cloud provider kinds (`bedrock`, `vertex`, `gemini`, `azure-openai`)
//! end to end, against the strict fakes ([`super::fake_bedrock`],
//! [`super::fake_vertex`], [`super::fake_gemini`], [`super::fake_azure`]),
//! which check the auth the way each cloud does.
//!
//! Every client API (Chat Completions, Messages, Responses) on every cloud
//! model kind, streamed and not, with the PII guardrail redacting on the way
//! in (the fake must see the placeholder) and on the way out (a `leak` model
//! answers an address the client must not see); usage from the clouds' own
//! counts; throttling as a 429 with `Retry-After` in the client's format; a
//! wrong AWS secret refused by the fake's SigV4 check; and a fallback from a
//! failing Anthropic target through a throttled Bedrock one to Vertex AI.

use super::fake_azure::{self, FakeAzure};
use super::fake_bedrock::{self, FakeBedrock};
use super::fake_gemini::{self, FakeGemini};
use super::fake_vertex::{self, FakeVertex};
use super::gateway::{self, Harness, KEY};
use super::mock_upstream::LEAKED_EMAIL;
use super::pairs::{Client, call};
use serde_json::{Value, json};

/// The gateway's admin key (for usage reports).
const ADMIN_KEY: &str = "admin-key-clouds-0123456789";

/// The four fakes and a gateway configured with a provider of each kind.
pub struct Clouds {
    pub gateway: Harness,
    pub bedrock: FakeBedrock,
    pub vertex: FakeVertex,
    pub gemini: FakeGemini,
    pub azure: FakeAzure,
    _key_dir: tempfile::TempDir,
}

/// The providers' config for the fakes (and `secret` as Bedrock's secret key).
fn providers(
    clouds: (&FakeBedrock, &FakeVertex, &FakeGemini, &FakeAzure),
    secret: &str,
    key_file: &str,
) -> String {
    let (bedrock, vertex, gemini, azure) = clouds;
    format!(
        r#"
[admin]
key = "{ADMIN_KEY}"

[[guardrails]]
plugin = "pii"

[[providers]]
slug = "bedrock"
kind = "bedrock"
base_url = "{bedrock}"
region = "{region}"
access_key_id = "{access_key_id}"
secret_access_key = "{secret}"

[[providers]]
slug = "vertex"
kind = "vertex"
base_url = "{vertex}"
project = "{project}"
location = "{location}"
credentials_file = {key_file:?}

[[providers]]
slug = "gemini"
kind = "gemini"
base_url = "{gemini}"
api_key = "{gemini_key}"

[[providers]]
slug = "azure"
kind = "azure-openai"
base_url = "{azure}"
api_key = "{azure_key}"

[[providers]]
slug = "azure-dep"
kind = "azure-openai"
base_url = "{azure}"
api_key = "{azure_key}"
api_version = "2024-10-21"
deployments = {{ "gpt-4o" = "gpt-4o-prod", "gpt-4o-mini" = "gpt-4o-leak" }}

[routing.across-clouds]
strategy = "fallback"
targets = [{{ model = "@an/status-500" }}, {{ model = "@bedrock/throttled" }}, {{ model = "@vertex/claude-sonnet-4-5@20250929" }}]
"#,
        bedrock = bedrock.url(),
        region = fake_bedrock::REGION,
        access_key_id = fake_bedrock::ACCESS_KEY_ID,
        vertex = vertex.url(),
        project = fake_vertex::PROJECT,
        location = fake_vertex::LOCATION,
        gemini = gemini.url(),
        gemini_key = fake_gemini::API_KEY,
        azure = azure.url(),
        azure_key = fake_azure::API_KEY,
    )
}

/// Starts the fakes and a gateway in front of them, Bedrock signing with
/// `secret`.
async fn start(secret: &str) -> Clouds {
    start_with_models(secret, "").await
}

/// Like [`start`], with `models` (TOML lines) in `[models]`.
pub async fn start_with_models(secret: &str, models: &str) -> Clouds {
    let (bedrock, vertex, gemini, azure) = (
        FakeBedrock::start().await,
        FakeVertex::start().await,
        FakeGemini::start().await,
        FakeAzure::start().await,
    );
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("service-account.json");
    std::fs::write(&key_file, vertex.key_json()).unwrap();
    let config = providers(
        (&bedrock, &vertex, &gemini, &azure),
        secret,
        &key_file.display().to_string(),
    );
    Clouds {
        gateway: gateway::start_with_models(models, &config).await,
        bedrock,
        vertex,
        gemini,
        azure,
        _key_dir: key_dir,
    }
}

impl Clouds {
    /// The body of the last request the fake behind `model` received.
    fn last_received(&self, model: &str) -> Value {
        let received = match model.split('/').next() {
            Some("@bedrock") => self.bedrock.received(),
            Some("@vertex") => self.vertex.received(),
            Some("@gemini") => self.gemini.received(),
            _ => self.azure.received(),
        };
        received.last().expect("the fake was called").body.clone()
    }
}

/// The cloud models, one of each way in: (gateway model, the same with a
/// `leak` model).
const MODELS: [(&str, &str); 7] = [
    (
        "@bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "@bedrock/us.anthropic.claude-leak-v1:0",
    ),
    (
        "@bedrock/amazon.nova-pro-v1:0",
        "@bedrock/amazon.nova-leak-v1:0",
    ),
    (
        "@vertex/claude-sonnet-4-5@20250929",
        "@vertex/claude-leak@1",
    ),
    ("@vertex/gemini-2.5-pro", "@vertex/gemini-leak"),
    ("@gemini/gemini-2.5-flash", "@gemini/gemini-leak"),
    ("@azure/gpt-4o-prod", "@azure/gpt-4o-leak"),
    ("@azure-dep/gpt-4o", "@azure-dep/gpt-4o-mini"),
];

const CLIENTS: [Client; 3] = [Client::Chat, Client::Messages, Client::Responses];

#[tokio::test]
async fn every_client_api_reaches_every_cloud_with_guardrails_both_ways() {
    let clouds = start(fake_bedrock::SECRET_ACCESS_KEY).await;
    for (model, leaking) in MODELS {
        for client in CLIENTS {
            for stream in [false, true] {
                let pair = format!("{client:?} on {model}, stream {stream}");
                let body = client.request(model, "mail jane.doe@example.com", stream);
                let (status, answer) = call(&clouds.gateway, client, &body).await;
                assert_eq!(status, 200, "{pair}: {answer}");
                let sent = clouds.last_received(model).to_string();
                assert!(!sent.contains("jane.doe@example.com"), "{pair}: {sent}");
                assert!(sent.contains("[EMAIL_1]"), "{pair}: {sent}");
                assert_eq!(
                    client.text(&answer, stream),
                    "you said: mail [EMAIL_1]",
                    "{pair}: {answer}"
                );
                let pair = format!("{client:?} on {leaking}, stream {stream}");
                let body = client.request(leaking, "hello", stream);
                let (status, answer) = call(&clouds.gateway, client, &body).await;
                assert_eq!(status, 200, "{pair}: {answer}");
                let text = client.text(&answer, stream);
                assert!(
                    text.starts_with("you said: hello; write to "),
                    "{pair}: {answer}"
                );
                assert!(!answer.contains(LEAKED_EMAIL), "{pair}: {answer}");
            }
        }
    }
}

#[tokio::test]
async fn the_clouds_get_their_own_bodies_and_addresses() {
    let clouds = start(fake_bedrock::SECRET_ACCESS_KEY).await;
    let h = &clouds.gateway;
    let claude = "@bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let mut body = Client::Messages.request(claude, "hi", false);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    body["system"] =
        json!([{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]);
    let response = h
        .client
        .post(format!("{}/v1/messages", h.base))
        .bearer_auth(KEY)
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["content"][0]["signature"],
        super::fake_claude::THINKING_SIGNATURE
    );
    let received = clouds.bedrock.received();
    let last = received.last().unwrap();
    assert_eq!(
        last.path,
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"
    );
    assert_eq!(last.body["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(
        last.body["anthropic_beta"],
        json!(["interleaved-thinking-2025-05-14"])
    );
    assert_eq!(
        last.body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert!(last.body.get("model").is_none());
    let (status, _) = call(
        h,
        Client::Chat,
        &Client::Chat.request("@azure-dep/gpt-4o", "x", false),
    )
    .await;
    assert_eq!(status, 200);
    let azure = clouds.azure.received();
    assert_eq!(
        azure.last().unwrap().path,
        "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    let (status, _) = call(
        h,
        Client::Responses,
        &Client::Responses.request("@azure/gpt-4o-prod", "x", true),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        clouds.azure.received().last().unwrap().path,
        "/openai/v1/responses"
    );
    let (status, _) = call(
        h,
        Client::Chat,
        &Client::Chat.request("@vertex/gemini-2.5-pro", "x", true),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        clouds
            .vertex
            .received()
            .last()
            .unwrap()
            .path
            .ends_with("/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    );
    assert_eq!(
        clouds.vertex.exchanges(),
        1,
        "the token is kept between requests"
    );
}

#[tokio::test]
async fn throttling_is_a_429_with_retry_after_in_the_clients_format() {
    let clouds = start(fake_bedrock::SECRET_ACCESS_KEY).await;
    for (client, model) in [
        (Client::Messages, "@bedrock/throttled"),
        (Client::Chat, "@gemini/throttled"),
        (Client::Chat, "@azure/throttled"),
    ] {
        let response = clouds
            .gateway
            .client
            .post(format!("{}{}", clouds.gateway.base, client.path()))
            .bearer_auth(KEY)
            .json(&client.request(model, "x", false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429, "{model}");
        assert!(response.headers().contains_key("retry-after"), "{model}");
        let error: Value = response.json().await.unwrap();
        match client {
            Client::Messages => {
                assert_eq!(error["type"], "error", "{error}");
                assert_eq!(error["error"]["type"], "rate_limit_error", "{error}");
            }
            _ => assert!(error["error"]["message"].is_string(), "{error}"),
        }
    }
}

#[tokio::test]
async fn a_wrong_aws_secret_is_refused_by_the_signature_check() {
    let clouds = start("not-the-right-secret").await;
    let model = "@bedrock/amazon.nova-pro-v1:0";
    let (status, answer) = call(
        &clouds.gateway,
        Client::Chat,
        &Client::Chat.request(model, "x", false),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    let error: Value = serde_json::from_str(&answer).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The request signature we calculated does not match"),
        "{error}"
    );
    assert!(!answer.contains("not-the-right-secret"));
    assert!(clouds.bedrock.received().is_empty());
}

#[tokio::test]
async fn a_failing_anthropic_target_falls_back_through_bedrock_to_vertex() {
    let clouds = start(fake_bedrock::SECRET_ACCESS_KEY).await;
    let h = &clouds.gateway;
    for stream in [false, true] {
        let response = h
            .client
            .post(format!("{}/v1/messages", h.base))
            .bearer_auth(KEY)
            .header("x-sluice-config", "across-clouds")
            .json(&Client::Messages.request("claude", "fall back please", stream))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "stream {stream}");
        assert_eq!(
            response.headers()["x-sluice-target"],
            "@vertex/claude-sonnet-4-5@20250929"
        );
        assert_eq!(response.headers()["x-sluice-fallback"], "true");
        let body = response.text().await.unwrap();
        assert_eq!(
            Client::Messages.text(&body, stream),
            "you said: fall back please"
        );
    }
    let throttled: Vec<_> = clouds
        .bedrock
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/model/throttled/"))
        .collect();
    assert_eq!(throttled.len(), 2, "Bedrock was tried once per request");
}

#[tokio::test]
async fn usage_comes_from_the_clouds_own_counts() {
    let clouds = start(fake_bedrock::SECRET_ACCESS_KEY).await;
    let h = &clouds.gateway;
    for (model, stream) in [
        ("@gemini/gemini-2.5-flash", false),
        ("@bedrock/amazon.nova-pro-v1:0", true),
    ] {
        let (status, _) = call(
            h,
            Client::Chat,
            &Client::Chat.request(model, "count me", stream),
        )
        .await;
        assert_eq!(status, 200);
    }
    let rows = h.usage_rows(ADMIN_KEY, "by=model&per=all", 2).await;
    for model in ["gemini-2.5-flash", "amazon.nova-pro-v1:0"] {
        let row = rows
            .iter()
            .find(|r| r["model"].as_str().is_some_and(|m| m.ends_with(model)))
            .unwrap_or_else(|| panic!("no row for {model}: {rows:?}"));
        assert_eq!(row["output_tokens"], 6, "{row}");
        assert!(row["input_tokens"].as_u64().unwrap() > 3, "{row}");
        assert!(row["cost_usd"].as_f64().unwrap() > 0.0, "priced: {row}");
    }
}

#[tokio::test]
async fn gemini_thought_signatures_survive_a_tool_round_trip_through_any_client_api() {
    let clouds = start(fake_bedrock::SECRET_ACCESS_KEY).await;
    let h = &clouds.gateway;
    let model = "@gemini/gemini-3-pro-tool";
    let tools = json!([{"name": "lookup", "description": "look it up",
                        "input_schema": {"type": "object"}}]);
    // A Messages client carries the signature as a thinking block.
    let mut body = Client::Messages.request(model, "find it", false);
    body["tools"] = tools.clone();
    let (status, answer) = call(h, Client::Messages, &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["stop_reason"], "tool_use", "{answer}");
    assert_eq!(
        answer["content"][0]["signature"],
        fake_gemini::THOUGHT_SIGNATURE
    );
    let call_id = answer["content"][1]["id"].clone();
    body["messages"] = json!([
        {"role": "user", "content": "find it"},
        {"role": "assistant", "content": answer["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "42"}]}
    ]);
    let (status, answer) = call(h, Client::Messages, &body).await;
    assert_eq!(status, 200, "the signature went back: {answer}");
    assert_eq!(Client::Messages.text(&answer, false), "tool said: 42");
    let sent = clouds.last_received(model);
    assert_eq!(
        sent["contents"][1]["parts"][0]["thoughtSignature"],
        fake_gemini::THOUGHT_SIGNATURE
    );
    // A Chat Completions client cannot carry it: the call goes back with
    // Google's documented stand-in, which Gemini 3 accepts.
    let chat_tools = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
    let mut body = Client::Chat.request(model, "find it", false);
    body["tools"] = chat_tools;
    let (status, answer) = call(h, Client::Chat, &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let message = answer["choices"][0]["message"].clone();
    let call_id = message["tool_calls"][0]["id"].clone();
    body["messages"] = json!([
        {"role": "user", "content": "find it"},
        message,
        {"role": "tool", "tool_call_id": call_id, "content": "42"}
    ]);
    let (status, answer) = call(h, Client::Chat, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(Client::Chat.text(&answer, false), "tool said: 42");
    let sent = clouds.last_received(model);
    assert_eq!(
        sent["contents"][1]["parts"][0]["thoughtSignature"],
        sluice::codec::gemini::SKIP_SIGNATURE
    );
}
