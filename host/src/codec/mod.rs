//! One codec per client API: each decodes its API's requests, answers and
//! stream events to the [`crate::canonical`] model and encodes them back.
//!
//! - [`chat`]: OpenAI Chat Completions.
//! - [`messages`]: Anthropic Messages.
//! - [`responses`]: OpenAI Responses.
//! - [`gemini`]: Google Gemini `generateContent` (no client speaks it today;
//!   Gemini providers do).
//! - [`converse`]: Amazon Bedrock Converse (a provider's API only).
//!
//! Translating between two APIs is a decode with one codec and an encode with
//! the other ([`crate::translate`] does this for the pipeline), so N APIs need
//! N codecs, not a translator per pair. Traffic between a client and a
//! provider of the same API is never decoded: it passes through untouched.
//!
//! A codec is lenient the way the providers are not: a body of the wrong
//! shape decodes to what can be read of it (the provider then rejects it in
//! its own words), and nothing here panics on any JSON.
//!
//! To add an API: a module with the same functions and a stream decoder and
//! encoder implementing [`StreamDecoder`] and [`StreamEncoder`], a
//! [`Dialect`] variant, and an arm in each function below.

pub mod chat;
pub mod converse;
pub mod gemini;
pub mod messages;
#[cfg(test)]
mod properties;
pub mod responses;
#[cfg(test)]
mod snapshots;

use crate::api::sse::SseEvent;
use crate::canonical::{Answer, Dialect, Event, Request};
use crate::json_pointer::Pointer;
use serde_json::Value;

/// Turns one API's stream, event by event, into canonical events.
pub trait StreamDecoder: Send {
    /// The canonical events for one provider event.
    fn decode(&mut self, event: SseEvent) -> Vec<Event>;
}

/// Turns canonical events, one by one, into one API's stream.
pub trait StreamEncoder: Send {
    /// The client events for one canonical event.
    fn encode(&mut self, event: Event) -> Vec<SseEvent>;
}

/// How a request is encoded where the target provider matters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target {
    /// The provider is OpenAI itself, which wants `max_completion_tokens`
    /// (OpenAI-compatible servers understand only `max_tokens`).
    pub openai_native: bool,
}

/// Decodes a request in `dialect`.
pub fn decode_request(dialect: Dialect, body: &Value) -> Request {
    match dialect {
        Dialect::Chat => chat::decode_request(body),
        Dialect::Messages => messages::decode_request(body),
        Dialect::Responses => responses::decode_request(body),
        Dialect::Gemini => gemini::decode_request(body),
        Dialect::Converse => converse::decode_request(body),
    }
}

/// Encodes a request in `dialect`.
pub fn encode_request(dialect: Dialect, request: &Request, target: Target) -> Value {
    match dialect {
        Dialect::Chat => chat::encode_request(request, target),
        Dialect::Messages => messages::encode_request(request),
        Dialect::Responses => responses::encode_request(request),
        Dialect::Gemini => gemini::encode_request(request),
        Dialect::Converse => converse::encode_request(request),
    }
}

/// Decodes a whole answer in `dialect`.
pub fn decode_answer(dialect: Dialect, body: &Value) -> Answer {
    match dialect {
        Dialect::Chat => chat::decode_answer(body),
        Dialect::Messages => messages::decode_answer(body),
        Dialect::Responses => responses::decode_answer(body),
        Dialect::Gemini => gemini::decode_answer(body),
        Dialect::Converse => converse::decode_answer(body),
    }
}

/// Encodes a whole answer in `dialect`.
pub fn encode_answer(dialect: Dialect, answer: &Answer) -> Value {
    match dialect {
        Dialect::Chat => chat::encode_answer(answer),
        Dialect::Messages => messages::encode_answer(answer),
        Dialect::Responses => responses::encode_answer(answer),
        Dialect::Gemini => gemini::encode_answer(answer),
        Dialect::Converse => converse::encode_answer(answer),
    }
}

