//! Rewriting a streamed response event by event, with the response guardrails.
//!
//! OpenAI streams carry text in `choices[i].delta.content` and
//! `choices[i].delta.tool_calls[k].function.arguments`; Anthropic streams in
//! `content_block_delta` events (`text_delta`, `input_json_delta`). Each of
//! those is a channel of the [`StreamGuard`]; when a choice finishes or a block
//! stops, the channel's held-back text is released before the end marker. A
//! block ends the stream with an error event in the client's format. Thinking
//! deltas pass untouched (their signature covers them).

mod responses;

use super::error::{Api, ApiError, ErrorKind};
use super::sse::{SseEvent, format_event};
use crate::guardrails::stream::{Release, StreamGuard};
use crate::json_pointer::Pointer;
use crate::sandbox::SegmentKind;
use serde_json::{Value, json};

/// Transforms one stream.
pub struct StreamTransformer {
    api: Api,
    guard: StreamGuard,
    /// The last OpenAI chunk seen: the template for a synthetic flush chunk.
    last_chunk: Option<Value>,
    /// Set once the stream has been ended (normally or by an error).
    pub ended: bool,
    /// Set when it ended normally (`[DONE]`, `message_stop`), not by an error.
    pub completed: bool,
    /// Take out the usage the gateway asked an OpenAI upstream for: the last
    /// chunk with `usage` and no choices, and `"usage": null` in the others.
    pub strip_usage: bool,
    /// Pieces of content text (or tool arguments) released to the client so far.
    pub content_released: u64,
    /// How it failed, when it ended with an error event.
    pub failure: Option<(ErrorKind, String)>,
    /// What a Responses stream keeps between events.
    responses: responses::State,
}

impl StreamTransformer {
    /// A transformer for a client speaking `api`.
    pub fn new(api: Api, guard: StreamGuard) -> Self {
        StreamTransformer {
            api,
            guard,
            last_chunk: None,
            ended: false,
            completed: false,
            strip_usage: false,
            content_released: 0,
            failure: None,
            responses: responses::State::default(),
        }
    }

    /// The output for one upstream event.
    pub fn on_event(&mut self, event: SseEvent) -> String {
        if self.ended {
            return String::new();
        }
        match self.api {
            Api::OpenAi => self.openai_event(event),
            Api::Anthropic => self.anthropic_event(event),
            Api::Responses => self.responses_event(event),
        }
    }

    /// The upstream ended: a stream without its end marker was cut short.
    pub fn on_upstream_end(&mut self) -> String {
        if self.ended {
            return String::new();
        }
        self.fail(
            ErrorKind::BadGateway,
            "the provider's stream ended before it was complete",
        )
    }

    /// Whether a response guardrail changed any of the stream's text.
    pub fn redacted(&self) -> bool {
        self.guard.redacted()
    }

    /// Ends the stream with an error event.
    pub fn fail(&mut self, kind: ErrorKind, message: &str) -> String {
        self.ended = true;
        self.failure = Some((kind, message.to_string()));
        ApiError::new(kind, message).sse_event(self.api)
    }

