//! `[server]`, `[[providers]]`, `[models]` and `[[keys]]`: what the gateway
//! listens on, where it sends calls, and who may call it.

use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Largest request body accepted, in MiB.
    #[serde(default = "default_max_body_mb")]
    pub max_body_mb: u64,
    /// Largest upstream answer read whole (a non-streamed answer, or an error
    /// body), in MiB; past it the client gets a 502 (default 32).
    #[serde(default = "default_max_answer_mb")]
    pub max_answer_mb: u64,
    /// Largest single event of an upstream stream, in MiB; past it the stream
    /// ends with an error event (default 16).
    #[serde(default = "default_max_stream_event_mb")]
    pub max_stream_event_mb: u64,
    /// The model used when a request names none and its key has no default.
    pub default_model: Option<String>,
    /// The routing config (`[routing.NAME]`) used when neither the request
    /// nor its key names one.
    pub default_config: Option<String>,
    /// Seconds an HTTP/1 connection gets to send a whole request head, counted
    /// from when it is ready for one (accepted, or its last answer sent); so
    /// also how long it may wait idle between requests.
    #[serde(default = "default_header_read_timeout_s")]
    pub header_read_timeout_s: u64,
    /// Seconds a connection (HTTP/1 or HTTP/2) may stay open with no request
    /// in flight.
    #[serde(default = "default_idle_timeout_s")]
    pub idle_timeout_s: u64,
    /// Most client connections open at once; lowered at start to half the
    /// open-files limit when that is smaller.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_max_body_mb() -> u64 {
    32
}

fn default_max_answer_mb() -> u64 {
    32
}

fn default_max_stream_event_mb() -> u64 {
    16
}

fn default_header_read_timeout_s() -> u64 {
    10
}

fn default_idle_timeout_s() -> u64 {
    60
}

fn default_max_connections() -> usize {
    4096
}

impl ServerConfig {
    /// Checks the connection limits; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let positive = [
            ("header_read_timeout_s", self.header_read_timeout_s),
            ("idle_timeout_s", self.idle_timeout_s),
            ("max_connections", self.max_connections as u64),
        ];
        match positive.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err((format!("server.{name}"), "must be at least 1".into())),
            None => Ok(()),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            max_body_mb: default_max_body_mb(),
            max_answer_mb: default_max_answer_mb(),
            max_stream_event_mb: default_max_stream_event_mb(),
            default_model: None,
            default_config: None,
            header_read_timeout_s: default_header_read_timeout_s(),
            idle_timeout_s: default_idle_timeout_s(),
            max_connections: default_max_connections(),
        }
    }
}

/// What kind of upstream a provider is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenAI's API.
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
    /// Any server speaking OpenAI's Chat Completions API (Ollama, vLLM, Groq...).
    OpenaiCompatible,
    /// Amazon Bedrock: Claude through InvokeModel, other models through
    /// Converse, signed with SigV4.
    Bedrock,
    /// Google Vertex AI: Claude (`rawPredict`) and Gemini (`generateContent`),
    /// with a service account's token.
    Vertex,
    /// The Gemini API (`generativelanguage.googleapis.com`), with an API key.
    Gemini,
    /// Azure OpenAI: deployments, `api-version`, the `api-key` header or an
    /// Entra ID token.
    AzureOpenai,
    /// Built in: answers with the request it would have sent upstream.
    #[default]
    Echo,
}

impl ProviderKind {
    /// The base URL used when the config gives none.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Openai => Some("https://api.openai.com/v1"),
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com"),
            // Bedrock's and Vertex AI's follow from the region or location;
            // Azure's names the resource.
            ProviderKind::Bedrock
            | ProviderKind::Vertex
            | ProviderKind::AzureOpenai
            | ProviderKind::OpenaiCompatible
            | ProviderKind::Echo => None,
        }
    }
}

/// One `[[providers]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// How models of this provider are addressed: `@slug/model`.
    pub slug: String,
    /// The kind of upstream.
    pub kind: ProviderKind,
    /// The API's base URL (OpenAI-style ones end in `/v1`).
    pub base_url: Option<String>,
    /// The provider key; use `${ENV_VAR}` rather than writing it in the file.
    pub api_key: Option<Secret>,
    /// Seconds to wait for the upstream's answer to start (default 600): its
    /// headers and, for a whole answer, its body; for a stream, its first
    /// bytes. A stream that has started is bounded by `idle_timeout_s`
    /// instead, so a long stream is never cut.
    pub timeout_s: Option<u64>,
    /// Seconds a started stream may go without a byte before it is ended
    /// with an error event (default 300).
    pub idle_timeout_s: Option<u64>,
    /// `kind = "openai"` only: patterns of the models OpenAI serves only on
    /// its Responses API, to which every client is then translated (default:
    /// the known families, `o3-pro*`, `gpt-5*-codex*`, ...; see
    /// docs/configuration.md).
    pub responses_models: Option<Vec<String>>,
    /// `kind = "bedrock"`: the AWS region (default: `AWS_REGION`, then
    /// `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `kind = "bedrock"`: the AWS access key id (default:
    /// `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// `kind = "bedrock"`: its secret access key (default:
    /// `AWS_SECRET_ACCESS_KEY`); use `${ENV_VAR}`.
    pub secret_access_key: Option<Secret>,
    /// `kind = "bedrock"`: the session token of temporary credentials
    /// (default: `AWS_SESSION_TOKEN`).
    pub session_token: Option<Secret>,
    /// `kind = "vertex"`: the Google Cloud project.
    pub project: Option<String>,
    /// `kind = "vertex"`: the location, such as `us-east5` or `global`.
    pub location: Option<String>,
    /// `kind = "vertex"`: the service account's JSON key file (default:
    /// `GOOGLE_APPLICATION_CREDENTIALS`).
    pub credentials_file: Option<String>,
    /// `kind = "vertex"`: where tokens are exchanged (default: the key
    /// file's `token_uri`).
    pub token_uri: Option<String>,
    /// `kind = "azure-openai"`: the `api-version` of the deployment paths
    /// (`/openai/deployments/{deployment}/…`); without it, the `/openai/v1/`
    /// paths, which need none.
    pub api_version: Option<String>,
    /// `kind = "azure-openai"`: model name → deployment name (a model not
    /// listed is its own deployment's name).
    pub deployments: Option<BTreeMap<String, String>>,
    /// `kind = "azure-openai"`: a Microsoft Entra ID access token, sent as a
    /// bearer instead of the `api-key` header; use `${ENV_VAR}`.
    pub entra_token: Option<Secret>,
}

/// One `[[keys]]` entry: a gateway key clients authenticate with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key's id, recorded instead of the secret.
    pub id: String,
    /// The secret clients send (`Authorization: Bearer` or `x-api-key`).
    pub key: Secret,
    /// The model used when a request names none.
    pub default_model: Option<String>,
    /// The guardrails (by id) that run for this key; default all configured.
    pub guardrails: Option<Vec<String>>,
    /// Metadata tags attached to every call made with this key.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Model patterns this key may use (`@openai/*`, `claude-sonnet-*`, an
    /// alias); any model when empty.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Provider slugs this key may use; any provider when empty.
    #[serde(default)]
    pub allowed_providers: Vec<String>,
    /// The routing config (`[routing.NAME]`) this key's requests use unless
    /// they name one in `x-sluice-config`.
    pub config: Option<String>,
}
