//! Messages streams: events to canonical events ([`Decoder`]) and back
//! ([`Encoder`]). The two are close: Messages streams are made of numbered
//! content blocks, as canonical streams are.

use super::{stop_reason, stop_reason_name, usage};
use crate::api::sse::SseEvent;
use crate::canonical::{BlockKind, DEFAULT_ERROR, Event, Usage};
use crate::codec::{StreamDecoder, StreamEncoder, string};
use serde_json::{Value, json};

/// Messages events → canonical events.
#[derive(Debug, Default)]
pub struct Decoder;

impl StreamDecoder for Decoder {
    fn decode(&mut self, upstream: SseEvent) -> Vec<Event> {
        let Ok(data) = serde_json::from_str::<Value>(&upstream.data) else {
            return vec![Event::Unparsed {
                event: upstream.event,
                data: upstream.data,
            }];
        };
        let index = data["index"].as_u64().unwrap_or(0);
        let event = match upstream.event.as_deref().or(data["type"].as_str()) {
            Some("message_start") => {
                let message = &data["message"];
                Event::Start {
                    id: string(&message["id"]),
                    model: string(&message["model"]),
                    usage: usage(&message["usage"]),
                }
            }
            Some("content_block_start") => {
                let block = &data["content_block"];
                let kind = match block["type"].as_str() {
                    Some("text") => BlockKind::Text,
                    Some("thinking") => BlockKind::Thinking,
                    Some("tool_use") => BlockKind::ToolCall {
                        id: string(&block["id"]),
                        name: string(&block["name"]),
                    },
                    _ => return Vec::new(),
                };
                Event::BlockStart { index, kind }
            }
            Some("content_block_delta") => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => Event::TextDelta {
                        index,
                        text: string(&delta["text"]),
                    },
                    Some("input_json_delta") => Event::ToolArgumentsDelta {
                        index,
                        json: string(&delta["partial_json"]),
                    },
                    Some("thinking_delta") => Event::ThinkingDelta {
                        index,
                        text: string(&delta["thinking"]),
                    },
                    Some("signature_delta") => Event::SignatureDelta {
                        index,
                        signature: string(&delta["signature"]),
                    },
                    _ => return Vec::new(),
                }
            }
            Some("content_block_stop") => Event::BlockStop { index },
            Some("message_delta") => {
                let stop = Event::Finish {
                    stop: stop_reason(data["delta"]["stop_reason"].as_str().unwrap_or("end_turn")),
                };
                return if data["usage"].is_object() {
                    vec![Event::Usage(usage(&data["usage"])), stop]
                } else {
                    vec![stop]
                };
            }
            Some("message_stop") => Event::End,
            Some("error") => Event::Error {
                message: data["error"]["message"]
                    .as_str()
                    .unwrap_or(DEFAULT_ERROR)
                    .into(),
            },
            _ => return Vec::new(),
        };
        vec![event]
    }
}

/// Canonical events → Messages events.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Tokens counted so far.
    usage: Usage,
}

/// A named event.
fn event(name: &str, data: Value) -> SseEvent {
    SseEvent {
        event: Some(name.into()),
        data: data.to_string(),
    }
}

/// A `content_block_delta` event.
fn delta(index: u64, delta: Value) -> SseEvent {
    event(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, canonical: Event) -> Vec<SseEvent> {
        let out = match canonical {
            Event::Start { id, model, usage } => {
                self.usage.merge(usage);
                event(
                    "message_start",
                    json!({"type": "message_start", "message": {
                    "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                    "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": usage.input.unwrap_or(0), "output_tokens": usage.output.unwrap_or(0)}}}),
                )
            }
            Event::BlockStart { index, kind } => {
                let block = match kind {
                    BlockKind::Text => json!({"type": "text", "text": ""}),
                    BlockKind::Thinking => {
                        json!({"type": "thinking", "thinking": "", "signature": ""})
                    }
                    BlockKind::ToolCall { id, name } => {
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                    }
                };
                event(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": index, "content_block": block}),
                )
            }
            Event::TextDelta { index, text } => {
                delta(index, json!({"type": "text_delta", "text": text}))
            }
            Event::ThinkingDelta { index, text } => {
                delta(index, json!({"type": "thinking_delta", "thinking": text}))
            }
            Event::SignatureDelta { index, signature } => delta(
                index,
                json!({"type": "signature_delta", "signature": signature}),
            ),
            Event::ToolArgumentsDelta { index, json } => delta(
                index,
                json!({"type": "input_json_delta", "partial_json": json}),
            ),
            Event::BlockStop { index } => event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ),
            Event::Usage(usage) => {
                self.usage.merge(usage);
                return Vec::new();
            }
            Event::Finish { stop } => event(
                "message_delta",
                json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason_name(&stop), "stop_sequence": null},
                "usage": {"output_tokens": self.usage.output.unwrap_or(0)}}),
            ),
            Event::End => event("message_stop", json!({"type": "message_stop"})),
            Event::Error { message } => event(
                "error",
                json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            ),
            Event::Unparsed { event, data } => SseEvent { event, data },
        };
        vec![out]
    }
}