    fn openai_event(&mut self, event: SseEvent) -> String {
        if event.data.trim() == "[DONE]" {
            let mut out = match self.flush_openai() {
                Ok(flush) => flush,
                Err(block) => return block,
            };
            out.push_str(&format_event(None, "[DONE]"));
            self.ended = true;
            self.completed = true;
            return out;
        }
        // Only an object is a chunk; anything else is malformed (and would
        // not survive being used as the template of a flush chunk).
        let mut chunk = match self.object(&event) {
            Ok(chunk) => chunk,
            Err(failed) => return failed,
        };
        if chunk.get("error").is_some() {
            return match self.guard_error(&mut chunk) {
                Ok(()) => {
                    self.ended = true;
                    format_event(None, &chunk.to_string())
                }
                Err(block) => block,
            };
        }
        if self.strip_usage
            && let Some(usage) = chunk.as_object_mut().and_then(|c| c.remove("usage"))
            && !usage.is_null()
            && chunk
                .get("choices")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        {
            return String::new();
        }
        if let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices {
                if let Err(block) = self.openai_choice(choice) {
                    return block;
                }
            }
        }
        self.last_chunk = Some(chunk.clone());
        format_event(None, &chunk.to_string())
    }

    fn openai_choice(&mut self, choice: &mut Value) -> Result<(), String> {
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
        let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
        // A delta that is not an object is malformed; leave it (and the held-back
        // text, released at `[DONE]`) alone rather than index into it.
        let Some(delta) = choice.get_mut("delta").filter(|d| d.is_object()) else {
            return Ok(());
        };
        let content_channel = format!("choice{index}.content");
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let released = self.release(&content_channel, SegmentKind::Message, &text)?;
            delta["content"] = json!(released);
        }
        // The model moves on from text to tool calls: what is held back of
        // the text goes out now, ahead of them, so the text reaches the
        // client in one piece before the calls (not flushed after them at
        // the end, which block-based clients would see as two texts).
        let calling = delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|calls| !calls.is_empty());
        if calling && self.guard.channel_kind(&content_channel).is_some() {
            let rest = self.finish(&content_channel)?;
            if !rest.is_empty() {
                let before = delta.get("content").and_then(Value::as_str).unwrap_or("");
                delta["content"] = json!(format!("{before}{rest}"));
            }
        }
        if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for call in calls {
                let k = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(args) = call
                    .at("/function/arguments")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                {
                    let released = self.release(
                        &format!("choice{index}.tool{k}"),
                        SegmentKind::ToolCall,
                        &args,
                    )?;
                    call["function"]["arguments"] = json!(released);
                }
            }
        }
        if finished {
            self.finish_openai_choice(index, delta)?;
        }
        Ok(())
    }

    /// Releases the rest of choice `index`'s channels into `delta`.
    fn finish_openai_choice(&mut self, index: u64, delta: &mut Value) -> Result<(), String> {
        let prefix = format!("choice{index}.");
        for channel in self.guard.open_channels() {
            let Some(name) = channel.strip_prefix(&prefix) else {
                continue;
            };
            let rest = self.finish(&channel)?;
            if rest.is_empty() {
                continue;
            }
            if name == "content" {
                let before = delta
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                delta["content"] = json!(before + &rest);
            } else if let Some(k) = name
                .strip_prefix("tool")
                .and_then(|k| k.parse::<u64>().ok())
            {
                if !delta.get("tool_calls").is_some_and(Value::is_array) {
                    delta["tool_calls"] = json!([]);
                }
                let calls = delta["tool_calls"].as_array_mut().expect("array");
                match calls
                    .iter_mut()
                    .find(|c| c.get("index").and_then(Value::as_u64) == Some(k))
                {
                    Some(call) => {
                        let before = call
                            .at("/function/arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string();
                        call["function"]["arguments"] = json!(before + &rest);
                    }
                    None => calls.push(json!({ "index": k, "function": { "arguments": rest } })),
                }
            }
        }
        Ok(())
    }

    /// At `[DONE]`: a synthetic chunk with whatever is still held back.
    fn flush_openai(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let channels = self.guard.open_channels();
        let indexes: std::collections::BTreeSet<u64> = channels
            .iter()
            .filter_map(|c| c.strip_prefix("choice")?.split('.').next()?.parse().ok())
            .collect();
        for index in indexes {
            let mut delta = json!({});
            self.finish_openai_choice(index, &mut delta)?;
            if delta.as_object().is_some_and(|d| !d.is_empty()) {
                let mut chunk = self
                    .last_chunk
                    .clone()
                    .unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
                chunk["choices"] =
                    json!([{ "index": index, "delta": delta, "finish_reason": null }]);
                out.push_str(&format_event(None, &chunk.to_string()));
            }
        }
        Ok(out)
    }

    fn anthropic_event(&mut self, event: SseEvent) -> String {
        let name = event.event.clone().unwrap_or_default();
        let Ok(mut data) = serde_json::from_str::<Value>(&event.data) else {
            return self.fail(
                ErrorKind::BadGateway,
                "the provider sent a malformed stream event",
            );
        };
        match name.as_str() {
            "content_block_delta" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let channel = format!("block{index}");
                let (field, kind) = match data.at("/delta/type").and_then(Value::as_str) {
                    Some("text_delta") => ("text", SegmentKind::Message),
                    Some("input_json_delta") => ("partial_json", SegmentKind::ToolCall),
                    _ => return format_event(Some(&name), &event.data),
                };
                let text = data["delta"][field].as_str().unwrap_or("").to_string();
                match self.release(&channel, kind, &text) {
                    Ok(released) if released.is_empty() => String::new(),
                    Ok(released) => {
                        data["delta"][field] = json!(released);
                        format_event(Some(&name), &data.to_string())
                    }
                    Err(block) => block,
                }
            }
            "content_block_stop" => {
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let channel = format!("block{index}");
                let kind = self.guard.channel_kind(&channel);
                match self.finish(&channel) {
                    Ok(rest) if rest.is_empty() => format_event(Some(&name), &event.data),
                    Ok(rest) => {
                        let delta = match kind {
                            Some(SegmentKind::ToolCall) => {
                                json!({ "type": "input_json_delta", "partial_json": rest })
                            }
                            _ => json!({ "type": "text_delta", "text": rest }),
                        };
                        let flush = json!({ "type": "content_block_delta", "index": index, "delta": delta });
                        format_event(Some("content_block_delta"), &flush.to_string())
                            + &format_event(Some(&name), &event.data)
                    }
                    Err(block) => block,
                }
            }
            "message_stop" => {
                self.ended = true;
                self.completed = true;
                format_event(Some(&name), &event.data)
            }
            "error" => match self.guard_error(&mut data) {
                Ok(()) => {
                    self.ended = true;
                    format_event(Some(&name), &data.to_string())
                }
                Err(block) => block,
            },
            _ => format_event(event.event.as_deref(), &event.data),
        }
    }

    /// An event's data as a JSON object; anything else ends the stream as
    /// malformed (the error event is the `Err`).
    fn object(&mut self, event: &SseEvent) -> Result<Value, String> {
        match serde_json::from_str::<Value>(&event.data) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(self.fail(
                ErrorKind::BadGateway,
                "the provider sent a malformed stream event",
            )),
        }
    }

    /// A provider's error event, through the response guardrails like any
    /// answer text: every string in it is checked and redacted; a block ends
    /// the stream with the gateway's own error instead.
    fn guard_error(&mut self, event: &mut Value) -> Result<(), String> {
        let extracted = super::segments::every_string(event);
        self.guard_extracted(event, extracted)
    }

    /// The `extracted` text of `value`, checked whole and redacted in place; a
    /// block ends the stream with the gateway's own error instead.
    fn guard_extracted(
        &mut self,
        value: &mut Value,
        extracted: super::segments::Extracted,
    ) -> Result<(), String> {
        if extracted.segments.is_empty() {
            return Ok(());
        }
        match self.guard.check_whole(&extracted.segments) {
            Ok(outcome) => {
                let mut placeholders = crate::guardrails::redact::lock(self.guard.placeholders());
                extracted.apply(value, &outcome, &mut placeholders);
                Ok(())
            }
            Err(message) => Err(self.fail(ErrorKind::Blocked, &message)),
        }
    }

    fn release(&mut self, channel: &str, kind: SegmentKind, text: &str) -> Result<String, String> {
        match self.guard.push(channel, kind, text) {
            Release::Text(released) => {
                self.content_released += u64::from(!released.is_empty());
                Ok(released)
            }
            Release::Block(message) => Err(self.fail(ErrorKind::Blocked, &message)),
        }
    }

    fn finish(&mut self, channel: &str) -> Result<String, String> {
        match self.guard.finish(channel) {
            Release::Text(released) => {
                self.content_released += u64::from(!released.is_empty());
                Ok(released)
            }
            Release::Block(message) => Err(self.fail(ErrorKind::Blocked, &message)),
        }
    }
}
