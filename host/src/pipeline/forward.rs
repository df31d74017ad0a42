//! The endpoints beside chat that forward client text upstream: OpenAI
//! `/v1/embeddings` and Anthropic `/v1/messages/count_tokens`. They pass the
//! same phases as a chat request, minus routing configs and streaming:
//!
//! ```text
//! auth (headers only) ─► read body ─► parse ─► resolve the model ─► scope
//!   ─► admit (budgets, rate limits) ─► request guardrails (block ⇒ 400;
//!   redact ⇒ body rewritten; audited) ─► provider (or echo, locally)
//!   ─► an error's text through the response guardrails ─► usage
//!   (embeddings: the provider's `usage`; count_tokens: a request, no cost)
//! ```
//!
//! Their answers carry no text (vectors, a count), so there is nothing for
//! response guardrails to read in a success.

use super::{Call, Envelope, authenticate, context, guard_body, json_response, upstream_error};
use crate::api::error::{Api, ApiError, ErrorKind};
use crate::api::segments::{self, Extracted};
use crate::gateway::Gateway;
use crate::governance::usage::Usage;
use crate::providers::{self, Outgoing, echo};
use crate::routing::attempt::read_limited;
use crate::sandbox::Phase;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use tracing::Instrument;

/// An endpoint that forwards a body upstream as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
}

impl Endpoint {
    /// The API it belongs to.
    pub fn api(self) -> Api {
        match self {
            Endpoint::Embeddings => Api::OpenAi,
            Endpoint::CountTokens => Api::Anthropic,
        }
    }

    /// The provider endpoint it forwards to.
    fn upstream(self) -> providers::Endpoint {
        match self {
            Endpoint::Embeddings => providers::Endpoint::Embeddings,
            Endpoint::CountTokens => providers::Endpoint::CountTokens,
        }
    }

    /// Where the client's text is in its body.
    fn segments(self) -> fn(&Value) -> Extracted {
        match self {
            Endpoint::Embeddings => segments::embeddings_request,
            Endpoint::CountTokens => segments::anthropic_request,
        }
    }
}

/// Runs one request to `endpoint`.
pub async fn forward(
    gateway: Arc<Gateway>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let api = endpoint.api();
    let envelope = Envelope::begin(&gateway, api, &headers);
    let mut extra = Vec::new();
    let inner = forward_inner(&gateway, endpoint, &headers, body, &envelope, &mut extra);
    let result = inner.instrument(envelope.span.clone()).await;
    envelope.finish(result, extra)
}

