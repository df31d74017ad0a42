//! A mock upstream that stands in for paid providers: OpenAI's Chat Completions,
//! Responses ([`responses`]) and embeddings, and Anthropic's Messages and token
//! counting, streaming and not.
//!
//! It records every request it receives (to check what the gateway sent), and
//! its answer is chosen by the model name:
//!
//! | model | answer |
//! |---|---|
//! | `echo-last` (or anything else) | "you said: <last user text>" |
//! | `leak-email` | an answer that contains `leak.person@corp-mail.com`, streamed in 3-byte pieces |
//! | `tool-call` | a tool call whose arguments contain `tool.leak@corp-mail.com` |
//! | `status-500` | 500 with a JSON error in the provider's format |
//! | `not-json` | 200 with a body that is not JSON |
//! | `reset-mid-stream` | a stream that stops after a few events, without its end |
//! | `malformed-stream` | a stream with a text delta, then an event that is JSON but not an object |
//! | `slow` | waits 3 s before answering |
//! | `slow-stream` | streams a chunk every 50 ms for 10 s; notes when the stream is dropped |
//! | `status-429` | 429 with `Retry-After: 1` |
//! | `retry-after-huge` | 429 with `Retry-After: 1e20` |
//! | `flaky-N-M` | 503 for the first N calls of this model name (M: any tag), then answers |
//! | `dies-before-first-event` | a 200 stream that breaks before its first byte |
//! | `error-leak` | 400 whose error message contains `leak.person@corp-mail.com` |
//! | `stream-error-leak` | a stream with a text delta, then an error event containing that address |
//! | `pause-stream` | a stream that sends a delta, pauses 2.5 s, then sends the rest |
//! | `huge-answer` | a 3 MiB answer (whole), or a stream with one 3 MiB event |
//! | `codex-agent` | a call of `exec_command` with [`AGENT_COMMAND`], then, once the last message is the tool's output, "all done: <that output>" |
//! | `mcp-agent` | (Messages) a call of [`MCP_AGENT_TOOL`], then, once the last message is the tool's output, "the tool has answered" |
//!
//! [`MockUpstream::set_down`] makes every chat request answer 503 (a provider
//! outage); [`MockUpstream::reset_addr`] is a port that accepts connections and
//! resets them before answering.

mod responses;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The e-mail address the `leak-email` model answers with.
pub const LEAKED_EMAIL: &str = "leak.person@corp-mail.com";
/// The e-mail address the `tool-call` model puts in tool arguments.
pub const TOOL_EMAIL: &str = "tool.leak@corp-mail.com";

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path, such as `/v1/chat/completions`.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its JSON body.
    pub body: Value,
}

/// A running mock upstream.
#[derive(Clone)]
pub struct MockUpstream {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A port that resets every connection before answering.
    pub reset_addr: SocketAddr,
    state: Shared,
}

/// What the handlers share.
#[derive(Default)]
pub struct MockState {
    received: Mutex<Vec<Received>>,
    /// The bodies of what `received` holds from this mock, byte for byte.
    raw_bodies: Mutex<Vec<Bytes>>,
    down: std::sync::atomic::AtomicBool,
    calls: Mutex<std::collections::HashMap<String, u32>>,
}

/// Set when a `slow-stream` answer is dropped before its end (the gateway
/// cancelled the upstream call).
pub static STREAM_CANCELLED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Sets [`STREAM_CANCELLED`] when dropped; forgotten when the stream ends normally.
struct CancelWitness;

