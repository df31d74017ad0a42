//! An Anthropic Messages client (Claude Code) on an OpenAI-style provider:
//! the request goes out as a Chat Completions request, and the answer (whole or
//! streamed) comes back as an Anthropic message.

use super::{json_string, parse_arguments};
use crate::api::sse::SseEvent;
use serde_json::{Map, Value, json};

/// Translates a Messages request to a Chat Completions request. `new_token_field`
/// uses `max_completion_tokens` (OpenAI's own API) instead of `max_tokens`
/// (what OpenAI-compatible servers understand).
pub fn request(body: &Value, new_token_field: bool) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), body["model"].clone());
    let mut messages = Vec::new();
    match &body["system"] {
        Value::String(text) => messages.push(json!({"role": "system", "content": text})),
        Value::Array(blocks) => {
            let text = blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            messages.push(json!({"role": "system", "content": text}));
        }
        _ => {}
    }
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or("user");
        match &message["content"] {
            Value::String(text) => messages.push(json!({"role": role, "content": text})),
            Value::Array(blocks) if role == "assistant" => messages.push(assistant_message(blocks)),
            Value::Array(blocks) => user_messages(blocks, &mut messages),
            _ => {}
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = body.get("max_tokens") {
        let field = if new_token_field {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        out.insert(field.into(), max.clone());
    }
    for field in ["temperature", "top_p"] {
        if let Some(value) = body.get(field) {
            out.insert(field.into(), value.clone());
        }
    }
    if let Some(stop) = body.get("stop_sequences") {
        out.insert("stop".into(), stop.clone());
    }
    if body["stream"] == true {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(tools) = body["tools"].as_array() {
        let tools: Vec<Value> = tools
            .iter()
            .filter(|t| t.get("input_schema").is_some())
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t["name"], "description": t.get("description").cloned().unwrap_or(json!("")),
                    "parameters": t["input_schema"]}})
            })
            .collect();
        if !tools.is_empty() {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    if let Some(choice) = body.get("tool_choice") {
        let mapped = match choice["type"].as_str() {
            Some("any") => json!("required"),
            Some("none") => json!("none"),
            Some("tool") => json!({"type": "function", "function": {"name": choice["name"]}}),
            _ => json!("auto"),
        };
        out.insert("tool_choice".into(), mapped);
        if choice["disable_parallel_tool_use"] == true {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    if let Some(user) = body.pointer("/metadata/user_id") {
        out.insert("user".into(), user.clone());
    }
    Value::Object(out)
}

fn assistant_message(blocks: &[Value]) -> Value {
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("");
    let calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| json!({"id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": json_string(&b["input"])}}))
        .collect();
    let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    message
}

/// A user turn: tool results become `tool` messages (first, as OpenAI wants them
/// right after the assistant's calls), the rest one user message.
fn user_messages(blocks: &[Value], messages: &mut Vec<Value>) {
    let mut parts = Vec::new();
    for block in blocks {
        match block["type"].as_str() {
            Some("tool_result") => {
                let content = match &block["content"] {
                    Value::String(text) => text.clone(),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| i["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => String::new(),
                };
                messages.push(json!({"role": "tool", "tool_call_id": block["tool_use_id"], "content": content}));
            }
            Some("text") => parts.push(json!({"type": "text", "text": block["text"]})),
            Some("image") => {
                let source = &block["source"];
                let url = match source["type"].as_str() {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        source["media_type"].as_str().unwrap_or("image/png"),
                        source["data"].as_str().unwrap_or("")
                    ),
                    _ => source["url"].as_str().unwrap_or("").to_string(),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            _ => {}
        }
    }
    if !parts.is_empty() {
        messages.push(json!({"role": "user", "content": parts}));
    }
}

fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Translates a chat completion to a Messages answer.
pub fn response(body: &Value) -> Value {
    let choice = &body["choices"][0];
    let message = &choice["message"];
    let mut content = Vec::new();
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        content.push(json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                            "input": parse_arguments(call["function"]["arguments"].as_str().unwrap_or(""))}));
    }
    json!({
        "id": body["id"], "type": "message", "role": "assistant", "model": body["model"], "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str().unwrap_or("stop")), "stop_sequence": null,
        "usage": {"input_tokens": body["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                  "output_tokens": body["usage"]["completion_tokens"].as_u64().unwrap_or(0)}
    })
}

/// Turns a Chat Completions stream into a Messages stream.
#[derive(Default)]
pub struct StreamTranslator {
    started: bool,
    /// The open content block: its Anthropic index and, for a tool call, the
    /// OpenAI tool-call index it carries.
    open: Option<(u64, Option<u64>)>,
    next_index: u64,
    stop_reason: Option<&'static str>,
    output_tokens: u64,
}

fn event(name: &str, data: Value) -> SseEvent {
    SseEvent {
        event: Some(name.into()),
        data: data.to_string(),
    }
}

impl StreamTranslator {
    /// The events for one upstream event.
    pub fn on_event(&mut self, upstream: SseEvent) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if upstream.data.trim() == "[DONE]" {
            self.close_block(&mut out);
            out.push(event("message_delta", json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null},
                "usage": {"output_tokens": self.output_tokens}})));
            out.push(event("message_stop", json!({"type": "message_stop"})));
            return out;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&upstream.data) else {
            return vec![upstream]; // the transformer reports the malformed event
        };
        if let Some(error) = chunk.get("error") {
            let message = error["message"]
                .as_str()
                .unwrap_or("the provider reported an error");
            return vec![event(
                "error",
                json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            )];
        }
        if !self.started {
            self.started = true;
            out.push(event("message_start", json!({"type": "message_start", "message": {
                "id": chunk["id"], "type": "message", "role": "assistant", "model": chunk["model"], "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0}}})));
        }
        if let Some(tokens) = chunk
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
        {
            self.output_tokens = tokens;
        }
        let choice = &chunk["choices"][0];
        if let Some(text) = choice
            .pointer("/delta/content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            if !matches!(self.open, Some((_, None))) {
                self.close_block(&mut out);
                let index = self.open_block(None);
                out.push(event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}),
                ));
            }
            let index = self.open.expect("open").0;
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        for call in choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tool = call["index"].as_u64().unwrap_or(0);
            if self.open.map(|(_, t)| t) != Some(Some(tool)) {
                self.close_block(&mut out);
                let index = self.open_block(Some(tool));
                out.push(event("content_block_start", json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": {}}})));
            }
            if let Some(args) = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                let index = self.open.expect("open").0;
                out.push(event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": args}}),
                ));
            }
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            self.stop_reason = Some(stop_reason(finish));
        }
        out
    }

    fn open_block(&mut self, tool: Option<u64>) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, tool));
        index
    }

    fn close_block(&mut self, out: &mut Vec<SseEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }
}
