//! Property-test strategies for JSON bodies: arbitrary values, and realistic
//! bodies with one part replaced by an arbitrary value.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings that look like what the translators and segment code look for,
/// mixed with arbitrary text.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "user",
            "assistant",
            "system",
            "developer",
            "tool",
            "function",
            "text",
            "image",
            "image_url",
            "tool_use",
            "tool_result",
            "thinking",
            "function",
            "required",
            "none",
            "auto",
            "any",
            "[DONE]",
            "data:image/png;base64,AA",
            "message_start",
            "content_block_start",
            "content_block_delta",
            "text_delta",
            "input_json_delta",
            "message_delta",
            "message_stop",
            "error",
            "stop",
            "length",
            "tool_calls",
            "end_turn",
            "max_tokens",
            "",
        ])
        .prop_map(String::from),
        ".{0,12}",
    ]
}

/// An object key: usually one the code reads.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "model", "messages", "role", "content", "text", "type", "tool_calls", "id",
            "function", "name", "arguments", "input", "system", "max_tokens",
            "max_completion_tokens", "stop", "stop_sequences", "stream", "tools",
            "tool_choice", "parallel_tool_calls", "user", "metadata", "user_id",
            "choices", "message", "delta", "usage", "index", "finish_reason",
            "stop_reason", "content_block", "partial_json", "error", "image_url", "url",
            "source", "media_type", "data", "tool_use_id", "tool_call_id", "parameters",
            "input_schema", "disable_parallel_tool_use", "prompt_tokens",
            "completion_tokens", "input_tokens", "output_tokens", "a/b~c",
        ])
        .prop_map(String::from),
        1 => ".{0,8}",
    ]
}

/// Any JSON value, a few levels deep.
pub fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every JSON pointer in `value`, the root (`""`) included.
pub fn pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, format!("{at}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    walk(item, format!("{at}/{escaped}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

/// `body` with the parts `picks` selects (indexes into its pointers, taken
/// modulo their number) replaced by the values given.
pub fn mutate(mut body: Value, picks: Vec<(usize, Value)>) -> Value {
    for (pick, replacement) in picks {
        let all = pointers(&body);
        let pointer = &all[pick % all.len()];
        if let Some(slot) = body.pointer_mut(pointer) {
            *slot = replacement;
        }
    }
    body
}

/// Realistic bodies of either API, requests and answers, whole and streamed,
/// each with up to three parts replaced by arbitrary values.
pub fn mutated(bodies: Vec<Value>) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(bodies),
        prop::collection::vec((any::<usize>(), value()), 0..3),
    )
        .prop_map(|(body, picks)| mutate(body, picks))
}
