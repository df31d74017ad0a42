//! Property tests of both translators: any JSON (arbitrary, or a realistic
//! body with parts replaced) translates without panicking, in both directions,
//! requests, answers and streams; and a conversation's texts survive
//! OpenAI → Anthropic → OpenAI.

use super::{StreamTranslator, anthropic_to_openai, openai_to_anthropic};
use crate::api::sse::SseEvent;
use crate::canonical::Dialect;
use crate::codec::Target;
use crate::test_json::{mutated, value};
use proptest::prelude::*;
use serde_json::{Value, json};

fn openai_request() -> Value {
    json!({"model": "m", "stream": true, "stop": ["x"], "user": "u", "max_completion_tokens": 9,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}}, "parallel_tool_calls": false,
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": "ok", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r1"}]})
}

fn anthropic_request() -> Value {
    json!({"model": "m", "max_tokens": 5, "stream": true, "stop_sequences": ["x"],
        "system": [{"type": "text", "text": "s"}], "metadata": {"user_id": "u"},
        "tools": [{"name": "bash", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "bash", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "text", "text": "calling"},
                {"type": "tool_use", "id": "t1", "name": "bash", "input": {"cmd": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "a.txt"}]},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}},
                {"type": "text", "text": "and"}]}]})
}

fn openai_response() -> Value {
    json!({"id": "c", "object": "chat.completion", "model": "m", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "hello", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
        "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
}

fn anthropic_response() -> Value {
    json!({"id": "msg", "type": "message", "role": "assistant", "model": "m", "stop_reason": "tool_use",
        "content": [{"type": "text", "text": "hello"},
                    {"type": "tool_use", "id": "t1", "name": "bash", "input": {"cmd": "ls"}}],
        "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 1}})
}

/// Chat Completions chunks, as an OpenAI-style provider streams them.
fn openai_chunks() -> Vec<Value> {
    vec![
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "he"}}]}),
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\""}}]}}]}),
        json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
               "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
        json!({"error": {"message": "overloaded"}}),
    ]
}

/// Messages events, as Anthropic streams them.
fn anthropic_events() -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg", "model": "m", "usage": {"input_tokens": 3}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "he"}}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "bash"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"c"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 2}}),
        json!({"type": "message_stop"}),
        json!({"type": "error", "error": {"message": "overloaded"}}),
    ]
}

/// Any body: arbitrary, or a realistic one of either API with parts replaced.
fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        value(),
        mutated(vec![
            openai_request(),
            anthropic_request(),
            openai_response(),
            anthropic_response(),
        ]),
    ]
}

/// An upstream event: a name (or none) and data that is JSON, mutated or not,
/// or any text.
fn upstream_event() -> impl Strategy<Value = SseEvent> {
    let mut bodies = openai_chunks();
    bodies.extend(anthropic_events());
    let name = prop::option::of(prop::sample::select(vec![
        "message_start",
        "content_block_start",
        "content_block_delta",
        "message_delta",
        "message_stop",
        "error",
        "ping",
    ]));
    let data = prop_oneof![
        3 => mutated(bodies).prop_map(|v| v.to_string()),
        1 => value().prop_map(|v| v.to_string()),
        1 => prop_oneof![Just("[DONE]".to_string()), ".{0,20}"],
    ];
    (name, data).prop_map(|(event, data)| SseEvent {
        event: event.map(String::from),
        data,
    })
}

/// A conversation in OpenAI's format: an optional system prompt, then user
/// and assistant turns taking turns, each with some non-empty text.
fn conversation() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    (
        prop::option::of(".{1,20}"),
        prop::collection::vec(".{1,20}", 1..8),
    )
        .prop_map(|(system, turns)| {
            let roles = ["user", "assistant"];
            system
                .map(|s| ("system", s))
                .into_iter()
                .chain(
                    turns
                        .into_iter()
                        .enumerate()
                        .map(|(i, text)| (roles[i % 2], text)),
                )
                .collect()
        })
}

/// The (role, text) of each OpenAI message; text parts are joined.
fn openai_texts(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = match &m["content"] {
                Value::String(text) => text.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(""),
                _ => String::new(),
            };
            (m["role"].as_str().unwrap().to_string(), text)
        })
        .collect()
}

/// Every ordered pair of two different dialects.
fn pairs() -> Vec<(Dialect, Dialect)> {
    let all = [Dialect::Chat, Dialect::Messages, Dialect::Responses];
    all.iter()
        .flat_map(|&a| all.iter().filter(move |&&b| b != a).map(move |&b| (a, b)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_and_answers_translate_without_panicking(body in body()) {
        for (from, to) in pairs() {
            let _ = super::request(from, to, &body, Target::default());
            let _ = super::request(from, to, &body, Target { openai_native: true });
            let _ = super::response(from, to, &body);
        }
        let _ = super::error_message(&body);
    }

    #[test]
    fn streams_translate_without_panicking(
        events in prop::collection::vec(upstream_event(), 0..16),
        include_usage in any::<bool>(),
    ) {
        for (provider, client) in pairs() {
            let mut translator = StreamTranslator::new(provider, client, include_usage);
            for event in &events {
                for out in translator.on_event(event.clone()) {
                    // What the client gets is JSON, or the upstream's own bytes.
                    prop_assert!(
                        serde_json::from_str::<Value>(&out.data).is_ok()
                            || out.data == "[DONE]"
                            || events.iter().any(|e| e.data == out.data),
                        "{out:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn conversation_texts_survive_openai_to_anthropic_and_back(turns in conversation()) {
        let messages: Vec<Value> = turns
            .iter()
            .map(|(role, text)| json!({"role": role, "content": text}))
            .collect();
        let body = json!({"model": "m", "messages": messages});
        let anthropic = openai_to_anthropic::request(&body);
        let back = anthropic_to_openai::request(&anthropic, false);
        let expected: Vec<(String, String)> = turns
            .iter()
            .map(|(role, text)| (role.to_string(), text.clone()))
            .collect();
        prop_assert_eq!(openai_texts(&back), expected);
    }

    #[test]
    fn answer_texts_survive_openai_to_anthropic_and_back(text in ".{1,40}") {
        let mut answer = openai_response();
        answer["choices"][0]["message"]["content"] = json!(text);
        let anthropic = anthropic_to_openai::response(&answer);
        let back = openai_to_anthropic::response(&anthropic);
        prop_assert_eq!(&back["choices"][0]["message"]["content"], &json!(text));
        prop_assert_eq!(
            &back["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            &json!("{\"x\":1}")
        );
        prop_assert_eq!(&back["choices"][0]["finish_reason"], "tool_calls");
    }
}
