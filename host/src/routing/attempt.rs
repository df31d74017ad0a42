//! One try of one target: the guarded request rewritten for it (model,
//! translation when it does not speak the client's dialect), sent with its
//! timeout, and its answer sorted into served or failed, read with a size
//! limit.

use super::{Failure, Step};
use crate::api::splice::{ClientBytes, Edit};
use crate::canonical::Dialect;
use crate::json_pointer::Pointer;
use crate::providers::body::UpstreamBody;
use crate::providers::http::{Client, Response};
use crate::providers::{Endpoint, Outgoing, Route, UpstreamError};
use crate::translate;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;
use std::time::Duration;

/// What every try of one request shares.
pub struct Outbound<'a> {
    /// The client's dialect.
    pub dialect: Dialect,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The client's headers (for Anthropic's version and beta headers).
    pub client_headers: &'a HeaderMap,
    /// The shared HTTP client.
    pub client: &'a Client,
    /// The largest answer (or error body) read whole, in bytes.
    pub max_answer: usize,
    /// Whether a whole answer in the client's dialect is read only for its
    /// usage ([`crate::api::shallow`]): nothing else reads it (no response
    /// guardrail, nothing kept). A translated answer is always read in full.
    pub usage_only: bool,
}

/// An answer, in the provider's format.
pub enum Answer {
    /// A whole JSON answer: parsed, and the bytes it came in.
    Whole {
        /// The answer (a JSON object): in full, or only its usage when
        /// [`Outbound::usage_only`] (its other members left out).
        parsed: Value,
        /// Its bytes, as the provider sent them.
        raw: Bytes,
    },
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
    /// The dialect it was sent the request in, and answered in.
    pub dialect: Dialect,
    /// Its answer.
    pub answer: Answer,
}

/// One try of `step`: its guarded body (see [`Step::body`]) with the
/// target's model, translated when the provider does not speak the client's
/// dialect ([`crate::providers::Provider::dialect_for`]). The
/// wait for the answer to start is bounded by the step's timeout (else the
/// provider's); a stream that has started is bounded only by the provider's
/// idle timeout between bytes.
pub async fn try_step<'p>(out: &Outbound<'_>, step: Step<'p>) -> Result<Served<'p>, Failure> {
    let route = step.route;
    let Some(dialect) = route.provider.dialect_for(out.dialect, &route.model) else {
        return Err(Failure::Malformed(format!(
            "`{}` is the built-in echo provider, which can only be a config's first target",
            route.qualified()
        )));
    };
    let Some(checked) = step.body else {
        // The pipeline sets every step's body after the request guardrails;
        // a body they did not check is never sent.
        return Err(Failure::Malformed(
            "internal error: the request was not checked for this target".into(),
        ));
    };
    let translating = dialect != out.dialect;
    // Chat Completions streams report usage only when asked; the gateway
    // always asks (and takes the usage chunk out again when the client did
    // not ask for it).
    let ask_for_usage = out.stream && dialect == Dialect::Chat;
    let client_bytes = step
        .raw
        .as_ref()
        .filter(|_| !translating)
        .and_then(|raw| with_model(raw, &route.model, ask_for_usage));
    let upstream_body = match client_bytes {
        Some(pieces) => UpstreamBody::from_pieces(pieces),
        None => {
            let mut body = match step.raw.as_deref().filter(|_| step.head_only) {
                // nothing changed the client's bytes, but they cannot be
                // sent as they are: they are read in full now
                Some(raw) => serde_json::from_slice(raw).map_err(|e| {
                    Failure::Malformed(format!(
                        "internal error: the request body could not be read in full ({e})"
                    ))
                })?,
                None => Value::clone(&checked),
            };
            if let Some(object) = body.as_object_mut() {
                object.insert("model".into(), Value::String(route.model.clone()));
            }
            let mut upstream_body = if translating {
                translate::request(out.dialect, dialect, &body, route.provider.target())
            } else {
                body
            };
            if ask_for_usage && upstream_body.is_object() {
                upstream_body["stream_options"]["include_usage"] = Value::Bool(true);
            }
            UpstreamBody::from(serde_json::to_vec(&upstream_body).expect("a Value serializes"))
        }
    };
    let slug = route.provider.slug.clone();
    let idle = route.provider.idle_timeout;
    let attempt = async {
        let response = route
            .provider
            .send(
                out.client,
                Outgoing {
                    endpoint: Endpoint::Chat,
                    dialect,
                    model: &route.model,
                    stream: out.stream,
                    body: upstream_body,
                    client_headers: out.client_headers,
                },
            )
            .await
            .map_err(Failure::Transport)?;
        classify(response, out, &slug, translating, idle).await
    };
    let limit = step.timeout.unwrap_or(route.provider.timeout);
    let answer = tokio::time::timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(Failure::Transport(UpstreamError::Timeout(
                slug.clone(),
                limit,
            )))
        })?;
    Ok(Served {
        route,
        dialect,
        answer,
    })
}

