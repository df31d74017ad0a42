//! Upstream providers, and which one serves a model.
//!
//! A model is addressed as `@slug/model`, by an alias from `[models]`, or, when a
//! request names none, by its key's default and then the server's. Provider keys
//! stay here: they are added to the upstream request and never leave otherwise.
//!
//! Each kind of provider is one file implementing [`Upstream`], built once
//! from its `[[providers]]` entry: the wire formats ([`Dialect`]s) it speaks
//! for a model, the endpoints it serves, and how a request to it is made
//! (its address, which may name the model, and its auth, which may sign the
//! body or fetch a token). The pipeline sends a client's body through
//! untouched when the provider speaks the client's dialect, and translates it
//! to the provider's first one otherwise ([`Provider::dialect_for`]). Adding a
//! kind is adding a file and one arm to [`upstream_of`]; the trait has no
//! defaults, so nothing a new kind must decide is inherited from another by
//! accident.
//!
//! | kind | file | dialects upstream | auth |
//! |---|---|---|---|
//! | `openai` | [`openai`] | Chat Completions and Responses (Responses only for `responses_models`); embeddings | Bearer |
//! | `openai-compatible` | [`openai_compatible`] | Chat Completions; embeddings | Bearer (optional) |
//! | `anthropic` | [`anthropic`] | Messages; token counting | `x-api-key` + version and beta headers |
//! | `bedrock` | [`bedrock`] | Messages (Claude, InvokeModel) or Converse | SigV4 ([`aws`]) |
//! | `vertex` | [`vertex`] | Messages (Claude, rawPredict) or Gemini | service-account token ([`google`]) |
//! | `gemini` | [`gemini`] | Gemini | `x-goog-api-key` |
//! | `azure-openai` | [`azure_openai`] | Chat Completions (and Responses on the v1 paths) | `api-key`, or an Entra ID bearer |
//! | `echo` | [`echo`] | none: answers in the gateway | none |

pub mod anthropic;
pub mod aws;
pub mod azure_openai;
pub mod bedrock;
pub mod body;
pub mod echo;
pub mod gemini;
pub mod google;
pub mod http;
pub mod openai;
pub mod openai_compatible;
pub mod vertex;

use crate::api::error::{ApiError, ErrorKind};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::{Config, ModelAliases, ProviderConfig, ProviderKind};
use axum::http::HeaderMap;
use body::UpstreamBody;
use futures_util::future::BoxFuture;
use http::Request;
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

/// One upstream call, as the pipeline hands it to a provider.
pub struct Outgoing<'a> {
    /// The endpoint called.
    pub endpoint: Endpoint,
    /// The dialect `body` is in (for [`Endpoint::Chat`], one the provider
    /// speaks for `model`).
    pub dialect: Dialect,
    /// The model, as the provider knows it.
    pub model: &'a str,
    /// Whether a stream is asked for.
    pub stream: bool,
    /// The body: checked by the request guardrails, the model set.
    pub body: UpstreamBody,
    /// The client's headers, for what the provider's API forwards (such as
    /// Anthropic's version and beta headers); never the client's key.
    pub client_headers: &'a HeaderMap,
}

/// What a kind of provider is, as the gateway calls it. One value per
/// configured provider, built from its entry, holding what it needs (parsed
/// addresses, credentials, a token cache).
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// The dialects it speaks for chat with `model`, the one a translated
    /// request is sent in first; empty when it answers in the gateway.
    fn dialects(&self, model: &str) -> &'static [Dialect];

    /// Whether it serves `endpoint` (for chat: in some dialect).
    fn serves(&self, endpoint: Endpoint) -> bool;

    /// How a request translated for it is encoded.
    fn target(&self) -> codec::Target;

    /// The HTTP request for `call`: its address, the provider's key or
    /// token, and the API's own headers. No time limit is set here.
    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>>;
}

