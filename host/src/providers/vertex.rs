//! `kind = "vertex"`: Google Vertex AI
//! (`https://<location>-aiplatform.googleapis.com`, or
//! `https://aiplatform.googleapis.com` for `global`), with a bearer token of
//! a service account ([`super::google::token`]), fetched when needed, kept
//! and refreshed before it expires.
//!
//! Models are addressed under
//! `/v1/projects/{project}/locations/{location}/publishers/…/models/{model}`:
//! - Claude (`claude-…`, such as `claude-sonnet-4-5@20250929`) speaks
//!   Messages through `anthropic` `:rawPredict` / `:streamRawPredict`: the
//!   body without `model`, with `anthropic_version: "vertex-2023-10-16"`; the
//!   client's `anthropic-beta` header is forwarded;
//! - Gemini (anything else) speaks `generateContent` through `google`
//!   `:generateContent` / `:streamGenerateContent?alt=sse`.

use super::google::service_account::ServiceAccountKey;
use super::google::token::TokenSource;
use super::http::Request;
use super::{Endpoint, Outgoing, Upstream, UpstreamError, path_segment};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::path::Path;
use std::time::Duration;

/// The `anthropic_version` Vertex AI wants in a Claude body.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Vertex AI.
#[derive(Debug)]
pub struct Vertex {
    /// The provider's slug, for errors.
    slug: String,
    /// `{base}/v1/projects/{project}/locations/{location}/publishers`.
    publishers: String,
    /// The service account's tokens.
    tokens: TokenSource,
}

impl Vertex {
    /// The provider of `config`: its project, location and service-account
    /// key file (`credentials_file`, else `GOOGLE_APPLICATION_CREDENTIALS`).
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        let slug = &config.slug;
        let (Some(project), Some(location)) = (&config.project, &config.location) else {
            anyhow::bail!("provider `{slug}`: kind = \"vertex\" needs `project` and `location`");
        };
        let file = config
            .credentials_file
            .clone()
            .or_else(|| std::env::var("GOOGLE_APPLICATION_CREDENTIALS").ok())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "provider `{slug}`: no service-account key: set `credentials_file`, or GOOGLE_APPLICATION_CREDENTIALS"
                )
            })?;
        let key = ServiceAccountKey::from_file(Path::new(&file))
            .map_err(|e| anyhow::anyhow!("provider `{slug}`: {e}"))?;
        // As for the providers' client: a signed assertion goes to the
        // configured token endpoint only, never where a redirect points.
        let client = super::http::reqwest_client(
            reqwest::Client::builder().timeout(Duration::from_secs(30)),
        )?;
        let tokens = TokenSource::new(&key, config.token_uri.as_deref(), client)
            .map_err(|e| anyhow::anyhow!("provider `{slug}`: {e}"))?;
        let base = match (&config.base_url, location.as_str()) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, "global") => "https://aiplatform.googleapis.com".into(),
            (None, location) => format!("https://{location}-aiplatform.googleapis.com"),
        };
        Ok(Vertex {
            slug: slug.clone(),
            publishers: format!(
                "{base}/v1/projects/{}/locations/{}/publishers",
                path_segment(project),
                path_segment(location)
            ),
            tokens,
        })
    }
}

/// Whether a Vertex model is Claude.
fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// A Messages body as `rawPredict` wants it: no `model`, Vertex's
/// `anthropic_version`.
fn claude_body(body: &[u8]) -> Vec<u8> {
    super::anthropic::cloud_body(body, ANTHROPIC_VERSION, &[], None)
}

impl Upstream for Vertex {
    fn dialects(&self, model: &str) -> &'static [Dialect] {
        if is_claude(model) {
            &[Dialect::Messages]
        } else {
            &[Dialect::Gemini]
        }
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::Chat
    }

    fn target(&self) -> codec::Target {
        codec::Target::default()
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        async move {
            let token = self
                .tokens
                .token()
                .await
                .map_err(|e| UpstreamError::Auth(self.slug.clone(), e.to_string()))?;
            let (url, body) = if call.dialect == Dialect::Messages {
                let method = if call.stream {
                    "streamRawPredict"
                } else {
                    "rawPredict"
                };
                let url = format!(
                    "{}/anthropic/models/{}:{method}",
                    self.publishers,
                    path_segment(call.model)
                );
                (url, claude_body(&call.body.into_vec()).into())
            } else {
                let method = super::gemini::method(call.model, call.stream);
                (
                    format!("{}/google/models/{method}", self.publishers),
                    call.body,
                )
            };
            let mut request = super::post_json_to(&self.slug, &url, body)?.bearer(token.expose());
            if call.dialect == Dialect::Messages {
                request = super::anthropic::with_betas(request, call.client_headers);
            }
            Ok(request)
        }
        .boxed()
    }
}
