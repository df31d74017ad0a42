//! The OpenAI Responses codec: requests, whole answers and streams to and from
//! the [`crate::canonical`] model.
//!
//! Decoding a request: `instructions` and `system` / `developer` messages
//! become the system prompt; `input` (a string, or items) becomes turns, with
//! consecutive items of one speaker merged into one turn (`function_call`
//! items are the assistant's tool calls, `function_call_output` items the
//! user's tool results, `custom_tool_call` items are read the same way);
//! `reasoning` items become thinking when they have summary (or reasoning)
//! text, and their encrypted content is dropped (it cannot cross APIs).
//! `max_output_tokens` is the token limit. Dropped: `input_file` parts,
//! images given by `file_id` (the model has no file references), images in a
//! tool's output (its text is kept), a function tool's `strict`, item
//! references, and every built-in tool (`web_search`, `file_search`,
//! `code_interpreter`, `local_shell`, `namespace`, `custom`, …), which
//! [`builtin_tools`] lists so the caller can refuse them. Fields outside the
//! model (`reasoning`, `store`, `include`, `text`, `prompt_cache_key`,
//! `metadata`, `client_metadata`, `previous_response_id`, `truncation`, …)
//! are kept as [`Extras`] and come back out only in a Responses request: for
//! another API they are dropped, so `text.format` (structured output) and
//! `reasoning.effort` do not reach a Chat Completions provider.
//!
//! Encoding a request drops thinking (a Responses provider wants its own
//! encrypted reasoning items back, which no other API has) and stop
//! sequences (Responses has none). Encoding an answer gives a `response`
//! object whose output items are a `message` per run of text (and refusal),
//! a `function_call` per tool call and a `reasoning` item per thinking part
//! (its signature dropped); ids are derived from the answer's id (`resp_…`,
//! `msg_…`, `rs_…`, and `fc_` + the call id), so the same answer always
//! encodes the same way. A length stop is `incomplete` with reason
//! `max_output_tokens`, a refusal stop `incomplete` with `content_filter`.
//! Usage counts cached input in `input_tokens` and in `cached_tokens`;
//! `reasoning_tokens` is 0 (the model does not count them apart). The
//! request-echo fields of a response (`tools`, `tool_choice`, `temperature`,
//! …) take their defaults, as the answer does not carry them.

#[cfg(test)]
mod python_sdk;
mod stream;

pub use stream::{Decoder, Encoder};

use super::{opt_string, string, unix_now};
use crate::canonical::{
    Answer, Arguments, Dialect, Extras, ImageSource, Part, Request, Role, StopReason, Tool,
    ToolChoice, Turn, Usage,
};
use serde_json::{Map, Value, json};

/// The request fields the canonical model covers; the rest are [`Extras`].
const KNOWN: &[&str] = &[
    "model",
    "instructions",
    "input",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
];

/// The types of the tools in a request that are not function tools (built-in
/// tools such as `web_search`, `file_search`, `code_interpreter`,
/// `local_shell`, `namespace`, `custom`), in order, each once. Only an OpenAI
/// Responses provider runs them; the codec drops them when decoding.
pub fn builtin_tools(body: &Value) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for tool in body["tools"].as_array().into_iter().flatten() {
        let kind = tool["type"].as_str().unwrap_or("unknown");
        if kind != "function" && !types.iter().any(|t| t == kind) {
            types.push(kind.to_string());
        }
    }
    types
}

