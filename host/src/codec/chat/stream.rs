//! Chat Completions streams: chunks to canonical events ([`Decoder`]) and back
//! ([`Encoder`]).
//!
//! A chunk stream has no content blocks: text and tool calls arrive as deltas
//! of one message, a tool call known by its position in `tool_calls`. The
//! decoder opens a block whenever the kind of delta (text, or another tool
//! call) changes; the encoder maps blocks back to tool-call positions. The
//! finish reason arrives before the usage chunk, so the decoder holds it until
//! `[DONE]`.

use super::{finish_reason, stop_reason, usage, usage_json};
use crate::api::sse::SseEvent;
use crate::canonical::{BlockKind, DEFAULT_ERROR, Event, StopReason, Usage};
use crate::codec::{StreamDecoder, StreamEncoder, string, unix_now};
use crate::json_pointer::Pointer;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Chat Completions chunks → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Whether [`Event::Start`] has gone out.
    started: bool,
    /// The open block: its index and, for a tool call, its position in
    /// `tool_calls`.
    open: Option<(u64, Option<u64>)>,
    /// The next block's index.
    next_index: u64,
    /// The finish reason seen, sent at `[DONE]`.
    stop: Option<StopReason>,
}

impl Decoder {
    /// Opens a block (closing the open one).
    fn open_block(&mut self, tool: Option<u64>, kind: BlockKind, out: &mut Vec<Event>) -> u64 {
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, tool));
        out.push(Event::BlockStart { index, kind });
        index
    }

    /// One entry of a delta's `tool_calls`: more of the open call, or a new one.
    fn tool_call_delta(&mut self, call: &Value, out: &mut Vec<Event>) {
        let tool = call["index"].as_u64().unwrap_or(0);
        let index = match self.open {
            Some((index, Some(open))) if open == tool => index,
            _ => {
                let kind = BlockKind::ToolCall {
                    id: string(&call["id"]),
                    name: string(&call["function"]["name"]),
                };
                self.open_block(Some(tool), kind, out)
            }
        };
        if let Some(json) = call
            .at("/function/arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            out.push(Event::ToolArgumentsDelta {
                index,
                json: json.into(),
            });
        }
    }

    /// Closes the open block, if any.
    fn close_block(&mut self, out: &mut Vec<Event>) {
        if let Some((index, _)) = self.open.take() {
            out.push(Event::BlockStop { index });
        }
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, upstream: SseEvent) -> Vec<Event> {
        let mut out = Vec::new();
        if upstream.data.trim() == "[DONE]" {
            self.close_block(&mut out);
            out.push(Event::Finish {
                stop: self.stop.take().unwrap_or_default(),
            });
            out.push(Event::End);
            return out;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&upstream.data) else {
            return vec![Event::Unparsed {
                event: upstream.event,
                data: upstream.data,
            }];
        };
        if let Some(error) = chunk.get("error") {
            let message = error["message"].as_str().unwrap_or(DEFAULT_ERROR);
            return vec![Event::Error {
                message: message.into(),
            }];
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: string(&chunk["id"]),
                model: string(&chunk["model"]),
                usage: Usage::default(),
            });
        }
        if chunk["usage"].is_object() {
            out.push(Event::Usage(usage(&chunk["usage"])));
        }
        let choice = &chunk["choices"][0];
        let calls: Vec<&Value> = choice
            .at("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        // One delta may carry text and tool-call arguments together (a
        // gateway flushing what it held back does): what continues the open
        // block goes first, so that no block is closed and then continued.
        let continues_open = |call: &&Value| matches!(self.open, Some((_, Some(open))) if call["index"].as_u64().unwrap_or(0) == open);
        let (first, rest): (Vec<&Value>, Vec<&Value>) = calls.into_iter().partition(continues_open);
        for call in first {
            self.tool_call_delta(call, &mut out);
        }
        if let Some(text) = choice
            .at("/delta/content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = match self.open {
                Some((index, None)) => index,
                _ => self.open_block(None, BlockKind::Text, &mut out),
            };
            out.push(Event::TextDelta {
                index,
                text: text.into(),
            });
        }
        for call in rest {
            self.tool_call_delta(call, &mut out);
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            self.stop = Some(stop_reason(finish));
        }
        out
    }
}