impl Drop for CancelWitness {
    fn drop(&mut self) {
        STREAM_CANCELLED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn slow_stream(model: &str) -> Response {
    let model = model.to_string();
    let witness = CancelWitness;
    let stream = futures_util::stream::unfold((0u32, witness), move |(i, witness)| {
        let model = model.clone();
        async move {
            if i == 200 {
                std::mem::forget(witness);
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let chunk = json!({"id": "slow", "object": "chat.completion.chunk", "created": 1, "model": model,
                               "choices": [{"index": 0, "delta": {"content": "tick "}, "finish_reason": null}]});
            Some((
                Ok::<_, std::io::Error>(format!("data: {chunk}\n\n")),
                (i + 1, witness),
            ))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

impl MockUpstream {
    /// A config's `[[providers]]` entry `oa`: this mock as an OpenAI provider.
    pub fn openai_provider_toml(&self) -> String {
        format!(
            "[[providers]]\nslug = \"oa\"\nkind = \"openai\"\nbase_url = \"http://{}/v1\"\napi_key = \"sk-x\"\n\n",
            self.addr
        )
    }

    /// Starts the mock on a free port of 127.0.0.1, on the current runtime.
    pub async fn start() -> Self {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/responses", post(responses::handle))
            .route("/v1/embeddings", post(openai_embeddings))
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1/messages/count_tokens", post(anthropic_count))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let resetter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reset_addr = resetter.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = resetter.accept().await {
                // Linger 0: closing sends a reset, not a clean end.
                let _ = socket.set_zero_linger();
                drop(socket);
            }
        });
        MockUpstream {
            addr,
            reset_addr,
            state,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Makes every chat request answer 503 (`true`), or serve again.
    pub fn set_down(&self, down: bool) {
        self.state
            .down
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// The body of the last request this mock received, byte for byte.
    pub fn last_raw_body(&self) -> Bytes {
        let bodies = self.state.raw_bodies.lock().unwrap();
        bodies.last().cloned().expect("the mock received a request")
    }

    /// The last request received.
    pub fn last(&self) -> Received {
        self.received().pop().expect("the mock received a request")
    }
}

type Shared = Arc<MockState>;

fn record(state: &Shared, path: &str, headers: &HeaderMap, raw: &Bytes) -> Value {
    state.raw_bodies.lock().unwrap().push(raw.clone());
    let body: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    state.received.lock().unwrap().push(Received {
        path: path.to_string(),
        headers: headers.clone(),
        body: body.clone(),
    });
    body
}

/// The text of the last user turn: the user messages after the last
/// assistant one, joined (a run of user messages is one turn, as providers
/// read it; Claude Code sends its prompt and its context as two).
pub fn last_user_text(body: &Value) -> String {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let turn_start = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    messages[turn_start..]
        .iter()
        .filter(|m| m["role"] == "user")
        .flat_map(|m| match &m["content"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tool the `mcp-agent` model calls: Claude Code's name for the test MCP
/// server's `secret` tool behind the gateway's `/mcp` (added as `sluice`).
pub const MCP_AGENT_TOOL: &str = "mcp__sluice__alpha__secret";

/// The command `codex-agent` asks to run, as `exec_command` arguments.
pub const AGENT_COMMAND: &str = r#"{"cmd": "echo sluice-agent-ran-this"}"#;

/// The role of the last message of a Chat Completions body.
fn last_role(body: &Value) -> &str {
    body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["role"].as_str())
        .unwrap_or("")
}

/// The text of the last message (a tool's output, for `codex-agent`).
fn last_text(body: &Value) -> String {
    let last = body["messages"].as_array().and_then(|m| m.last());
    match last.map(|m| &m["content"]) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| match &p["content"] {
                // an Anthropic tool_result block
                Value::String(s) => Some(s.as_str()),
                _ => p["text"].as_str(),
            })
            .collect(),
        _ => String::new(),
    }
}

/// Whether a Messages body's last message carries a tool result.
fn ends_with_tool_result(body: &Value) -> bool {
    let last = body["messages"].as_array().and_then(|m| m.last());
    last.and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
}

fn answer_text(model: &str, body: &Value) -> String {
    match model {
        "codex-agent" => format!("all done: {}", last_text(body).trim()),
        "mcp-agent" => "the tool has answered".to_string(),
        "leak-email" => format!("Sure. You can reach me at {LEAKED_EMAIL} any time."),
        _ => format!("you said: {}", last_user_text(body)),
    }
}

/// Splits `text` into pieces of `size` bytes (on char boundaries).
fn pieces(text: &str, size: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if current.len() >= size {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn sse(events: Vec<String>, stop_early: bool) -> Response {
    let count = if stop_early {
        events.len().min(4)
    } else {
        events.len()
    };
    let stream =
        futures_util::stream::iter(events.into_iter().take(count).map(Ok::<_, std::io::Error>));
    let body = if stop_early {
        // End the body with an error: the connection is cut mid-stream.
        let broken = futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(std::io::Error::other("connection reset"))
        });
        Body::from_stream(futures_util::StreamExt::chain(stream, broken))
    } else {
        Body::from_stream(stream)
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(body)
        .unwrap()
}

/// A stream that sends `before`, waits 2.5 s, then sends `after`.
fn paused_stream(before: Vec<String>, after: Vec<String>) -> Response {
    let first = futures_util::stream::iter(before.into_iter().map(Ok::<_, std::io::Error>));
    let rest = futures_util::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok::<_, std::io::Error>(after.concat())
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(futures_util::StreamExt::chain(
            first, rest,
        )))
        .unwrap()
}

/// An error answer in the provider's format.
fn error(status: StatusCode, api_is_openai: bool, message: &str) -> Response {
    let body = if api_is_openai {
        json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}})
    } else {
        json!({"type": "error", "error": {"type": "api_error", "message": message}})
    };
    (status, axum::Json(body)).into_response()
}

async fn special(state: &MockState, model: &str, api_is_openai: bool) -> Option<Response> {
    if state.down.load(std::sync::atomic::Ordering::SeqCst) {
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            api_is_openai,
            "the provider is down",
        ));
    }
    if let Some(spec) = model.strip_prefix("flaky-") {
        let failures: u32 = spec
            .split('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let mut calls = state.calls.lock().unwrap();
        let call = calls.entry(model.to_string()).or_insert(0);
        *call += 1;
        if *call <= failures {
            return Some(error(
                StatusCode::SERVICE_UNAVAILABLE,
                api_is_openai,
                "flaky: try again",
            ));
        }
        return None;
    }
    match model {
        "status-500" => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            api_is_openai,
            "upstream exploded",
        )),
        "status-429" => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, api_is_openai, "slow down");
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            response.headers_mut().insert(
                "x-ratelimit-remaining-requests",
                axum::http::HeaderValue::from_static("0"),
            );
            Some(response)
        }
        "retry-after-huge" => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, api_is_openai, "go away");
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1e20"));
            Some(response)
        }
        "dies-before-first-event" => {
            let stream = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("the provider fell over"))
            });
            Some(
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(stream))
                    .unwrap(),
            )
        }
        "not-json" => Some((StatusCode::OK, "<html>surprise</html>").into_response()),
        "error-leak" => Some(error(
            StatusCode::BAD_REQUEST,
            api_is_openai,
            &format!("your account {LEAKED_EMAIL} is not allowed to use this model"),
        )),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            None
        }
        _ => None,
    }
}

