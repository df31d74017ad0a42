//! The text of a request or response, as segments for the guardrails, and the
//! way back: writing redacted text into the body at the same place.
//!
//! Bodies stay `serde_json::Value`s, so fields sluice does not know pass through
//! untouched. Each segment remembers its JSON pointer (RFC 6901) for write-back.
//!
//! Not extracted, on purpose: Anthropic `thinking` blocks (their signature covers
//! the text, so changing it would make the next request fail), images, and tool
//! definitions.

use crate::guardrails::Outcome;
use crate::sandbox::{Segment, SegmentKind};
use serde_json::Value;

/// Segments and where each came from.
#[derive(Debug, Default)]
pub struct Extracted {
    /// What the guardrails see.
    pub segments: Vec<Segment>,
    /// JSON pointer of each segment's string in the body.
    pointers: Vec<String>,
}

impl Extracted {
    fn push(&mut self, pointer: String, path: String, role: &str, kind: SegmentKind, text: &str) {
        if text.is_empty() {
            return;
        }
        self.pointers.push(pointer);
        self.segments.push(Segment {
            path,
            role: role.to_string(),
            kind,
            text: text.to_string(),
        });
    }

    /// Every string leaf under `value` (a tool's JSON input), as segments.
    fn push_leaves(
        &mut self,
        value: &Value,
        pointer: String,
        path: String,
        role: &str,
        kind: SegmentKind,
    ) {
        match value {
            Value::String(s) => self.push(pointer, path, role, kind, s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.push_leaves(
                        item,
                        format!("{pointer}/{i}"),
                        format!("{path}[{i}]"),
                        role,
                        kind,
                    );
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    self.push_leaves(
                        item,
                        format!("{pointer}/{escaped}"),
                        format!("{path}.{key}"),
                        role,
                        kind,
                    );
                }
            }
            _ => {}
        }
    }

    /// Writes the outcome's redactions into `body`, numbering placeholders with
    /// `placeholders`. Returns whether anything changed.
    pub fn apply(
        &self,
        body: &mut Value,
        outcome: &Outcome,
        placeholders: &mut crate::guardrails::redact::Placeholders,
    ) -> bool {
        let mut changed = false;
        for (index, (segment, pointer)) in self.segments.iter().zip(&self.pointers).enumerate() {
            let redactions = outcome.redactions(index);
            if redactions.is_empty() {
                continue;
            }
            let text = crate::guardrails::redact::apply(&segment.text, &redactions, placeholders);
            if let Some(slot) = body.pointer_mut(pointer) {
                *slot = Value::String(text);
                changed = true;
            }
        }
        changed
    }
}

fn role_kind(role: &str) -> SegmentKind {
    match role {
        "system" | "developer" => SegmentKind::System,
        "tool" | "function" => SegmentKind::ToolResult,
        _ => SegmentKind::Message,
    }
}

/// An OpenAI Chat Completions request: message contents (string or text parts),
/// and the arguments of the assistant's earlier tool calls.
pub fn openai_request(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return out;
    };
    for (i, message) in messages.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user");
        openai_message(
            &mut out,
            message,
            &format!("/messages/{i}"),
            &format!("messages[{i}]"),
            role,
        );
    }
    out
}

/// An OpenAI message (request) or `message` of a choice (response).
fn openai_message(out: &mut Extracted, message: &Value, pointer: &str, path: &str, role: &str) {
    let kind = role_kind(role);
    match message.get("content") {
        Some(Value::String(text)) => out.push(
            format!("{pointer}/content"),
            format!("{path}.content"),
            role,
            kind,
            text,
        ),
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    out.push(
                        format!("{pointer}/content/{j}/text"),
                        format!("{path}.content[{j}].text"),
                        role,
                        kind,
                        text,
                    );
                }
            }
        }
        _ => {}
    }
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for (j, call) in calls.iter().enumerate() {
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                out.push(
                    format!("{pointer}/tool_calls/{j}/function/arguments"),
                    format!("{path}.tool_calls[{j}].function.arguments"),
                    role,
                    SegmentKind::ToolCall,
                    args,
                );
            }
        }
    }
}

/// An OpenAI chat completion (non-streaming): each choice's message.
pub fn openai_response(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    let Some(choices) = body.get("choices").and_then(Value::as_array) else {
        return out;
    };
    for (i, choice) in choices.iter().enumerate() {
        if let Some(message) = choice.get("message") {
            openai_message(
                &mut out,
                message,
                &format!("/choices/{i}/message"),
                &format!("choices[{i}].message"),
                "assistant",
            );
        }
    }
    out
}

