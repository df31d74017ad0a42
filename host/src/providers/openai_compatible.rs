//! `kind = "openai-compatible"`: any server speaking OpenAI's Chat Completions
//! (Ollama, vLLM, Groq, ...). Like OpenAI, but a translated request keeps the
//! older `max_tokens`, which these servers read, and it speaks no Responses.

use super::{Endpoint, Outgoing, Upstream, UpstreamError};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use crate::secret::Secret;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use reqwest::{RequestBuilder, Url};

/// An OpenAI-compatible server.
#[derive(Debug)]
pub struct OpenAiCompatible {
    chat: Url,
    embeddings: Url,
    key: Option<Secret>,
}

impl OpenAiCompatible {
    /// The provider of `config`.
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        Ok(OpenAiCompatible {
            chat: super::endpoint_url(config, CHAT_PATH)?,
            embeddings: super::endpoint_url(config, EMBEDDINGS_PATH)?,
            key: config.api_key.clone(),
        })
    }
}

impl Upstream for OpenAiCompatible {
    fn dialects(&self, _: &str) -> &'static [Dialect] {
        &[Dialect::Chat]
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        matches!(endpoint, Endpoint::Chat | Endpoint::Embeddings)
    }

    fn target(&self) -> codec::Target {
        codec::Target::default()
    }

    fn request<'a>(
        &'a self,
        client: &'a reqwest::Client,
        call: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<RequestBuilder, UpstreamError>> {
        let url = match call.endpoint {
            Endpoint::Embeddings => &self.embeddings,
            _ => &self.chat,
        };
        let request = super::post_json(client, url, call.body);
        async move { Ok(bearer(request, self.key.as_ref())) }.boxed()
    }
}

/// OpenAI's Chat Completions path under its base URL (`.../v1`), which
/// compatible servers copy.
pub(super) const CHAT_PATH: &str = "/chat/completions";

/// OpenAI's embeddings path under its base URL.
pub(super) const EMBEDDINGS_PATH: &str = "/embeddings";

/// The provider key as `Authorization: Bearer`, when there is one (a local
/// server may need none).
pub(super) fn bearer(request: RequestBuilder, key: Option<&Secret>) -> RequestBuilder {
    match key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    }
}
