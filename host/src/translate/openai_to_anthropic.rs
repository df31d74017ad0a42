//! An OpenAI Chat Completions client (Cline, Pi, the OpenAI SDKs) on an
//! Anthropic provider: the request goes out as a Messages request, and the
//! answer (whole or streamed) comes back as a chat completion.

use super::{json_string, parse_arguments};
use crate::api::sse::SseEvent;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// `max_tokens` is required by Anthropic; used when the client sets none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Translates a Chat Completions request to a Messages request.
pub fn request(body: &Value) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), body["model"].clone());
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or("user");
        match role {
            "system" | "developer" => system.push(text_of(&message["content"])),
            "assistant" => {
                let mut blocks = Vec::new();
                let text = text_of(&message["content"]);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    blocks.push(json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                        "input": parse_arguments(call["function"]["arguments"].as_str().unwrap_or(""))}));
                }
                push_turn(&mut messages, "assistant", blocks);
            }
            "tool" | "function" => {
                let block = json!({"type": "tool_result", "tool_use_id": message["tool_call_id"],
                                   "content": text_of(&message["content"])});
                push_turn(&mut messages, "user", vec![block]);
            }
            _ => push_turn(&mut messages, "user", user_blocks(&message["content"])),
        }
    }
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(messages));
    let max_tokens = body
        .get("max_completion_tokens")
        .or_else(|| body.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), json!(max_tokens));
    for field in ["temperature", "top_p"] {
        if let Some(value) = body.get(field) {
            out.insert(field.into(), value.clone());
        }
    }
    match &body["stop"] {
        Value::String(stop) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Value::Array(stops) => {
            out.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        _ => {}
    }
    if body["stream"] == true {
        out.insert("stream".into(), json!(true));
    }
    if let Some(tools) = body["tools"].as_array() {
        let tools: Vec<Value> = tools
            .iter()
            .filter(|t| t["type"] == "function")
            .map(|t| {
                let f = &t["function"];
                json!({"name": f["name"], "description": f.get("description").cloned().unwrap_or(json!("")),
                       "input_schema": f.get("parameters").cloned().unwrap_or(json!({"type": "object"}))})
            })
            .collect();
        if !tools.is_empty() {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    let mut tool_choice = match &body["tool_choice"] {
        Value::String(choice) if choice == "required" => Some(json!({"type": "any"})),
        Value::String(choice) if choice == "none" => Some(json!({"type": "none"})),
        Value::String(_) => Some(json!({"type": "auto"})),
        Value::Object(choice) => {
            Some(json!({"type": "tool", "name": choice.get("function").map(|f| f["name"].clone())}))
        }
        _ => None,
    };
    if body["parallel_tool_calls"] == false {
        let choice = tool_choice.get_or_insert_with(|| json!({"type": "auto"}));
        choice["disable_parallel_tool_use"] = json!(true);
    }
    if let Some(choice) = tool_choice
        && out.contains_key("tools")
    {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(user) = body.get("user") {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    Value::Object(out)
}

/// The text of an OpenAI `content` (a string, or text parts).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn user_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part["type"].as_str() {
                Some("text") => Some(json!({"type": "text", "text": part["text"]})),
                Some("image_url") => {
                    let url = part["image_url"]["url"].as_str().unwrap_or("");
                    Some(match url.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,")) {
                        Some((media_type, data)) => {
                            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
                        }
                        None => json!({"type": "image", "source": {"type": "url", "url": url}}),
                    })
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Appends blocks as a turn of `role`, merging into the previous turn when it
/// has the same role (Anthropic wants user and assistant turns to alternate).
fn push_turn(messages: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut()
        && last["role"] == role
        && let Some(content) = last["content"].as_array_mut()
    {
        content.extend(blocks);
        return;
    }
    messages.push(json!({"role": role, "content": blocks}));
}

fn finish_reason(stop: &str) -> &'static str {
    match stop {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Translates a Messages answer to a chat completion.
pub fn response(body: &Value) -> Value {
    let blocks = body["content"].as_array().cloned().unwrap_or_default();
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    let calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| json!({"id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": json_string(&b["input"])}}))
        .collect();
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let input = body["usage"]["input_tokens"].as_u64().unwrap_or(0)
        + body["usage"]["cache_read_input_tokens"]
            .as_u64()
            .unwrap_or(0)
        + body["usage"]["cache_creation_input_tokens"]
            .as_u64()
            .unwrap_or(0);
    let output = body["usage"]["output_tokens"].as_u64().unwrap_or(0);
    json!({
        "id": body["id"], "object": "chat.completion", "created": super::unix_now(), "model": body["model"],
        "choices": [{"index": 0, "message": message, "logprobs": null,
                     "finish_reason": finish_reason(body["stop_reason"].as_str().unwrap_or("end_turn"))}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
    })
}

/// Turns a Messages stream into a Chat Completions stream.
pub struct StreamTranslator {
    include_usage: bool,
    id: Value,
    model: Value,
    created: u64,
    input_tokens: u64,
    output_tokens: u64,
    /// Anthropic block index → OpenAI tool-call index, for tool_use blocks (a
    /// map: a stream of many tool calls must not cost a scan per delta).
    tools: HashMap<u64, u64>,
    /// Tool calls started so far.
    tool_count: u64,
}

impl StreamTranslator {
    /// A translator; `include_usage` adds the final usage chunk the client asked for.
    pub fn new(include_usage: bool) -> Self {
        StreamTranslator {
            include_usage,
            id: Value::Null,
            model: Value::Null,
            created: super::unix_now(),
            input_tokens: 0,
            output_tokens: 0,
            tools: HashMap::new(),
            tool_count: 0,
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                         "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
            .to_string(),
        }
    }

    /// The chunks for one upstream event.
    pub fn on_event(&mut self, upstream: SseEvent) -> Vec<SseEvent> {
        let Ok(data) = serde_json::from_str::<Value>(&upstream.data) else {
            return vec![upstream];
        };
        match upstream.event.as_deref().or(data["type"].as_str()) {
            Some("message_start") => {
                let message = &data["message"];
                self.id = message["id"].clone();
                self.model = message["model"].clone();
                self.input_tokens = message["usage"]["input_tokens"].as_u64().unwrap_or(0)
                    + message["usage"]["cache_read_input_tokens"]
                        .as_u64()
                        .unwrap_or(0)
                    + message["usage"]["cache_creation_input_tokens"]
                        .as_u64()
                        .unwrap_or(0);
                vec![self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)]
            }
            Some("content_block_start") if data["content_block"]["type"] == "tool_use" => {
                let tool = self.tool_count;
                self.tool_count += 1;
                // A repeated block index keeps its first tool call, as before.
                self.tools
                    .entry(data["index"].as_u64().unwrap_or(0))
                    .or_insert(tool);
                let block = &data["content_block"];
                vec![self.chunk(
                    json!({"tool_calls": [{"index": tool, "id": block["id"], "type": "function",
                                           "function": {"name": block["name"], "arguments": ""}}]}),
                    Value::Null,
                )]
            }
            Some("content_block_delta") => match data["delta"]["type"].as_str() {
                Some("text_delta") => {
                    vec![self.chunk(json!({"content": data["delta"]["text"]}), Value::Null)]
                }
                Some("input_json_delta") => {
                    let index = data["index"].as_u64().unwrap_or(0);
                    let tool = self.tools.get(&index).copied().unwrap_or(0);
                    vec![self.chunk(
                        json!({"tool_calls": [{"index": tool, "function": {"arguments": data["delta"]["partial_json"]}}]}),
                        Value::Null,
                    )]
                }
                _ => Vec::new(),
            },
            Some("message_delta") => {
                self.output_tokens = data["usage"]["output_tokens"]
                    .as_u64()
                    .unwrap_or(self.output_tokens);
                let finish =
                    finish_reason(data["delta"]["stop_reason"].as_str().unwrap_or("end_turn"));
                vec![self.chunk(json!({}), json!(finish))]
            }
            Some("message_stop") => {
                let mut out = Vec::new();
                if self.include_usage {
                    let total = self.input_tokens + self.output_tokens;
                    out.push(SseEvent {
                        event: None,
                        data: json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                     "model": self.model, "choices": [],
                                     "usage": {"prompt_tokens": self.input_tokens, "completion_tokens": self.output_tokens,
                                               "total_tokens": total}})
                        .to_string(),
                    });
                }
                out.push(SseEvent {
                    event: None,
                    data: "[DONE]".into(),
                });
                out
            }
            Some("error") => {
                let message = data["error"]["message"]
                    .as_str()
                    .unwrap_or("the provider reported an error");
                vec![SseEvent {
                    event: None,
                    data: json!({"error": {"message": message, "type": "api_error", "param": null, "code": null}}).to_string(),
                }]
            }
            _ => Vec::new(),
        }
    }
}
