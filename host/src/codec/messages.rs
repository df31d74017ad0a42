//! The Anthropic Messages codec: requests, whole answers and streams to and
//! from the [`crate::canonical`] model.
//!
//! What Messages cannot carry is dropped when encoding: nothing in a request
//! today but other APIs' [`Extras`] (cache points are written as
//! `cache_control` on their blocks, the system as blocks when one has one); a refusal's text becomes a text block with
//! the `refusal` stop reason. When decoding, system blocks are joined into one
//! text (their cache control is dropped), redacted thinking and server tools
//! are not read, and turns of the same role are merged when encoding (Messages
//! wants user and assistant turns to alternate). Fields outside the model
//! (`top_k`, `thinking`, `service_tier`, …) are kept as [`Extras`] and come
//! back out only in a Messages request.

mod stream;

pub use stream::{Decoder, Encoder};

use super::{opt_string, string};
use crate::canonical::{
    Answer, Arguments, CacheAt, Dialect, Extras, ImageSource, Part, Request, Role, StopReason,
    Tool, ToolChoice, Turn, Usage,
};
use serde_json::{Map, Value, json};

/// `max_tokens` is required by Messages; used when the client sets none.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The request fields the canonical model covers; the rest are [`Extras`].
const KNOWN: &[&str] = &[
    "model",
    "system",
    "messages",
    "max_tokens",
    "temperature",
    "top_p",
    "stop_sequences",
    "stream",
    "tools",
    "tool_choice",
    "metadata",
];

/// Decodes a Messages request.
pub fn decode_request(body: &Value) -> Request {
    let mut request = Request {
        model: string(&body["model"]),
        ..Request::default()
    };
    match &body["system"] {
        Value::String(text) => request.system.push(text.clone()),
        Value::Array(blocks) => request.system.push(
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
        ),
        _ => {}
    }
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = match message["role"].as_str() {
            Some("assistant") => Role::Assistant,
            _ => Role::User,
        };
        let parts = match &message["content"] {
            Value::String(text) => vec![Part::Text { text: text.clone() }],
            Value::Array(blocks) => blocks.iter().filter_map(part).collect(),
            _ => Vec::new(),
        };
        if !parts.is_empty() {
            request.turns.push(Turn { role, parts });
        }
    }
    request.max_tokens = body["max_tokens"].as_u64();
    request.temperature = body["temperature"].as_number().cloned();
    request.top_p = body["top_p"].as_number().cloned();
    request.stop = body["stop_sequences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(opt_string)
        .collect();
    request.stream = body["stream"] == true;
    request.tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t.get("input_schema").is_some())
        .map(|t| Tool {
            name: string(&t["name"]),
            description: opt_string(&t["description"]),
            parameters: t["input_schema"].clone(),
        })
        .collect();
    let choice = &body["tool_choice"];
    if choice.is_object() {
        request.tool_choice = Some(match choice["type"].as_str() {
            Some("any") => ToolChoice::Any,
            Some("none") => ToolChoice::None,
            Some("tool") => ToolChoice::Tool {
                name: string(&choice["name"]),
            },
            _ => ToolChoice::Auto,
        });
        if choice["disable_parallel_tool_use"] == true {
            request.parallel_tool_calls = Some(false);
        }
    }
    request.user = opt_string(&body["metadata"]["user_id"]);
    request.extras = Extras::unknown(Dialect::Messages, body, KNOWN);
    request
}

/// One content block as a part (`None` for blocks the model does not cover).
fn part(block: &Value) -> Option<Part> {
    Some(match block["type"].as_str()? {
        "text" => Part::Text {
            text: string(&block["text"]),
        },
        "image" => {
            let source = &block["source"];
            Part::Image {
                source: match source["type"].as_str() {
                    Some("base64") => ImageSource::Base64 {
                        media_type: source["media_type"].as_str().unwrap_or("image/png").into(),
                        data: string(&source["data"]),
                    },
                    _ => ImageSource::Url {
                        url: string(&source["url"]),
                    },
                },
            }
        }
        "tool_use" => Part::ToolCall {
            id: string(&block["id"]),
            name: string(&block["name"]),
            arguments: Arguments::Json(block["input"].clone()),
        },
        "tool_result" => Part::ToolResult {
            call_id: string(&block["tool_use_id"]),
            content: match &block["content"] {
                Value::String(text) => text.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            },
            is_error: block["is_error"] == true,
        },
        "thinking" => Part::Thinking {
            text: string(&block["thinking"]),
            signature: opt_string(&block["signature"]),
        },
        _ => return None,
    })
}

/// A part as a content block.
fn block(part: &Part) -> Value {
    match part {
        Part::Text { text } | Part::Refusal { text } => json!({"type": "text", "text": text}),
        Part::Image { source } => {
            let source = match source {
                ImageSource::Base64 { media_type, data } => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                ImageSource::Url { url } => json!({"type": "url", "url": url}),
            };
            json!({"type": "image", "source": source})
        }
        Part::ToolCall {
            id,
            name,
            arguments,
        } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": arguments.to_json()})
        }
        Part::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            let mut block =
                json!({"type": "tool_result", "tool_use_id": call_id, "content": content});
            if *is_error {
                block["is_error"] = json!(true);
            }
            block
        }
        Part::Thinking { text, signature } => {
            let mut block = json!({"type": "thinking", "thinking": text});
            if let Some(signature) = signature {
                block["signature"] = json!(signature);
            }
            block
        }
    }
}

