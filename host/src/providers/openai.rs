//! `kind = "openai"`: OpenAI's own API. Chat Completions and embeddings under
//! the base URL (`https://api.openai.com/v1`), the key as a Bearer token, and
//! `max_completion_tokens` (OpenAI's current name) when a request is translated.

use super::{Endpoint, Upstream};
use crate::api::error::Api;
use crate::secret::Secret;
use axum::http::HeaderMap;
use reqwest::RequestBuilder;

/// OpenAI.
#[derive(Debug)]
pub struct OpenAi;

impl Upstream for OpenAi {
    fn api(&self) -> Option<Api> {
        Some(Api::OpenAi)
    }

    fn path(&self, endpoint: Endpoint) -> Option<&'static str> {
        super::openai_compatible::path(endpoint)
    }

    fn authorize(
        &self,
        request: RequestBuilder,
        key: Option<&Secret>,
        _: &HeaderMap,
    ) -> RequestBuilder {
        super::openai_compatible::bearer(request, key)
    }

    fn max_completion_tokens(&self) -> bool {
        true
    }
}
