//! `kind = "openai-compatible"`: any server speaking OpenAI's Chat Completions
//! (Ollama, vLLM, Groq, ...). Like OpenAI, but a translated request keeps the
//! older `max_tokens`, which these servers read, and it speaks no Responses.

use super::http::{Bearer, Request};
use super::{Endpoint, Outgoing, Upstream, UpstreamError};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use axum::http::Uri;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// An OpenAI-compatible server.
#[derive(Debug)]
pub struct OpenAiCompatible {
    chat: Uri,
    embeddings: Uri,
    /// The key as `Authorization: Bearer`, made once.
    bearer: Option<Bearer>,
}

impl OpenAiCompatible {
    /// The provider of `config`.
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        Ok(OpenAiCompatible {
            chat: super::endpoint_url(config, CHAT_PATH)?,
            embeddings: super::endpoint_url(config, EMBEDDINGS_PATH)?,
            bearer: config.api_key.as_ref().map(|key| Bearer::new(key.expose())),
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

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        let url = match call.endpoint {
            Endpoint::Embeddings => &self.embeddings,
            _ => &self.chat,
        };
        let request = Request::post_json(url.clone(), call.body);
        async move { Ok(bearer(request, self.bearer.as_ref())) }.boxed()
    }
}

/// OpenAI's Chat Completions path under its base URL (`.../v1`), which
/// compatible servers copy.
pub(super) const CHAT_PATH: &str = "/chat/completions";

/// OpenAI's embeddings path under its base URL.
pub(super) const EMBEDDINGS_PATH: &str = "/embeddings";

/// The provider key as `Authorization: Bearer`, when there is one (a local
/// server may need none).
pub(super) fn bearer(request: Request, bearer: Option<&Bearer>) -> Request {
    match bearer {
        Some(bearer) => request.authorization(bearer),
        None => request,
    }
}
