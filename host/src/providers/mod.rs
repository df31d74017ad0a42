//! Upstream providers, and which one serves a model.
//!
//! A model is addressed as `@slug/model`, by an alias from `[models]`, or, when a
//! request names none, by its key's default and then the server's. Provider keys
//! stay here: they are added to the upstream request and never leave otherwise.

pub mod echo;

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::config::{Config, ModelAliases, ProviderKind};
use crate::secret::Secret;
use axum::http::HeaderMap;
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

/// Anthropic API version sent when the client gives none.
const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// A configured upstream.
#[derive(Debug)]
pub struct Provider {
    /// Its slug.
    pub slug: String,
    /// Its kind.
    pub kind: ProviderKind,
    base_url: String,
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
}

impl UpstreamError {
    /// As an error for the client.
    pub fn to_api(&self, api: Api) -> ApiError {
        let kind = match self {
            UpstreamError::Timeout(..) => ErrorKind::Timeout,
            UpstreamError::Connect(..) => ErrorKind::BadGateway,
        };
        ApiError::new(api, kind, self.to_string())
    }
}

impl Provider {
    /// The wire API this provider speaks upstream.
    pub fn api(&self) -> Option<Api> {
        match self.kind {
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => Some(Api::OpenAi),
            ProviderKind::Anthropic => Some(Api::Anthropic),
            ProviderKind::Echo => None,
        }
    }

    /// Sends a request body for `path` (e.g. `/chat/completions`) upstream.
    /// `client_headers` contributes only the Anthropic version and beta headers.
    /// No time limit is set here: the caller bounds the wait for the answer
    /// to start ([`Provider::timeout`]) and, for a stream, the gaps between
    /// its bytes ([`Provider::idle_timeout`]); a stream may last any time.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Vec<u8>,
        client_headers: &HeaderMap,
    ) -> Result<reqwest::Response, UpstreamError> {
        let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        match self.kind {
            ProviderKind::Anthropic => {
                let version = client_headers
                    .get("anthropic-version")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(DEFAULT_ANTHROPIC_VERSION);
                request = request.header("anthropic-version", version);
                if let Some(beta) = client_headers.get("anthropic-beta") {
                    request = request.header("anthropic-beta", beta);
                }
                if let Some(key) = &self.api_key {
                    request = request.header("x-api-key", key.expose());
                }
            }
            _ => {
                if let Some(key) = &self.api_key {
                    request = request.bearer_auth(key.expose());
                }
            }
        }
        request.send().await.map_err(|e| {
            if e.is_timeout() {
                UpstreamError::Timeout(self.slug.clone(), self.timeout)
            } else {
                // reqwest's message names the URL, never a header: no key leaks.
                UpstreamError::Connect(self.slug.clone(), error_chain(&e))
            }
        })
    }

    /// The path of the chat endpoint of this provider's API.
    pub fn chat_path(&self) -> &'static str {
        match self.kind {
            ProviderKind::Anthropic => "/v1/messages",
            _ => "/chat/completions",
        }
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
                    .clone()
                    .or_else(|| p.kind.default_base_url().map(String::from))
                    .unwrap_or_default();
                let provider = Provider {
                    slug: p.slug.clone(),
                    kind: p.kind,
                    base_url,
                    api_key: p.api_key.clone(),
                    timeout: Duration::from_secs(p.timeout_s.unwrap_or(600)),
                    idle_timeout: Duration::from_secs(p.idle_timeout_s.unwrap_or(300)),
                };
                (p.slug.clone(), provider)
            })
            .collect();
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
        api: Api,
        requested: Option<&str>,
        key_default: Option<&str>,
    ) -> Result<Route<'_>, ApiError> {
        let requested = requested.filter(|m| !m.is_empty());
        let Some(name) = requested.or(key_default).or(self.default_model.as_deref()) else {
            return Err(ApiError::new(
                api,
                ErrorKind::InvalidRequest,
                "the request names no model and no default model is configured",
            ));
        };
        let alias = self.aliases.target(name);
        let target = alias.as_deref().unwrap_or(name);
        let Some((slug, model)) = target.strip_prefix('@').and_then(|t| t.split_once('/')) else {
            return Err(ApiError::new(
                api,
                ErrorKind::InvalidRequest,
                format!(
                    "unknown model `{name}`: address models as @provider/model, or configure an alias for it"
                ),
            ));
        };
        let Some(provider) = self.providers.get(slug) else {
            return Err(ApiError::new(
                api,
                ErrorKind::InvalidRequest,
                format!("unknown provider `{slug}` in model `{name}`"),
            ));
        };
        if model.is_empty() {
            return Err(ApiError::new(
                api,
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
