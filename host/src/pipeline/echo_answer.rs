//! The built-in echo provider's answer: the request it would have sent
//! upstream, in the client's own API, whole or streamed, through the response
//! guardrails, usage and the stream machinery like any provider's.

use super::stream::{Metering, sse_response};
use super::{Call, chat_segments, guard_body, json_response, rand_id};
use crate::api::error::{Api, ApiError};
use crate::api::sse::{SseParser, format_event};
use crate::api::stream::StreamTransformer;
use crate::governance::Ticket;
use crate::governance::usage::{Usage, UsageMeter};
use crate::guardrails::Guardrails;
use crate::guardrails::stream::StreamGuard;
use crate::json_pointer::Pointer;
use crate::providers::{Route, echo};
use crate::sandbox::{Context, Phase};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

/// What the echo provider answers.
pub(super) struct EchoCall<'a> {
    pub(super) request: &'a Value,
    pub(super) route: &'a Route<'a>,
    pub(super) stream: bool,
    pub(super) ticket: Ticket,
}

/// The echo provider's answer, through the response guardrails like any other.
pub(super) async fn echo_response(
    api: Api,
    echo: EchoCall<'_>,
    guardrails: Guardrails,
    ctx: Context,
    call: Call,
) -> Result<Response, ApiError> {
    let EchoCall {
        request,
        route,
        stream,
        mut ticket,
    } = echo;
    let text = echo::echo_text(request);
    let prompt_tokens = echo::approx_tokens(&request.to_string());
    let id = format!("echo-{:016x}", rand_id());
    let model = &route.model;
    if !stream {
        let answer = match api {
            Api::OpenAi => echo::openai_completion(&id, model, &text, prompt_tokens),
            Api::Anthropic => echo::anthropic_message(&id, model, &text, prompt_tokens),
            Api::Responses => echo::responses_answer(&id, model, &text, prompt_tokens),
        };
        if let Some(usage) = Usage::from_answer(api.dialect(), &answer) {
            ticket.set_usage(usage);
        }
        let observed = call.observed.clone();
        let extract = chat_segments(api, Phase::Response);
        let answer = guard_body(&guardrails, ctx, answer, extract, call).await?;
        if observed.logs_bodies() {
            observed.facts().response_body = Some(answer.to_string());
        }
        return Ok(json_response(StatusCode::OK, &answer));
    }
    let mut sse = String::new();
    let client_wants_usage = request
        .at("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match api {
        Api::OpenAi => {
            for chunk in echo::openai_chunks(&id, model, &text, prompt_tokens, true) {
                sse.push_str(&format_event(None, &chunk.to_string()));
            }
            sse.push_str(&format_event(None, "[DONE]"));
        }
        Api::Anthropic => {
            for (event, data) in echo::anthropic_events(&id, model, &text, prompt_tokens) {
                sse.push_str(&format_event(Some(event), &data.to_string()));
            }
        }
        Api::Responses => {
            for (event, data) in echo::responses_events(&id, model, &text, prompt_tokens) {
                sse.push_str(&format_event(event.as_deref(), &data));
            }
        }
    }
    let guard = StreamGuard::new(guardrails, ctx, call.audit, call.placeholders)
        .observed_by(call.observed.clone());
    let events = futures_util::stream::once(async move { Ok::<_, String>(Bytes::from(sse)) });
    let mut transformer = StreamTransformer::new(api, guard);
    transformer.strip_usage = api == Api::OpenAi && !client_wants_usage;
    let metering = Metering {
        meter: UsageMeter::new(api.dialect()),
        ticket,
    };
    let parser = SseParser::default();
    Ok(sse_response(
        parser,
        transformer,
        None,
        metering,
        None,
        call.observed,
        events,
    ))
}
