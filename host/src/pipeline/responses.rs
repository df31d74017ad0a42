//! `POST /v1/responses`: OpenAI's Responses API (what Codex CLI speaks), served
//! through the chat phases.
//!
//! ```text
//! auth (headers only) ─► read the body ─► decode it (Responses codec) to the
//!   canonical model; built-in tools (web_search, ...) refused: no target here
//!   runs them ─► encode it as a Chat Completions request
//!   ─► the chat phases, as for any chat request ([`super::chat_request`]):
//!      route, scope, admit, request guardrails, provider (translated when it
//!      speaks Messages), response guardrails, usage, audit
//!   ─► the answer decoded from Chat Completions and encoded as a Responses
//!      answer: whole, or event by event
//! ```
//!
//! So the guardrails, governance and audit see a Responses call exactly as they
//! see a chat call with the same text. Errors are OpenAI's error JSON, which the
//! Responses API shares. Not in this step: a provider that speaks Responses
//! upstream (its built-in tools, `previous_response_id`, stored responses);
//! `reasoning` and `include` go nowhere, as no target here has reasoning items.

use super::{Authenticated, Envelope, authenticate, chat_request, parse_body};
use crate::api::error::{Api, ApiError, ErrorKind};
use crate::api::sse::{SseParser, format_event};
use crate::canonical::Dialect;
use crate::codec::{self, StreamDecoder, StreamEncoder};
use crate::gateway::Gateway;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

/// Errors and guardrail contexts of a Responses call use OpenAI's format.
const API: Api = Api::OpenAi;

/// Runs one Responses request.
pub async fn responses(gateway: Arc<Gateway>, headers: HeaderMap, body: Body) -> Response {
    let envelope = Envelope::begin(&gateway, API, &headers);
    let mut extra = Vec::new();
    let inner = async {
        let (caller, call) = authenticate(
            &gateway,
            &headers,
            &envelope.request_id,
            &envelope.observed,
            &mut extra,
        )
        .await?;
        let bytes = crate::api::read_body(&gateway, body).await?;
        let chat = as_chat_request(&bytes)?;
        let who = Authenticated { caller, call };
        let answer = chat_request(
            gateway.clone(),
            API,
            &headers,
            who,
            chat,
            &envelope.observed,
            &mut extra,
        )
        .await?;
        as_responses_answer(answer, gateway.limits.max_answer).await
    };
    let result = inner.instrument(envelope.span.clone()).await;
    envelope.finish(result, extra)
}

/// The Responses request `bytes` as a checked Chat Completions body.
fn as_chat_request(bytes: &[u8]) -> Result<Value, ApiError> {
    let invalid = |message: String| ApiError::new(ErrorKind::InvalidRequest, message);
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the request body is not valid JSON: {e}")))?;
    if !body.is_object() {
        return Err(invalid("the request body must be a JSON object".into()));
    }
    let builtin = codec::responses::builtin_tools(&body);
    if !builtin.is_empty() {
        return Err(invalid(format!(
            "tools of type {} run only at OpenAI's Responses API, which this gateway does not call yet; \
             send function tools only",
            builtin
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let request = codec::decode_request(Dialect::Responses, &body);
    let mut chat = codec::encode_request(Dialect::Chat, &request, codec::Target::default());
    if request.stream {
        // The last Responses event carries the usage: ask for it.
        chat["stream_options"] = serde_json::json!({"include_usage": true});
    }
    // The chat phases check the shape (and `max_tokens`) as for any chat call.
    parse_body(&serde_json::to_vec(&chat).expect("a Value serializes"))
}

/// The chat phases' answer as a Responses answer: a JSON answer re-encoded, a
/// stream re-encoded event by event, an error passed on as it is (the two APIs
/// share OpenAI's error format).
async fn as_responses_answer(answer: Response, max_answer: usize) -> Result<Response, ApiError> {
    let (mut parts, body) = answer.into_parts();
    let is_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !parts.status.is_success() {
        return Ok(Response::from_parts(parts, body));
    }
    if !is_stream {
        let bytes = axum::body::to_bytes(body, max_answer).await.map_err(|e| {
            ApiError::new(
                ErrorKind::Internal,
                format!("the answer could not be read: {e}"),
            )
        })?;
        let chat: Value = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::new(ErrorKind::Internal, "the answer could not be re-encoded")
        })?;
        let answer = codec::decode_answer(Dialect::Chat, &chat);
        let encoded = codec::encode_answer(Dialect::Responses, &answer);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Ok(Response::from_parts(
            parts,
            Body::from(serde_json::to_vec(&encoded).expect("a Value serializes")),
        ));
    }
    let mut restream = Restream {
        parser: SseParser::default(),
        decoder: codec::stream_decoder(Dialect::Chat),
        encoder: codec::stream_encoder(Dialect::Responses, true),
    };
    let events = body.into_data_stream().map(move |chunk| {
        let out = match chunk {
            Ok(bytes) => restream.feed(&bytes),
            // The chat stream itself never fails mid-way (it ends with an
            // error event instead); the client is gone when this happens.
            Err(e) => return Err(std::io::Error::other(e)),
        };
        Ok::<_, std::io::Error>(Bytes::from(out))
    });
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    Ok(Response::from_parts(parts, Body::from_stream(events)))
}

/// A Chat Completions stream (as the chat phases send it to a client: guarded
/// and translated) turned into a Responses stream.
struct Restream {
    parser: SseParser,
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
}

impl Restream {
    /// The Responses events for the chat stream's next bytes.
    fn feed(&mut self, bytes: &[u8]) -> String {
        let mut out = String::new();
        // The chat phases write whole, well-formed events: a parse error here
        // would be the gateway's own bug, and ends nothing.
        for event in self.parser.feed(bytes).unwrap_or_default() {
            for canonical in self.decoder.decode(event) {
                for encoded in self.encoder.encode(canonical) {
                    out.push_str(&format_event(encoded.event.as_deref(), &encoded.data));
                }
            }
        }
        out
    }
}
