//! Translation between the client's API and the provider's, so that any
//! client can use any model: an Anthropic Messages client (Claude Code) on an
//! OpenAI or OpenAI-compatible model, and an OpenAI client (Cline, Pi) on an
//! Anthropic model.
//!
//! Every translation is a decode with the provider's (or client's)
//! [`crate::codec`] to the [`crate::canonical`] model and an encode with the
//! other's; there is no code per pair of APIs. Same-API traffic never comes
//! here: it passes through untouched.
//!
//! Guardrails always run on the client's own format; translation happens between
//! them and the provider. What does not translate: fields one API has and the
//! other lacks are dropped (Anthropic `top_k`, `thinking` and cache control;
//! OpenAI `n`, `logprobs`, `response_format`, penalties, `seed`), and Anthropic
//! thinking blocks are not produced from OpenAI reasoning.

#[cfg(test)]
mod properties;

use crate::api::sse::SseEvent;
use crate::canonical::Dialect;
use crate::codec::{self, StreamDecoder, StreamEncoder, Target};
use serde_json::Value;

/// A stream translator from the provider's dialect to the client's: each
/// provider event is decoded to canonical events, and each of those encoded
/// for the client.
pub struct StreamTranslator {
    /// Reads the provider's stream.
    decoder: Box<dyn StreamDecoder>,
    /// Writes the client's.
    encoder: Box<dyn StreamEncoder>,
}

impl StreamTranslator {
    /// A translator of a `provider` stream for a `client`; `include_usage`
    /// is whether a Chat Completions client asked for usage.
    pub fn new(provider: Dialect, client: Dialect, include_usage: bool) -> Self {
        StreamTranslator {
            decoder: codec::stream_decoder(provider),
            encoder: codec::stream_encoder(client, include_usage),
        }
    }

    /// The client's events for one provider event.
    pub fn on_event(&mut self, event: SseEvent) -> Vec<SseEvent> {
        self.decoder
            .decode(event)
            .into_iter()
            .flat_map(|event| self.encoder.encode(event))
            .collect()
    }
}

/// A request in the `client` dialect, as the `provider`'s, encoded for
/// `target`.
pub fn request(client: Dialect, provider: Dialect, body: &Value, target: Target) -> Value {
    let canonical = codec::decode_request(client, body);
    codec::encode_request(provider, &canonical, target)
}

/// A whole answer in the `provider` dialect, as the `client`'s.
pub fn response(provider: Dialect, client: Dialect, body: &Value) -> Value {
    let canonical = codec::decode_answer(provider, body);
    codec::encode_answer(client, &canonical)
}

/// The message of a provider error body in either API's format.
pub fn error_message(body: &Value) -> Option<&str> {
    codec::error_message(body)
}

/// An OpenAI Chat Completions client on an Anthropic provider, by direction.
pub mod openai_to_anthropic {
    use crate::canonical::Dialect::{Chat, Messages};
    use crate::codec::Target;
    use serde_json::Value;

    pub use crate::codec::messages::DEFAULT_MAX_TOKENS;

    /// A Chat Completions request as a Messages request.
    pub fn request(body: &Value) -> Value {
        super::request(Chat, Messages, body, Target::default())
    }

    /// A Messages answer as a chat completion.
    pub fn response(body: &Value) -> Value {
        super::response(Messages, Chat, body)
    }
}

/// An Anthropic Messages client on an OpenAI-style provider, by direction.
pub mod anthropic_to_openai {
    use crate::canonical::Dialect::{Chat, Messages};
    use crate::codec::Target;
    use serde_json::Value;

    /// A Messages request as a Chat Completions request; `openai_native`
    /// uses `max_completion_tokens` (OpenAI's own API) instead of `max_tokens`.
    pub fn request(body: &Value, openai_native: bool) -> Value {
        super::request(Messages, Chat, body, Target { openai_native })
    }

    /// A chat completion as a Messages answer.
    pub fn response(body: &Value) -> Value {
        super::response(Chat, Messages, body)
    }
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
