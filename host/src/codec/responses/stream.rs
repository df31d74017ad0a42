//! Responses streams: canonical events to Responses events ([`Encoder`]) and
//! back ([`Decoder`]).
//!
//! A Responses stream is a sequence of named events, each with a `type` and a
//! `sequence_number` counting from 0: `response.created` and
//! `response.in_progress`, then each output item in turn
//! (`response.output_item.added`, its deltas, `response.output_item.done`),
//! then `response.completed` (or `response.incomplete`) with the whole
//! response, or `response.failed` on an error. A canonical block is one output
//! item: text a `message` with one `output_text` part, a tool call a
//! `function_call`, thinking a `reasoning` item with one summary part (only
//! once there is text). Item ids are made as [`super::encode_answer`] makes
//! them, so the final response is the one a whole answer would give. A
//! provider error ends the stream with `response.failed` (code
//! `server_error`); nothing but unparsed provider bytes follows a final event.
//!
//! The decoder reads a Responses provider's stream: function-call and
//! reasoning items open a block when added, text opens one at its first
//! delta, an item's content comes from `response.output_item.done` when no
//! delta carried it, and `response.completed` / `response.incomplete` give
//! the usage, the stop and the end; `response.failed` and `error` an error.

use super::{
    base_id, function_call_id, function_call_item, message_id, message_item, output_text,
    reasoning_id, reasoning_item, response, stop_reason, usage,
};
use crate::api::sse::SseEvent;
use crate::canonical::{BlockKind, DEFAULT_ERROR, Event, StopReason, Usage};
use crate::codec::{StreamDecoder, StreamEncoder, string, unix_now};
use crate::json_pointer::Pointer;
use serde_json::{Value, json};

/// What the open output item is.
#[derive(Debug)]
enum Item {
    /// A message with one text part.
    Text,
    /// A reasoning item; whether its summary part has been added.
    Thinking { summary: bool },
    /// A function call.
    ToolCall {
        /// The call's id.
        call_id: String,
        /// The tool's name.
        name: String,
    },
}

/// The output item being streamed.
#[derive(Debug)]
struct Open {
    /// The canonical block it is.
    index: u64,
    /// Its place in the response's `output`.
    output_index: usize,
    /// Its id.
    item_id: String,
    /// What it is.
    item: Item,
    /// Its text (or arguments) so far.
    text: String,
}

/// Canonical events → Responses events.
#[derive(Debug)]
pub struct Encoder {
    /// The answer's id.
    id: String,
    /// The model answering.
    model: String,
    /// When the stream began.
    created_at: u64,
    /// The next event's `sequence_number`.
    sequence: u64,
    /// Tokens counted so far.
    usage: Usage,
    /// Why the answer stopped, once known.
    stop: Option<StopReason>,
    /// The finished output items.
    output: Vec<Value>,
    /// The item being streamed.
    open: Option<Open>,
    /// Whether `response.created` has gone out.
    started: bool,
    /// Whether the final event (completed, incomplete or failed) has gone out.
    done: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            id: String::new(),
            model: String::new(),
            created_at: unix_now(),
            sequence: 0,
            usage: Usage::default(),
            stop: None,
            output: Vec::new(),
            open: None,
            started: false,
            done: false,
        }
    }
}

impl Encoder {
    /// An event named by its `type`, numbered.
    fn event(&mut self, mut data: Value, out: &mut Vec<SseEvent>) {
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.push(SseEvent {
            event: data["type"].as_str().map(str::to_string),
            data: data.to_string(),
        });
    }

    /// `response.created` and `response.in_progress`, once: clients expect
    /// them first, even when the provider's stream began otherwise.
    fn start(&mut self, out: &mut Vec<SseEvent>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let response = self.response(None);
        self.event(
            json!({"type": "response.created", "response": response}),
            out,
        );
        self.event(
            json!({"type": "response.in_progress", "response": response}),
            out,
        );
    }

    /// The response so far; `stop` is `None` while in progress.
    fn response(&self, stop: Option<&StopReason>) -> Value {
        let usage = stop.is_some().then_some(&self.usage);
        response(
            &self.id,
            &self.model,
            self.created_at,
            self.output.clone(),
            stop,
            usage,
        )
    }

    /// Opens an output item for a block (closing the open one).
    fn open(&mut self, index: u64, kind: BlockKind, out: &mut Vec<SseEvent>) {
        self.close(out);
        let output_index = self.output.len();
        let base = base_id(&self.id).to_string();
        let (item_id, item, added) = match kind {
            BlockKind::Text => {
                let id = message_id(&base, output_index);
                let added = message_item(&id, "in_progress", Vec::new());
                (id, Item::Text, added)
            }
            BlockKind::Thinking => {
                let id = reasoning_id(&base, output_index);
                let added = reasoning_item(&id, "");
                (id, Item::Thinking { summary: false }, added)
            }
            BlockKind::ToolCall { id, name } => {
                let added = function_call_item(&id, &name, "", "in_progress");
                (
                    function_call_id(&id),
                    Item::ToolCall { call_id: id, name },
                    added,
                )
            }
        };
        self.event(
            json!({"type": "response.output_item.added", "output_index": output_index, "item": added}),
            out,
        );
        if matches!(item, Item::Text) {
            self.event(
                json!({"type": "response.content_part.added", "item_id": item_id,
                       "output_index": output_index, "content_index": 0, "part": output_text("")}),
                out,
            );
        }
        self.open = Some(Open {
            index,
            output_index,
            item_id,
            item,
            text: String::new(),
        });
    }

