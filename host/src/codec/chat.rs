//! The OpenAI Chat Completions codec: requests, whole answers and streams to
//! and from the [`crate::canonical`] model.
//!
//! What Chat Completions cannot carry is dropped when encoding: thinking (and
//! its signature), tool-result error flags, and stop sequences' names. When
//! decoding, system and developer messages anywhere in the history become the
//! system prompt, and OpenAI reasoning fields are not read; `cache_control`
//! on content parts (Anthropic's prompt-cache markers, which some clients
//! send to Chat Completions gateways) becomes the request's cache points,
//! which the Messages codec writes back. Fields outside the
//! model (`n`, `seed`, `logprobs`, `response_format`, penalties, …) are kept
//! as [`Extras`] and come back out only in a Chat Completions request. A
//! streamed request always asks for usage (`stream_options.include_usage`):
//! the gateway meters every stream, and drops the usage chunk for a client
//! that did not ask for it.

mod stream;

pub use stream::{Decoder, Encoder};

use super::{Target, opt_string, string, unix_now};
use crate::canonical::{
    Answer, Arguments, CacheAt, CachePoint, Dialect, Extras, ImageSource, Part, Request, Role,
    StopReason, Tool, ToolChoice, Turn, Usage,
};
use serde_json::{Map, Value, json};

/// The request fields the canonical model covers; the rest are [`Extras`].
const KNOWN: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
];

/// Decodes a Chat Completions request.
pub fn decode_request(body: &Value) -> Request {
    let mut request = Request {
        model: string(&body["model"]),
        ..Request::default()
    };
    for message in body["messages"].as_array().into_iter().flatten() {
        let content = &message["content"];
        let turn = request.turns.len();
        let mut marks = Vec::new();
        let (role, parts) = match message["role"].as_str().unwrap_or("user") {
            "system" | "developer" => {
                if let Some(control) = cache_control(content) {
                    let at = CacheAt::System(request.system.len());
                    request.cache_points.push(CachePoint { at, control });
                }
                request.system.push(text_of(content));
                continue;
            }
            "assistant" => {
                let mut parts = Vec::new();
                let text = text_of(content);
                if !text.is_empty() {
                    marks.push((0, cache_control(content)));
                    parts.push(Part::Text { text });
                }
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    parts.push(Part::ToolCall {
                        id: string(&call["id"]),
                        name: string(&call["function"]["name"]),
                        arguments: arguments(&call["function"]["arguments"]),
                    });
                }
                (Role::Assistant, parts)
            }
            "tool" | "function" => {
                marks.push((0, cache_control(content)));
                let result = Part::ToolResult {
                    call_id: string(&message["tool_call_id"]),
                    content: text_of(content),
                    is_error: false,
                };
                (Role::User, vec![result])
            }
            _ => {
                let (parts, part_marks) = user_parts(content);
                marks = part_marks.into_iter().enumerate().collect();
                (Role::User, parts)
            }
        };
        if !parts.is_empty() {
            for (part, control) in marks {
                if let Some(control) = control {
                    let at = CacheAt::Part { turn, part };
                    request.cache_points.push(CachePoint { at, control });
                }
            }
            request.turns.push(Turn { role, parts });
        }
    }
    request.max_tokens = body["max_completion_tokens"]
        .as_u64()
        .or_else(|| body["max_tokens"].as_u64());
    request.temperature = body["temperature"].as_number().cloned();
    request.top_p = body["top_p"].as_number().cloned();
    request.stop = match &body["stop"] {
        Value::String(stop) => vec![stop.clone()],
        Value::Array(stops) => stops.iter().filter_map(opt_string).collect(),
        _ => Vec::new(),
    };
    request.stream = body["stream"] == true;
    request.tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .map(|t| {
            let f = &t["function"];
            Tool {
                name: string(&f["name"]),
                description: opt_string(&f["description"]),
                parameters: f
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            }
        })
        .collect();
    request.tool_choice = match &body["tool_choice"] {
        Value::String(choice) if choice == "required" => Some(ToolChoice::Any),
        Value::String(choice) if choice == "none" => Some(ToolChoice::None),
        Value::String(_) => Some(ToolChoice::Auto),
        Value::Object(choice) => Some(ToolChoice::Tool {
            name: choice
                .get("function")
                .map(|f| string(&f["name"]))
                .unwrap_or_default(),
        }),
        _ => None,
    };
    request.parallel_tool_calls = body["parallel_tool_calls"].as_bool();
    request.user = opt_string(&body["user"]);
    request.extras = Extras::unknown(Dialect::Chat, body, KNOWN);
    request
}

/// Tool-call arguments: text (a client may send an object instead).
fn arguments(value: &Value) -> Arguments {
    match value {
        Value::String(text) => Arguments::Text(text.clone()),
        Value::Null => Arguments::Text(String::new()),
        other => Arguments::Json(other.clone()),
    }
}

/// The text of a `content` (a string, or text parts joined by newlines).
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

/// The parts of a user message: text and images (other parts are dropped),
/// and each one's cache marker.
fn user_parts(content: &Value) -> (Vec<Part>, Vec<Option<Value>>) {
    match content {
        Value::String(text) => (vec![Part::Text { text: text.clone() }], vec![None]),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| {
                let decoded = match part["type"].as_str() {
                    Some("text") => Part::Text {
                        text: string(&part["text"]),
                    },
                    Some("image_url") => Part::Image {
                        source: ImageSource::from_url(
                            part["image_url"]["url"].as_str().unwrap_or(""),
                        ),
                    },
                    _ => return None,
                };
                Some((decoded, part.get("cache_control").cloned()))
            })
            .unzip(),
        _ => (Vec::new(), Vec::new()),
    }
}

