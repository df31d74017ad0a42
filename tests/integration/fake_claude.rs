//! Claude as the clouds serve it (Bedrock's `InvokeModel`, Vertex AI's
//! `rawPredict`): Anthropic Messages answers and stream events for a body the
//! cloud accepted, shared by [`super::fake_bedrock`] and
//! [`super::fake_vertex`]. The clouds differ in how they frame and authorise
//! it, not in what Claude says.
//!
//! What it says, by the model name and the body:
//! - a `thinking` request gets a thinking block signed [`THINKING_SIGNATURE`]
//!   first;
//! - a model whose name contains `tool`, offered tools, calls the first one
//!   with `{"input": <last user text>}` unless the last turn is a tool result,
//!   which it answers with "tool said: <result>";
//! - otherwise [`reply`]: "you said: <last user text>" (and an e-mail
//!   address for a model whose name contains `leak`).

use super::mock_upstream::last_user_text;
use serde_json::{Value, json};

/// The signature of the fake's thinking blocks.
pub const THINKING_SIGNATURE: &str = "fake-claude-thinking-signature";

/// What every fake cloud model answers to `text`: "you said: <text>", and
/// for a model whose name contains `leak`, an e-mail address after it (for
/// the response guardrails to catch).
pub fn reply(model: &str, text: &str) -> String {
    if model.contains("leak") {
        format!(
            "you said: {text}; write to {}",
            super::mock_upstream::LEAKED_EMAIL
        )
    } else {
        format!("you said: {text}")
    }
}

/// The content of the tool result the last turn carries, if it does.
fn last_tool_result(body: &Value) -> Option<String> {
    let last = body["messages"].as_array()?.last()?;
    let result = last["content"]
        .as_array()?
        .iter()
        .find(|b| b["type"] == "tool_result")?;
    Some(match &result["content"] {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().filter_map(|i| i["text"].as_str()).collect(),
        _ => String::new(),
    })
}

/// The answer's content blocks and stop reason.
fn content(model: &str, body: &Value) -> (Vec<Value>, &'static str) {
    let mut blocks = Vec::new();
    if body["thinking"]["type"] == "enabled" {
        blocks.push(json!({"type": "thinking", "thinking": "Thinking it over.",
                           "signature": THINKING_SIGNATURE}));
    }
    let tool = body["tools"][0]["name"].as_str();
    if let Some(result) = last_tool_result(body) {
        blocks.push(json!({"type": "text", "text": format!("tool said: {result}")}));
        return (blocks, "end_turn");
    }
    if let (true, Some(name)) = (model.contains("tool"), tool) {
        blocks.push(
            json!({"type": "tool_use", "id": "toolu_fake_1", "name": name,
                           "input": {"input": last_user_text(body)}}),
        );
        return (blocks, "tool_use");
    }
    blocks.push(json!({"type": "text", "text": reply(model, &last_user_text(body))}));
    (blocks, "end_turn")
}

/// Input tokens, counted as whitespace-separated words of the body's text.
fn input_tokens(body: &Value) -> u64 {
    body.to_string().split_whitespace().count() as u64 + 3
}

/// A whole Messages answer.
pub fn answer(model: &str, body: &Value) -> Value {
    let (content, stop) = content(model, body);
    json!({"id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": input_tokens(body), "output_tokens": 7}})
}

/// A Messages stream, as event payloads (each names its event in `type`);
/// texts and tool arguments come in small pieces.
pub fn events(model: &str, body: &Value) -> Vec<Value> {
    let (content, stop) = content(model, body);
    let mut events = vec![json!({"type": "message_start", "message": {
        "id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": input_tokens(body), "output_tokens": 1}}})];
    for (index, block) in content.iter().enumerate() {
        let (start, deltas) = match block["type"].as_str() {
            Some("thinking") => (
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                vec![
                    json!({"type": "thinking_delta", "thinking": block["thinking"]}),
                    json!({"type": "signature_delta", "signature": block["signature"]}),
                ],
            ),
            Some("tool_use") => {
                let arguments = block["input"].to_string();
                let pieces = arguments.as_bytes().chunks(5).map(|piece| {
                    json!({"type": "input_json_delta",
                           "partial_json": String::from_utf8_lossy(piece)})
                });
                (
                    json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                    pieces.collect(),
                )
            }
            _ => {
                let text = block["text"].as_str().unwrap_or_default();
                let words = text.split_inclusive(' ');
                (
                    json!({"type": "text", "text": ""}),
                    words
                        .map(|w| json!({"type": "text_delta", "text": w}))
                        .collect(),
                )
            }
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        for delta in deltas {
            events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                       "usage": {"output_tokens": 7}}),
    );
    events.push(json!({"type": "message_stop"}));
    events
}

/// The Messages events as an SSE body.
pub fn sse_body(events: &[Value]) -> String {
    events
        .iter()
        .map(|event| {
            format!(
                "event: {}\ndata: {event}\n\n",
                event["type"].as_str().unwrap_or("")
            )
        })
        .collect()
}