/// A decoder of a `dialect` stream.
pub fn stream_decoder(dialect: Dialect) -> Box<dyn StreamDecoder> {
    match dialect {
        Dialect::Chat => Box::<chat::Decoder>::default(),
        Dialect::Messages => Box::<messages::Decoder>::default(),
        Dialect::Responses => Box::<responses::Decoder>::default(),
        Dialect::Gemini => Box::<gemini::Decoder>::default(),
        Dialect::Converse => Box::<converse::Decoder>::default(),
    }
}

/// An encoder of a `dialect` stream; `include_usage` is whether the client
/// asked for usage (Chat Completions sends it only when asked).
pub fn stream_encoder(dialect: Dialect, include_usage: bool) -> Box<dyn StreamEncoder> {
    match dialect {
        Dialect::Chat => Box::new(chat::Encoder::new(include_usage)),
        Dialect::Messages => Box::<messages::Encoder>::default(),
        Dialect::Responses => Box::<responses::Encoder>::default(),
        Dialect::Gemini => Box::<gemini::Encoder>::default(),
        Dialect::Converse => Box::<converse::Encoder>::default(),
    }
}

/// The message of an error body in any of the APIs' formats (AWS's is a
/// top-level `message`).
pub fn error_message(body: &Value) -> Option<&str> {
    body.at("/error/message")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
}

/// The names an API gives the sampling settings, in one object of their
/// own (Gemini's `generationConfig`, Converse's `inferenceConfig`).
struct Sampling {
    /// The most tokens the answer may take.
    max_tokens: &'static str,
    /// The temperature.
    temperature: &'static str,
    /// Nucleus sampling.
    top_p: &'static str,
    /// The stop sequences.
    stop: &'static str,
}

impl Sampling {
    /// Reads the settings from `settings` into `request`.
    fn read(&self, settings: &Value, request: &mut Request) {
        request.max_tokens = settings[self.max_tokens].as_u64();
        request.temperature = settings[self.temperature].as_number().cloned();
        request.top_p = settings[self.top_p].as_number().cloned();
        request.stop = settings[self.stop]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(opt_string)
            .collect();
    }

    /// The settings of `request` that are set.
    fn write(&self, request: &Request) -> serde_json::Map<String, Value> {
        let mut settings = serde_json::Map::new();
        if let Some(max) = request.max_tokens {
            settings.insert(self.max_tokens.into(), max.into());
        }
        if let Some(temperature) = &request.temperature {
            settings.insert(self.temperature.into(), Value::Number(temperature.clone()));
        }
        if let Some(top_p) = &request.top_p {
            settings.insert(self.top_p.into(), Value::Number(top_p.clone()));
        }
        if !request.stop.is_empty() {
            settings.insert(self.stop.into(), request.stop.clone().into());
        }
        settings
    }
}

/// A string field, or `""`.
fn string(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// A string field, if it is one.
fn opt_string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    u64::try_from(crate::clock::now_ms() / 1000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_message_is_read_from_either_apis_error_body() {
        let openai = json!({"error": {"message": "bad key", "type": "invalid_request_error"}});
        let anthropic =
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}});
        assert_eq!(error_message(&openai), Some("bad key"));
        assert_eq!(error_message(&anthropic), Some("busy"));
        assert_eq!(error_message(&json!({"error": "flat"})), None);
        let aws = json!({"message": "Too many requests, please wait before trying again."});
        assert_eq!(
            error_message(&aws),
            Some("Too many requests, please wait before trying again.")
        );
    }

    #[test]
    fn tool_arguments_that_are_not_an_object_are_kept_under_raw() {
        use crate::canonical::Arguments;
        assert_eq!(Arguments::Text(String::new()).to_json(), json!({}));
        assert_eq!(
            Arguments::Text("{\"a\":1}".into()).to_json(),
            json!({"a": 1})
        );
        assert_eq!(
            Arguments::Text("[1]".into()).to_json(),
            json!({"_raw": "[1]"})
        );
        assert_eq!(Arguments::Json(Value::Null).to_text(), "{}");
        assert_eq!(Arguments::Text(String::new()).to_text(), "{}");
        assert_eq!(Arguments::Json(json!({"a": 1})).to_text(), "{\"a\":1}");
    }
}