    /// Closes the open item, if any, and keeps it for the final response.
    fn close(&mut self, out: &mut Vec<SseEvent>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let (item_id, output_index, text) = (&open.item_id, open.output_index, &open.text);
        let done = match &open.item {
            Item::Text => {
                self.event(
                    json!({"type": "response.output_text.done", "item_id": item_id,
                           "output_index": output_index, "content_index": 0, "text": text,
                           "logprobs": []}),
                    out,
                );
                self.event(
                    json!({"type": "response.content_part.done", "item_id": item_id,
                           "output_index": output_index, "content_index": 0,
                           "part": output_text(text)}),
                    out,
                );
                message_item(item_id, "completed", vec![output_text(text)])
            }
            Item::Thinking { summary } => {
                if *summary {
                    let part = json!({"type": "summary_text", "text": text});
                    self.event(
                        json!({"type": "response.reasoning_summary_text.done", "item_id": item_id,
                               "output_index": output_index, "summary_index": 0, "text": text}),
                        out,
                    );
                    self.event(
                        json!({"type": "response.reasoning_summary_part.done", "item_id": item_id,
                               "output_index": output_index, "summary_index": 0, "part": part}),
                        out,
                    );
                }
                reasoning_item(item_id, text)
            }
            Item::ToolCall { call_id, name } => {
                let arguments = if text.is_empty() { "{}" } else { text.as_str() };
                self.event(
                    json!({"type": "response.function_call_arguments.done", "item_id": item_id,
                           "output_index": output_index, "name": name, "arguments": arguments}),
                    out,
                );
                function_call_item(call_id, name, arguments, "completed")
            }
        };
        self.event(
            json!({"type": "response.output_item.done", "output_index": output_index, "item": done}),
            out,
        );
        self.output.push(done);
    }

    /// A delta for the open item, if `index` is the open block.
    fn delta(&mut self, index: u64, text: String, out: &mut Vec<SseEvent>) {
        let Some(open) = self.open.as_mut().filter(|open| open.index == index) else {
            return;
        };
        open.text.push_str(&text);
        let (item_id, output_index) = (open.item_id.clone(), open.output_index);
        let data = match &mut open.item {
            Item::Text => json!({"type": "response.output_text.delta", "item_id": item_id,
                "output_index": output_index, "content_index": 0, "delta": text, "logprobs": []}),
            Item::ToolCall { .. } => {
                json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
                       "output_index": output_index, "delta": text})
            }
            Item::Thinking { summary } => {
                let first = !std::mem::replace(summary, true);
                if first {
                    self.event(
                        json!({"type": "response.reasoning_summary_part.added", "item_id": item_id,
                               "output_index": output_index, "summary_index": 0,
                               "part": {"type": "summary_text", "text": ""}}),
                        out,
                    );
                }
                json!({"type": "response.reasoning_summary_text.delta", "item_id": item_id,
                       "output_index": output_index, "summary_index": 0, "delta": text})
            }
        };
        self.event(data, out);
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: Event) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if let Event::Unparsed { event, data } = event {
            // Not an event of the provider's API: it goes on unchanged, for
            // the pipeline to report as malformed.
            out.push(SseEvent { event, data });
            return out;
        }
        if self.done {
            return out;
        }
        match event {
            Event::Start { id, model, usage } if !self.started => {
                self.id = id;
                self.model = model;
                self.usage.merge(usage);
                self.start(&mut out);
            }
            Event::Start { usage, .. } => self.usage.merge(usage),
            _ if !self.started => {
                self.start(&mut out);
                out.extend(self.encode(event));
            }
            Event::BlockStart { index, kind } => self.open(index, kind, &mut out),
            Event::TextDelta { index, text } | Event::ThinkingDelta { index, text } => {
                self.delta(index, text, &mut out)
            }
            Event::ToolArgumentsDelta { index, json } => self.delta(index, json, &mut out),
            Event::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|open| open.index == index) {
                    self.close(&mut out);
                }
            }
            Event::Usage(usage) => self.usage.merge(usage),
            Event::Finish { stop } => self.stop = Some(stop),
            Event::End => {
                self.close(&mut out);
                let stop = self.stop.take().unwrap_or_default();
                let response = self.response(Some(&stop));
                let kind = if response["status"] == "incomplete" {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                self.event(json!({"type": kind, "response": response}), &mut out);
                self.done = true;
            }
            Event::Error { message } => {
                let mut response = self.response(None);
                response["status"] = json!("failed");
                response["error"] = json!({"code": "server_error", "message": message});
                self.event(
                    json!({"type": "response.failed", "response": response}),
                    &mut out,
                );
                self.done = true;
            }
            Event::SignatureDelta { .. } | Event::Unparsed { .. } => {}
        }
        out
    }
}

