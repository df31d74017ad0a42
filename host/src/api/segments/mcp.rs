//! The text of MCP traffic through `/mcp` ([`crate::mcp`]).
//!
//! A tool call's `arguments`: every string in them (kind `tool-call`, role
//! `assistant`: the model wrote them). A tool's result, a prompt or a
//! resource read: every `text` of its content blocks (embedded resources
//! included), and every string of `structuredContent` (kind `tool-result`,
//! role `tool`: it goes back to the model). Images, audio and blobs carry no
//! text the guardrails can read; ids, types and URIs are not checked.

use super::Extracted;
use crate::json_pointer::Pointer;
use crate::sandbox::SegmentKind;
use serde_json::Value;

/// `{"arguments": {...}}`: a tool call's arguments.
pub fn arguments(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    if let Some(arguments) = body.get("arguments") {
        out.push_leaves(
            arguments,
            "/arguments",
            "arguments".into(),
            "assistant",
            SegmentKind::ToolCall,
        );
    }
    out
}

/// A `tools/call` result, a `prompts/get` result or a `resources/read` result.
pub fn result(body: &Value) -> Extracted {
    let mut out = Extracted::default();
    for field in ["content", "contents"] {
        if let Some(blocks) = body.get(field).and_then(Value::as_array) {
            for (i, block) in blocks.iter().enumerate() {
                content_block(
                    &mut out,
                    block,
                    &format!("/{field}/{i}"),
                    &format!("{field}[{i}]"),
                );
            }
        }
    }
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for (i, message) in messages.iter().enumerate() {
            if let Some(block) = message.get("content") {
                let (pointer, path) = (
                    format!("/messages/{i}/content"),
                    format!("messages[{i}].content"),
                );
                content_block(&mut out, block, &pointer, &path);
            }
        }
    }
    if let Some(structured) = body.get("structuredContent") {
        out.push_leaves(
            structured,
            "/structuredContent",
            "structuredContent".into(),
            "tool",
            SegmentKind::ToolResult,
        );
    }
    out
}

/// One content block: its `text`, or its embedded resource's `text`.
fn content_block(out: &mut Extracted, block: &Value, pointer: &str, path: &str) {
    if let Some(text) = block.get("text").and_then(Value::as_str) {
        out.push(
            format!("{pointer}/text"),
            format!("{path}.text"),
            "tool",
            SegmentKind::ToolResult,
            text,
        );
    }
    if let Some(text) = block.at("/resource/text").and_then(Value::as_str) {
        out.push(
            format!("{pointer}/resource/text"),
            format!("{path}.resource.text"),
            "tool",
            SegmentKind::ToolResult,
            text,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_tool_calls_and_results_tool_results() {
        let call = arguments(&json!({"arguments": {"path": "/etc", "opts": {"q": ["a", 1]}}}));
        let texts: Vec<_> = call
            .segments
            .iter()
            .map(|s| (s.path.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [("arguments.path", "/etc"), ("arguments.opts.q[0]", "a")]
        );
        assert!(
            call.segments
                .iter()
                .all(|s| s.kind == SegmentKind::ToolCall)
        );
        let answer = result(&json!({
            "content": [
                {"type": "text", "text": "one"},
                {"type": "image", "data": "AAAA", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///a", "text": "two"}}
            ],
            "structuredContent": {"n": "three"},
            "isError": false
        }));
        let texts: Vec<_> = answer.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        assert!(
            answer
                .segments
                .iter()
                .all(|s| s.kind == SegmentKind::ToolResult && s.role == "tool")
        );
        let prompt = result(
            &json!({"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}]}),
        );
        assert_eq!(prompt.segments[0].path, "messages[0].content.text");
        let read = result(&json!({"contents": [{"uri": "file:///x", "text": "body"}]}));
        assert_eq!(read.segments[0].text, "body");
    }
}