/// An Anthropic Messages request: the system prompt, and each message's text,
/// tool-use input and tool results.
pub fn anthropic_request(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    match body.get("system") {
        Some(Value::String(text)) => out.push(
            "/system".into(),
            "system".into(),
            "system",
            SegmentKind::System,
            text,
        ),
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    out.push(
                        format!("/system/{j}/text"),
                        format!("system[{j}].text"),
                        "system",
                        SegmentKind::System,
                        text,
                    );
                }
            }
        }
        _ => {}
    }
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for (i, message) in messages.iter().enumerate() {
            let role = message
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("user");
            match message.get("content") {
                Some(Value::String(text)) => out.push(
                    format!("/messages/{i}/content"),
                    format!("messages[{i}].content"),
                    role,
                    SegmentKind::Message,
                    text,
                ),
                Some(Value::Array(blocks)) => anthropic_blocks(
                    &mut out,
                    blocks,
                    &format!("/messages/{i}/content"),
                    &format!("messages[{i}].content"),
                    role,
                ),
                _ => {}
            }
        }
    }
    out
}

/// An Anthropic message (non-streaming response): its content blocks.
pub fn anthropic_response(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    if let Some(blocks) = body.get("content").and_then(Value::as_array) {
        anthropic_blocks(&mut out, blocks, "/content", "content", "assistant");
    }
    out
}

fn anthropic_blocks(out: &mut Extracted, blocks: &[Value], pointer: &str, path: &str, role: &str) {
    for (j, block) in blocks.iter().enumerate() {
        let (pointer, path) = (format!("{pointer}/{j}"), format!("{path}[{j}]"));
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    out.push(
                        format!("{pointer}/text"),
                        format!("{path}.text"),
                        role,
                        SegmentKind::Message,
                        text,
                    );
                }
            }
            Some("tool_use") => {
                if let Some(input) = block.get("input") {
                    out.push_leaves(
                        input,
                        format!("{pointer}/input"),
                        format!("{path}.input"),
                        role,
                        SegmentKind::ToolCall,
                    );
                }
            }
            Some("tool_result") => match block.get("content") {
                Some(Value::String(text)) => out.push(
                    format!("{pointer}/content"),
                    format!("{path}.content"),
                    role,
                    SegmentKind::ToolResult,
                    text,
                ),
                Some(Value::Array(parts)) => {
                    for (k, part) in parts.iter().enumerate() {
                        if let Some(text) = part.get("text").and_then(Value::as_str) {
                            out.push(
                                format!("{pointer}/content/{k}/text"),
                                format!("{path}.content[{k}].text"),
                                role,
                                SegmentKind::ToolResult,
                                text,
                            );
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Every string in `body`, wherever it is: for bodies whose shape is the
/// provider's to choose (an error answer or a stream's error event), so that
/// no text in them reaches the client unchecked.
pub fn every_string(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    out.push_leaves(
        body,
        String::new(),
        String::new(),
        "assistant",
        SegmentKind::Message,
    );
    out
}

/// An OpenAI embeddings request: `input`, a string or an array of strings.
/// (Token-id inputs carry no text the guardrails can read; the pipeline
/// refuses them when request guardrails run.)
pub fn embeddings_request(body: &Value) -> Extracted {
    let mut out = Extracted::default();
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
                if let Value::String(text) = item {
                    out.push(
                        format!("/input/{i}"),
                        format!("input[{i}]"),
                        "user",
                        SegmentKind::Message,
                        text,
                    );
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(e: &Extracted) -> Vec<(&str, &str)> {
        e.segments
            .iter()
            .map(|s| (s.path.as_str(), s.text.as_str()))
            .collect()
    }

    #[test]
    fn openai_request_segments_cover_content_parts_and_tool_calls() {
        let body = json!({
            "model": "m", "unknown_field": {"kept": true},
            "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"q\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "result"}
            ]
        });
        let e = openai_request(&body);
        assert_eq!(
            texts(&e),
            [
                ("messages[0].content", "be nice"),
                ("messages[1].content[0].text", "hi"),
                ("messages[2].tool_calls[0].function.arguments", "{\"q\":1}"),
                ("messages[3].content", "result"),
            ]
        );
        let kinds: Vec<SegmentKind> = e.segments.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SegmentKind::System,
                SegmentKind::Message,
                SegmentKind::ToolCall,
                SegmentKind::ToolResult
            ]
        );
    }

    #[test]
    fn anthropic_request_segments_cover_system_blocks_tool_input_and_results() {
        let body = json!({
            "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "plain"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "secret thoughts", "signature": "sig"},
                    {"type": "tool_use", "id": "t", "name": "bash", "input": {"command": "cat a/b", "opts": ["x"]}}
                ]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "out"}]}]}
            ]
        });
        let e = anthropic_request(&body);
        assert_eq!(
            texts(&e),
            [
                ("system[0].text", "sys"),
                ("messages[0].content", "plain"),
                ("messages[1].content[1].input.command", "cat a/b"),
                ("messages[1].content[1].input.opts[0]", "x"),
                ("messages[2].content[0].content[0].text", "out"),
            ]
        );
    }
}