/// The cache marker of a `content` made of parts (the last one set): a
/// content joined into one text is cached up to its end.
fn cache_control(content: &Value) -> Option<Value> {
    content
        .as_array()?
        .iter()
        .rev()
        .find_map(|part| part.get("cache_control").cloned())
}

/// Encodes a Chat Completions request.
pub fn encode_request(request: &Request, target: Target) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(request.model));
    let mut messages = Vec::new();
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system.join("\n\n")}));
    }
    for turn in &request.turns {
        match turn.role {
            // A turn of only thinking (which Chat Completions cannot carry)
            // would be an empty assistant message, which OpenAI rejects.
            Role::Assistant => messages.extend(assistant_message(&turn.parts)),
            Role::User => user_messages(&turn.parts, &mut messages),
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = request.max_tokens {
        let field = if target.openai_native {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        out.insert(field.into(), json!(max));
    }
    if let Some(temperature) = &request.temperature {
        out.insert("temperature".into(), Value::Number(temperature.clone()));
    }
    if let Some(top_p) = &request.top_p {
        out.insert("top_p".into(), Value::Number(top_p.clone()));
    }
    if !request.stop.is_empty() {
        out.insert("stop".into(), json!(request.stop));
    }
    if request.stream {
        out.insert("stream".into(), json!(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name, "description": tool.description.as_deref().unwrap_or(""),
                    "parameters": tool.parameters}})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool { name } => json!({"type": "function", "function": {"name": name}}),
        };
        out.insert("tool_choice".into(), choice);
    }
    if let Some(parallel) = request.parallel_tool_calls {
        out.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(user) = &request.user {
        out.insert("user".into(), json!(user));
    }
    for (key, value) in request.extras.for_dialect(Dialect::Chat) {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}

/// An assistant message: its text joined, and its tool calls (`None` when
/// there are neither).
fn assistant_message(parts: &[Part]) -> Option<Value> {
    let text: String = parts
        .iter()
        .filter_map(|part| match part {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls = tool_calls(parts);
    if text.is_empty() && calls.is_empty() {
        return None;
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Some(message)
}

/// The tool calls among `parts`, as Chat Completions `tool_calls`.
fn tool_calls(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|part| match part {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some(json!({"id": id, "type": "function",
                "function": {"name": name, "arguments": arguments.to_text()}})),
            _ => None,
        })
        .collect()
}

/// A user turn: tool results become `tool` messages (first, as OpenAI wants
/// them right after the assistant's calls), the rest one user message, its
/// content a plain string when it is a single text.
fn user_messages(parts: &[Part], messages: &mut Vec<Value>) {
    let mut content = Vec::new();
    for part in parts {
        match part {
            Part::ToolResult {
                call_id, content, ..
            } => {
                messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": content}))
            }
            Part::Text { text } => content.push(json!({"type": "text", "text": text})),
            Part::Image { source } => {
                content.push(json!({"type": "image_url", "image_url": {"url": source.to_url()}}));
            }
            Part::ToolCall { .. } | Part::Thinking { .. } | Part::Refusal { .. } => {}
        }
    }
    match content.as_slice() {
        [] => {}
        [single] if single["type"] == "text" => {
            messages.push(json!({"role": "user", "content": single["text"]}));
        }
        _ => messages.push(json!({"role": "user", "content": content})),
    }
}

/// The canonical reason for a `finish_reason`.
fn stop_reason(finish: &str) -> StopReason {
    match finish {
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

/// The `finish_reason` for a canonical reason.
fn finish_reason(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
        StopReason::EndTurn | StopReason::StopSequence | StopReason::Other(_) => "stop",
    }
}

/// Decodes a chat completion (its first choice).
pub fn decode_answer(body: &Value) -> Answer {
    let choice = &body["choices"][0];
    let message = &choice["message"];
    let mut parts = Vec::new();
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        parts.push(Part::Text { text: text.into() });
    }
    if let Some(text) = message["refusal"].as_str().filter(|t| !t.is_empty()) {
        parts.push(Part::Refusal { text: text.into() });
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        parts.push(Part::ToolCall {
            id: string(&call["id"]),
            name: string(&call["function"]["name"]),
            arguments: arguments(&call["function"]["arguments"]),
        });
    }
    Answer {
        id: string(&body["id"]),
        model: string(&body["model"]),
        parts,
        stop: stop_reason(choice["finish_reason"].as_str().unwrap_or("stop")),
        stop_sequence: None,
        usage: usage(&body["usage"]),
    }
}

/// Chat Completions usage: prompt tokens count as input.
fn usage(usage: &Value) -> Usage {
    Usage {
        input: usage["prompt_tokens"].as_u64(),
        output: usage["completion_tokens"].as_u64(),
        ..Usage::default()
    }
}

/// Chat Completions usage from canonical usage.
fn usage_json(usage: &Usage) -> Value {
    let input = usage.total_input();
    let output = usage.output.unwrap_or(0);
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": usage.total()})
}

/// Encodes a chat completion.
pub fn encode_answer(answer: &Answer) -> Value {
    let text: String = answer
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls = tool_calls(&answer.parts);
    let mut message = json!({"role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let refusal: String = answer
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Refusal { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if !refusal.is_empty() {
        message["refusal"] = json!(refusal);
    }
    json!({
        "id": answer.id, "object": "chat.completion", "created": unix_now(), "model": answer.model,
        "choices": [{"index": 0, "message": message, "logprobs": null,
                     "finish_reason": finish_reason(&answer.stop)}],
        "usage": usage_json(&answer.usage)
    })
}