async fn openai_chat(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body = record(&state, "/v1/chat/completions", &headers, &body);
    let model = body["model"].as_str().unwrap_or("").to_string();
    if let Some(response) = special(&state, &model, true).await {
        return response;
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    if model == "slow-stream" {
        return slow_stream(&model);
    }
    let chunk_of = |text: &str| {
        format!(
            "data: {}\n\n",
            json!({"id": "m", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        )
    };
    match model.as_str() {
        "stream-error-leak" => {
            let error = json!({"error": {"message": format!("overloaded while serving {LEAKED_EMAIL}"), "type": "server_error"}});
            return sse(
                vec![chunk_of("partial answer "), format!("data: {error}\n\n")],
                false,
            );
        }
        "pause-stream" => {
            return paused_stream(
                vec![chunk_of("before the pause ")],
                vec![chunk_of("after the pause"), "data: [DONE]\n\n".into()],
            );
        }
        "huge-answer" if stream => {
            return sse(
                vec![chunk_of(&"x".repeat(3 << 20)), "data: [DONE]\n\n".into()],
                false,
            );
        }
        "huge-answer" => {
            return axum::Json(json!({
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "x".repeat(3 << 20)}, "finish_reason": "stop"}],
            }))
            .into_response();
        }
        _ => {}
    }
    if model == "malformed-stream" {
        let events = vec![
            format!(
                "data: {}\n\n",
                json!({"id": "m", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": [{"index": 0, "delta": {"content": "partial answer "}, "finish_reason": null}]})
            ),
            "data: 42\n\n".to_string(),
            "data: [DONE]\n\n".to_string(),
        ];
        return sse(events, false);
    }
    let text = answer_text(&model, &body);
    // `codex-agent` acts like a coding agent's model: it runs a command, then
    // answers with what the command printed.
    let agent_turn = model == "codex-agent" && last_role(&body) != "tool";
    let tool = model == "tool-call" || agent_turn;
    let (tool_name, arguments) = if agent_turn {
        ("exec_command", AGENT_COMMAND.to_string())
    } else {
        (
            "send_mail",
            format!("{{\"to\": \"{TOOL_EMAIL}\", \"subject\": \"hi\"}}"),
        )
    };
    if !stream {
        let message = if tool {
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                   "function": {"name": tool_name, "arguments": arguments}}]})
        } else {
            json!({"role": "assistant", "content": text})
        };
        return axum::Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": if tool {"tool_calls"} else {"stop"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if tool {
        events.push(chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": tool_name, "arguments": ""}}]}),
            Value::Null,
        ));
        for piece in pieces(&arguments, 3) {
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
        events.push(chunk(json!({}), json!("tool_calls")));
    } else {
        for piece in pieces(&text, 3) {
            events.push(chunk(json!({"content": piece}), Value::Null));
        }
        events.push(chunk(json!({}), json!("stop")));
    }
    if body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true)
    {
        events.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        ));
    }
    events.push("data: [DONE]\n\n".into());
    sse(events, model == "reset-mid-stream")
}

