//! `kind = "gemini"`: the Gemini API
//! (`https://generativelanguage.googleapis.com`), the key in
//! `x-goog-api-key`. It speaks Gemini's `generateContent` (every client is
//! translated, [`crate::codec::gemini`]): `POST
//! /v1beta/models/{model}:generateContent`, and
//! `:streamGenerateContent?alt=sse` for a stream.

use super::http::Request;
use super::{Endpoint, Outgoing, Upstream, UpstreamError, path_segment};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use crate::secret::Secret;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// The Gemini API.
#[derive(Debug)]
pub struct Gemini {
    /// The provider's slug, for errors.
    slug: String,
    /// The base URL, without a trailing `/`.
    base: String,
    key: Option<Secret>,
}

impl Gemini {
    /// The provider of `config`.
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        let base = super::endpoint_url(config, "")?;
        Ok(Gemini {
            slug: config.slug.clone(),
            base: base.to_string().trim_end_matches('/').to_string(),
            key: config.api_key.clone(),
        })
    }
}

/// The method path of a Gemini model: `…:generateContent`, or
/// `…:streamGenerateContent?alt=sse` for a stream.
pub fn method(model: &str, stream: bool) -> String {
    let model = path_segment(model);
    if stream {
        format!("{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{model}:generateContent")
    }
}

impl Upstream for Gemini {
    fn dialects(&self, _: &str) -> &'static [Dialect] {
        &[Dialect::Gemini]
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::Chat
    }

    fn target(&self) -> codec::Target {
        codec::Target::default()
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        let url = format!(
            "{}/v1beta/models/{}",
            self.base,
            method(call.model, call.stream)
        );
        let request =
            super::post_json_to(&self.slug, &url, call.body).map(|request| match &self.key {
                Some(key) => request.secret("x-goog-api-key", key.expose()),
                None => request,
            });
        async move { request }.boxed()
    }
}
