//! The `echo` provider: answers with the request it would have sent upstream, so
//! a user sees exactly what the guardrails changed. Needs no key and no network.

use super::http::Request;
use super::{Endpoint, Outgoing, Upstream, UpstreamError};
use crate::api::sse::SseEvent;
use crate::canonical::Dialect;
use crate::codec;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

/// The built-in echo provider: it answers in the gateway, so it serves no
/// upstream endpoint and speaks no dialect upstream (the pipeline answers in
/// the client's own).
#[derive(Debug)]
pub struct Echo;

impl Upstream for Echo {
    fn dialects(&self, _: &str) -> &'static [Dialect] {
        &[]
    }

    fn serves(&self, _: Endpoint) -> bool {
        false
    }

    fn target(&self) -> codec::Target {
        codec::Target::default()
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        async move { Err(UpstreamError::Unsupported("echo".into(), call.endpoint)) }.boxed()
    }
}

/// The assistant text of an echo answer: the upstream request, pretty-printed.
pub fn echo_text(upstream_request: &Value) -> String {
    serde_json::to_string_pretty(upstream_request).unwrap_or_default()
}

/// A rough token count (4 bytes a token), for usage fields.
pub fn approx_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// An OpenAI chat completion whose message is `text`.
pub fn openai_completion(id: &str, model: &str, text: &str, prompt_tokens: u64) -> Value {
    let completion_tokens = approx_tokens(text);
    json!({
        "id": id,
        "object": "chat.completion",
        "created": crate::clock::now_ms() / 1000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text, "refusal": null },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens
        }
    })
}

/// The chunks of an OpenAI stream carrying `text`, as `data:` payloads
/// (without the final `[DONE]`); with `usage`, a last chunk with usage.
pub fn openai_chunks(
    id: &str,
    model: &str,
    text: &str,
    prompt_tokens: u64,
    usage: bool,
) -> Vec<Value> {
    let created = crate::clock::now_ms() / 1000;
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]
        })
    };
    let mut chunks = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for piece in pieces(text, 24) {
        chunks.push(chunk(json!({ "content": piece }), Value::Null));
    }
    chunks.push(chunk(json!({}), json!("stop")));
    if usage {
        let completion_tokens = approx_tokens(text);
        chunks.push(json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [],
            "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                       "total_tokens": prompt_tokens + completion_tokens }
        }));
    }
    chunks
}

/// A Responses answer whose single message is `text` (the chat completion,
/// through the codecs).
pub fn responses_answer(id: &str, model: &str, text: &str, input_tokens: u64) -> Value {
    let completion = openai_completion(id, model, text, input_tokens);
    crate::translate::response(Dialect::Chat, Dialect::Responses, &completion)
}

/// The Responses stream of an answer whose single message is `text` (the
/// chat chunks, through the codecs), as `(event, data)` pairs.
pub fn responses_events(
    id: &str,
    model: &str,
    text: &str,
    input_tokens: u64,
) -> Vec<(Option<String>, String)> {
    let mut translator =
        crate::translate::StreamTranslator::new(Dialect::Chat, Dialect::Responses, true);
    openai_chunks(id, model, text, input_tokens, true)
        .into_iter()
        .map(|chunk| chunk.to_string())
        .chain(["[DONE]".to_string()])
        .flat_map(|data| translator.on_event(SseEvent { event: None, data }))
        .map(|event| (event.event, event.data))
        .collect()
}

/// An Anthropic message whose single text block is `text`.
pub fn anthropic_message(id: &str, model: &str, text: &str, input_tokens: u64) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{ "type": "text", "text": text }],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": { "input_tokens": input_tokens, "output_tokens": approx_tokens(text) }
    })
}

/// The events of an Anthropic stream carrying `text`, as (event, data) pairs.
pub fn anthropic_events(
    id: &str,
    model: &str,
    text: &str,
    input_tokens: u64,
) -> Vec<(&'static str, Value)> {
    let mut message = anthropic_message(id, model, "", input_tokens);
    message["content"] = json!([]);
    message["stop_reason"] = Value::Null;
    message["usage"]["output_tokens"] = json!(0);
    let mut events = vec![
        (
            "message_start",
            json!({ "type": "message_start", "message": message }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
        ),
        ("ping", json!({ "type": "ping" })),
    ];
    for piece in pieces(text, 24) {
        events.push((
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": piece } }),
        ));
    }
    events.push((
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push((
        "message_delta",
        json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null },
                "usage": { "output_tokens": approx_tokens(text) } }),
    ));
    events.push(("message_stop", json!({ "type": "message_stop" })));
    events
}

/// `text` cut into pieces of about `size` bytes, on character boundaries.
fn pieces(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_respect_char_boundaries_and_cover_the_text() {
        let text = "héllo wörld ünïcode ".repeat(5);
        let parts = pieces(&text, 7);
        assert_eq!(parts.concat(), text);
    }
}
