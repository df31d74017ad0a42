//! One try of one target: the request rewritten for it (overrides, model,
//! translation when it speaks the other API), sent with its timeout, and its
//! answer sorted into served or failed.

use super::{Failure, Step};
use crate::api::error::Api;
use crate::config::ProviderKind;
use crate::providers::{Route, UpstreamError};
use crate::translate;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;

/// What every try of one request shares.
pub struct Outbound<'a> {
    /// The client's API.
    pub api: Api,
    /// The request, in the client's format, after the request guardrails.
    pub request: &'a Value,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The client's headers (for Anthropic's version and beta headers).
    pub client_headers: &'a HeaderMap,
    /// The shared HTTP client.
    pub client: &'a reqwest::Client,
}

/// An answer, in the provider's format.
pub enum Answer {
    /// A whole JSON answer.
    Whole(Value),
    /// A stream whose first bytes have arrived.
    Stream {
        /// Those bytes.
        first: Bytes,
        /// The rest of the stream.
        rest: BoxStream<'static, Result<Bytes, String>>,
    },
}

/// A target that answered.
pub struct Served<'p> {
    /// The target.
    pub route: Route<'p>,
    /// Whether the request was translated for it.
    pub translating: bool,
    /// Its answer.
    pub answer: Answer,
}

/// One try of `step`.
pub async fn try_step<'p>(out: &Outbound<'_>, step: Step<'p>) -> Result<Served<'p>, Failure> {
    let route = step.route;
    let Some(provider_api) = route.provider.api() else {
        return Err(Failure::Malformed(format!(
            "`{}` is the built-in echo provider, which can only be a config's first target",
            route.qualified()
        )));
    };
    let mut body = out.request.clone();
    if let Some(object) = body.as_object_mut() {
        for (field, value) in step.overrides {
            if value.is_null() {
                object.remove(&field);
            } else {
                object.insert(field, value);
            }
        }
        object.insert("model".into(), Value::String(route.model.clone()));
    }
    let translating = provider_api != out.api;
    let mut upstream_body = if translating {
        translate::request(out.api, &body, route.provider.kind == ProviderKind::Openai)
    } else {
        body
    };
    // OpenAI streams report usage only when asked; the gateway always asks (and
    // takes the usage chunk out again when the client did not ask for it).
    if out.stream && provider_api == Api::OpenAi && upstream_body.is_object() {
        upstream_body["stream_options"]["include_usage"] = Value::Bool(true);
    }
    let slug = route.provider.slug.clone();
    let attempt = async {
        let response = route
            .provider
            .send(
                out.client,
                route.provider.chat_path(),
                serde_json::to_vec(&upstream_body).expect("a Value serializes"),
                out.client_headers,
            )
            .await
            .map_err(Failure::Transport)?;
        classify(response, out.stream, &slug, translating).await
    };
    let answer = match step.timeout {
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Transport(UpstreamError::Timeout(
                    slug.clone(),
                    limit,
                )))
            })?,
        None => attempt.await?,
    };
    Ok(Served {
        route,
        translating,
        answer,
    })
}

/// Sorts an upstream response into an answer or a failure, reading as much of
/// it as that takes: all of a whole answer, the first bytes of a stream.
async fn classify(
    response: reqwest::Response,
    stream: bool,
    slug: &str,
    translated: bool,
) -> Result<Answer, Failure> {
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| super::retry::parse_retry_after(v, crate::clock::now_ms()));
        let body = response.bytes().await.unwrap_or_default();
        return Err(Failure::Status {
            status,
            body,
            retry_after,
            provider: slug.to_string(),
            translated,
        });
    }
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if stream && is_sse {
        let mut events = response
            .bytes_stream()
            .map(|chunk| chunk.map_err(|e| e.to_string()))
            .boxed();
        return match events.next().await {
            Some(Ok(first)) => Ok(Answer::Stream {
                first,
                rest: events,
            }),
            Some(Err(e)) => Err(Failure::Malformed(format!(
                "provider `{slug}`'s stream broke before its first event: {e}"
            ))),
            None => Err(Failure::Malformed(format!(
                "provider `{slug}`'s stream ended before its first event"
            ))),
        };
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure::Malformed(format!("provider `{slug}` broke off its answer: {e}")))?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
        .map(Answer::Whole)
        .ok_or_else(|| {
            Failure::Malformed(format!("provider `{slug}` sent an answer that is not JSON"))
        })
}
