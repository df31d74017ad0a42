//! ConverseStream events to canonical events ([`Decoder`]) and back
//! ([`Encoder`]).
//!
//! ConverseStream arrives as AWS event-stream frames; the provider turns each
//! into an event named by its `:event-type` header (`messageStart`,
//! `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`,
//! `messageStop`, `metadata`) with its JSON payload as data, and an exception
//! frame into an `error` event (see `providers::aws::eventstream`).
//!
//! Only tool-use blocks have a `contentBlockStart`: a text or reasoning block
//! begins with its first delta, so the decoder opens blocks on deltas too. The
//! usage arrives in `metadata`, after `messageStop`, so the stop reason is held
//! until then.

use super::{stop_reason, stop_reason_name, usage, usage_json};
use crate::api::sse::SseEvent;
use crate::canonical::{BlockKind, DEFAULT_ERROR, Event, StopReason, Usage};
use crate::codec::{StreamDecoder, StreamEncoder, string};
use crate::json_pointer::Pointer;
use serde_json::{Value, json};

/// What the open block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Text.
    Text,
    /// Reasoning.
    Reasoning,
    /// A tool call.
    ToolUse,
}

/// ConverseStream events → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Whether [`Event::Start`] has gone out.
    started: bool,
    /// The open block: Converse's index, the canonical index, its kind.
    open: Option<(u64, u64, Open)>,
    /// The next canonical block index.
    next_index: u64,
    /// The stop reason from `messageStop`, sent with the usage.
    stop: Option<StopReason>,
}

impl Decoder {
    /// Closes the open block, if any.
    fn close_block(&mut self, out: &mut Vec<Event>) {
        if let Some((_, index, _)) = self.open.take() {
            out.push(Event::BlockStop { index });
        }
    }

    /// Opens a block for Converse block `block` (closing the open one).
    fn open_block(&mut self, block: u64, kind: BlockKind, out: &mut Vec<Event>) -> u64 {
        self.close_block(out);
        let open = match kind {
            BlockKind::Text => Open::Text,
            BlockKind::Thinking => Open::Reasoning,
            BlockKind::ToolCall { .. } => Open::ToolUse,
        };
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((block, index, open));
        out.push(Event::BlockStart { index, kind });
        index
    }

    /// The canonical index of Converse block `block` if it is open and of
    /// `kind`; else a new block (`None` for a tool call, which must have had
    /// its start).
    fn block(&mut self, block: u64, kind: Open, out: &mut Vec<Event>) -> Option<u64> {
        match self.open {
            Some((open, index, open_kind)) if open == block && open_kind == kind => Some(index),
            _ => match kind {
                Open::Text => Some(self.open_block(block, BlockKind::Text, out)),
                Open::Reasoning => Some(self.open_block(block, BlockKind::Thinking, out)),
                Open::ToolUse => None,
            },
        }
    }

    /// The events of a `contentBlockDelta`.
    fn delta(&mut self, data: &Value, out: &mut Vec<Event>) {
        let block = data["contentBlockIndex"].as_u64().unwrap_or(0);
        let delta = &data["delta"];
        if let Some(text) = delta["text"].as_str() {
            if let Some(index) = self.block(block, Open::Text, out) {
                out.push(Event::TextDelta {
                    index,
                    text: text.into(),
                });
            }
        } else if let Some(input) = delta["toolUse"]["input"].as_str() {
            if let Some(index) = self.block(block, Open::ToolUse, out) {
                out.push(Event::ToolArgumentsDelta {
                    index,
                    json: input.into(),
                });
            }
        } else if let Some(reasoning) = delta.get("reasoningContent") {
            let Some(index) = self.block(block, Open::Reasoning, out) else {
                return;
            };
            if let Some(text) = reasoning["text"].as_str() {
                out.push(Event::ThinkingDelta {
                    index,
                    text: text.into(),
                });
            }
            if let Some(signature) = reasoning["signature"].as_str() {
                out.push(Event::SignatureDelta {
                    index,
                    signature: signature.into(),
                });
            }
        }
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, upstream: SseEvent) -> Vec<Event> {
        let Ok(data) = serde_json::from_str::<Value>(&upstream.data) else {
            return vec![Event::Unparsed {
                event: upstream.event,
                data: upstream.data,
            }];
        };
        let name = upstream.event.as_deref().unwrap_or_default();
        if name == "error" || name.ends_with("Exception") {
            let message = data
                .at("/error/message")
                .or(data.get("message"))
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_ERROR);
            return vec![Event::Error {
                message: message.into(),
            }];
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: String::new(),
                model: String::new(),
                usage: Usage::default(),
            });
        }
        match name {
            "contentBlockStart" => {
                let block = data["contentBlockIndex"].as_u64().unwrap_or(0);
                let call = &data["start"]["toolUse"];
                if call.is_object() {
                    let kind = BlockKind::ToolCall {
                        id: string(&call["toolUseId"]),
                        name: string(&call["name"]),
                    };
                    self.open_block(block, kind, &mut out);
                }
            }
            "contentBlockDelta" => self.delta(&data, &mut out),
            "contentBlockStop" => self.close_block(&mut out),
            "messageStop" => {
                self.close_block(&mut out);
                self.stop = Some(stop_reason(
                    data["stopReason"].as_str().unwrap_or("end_turn"),
                ));
            }
            "metadata" => {
                self.close_block(&mut out);
                if data["usage"].is_object() {
                    out.push(Event::Usage(usage(&data["usage"])));
                }
                out.push(Event::Finish {
                    stop: self.stop.take().unwrap_or_default(),
                });
                out.push(Event::End);
            }
            _ => {}
        }
        out
    }
}