/// Decodes a Responses request.
pub fn decode_request(body: &Value) -> Request {
    let mut request = Request {
        model: string(&body["model"]),
        ..Request::default()
    };
    if let Some(instructions) = body["instructions"].as_str().filter(|i| !i.is_empty()) {
        request.system.push(instructions.into());
    }
    match &body["input"] {
        Value::String(text) => request.turns.push(Turn {
            role: Role::User,
            parts: vec![Part::Text { text: text.clone() }],
        }),
        Value::Array(items) => {
            for item in items {
                decode_item(item, &mut request);
            }
        }
        _ => {}
    }
    request.max_tokens = body["max_output_tokens"].as_u64();
    request.temperature = body["temperature"].as_number().cloned();
    request.top_p = body["top_p"].as_number().cloned();
    request.stream = body["stream"] == true;
    request.tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .map(|t| Tool {
            name: string(&t["name"]),
            description: opt_string(&t["description"]),
            parameters: t
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"})),
        })
        .collect();
    request.tool_choice = match &body["tool_choice"] {
        Value::String(choice) if choice == "required" => Some(ToolChoice::Any),
        Value::String(choice) if choice == "none" => Some(ToolChoice::None),
        Value::String(_) => Some(ToolChoice::Auto),
        Value::Object(choice) if choice.get("type") == Some(&json!("function")) => {
            Some(ToolChoice::Tool {
                name: choice.get("name").map(string).unwrap_or_default(),
            })
        }
        Value::Object(choice) if choice.get("mode") == Some(&json!("required")) => {
            Some(ToolChoice::Any)
        }
        Value::Object(_) => Some(ToolChoice::Auto),
        _ => None,
    };
    request.parallel_tool_calls = body["parallel_tool_calls"].as_bool();
    request.user = opt_string(&body["user"]);
    request.extras = Extras::unknown(Dialect::Responses, body, KNOWN);
    request
}

/// Adds one input item to the request.
fn decode_item(item: &Value, request: &mut Request) {
    let kind = item["type"]
        .as_str()
        .unwrap_or(if item.get("role").is_some() {
            "message"
        } else {
            ""
        });
    let (role, parts) = match kind {
        "message" => match item["role"].as_str().unwrap_or("user") {
            "system" | "developer" => {
                let text = text_of(&item["content"]);
                if !text.is_empty() {
                    request.system.push(text);
                }
                return;
            }
            "assistant" => (Role::Assistant, content_parts(&item["content"])),
            _ => (Role::User, content_parts(&item["content"])),
        },
        "function_call" | "custom_tool_call" => {
            let arguments = if kind == "function_call" {
                &item["arguments"]
            } else {
                &item["input"]
            };
            let arguments = match arguments {
                Value::String(text) => Arguments::Text(text.clone()),
                Value::Null => Arguments::Text(String::new()),
                other => Arguments::Json(other.clone()),
            };
            let part = Part::ToolCall {
                id: string(&item["call_id"]),
                name: string(&item["name"]),
                arguments,
            };
            (Role::Assistant, vec![part])
        }
        "function_call_output" | "custom_tool_call_output" => {
            let part = Part::ToolResult {
                call_id: string(&item["call_id"]),
                content: text_of(&item["output"]),
                is_error: false,
            };
            (Role::User, vec![part])
        }
        "reasoning" => {
            let mut text = summary_text(&item["summary"]);
            if text.is_empty() {
                text = summary_text(&item["content"]);
            }
            if text.is_empty() {
                return;
            }
            let part = Part::Thinking {
                text,
                signature: None,
            };
            (Role::Assistant, vec![part])
        }
        _ => return,
    };
    if parts.is_empty() {
        return;
    }
    match request.turns.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => request.turns.push(Turn { role, parts }),
    }
}