async fn openai_embeddings(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = record(&state, "/v1/embeddings", &headers, &body);
    axum::Json(json!({"object": "list", "model": body["model"],
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
    .into_response()
}

async fn anthropic_count(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    record(&state, "/v1/messages/count_tokens", &headers, &body);
    axum::Json(json!({"input_tokens": 42})).into_response()
}

async fn anthropic_messages(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = record(&state, "/v1/messages", &headers, &body);
    let model = body["model"].as_str().unwrap_or("").to_string();
    if let Some(response) = special(&state, &model, false).await {
        return response;
    }
    let stream = body["stream"].as_bool().unwrap_or(false);
    if model == "stream-error-leak" {
        let start = json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}});
        let error = json!({"type": "error", "error": {"type": "overloaded_error",
            "message": format!("overloaded while serving {LEAKED_EMAIL}")}});
        return sse(
            vec![
                format!("event: message_start\ndata: {start}\n\n"),
                format!("event: error\ndata: {error}\n\n"),
            ],
            false,
        );
    }
    let text = answer_text(&model, &body);
    let agent_turn = model == "codex-agent" && !ends_with_tool_result(&body);
    let mcp_turn = model == "mcp-agent" && !ends_with_tool_result(&body);
    let tool = model == "tool-call" || agent_turn || mcp_turn;
    let (tool_name, input) = if agent_turn {
        (
            "exec_command",
            serde_json::from_str::<Value>(AGENT_COMMAND).unwrap(),
        )
    } else if mcp_turn {
        (MCP_AGENT_TOOL, json!({}))
    } else {
        ("send_mail", json!({"to": TOOL_EMAIL, "subject": "hi"}))
    };
    if !stream {
        let mut content = vec![json!({"type": "text", "text": text})];
        if tool {
            content.push(
                json!({"type": "tool_use", "id": "toolu_1", "name": tool_name, "input": input}),
            );
        }
        return axum::Json(json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": if tool {"tool_use"} else {"end_turn"}, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5}
        }))
        .into_response();
    }
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Let me think."}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": "c2lnbmF0dXJl"}}),
        ),
        event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        event("ping", json!({"type": "ping"})),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for piece in pieces(&text, 3) {
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 1}),
    ));
    if tool {
        events.push(event("content_block_start", json!({"type": "content_block_start", "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": tool_name, "input": {}}})));
        for piece in pieces(&input.to_string(), 3) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 2}),
        ));
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": if tool {"tool_use"} else {"end_turn"}, "stop_sequence": null},
        "usage": {"output_tokens": 5}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    sse(events, model == "reset-mid-stream")
}
