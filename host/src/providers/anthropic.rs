//! `kind = "anthropic"`: Anthropic's Messages API (`https://api.anthropic.com`).
//! The key goes in `x-api-key`; the client's `anthropic-version` and
//! `anthropic-beta` headers are forwarded verbatim (a beta header enables body
//! fields, so the two never part), with a default version for clients that
//! send none (OpenAI clients on an Anthropic model).

use super::http::Request;
use super::{Endpoint, Outgoing, Upstream, UpstreamError};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use crate::secret::Secret;
use axum::http::{HeaderMap, HeaderValue};
use axum::http::{HeaderName, Uri};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// The Anthropic API version sent when the client gives none.
const DEFAULT_VERSION: &str = "2023-06-01";

/// Anthropic.
#[derive(Debug)]
pub struct Anthropic {
    messages: Uri,
    count_tokens: Uri,
    key: Option<Secret>,
}

impl Anthropic {
    /// The provider of `config`.
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        Ok(Anthropic {
            messages: super::endpoint_url(config, "/v1/messages")?,
            count_tokens: super::endpoint_url(config, "/v1/messages/count_tokens")?,
            key: config.api_key.clone(),
        })
    }
}

impl Upstream for Anthropic {
    fn dialects(&self, _: &str) -> &'static [Dialect] {
        &[Dialect::Messages]
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        matches!(endpoint, Endpoint::Chat | Endpoint::CountTokens)
    }

    fn target(&self) -> codec::Target {
        codec::Target::default()
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        let url = match call.endpoint {
            Endpoint::CountTokens => &self.count_tokens,
            _ => &self.messages,
        };
        let request = Request::post_json(url.clone(), call.body);
        let request = headers(request, self.key.as_ref(), call.client_headers);
        async move { Ok(request) }.boxed()
    }
}

/// `request` with the key in `x-api-key`, and the client's version (or the
/// default) and every beta value of the client's.
pub(super) fn headers(
    mut request: Request,
    key: Option<&Secret>,
    client_headers: &HeaderMap,
) -> Request {
    let version = client_headers
        .get("anthropic-version")
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
    request = request.header(HeaderName::from_static("anthropic-version"), version);
    request = with_betas(request, client_headers);
    match key {
        Some(key) => request.secret("x-api-key", key.expose()),
        None => request,
    }
}

/// `request` with every `anthropic-beta` value of the client's.
pub(super) fn with_betas(mut request: Request, client_headers: &HeaderMap) -> Request {
    for beta in client_headers.get_all("anthropic-beta") {
        request = request.header(HeaderName::from_static("anthropic-beta"), beta.clone());
    }
    request
}

/// A Messages body as a cloud serving Claude wants it (Bedrock, Vertex AI):
/// `model` and the `dropped` fields out, the cloud's `anthropic_version` in
/// (unless the client set one), and with `betas`, the client's
/// `anthropic-beta` values as the body's `anthropic_beta`. A body that is not
/// a JSON object goes as it is.
pub(crate) fn cloud_body(
    body: &[u8],
    version: &str,
    dropped: &[&str],
    betas: Option<&HeaderMap>,
) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut body)) = serde_json::from_slice(body) else {
        return body.to_vec();
    };
    body.remove("model");
    for field in dropped {
        body.remove(*field);
    }
    body.entry("anthropic_version")
        .or_insert_with(|| serde_json::json!(version));
    let betas: Vec<&str> = betas
        .into_iter()
        .flat_map(|headers| headers.get_all("anthropic-beta"))
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if !betas.is_empty() {
        body.entry("anthropic_beta")
            .or_insert_with(|| serde_json::json!(betas));
    }
    serde_json::to_vec(&serde_json::Value::Object(body)).expect("a Value serializes")
}