/// Canonical events → ConverseStream events.
#[derive(Debug, Default)]
pub struct Encoder {
    /// Tokens counted so far.
    usage: Usage,
}

/// An event named `name`.
fn event(name: &str, data: Value) -> SseEvent {
    SseEvent {
        event: Some(name.into()),
        data: data.to_string(),
    }
}

/// A `contentBlockDelta` event.
fn delta(index: u64, delta: Value) -> SseEvent {
    event(
        "contentBlockDelta",
        json!({"contentBlockIndex": index, "delta": delta}),
    )
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, canonical: Event) -> Vec<SseEvent> {
        let out = match canonical {
            Event::Start { usage, .. } => {
                self.usage.merge(usage);
                event("messageStart", json!({"role": "assistant"}))
            }
            Event::BlockStart {
                index,
                kind: BlockKind::ToolCall { id, name },
            } => event(
                "contentBlockStart",
                json!({"contentBlockIndex": index,
                       "start": {"toolUse": {"toolUseId": id, "name": name}}}),
            ),
            Event::BlockStart { .. } => return Vec::new(),
            Event::TextDelta { index, text } => delta(index, json!({ "text": text })),
            Event::ThinkingDelta { index, text } => {
                delta(index, json!({"reasoningContent": {"text": text}}))
            }
            Event::SignatureDelta { index, signature } => {
                delta(index, json!({"reasoningContent": {"signature": signature}}))
            }
            Event::ToolArgumentsDelta { index, json } => {
                delta(index, json!({"toolUse": {"input": json}}))
            }
            Event::BlockStop { index } => {
                event("contentBlockStop", json!({ "contentBlockIndex": index }))
            }
            Event::Usage(usage) => {
                self.usage.merge(usage);
                return Vec::new();
            }
            Event::Finish { stop } => event(
                "messageStop",
                json!({ "stopReason": stop_reason_name(&stop) }),
            ),
            Event::End => event(
                "metadata",
                json!({"usage": usage_json(&self.usage), "metrics": {"latencyMs": 0}}),
            ),
            Event::Error { message } => event(
                "error",
                json!({"type": "error", "error": {"type": "api_error", "message": message}}),
            ),
            Event::Unparsed { event, data } => SseEvent { event, data },
        };
        vec![out]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str, data: Value) -> SseEvent {
        event(name, data)
    }

    #[test]
    fn text_blocks_open_on_their_first_delta_and_usage_comes_before_the_finish() {
        let mut decoder = Decoder::default();
        let events: Vec<Event> = [
            frame("messageStart", json!({"role": "assistant"})),
            frame(
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
            ),
            frame("contentBlockStop", json!({"contentBlockIndex": 0})),
            frame("messageStop", json!({"stopReason": "max_tokens"})),
            frame(
                "metadata",
                json!({"usage": {"inputTokens": 3, "outputTokens": 1}}),
            ),
        ]
        .into_iter()
        .flat_map(|e| decoder.decode(e))
        .collect();
        assert_eq!(
            &events[1..],
            [
                Event::BlockStart {
                    index: 0,
                    kind: BlockKind::Text
                },
                Event::TextDelta {
                    index: 0,
                    text: "Hi".into()
                },
                Event::BlockStop { index: 0 },
                Event::Usage(Usage {
                    input: Some(3),
                    output: Some(1),
                    ..Usage::default()
                }),
                Event::Finish {
                    stop: StopReason::MaxTokens
                },
                Event::End,
            ]
        );
    }

    #[test]
    fn an_exception_is_an_error_event() {
        let mut decoder = Decoder::default();
        let events = decoder.decode(frame(
            "throttlingException",
            json!({"message": "Too many requests"}),
        ));
        assert_eq!(
            events,
            [Event::Error {
                message: "Too many requests".into()
            }]
        );
    }
}
