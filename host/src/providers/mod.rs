//! Upstream providers, and which one serves a model.
//!
//! A model is addressed as `@slug/model`, by an alias from `[models]`, or, when a
//! request names none, by its key's default and then the server's. Provider keys
//! stay here: they are added to the upstream request and never leave otherwise.
//!
//! Each kind of provider is one file implementing [`Upstream`]: the API it
//! speaks, the path of each endpoint it serves, and how a request to it is
//! authorised. Adding a kind is adding a file and one arm to [`upstream_of`];
//! the trait has no defaults, so nothing a new kind must decide is inherited
//! from another by accident.
//!
//! | kind | file | API upstream | auth |
//! |---|---|---|---|
//! | `openai` | [`openai`] | Chat Completions, embeddings | Bearer |
//! | `openai-compatible` | [`openai_compatible`] | Chat Completions, embeddings | Bearer (optional) |
//! | `anthropic` | [`anthropic`] | Messages, token counting | `x-api-key` + version and beta headers |
//! | `echo` | [`echo`] | none: answers in the gateway | none |

pub mod anthropic;
pub mod aws;
pub mod echo;
pub mod google;
pub mod openai;
pub mod openai_compatible;

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::config::{Config, ModelAliases, ProviderKind};
use crate::secret::Secret;
use axum::http::HeaderMap;
use reqwest::RequestBuilder;
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

/// An endpoint a provider may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Chat: Chat Completions or Messages, in the provider's API.
    Chat,
    /// OpenAI embeddings.
    Embeddings,
    /// Anthropic token counting.
    CountTokens,
}

impl Endpoint {
    /// Every endpoint, in the order of [`Endpoint::index`].
    const ALL: [Endpoint; 3] = [Endpoint::Chat, Endpoint::Embeddings, Endpoint::CountTokens];

    fn index(self) -> usize {
        match self {
            Endpoint::Chat => 0,
            Endpoint::Embeddings => 1,
            Endpoint::CountTokens => 2,
        }
    }
}

/// What a kind of provider is, as the gateway calls it.
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// The API it speaks upstream; `None` when it answers in the gateway.
    fn api(&self) -> Option<Api>;

    /// The path of `endpoint` under its base URL; `None` when it does not
    /// serve it.
    fn path(&self, endpoint: Endpoint) -> Option<&'static str>;

    /// `request` with the provider key and the API's own headers (from the
    /// client's, where the API says they are forwarded).
    fn authorize(
        &self,
        request: RequestBuilder,
        key: Option<&Secret>,
        client_headers: &HeaderMap,
    ) -> RequestBuilder;

    /// Whether a request translated for it caps the answer with
    /// `max_completion_tokens` (else `max_tokens`).
    fn max_completion_tokens(&self) -> bool;
}

/// The implementation of a configured kind.
fn upstream_of(kind: ProviderKind) -> &'static dyn Upstream {
    match kind {
        ProviderKind::Openai => &openai::OpenAi,
        ProviderKind::OpenaiCompatible => &openai_compatible::OpenAiCompatible,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Echo => &echo::Echo,
    }
}

/// A configured upstream.
#[derive(Debug)]
pub struct Provider {
    /// Its slug.
    pub slug: String,
    /// Its kind, as configured.
    pub kind: ProviderKind,
    /// How it is called.
    upstream: &'static dyn Upstream,
    /// The address of each endpoint it serves, parsed once here rather than
    /// on every request: chat, embeddings, token counting.
    urls: [Option<reqwest::Url>; 3],
    api_key: Option<Secret>,
    /// How long its answer may take to start (`timeout_s`).
    pub timeout: Duration,
    /// How long a started stream may go without a byte (`idle_timeout_s`).
    pub idle_timeout: Duration,
}

/// A model, resolved to a provider.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    /// The provider that serves it.
    pub provider: &'a Provider,
    /// The model name the provider knows.
    pub model: String,
}

impl Route<'_> {
    /// `@slug/model`, as guardrails and logs see it.
    pub fn qualified(&self) -> String {
        format!("@{}/{}", self.provider.slug, self.model)
    }
}

/// Why an upstream call failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No response within the provider's timeout.
    #[error("provider `{0}` did not answer within {1:?}")]
    Timeout(String, Duration),
    /// Connection refused, reset, DNS, TLS...
    #[error("provider `{0}` could not be reached: {1}")]
    Connect(String, String),
    /// The provider does not serve the endpoint.
    #[error("provider `{0}` does not serve {1:?}")]
    Unsupported(String, Endpoint),
}

