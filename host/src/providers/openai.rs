//! `kind = "openai"`: OpenAI's own API under the base URL
//! (`https://api.openai.com/v1`), the key as a Bearer token. It speaks both
//! OpenAI APIs: Chat Completions and Responses clients pass through in their
//! own, and an Anthropic client is translated to Chat Completions, with
//! `max_completion_tokens` (OpenAI's current name). Models that OpenAI serves
//! only on the Responses API (`responses_models`) get every client in
//! Responses.

use super::http::{Bearer, Request};
use super::openai_compatible::{CHAT_PATH, EMBEDDINGS_PATH, bearer};
use super::{Endpoint, Outgoing, Upstream, UpstreamError};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use axum::http::Uri;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// The Responses API's path under the base URL.
const RESPONSES_PATH: &str = "/responses";

/// OpenAI's model families served only on the Responses API, used when a
/// provider's config gives no `responses_models`.
pub const DEFAULT_RESPONSES_MODELS: &[&str] = &[
    "o1-pro*",
    "o3-pro*",
    "o3-deep-research*",
    "o4-mini-deep-research*",
    "codex-mini*",
    "gpt-5*-codex*",
    "gpt-5*-pro*",
    "computer-use-preview*",
];

/// OpenAI.
#[derive(Debug)]
pub struct OpenAi {
    chat: Uri,
    responses: Uri,
    embeddings: Uri,
    /// The key as `Authorization: Bearer`, made once.
    bearer: Option<Bearer>,
    /// Patterns of the models served only on the Responses API.
    responses_models: Vec<String>,
}

impl OpenAi {
    /// The provider of `config`.
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        let responses_models = match &config.responses_models {
            Some(patterns) => patterns.clone(),
            None => DEFAULT_RESPONSES_MODELS
                .iter()
                .map(|p| p.to_string())
                .collect(),
        };
        Ok(OpenAi {
            chat: super::endpoint_url(config, CHAT_PATH)?,
            responses: super::endpoint_url(config, RESPONSES_PATH)?,
            embeddings: super::endpoint_url(config, EMBEDDINGS_PATH)?,
            bearer: config.api_key.as_ref().map(|key| Bearer::new(key.expose())),
            responses_models,
        })
    }
}

impl Upstream for OpenAi {
    fn dialects(&self, model: &str) -> &'static [Dialect] {
        let responses_only = self
            .responses_models
            .iter()
            .any(|pattern| crate::keys::scope::matches(pattern, model));
        if responses_only {
            &[Dialect::Responses]
        } else {
            &[Dialect::Chat, Dialect::Responses]
        }
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        matches!(endpoint, Endpoint::Chat | Endpoint::Embeddings)
    }

    fn target(&self) -> codec::Target {
        codec::Target {
            openai_native: true,
        }
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        let url = match (call.endpoint, call.dialect) {
            (Endpoint::Embeddings, _) => &self.embeddings,
            (_, Dialect::Responses) => &self.responses,
            _ => &self.chat,
        };
        let request = Request::post_json(url.clone(), call.body);
        async move { Ok(bearer(request, self.bearer.as_ref())) }.boxed()
    }
}
