//! The gateway end to end: a real HTTP client, the gateway on a socket, and the
//! mock upstream standing in for OpenAI and Anthropic.

use crate::mock_upstream::{LEAKED_EMAIL, MockUpstream, TOOL_EMAIL};
use serde_json::{Value, json};
use sluice::config::Config;
use sluice::gateway::Gateway;
use std::path::Path;
use std::sync::OnceLock;

pub const KEY: &str = "gw-key-team-a-0123456789";
const OPENAI_PROVIDER_KEY: &str = "sk-test-provider-openai-key";
const ANTHROPIC_PROVIDER_KEY: &str = "sk-ant-test-provider-key";

/// A gateway in front of a mock upstream.
pub struct Harness {
    pub mock: MockUpstream,
    pub base: String,
    pub client: reqwest::Client,
    /// The gateway's audit database.
    pub audit_db: std::path::PathBuf,
    /// The gateway's state database (managed keys).
    pub state_db: std::path::PathBuf,
    /// The gateway itself (for its segment cache's counters).
    pub gateway: std::sync::Arc<Gateway>,
    _state: tempfile::TempDir,
}

fn cache_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Starts the mock and a gateway whose config ends with `extra` (TOML).
pub async fn start(extra: &str) -> Harness {
    start_with_audit(None, extra).await
}

/// Like [`start`], with `audit` as the `[audit]` section's body instead of a
/// SQLite file in a temporary folder.
pub async fn start_with_audit(audit: Option<&str>, extra: &str) -> Harness {
    start_full(audit, "", extra).await
}

/// Like [`start`], with `models` (TOML lines) added to the `[models]` table.
pub async fn start_with_models(models: &str, extra: &str) -> Harness {
    start_full(None, models, extra).await
}