impl UpstreamError {
    /// As an error for the client.
    pub fn to_api(&self) -> ApiError {
        let kind = match self {
            UpstreamError::Timeout(..) => ErrorKind::Timeout,
            UpstreamError::Connect(..) => ErrorKind::BadGateway,
            UpstreamError::Unsupported(..) => ErrorKind::InvalidRequest,
        };
        ApiError::new(kind, self.to_string())
    }
}

impl Provider {
    /// The wire API this provider speaks upstream (`None`: it answers in the
    /// gateway).
    pub fn api(&self) -> Option<Api> {
        self.upstream.api()
    }

    /// Whether it serves `endpoint`.
    pub fn serves(&self, endpoint: Endpoint) -> bool {
        self.upstream.path(endpoint).is_some()
    }

    /// Whether a request translated for it uses `max_completion_tokens`.
    pub fn max_completion_tokens(&self) -> bool {
        self.upstream.max_completion_tokens()
    }

    /// Sends a request body to `endpoint` upstream, authorised as its kind
    /// says; `client_headers` contributes only what the API forwards (such as
    /// Anthropic's version and beta headers). No time limit is set here: the
    /// caller bounds the wait for the answer to start ([`Provider::timeout`])
    /// and, for a stream, the gaps between its bytes
    /// ([`Provider::idle_timeout`]); a stream may last any time.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        endpoint: Endpoint,
        body: Vec<u8>,
        client_headers: &HeaderMap,
    ) -> Result<reqwest::Response, UpstreamError> {
        let Some(url) = &self.urls[endpoint.index()] else {
            return Err(UpstreamError::Unsupported(self.slug.clone(), endpoint));
        };
        let request = client
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body);
        let request = self
            .upstream
            .authorize(request, self.api_key.as_ref(), client_headers);
        request.send().await.map_err(|e| {
            if e.is_timeout() {
                UpstreamError::Timeout(self.slug.clone(), self.timeout)
            } else {
                // reqwest's message names the URL, never a header: no key leaks.
                UpstreamError::Connect(self.slug.clone(), error_chain(&e))
            }
        })
    }
}

/// The configured providers and aliases.
#[derive(Debug)]
pub struct Providers {
    providers: HashMap<String, Provider>,
    aliases: ModelAliases,
    default_model: Option<String>,
    /// Shared HTTP client (connection pools per upstream).
    pub client: reqwest::Client,
}

impl Providers {
    /// Builds the providers of `config`.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        let providers = config
            .providers
            .iter()
            .map(|p| {
                let base_url = p
                    .base_url
                    .as_deref()
                    .or_else(|| p.kind.default_base_url())
                    .unwrap_or_default();
                let upstream = upstream_of(p.kind);
                let url = |endpoint: Endpoint| -> anyhow::Result<Option<reqwest::Url>> {
                    let Some(path) = upstream.path(endpoint) else {
                        return Ok(None);
                    };
                    let url = format!("{}{path}", base_url.trim_end_matches('/'));
                    let parsed = reqwest::Url::parse(&url).map_err(|e| {
                        anyhow::anyhow!(
                            "provider `{}`: base_url {base_url:?} is not a URL ({e})",
                            p.slug
                        )
                    })?;
                    Ok(Some(parsed))
                };
                let [chat, embeddings, count_tokens] = Endpoint::ALL;
                let provider = Provider {
                    slug: p.slug.clone(),
                    kind: p.kind,
                    upstream,
                    urls: [url(chat)?, url(embeddings)?, url(count_tokens)?],
                    api_key: p.api_key.clone(),
                    timeout: Duration::from_secs(p.timeout_s.unwrap_or(600)),
                    idle_timeout: Duration::from_secs(p.idle_timeout_s.unwrap_or(300)),
                };
                Ok((p.slug.clone(), provider))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Providers {
            providers,
            aliases: ModelAliases::new(&config.models),
            default_model: config.server.default_model.clone(),
            client,
        })
    }