/// Canonical events → Chat Completions chunks.
#[derive(Debug)]
pub struct Encoder {
    /// Whether the client asked for the usage chunk.
    include_usage: bool,
    /// The answer's id.
    id: String,
    /// The model answering.
    model: String,
    /// When the stream began; every chunk carries it.
    created: u64,
    /// Tokens counted so far.
    usage: Usage,
    /// Block index → position in `tool_calls`, for tool-call blocks (a map: a
    /// stream of many tool calls must not cost a scan per delta).
    tools: HashMap<u64, u64>,
    /// Tool calls started so far.
    tool_count: u64,
}

impl Encoder {
    /// An encoder; `include_usage` adds the final usage chunk the client asked for.
    pub fn new(include_usage: bool) -> Self {
        Encoder {
            include_usage,
            id: String::new(),
            model: String::new(),
            created: unix_now(),
            usage: Usage::default(),
            tools: HashMap::new(),
            tool_count: 0,
        }
    }

    /// A chunk with one choice.
    fn chunk(&self, delta: Value, finish: Value) -> SseEvent {
        data(
            json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]}),
        )
    }
}

/// An unnamed event.
fn data(value: Value) -> SseEvent {
    SseEvent {
        event: None,
        data: value.to_string(),
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: Event) -> Vec<SseEvent> {
        match event {
            Event::Start { id, model, usage } => {
                self.id = id;
                self.model = model;
                self.usage.merge(usage);
                vec![self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)]
            }
            Event::BlockStart {
                index,
                kind: BlockKind::ToolCall { id, name },
            } => {
                let tool = self.tool_count;
                self.tool_count += 1;
                // A repeated block index keeps its first tool call.
                self.tools.entry(index).or_insert(tool);
                vec![self.chunk(
                    json!({"tool_calls": [{"index": tool, "id": id, "type": "function",
                                           "function": {"name": name, "arguments": ""}}]}),
                    Value::Null,
                )]
            }
            Event::TextDelta { text, .. } => {
                vec![self.chunk(json!({"content": text}), Value::Null)]
            }
            Event::ToolArgumentsDelta { index, json } => match self.tools.get(&index) {
                Some(tool) => vec![self.chunk(
                    json!({"tool_calls": [{"index": tool, "function": {"arguments": json}}]}),
                    Value::Null,
                )],
                None => Vec::new(),
            },
            Event::Usage(usage) => {
                self.usage.merge(usage);
                Vec::new()
            }
            Event::Finish { stop } => vec![self.chunk(json!({}), json!(finish_reason(&stop)))],
            Event::End => {
                let mut out = Vec::new();
                if self.include_usage {
                    out.push(data(
                        json!({"id": self.id, "object": "chat.completion.chunk",
                        "created": self.created, "model": self.model, "choices": [],
                        "usage": usage_json(&self.usage)}),
                    ));
                }
                out.push(SseEvent {
                    event: None,
                    data: "[DONE]".into(),
                });
                out
            }
            Event::Error { message } => vec![data(
                json!({"error": {"message": message, "type": "api_error", "param": null, "code": null}}),
            )],
            Event::Unparsed { event, data } => vec![SseEvent { event, data }],
            Event::BlockStart { .. }
            | Event::ThinkingDelta { .. }
            | Event::SignatureDelta { .. }
            | Event::BlockStop { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta}]})
                .to_string(),
        }
    }

    #[test]
    fn text_and_the_open_calls_arguments_in_one_delta_keep_the_call_whole() {
        let mut decoder = Decoder::default();
        let mut events = decoder.decode(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1",
            "type": "function", "function": {"name": "run", "arguments": ""}}]})));
        // what a gateway flushes at the end: held-back text and arguments together
        events.extend(decoder.decode(chunk(
            json!({"content": "done", "tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}),
        )));
        let starts: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e, Event::BlockStart { .. }))
            .collect();
        assert_eq!(starts.len(), 2, "one call and one text block: {events:?}");
        let arguments: Vec<(u64, &str)> = events
            .iter()
            .filter_map(|e| match e {
                Event::ToolArgumentsDelta { index, json } => Some((*index, json.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            arguments,
            [(0, "{\"a\":1}")],
            "the arguments belong to call 0's block"
        );
    }
}