/// The texts of a reasoning item's `summary` (or `content`), joined.
fn summary_text(parts: &Value) -> String {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The text of a `content` or `output` (a string, or text parts joined by
/// newlines).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().or(p["refusal"].as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The parts of a message's content: text (a refusal in the history is read
/// as text) and images given by URL.
fn content_parts(content: &Value) -> Vec<Part> {
    match content {
        Value::String(text) => vec![Part::Text { text: text.clone() }],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part["type"].as_str() {
                Some("input_text" | "output_text" | "text") => Some(Part::Text {
                    text: string(&part["text"]),
                }),
                Some("refusal") => Some(Part::Text {
                    text: string(&part["refusal"]),
                }),
                Some("input_image") => part["image_url"].as_str().map(|url| Part::Image {
                    source: ImageSource::from_url(url),
                }),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Encodes a Responses request (for a provider that speaks Responses).
pub fn encode_request(request: &Request) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(request.model));
    if !request.system.is_empty() {
        out.insert("instructions".into(), json!(request.system.join("\n\n")));
    }
    let mut input = Vec::new();
    for turn in &request.turns {
        match turn.role {
            Role::User => user_items(&turn.parts, &mut input),
            Role::Assistant => assistant_items(&turn.parts, &mut input),
        }
    }
    out.insert("input".into(), Value::Array(input));
    if let Some(max) = request.max_tokens {
        out.insert("max_output_tokens".into(), json!(max));
    }
    if let Some(temperature) = &request.temperature {
        out.insert("temperature".into(), Value::Number(temperature.clone()));
    }
    if let Some(top_p) = &request.top_p {
        out.insert("top_p".into(), Value::Number(top_p.clone()));
    }
    if request.stream {
        out.insert("stream".into(), json!(true));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "name": tool.name,
                       "description": tool.description.as_deref().unwrap_or(""),
                       "parameters": tool.parameters})
            })
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool { name } => json!({"type": "function", "name": name}),
        };
        out.insert("tool_choice".into(), choice);
    }
    if let Some(parallel) = request.parallel_tool_calls {
        out.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(user) = &request.user {
        out.insert("user".into(), json!(user));
    }
    for (key, value) in request.extras.for_dialect(Dialect::Responses) {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}

/// A user turn: tool results become `function_call_output` items (first, as
/// they answer the calls just before), the rest one user message.
fn user_items(parts: &[Part], input: &mut Vec<Value>) {
    let mut content = Vec::new();
    for part in parts {
        match part {
            Part::ToolResult {
                call_id, content, ..
            } => input.push(
                json!({"type": "function_call_output", "call_id": call_id, "output": content}),
            ),
            Part::Text { text } => content.push(json!({"type": "input_text", "text": text})),
            Part::Image { source } => content.push(
                json!({"type": "input_image", "image_url": source.to_url(), "detail": "auto"}),
            ),
            Part::ToolCall { .. } | Part::Thinking { .. } | Part::Refusal { .. } => {}
        }
    }
    push_message(input, "user", content);
}

/// An assistant turn: a message per run of text, a `function_call` per call.
fn assistant_items(parts: &[Part], input: &mut Vec<Value>) {
    let mut text = Vec::new();
    for part in parts {
        match part {
            Part::Text { text: t } | Part::Refusal { text: t } => {
                text.push(json!({"type": "output_text", "text": t}));
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                flush_text(&mut text, input);
                input.push(json!({"type": "function_call", "call_id": id, "name": name,
                                  "arguments": arguments.to_text()}));
            }
            Part::Image { .. } | Part::ToolResult { .. } | Part::Thinking { .. } => {}
        }
    }
    flush_text(&mut text, input);
}

/// Pushes the collected assistant text as one message.
fn flush_text(text: &mut Vec<Value>, input: &mut Vec<Value>) {
    push_message(input, "assistant", std::mem::take(text));
}

/// Appends a message of `role`, merged into the previous item when that is a
/// message of the same role (turns whose other parts were dropped leave such
/// neighbours, which a second pass would merge).
fn push_message(input: &mut Vec<Value>, role: &str, content: Vec<Value>) {
    if content.is_empty() {
        return;
    }
    if let Some(last) = input.last_mut()
        && last["type"] == "message"
        && last["role"] == role
        && let Some(parts) = last["content"].as_array_mut()
    {
        parts.extend(content);
        return;
    }
    input.push(json!({"type": "message", "role": role, "content": content}));
}

/// Responses usage: cached input tokens are read from the cache.
fn usage(usage: &Value) -> Usage {
    let cached = usage["input_tokens_details"]["cached_tokens"].as_u64();
    Usage {
        input: usage["input_tokens"]
            .as_u64()
            .map(|input| input.saturating_sub(cached.unwrap_or(0))),
        output: usage["output_tokens"].as_u64(),
        cache_read: cached,
        cache_write: None,
    }
}

/// Responses usage from canonical usage. The model does not count reasoning
/// tokens apart, so `reasoning_tokens` is 0.
fn usage_json(usage: &Usage) -> Value {
    let input = usage.total_input();
    let output = usage.output.unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": usage.cache_read.unwrap_or(0)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total(),
    })
}