/// A POST of `body` to `url`, an address made per request (the model in its
/// path), for provider `slug`.
pub(crate) fn post_to(
    slug: &str,
    url: &str,
    body: impl Into<UpstreamBody>,
) -> Result<Request, UpstreamError> {
    Request::post_to(url, body).map_err(|e| {
        UpstreamError::Connect(slug.to_string(), format!("its address is not a URL ({e})"))
    })
}

/// As [`post_to`], with a JSON body.
pub(crate) fn post_json_to(
    slug: &str,
    url: &str,
    body: impl Into<UpstreamBody>,
) -> Result<Request, UpstreamError> {
    post_to(slug, url, body).map(Request::json)
}

/// The implementation of a configured provider.
fn upstream_of(config: &ProviderConfig) -> anyhow::Result<Box<dyn Upstream>> {
    Ok(match config.kind {
        ProviderKind::Openai => Box::new(openai::OpenAi::new(config)?),
        ProviderKind::OpenaiCompatible => {
            Box::new(openai_compatible::OpenAiCompatible::new(config)?)
        }
        ProviderKind::Anthropic => Box::new(anthropic::Anthropic::new(config)?),
        ProviderKind::Bedrock => Box::new(bedrock::Bedrock::new(config)?),
        ProviderKind::Vertex => Box::new(vertex::Vertex::new(config)?),
        ProviderKind::Gemini => Box::new(gemini::Gemini::new(config)?),
        ProviderKind::AzureOpenai => Box::new(azure_openai::AzureOpenAi::new(config)?),
        ProviderKind::Echo => Box::new(echo::Echo),
    })
}

/// The base URL of `config` (its own, or its kind's default) joined with
/// `path`, parsed once when the provider is built rather than per request
/// (as a URL first: checked and normalised as before the gateway had a
/// client of its own).
pub(crate) fn endpoint_url(config: &ProviderConfig, path: &str) -> anyhow::Result<axum::http::Uri> {
    let base_url = config
        .base_url
        .as_deref()
        .or_else(|| config.kind.default_base_url())
        .unwrap_or_default();
    let url = format!("{}{path}", base_url.trim_end_matches('/'));
    let not_a_url = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "provider `{}`: base_url {base_url:?} is not a URL ({e})",
            config.slug
        )
    };
    let url = reqwest::Url::parse(&url).map_err(|e| not_a_url(&e))?;
    axum::http::Uri::try_from(url.as_str()).map_err(|e| not_a_url(&e))
}

/// `text` as one path segment: everything but unreserved characters (and
/// `@`, which Vertex AI model versions use) percent-encoded, so a model id
/// with `:` or `/` stays one segment.
pub(crate) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A configured upstream.
#[derive(Debug)]
pub struct Provider {
    /// Its slug.
    pub slug: String,
    /// Its kind, as configured.
    pub kind: ProviderKind,
    /// How it is called.
    upstream: Box<dyn Upstream>,
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
        // made to measure: `format!` would grow it two or three times, and
        // a request names its target a few times
        let (slug, model) = (&self.provider.slug, &self.model);
        let mut qualified = String::with_capacity(2 + slug.len() + model.len());
        qualified.push('@');
        qualified.push_str(slug);
        qualified.push('/');
        qualified.push_str(model);
        qualified
    }
}

/// Why an upstream call failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No response within the provider's timeout.
    #[error("provider `{0}` did not answer within {1:?}")]
    Timeout(String, Duration),
    /// Connection refused, reset, DNS, TLS, a request that cannot be sent...
    #[error("provider `{0}` could not be reached: {1}")]
    Connect(String, String),
    /// The provider does not serve the endpoint.
    #[error("provider `{0}` does not serve {1:?}")]
    Unsupported(String, Endpoint),
    /// The request could not be authorised: a token could not be had, or it
    /// could not be signed.
    #[error("provider `{0}` could not authorise the request: {1}")]
    Auth(String, String),
}

