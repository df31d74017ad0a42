//! The text of a request or response, as segments for the guardrails, and the
//! way back: writing redacted text into the body at the same place.
//!
//! Bodies stay `serde_json::Value`s, so fields sluice does not know pass through
//! untouched. Each segment remembers its JSON pointer (RFC 6901) for write-back.
//!
//! Not extracted, on purpose: Anthropic `thinking` blocks (their signature covers
//! the text, so changing it would make the next request fail), images, and tool
//! definitions.

pub mod mcp;
pub mod responses;

use crate::guardrails::Outcome;
use crate::json_pointer::Pointer;
use crate::sandbox::{Segment, SegmentKind};
use serde_json::Value;

/// The longest segment path given to the guardrails, in bytes; a longer one
/// (deep or long-keyed tool input) is cut and ends in `…`. Without a cap, every
/// string under one long key would repeat it, and a body could make the
/// gateway build many times its own size in paths.
pub const MAX_PATH: usize = 256;

/// Segments and where each came from.
#[derive(Debug, Default)]
pub struct Extracted {
    /// What the guardrails see.
    pub segments: Vec<Segment>,
    /// Where each segment's string is in the body.
    locations: Vec<Location>,
    /// The steps into tool inputs that locations go through (each key once, so
    /// the memory is linear in the body whatever its shape).
    steps: Vec<Step>,
}

/// Where a segment's string is: a JSON pointer (RFC 6901), then, inside a
/// tool's input, the chain of steps ending at `step`.
#[derive(Debug)]
struct Location {
    pointer: String,
    step: Option<usize>,
}

/// One step into a tool's input, after its parent step (if any).
#[derive(Debug)]
struct Step {
    parent: Option<usize>,
    into: Hop,
}

/// An object member or an array item.
#[derive(Debug)]
enum Hop {
    Key(String),
    Index(usize),
}

impl Extracted {
    fn push(&mut self, pointer: String, path: String, role: &str, kind: SegmentKind, text: &str) {
        self.push_at(
            Location {
                pointer,
                step: None,
            },
            path,
            role,
            kind,
            text,
        );
    }

    fn push_at(
        &mut self,
        location: Location,
        path: String,
        role: &str,
        kind: SegmentKind,
        text: &str,
    ) {
        if text.is_empty() {
            return;
        }
        self.locations.push(location);
        self.segments.push(Segment {
            path,
            role: role.to_string(),
            kind,
            text: text.to_string(),
        });
    }

    /// Every string leaf under `value` (a tool's JSON input, at `pointer`), as
    /// segments.
    fn push_leaves(
        &mut self,
        value: &Value,
        pointer: &str,
        path: String,
        role: &str,
        kind: SegmentKind,
    ) {
        self.push_leaves_at(value, pointer, None, path, role, kind);
    }

    fn push_leaves_at(
        &mut self,
        value: &Value,
        pointer: &str,
        step: Option<usize>,
        path: String,
        role: &str,
        kind: SegmentKind,
    ) {
        let child = |this: &mut Self, into: Hop, path: String, item: &Value| {
            this.steps.push(Step { parent: step, into });
            let step = Some(this.steps.len() - 1);
            this.push_leaves_at(item, pointer, step, path, role, kind);
        };
        match value {
            Value::String(s) => {
                let location = Location {
                    pointer: pointer.to_string(),
                    step,
                };
                self.push_at(location, path, role, kind, s)
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    child(
                        self,
                        Hop::Index(i),
                        capped(&path, format_args!("[{i}]")),
                        item,
                    );
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let path = capped(&path, format_args!(".{key}"));
                    child(self, Hop::Key(key.clone()), path, item);
                }
            }
            _ => {}
        }
    }

    /// Keeps only the segments whose path `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let kept: Vec<bool> = self.segments.iter().map(|s| keep(&s.path)).collect();
        let mut flags = kept.iter();
        self.segments
            .retain(|_| *flags.next().expect("one flag a segment"));
        let mut flags = kept.iter();
        self.locations
            .retain(|_| *flags.next().expect("one flag a location"));
    }

    /// The string of segment `index` in `body`, if it is still there.
    fn slot<'a>(&self, body: &'a mut Value, index: usize) -> Option<&'a mut Value> {
        let location = &self.locations[index];
        let mut chain = Vec::new();
        let mut at = location.step;
        while let Some(step) = at {
            chain.push(&self.steps[step].into);
            at = self.steps[step].parent;
        }
        let mut slot = body.pointer_mut(&location.pointer)?;
        for into in chain.into_iter().rev() {
            slot = match into {
                Hop::Key(key) => slot.as_object_mut()?.get_mut(key)?,
                Hop::Index(i) => slot.as_array_mut()?.get_mut(*i)?,
            };
        }
        Some(slot)
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
        for (index, segment) in self.segments.iter().enumerate() {
            let redactions = outcome.redactions(index);
            if redactions.is_empty() {
                continue;
            }
            let text = crate::guardrails::redact::apply(&segment.text, &redactions, placeholders);
            if let Some(slot) = self.slot(body, index) {
                *slot = Value::String(text);
                changed = true;
            }
        }
        changed
    }
}

