//! `kind = "anthropic"`: Anthropic's Messages API (`https://api.anthropic.com`).
//! The key goes in `x-api-key`; the client's `anthropic-version` and
//! `anthropic-beta` headers are forwarded verbatim (a beta header enables body
//! fields, so the two never part), with a default version for clients that
//! send none (OpenAI clients on an Anthropic model).

use super::{Endpoint, Upstream};
use crate::api::error::Api;
use crate::secret::Secret;
use axum::http::HeaderMap;
use reqwest::RequestBuilder;

/// The Anthropic API version sent when the client gives none.
const DEFAULT_VERSION: &str = "2023-06-01";

/// Anthropic.
#[derive(Debug)]
pub struct Anthropic;

impl Upstream for Anthropic {
    fn api(&self) -> Option<Api> {
        Some(Api::Anthropic)
    }

    fn path(&self, endpoint: Endpoint) -> Option<&'static str> {
        match endpoint {
            Endpoint::Chat => Some("/v1/messages"),
            Endpoint::CountTokens => Some("/v1/messages/count_tokens"),
            Endpoint::Embeddings => None,
        }
    }

    fn authorize(
        &self,
        mut request: RequestBuilder,
        key: Option<&Secret>,
        client_headers: &HeaderMap,
    ) -> RequestBuilder {
        let version = client_headers
            .get("anthropic-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(DEFAULT_VERSION);
        request = request.header("anthropic-version", version);
        for beta in client_headers.get_all("anthropic-beta") {
            request = request.header("anthropic-beta", beta);
        }
        match key {
            Some(key) => request.header("x-api-key", key.expose()),
            None => request,
        }
    }

    fn max_completion_tokens(&self) -> bool {
        false
    }
}