impl UpstreamError {
    /// As an error for the client.
    pub fn to_api(&self) -> ApiError {
        let kind = match self {
            UpstreamError::Timeout(..) => ErrorKind::Timeout,
            UpstreamError::Connect(..) => ErrorKind::BadGateway,
            UpstreamError::Unsupported(..) => ErrorKind::InvalidRequest,
            UpstreamError::Auth(..) => ErrorKind::BadGateway,
        };
        ApiError::new(kind, self.to_string())
    }
}

impl Provider {
    /// Whether it answers in the gateway (the echo provider) rather than
    /// upstream.
    pub fn answers_locally(&self) -> bool {
        self.upstream.dialects("").is_empty()
    }

    /// The dialect a chat request from a `client` dialect is sent to it in,
    /// for `model`: the client's own when it speaks it (the body then passes
    /// through), else the one it prefers (the body is translated); `None`
    /// when it answers in the gateway.
    pub fn dialect_for(&self, client: Dialect, model: &str) -> Option<Dialect> {
        let spoken = self.upstream.dialects(model);
        if spoken.contains(&client) {
            Some(client)
        } else {
            spoken.first().copied()
        }
    }

    /// Whether it serves `endpoint`.
    pub fn serves(&self, endpoint: Endpoint) -> bool {
        self.upstream.serves(endpoint)
    }

    /// How a request translated for it is encoded.
    pub fn target(&self) -> codec::Target {
        self.upstream.target()
    }

