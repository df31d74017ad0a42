//! `kind = "openai-compatible"`: any server speaking OpenAI's Chat Completions
//! (Ollama, vLLM, Groq, ...). Like OpenAI, but a translated request keeps the
//! older `max_tokens`, which these servers read.

use super::{Endpoint, Upstream};
use crate::api::error::Api;
use crate::secret::Secret;
use axum::http::HeaderMap;
use reqwest::RequestBuilder;

/// An OpenAI-compatible server.
#[derive(Debug)]
pub struct OpenAiCompatible;

impl Upstream for OpenAiCompatible {
    fn api(&self) -> Option<Api> {
        Some(Api::OpenAi)
    }

    fn path(&self, endpoint: Endpoint) -> Option<&'static str> {
        path(endpoint)
    }

    fn authorize(
        &self,
        request: RequestBuilder,
        key: Option<&Secret>,
        _: &HeaderMap,
    ) -> RequestBuilder {
        bearer(request, key)
    }

    fn max_completion_tokens(&self) -> bool {
        false
    }
}

/// The paths of OpenAI's API under its base URL (`.../v1`), which compatible
/// servers copy.
pub(super) fn path(endpoint: Endpoint) -> Option<&'static str> {
    match endpoint {
        Endpoint::Chat => Some("/chat/completions"),
        Endpoint::Embeddings => Some("/embeddings"),
        Endpoint::CountTokens => None,
    }
}

/// The provider key as `Authorization: Bearer`, when there is one (a local
/// server may need none).
pub(super) fn bearer(request: RequestBuilder, key: Option<&Secret>) -> RequestBuilder {
    match key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    }
}
