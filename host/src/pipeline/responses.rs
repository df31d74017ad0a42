//! `POST /v1/responses`: OpenAI's Responses API (what Codex CLI speaks), a
//! client dialect of the chat phases like Chat Completions and Messages.
//!
//! ```text
//! auth (headers only) ─► read the body ─► parse (JSON object; `input` a
//!   string or items) ─► the chat phases ([`super::chat`]): route, scope,
//!   what only Responses can carry (below), admit, request guardrails on the
//!   Responses segments, provider: the body as it is to a provider that speaks
//!   Responses (OpenAI), else translated (Chat Completions, Messages)
//!   ─► response guardrails on the Responses answer or stream
//!   ([`crate::api::stream`]), usage, audit
//! ```
//!
//! Conversations: a response that sluice answered by translation (or the
//! echo provider) is kept in the state store ([`crate::stored_responses`],
//! unless the request says `store: false`) under an id sluice gives it, with
//! the checked input that led to it. A later request naming it as
//! `previous_response_id` is continued by sluice: the stored turns are put
//! before its input (and checked by the request guardrails with it, as they
//! go upstream again), whatever the target. `GET` and `DELETE
//! /v1/responses/{id}` read and forget them, for the key that made them only.
//! An id sluice did not keep is OpenAI's: it goes to OpenAI as it is.
//!
//! What only a provider speaking Responses can serve: built-in tools
//! (`web_search`, `file_search`, `code_interpreter`, namespaces, ...), which
//! OpenAI runs, and a `previous_response_id` that OpenAI stored. Targets of
//! the plan that would be sent such a request translated are left out; when
//! none is left, the request is refused with a 400 naming what it needs.
//! Errors are OpenAI's error JSON, which the Responses API shares.

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::api::sse::{SseParser, format_event};
use crate::canonical::Dialect;
use crate::codec;
use crate::gateway::Gateway;
use crate::routing::Plan;
use crate::stored_responses::Conversations;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tracing::Instrument;

mod input_items;

/// Runs one Responses request; keeps its answer when the chat phases say it
/// is sluice's to keep ([`Keep`]).
pub async fn responses(gateway: Arc<Gateway>, headers: HeaderMap, body: Body) -> Response {
    let mut response = super::chat(gateway.clone(), Api::Responses, headers, body).await;
    match response.extensions_mut().remove::<Keep>() {
        Some(keep) if response.status() == StatusCode::OK => {
            kept(
                gateway.conversations.clone(),
                keep,
                response,
                gateway.limits.max_answer,
            )
            .await
        }
        _ => response,
    }
}

/// Set on an answer that sluice keeps: the asking key and the checked input
/// (the earlier turns included) that led to it.
#[derive(Clone)]
pub(crate) struct Keep {
    pub(crate) key_id: String,
    pub(crate) input: Vec<Value>,
}

/// Whether a request's answer is to be kept (not `store: false`).
pub(crate) fn wants_store(request: &Value) -> bool {
    request.get("store") != Some(&Value::Bool(false))
}

