//! Gemini streams (`streamGenerateContent?alt=sse`): chunks to canonical
//! events ([`Decoder`]) and back ([`Encoder`]).
//!
//! Each chunk is a whole `GenerateContentResponse` holding the next parts of
//! the answer; there are no blocks and no end marker. The decoder opens a
//! block whenever the kind of part changes (text, thought, a call), sends a
//! call whole (Gemini does not cut its arguments), puts a signature in a
//! thinking block of its own before the part it came on, and ends the stream
//! at the chunk with the `finishReason` (which also carries the final usage).

use super::{blocked_text, finish_reason, stop_reason, usage, usage_json};
use crate::api::sse::SseEvent;
use crate::canonical::{Arguments, BlockKind, DEFAULT_ERROR, Event, StopReason, Usage};
use crate::codec::{StreamDecoder, StreamEncoder, opt_string, string};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The kind of the open block, as far as continuing it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// Text, continued by more text.
    Text,
    /// A thought summary, continued by more thought.
    Thought,
}

/// Gemini chunks → canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Whether [`Event::Start`] has gone out.
    started: bool,
    /// The answer's id, for the ids of calls that have none.
    id: String,
    /// The open block.
    open: Option<(u64, Open)>,
    /// The next block's index.
    next_index: u64,
    /// Calls so far (for ids, and the stop reason).
    calls: u64,
    /// Whether the stream has ended.
    ended: bool,
}

impl Decoder {
    /// Opens a block (closing the open one).
    fn open_block(&mut self, kind: BlockKind, open: Option<Open>, out: &mut Vec<Event>) -> u64 {
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        if let Some(open) = open {
            self.open = Some((index, open));
        }
        out.push(Event::BlockStart { index, kind });
        index
    }

    /// The open block if it is of `kind`, else a new one.
    fn continue_block(&mut self, kind: Open, out: &mut Vec<Event>) -> u64 {
        match self.open {
            Some((index, open)) if open == kind => index,
            _ => {
                let block = match kind {
                    Open::Text => BlockKind::Text,
                    Open::Thought => BlockKind::Thinking,
                };
                self.open_block(block, Some(kind), out)
            }
        }
    }

    /// Closes the open block, if any.
    fn close_block(&mut self, out: &mut Vec<Event>) {
        if let Some((index, _)) = self.open.take() {
            out.push(Event::BlockStop { index });
        }
    }

    /// The events for one part.
    fn part(&mut self, part: &Value, out: &mut Vec<Event>) {
        let signature = opt_string(&part["thoughtSignature"]);
        if part["thought"] == true {
            let index = self.continue_block(Open::Thought, out);
            if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
                out.push(Event::ThinkingDelta {
                    index,
                    text: text.into(),
                });
            }
            if let Some(signature) = signature {
                out.push(Event::SignatureDelta { index, signature });
            }
            return;
        }
        if let Some(signature) = signature {
            let index = self.open_block(BlockKind::Thinking, None, out);
            out.push(Event::SignatureDelta { index, signature });
            out.push(Event::BlockStop { index });
        }
        if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
            let index = self.continue_block(Open::Text, out);
            out.push(Event::TextDelta {
                index,
                text: text.into(),
            });
        } else if let Some(call) = part.get("functionCall") {
            let id = opt_string(&call["id"]).unwrap_or_else(|| match self.id.as_str() {
                "" => format!("call_{}", self.calls),
                prefix => format!("call_{prefix}_{}", self.calls),
            });
            self.calls += 1;
            let kind = BlockKind::ToolCall {
                id,
                name: string(&call["name"]),
            };
            let index = self.open_block(kind, None, out);
            out.push(Event::ToolArgumentsDelta {
                index,
                json: Arguments::Json(call["args"].clone()).to_text(),
            });
            out.push(Event::BlockStop { index });
        }
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, upstream: SseEvent) -> Vec<Event> {
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
        if self.ended {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            self.id = string(&chunk["responseId"]);
            out.push(Event::Start {
                id: self.id.clone(),
                model: string(&chunk["modelVersion"]),
                usage: Usage::default(),
            });
        }
        let candidate = &chunk["candidates"][0];
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            self.part(part, &mut out);
        }
        if chunk["usageMetadata"].is_object() {
            out.push(Event::Usage(usage(&chunk["usageMetadata"])));
        }
        let prompt_blocked = chunk["promptFeedback"]["blockReason"].as_str();
        if let Some(finish) = candidate["finishReason"].as_str().or(prompt_blocked) {
            self.close_block(&mut out);
            let stop = stop_reason(finish, self.calls > 0);
            if stop == StopReason::Refusal && self.next_index == 0 {
                let index = self.open_block(BlockKind::Text, None, &mut out);
                out.push(Event::TextDelta {
                    index,
                    text: blocked_text(finish, prompt_blocked.is_some()),
                });
                out.push(Event::BlockStop { index });
            }
            out.push(Event::Finish { stop });
            out.push(Event::End);
            self.ended = true;
        }
        out
    }
}

