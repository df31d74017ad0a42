//! The text of an OpenAI Responses request or answer.
//!
//! Request: `instructions`; `input` as a string or as items: messages (a
//! string, or parts with `text`), the arguments of earlier function and
//! custom tool calls, and their outputs (a string, or parts with `text`).
//! Answer: the output items: message text and refusals, function and custom
//! tool call arguments, reasoning summaries, and every string of an item of
//! another type (a built-in tool's call or results), but not its id, type,
//! status or call id.
//!
//! Not extracted from a request, on purpose: `reasoning` items (passed back
//! to OpenAI as they came, like Anthropic's signed thinking), images, files
//! and tool definitions.

use super::{Extracted, role_kind};
use crate::sandbox::SegmentKind;
use serde_json::Value;

/// An OpenAI Responses request.
pub fn request(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    if let Some(text) = body.get("instructions").and_then(Value::as_str) {
        out.push(
            "/instructions".into(),
            "instructions".into(),
            "system",
            SegmentKind::System,
            text,
        );
    }
    match body.get("input") {
        Some(Value::String(text)) => out.push(
            "/input".into(),
            "input".into(),
            "user",
            SegmentKind::Message,
            text,
        ),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(
                    &mut out,
                    item,
                    &format!("/input/{i}"),
                    &format!("input[{i}]"),
                );
            }
        }
        _ => {}
    }
    out
}

/// One item of a request's `input`.
fn input_item(out: &mut Extracted, item: &Value, pointer: &str, path: &str) {
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        Some("function_call") | Some("custom_tool_call") => call(out, item, pointer, path),
        Some("function_call_output") | Some("custom_tool_call_output") => {
            let field = "output";
            texts(
                out,
                item.get(field),
                &format!("{pointer}/{field}"),
                &format!("{path}.{field}"),
                "tool",
                SegmentKind::ToolResult,
            );
        }
        Some("message") | None => {
            let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
            texts(
                out,
                item.get("content"),
                &format!("{pointer}/content"),
                &format!("{path}.content"),
                role,
                role_kind(role),
            );
        }
        Some(_) => {}
    }
}

/// A function or custom tool call's arguments (`arguments`, or a custom
/// tool's `input`).
fn call(out: &mut Extracted, item: &Value, pointer: &str, path: &str) {
    for field in ["arguments", "input"] {
        if let Some(text) = item.get(field).and_then(Value::as_str) {
            out.push(
                format!("{pointer}/{field}"),
                format!("{path}.{field}"),
                "assistant",
                SegmentKind::ToolCall,
                text,
            );
        }
    }
}

/// A string, or the `text` of each part of an array.
fn texts(
    out: &mut Extracted,
    value: Option<&Value>,
    pointer: &str,
    path: &str,
    role: &str,
    kind: SegmentKind,
) {
    match value {
        Some(Value::String(text)) => out.push(pointer.into(), path.into(), role, kind, text),
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    out.push(
                        format!("{pointer}/{j}/text"),
                        format!("{path}[{j}].text"),
                        role,
                        kind,
                        text,
                    );
                }
            }
        }
        _ => {}
    }
}

/// An OpenAI Responses answer (a response object): its output items.
pub fn response(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    if let Some(items) = body.get("output").and_then(Value::as_array) {
        for (i, item) in items.iter().enumerate() {
            output_item(
                &mut out,
                item,
                &format!("/output/{i}"),
                &format!("output[{i}]"),
            );
        }
    }
    out
}

/// Fields of an output item that name it rather than say anything.
const ITEM_NAMES: [&str; 5] = ["type", "id", "status", "call_id", "role"];

/// One output item of an answer.
pub(crate) fn output_item(out: &mut Extracted, item: &Value, pointer: &str, path: &str) {
    match item.get("type").and_then(Value::as_str) {
        Some("message") => {
            let Some(parts) = item.get("content").and_then(Value::as_array) else {
                return;
            };
            for (j, part) in parts.iter().enumerate() {
                for field in ["text", "refusal"] {
                    if let Some(text) = part.get(field).and_then(Value::as_str) {
                        out.push(
                            format!("{pointer}/content/{j}/{field}"),
                            format!("{path}.content[{j}].{field}"),
                            "assistant",
                            SegmentKind::Message,
                            text,
                        );
                    }
                }
            }
        }
        Some("function_call") | Some("custom_tool_call") => call(out, item, pointer, path),
        Some("reasoning") => texts(
            out,
            item.get("summary"),
            &format!("{pointer}/summary"),
            &format!("{path}.summary"),
            "assistant",
            SegmentKind::Message,
        ),
        _ => {
            let Some(fields) = item.as_object() else {
                return;
            };
            for (key, value) in fields {
                if ITEM_NAMES.contains(&key.as_str()) {
                    continue;
                }
                let pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push_leaves(
                    value,
                    &pointer,
                    format!("{path}.{key}"),
                    "assistant",
                    SegmentKind::Other,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts_of(e: &Extracted) -> Vec<(&str, &str)> {
        e.segments
            .iter()
            .map(|s| (s.path.as_str(), s.text.as_str()))
            .collect()
    }

    #[test]
    fn a_codex_request_shows_instructions_messages_calls_and_outputs() {
        let body = json!({
            "model": "m", "instructions": "be brief",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
                {"type": "message", "role": "user", "content": "hi"},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thought"}], "encrypted_content": "xyz"},
                {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\":\"cat .env\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "KEY=1"},
                {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "part"}]}
            ]
        });
        let e = request(&body);
        assert_eq!(
            texts_of(&e),
            [
                ("instructions", "be brief"),
                ("input[0].content[0].text", "rules"),
                ("input[1].content", "hi"),
                ("input[3].arguments", "{\"cmd\":\"cat .env\"}"),
                ("input[4].output", "KEY=1"),
                ("input[5].output[0].text", "part"),
            ]
        );
        assert_eq!(e.segments[0].kind, SegmentKind::System);
        assert_eq!(
            e.segments[1].kind,
            SegmentKind::System,
            "developer is a system role"
        );
        assert_eq!(e.segments[3].kind, SegmentKind::ToolCall);
        assert_eq!(e.segments[4].kind, SegmentKind::ToolResult);
        assert_eq!(
            texts_of(&request(&json!({"input": "plain"}))),
            [("input", "plain")]
        );
    }

    #[test]
    fn an_answer_shows_text_refusals_calls_summaries_and_builtin_tool_results() {
        let body = json!({"object": "response", "output": [
            {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "plan"}]},
            {"type": "message", "id": "m", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "hello", "annotations": []},
                         {"type": "refusal", "refusal": "no"}]},
            {"type": "function_call", "id": "f", "call_id": "c", "name": "n", "arguments": "{}"},
            {"type": "web_search_call", "id": "ws", "status": "completed",
             "action": {"type": "search", "query": "jane@example.com"}}
        ]});
        let e = response(&body);
        assert_eq!(
            texts_of(&e),
            [
                ("output[0].summary[0].text", "plan"),
                ("output[1].content[0].text", "hello"),
                ("output[1].content[1].refusal", "no"),
                ("output[2].arguments", "{}"),
                ("output[3].action.type", "search"),
                ("output[3].action.query", "jane@example.com"),
            ]
        );
    }
}