/// The id part the response's item ids are made from.
fn base_id(id: &str) -> &str {
    id.strip_prefix("resp_").unwrap_or(id)
}

/// The id of a message item.
fn message_id(base: &str, output_index: usize) -> String {
    format!("msg_{base}_{output_index}")
}

/// The id of a reasoning item.
fn reasoning_id(base: &str, output_index: usize) -> String {
    format!("rs_{base}_{output_index}")
}

/// The id of a function-call item.
fn function_call_id(call_id: &str) -> String {
    format!("fc_{call_id}")
}

/// A finished text content part.
fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

/// A message item.
fn message_item(id: &str, status: &str, content: Vec<Value>) -> Value {
    json!({"id": id, "type": "message", "role": "assistant", "status": status, "content": content})
}

/// A function-call item.
fn function_call_item(call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"id": function_call_id(call_id), "type": "function_call", "status": status,
           "call_id": call_id, "name": name, "arguments": arguments})
}

/// A reasoning item with its summary text (none when empty).
fn reasoning_item(id: &str, text: &str) -> Value {
    let summary: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": text})]
    };
    json!({"id": id, "type": "reasoning", "summary": summary})
}

/// A `response` object; `stop` is `None` while it is in progress.
fn response(
    id: &str,
    model: &str,
    created_at: u64,
    output: Vec<Value>,
    stop: Option<&StopReason>,
    usage: Option<&Usage>,
) -> Value {
    let (status, incomplete) = match stop {
        None => ("in_progress", Value::Null),
        Some(StopReason::MaxTokens) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(StopReason::Refusal) => ("incomplete", json!({"reason": "content_filter"})),
        Some(_) => ("completed", Value::Null),
    };
    json!({
        "id": format!("resp_{}", base_id(id)), "object": "response", "created_at": created_at,
        "status": status, "error": null, "incomplete_details": incomplete,
        "instructions": null, "max_output_tokens": null, "model": model, "output": output,
        "parallel_tool_calls": true, "previous_response_id": null, "reasoning": null,
        "temperature": null, "text": {"format": {"type": "text"}}, "tool_choice": "auto",
        "tools": [], "top_p": null, "truncation": "disabled",
        "usage": usage.map(usage_json), "metadata": {},
    })
}

/// Encodes a whole answer as a `response` object.
pub fn encode_answer(answer: &Answer) -> Value {
    let base = base_id(&answer.id);
    let mut output: Vec<Value> = Vec::new();
    // The content of the message being built, and its output index.
    let mut message: Option<(usize, Vec<Value>)> = None;
    for part in &answer.parts {
        match part {
            Part::Text { text } | Part::Refusal { text } => {
                let content = match part {
                    Part::Refusal { .. } => json!({"type": "refusal", "refusal": text}),
                    _ => output_text(text),
                };
                message
                    .get_or_insert_with(|| (output.len(), Vec::new()))
                    .1
                    .push(content);
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                flush_message(base, &mut message, &mut output);
                output.push(function_call_item(
                    id,
                    name,
                    &arguments.to_text(),
                    "completed",
                ));
            }
            Part::Thinking { text, .. } => {
                flush_message(base, &mut message, &mut output);
                output.push(reasoning_item(&reasoning_id(base, output.len()), text));
            }
            Part::Image { .. } | Part::ToolResult { .. } => {}
        }
    }
    flush_message(base, &mut message, &mut output);
    response(
        &answer.id,
        &answer.model,
        unix_now(),
        output,
        Some(&answer.stop),
        Some(&answer.usage),
    )
}

