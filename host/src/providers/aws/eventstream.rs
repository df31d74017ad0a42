//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as
//! Bedrock's streaming operations answer, decoded with AWS's own crate
//! (`aws-smithy-eventstream`) into the SSE events the codecs read.
//!
//! A frame is a binary message with CRC-checked prelude and body; bytes may
//! arrive cut anywhere, so [`EventStreamParser::feed`] keeps what it has not
//! yet framed, like [`crate::api::sse::SseParser`]. [`to_sse`] turns a whole
//! body into SSE text for the pipeline. A damaged frame (a CRC
//! that does not match, a length out of range) makes the stream malformed: a
//! clear error, and no further events.
//!
//! Each frame becomes one [`SseEvent`]:
//! - an event (`:message-type` `event`) is named by its `:event-type` and
//!   carries its JSON payload (ConverseStream's `messageStart`, `metadata`, …);
//!   a `chunk` event (InvokeModelWithResponseStream) carries a provider event
//!   base64-encoded in `bytes`, and becomes that event (an Anthropic Messages
//!   event for Claude, named by its `type`);
//! - an exception (`:message-type` `exception`, such as
//!   `throttlingException`) or an error (`error`, with `:error-code` and
//!   `:error-message`) becomes an `error` event in the Messages error shape,
//!   `{"type":"error","error":{"type":…,"message":…}}`, which every codec's
//!   stream decoder reads as an error.

use crate::api::sse::{SseEvent, format_event};
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::{Value, json};

/// Splits an event-stream byte stream into events.
#[derive(Debug, Default)]
pub struct EventStreamParser {
    /// Bytes received and not yet framed.
    buffer: BytesMut,
    /// The frame decoder (it keeps a frame's prelude once read).
    decoder: MessageFrameDecoder,
    /// Set once a frame was damaged: nothing more is read.
    failed: bool,
}

/// A stream that is not valid event-stream framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider's event stream is malformed: {0}")]
pub struct EventStreamError(String);

impl EventStreamParser {
    /// The events that `bytes` completes.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, EventStreamError> {
        if self.failed {
            return Err(EventStreamError("an earlier frame was damaged".into()));
        }
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        loop {
            match self.decoder.decode_frame(&mut self.buffer) {
                Ok(DecodedFrame::Complete(message)) => events.push(event_of(&message)?),
                Ok(DecodedFrame::Incomplete) => return Ok(events),
                Err(error) => {
                    self.failed = true;
                    return Err(EventStreamError(error.to_string()));
                }
            }
        }
    }

    /// Whether the stream stopped inside a frame (bytes received but not
    /// framed), for the end of the body.
    pub fn is_mid_frame(&self) -> bool {
        !self.buffer.is_empty()
    }
}

/// An event-stream body as SSE bytes, so that the pipeline reads a Bedrock
/// stream as it reads any other: each piece of `body` becomes the SSE text of
/// the events it completes (pieces that complete none are skipped). A
/// damaged frame, or a body that ends inside a frame, ends the stream with
/// an error item.
pub fn to_sse(
    body: BoxStream<'static, Result<Bytes, String>>,
) -> BoxStream<'static, Result<Bytes, String>> {
    futures_util::stream::unfold(
        Some((body, EventStreamParser::default())),
        |state| async move {
            let (mut body, mut parser) = state?;
            loop {
                match body.next().await {
                    Some(Ok(piece)) => match parser.feed(&piece) {
                        Ok(events) if events.is_empty() => continue,
                        Ok(events) => {
                            let text: String = events
                                .iter()
                                .map(|e| format_event(e.event.as_deref(), &e.data))
                                .collect();
                            return Some((Ok(Bytes::from(text)), Some((body, parser))));
                        }
                        Err(error) => return Some((Err(error.to_string()), None)),
                    },
                    Some(Err(error)) => return Some((Err(error), None)),
                    None if parser.is_mid_frame() => {
                        let error = EventStreamError("the stream ended inside a frame".into());
                        return Some((Err(error.to_string()), None));
                    }
                    None => return None,
                }
            }
        },
    )
    .boxed()
}

/// A string header of `message`.
fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(value) => Some(value.as_str()),
            _ => None,
        })
}

/// The event for one frame.
fn event_of(message: &Message) -> Result<SseEvent, EventStreamError> {
    let payload = std::str::from_utf8(message.payload())
        .map_err(|_| EventStreamError("a frame's payload is not UTF-8".into()))?;
    match header(message, ":message-type").unwrap_or("event") {
        "exception" => {
            let kind = header(message, ":exception-type").unwrap_or("exception");
            let body: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
            let text = body
                .get("message")
                .or(body.get("Message"))
                .and_then(Value::as_str)
                .unwrap_or(kind);
            Ok(error_event(kind, text))
        }
        "error" => {
            let kind = header(message, ":error-code").unwrap_or("error");
            let text = header(message, ":error-message").unwrap_or(kind);
            Ok(error_event(kind, text))
        }
        _ => {
            let name = header(message, ":event-type").unwrap_or("");
            if name == "chunk" {
                return chunk_event(payload);
            }
            Ok(SseEvent {
                event: Some(name.into()),
                data: payload.into(),
            })
        }
    }
}