/// The client's bytes with `model` spliced in (and a Chat Completions
/// stream's request for usage, when `ask_for_usage`); `None` when they cannot
/// be edited in place ([`crate::api::splice`]) or already say something about usage.
fn with_model(raw: &ClientBytes, model: &str, ask_for_usage: bool) -> Option<Vec<Bytes>> {
    let model = serde_json::to_string(model).expect("a string serializes");
    let set_model = Edit::Set("model", &model);
    if ask_for_usage {
        raw.edit(&[
            set_model,
            Edit::Add("stream_options", r#"{"include_usage":true}"#),
        ])
    } else {
        raw.edit(&[set_model])
    }
}

/// Response headers of a provider's error worth passing on to the client:
/// when to retry, and the provider's rate-limit state.
pub fn passed_on_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name == "retry-after"
                || name == "retry-after-ms"
                || name.starts_with("x-ratelimit-")
                || name.starts_with("anthropic-ratelimit-")
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Why an answer could not be read whole.
#[derive(Debug)]
pub enum ReadError {
    /// It is larger than the limit (in bytes).
    TooLarge(usize),
    /// The connection broke.
    Broken(String),
}

impl ReadError {
    /// As a message naming the provider.
    pub fn message(&self, slug: &str) -> String {
        match self {
            ReadError::TooLarge(limit) => format!(
                "provider `{slug}` sent an answer larger than {} MiB ([server] max_answer_mb)",
                (limit >> 20).max(1)
            ),
            ReadError::Broken(e) => format!("provider `{slug}` broke off its answer: {e}"),
        }
    }
}

/// Reads a whole answer, but no more than `limit` bytes: a larger one is
/// refused as soon as it is known to be larger (its `Content-Length`, or the
/// first byte past the limit), so memory stays bounded whatever the provider
/// sends.
pub async fn read_limited(mut response: Response, limit: usize) -> Result<Bytes, ReadError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ReadError::TooLarge(limit));
    }
    let announced = response.content_length().unwrap_or(0);
    let mut body = crate::body_bytes::BodyBytes::expecting(
        usize::try_from(announced).unwrap_or(limit).min(limit),
    );
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(ReadError::TooLarge(limit));
                }
                body.push(chunk);
            }
            Ok(None) => return Ok(body.finish()),
            Err(e) => return Err(ReadError::Broken(e)),
        }
    }
}

/// `stream`, ended with an error item when it sends nothing for `idle`.
pub fn with_idle_timeout(
    stream: BoxStream<'static, Result<Bytes, String>>,
    idle: Duration,
    slug: String,
) -> BoxStream<'static, Result<Bytes, String>> {
    futures_util::stream::unfold(Some(stream), move |state| {
        let slug = slug.clone();
        async move {
            let mut stream = state?;
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(item)) => Some((item, Some(stream))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(format!(
                        "provider `{slug}` sent nothing for {} s (its idle_timeout_s)",
                        idle.as_secs()
                    )),
                    None,
                )),
            }
        }
    })
    .boxed()
}

/// The content type of AWS's event-stream framing.
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// The wait a throttled provider's error body suggests: Google's
/// `RetryInfo` (`"retryDelay": "20s"`).
fn suggested_wait(body: &[u8]) -> Option<Duration> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body.at("/error/details")?
        .as_array()?
        .iter()
        .find_map(|detail| detail["retryDelay"].as_str())
        .and_then(|delay| delay.strip_suffix('s'))
        .and_then(|seconds| seconds.parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0 && *seconds < 86_400.0)
        .map(Duration::from_secs_f64)
}

/// Sorts an upstream response into an answer or a failure, reading as much of
/// it as that takes: all of a whole answer (up to the limit), the first bytes
/// of a stream.
async fn classify(
    response: Response,
    out: &Outbound<'_>,
    slug: &str,
    translated: bool,
    idle: Duration,
) -> Result<Answer, Failure> {
    let status = response.status();
    if !status.is_success() {
        let mut retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| super::retry::parse_retry_after(v, crate::clock::now_ms()));
        let mut headers = passed_on_headers(response.headers());
        let body = read_limited(response, out.max_answer)
            .await
            .map_err(|e| Failure::Malformed(e.message(slug)))?;
        // Throttled without a `Retry-After` (Bedrock, Vertex AI, Gemini): the
        // wait the body suggests, else a second, so that every 429 says when.
        if status == StatusCode::TOO_MANY_REQUESTS && retry_after.is_none() {
            let wait = suggested_wait(&body).unwrap_or(Duration::from_secs(1));
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            headers.push((header::RETRY_AFTER, HeaderValue::from(seconds)));
            retry_after = Some(wait);
        }
        return Err(Failure::Status {
            status,
            body,
            headers,
            retry_after,
            provider: slug.to_string(),
            translated,
        });
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_sse = content_type.starts_with("text/event-stream");
    // Bedrock streams in AWS's binary event-stream framing, read as SSE.
    let is_event_stream = content_type.starts_with(EVENT_STREAM);
    if out.stream && (is_sse || is_event_stream) {
        let mut events = response.into_stream();
        if is_event_stream {
            events = crate::providers::aws::eventstream::to_sse(events);
        }
        return match events.next().await {
            Some(Ok(first)) => Ok(Answer::Stream {
                first,
                rest: with_idle_timeout(events, idle, slug.to_string()),
            }),
            Some(Err(e)) => Err(Failure::Malformed(format!(
                "provider `{slug}`'s stream broke before its first event: {e}"
            ))),
            None => Err(Failure::Malformed(format!(
                "provider `{slug}`'s stream ended before its first event"
            ))),
        };
    }
    let bytes = read_limited(response, out.max_answer)
        .await
        .map_err(|e| Failure::Malformed(e.message(slug)))?;
    let parsed = if out.usage_only && !translated {
        let usage = crate::governance::usage::Usage::field(out.dialect);
        crate::api::shallow::read_member(&bytes, usage)
            .ok()
            .map(|found| Value::Object(found.map(|u| (usage.to_owned(), u)).into_iter().collect()))
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
    };
    let parsed = parsed.ok_or_else(|| {
        Failure::Malformed(format!("provider `{slug}` sent an answer that is not JSON"))
    })?;
    Ok(Answer::Whole { parsed, raw: bytes })
}
