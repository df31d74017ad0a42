//! Guarding an OpenAI Responses stream, event by event.
//!
//! Text arrives in delta events (`response.output_text.delta`,
//! `response.refusal.delta`, `response.function_call_arguments.delta`,
//! `response.custom_tool_call_input.delta`,
//! `response.reasoning_summary_text.delta`, `response.reasoning_text.delta`),
//! each a channel of the [`StreamGuard`](crate::guardrails::stream::StreamGuard)
//! named by its item and part. Unlike the other APIs, a Responses stream says
//! the same text again when it is done: in the matching `.done` event, in
//! `response.content_part.done`, `response.output_item.done` and the final
//! response (`response.completed`, `response.incomplete`, `response.failed`).
//! Each of those is rewritten with the text the client was actually given
//! (released, redacted), so no repeat carries what a guardrail took out; a
//! `.done` event is preceded by a delta with what its channel still held back.
//! A text that arrives only in a repeat (no deltas) is checked there.
//!
//! Items of other types (built-in tools' calls and results), annotations and
//! every event type not named here are checked whole, every string but
//! names and ids. The events are numbered again (`sequence_number`), as the
//! gateway may drop an empty delta or add a flushing one. With no response
//! guardrail, events pass as they came.

use super::StreamTransformer;
use crate::api::segments::{self, Extracted};
use crate::api::sse::{SseEvent, format_event};
use crate::json_pointer::Pointer;
use crate::sandbox::SegmentKind;
use serde_json::{Value, json};
use std::collections::HashMap;

/// What a Responses stream keeps between events.
#[derive(Debug, Default)]
pub(super) struct State {
    /// The number of the next event sent.
    sequence: u64,
    /// Each channel's text as released to the client so far.
    released: HashMap<String, String>,
}

/// A channel of text: its name, kind, the delta event type that carries it
/// and that event's text field.
struct Text {
    channel: String,
    kind: SegmentKind,
    delta_type: &'static str,
    field: &'static str,
}

impl Text {
    /// The channel a delta or done event of `kind` (its `type`) writes to.
    fn of_event(kind: &str, event: &Value) -> Option<Text> {
        let item = event_item_key(event);
        let index = |field: &str| event.get(field).and_then(Value::as_u64).unwrap_or(0);
        let (name, segment, delta_type, field) = match kind {
            "response.output_text.delta" | "response.output_text.done" => (
                format!("{item}.text{}", index("content_index")),
                SegmentKind::Message,
                "response.output_text.delta",
                if kind.ends_with("delta") {
                    "delta"
                } else {
                    "text"
                },
            ),
            "response.refusal.delta" | "response.refusal.done" => (
                format!("{item}.refusal{}", index("content_index")),
                SegmentKind::Message,
                "response.refusal.delta",
                if kind.ends_with("delta") {
                    "delta"
                } else {
                    "refusal"
                },
            ),
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => (
                format!("{item}.args"),
                SegmentKind::ToolCall,
                "response.function_call_arguments.delta",
                if kind.ends_with("delta") {
                    "delta"
                } else {
                    "arguments"
                },
            ),
            "response.custom_tool_call_input.delta" | "response.custom_tool_call_input.done" => (
                format!("{item}.args"),
                SegmentKind::ToolCall,
                "response.custom_tool_call_input.delta",
                if kind.ends_with("delta") {
                    "delta"
                } else {
                    "input"
                },
            ),
            "response.reasoning_summary_text.delta" | "response.reasoning_summary_text.done" => (
                format!("{item}.summary{}", index("summary_index")),
                SegmentKind::Message,
                "response.reasoning_summary_text.delta",
                if kind.ends_with("delta") {
                    "delta"
                } else {
                    "text"
                },
            ),
            "response.reasoning_text.delta" | "response.reasoning_text.done" => (
                format!("{item}.reasoning{}", index("content_index")),
                SegmentKind::Message,
                "response.reasoning_text.delta",
                if kind.ends_with("delta") {
                    "delta"
                } else {
                    "text"
                },
            ),
            _ => return None,
        };
        Some(Text {
            channel: name,
            kind: segment,
            delta_type,
            field,
        })
    }
}

/// The key of the item an event is about: its `item_id`, else its place.
fn event_item_key(event: &Value) -> String {
    match event.get("item_id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => format!(
            "#{}",
            event
                .get("output_index")
                .and_then(Value::as_u64)
                .unwrap_or(0)
        ),
    }
}

/// The key of an output item: its `id`, else its place in the output.
fn item_key(item: &Value, index: usize) -> String {
    match item.get("id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => format!("#{index}"),
    }
}