/// Canonical events → Gemini chunks.
#[derive(Debug, Default)]
pub struct Encoder {
    /// The answer's id.
    id: String,
    /// The model answering.
    model: String,
    /// Tokens counted so far.
    usage: Usage,
    /// A signature waiting for the next part.
    signature: Option<String>,
    /// Open tool-call blocks: their id, name and arguments so far.
    calls: HashMap<u64, (String, String, String)>,
}

impl Encoder {
    /// A chunk holding `parts` (the held signature on the first), and
    /// `finish` with the usage when the answer ends.
    fn chunk(&mut self, mut parts: Vec<Value>, finish: Option<&StopReason>) -> SseEvent {
        if let Some(signature) = self.signature.take() {
            match parts.first_mut() {
                Some(first) if first.get("thoughtSignature").is_none() => {
                    first["thoughtSignature"] = json!(signature);
                }
                _ => parts.insert(0, json!({"text": "", "thoughtSignature": signature})),
            }
        }
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        let mut chunk = json!({"modelVersion": self.model, "responseId": self.id});
        if let Some(stop) = finish {
            candidate["finishReason"] = json!(finish_reason(stop));
            chunk["usageMetadata"] = usage_json(&self.usage);
        }
        chunk["candidates"] = json!([candidate]);
        SseEvent {
            event: None,
            data: chunk.to_string(),
        }
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: Event) -> Vec<SseEvent> {
        match event {
            Event::Start { id, model, usage } => {
                self.id = id;
                self.model = model;
                self.usage.merge(usage);
                Vec::new()
            }
            Event::BlockStart {
                index,
                kind: BlockKind::ToolCall { id, name },
            } => {
                self.calls.insert(index, (id, name, String::new()));
                Vec::new()
            }
            Event::TextDelta { text, .. } => vec![self.chunk(vec![json!({"text": text})], None)],
            Event::ThinkingDelta { text, .. } => {
                vec![self.chunk(vec![json!({"text": text, "thought": true})], None)]
            }
            Event::SignatureDelta { signature, .. } => {
                self.signature
                    .get_or_insert_with(String::new)
                    .push_str(&signature);
                Vec::new()
            }
            Event::ToolArgumentsDelta { index, json } => {
                if let Some((_, _, arguments)) = self.calls.get_mut(&index) {
                    arguments.push_str(&json);
                }
                Vec::new()
            }
            Event::BlockStop { index } => match self.calls.remove(&index) {
                Some((id, name, arguments)) => {
                    let args = Arguments::Text(arguments).to_json();
                    let part = json!({"functionCall": {"id": id, "name": name, "args": args}});
                    vec![self.chunk(vec![part], None)]
                }
                None => Vec::new(),
            },
            Event::Usage(usage) => {
                self.usage.merge(usage);
                Vec::new()
            }
            Event::Finish { stop } => vec![self.chunk(Vec::new(), Some(&stop))],
            Event::Error { message } => vec![SseEvent {
                event: None,
                data: json!({"error": {"code": 500, "message": message, "status": "INTERNAL"}})
                    .to_string(),
            }],
            Event::Unparsed { event, data } => vec![SseEvent { event, data }],
            Event::BlockStart { .. } | Event::End => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(value: Value) -> SseEvent {
        SseEvent {
            event: None,
            data: value.to_string(),
        }
    }

    #[test]
    fn a_blocked_stream_says_why_in_a_text_block() {
        let mut decoder = Decoder::default();
        let events = decoder.decode(chunk(json!({"promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 5}, "responseId": "r1"})));
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Event::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "The provider blocked the prompt (SAFETY).");
        assert!(events.contains(&Event::Finish {
            stop: StopReason::Refusal
        }));
        assert_eq!(events.last(), Some(&Event::End));
    }

    #[test]
    fn a_signature_reaches_the_next_part_through_the_encoder() {
        let mut decoder = Decoder::default();
        let mut encoder = Encoder::default();
        let input = json!({"responseId": "r", "candidates": [{"content": {"parts": [
            {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "sig"}]},
            "finishReason": "STOP"}]});
        let chunks: Vec<Value> = decoder
            .decode(chunk(input))
            .into_iter()
            .flat_map(|e| encoder.encode(e))
            .map(|e| serde_json::from_str(&e.data).expect("JSON"))
            .collect();
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"],
            json!([{"functionCall": {"id": "call_r_0", "name": "f", "args": {"a": 1}},
                    "thoughtSignature": "sig"}])
        );
        assert_eq!(chunks[1]["candidates"][0]["finishReason"], "STOP");
    }
}