/// `path` followed by `more`, cut to [`MAX_PATH`] bytes (ending in `…`). A path
/// already cut stays as it is.
fn capped(path: &str, more: std::fmt::Arguments<'_>) -> String {
    if path.len() >= MAX_PATH {
        return path.to_string();
    }
    let mut out = format!("{path}{more}");
    if out.len() > MAX_PATH {
        let mut end = MAX_PATH - '…'.len_utf8();
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
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
            if let Some(args) = call.at("/function/arguments").and_then(Value::as_str) {
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
                        &format!("{pointer}/input"),
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
    out.push_leaves(body, "", String::new(), "assistant", SegmentKind::Message);
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
    use crate::test_json::{mutated, value};
    use proptest::prelude::*;
    use serde_json::json;

    /// Every way a body is cut into segments.
    fn extractors() -> [fn(&Value) -> Extracted; 6] {
        [
            openai_request,
            openai_response,
            anthropic_request,
            anthropic_response,
            responses::request,
            responses::response,
        ]
    }

    /// Each segment's location holds its text.
    fn assert_locations_hold_the_texts(body: &Value, e: &Extracted) {
        let mut copy = body.clone();
        for (i, segment) in e.segments.iter().enumerate() {
            assert_eq!(
                e.slot(&mut copy, i)
                    .and_then(|v| v.as_str().map(String::from)),
                Some(segment.text.clone()),
                "{}",
                segment.path
            );
        }
    }

    #[test]
    fn a_long_key_over_many_strings_costs_its_length_once() {
        let key = "k".repeat(100_000);
        let leaves: Vec<&str> = vec!["a"; 10_000];
        let body = json!({"messages": [{"role": "assistant", "content": [
            {"type": "tool_use", "id": "t", "name": "f", "input": {"deep": {key: leaves}}}]}]});
        let e = anthropic_request(&body);
        assert_eq!(e.segments.len(), 10_000);
        // Paths are capped, so together they are a small multiple of the
        // segments, not 10 000 copies of the key (1 GB).
        let total: usize = e.segments.iter().map(|s| s.path.len()).sum();
        assert!(total <= 10_000 * MAX_PATH, "{total}");
        assert!(
            e.segments[0]
                .path
                .starts_with("messages[0].content[0].input.deep.kkk")
        );
        assert!(e.segments[0].path.ends_with('…'));
        assert_locations_hold_the_texts(&body, &e);
    }

    #[test]
    fn keys_with_slashes_and_tildes_write_back_in_place() {
        let body =
            json!({"content": [{"type": "tool_use", "input": {"a/b": {"~c": ["x", 1, "y"]}}}]});
        let e = anthropic_response(&body);
        assert_eq!(
            texts(&e),
            [
                ("content[0].input.a/b.~c[0]", "x"),
                ("content[0].input.a/b.~c[2]", "y")
            ]
        );
        assert_locations_hold_the_texts(&body, &e);
    }

    fn realistic() -> Vec<Value> {
        vec![
            json!({"model": "m", "messages": [
                {"role": "system", "content": "be nice"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "result"}]}),
            json!({"system": [{"type": "text", "text": "sys"}], "messages": [
                {"role": "user", "content": "plain"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "bash", "input": {"command": "ls", "o": ["x"]}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "out"}]}]}),
            json!({"choices": [{"message": {"role": "assistant", "content": "hello"}}]}),
            json!({"content": [{"type": "text", "text": "hello"}, {"type": "tool_use", "input": {"q": "x"}}]}),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_body_is_cut_without_panicking_and_no_findings_change_nothing(
            body in prop_oneof![value(), mutated(realistic())],
        ) {
            for extract in extractors() {
                let e = extract(&body);
                prop_assert_eq!(e.segments.len(), e.locations.len());
                for segment in &e.segments {
                    prop_assert!(!segment.text.is_empty());
                    prop_assert!(segment.path.len() <= MAX_PATH);
                }
                assert_locations_hold_the_texts(&body, &e);
                let mut after = body.clone();
                let none = Outcome { decisions: Vec::new() };
                let mut placeholders = Default::default();
                prop_assert!(!e.apply(&mut after, &none, &mut placeholders));
                prop_assert_eq!(&after, &body);
            }
        }
    }

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