/// Encodes a Messages request.
pub fn encode_request(request: &Request) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(request.model));
    let system_cached = (0..request.system.len())
        .any(|index| request.cache_control(CacheAt::System(index)).is_some());
    if system_cached {
        // one block per system text, so that each keeps its cache marker
        let blocks: Vec<Value> = request
            .system
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let block = json!({"type": "text", "text": text});
                cached(block, request.cache_control(CacheAt::System(index)))
            })
            .collect();
        out.insert("system".into(), Value::Array(blocks));
    } else if !request.system.is_empty() {
        out.insert("system".into(), json!(request.system.join("\n\n")));
    }
    let mut messages: Vec<Value> = Vec::new();
    for (turn_index, turn) in request.turns.iter().enumerate() {
        let role = match turn.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let blocks = turn.parts.iter().enumerate().map(|(part, content)| {
            let at = CacheAt::Part {
                turn: turn_index,
                part,
            };
            cached(block(content), request.cache_control(at))
        });
        push_turn(&mut messages, role, blocks.collect());
    }
    out.insert("messages".into(), Value::Array(messages));
    out.insert(
        "max_tokens".into(),
        json!(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if let Some(temperature) = &request.temperature {
        out.insert("temperature".into(), Value::Number(temperature.clone()));
    }
    if let Some(top_p) = &request.top_p {
        out.insert("top_p".into(), Value::Number(top_p.clone()));
    }
    if !request.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(request.stop));
    }
    if request.stream {
        out.insert("stream".into(), json!(true));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"name": tool.name, "description": tool.description.as_deref().unwrap_or(""),
                       "input_schema": tool.parameters})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
        let mut choice = request.tool_choice.as_ref().map(|choice| match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::Any => json!({"type": "any"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Tool { name } => json!({"type": "tool", "name": name}),
        });
        if request.parallel_tool_calls == Some(false) {
            let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
            choice["disable_parallel_tool_use"] = json!(true);
        }
        if let Some(choice) = choice {
            out.insert("tool_choice".into(), choice);
        }
    }
    if let Some(user) = &request.user {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    for (key, value) in request.extras.for_dialect(Dialect::Messages) {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}

/// `block` with the client's cache marker, when it set one.
fn cached(mut block: Value, control: Option<&Value>) -> Value {
    if let Some(control) = control {
        block["cache_control"] = control.clone();
    }
    block
}

/// Appends blocks as a turn of `role`, merging into the previous turn when it
/// has the same role.
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

/// The canonical reason for a `stop_reason`.
pub(super) fn stop_reason(stop: &str) -> StopReason {
    match stop {
        "end_turn" => StopReason::EndTurn,
        "max_tokens" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "stop_sequence" => StopReason::StopSequence,
        "refusal" => StopReason::Refusal,
        other => StopReason::Other(other.into()),
    }
}

/// The `stop_reason` for a canonical reason.
pub(super) fn stop_reason_name(stop: &StopReason) -> &str {
    match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::StopSequence => "stop_sequence",
        StopReason::Refusal => "refusal",
        StopReason::Other(name) => name,
    }
}

/// Messages usage.
fn usage(usage: &Value) -> Usage {
    Usage {
        input: usage["input_tokens"].as_u64(),
        output: usage["output_tokens"].as_u64(),
        cache_read: usage["cache_read_input_tokens"].as_u64(),
        cache_write: usage["cache_creation_input_tokens"].as_u64(),
    }
}

/// Decodes a Messages answer.
pub fn decode_answer(body: &Value) -> Answer {
    Answer {
        id: string(&body["id"]),
        model: string(&body["model"]),
        parts: body["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(part)
            .collect(),
        stop: stop_reason(body["stop_reason"].as_str().unwrap_or("end_turn")),
        stop_sequence: opt_string(&body["stop_sequence"]),
        usage: usage(&body["usage"]),
    }
}

/// Encodes a Messages answer.
pub fn encode_answer(answer: &Answer) -> Value {
    let stop = if answer.refused() {
        "refusal"
    } else {
        stop_reason_name(&answer.stop)
    };
    let mut usage = json!({"input_tokens": answer.usage.input.unwrap_or(0),
                           "output_tokens": answer.usage.output.unwrap_or(0)});
    if let Some(tokens) = answer.usage.cache_read {
        usage["cache_read_input_tokens"] = json!(tokens);
    }
    if let Some(tokens) = answer.usage.cache_write {
        usage["cache_creation_input_tokens"] = json!(tokens);
    }
    json!({
        "id": answer.id, "type": "message", "role": "assistant", "model": answer.model,
        "content": answer.parts.iter().map(block).collect::<Vec<_>>(),
        "stop_reason": stop, "stop_sequence": answer.stop_sequence, "usage": usage
    })
}