/// Appends the message being built, if any, as a finished item.
fn flush_message(base: &str, message: &mut Option<(usize, Vec<Value>)>, output: &mut Vec<Value>) {
    if let Some((index, content)) = message.take() {
        output.push(message_item(&message_id(base, index), "completed", content));
    }
}

/// Decodes a `response` object.
pub fn decode_answer(body: &Value) -> Answer {
    let mut parts = Vec::new();
    for item in body["output"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("message") => {
                for content in item["content"].as_array().into_iter().flatten() {
                    match content["type"].as_str() {
                        Some("output_text") => parts.push(Part::Text {
                            text: string(&content["text"]),
                        }),
                        Some("refusal") => parts.push(Part::Refusal {
                            text: string(&content["refusal"]),
                        }),
                        _ => {}
                    }
                }
            }
            Some("function_call") => parts.push(Part::ToolCall {
                id: string(&item["call_id"]),
                name: string(&item["name"]),
                arguments: Arguments::Text(string(&item["arguments"])),
            }),
            Some("reasoning") => {
                let text = summary_text(&item["summary"]);
                if !text.is_empty() {
                    parts.push(Part::Thinking {
                        text,
                        signature: None,
                    });
                }
            }
            _ => {}
        }
    }
    let called_tool = parts.iter().any(|p| matches!(p, Part::ToolCall { .. }));
    let stop = stop_reason(body, called_tool);
    Answer {
        id: string(&body["id"]),
        model: string(&body["model"]),
        parts,
        stop,
        stop_sequence: None,
        usage: usage(&body["usage"]),
    }
}

/// Why a response ended: its incomplete reason, or tool use when it calls a tool.
fn stop_reason(body: &Value, called_tool: bool) -> StopReason {
    if body["status"] == "incomplete" {
        return match body["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") | None => StopReason::MaxTokens,
            Some("content_filter") => StopReason::Refusal,
            Some(other) => StopReason::Other(other.into()),
        };
    }
    if called_tool {
        StopReason::ToolUse
    } else {
        StopReason::EndTurn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tools_are_listed_once_each_and_function_tools_not_at_all() {
        let body = json!({"tools": [
            {"type": "function", "name": "f", "parameters": {}},
            {"type": "web_search"}, {"type": "local_shell"}, {"type": "web_search"},
            {"type": "custom", "name": "apply_patch"}]});
        assert_eq!(
            builtin_tools(&body),
            ["web_search", "local_shell", "custom"]
        );
        assert!(builtin_tools(&json!({"tools": [{"type": "function"}]})).is_empty());
        assert!(builtin_tools(&json!({})).is_empty());
    }

    #[test]
    fn a_string_input_is_one_user_turn_and_instructions_the_system_prompt() {
        let request = decode_request(&json!({"model": "m", "instructions": "Be brief.",
            "input": "Hi", "max_output_tokens": 9, "store": false}));
        assert_eq!(request.system, ["Be brief."]);
        assert_eq!(
            request.turns,
            [Turn {
                role: Role::User,
                parts: vec![Part::Text { text: "Hi".into() }]
            }]
        );
        assert_eq!(request.max_tokens, Some(9));
        assert_eq!(request.extras.dialect, Some(Dialect::Responses));
        assert_eq!(request.extras.fields["store"], json!(false));
    }

    #[test]
    fn encrypted_reasoning_without_summary_is_dropped() {
        let request = decode_request(&json!({"input": [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
            {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "Hm."}],
             "encrypted_content": "gAAB"}]}));
        assert_eq!(
            request.turns[0].parts,
            [Part::Thinking {
                text: "Hm.".into(),
                signature: None
            }]
        );
    }

    #[test]
    fn a_length_stop_is_an_incomplete_response() {
        let answer = Answer {
            id: "chatcmpl-1".into(),
            stop: StopReason::MaxTokens,
            ..Answer::default()
        };
        let body = encode_answer(&answer);
        assert_eq!(body["status"], "incomplete");
        assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(body["id"], "resp_chatcmpl-1");
        assert_eq!(decode_answer(&body).stop, StopReason::MaxTokens);
    }
}