    /// Sends `call` upstream, made as its kind says. No time limit is set
    /// here: the caller bounds the wait for the answer to start
    /// ([`Provider::timeout`]) and, for a stream, the gaps between its bytes
    /// ([`Provider::idle_timeout`]); a stream may last any time.
    pub async fn send(
        &self,
        client: &http::Client,
        call: Outgoing<'_>,
    ) -> Result<http::Response, UpstreamError> {
        if !self.serves(call.endpoint) {
            return Err(UpstreamError::Unsupported(self.slug.clone(), call.endpoint));
        }
        let request = self.upstream.request(call).await?;
        client.send(request).await.map_err(|e| {
            if e.is_timeout() {
                UpstreamError::Timeout(self.slug.clone(), self.timeout)
            } else {
                // The message names the cause (and a bad header by its
                // name), never a header's value: no key leaks.
                UpstreamError::Connect(self.slug.clone(), e.to_string())
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
    pub client: http::Client,
}

impl Providers {
    /// Builds the providers of `config`.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        // A redirect is passed on as an error, never followed (neither
        // client follows one): following one would send the provider's key
        // to wherever it points (a client strips `Authorization` across
        // hosts, not `x-api-key`, `api-key` or `x-goog-api-key`), and a POST
        // would lose its body on a 301-303.
        let client = http::Client::new()?;
        let providers = config
            .providers
            .iter()
            .map(|p| {
                let provider = Provider {
                    slug: p.slug.clone(),
                    kind: p.kind,
                    upstream: upstream_of(p)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use axum::http::HeaderValue;

    /// A provider of `kind` with a key, at a local address.
    fn configured(kind: ProviderKind) -> Box<dyn Upstream> {
        upstream_of(&ProviderConfig {
            slug: "p".into(),
            kind,
            base_url: Some("http://127.0.0.1:9/v1".into()),
            api_key: Some(Secret::new("sk-provider-key")),
            ..ProviderConfig::default()
        })
        .unwrap()
    }

    /// The request `kind` makes for a chat call in `dialect`, with `client`
    /// as the client's headers.
    async fn made(kind: ProviderKind, dialect: Dialect, client: &HeaderMap) -> Request {
        let upstream = configured(kind);
        let call = Outgoing {
            endpoint: Endpoint::Chat,
            dialect,
            model: "m",
            stream: false,
            body: b"{}".to_vec().into(),
            client_headers: client,
        };
        upstream.request(call).await.unwrap()
    }

    #[tokio::test]
    async fn each_kind_authorises_its_own_way() {
        let none = HeaderMap::new();
        for kind in [ProviderKind::Openai, ProviderKind::OpenaiCompatible] {
            let request = made(kind, Dialect::Chat, &none).await;
            assert_eq!(request.headers()["authorization"], "Bearer sk-provider-key");
            assert!(!request.headers().contains_key("x-api-key"));
            assert_eq!(request.uri().path(), "/v1/chat/completions");
        }
        let request = made(ProviderKind::Anthropic, Dialect::Messages, &none).await;
        assert_eq!(request.headers()["x-api-key"], "sk-provider-key");
        assert_eq!(request.headers()["anthropic-version"], "2023-06-01");
        assert!(!request.headers().contains_key("authorization"));
        assert_eq!(request.uri().path(), "/v1/v1/messages");
    }

    #[tokio::test]
    async fn openai_takes_responses_at_its_own_path() {
        let request = made(ProviderKind::Openai, Dialect::Responses, &HeaderMap::new()).await;
        assert_eq!(request.uri().path(), "/v1/responses");
    }

    #[tokio::test]
    async fn anthropic_forwards_the_version_and_every_beta_value() {
        let mut client = HeaderMap::new();
        client.insert("anthropic-version", HeaderValue::from_static("2024-01-01"));
        client.append("anthropic-beta", HeaderValue::from_static("a-2025"));
        client.append("anthropic-beta", HeaderValue::from_static("b-2026"));
        client.insert(
            "authorization",
            HeaderValue::from_static("Bearer gateway-key"),
        );
        let request = made(ProviderKind::Anthropic, Dialect::Messages, &client).await;
        let headers = request.headers();
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
        let serves = |kind, endpoint| configured(kind).serves(endpoint);
        assert!(serves(ProviderKind::Openai, Endpoint::Embeddings));
        assert!(!serves(ProviderKind::Openai, Endpoint::CountTokens));
        assert!(serves(ProviderKind::Anthropic, Endpoint::CountTokens));
        assert!(!serves(ProviderKind::Anthropic, Endpoint::Embeddings));
        for endpoint in [Endpoint::Chat, Endpoint::Embeddings, Endpoint::CountTokens] {
            assert!(!serves(ProviderKind::Echo, endpoint));
        }
        assert!(configured(ProviderKind::Openai).target().openai_native);
        assert!(
            !configured(ProviderKind::OpenaiCompatible)
                .target()
                .openai_native
        );
    }

    #[test]
    fn a_client_keeps_its_dialect_where_the_provider_speaks_it() {
        let provider = |kind| Provider {
            slug: "p".into(),
            kind,
            upstream: configured(kind),
            timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        };
        let openai = provider(ProviderKind::Openai);
        assert_eq!(
            openai.dialect_for(Dialect::Responses, "gpt-4o"),
            Some(Dialect::Responses)
        );
        assert_eq!(
            openai.dialect_for(Dialect::Chat, "gpt-4o"),
            Some(Dialect::Chat)
        );
        assert_eq!(
            openai.dialect_for(Dialect::Messages, "gpt-4o"),
            Some(Dialect::Chat)
        );
        assert_eq!(
            openai.dialect_for(Dialect::Chat, "o3-pro-2025-06-10"),
            Some(Dialect::Responses),
            "a Responses-only model gets every client in Responses"
        );
        let compatible = provider(ProviderKind::OpenaiCompatible);
        assert_eq!(
            compatible.dialect_for(Dialect::Responses, "m"),
            Some(Dialect::Chat)
        );
        let anthropic = provider(ProviderKind::Anthropic);
        assert_eq!(
            anthropic.dialect_for(Dialect::Chat, "m"),
            Some(Dialect::Messages)
        );
        let echo = provider(ProviderKind::Echo);
        assert!(echo.answers_locally());
        assert_eq!(echo.dialect_for(Dialect::Chat, "m"), None);
    }
}