    /// Resolves the model a request names (or, when it names none, the key's
    /// default, then the server's) to a provider and upstream model name.
    pub fn resolve(
        &self,
        requested: Option<&str>,
        key_default: Option<&str>,
    ) -> Result<Route<'_>, ApiError> {
        let requested = requested.filter(|m| !m.is_empty());
        let Some(name) = requested.or(key_default).or(self.default_model.as_deref()) else {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                "the request names no model and no default model is configured",
            ));
        };
        let alias = self.aliases.target(name);
        let target = alias.as_deref().unwrap_or(name);
        let Some((slug, model)) = target.strip_prefix('@').and_then(|t| t.split_once('/')) else {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "unknown model `{name}`: address models as @provider/model, or configure an alias for it"
                ),
            ));
        };
        let Some(provider) = self.providers.get(slug) else {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!("unknown provider `{slug}` in model `{name}`"),
            ));
        };
        if model.is_empty() {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!("model `{name}` names no model"),
            ));
        }
        Ok(Route {
            provider,
            model: model.to_string(),
        })
    }

    /// What `name`, in a key's `allowed_models`, grants when it is an alias
    /// (exact, a pattern, or a name a pattern covers): the `@provider/model`
    /// it stands for, or for a pattern the family it forwards to, itself a
    /// pattern (`@anthropic/claude-*`). See [`ModelAliases::grant`].
    pub fn alias_target(&self, name: &str) -> Option<Cow<'_, str>> {
        self.aliases.grant(name)
    }

    /// Every model a client can name: the exact aliases and what they stand
    /// for (patterns are not models, and are left out).
    pub fn listed_models(&self) -> Vec<String> {
        let exact = self.aliases.exact();
        let mut models: Vec<String> = exact.keys().cloned().collect();
        models.extend(exact.values().cloned());
        models.sort();
        models.dedup();
        models
    }
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The headers `kind` puts on a request, with `client` as the client's.
    fn authorised(kind: ProviderKind, client: &HeaderMap) -> HeaderMap {
        let key = Secret::new("sk-provider-key");
        let request = reqwest::Client::new().post("http://127.0.0.1:9/x");
        upstream_of(kind)
            .authorize(request, Some(&key), client)
            .build()
            .unwrap()
            .headers()
            .clone()
    }

    #[test]
    fn each_kind_authorises_its_own_way() {
        let none = HeaderMap::new();
        for kind in [ProviderKind::Openai, ProviderKind::OpenaiCompatible] {
            let headers = authorised(kind, &none);
            assert_eq!(headers["authorization"], "Bearer sk-provider-key");
            assert!(!headers.contains_key("x-api-key"));
        }
        let headers = authorised(ProviderKind::Anthropic, &none);
        assert_eq!(headers["x-api-key"], "sk-provider-key");
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        assert!(!headers.contains_key("authorization"));
        assert!(authorised(ProviderKind::Echo, &none).is_empty());
    }

    #[test]
    fn anthropic_forwards_the_version_and_every_beta_value() {
        let mut client = HeaderMap::new();
        client.insert("anthropic-version", HeaderValue::from_static("2024-01-01"));
        client.append("anthropic-beta", HeaderValue::from_static("a-2025"));
        client.append("anthropic-beta", HeaderValue::from_static("b-2026"));
        client.insert(
            "authorization",
            HeaderValue::from_static("Bearer gateway-key"),
        );
        let headers = authorised(ProviderKind::Anthropic, &client);
        assert_eq!(headers["anthropic-version"], "2024-01-01");
        let betas: Vec<_> = headers.get_all("anthropic-beta").iter().collect();
        assert_eq!(betas, ["a-2025", "b-2026"]);
        assert!(
            !headers.contains_key("authorization"),
            "the client's gateway key never goes upstream"
        );
    }

    #[test]
    fn each_kind_serves_its_own_endpoints() {
        let serves = |kind, endpoint| upstream_of(kind).path(endpoint).is_some();
        assert!(serves(ProviderKind::Openai, Endpoint::Embeddings));
        assert!(!serves(ProviderKind::Openai, Endpoint::CountTokens));
        assert!(serves(ProviderKind::Anthropic, Endpoint::CountTokens));
        assert!(!serves(ProviderKind::Anthropic, Endpoint::Embeddings));
        for endpoint in [Endpoint::Chat, Endpoint::Embeddings, Endpoint::CountTokens] {
            assert!(!serves(ProviderKind::Echo, endpoint));
        }
        assert!(upstream_of(ProviderKind::Openai).max_completion_tokens());
        assert!(!upstream_of(ProviderKind::OpenaiCompatible).max_completion_tokens());
    }
}