/// A request's `input` as items (a string is one user message).
pub(crate) fn input_items(request: &Value) -> Vec<Value> {
    match request.get("input") {
        Some(Value::String(text)) => vec![json!({"role": "user", "content": text})],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// A request that continues a conversation sluice kept
/// (`previous_response_id`) with the stored turns put before its input, and
/// `true`; other requests as they are, and `false`.
pub(crate) async fn continue_conversation(
    conversations: &Conversations,
    key_id: &str,
    mut request: Value,
) -> Result<(Value, bool), ApiError> {
    let Some(id) = request
        .get("previous_response_id")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok((request, false));
    };
    let stored = conversations.get(key_id, &id).await.map_err(unavailable)?;
    let Some(stored) = stored else {
        return Ok((request, false));
    };
    let mut input = stored.conversation();
    input.extend(input_items(&request));
    let object = request
        .as_object_mut()
        .expect("a checked request is an object");
    object.remove("previous_response_id");
    object.insert("input".into(), Value::Array(input));
    Ok((request, true))
}

/// The state store could not be read or written.
fn unavailable(error: anyhow::Error) -> ApiError {
    tracing::warn!(error = %format!("{error:#}"), "stored responses: the state store failed");
    ApiError::new(
        ErrorKind::Unavailable,
        "the gateway's state store is unavailable",
    )
}

/// A new response id.
fn new_id() -> String {
    format!("resp_{:016x}{:016x}", super::rand_id(), super::rand_id())
}

/// `response` (the answer sluice keeps) with an id of sluice's, kept as it
/// reaches the client: whole, or at the end of its stream.
async fn kept(
    conversations: Conversations,
    keep: Keep,
    response: Response,
    max_answer: usize,
) -> Response {
    let id = new_id();
    let (mut parts, body) = response.into_parts();
    let is_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    parts.headers.remove(header::CONTENT_LENGTH);
    if !is_stream {
        let Ok(bytes) = axum::body::to_bytes(body, max_answer).await else {
            return ApiError::new(ErrorKind::Internal, "the answer could not be read")
                .render(Api::Responses);
        };
        let Ok(mut answer) = serde_json::from_slice::<Value>(&bytes) else {
            return Response::from_parts(parts, Body::from(bytes));
        };
        answer["id"] = json!(id);
        if let Err(error) = conversations
            .put(&keep.key_id, keep.input, answer.clone())
            .await
        {
            return unavailable(error).render(Api::Responses);
        }
        return Response::from_parts(parts, axum::Json(answer).into_response().into_body());
    }
    let mut parser = SseParser::default();
    let mut keep = Some(keep);
    let events = body.into_data_stream().then(move |chunk| {
        let conversations = conversations.clone();
        let id = id.clone();
        let mut out = String::new();
        let mut done = None;
        if let Ok(bytes) = &chunk {
            for event in parser.feed(bytes).unwrap_or_default() {
                let Ok(mut data) = serde_json::from_str::<Value>(&event.data) else {
                    out.push_str(&format_event(event.event.as_deref(), &event.data));
                    continue;
                };
                if let Some(response) = data.get_mut("response").filter(|r| r.is_object()) {
                    response["id"] = json!(id);
                    if data["type"] == "response.completed" || data["type"] == "response.incomplete"
                    {
                        done = Some(data["response"].clone());
                    }
                }
                out.push_str(&format_event(event.event.as_deref(), &data.to_string()));
            }
        }
        let keep = if done.is_some() { keep.take() } else { None };
        async move {
            if let (Some(keep), Some(response)) = (keep, done) {
                // The client has the answer either way; a store that failed
                // only means it cannot be continued.
                if let Err(error) = conversations.put(&keep.key_id, keep.input, response).await {
                    unavailable(error);
                }
            }
            chunk.map(|_| Bytes::from(out))
        }
    });
    Response::from_parts(parts, Body::from_stream(events))
}

/// What a request asks of a response sluice kept.
pub enum StoredAction {
    /// `GET /v1/responses/{id}`: the response.
    Get,
    /// `DELETE /v1/responses/{id}`: forget it.
    Delete,
    /// `GET /v1/responses/{id}/input_items`: the items it answered, a page of
    /// them as the query (`limit`, `order`, `after`) asks.
    InputItems(Option<String>),
}

/// A response sluice kept, for the key that made it (to another key it does
/// not exist).
pub async fn stored(
    gateway: Arc<Gateway>,
    action: StoredAction,
    id: String,
    headers: HeaderMap,
) -> Response {
    let envelope = super::Envelope::begin(&gateway, Api::Responses, &headers);
    let result = async {
        let caller = gateway.keys.authenticate(&headers).await?;
        let key_id = caller.key_id.unwrap_or_default();
        let conversations = &gateway.conversations;
        let not_found = || {
            ApiError::new(
                ErrorKind::NotFound,
                format!(
                    "no response with id `{id}` is kept by this gateway for this key \
                     (responses answered by OpenAI are kept by OpenAI)"
                ),
            )
        };
        let page = match &action {
            StoredAction::InputItems(query) => Some(input_items::Page::parse(query.as_deref())?),
            _ => None,
        };
        if let StoredAction::Delete = action {
            return match conversations
                .delete(&key_id, &id)
                .await
                .map_err(unavailable)?
            {
                true => Ok(
                    axum::Json(json!({"id": id, "object": "response", "deleted": true}))
                        .into_response(),
                ),
                false => Err(not_found()),
            };
        }
        let stored = conversations
            .get(&key_id, &id)
            .await
            .map_err(unavailable)?
            .ok_or_else(not_found)?;
        Ok(match page {
            Some(page) => axum::Json(page.of(&stored)?).into_response(),
            None => axum::Json(stored.response).into_response(),
        })
    };
    let result = result.instrument(envelope.span.clone()).await;
    envelope.finish(result, Vec::new())
}

/// What in a Responses `request` only a provider speaking Responses serves,
/// in words for an error: its built-in tools and a `previous_response_id`.
fn needs_responses(request: &Value) -> Vec<String> {
    let mut needs: Vec<String> = codec::responses::builtin_tools(request)
        .into_iter()
        .map(|tool| format!("tools of type `{tool}`"))
        .collect();
    if request
        .get("previous_response_id")
        .is_some_and(|id| !id.is_null())
    {
        needs.push(
            "a `previous_response_id` this gateway did not keep for this key (a response OpenAI stored)"
                .into(),
        );
    }
    needs
}

/// Leaves out the targets of `plan` that do not speak Responses when
/// `request` carries what only they can serve; a 400 when none is left.
pub(crate) fn keep_targets_that_can_serve(
    request: &Value,
    plan: &mut Plan<'_>,
) -> Result<(), ApiError> {
    let needs = needs_responses(request);
    if needs.is_empty() {
        return Ok(());
    }
    let first = plan.steps[0].route.qualified();
    plan.steps.retain(|step| {
        let provider = step.route.provider;
        provider.answers_locally()
            || provider.dialect_for(Dialect::Responses, &step.route.model)
                == Some(Dialect::Responses)
    });
    if plan.steps.is_empty() {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!(
                "{} can only be served by a provider speaking the Responses API (kind = \"openai\"); \
                 `{first}` does not: send function tools only, and the whole conversation as `input`",
                needs.join(" and ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_tools_and_stored_conversations_need_responses() {
        let body = json!({"input": "hi", "tools": [{"type": "function", "name": "f"},
            {"type": "web_search"}], "previous_response_id": "resp_1"});
        assert_eq!(
            needs_responses(&body),
            [
                "tools of type `web_search`",
                "a `previous_response_id` this gateway did not keep for this key (a response OpenAI stored)"
            ]
        );
        let plain = json!({"input": "hi", "tools": [{"type": "function", "name": "f"}],
            "previous_response_id": null});
        assert!(needs_responses(&plain).is_empty());
    }
}