async fn start_full(audit: Option<&str>, models: &str, extra: &str) -> Harness {
    sluice::server::install_crypto_provider();
    let mock = MockUpstream::start().await;
    let addr = mock.addr;
    let state = tempfile::tempdir().unwrap();
    let audit_db = state.path().join("audit.db");
    let state_db = state.path().join("state.db");
    let audit = match audit {
        Some(section) => section.to_string(),
        None => format!("path = {:?}", audit_db.display().to_string()),
    };
    // `{MOCK}` in `extra` stands for the mock's address.
    let extra = extra.replace("{MOCK}", &addr.to_string());
    let text = format!(
        r#"
[server]
max_body_mb = 1
max_answer_mb = 2
max_stream_event_mb = 1

[sandbox]
cache_dir = {cache:?}

[audit]
{audit}

[state]
path = {state_db:?}

[[providers]]
slug = "oa"
kind = "openai"
base_url = "http://{addr}/v1"
api_key = "{OPENAI_PROVIDER_KEY}"

[[providers]]
slug = "oc"
kind = "openai-compatible"
base_url = "http://{addr}/v1"

[[providers]]
slug = "an"
kind = "anthropic"
base_url = "http://{addr}"
api_key = "{ANTHROPIC_PROVIDER_KEY}"

[[providers]]
slug = "echo"
kind = "echo"

[[providers]]
slug = "dead"
kind = "openai-compatible"
base_url = "http://127.0.0.1:9/v1"

[[providers]]
slug = "slowpoke"
kind = "openai"
base_url = "http://{addr}/v1"
timeout_s = 1

[models]
"claude-test" = "@an/echo-last"
"claude-on-openai" = "@oa/echo-last"
{models}

[[keys]]
id = "team-a"
key = "{KEY}"
metadata = {{ team = "a" }}

{extra}
"#,
        cache = cache_dir().display().to_string(),
        state_db = state_db.display().to_string(),
    );
    let config =
        Config::parse(&text, Path::new("."), &|_| None).unwrap_or_else(|e| panic!("{e:?}"));
    let gateway = Gateway::new(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sluice::server::app(gateway.clone());
    let limits = sluice::server::connections::Limits::from_config(&config.server);
    tokio::spawn(sluice::server::connections::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    Harness {
        mock,
        base,
        client: reqwest::Client::new(),
        audit_db,
        state_db,
        gateway,
        _state: state,
    }
}

const PII: &str = "[[guardrails]]\nplugin = \"pii\"\n";

impl Harness {
    /// POSTs `body` (bytes, sent as they are, as JSON) to `path` with the
    /// test key.
    pub fn post_raw(&self, path: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `/admin/usage?{query}` with `admin_key`.
    pub async fn usage(&self, admin_key: &str, query: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/admin/usage?{query}", self.base))
            .bearer_auth(admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The rows of `/admin/usage?{query}` once they count `requests` requests
    /// (usage is recorded when an answer ends, a moment after the client has
    /// read it); more than that fails.
    pub async fn usage_rows(&self, admin_key: &str, query: &str, requests: i64) -> Vec<Value> {
        for _ in 0..100 {
            let report = self.usage(admin_key, query).await;
            let rows = report["rows"].as_array().unwrap().clone();
            let seen: i64 = rows.iter().map(|r| r["requests"].as_i64().unwrap()).sum();
            if seen >= requests {
                assert_eq!(seen, requests, "{rows:?}");
                return rows;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("usage never reached {requests} requests");
    }

    /// The audit records written so far, once there are at least `count` (the
    /// writer commits in the background, every few milliseconds).
    pub async fn audit_records(&self, count: usize) -> Vec<sluice::audit::Record> {
        use sluice::audit::Store;
        let mut store = sluice::audit::sqlite::SqliteStore::open(&self.audit_db).unwrap();
        for _ in 0..100 {
            let records = store.query(&sluice::audit::Filter::default()).unwrap();
            if records.len() >= count {
                return records.into_iter().map(|(_, r)| r).collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} audit records after 5 s");
    }

    pub async fn openai(&self, body: Value) -> reqwest::Response {
        self.openai_as(KEY, body).await
    }

    /// An OpenAI request made with gateway key `key`.
    pub async fn openai_as(&self, key: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/models` with gateway key `key`: the list.
    pub async fn models_as(&self, key: &str) -> Value {
        self.client
            .get(format!("{}/v1/models", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The body of an OpenAI request's answer, as text (streams included).
    pub async fn openai_text(&self, body: Value) -> String {
        self.openai(body).await.text().await.unwrap()
    }

    /// The body of an Anthropic request's answer, as text (streams included).
    pub async fn anthropic_text(&self, body: Value) -> String {
        self.anthropic(body).await.text().await.unwrap()
    }

    pub async fn anthropic(&self, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/messages?beta=true", self.base))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", "interleaved-thinking-2025-05-14")
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// The concatenated text deltas of an SSE body, and its data lines.
fn openai_stream_text(body: &str) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut chunks = Vec::new();
    for line in body.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            text.push_str(choice["delta"]["content"].as_str().unwrap_or(""));
            for call in choice["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                text.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
            }
        }
        chunks.push(chunk);
    }
    (text, chunks)
}

fn anthropic_stream(body: &str) -> (String, Vec<(String, Value)>) {
    let mut text = String::new();
    let mut events = Vec::new();
    let mut name = String::new();
    for line in body.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let value: Value = serde_json::from_str(data).unwrap();
            if name == "content_block_delta" {
                text.push_str(value["delta"]["text"].as_str().unwrap_or(""));
                text.push_str(value["delta"]["partial_json"].as_str().unwrap_or(""));
            }
            events.push((name.clone(), value));
        }
    }
    (text, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_request_is_redacted_upstream_and_unknown_fields_pass_through() {
    let h = start(PII).await;
    let response = h
        .openai(json!({
            "model": "@oa/echo-last",
            "messages": [{"role": "user", "content": "mail jane.doe@example.com please"}],
            "some_future_param": {"nested": [1, 2, 3]},
            "temperature": 0.3
        }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "you said: mail [EMAIL_1] please"
    );
    let sent = h.mock.last();
    assert_eq!(sent.body["messages"][0]["content"], "mail [EMAIL_1] please");
    assert_eq!(sent.body["model"], "echo-last");
    assert_eq!(sent.body["some_future_param"], json!({"nested": [1, 2, 3]}));
    assert_eq!(sent.body["temperature"], 0.3);
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {OPENAI_PROVIDER_KEY}").as_str(),
        "the provider key goes upstream"
    );
}

/// A request that needs no change but its model goes upstream as the client
/// wrote it: key order, spacing, number spelling and unknown fields intact.
/// A redaction makes sluice write the body itself, which still keeps them.
#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_request_goes_upstream_byte_for_byte_but_its_model() {
    let h = start(PII).await;
    let written = |content: &str| {
        format!(
            "{{ \"temperature\": 1.50,\n  \"messages\": [{{\"role\": \"user\", \"content\": \"{content}\"}}],\n  \"model\" : \"@oa/echo-last\", \"x_future\": {{\"n\": 1e3}} }}"
        )
    };
    let send = |body: String| {
        h.client
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let clean = written("hello there");
    let response = send(clean.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer = response.bytes().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&h.mock.last_raw_body()),
        clean.replace("\"@oa/echo-last\"", "\"echo-last\""),
        "only the model changed"
    );
    // the provider's answer reaches the client as the provider wrote it
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "you said: hello there"
    );

    let response = send(written("mail jane.doe@example.com")).await.unwrap();
    assert_eq!(response.status(), 200);
    let sent: Value = serde_json::from_slice(&h.mock.last_raw_body()).unwrap();
    assert_eq!(sent["messages"][0]["content"], "mail [EMAIL_1]");
    assert_eq!(sent["model"], "echo-last");
    assert_eq!(sent["temperature"], 1.5);
    assert_eq!(sent["x_future"]["n"], 1000.0);
}

/// A request no guardrail reads is parsed no further than its head and goes
/// upstream as the client wrote it, but its model; its answer is read only
/// for its usage. When its bytes cannot be
/// edited in place (a key written with escapes, a key given twice) or its
/// provider speaks the other API, it is read in full and sent as it says; its
/// errors are those of a request read in full.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_no_guardrail_reads_passes_through_or_is_read_in_full_when_it_must() {
    let h = start("").await;
    let send = |body: Vec<u8>, path: &'static str| h.post_raw(path, body).send();
    let written = "{ \"temperature\": 1.50,\n \"messages\": [{\"role\": \"user\", \"content\": \"caf\\u00e9 \u{e9}\"}],\n \"model\" : \"@oa/echo-last\", \"x_future\": {\"n\": 1e3} }";
    let response = send(written.into(), "/v1/chat/completions").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        String::from_utf8_lossy(&h.mock.last_raw_body()),
        written.replace("\"@oa/echo-last\"", "\"echo-last\""),
        "only the model changed"
    );
    // its answer, read only for its usage, reaches the client whole
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "you said: café é"
    );
    assert_eq!(answer["usage"]["prompt_tokens"], 10);
    let metrics = h.metrics().await;
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("sluice_tokens_total{direction=\"input\""))
        .unwrap_or_else(|| panic!("no input tokens counted: {metrics}"));
    assert!(counted.ends_with(" 10"), "{counted}");
    // an answer that is not JSON is still refused
    let body = r#"{"model": "@oa/not-json", "messages": [{"role": "user", "content": "x"}]}"#;
    let response = send(body.into(), "/v1/chat/completions").await.unwrap();
    assert_eq!(response.status(), 502);
    // bytes the splice declines: read in full, then written
    for body in [
        r#"{"mod\u0065l": "@oa/echo-last", "messages": [{"role": "user", "content": "escaped key"}]}"#,
        r#"{"model": "@oc/none", "messages": [{"role": "user", "content": "key twice"}], "model": "@oa/echo-last"}"#,
    ] {
        let response = send(body.into(), "/v1/chat/completions").await.unwrap();
        assert_eq!(response.status(), 200, "{body}");
        let sent = h.mock.last();
        assert_eq!(sent.path, "/v1/chat/completions", "{body}");
        assert_eq!(sent.body["model"], "echo-last", "{body}");
        let said = sent.body["messages"][0]["content"].as_str().unwrap();
        assert!(said == "escaped key" || said == "key twice", "{body}");
    }
    // a provider of the other API: translated from the whole body
    let body = r#"{"model": "claude-test", "messages": [{"role": "user", "content": "across"}]}"#;
    let response = send(body.into(), "/v1/chat/completions").await.unwrap();
    assert_eq!(response.status(), 200);
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.body["messages"][0]["content"][0]["text"], "across");
    // the errors of a body read in full
    for (body, error) in [
        (
            &br#"{"model": "@oa/echo-last", "messages": {}}"#[..],
            "`messages` must be an array",
        ),
        (br#"{"model": "@oa/echo-last"}"#, "`messages` is required"),
        (br#"[1, 2]"#, "must be a JSON object"),
        (
            br#"{"model": "@oa/echo-last", "messages": [}"#,
            "not valid JSON",
        ),
        (
            b"{\"model\": \"@oa/echo-last\", \"messages\": [\"\xff\"]}",
            "not valid UTF-8",
        ),
        (
            br#"{"model": "@oa/echo-last", "messages": [], "max_tokens": 0}"#,
            "`max_tokens` must be",
        ),
    ] {
        let response = send(body.to_vec(), "/v1/chat/completions").await.unwrap();
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
        let answer: Value = response.json().await.unwrap();
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(error), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_value_keeps_one_numbered_placeholder_across_the_request() {
    let h = start(PII).await;
    let response = h
        .openai(json!({
            "model": "@oa/echo-last",
            "messages": [
                {"role": "system", "content": "You assist ana@corp.io."},
                {"role": "user", "content": "Forward bob@corp.io's note to ana@corp.io, call +1 415 555 2671"}
            ]
        }))
        .await;
    assert_eq!(response.status(), 200);
    let sent = h.mock.last();
    assert_eq!(sent.body["messages"][0]["content"], "You assist [EMAIL_1].");
    assert_eq!(
        sent.body["messages"][1]["content"],
        "Forward [EMAIL_2]'s note to [EMAIL_1], call [PHONE_1]"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_answer_continues_the_requests_numbering() {
    let h = start(PII).await;
    for stream in [false, true] {
        let body = h
            .openai_text(json!({"model": "@oa/leak-email", "stream": stream,
                "messages": [{"role": "user", "content": "ask jane@corp.io"}]}))
            .await;
        assert_eq!(
            h.mock.last().body["messages"][0]["content"],
            "ask [EMAIL_1]"
        );
        let text = if stream {
            openai_stream_text(&body).0
        } else {
            let value: Value = serde_json::from_str(&body).unwrap();
            value["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // A new address in the answer gets a new number, not the request's 1.
        assert_eq!(
            text, "Sure. You can reach me at [EMAIL_2] any time.",
            "stream {stream}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_stream_redacts_a_match_split_across_chunks() {
    let h = start(PII).await;
    let response = h
        .openai(json!({
            "model": "@oa/leak-email", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = response.text().await.unwrap();
    assert!(
        !body.contains(LEAKED_EMAIL) && !body.contains("leak.person"),
        "{body}"
    );
    let (text, chunks) = openai_stream_text(&body);
    assert_eq!(text, "Sure. You can reach me at [EMAIL_1] any time.");
    assert!(body.trim_end().ends_with("data: [DONE]"));
    assert!(
        chunks.iter().any(|c| c["usage"]["total_tokens"] == 15),
        "usage chunk passes"
    );
    assert!(chunks.len() > 5, "still streamed in many chunks");
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_tool_call_arguments_are_guarded_streaming_and_not() {
    let h = start(PII).await;
    let body: Value = h
        .openai(json!({"model": "@oa/tool-call", "messages": [{"role": "user", "content": "send it"}],
                       "tools": [{"type": "function", "function": {"name": "send_mail", "parameters": {}}}]}))
        .await
        .json()
        .await
        .unwrap();
    let args = body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(args, "{\"to\": \"[EMAIL_1]\", \"subject\": \"hi\"}");

    let stream = h.openai_text(json!({"model": "@oa/tool-call", "stream": true, "messages": [{"role": "user", "content": "send it"}]}))
        .await;
    assert!(!stream.contains(TOOL_EMAIL), "{stream}");
    let (text, _) = openai_stream_text(&stream);
    assert_eq!(text, "{\"to\": \"[EMAIL_1]\", \"subject\": \"hi\"}");
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_messages_redact_both_ways_and_forward_version_headers() {
    let h = start(PII).await;
    let response = h
        .anthropic(json!({
            "model": "claude-test", "max_tokens": 100,
            "system": [{"type": "text", "text": "You help ops@example.org", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "ask bob@example.com"}]}]
        }))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "you said: ask [EMAIL_2]");
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.body["system"][0]["text"], "You help [EMAIL_1]");
    assert_eq!(
        sent.body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(sent.headers["x-api-key"], ANTHROPIC_PROVIDER_KEY);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        sent.headers["anthropic-beta"],
        "interleaved-thinking-2025-05-14"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_stream_keeps_every_event_and_redacts_text_and_tool_input() {
    let h = start(PII).await;
    let body = h
        .anthropic_text(
            json!({"model": "@an/tool-call", "max_tokens": 100, "stream": true,
                          "messages": [{"role": "user", "content": "write to a@example.com"}]}),
        )
        .await;
    assert!(!body.contains(TOOL_EMAIL), "{body}");
    let (text, events) = anthropic_stream(&body);
    assert_eq!(
        text,
        "you said: write to [EMAIL_1]{\"to\":\"[EMAIL_2]\",\"subject\":\"hi\"}"
    );
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    let thinking = events
        .iter()
        .find(|(_, v)| v["delta"]["type"] == "thinking_delta")
        .expect("thinking passes");
    assert_eq!(thinking.1["delta"]["thinking"], "Let me think.");
    assert!(
        events
            .iter()
            .any(|(_, v)| v["delta"]["type"] == "signature_delta")
    );
    assert_eq!(names.last(), Some(&"message_stop"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_is_a_400_in_the_callers_format_naming_guardrail_and_rule() {
    let h = start("[[guardrails]]\nplugin = \"pii\"\nsettings = { action = \"block\" }\n").await;
    let response = h
        .openai(json!({"model": "@oa/x", "messages": [{"role": "user", "content": "I am eve@evil.io"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(!text.contains("eve@evil.io"), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "content_blocked");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("guardrail `pii`") && message.contains("pii.email"),
        "{message}"
    );
    assert!(h.mock.received().is_empty(), "nothing went upstream");

    let response = h
        .anthropic(json!({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "eve@evil.io"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_mid_stream_ends_it_with_an_error_event() {
    let h = start("[[guardrails]]\nplugin = \"pii\"\nsettings = { action = \"block\" }\n").await;
    let body = h.openai_text(json!({"model": "@oa/leak-email", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert!(!body.contains("leak.person"), "{body}");
    let last = body.trim_end().lines().last().unwrap();
    let error: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "content_blocked");

    let body = h.anthropic_text(json!({"model": "@an/leak-email", "stream": true, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert!(!body.contains("leak.person"), "{body}");
    assert!(
        body.contains("event: error\ndata: {\"type\":\"error\""),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_error_with_the_right_status() {
    let h = start(PII).await;
    let post = |path: &str, body: Vec<u8>| h.post_raw(path, body).send();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "/v1/chat/completions",
            b"{not json".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "/v1/chat/completions",
            vec![b'{', 0xff, b'}'],
            400,
            "not valid UTF-8",
        ),
        (
            "/v1/chat/completions",
            br#"{"model": "@oa/x", "messages": "hi"}"#.to_vec(),
            400,
            "`messages` must be an array",
        ),
        (
            "/v1/chat/completions",
            br#"{"model": 7, "messages": []}"#.to_vec(),
            400,
            "`model` must be a string",
        ),
        (
            "/v1/chat/completions",
            br#"{"model": "gpt-9", "messages": []}"#.to_vec(),
            400,
            "unknown model `gpt-9`",
        ),
        (
            "/v1/chat/completions",
            br#"{"model": "@nope/x", "messages": []}"#.to_vec(),
            400,
            "unknown provider `nope`",
        ),
        (
            "/v1/chat/completions",
            vec![b' '; 2 << 20],
            413,
            "larger than the limit of 1 MiB",
        ),
        ("/v1/messages", b"[]".to_vec(), 400, "must be a JSON object"),
    ];
    for (path, body, status, message) in cases {
        let response = post(path, body).await.unwrap();
        assert_eq!(response.status(), status, "{path} {message}");
        let body: Value = response.json().await.unwrap();
        // Both APIs put the message at error.message.
        let text = &body["error"]["message"];
        assert!(text.as_str().unwrap().contains(message), "{path}: {body}");
        if path == "/v1/messages" {
            assert_eq!(body["type"], "error");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_wrong_gateway_keys_are_refused_and_provider_keys_never_leak() {
    let h = start(PII).await;
    let url = format!("{}/v1/chat/completions", h.base);
    let body = json!({"model": "@oa/x", "messages": []});
    let none = h.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = h
        .client
        .post(&url)
        .bearer_auth("not-the-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let text = wrong.text().await.unwrap();
    assert!(
        text.contains("invalid gateway key") && !text.contains("not-the-key"),
        "{text}"
    );

    let anthropic = h
        .client
        .post(format!("{}/v1/messages", h.base))
        .header("x-api-key", "wrong")
        .json(&json!({"messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 401);
    let body: Value = anthropic.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");

    // Every answer, errors included, is free of the provider keys.
    for model in ["@oa/echo-last", "@oa/status-500", "@oa/not-json", "@dead/x"] {
        let text = h
            .openai_text(json!({"model": model, "messages": [{"role": "user", "content": "x"}]}))
            .await;
        assert!(!text.contains(OPENAI_PROVIDER_KEY), "{model}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_failures_become_clear_errors_never_hangs() {
    let h = start(PII).await;
    let ask = |model: &str, stream: bool| {
        h.openai(json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "x"}]}))
    };

    let response = ask("@oa/status-500", false).await;
    assert_eq!(
        response.status(),
        500,
        "the provider's own error passes with its status"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "upstream exploded");

    for (model, expected) in [
        ("@oa/not-json", "not JSON"),
        ("@dead/x", "could not be reached"),
    ] {
        let response = ask(model, false).await;
        assert_eq!(response.status(), 502, "{model}");
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{model}: {message}");
    }

    let response = ask("@slowpoke/slow", false).await;
    assert_eq!(response.status(), 504);

    let body = ask("@oa/malformed-stream", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.lines().all(|l| l != "data: 42"),
        "the malformed event never reaches the client: {body}"
    );
    let last = body.trim_end().lines().last().unwrap();
    assert!(
        last.contains("\"error\"") && last.contains("malformed"),
        "{body}"
    );

    let body = ask("@oa/reset-mid-stream", true)
        .await
        .text()
        .await
        .unwrap();
    let last = body.trim_end().lines().last().unwrap();
    assert!(
        last.contains("\"error\"") && last.contains("broke off"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirecting_provider_is_not_followed_and_its_key_goes_nowhere_else() {
    // A provider address that answers 307 to another server: following it
    // would send that server the provider's `x-api-key`.
    let elsewhere = MockUpstream::start().await;
    let target = format!("http://{}/v1/messages", elsewhere.addr);
    let redirector = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, target)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let moved = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirector).await.unwrap() });
    let h = start(&format!(
        "[[providers]]\nslug = \"moved\"\nkind = \"anthropic\"\nbase_url = \"http://{moved}\"\napi_key = \"{ANTHROPIC_PROVIDER_KEY}\"\n"
    ))
    .await;

    let response = h
        .openai(
            json!({"model": "@moved/claude-x", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("307") && message.contains("redirect"),
        "{message}"
    );
    assert!(
        elsewhere.received().is_empty(),
        "the redirect was followed: {:?}",
        elsewhere.received()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_shows_what_the_guardrails_changed_in_both_apis() {
    let h = start(PII).await;
    let body: Value = h
        .openai(json!({"model": "@echo/any", "messages": [{"role": "user", "content": "I am jane@example.com"}]}))
        .await
        .json()
        .await
        .unwrap();
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    let echoed: Value = serde_json::from_str(content).unwrap();
    assert_eq!(echoed["messages"][0]["content"], "I am [EMAIL_1]");
    assert!(!content.contains("jane@"));

    let stream = h
        .anthropic_text(
            json!({"model": "@echo/any", "stream": true, "max_tokens": 9,
                          "messages": [{"role": "user", "content": "I am jane@example.com"}]}),
        )
        .await;
    let (text, _) = anthropic_stream(&stream);
    let echoed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(echoed["messages"][0]["content"], "I am [EMAIL_1]");
}

#[tokio::test(flavor = "multi_thread")]
async fn models_embeddings_and_token_counting() {
    let h = start(PII).await;
    let models = h.models_as(KEY).await;
    assert_eq!(models["object"], "list");
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "claude-test")
    );

    let embeddings: Value = h
        .client
        .post(format!("{}/v1/embeddings", h.base))
        .bearer_auth(KEY)
        .json(&json!({"model": "@oa/text-embedding-3-small", "input": "hello"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(embeddings["data"][0]["embedding"], json!([0.1, 0.2, 0.3]));
    assert_eq!(h.mock.last().body["model"], "text-embedding-3-small");

    let count: Value = h
        .client
        .post(format!("{}/v1/messages/count_tokens", h.base))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-test", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["input_tokens"], 42);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anthropic_client_can_use_an_openai_model() {
    let h = start(PII).await;
    let body: Value = h
        .anthropic(json!({"model": "@oa/tool-call", "max_tokens": 50, "system": "be brief",
            "tools": [{"name": "send_mail", "description": "send", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "mail joe@example.com"}]}))
        .await
        .json()
        .await
        .unwrap();
    let sent = h.mock.last();
    assert_eq!(
        sent.path, "/v1/chat/completions",
        "went out as Chat Completions"
    );
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(sent.body["messages"][1]["content"], "mail [EMAIL_1]");
    assert_eq!(sent.body["max_completion_tokens"], 50);
    assert_eq!(sent.body["tool_choice"], "required");
    assert_eq!(sent.body["tools"][0]["function"]["name"], "send_mail");
    assert_eq!(body["type"], "message");
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["type"], "tool_use");
    assert_eq!(
        body["content"][0]["input"],
        json!({"to": "[EMAIL_2]", "subject": "hi"})
    );

    let stream = h
        .anthropic_text(
            json!({"model": "@oa/leak-email", "max_tokens": 50, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert!(!stream.contains("leak.person"), "{stream}");
    let (text, events) = anthropic_stream(&stream);
    assert_eq!(text, "Sure. You can reach me at [EMAIL_1] any time.");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(
        events[events.len() - 2].1["usage"]["output_tokens"],
        5,
        "usage from the include_usage chunk"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openai_client_can_use_an_anthropic_model() {
    let h = start(PII).await;
    let body: Value = h
        .openai(json!({"model": "@an/tool-call",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "mail joe@example.com"}],
            "tools": [{"type": "function", "function": {"name": "send_mail", "parameters": {"type": "object"}}}]}))
        .await
        .json()
        .await
        .unwrap();
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/messages", "went out as Messages");
    assert_eq!(sent.body["system"], "be brief");
    assert_eq!(
        sent.body["messages"][0]["content"][0]["text"],
        "mail [EMAIL_1]"
    );
    assert_eq!(sent.body["max_tokens"], 4096);
    assert_eq!(
        sent.body["tools"][0]["input_schema"],
        json!({"type": "object"})
    );
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let args = body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"to": "[EMAIL_2]", "subject": "hi"})
    );

    // prompt-cache markers on content parts (Cline, OpenRouter clients) reach
    // Anthropic, on redacted text too
    let marked = json!({"type": "ephemeral"});
    let response = h
        .openai(json!({"model": "@an/echo-last", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "rules", "cache_control": marked}]},
            {"role": "user", "content": [{"type": "text", "text": "mail joe@example.com", "cache_control": marked}]}]}))
        .await;
    assert_eq!(response.status(), 200);
    let sent = h.mock.last().body;
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "rules", "cache_control": marked}])
    );
    assert_eq!(
        sent["messages"][0]["content"][0],
        json!({"type": "text", "text": "mail [EMAIL_1]", "cache_control": marked})
    );

    let stream = h.openai_text(json!({"model": "@an/tool-call", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "write to a@example.com"}]}))
        .await;
    assert!(!stream.contains(TOOL_EMAIL), "{stream}");
    let (text, chunks) = openai_stream_text(&stream);
    assert_eq!(
        text,
        "you said: write to [EMAIL_1]{\"to\":\"[EMAIL_2]\",\"subject\":\"hi\"}"
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert!(chunks.iter().any(|c| c["usage"]["total_tokens"] == 15));
    assert!(stream.trim_end().ends_with("data: [DONE]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_providers_error_is_reworded_into_the_clients_format_when_translating() {
    let h = start(PII).await;
    let response = h
        .anthropic(json!({"model": "@oa/status-500", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream exploded")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_cancels_its_upstream_call() {
    use crate::mock_upstream::STREAM_CANCELLED;
    use futures_util::StreamExt;
    use std::sync::atomic::Ordering;
    let h = start(PII).await;
    let response = h
        .openai(json!({"model": "@oa/slow-stream", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert!(!STREAM_CANCELLED.load(Ordering::SeqCst));
    drop(body); // the client goes away mid-stream
    for _ in 0..100 {
        if STREAM_CANCELLED.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the upstream stream was still running 5 s after the client left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_stuck_until_its_deadline_does_not_hold_up_other_requests() {
    let hostile = crate::support::guest("sluice-guest-hostile");
    let h = start(&format!(
        "[[guardrails]]\npath = {:?}\ntimeout_ms = 3000\non_failure = \"allow\"\n",
        hostile.display().to_string()
    ))
    .await;
    // More requests than async workers, each held by the plugin until its deadline.
    let stuck: Vec<_> = (0..4)
        .map(|_| {
            let client = h.client.clone();
            let url = format!("{}/v1/chat/completions", h.base);
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(KEY)
                    .json(&json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "loop"}]}))
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let health = h
        .client
        .get(format!("{}/health", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        stuck.iter().all(|task| !task.is_finished()),
        "health answered while the stuck requests were still in their plugin"
    );
    for task in stuck {
        // Fail-open: after the deadline the request goes through.
        assert_eq!(task.await.unwrap().unwrap(), 200);
    }
}