async fn forward_inner(
    gateway: &Gateway,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Body,
    envelope: &Envelope,
    extra: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<Response, ApiError> {
    let api = endpoint.api();
    let observed = &envelope.observed;
    let (caller, call) =
        authenticate(gateway, headers, &envelope.request_id, observed, extra).await?;
    let bytes = crate::api::read_body(gateway, body).await?;
    let invalid = |message: String| ApiError::new(ErrorKind::InvalidRequest, message);
    let mut request: Value = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("the request body is not valid JSON: {e}")))?;
    if !request.is_object() {
        return Err(invalid("the request body must be a JSON object".into()));
    }
    let requested = match request.get("model") {
        None => None,
        Some(Value::String(model)) => Some(model.clone()),
        Some(_) => return Err(invalid("`model` must be a string".into())),
    };
    observed.facts().requested_model = requested.clone();
    let route = gateway
        .providers
        .resolve(requested.as_deref(), caller.default_model.as_deref())?;
    caller.check_scope(&route, requested.as_deref(), &gateway.providers)?;
    {
        let mut facts = observed.facts();
        facts.provider = Some(route.provider.slug.clone());
        facts.model = Some(route.qualified());
    }
    if !route.provider.answers_locally() && !route.provider.serves(endpoint.upstream()) {
        return Err(invalid(format!(
            "model `{}` is not served by an {} API: provider `{}` has no such endpoint",
            route.qualified(),
            api.as_str(),
            route.provider.slug
        )));
    }
    let guardrails = gateway.guardrails.subset(caller.guardrails.as_deref());
    if endpoint == Endpoint::Embeddings
        && guardrails.runs_in(Phase::Request)
        && !input_is_text(&request)
    {
        return Err(invalid(
            "`input` must be a string or an array of strings: token ids cannot be checked by this gateway's guardrails"
                .into(),
        ));
    }
    let mut ticket = super::admit(gateway, api, &caller, &route, observed, extra).await?;
    // request guardrails, over exactly the body that is sent
    request["model"] = Value::String(route.model.clone());
    let ctx = context(&guardrails, api, Phase::Request, &route, &caller);
    let request = guard_body(&guardrails, ctx, request, endpoint.segments(), call.clone()).await?;
    if observed.logs_bodies() {
        observed.facts().request_body = Some(request.to_string());
    }
    if route.provider.answers_locally() {
        let answer = echo_answer(endpoint, &route.model, &request);
        if let Some(usage) = Usage::from_answer(api.dialect(), &answer) {
            ticket.set_usage(usage);
        }
        return Ok(json_response(StatusCode::OK, &answer));
    }
    // provider
    let slug = route.provider.slug.clone();
    let body = serde_json::to_vec(&request).expect("a Value serializes");
    let limit = route.provider.timeout;
    let calling = std::time::Instant::now();
    let sent = async {
        let response = route
            .provider
            .send(
                &gateway.providers.client,
                Outgoing {
                    endpoint: endpoint.upstream(),
                    dialect: api.dialect(),
                    model: &route.model,
                    stream: false,
                    body: body.into(),
                    client_headers: headers,
                },
            )
            .await
            .map_err(|e| e.to_api())?;
        let status = response.status();
        let passed_on = crate::routing::attempt::passed_on_headers(response.headers());
        let bytes = read_limited(response, gateway.limits.max_answer)
            .await
            .map_err(|e| ApiError::new(ErrorKind::BadGateway, e.message(&slug)))?;
        Ok::<_, ApiError>((status, passed_on, bytes))
    };
    let (status, passed_on, bytes) = tokio::time::timeout(limit, sent)
        .await
        .map_err(|_| crate::providers::UpstreamError::Timeout(slug.clone(), limit).to_api())??;
    observed.waited_upstream(calling.elapsed());
    if !status.is_success() {
        observed.facts().error = Some((
            "upstream_status",
            format!("provider `{slug}` answered {}", status.as_u16()),
        ));
        let error = guarded_error(api, &guardrails, &route, &caller, call, status, &bytes).await?;
        return Ok(super::with_headers(error, passed_on));
    }
    let answer: Value = serde_json::from_slice(&bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::BadGateway,
                format!("provider `{slug}` sent an answer that is not JSON"),
            )
        })?;
    if endpoint == Endpoint::Embeddings
        && let Some(usage) = Usage::from_answer(api.dialect(), &answer)
    {
        ticket.set_usage(usage);
    }
    Ok(json_response(status, &answer))
}

/// A provider's error, its text through the response guardrails.
async fn guarded_error(
    api: Api,
    guardrails: &crate::guardrails::Guardrails,
    route: &crate::providers::Route<'_>,
    caller: &crate::auth::Caller,
    call: Call,
    status: StatusCode,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    let error = upstream_error(api, &route.provider.slug, status, bytes, false)?;
    let ctx = context(guardrails, api, Phase::Response, route, caller);
    let error = guard_body(guardrails, ctx, error, segments::every_string, call).await?;
    Ok(json_response(status, &error))
}

/// Whether an embeddings `input` is text (a string or strings), not token ids.
fn input_is_text(request: &Value) -> bool {
    match request.get("input") {
        Some(Value::String(_)) => true,
        Some(Value::Array(items)) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// What the built-in echo provider answers locally: an estimate of the input
/// tokens (four bytes a token), and no vectors.
fn echo_answer(endpoint: Endpoint, model: &str, request: &Value) -> Value {
    let tokens = echo::approx_tokens(&request.to_string());
    match endpoint {
        Endpoint::CountTokens => json!({ "input_tokens": tokens }),
        Endpoint::Embeddings => json!({
            "object": "list", "data": [], "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        }),
    }
}