/// Responses events → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Whether [`Event::Start`] has gone out.
    started: bool,
    /// The open block: its index and whether it is text, thinking or a call.
    open: Option<(u64, OpenKind)>,
    /// The next block's index.
    next_index: u64,
    /// Whether the answer called a tool (its stop is then tool use).
    called_tool: bool,
    /// Whether the open block has had a delta (a provider that sends none
    /// gives the content only in `response.output_item.done`).
    had_delta: bool,
}

/// What kind of block the decoder has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenKind {
    /// Text.
    Text,
    /// Reasoning.
    Thinking,
    /// A tool call.
    ToolCall,
}

impl Decoder {
    /// Opens a block (closing the open one) and returns its index.
    fn open_block(&mut self, kind: BlockKind, out: &mut Vec<Event>) -> u64 {
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        let open = match kind {
            BlockKind::Text => OpenKind::Text,
            BlockKind::Thinking => OpenKind::Thinking,
            BlockKind::ToolCall { .. } => OpenKind::ToolCall,
        };
        self.open = Some((index, open));
        self.had_delta = false;
        out.push(Event::BlockStart { index, kind });
        index
    }

    /// The open block of `kind`, opened if another (or none) is open.
    fn block(&mut self, kind: OpenKind, out: &mut Vec<Event>) -> u64 {
        match self.open {
            Some((index, open)) if open == kind => index,
            _ => self.open_block(
                if kind == OpenKind::Text {
                    BlockKind::Text
                } else {
                    BlockKind::Thinking
                },
                out,
            ),
        }
    }

    /// The content of a finished item whose deltas never came: a message's
    /// text, a call's arguments, a reasoning summary, as one delta.
    fn undelivered(&mut self, item: &Value, out: &mut Vec<Event>) {
        match item["type"].as_str() {
            Some("message") => {
                let text = super::text_of(&item["content"]);
                if !text.is_empty() {
                    let index = self.block(OpenKind::Text, out);
                    out.push(Event::TextDelta { index, text });
                }
            }
            Some("function_call") => {
                if let Some((index, OpenKind::ToolCall)) = self.open {
                    let json = string(&item["arguments"]);
                    if !json.is_empty() {
                        out.push(Event::ToolArgumentsDelta { index, json });
                    }
                }
            }
            Some("reasoning") => {
                if let Some((index, OpenKind::Thinking)) = self.open {
                    let text = super::summary_text(&item["summary"]);
                    if !text.is_empty() {
                        out.push(Event::ThinkingDelta { index, text });
                    }
                }
            }
            _ => {}
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
        let Ok(data) = serde_json::from_str::<Value>(&upstream.data) else {
            if upstream.data.trim() == "[DONE]" {
                return out;
            }
            return vec![Event::Unparsed {
                event: upstream.event,
                data: upstream.data,
            }];
        };
        let kind = data["type"]
            .as_str()
            .or(upstream.event.as_deref())
            .unwrap_or("");
        match kind {
            "response.created" | "response.in_progress" if !self.started => {
                self.started = true;
                out.push(Event::Start {
                    id: string(&data["response"]["id"]),
                    model: string(&data["response"]["model"]),
                    usage: Usage::default(),
                });
            }
            "response.output_item.added" => {
                let item = &data["item"];
                match item["type"].as_str() {
                    Some("function_call") => {
                        self.called_tool = true;
                        let kind = BlockKind::ToolCall {
                            id: string(&item["call_id"]),
                            name: string(&item["name"]),
                        };
                        self.open_block(kind, &mut out);
                    }
                    Some("reasoning") => {
                        self.open_block(BlockKind::Thinking, &mut out);
                    }
                    _ => {}
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let index = self.block(OpenKind::Text, &mut out);
                self.had_delta = true;
                out.push(Event::TextDelta {
                    index,
                    text: string(&data["delta"]),
                });
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let index = self.block(OpenKind::Thinking, &mut out);
                self.had_delta = true;
                out.push(Event::ThinkingDelta {
                    index,
                    text: string(&data["delta"]),
                });
            }
            "response.function_call_arguments.delta" => {
                if let Some((index, OpenKind::ToolCall)) = self.open {
                    self.had_delta = true;
                    out.push(Event::ToolArgumentsDelta {
                        index,
                        json: string(&data["delta"]),
                    });
                }
            }
            "response.output_item.done" => {
                if !self.had_delta {
                    self.undelivered(&data["item"], &mut out);
                }
                self.close_block(&mut out);
            }
            "response.completed" | "response.incomplete" => {
                self.close_block(&mut out);
                let response = &data["response"];
                if response["usage"].is_object() {
                    out.push(Event::Usage(usage(&response["usage"])));
                }
                out.push(Event::Finish {
                    stop: stop_reason(response, self.called_tool),
                });
                out.push(Event::End);
            }
            "response.failed" | "error" => {
                let message = data
                    .at("/response/error/message")
                    .or(data.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_ERROR);
                out.push(Event::Error {
                    message: message.into(),
                });
            }
            _ => {}
        }
        out
    }
}
