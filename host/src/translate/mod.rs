//! Translation between the two wire APIs, so that any client can use any model:
//! an Anthropic Messages client (Claude Code) on an OpenAI or OpenAI-compatible
//! model, and an OpenAI client (Cline, Pi) on an Anthropic model.
//!
//! Guardrails always run on the client's own format; translation happens between
//! them and the provider. What does not translate: fields one API has and the
//! other lacks are dropped (Anthropic `top_k`, `thinking` and cache control;
//! OpenAI `n`, `logprobs`, `response_format`, penalties, `seed`), and Anthropic
//! thinking blocks are not produced from OpenAI reasoning.

pub mod anthropic_to_openai;
pub mod openai_to_anthropic;
#[cfg(test)]
mod properties;

use crate::api::error::Api;
use crate::api::sse::SseEvent;
use serde_json::Value;

/// Tool arguments as a JSON string (OpenAI carries them as text).
fn json_string(value: &Value) -> String {
    if value.is_null() {
        "{}".into()
    } else {
        value.to_string()
    }
}

/// Tool arguments as a JSON value (Anthropic carries them as an object). Text
/// that is not a JSON object is kept, under `_raw`, rather than lost.
fn parse_arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Object(Default::default());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => value,
        _ => serde_json::json!({ "_raw": text }),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A stream translator from the provider's API to the client's.
pub enum StreamTranslator {
    /// Chat Completions chunks → Messages events.
    ToAnthropic(anthropic_to_openai::StreamTranslator),
    /// Messages events → Chat Completions chunks.
    ToOpenAi(openai_to_anthropic::StreamTranslator),
}

impl StreamTranslator {
    /// A translator for a `client` API stream served by the other API.
    pub fn new(client: Api, include_usage: bool) -> Self {
        match client {
            Api::Anthropic => StreamTranslator::ToAnthropic(Default::default()),
            Api::OpenAi => StreamTranslator::ToOpenAi(openai_to_anthropic::StreamTranslator::new(
                include_usage,
            )),
        }
    }

    /// The client-API events for one provider-API event.
    pub fn on_event(&mut self, event: SseEvent) -> Vec<SseEvent> {
        match self {
            StreamTranslator::ToAnthropic(t) => t.on_event(event),
            StreamTranslator::ToOpenAi(t) => t.on_event(event),
        }
    }
}

/// A request in the client's API, as the provider's API.
pub fn request(client: Api, body: &Value, openai_native: bool) -> Value {
    match client {
        Api::Anthropic => anthropic_to_openai::request(body, openai_native),
        Api::OpenAi => openai_to_anthropic::request(body),
    }
}

/// A whole answer in the provider's API, as the client's.
pub fn response(client: Api, body: &Value) -> Value {
    match client {
        Api::Anthropic => anthropic_to_openai::response(body),
        Api::OpenAi => openai_to_anthropic::response(body),
    }
}

/// The message of a provider error body in either API's format.
pub fn error_message(body: &Value) -> Option<&str> {
    body.pointer("/error/message").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_history_becomes_alternating_anthropic_turns() {
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": "s1"},
            {"role": "developer", "content": "s2"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": "calling", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "not json"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "tool", "tool_call_id": "c2", "content": "r2"},
            {"role": "user", "content": "thanks"}
        ], "stop": "END", "max_tokens": 9});
        let out = openai_to_anthropic::request(&body);
        assert_eq!(out["system"], "s1\n\ns2");
        assert_eq!(out["max_tokens"], 9);
        assert_eq!(out["stop_sequences"], json!(["END"]));
        let roles: Vec<&str> = out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles,
            ["user", "assistant", "user"],
            "tool results and the next user text merge into one turn"
        );
        assert_eq!(
            out["messages"][0]["content"][1]["source"],
            json!({"type": "base64", "media_type": "image/png", "data": "AAAA"})
        );
        assert_eq!(
            out["messages"][1]["content"][2]["input"],
            json!({"_raw": "not json"}),
            "odd arguments are kept"
        );
        let last = out["messages"][2]["content"].as_array().unwrap();
        assert_eq!(last[0]["type"], "tool_result");
        assert_eq!(last[1]["tool_use_id"], "c2");
        assert_eq!(last[2], json!({"type": "text", "text": "thanks"}));
    }

    #[test]
    fn anthropic_tool_results_come_before_user_text_for_openai() {
        let body = json!({"model": "m", "max_tokens": 5, "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                              {"type": "tool_use", "id": "t1", "name": "bash", "input": {"cmd": "ls"}}]},
            {"role": "user", "content": [{"type": "text", "text": "and"},
                                         {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "a.txt"}]}]}
        ]});
        let out = anthropic_to_openai::request(&body, false);
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(
            messages[0]["tool_calls"][0]["function"]["arguments"],
            "{\"cmd\":\"ls\"}"
        );
        assert_eq!(
            messages[0]["content"],
            Value::Null,
            "thinking is not sent to another provider"
        );
        assert_eq!(
            messages[1],
            json!({"role": "tool", "tool_call_id": "t1", "content": "a.txt"})
        );
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(out["max_tokens"], 5);
    }
}