impl StreamTransformer {
    /// The output for one event of a Responses stream.
    pub(super) fn responses_event(&mut self, event: SseEvent) -> String {
        if self.guard.is_idle() {
            if let Some(kind) = event_type(&event) {
                self.responses_end(&kind);
            }
            return format_event(event.event.as_deref(), &event.data);
        }
        let mut data = match self.object(&event) {
            Ok(data) => data,
            Err(failed) => return failed,
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default()
            .to_string();
        match self.responses_guard(&kind, &mut data) {
            Ok(events) => {
                self.responses_end(&kind);
                events
                    .into_iter()
                    .map(|mut event| {
                        event["sequence_number"] = json!(self.responses.sequence);
                        self.responses.sequence += 1;
                        let name = event.get("type").and_then(Value::as_str).unwrap_or(&kind);
                        format_event(Some(name), &event.to_string())
                    })
                    .collect()
            }
            Err(block) => block,
        }
    }

    /// Marks the stream ended at its final events.
    fn responses_end(&mut self, kind: &str) {
        match kind {
            "response.completed" | "response.incomplete" => {
                self.ended = true;
                self.completed = true;
            }
            "response.failed" | "error" => self.ended = true,
            _ => {}
        }
    }

    /// The events to send for one upstream event, guarded.
    fn responses_guard(&mut self, kind: &str, data: &mut Value) -> Result<Vec<Value>, String> {
        if let Some(text) = Text::of_event(kind, data) {
            let upstream = data[text.field].as_str().unwrap_or_default().to_string();
            if text.field == "delta" {
                let released = self.release(&text.channel, text.kind, &upstream)?;
                // The channel is known from its first delta on, even when the
                // guard holds all of it back so far.
                self.responses
                    .released
                    .entry(text.channel)
                    .or_default()
                    .push_str(&released);
                if released.is_empty() {
                    return Ok(Vec::new());
                }
                data["delta"] = json!(released);
                return Ok(vec![data.take()]);
            }
            let (rest, full) = self.settle(&text.channel, text.kind, &upstream)?;
            data[text.field] = json!(full);
            let mut events = Vec::new();
            if !rest.is_empty() {
                let mut flush = json!({"type": text.delta_type, "delta": rest});
                for field in ["item_id", "output_index", "content_index", "summary_index"] {
                    if let Some(value) = data.get(field) {
                        flush[field] = value.clone();
                    }
                }
                events.push(flush);
            }
            events.push(data.take());
            return Ok(events);
        }
        match kind {
            "response.content_part.done" | "response.reasoning_summary_part.done" => {
                let item = event_item_key(data);
                let part = &mut data["part"];
                let (channel, field) = match part.get("type").and_then(Value::as_str) {
                    Some("output_text") => (
                        format!("{item}.text{}", data_index(data, "content_index")),
                        "text",
                    ),
                    Some("refusal") => (
                        format!("{item}.refusal{}", data_index(data, "content_index")),
                        "refusal",
                    ),
                    Some("summary_text") => (
                        format!("{item}.summary{}", data_index(data, "summary_index")),
                        "text",
                    ),
                    Some("reasoning_text") => (
                        format!("{item}.reasoning{}", data_index(data, "content_index")),
                        "text",
                    ),
                    _ => return self.responses_whole(data),
                };
                let upstream = data["part"][field].as_str().unwrap_or_default().to_string();
                let (_, full) = self.settle(&channel, SegmentKind::Message, &upstream)?;
                data["part"][field] = json!(full);
                Ok(vec![data.take()])
            }
            "response.output_item.done" => {
                let index = data_index(data, "output_index") as usize;
                self.settle_item(&mut data["item"], index)?;
                Ok(vec![data.take()])
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(items) = data
                    .pointer_mut("/response/output")
                    .and_then(Value::as_array_mut)
                {
                    for (index, item) in items.iter_mut().enumerate() {
                        self.settle_item(item, index)?;
                    }
                }
                if kind == "response.failed"
                    && let Some(error) = data.pointer_mut("/response/error")
                {
                    self.guard_error(error)?;
                }
                Ok(vec![data.take()])
            }
            "error" => {
                self.guard_error(data)?;
                Ok(vec![data.take()])
            }
            // What the response says it is about to do, echoing the request
            // (which the request guardrails checked), or a part not yet
            // written.
            "response.created"
            | "response.in_progress"
            | "response.queued"
            | "response.content_part.added"
            | "response.reasoning_summary_part.added" => Ok(vec![data.take()]),
            "response.output_item.added" => {
                let index = data_index(data, "output_index") as usize;
                self.settle_item(&mut data["item"], index)?;
                Ok(vec![data.take()])
            }
            _ => self.responses_whole(data),
        }
    }

    /// An event of another kind, checked whole: every string but its names.
    fn responses_whole(&mut self, data: &mut Value) -> Result<Vec<Value>, String> {
        let mut extracted = segments::every_string(data);
        drop_names(&mut extracted);
        self.guard_extracted(data, extracted)?;
        Ok(vec![data.take()])
    }

    /// The text of a channel, all of it, once its done event (or a repeat)
    /// arrives: what it still held back (to send as a last delta) and the
    /// whole text released. A channel with no deltas is checked here, with
    /// `upstream` as its text.
    fn settle(
        &mut self,
        channel: &str,
        kind: SegmentKind,
        upstream: &str,
    ) -> Result<(String, String), String> {
        let rest = match self.responses.released.contains_key(channel) {
            true => self.finish(channel)?,
            false => {
                let released = self.release(channel, kind, upstream)?;
                released + &self.finish(channel)?
            }
        };
        let full = self
            .responses
            .released
            .entry(channel.to_string())
            .or_default();
        full.push_str(&rest);
        Ok((rest, full.clone()))
    }

    /// An output item with each of its texts as the client was given them;
    /// an item of another type (a built-in tool's) checked whole.
    fn settle_item(&mut self, item: &mut Value, index: usize) -> Result<(), String> {
        let key = item_key(item, index);
        let fields: Vec<(String, String, SegmentKind)> =
            match item.get("type").and_then(Value::as_str) {
                Some("message") => parts(item, "content")
                    .flat_map(|(j, part_type)| match part_type.as_str() {
                        "output_text" => Some((
                            format!("/content/{j}/text"),
                            format!("{key}.text{j}"),
                            SegmentKind::Message,
                        )),
                        "refusal" => Some((
                            format!("/content/{j}/refusal"),
                            format!("{key}.refusal{j}"),
                            SegmentKind::Message,
                        )),
                        _ => None,
                    })
                    .collect(),
                Some("function_call") => vec![(
                    "/arguments".into(),
                    format!("{key}.args"),
                    SegmentKind::ToolCall,
                )],
                Some("custom_tool_call") => {
                    vec![(
                        "/input".into(),
                        format!("{key}.args"),
                        SegmentKind::ToolCall,
                    )]
                }
                Some("reasoning") => {
                    let summaries = parts(item, "summary").map(|(j, _)| {
                        (
                            format!("/summary/{j}/text"),
                            format!("{key}.summary{j}"),
                            SegmentKind::Message,
                        )
                    });
                    let texts = parts(item, "content").map(|(j, _)| {
                        (
                            format!("/content/{j}/text"),
                            format!("{key}.reasoning{j}"),
                            SegmentKind::Message,
                        )
                    });
                    summaries.chain(texts).collect()
                }
                _ => {
                    let mut extracted = Extracted::default();
                    segments::responses::output_item(&mut extracted, item, "", "item");
                    return self.guard_extracted(item, extracted);
                }
            };
        for (pointer, channel, kind) in fields {
            let Some(upstream) = item.at(&pointer).and_then(Value::as_str) else {
                continue;
            };
            let upstream = upstream.to_string();
            let (_, full) = self.settle(&channel, kind, &upstream)?;
            if let Some(slot) = item.pointer_mut(&pointer) {
                *slot = json!(full);
            }
        }
        Ok(())
    }
}

/// The type of an event, from its `type` field (or its `event:` name),
/// read without parsing the rest when it leads the data, as OpenAI sends it.
fn event_type(event: &SseEvent) -> Option<String> {
    if let Some(name) = &event.event {
        return Some(name.clone());
    }
    serde_json::from_str::<Value>(&event.data)
        .ok()?
        .get("type")?
        .as_str()
        .map(str::to_string)
}

/// A numeric field of an event, or 0.
fn data_index(data: &Value, field: &str) -> u64 {
    data.get(field).and_then(Value::as_u64).unwrap_or(0)
}

/// The index and type of each part in `item[field]`.
fn parts<'a>(item: &'a Value, field: &str) -> impl Iterator<Item = (usize, String)> + 'a {
    item.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(j, part)| {
            let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
            (j, kind.to_string())
        })
}

/// Takes out the segments that are names, not text: types, ids, statuses.
fn drop_names(extracted: &mut Extracted) {
    extracted.retain(|path| {
        let last = path.rsplit('.').next().unwrap_or(path);
        !matches!(
            last,
            "type" | "id" | "item_id" | "call_id" | "status" | "object" | "model"
        )
    });
}