/// The provider event inside an InvokeModelWithResponseStream `chunk`.
fn chunk_event(payload: &str) -> Result<SseEvent, EventStreamError> {
    let body: Value = serde_json::from_str(payload)
        .map_err(|_| EventStreamError("a chunk's payload is not JSON".into()))?;
    let bytes = body["bytes"]
        .as_str()
        .and_then(|b| aws_smithy_types::base64::decode(b).ok())
        .ok_or_else(|| EventStreamError("a chunk has no base64 `bytes`".into()))?;
    let data = String::from_utf8(bytes)
        .map_err(|_| EventStreamError("a chunk's bytes are not UTF-8".into()))?;
    let name = serde_json::from_str::<Value>(&data)
        .ok()
        .and_then(|inner| inner["type"].as_str().map(String::from));
    Ok(SseEvent { event: name, data })
}

/// An `error` event for an AWS exception `kind` (its Messages error type is
/// what the exception means: throttling is a rate limit, and so on).
fn error_event(kind: &str, message: &str) -> SseEvent {
    let error_type = match kind {
        "throttlingException" | "ThrottlingException" => "rate_limit_error",
        "serviceUnavailableException" | "ServiceUnavailableException" => "overloaded_error",
        "validationException" | "ValidationException" => "invalid_request_error",
        "accessDeniedException" | "AccessDeniedException" => "permission_error",
        "modelTimeoutException" | "ModelTimeoutException" => "timeout_error",
        _ => "api_error",
    };
    SseEvent {
        event: Some("error".into()),
        data: json!({"type": "error", "error": {"type": error_type, "message": message}})
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::Header;

    fn frame(headers: &[(&str, &str)], payload: &str) -> Vec<u8> {
        let message = Message::new_from_parts(
            headers
                .iter()
                .map(|(name, value)| {
                    Header::new(
                        name.to_string(),
                        HeaderValue::String(value.to_string().into()),
                    )
                })
                .collect(),
            payload.as_bytes().to_vec(),
        );
        let mut bytes = Vec::new();
        write_message_to(&message, &mut bytes).expect("a frame");
        bytes
    }

    fn event_frame(name: &str, payload: &str) -> Vec<u8> {
        frame(
            &[
                (":message-type", "event"),
                (":event-type", name),
                (":content-type", "application/json"),
            ],
            payload,
        )
    }

    #[test]
    fn frames_cut_at_every_byte_decode_the_same() {
        let mut stream = event_frame("messageStart", "{\"role\":\"assistant\"}");
        stream.extend(event_frame(
            "contentBlockDelta",
            "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"h\u{e9}llo\"}}",
        ));
        let whole = EventStreamParser::default().feed(&stream).expect("valid");
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].event.as_deref(), Some("messageStart"));
        for cut in 1..stream.len() {
            let mut parser = EventStreamParser::default();
            let mut events = parser.feed(&stream[..cut]).expect("valid");
            events.extend(parser.feed(&stream[cut..]).expect("valid"));
            assert_eq!(events, whole, "cut at {cut}");
            assert!(!parser.is_mid_frame());
        }
        let mut parser = EventStreamParser::default();
        let mut events = Vec::new();
        for byte in &stream {
            events.extend(parser.feed(std::slice::from_ref(byte)).expect("valid"));
        }
        assert_eq!(events, whole, "one byte at a time");
    }

    #[test]
    fn a_damaged_frame_is_a_clear_error_and_ends_the_stream() {
        let mut stream = event_frame("messageStart", "{\"role\":\"assistant\"}");
        let last = stream.len() - 6;
        stream[last] ^= 0x20;
        let mut parser = EventStreamParser::default();
        let error = parser.feed(&stream).expect_err("the CRC does not match");
        assert!(
            error
                .to_string()
                .starts_with("the provider's event stream is malformed: "),
            "{error}"
        );
        assert!(error.to_string().contains("checksum"), "{error}");
        assert!(parser.feed(&event_frame("metadata", "{}")).is_err());
    }

    #[test]
    fn exceptions_become_error_events_of_their_kind() {
        let bytes = frame(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            "{\"message\":\"Too many tokens, please wait before trying again.\"}",
        );
        let events = EventStreamParser::default().feed(&bytes).expect("valid");
        assert_eq!(events[0].event.as_deref(), Some("error"));
        let data: Value = serde_json::from_str(&events[0].data).expect("JSON");
        assert_eq!(
            data,
            json!({"type": "error", "error": {"type": "rate_limit_error",
                   "message": "Too many tokens, please wait before trying again."}})
        );
    }

    #[test]
    fn invoke_model_chunks_become_the_events_inside() {
        let inner = "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}";
        let payload = json!({"bytes": aws_smithy_types::base64::encode(inner)}).to_string();
        let events = EventStreamParser::default()
            .feed(&event_frame("chunk", &payload))
            .expect("valid");
        assert_eq!(
            events,
            [SseEvent {
                event: Some("content_block_delta".into()),
                data: inner.into()
            }]
        );
    }
}
