//! The configuration file (TOML), documented field by field in
//! `docs/configuration.md`.
//!
//! Loading goes: read → parse TOML → replace `${ENV}` in string values →
//! deserialize (unknown fields refused) → resolve relative paths against the
//! file's folder → validate. Every error names the file, the field and the reason.

mod audit;
mod gateway;
mod governance;
mod guardrail_cache;
mod guardrails;
mod metadata;
mod models;
mod observability;
#[cfg(test)]
mod properties;
mod response_cache;
mod routing;
mod state;

pub use audit::AuditConfig;
pub use governance::{BudgetConfig, Period, PriceConfig, RateLimitConfig};
pub use guardrail_cache::GuardrailCacheConfig;
pub use metadata::{DEFAULT_REQUEST_TAGS, MetadataConfig, TEAM_TAG};
pub use models::ModelAliases;
pub use observability::{LogMode, MetricsConfig, OtlpProtocol, RequestLogConfig, TracingConfig};
pub use response_cache::{CacheStore, ResponseCacheConfig};
pub use routing::{
    CircuitBreakerConfig, Condition, DEFAULT_FAILURE_CODES, RetryConfig, RouteNode, Strategy, Test,
    check_node as check_routing_node,
};
pub use state::StateConfig;

pub use gateway::{KeyConfig, ProviderConfig, ProviderKind, ServerConfig};
pub use guardrails::{
    FailurePolicy, GuardrailConfig, InstanceModeName, PhaseName, SandboxConfig, builtin_guardrails,
};

use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening address and request limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// Upstream providers.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Model aliases: a name clients send (or a pattern ending in `*`), and
    /// the `@provider/model` it means ([`ModelAliases`]).
    #[serde(default)]
    pub models: BTreeMap<String, String>,
    /// Gateway keys. With none, the gateway serves without authentication, and
    /// only on a loopback address.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    /// Engine-wide plugin settings.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// The guardrails, in the order they run.
    #[serde(default)]
    pub guardrails: Vec<GuardrailConfig>,
    /// The guardrail segment cache.
    #[serde(default)]
    pub guardrail_cache: GuardrailCacheConfig,
    /// The audit trail.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Where keys, counters and usage are kept.
    #[serde(default)]
    pub state: StateConfig,
    /// Which tags a request may set in `x-sluice-metadata`.
    #[serde(default)]
    pub metadata: MetadataConfig,
    /// Spending limits per key, team or tag.
    #[serde(default)]
    pub budgets: Vec<BudgetConfig>,
    /// Request and token rates per key, team, model or tag.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitConfig>,
    /// Model prices (US dollars per million tokens), added to or overriding the
    /// built-in table; keyed by model name or `@provider/model`.
    #[serde(default)]
    pub pricing: BTreeMap<String, PriceConfig>,
    /// Named routing configs: fallbacks, load balancing, conditions, retries.
    #[serde(default)]
    pub routing: BTreeMap<String, RouteNode>,
    /// When a failing target is skipped.
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// Exact-match caching of answers.
    #[serde(default)]
    pub response_cache: ResponseCacheConfig,
    /// Prometheus metrics on `/metrics`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// One JSON line per request.
    #[serde(default)]
    pub request_log: RequestLogConfig,
    /// Spans exported to an OpenTelemetry collector.
    #[serde(default)]
    pub tracing: TracingConfig,
    /// The `/mcp` endpoint's limits.
    #[serde(default)]
    pub mcp: crate::mcp::McpConfig,
    /// The MCP servers behind `/mcp`.
    #[serde(default)]
    pub mcp_servers: Vec<crate::mcp::McpServerConfig>,
    /// Which keys and teams may use which MCP servers and tools.
    #[serde(default)]
    pub mcp_access: Vec<crate::mcp::McpAccessConfig>,
    /// Tool-call rates per key, team or tool.
    #[serde(default)]
    pub mcp_rate_limits: Vec<crate::mcp::McpRateLimitConfig>,
}

/// The `[admin]` section: the key of the admin API (`/admin/...`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The admin key, separate from every gateway key (use `${ENV}`). Without
    /// one, the admin API is off.
    pub key: Option<Secret>,
}

/// A config that cannot be used; says where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (not a `source`: the message already says it once).
        reason: std::io::Error,
    },
    /// TOML syntax, an unknown field, or a wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value that parses but makes no sense.
    #[error("{path}: {field}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending field, such as `guardrails[1].plugin`.
        field: String,
        /// Why.
        message: String,
    },
}

/// Why config text was refused (without the file name, which the caller adds).
#[derive(Debug)]
pub enum ParseFailure {
    /// TOML syntax, unknown field or wrong type, with line and column.
    Syntax(String),
    /// A semantic problem in `field`.
    Invalid {
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.to_path_buf(),
            reason,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base, &|name| std::env::var(name).ok()).map_err(|e| match e {
            ParseFailure::Syntax(message) => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ParseFailure::Invalid { field, message } => ConfigError::Invalid {
                path: path.to_path_buf(),
                field,
                message,
            },
        })
    }

    /// Parses config text; `${NAME}` in string values is replaced by `env(NAME)`,
    /// and relative paths are resolved against `base`.
    pub fn parse(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ParseFailure> {
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| ParseFailure::Syntax(e.to_string().trim().to_string()))?;
        for (key, value) in table.iter_mut() {
            interpolate(value, key, env)?;
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ParseFailure::Syntax(e.to_string().trim().to_string()))?;
        config.resolve_paths(base);
        config.validate()?;
        config
            .metadata
            .resolve(&config.budgets, &config.rate_limits, &config.routing)
            .map_err(|(field, message)| ParseFailure::Invalid { field, message })?;
        Ok(config)
    }

    /// The embedded default, used when `serve` or `scan` get no config: the echo
    /// provider as the default model, every built-in guardrail, no keys (so
    /// loopback only).
    pub fn embedded_default() -> Config {
        Config {
            server: ServerConfig {
                default_model: Some("@echo/echo".into()),
                ..ServerConfig::default()
            },
            providers: vec![ProviderConfig {
                slug: "echo".into(),
                kind: ProviderKind::Echo,
                ..ProviderConfig::default()
            }],
            guardrails: builtin_guardrails(),
            ..Config::default()
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
        if self.audit.url.is_none() || self.audit.path.is_some() {
            let audit = self.audit.path.take().unwrap_or_else(|| "audit.db".into());
            self.audit.path = Some(if audit.is_relative() {
                base.join(audit)
            } else {
                audit
            });
        }
        if self.state.redis.is_none() {
            let state = self.state.path.take().unwrap_or_else(|| "state.db".into());
            self.state.path = Some(if state.is_relative() {
                base.join(state)
            } else {
                state
            });
        }
        if let Some(path) = &mut self.request_log.path
            && path.is_relative()
        {
            *path = base.join(&*path);
        }
        if let Some(dir) = &mut self.sandbox.cache_dir
            && dir.is_relative()
        {
            *dir = base.join(&*dir);
        }
        for guardrail in &mut self.guardrails {
            if let Some(path) = &mut guardrail.path
                && path.is_relative()
            {
                *path = base.join(&*path);
            }
        }
    }

    fn validate(&self) -> Result<(), ParseFailure> {
        let invalid = |field: String, message: String| ParseFailure::Invalid { field, message };
        guardrails::validate(&self.guardrails)
            .map_err(|(field, message)| invalid(field, message))?;
        self.guardrail_cache
            .validate()
            .map_err(|(field, message)| invalid(field, message))?;
        self.state
            .validate()
            .map_err(|(field, message)| invalid(field, message))?;
        governance::validate(&self.budgets, &self.rate_limits, &self.pricing)
            .map_err(|(field, message)| invalid(field, message))?;
        routing::validate(&self.routing, &|m| self.check_model_or_alias(m))
            .map_err(|(field, message)| invalid(field, message))?;
        observability::validate(&self.metrics, &self.tracing)
            .map_err(|(field, message)| invalid(field, message))?;
        self.circuit_breaker
            .validate()
            .map_err(|(field, message)| invalid(field, message))?;
        self.response_cache
            .validate(self.state.redis.is_some())
            .map_err(|(field, message)| invalid(field, message))?;
        crate::mcp::config::validate(self.mcp_sections())
            .map_err(|(field, message)| invalid(field, message))?;
        let known_config = |name: &str| {
            if self.routing.contains_key(name) {
                Ok(())
            } else {
                Err(format!(
                    "no routing config `{name}` ([routing.{name}] is not in the config)"
                ))
            }
        };
        if let Some(name) = &self.server.default_config {
            known_config(name).map_err(|m| invalid("server.default_config".into(), m))?;
        }
        for (i, key) in self.keys.iter().enumerate() {
            if let Some(name) = &key.config {
                known_config(name).map_err(|m| invalid(format!("keys[{i}].config"), m))?;
            }
        }
        let guardrail_ids: Vec<String> = self.guardrails.iter().map(|g| g.id()).collect();

        for (field, mb) in [
            ("server.max_body_mb", self.server.max_body_mb),
            ("server.max_answer_mb", self.server.max_answer_mb),
            (
                "server.max_stream_event_mb",
                self.server.max_stream_event_mb,
            ),
        ] {
            if mb == 0 || mb > 1024 {
                return Err(invalid(field.into(), "must be between 1 and 1024".into()));
            }
        }
        self.server
            .validate()
            .map_err(|(field, message)| invalid(field, message))?;
        if matches!(self.sandbox.parallel_checks, Some(n) if n == 0 || n > 1024) {
            return Err(invalid(
                "sandbox.parallel_checks".into(),
                "must be between 1 and 1024".into(),
            ));
        }
        for (i, p) in self.providers.iter().enumerate() {
            let field = |name: &str| format!("providers[{i}].{name}");
            if !is_slug(&p.slug) {
                return Err(invalid(
                    field("slug"),
                    format!("{:?} must be lowercase letters, digits, '-' or '_'", p.slug),
                ));
            }
            for (name, seconds) in [
                ("timeout_s", p.timeout_s),
                ("idle_timeout_s", p.idle_timeout_s),
            ] {
                if seconds == Some(0) {
                    return Err(invalid(field(name), "must be at least 1".into()));
                }
            }
            if self.providers[..i].iter().any(|q| q.slug == p.slug) {
                return Err(invalid(
                    field("slug"),
                    format!("`{}` is used by two providers", p.slug),
                ));
            }
            match (&p.base_url, p.kind) {
                (None, ProviderKind::OpenaiCompatible) => {
                    return Err(invalid(field("base_url"), "required for kind = \"openai-compatible\" (e.g. http://localhost:11434/v1 for Ollama)".into()));
                }
                (Some(url), _) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                    return Err(invalid(
                        field("base_url"),
                        format!("{url:?} must start with http:// or https://"),
                    ));
                }
                _ => {}
            }
            if p.responses_models.is_some() && p.kind != ProviderKind::Openai {
                return Err(invalid(
                    field("responses_models"),
                    "only for kind = \"openai\"".into(),
                ));
            }
            check_cloud_fields(p).map_err(|(name, message)| invalid(field(name), message))?;
        }
        for (alias, target) in &self.models {
            models::check_entry(alias, target)
                .and_then(|()| self.check_model(target))
                .map_err(|m| invalid(format!("models.{alias}"), m))?;
        }
        if let Some(model) = &self.server.default_model {
            self.check_model_or_alias(model)
                .map_err(|m| invalid("server.default_model".into(), m))?;
        }
        for (i, key) in self.keys.iter().enumerate() {
            let field = |name: &str| format!("keys[{i}].{name}");
            if !is_slug(&key.id) {
                return Err(invalid(
                    field("id"),
                    format!("{:?} must be lowercase letters, digits, '-' or '_'", key.id),
                ));
            }
            check_key_length(&key.key).map_err(|m| invalid(field("key"), m))?;
            if self.keys[..i]
                .iter()
                .any(|k| k.id == key.id || k.key == key.key)
            {
                return Err(invalid(
                    field("id"),
                    "two keys share an id or a secret".into(),
                ));
            }
            if let Some(model) = &key.default_model {
                self.check_model_or_alias(model)
                    .map_err(|m| invalid(field("default_model"), m))?;
            }
            for slug in &key.allowed_providers {
                if !self.providers.iter().any(|p| p.slug == *slug) {
                    return Err(invalid(
                        field("allowed_providers"),
                        format!("no provider `{slug}` is configured"),
                    ));
                }
            }
            for id in key.guardrails.iter().flatten() {
                if !guardrail_ids.contains(id) {
                    return Err(invalid(
                        field("guardrails"),
                        format!(
                            "no guardrail with id `{id}` (configured: {})",
                            guardrail_ids.join(", ")
                        ),
                    ));
                }
            }
        }
        if let Some(url) = &self.audit.url {
            if self.audit.path.is_some() {
                return Err(invalid(
                    "audit.url".into(),
                    "set either `path` (a SQLite file) or `url` (PostgreSQL), not both".into(),
                ));
            }
            let text = url.expose();
            if !crate::audit::Location::is_postgres_url(text)
                || text.parse::<postgres::Config>().is_err()
            {
                return Err(invalid(
                    "audit.url".into(),
                    "must be a PostgreSQL URL such as postgres://sluice:${PGPASSWORD}@db.internal/sluice".into(),
                ));
            }
        }
        if let Some(admin) = &self.admin.key {
            check_key_length(admin).map_err(|m| invalid("admin.key".into(), m))?;
            if self.keys.iter().any(|k| k.key == *admin) {
                return Err(invalid(
                    "admin.key".into(),
                    "is also a gateway key; the admin key must be separate".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The environment variable `sluice serve` takes the admin key from when the
/// config sets none (the embedded default sets none).
pub const ADMIN_KEY_ENV: &str = "SLUICE_ADMIN_KEY";

impl Config {
    /// Sets the admin key from [`ADMIN_KEY_ENV`] when the config has none and
    /// the variable is set, with the checks the config's own gets.
    pub fn admin_key_from_env(&mut self) -> anyhow::Result<()> {
        if self.admin.key.is_some() {
            return Ok(());
        }
        let Some(key) = std::env::var(ADMIN_KEY_ENV).ok().filter(|k| !k.is_empty()) else {
            return Ok(());
        };
        let key = Secret::new(key);
        check_key_length(&key).map_err(|m| anyhow::anyhow!("{ADMIN_KEY_ENV}: {m}"))?;
        if self.keys.iter().any(|k| k.key == key) {
            anyhow::bail!("{ADMIN_KEY_ENV} is also a gateway key; the admin key must be separate");
        }
        self.admin.key = Some(key);
        Ok(())
    }
}

/// Where sluice keeps its files when no config says: `$XDG_DATA_HOME/sluice`,
/// else `~/.local/share/sluice`.
fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("sluice")
}

/// Gateway and admin keys are long enough not to be guessed.
fn check_key_length(key: &Secret) -> Result<(), String> {
    if key.expose().len() < 16 {
        return Err(
            "must be at least 16 characters (generate one with `openssl rand -hex 24`)".into(),
        );
    }
    Ok(())
}

impl Config {
    /// The MCP sections (`[mcp]`, `[[mcp_servers]]`, `[[mcp_access]]`,
    /// `[[mcp_rate_limits]]`).
    pub fn mcp_sections(&self) -> crate::mcp::config::Sections<'_> {
        crate::mcp::config::Sections {
            mcp: &self.mcp,
            servers: &self.mcp_servers,
            access: &self.mcp_access,
            rate_limits: &self.mcp_rate_limits,
        }
    }

    /// Checks an `@provider/model` reference against the configured providers.
    fn check_model(&self, target: &str) -> Result<(), String> {
        let Some((slug, model)) = target.strip_prefix('@').and_then(|t| t.split_once('/')) else {
            return Err(format!("{target:?} must be written @provider/model"));
        };
        if model.is_empty() {
            return Err(format!("{target:?} names no model"));
        }
        if !self.providers.iter().any(|p| p.slug == slug) {
            return Err(format!(
                "{target:?} names provider `{slug}`, which is not configured"
            ));
        }
        Ok(())
    }

    /// Checks a model a key or the server may default to: an alias (exact,
    /// or a name a pattern covers), or an `@provider/model` of a configured
    /// provider.
    pub fn check_model_or_alias(&self, model: &str) -> Result<(), String> {
        match ModelAliases::new(&self.models).target(model) {
            Some(target) => self.check_model(&target),
            None => self.check_model(model),
        }
    }
}

/// The cloud providers' settings: each only for its kind, and what a kind
/// needs (a field's name and what is wrong, else nothing).
fn check_cloud_fields(p: &ProviderConfig) -> Result<(), (&'static str, String)> {
    let only = |kind: &str| format!("only for kind = \"{kind}\"");
    let fields: [(&'static str, bool, ProviderKind, &str); 11] = [
        (
            "region",
            p.region.is_some(),
            ProviderKind::Bedrock,
            "bedrock",
        ),
        (
            "access_key_id",
            p.access_key_id.is_some(),
            ProviderKind::Bedrock,
            "bedrock",
        ),
        (
            "secret_access_key",
            p.secret_access_key.is_some(),
            ProviderKind::Bedrock,
            "bedrock",
        ),
        (
            "session_token",
            p.session_token.is_some(),
            ProviderKind::Bedrock,
            "bedrock",
        ),
        (
            "project",
            p.project.is_some(),
            ProviderKind::Vertex,
            "vertex",
        ),
        (
            "location",
            p.location.is_some(),
            ProviderKind::Vertex,
            "vertex",
        ),
        (
            "credentials_file",
            p.credentials_file.is_some(),
            ProviderKind::Vertex,
            "vertex",
        ),
        (
            "token_uri",
            p.token_uri.is_some(),
            ProviderKind::Vertex,
            "vertex",
        ),
        (
            "api_version",
            p.api_version.is_some(),
            ProviderKind::AzureOpenai,
            "azure-openai",
        ),
        (
            "deployments",
            p.deployments.is_some(),
            ProviderKind::AzureOpenai,
            "azure-openai",
        ),
        (
            "entra_token",
            p.entra_token.is_some(),
            ProviderKind::AzureOpenai,
            "azure-openai",
        ),
    ];
    for (name, set, kind, kind_name) in fields {
        if set && p.kind != kind {
            return Err((name, only(kind_name)));
        }
    }
    match p.kind {
        ProviderKind::Vertex if p.project.is_none() => {
            Err(("project", "required for kind = \"vertex\"".into()))
        }
        ProviderKind::Vertex if p.location.is_none() => Err((
            "location",
            "required for kind = \"vertex\" (such as us-east5, or global)".into(),
        )),
        ProviderKind::AzureOpenai if p.base_url.is_none() => Err((
            "base_url",
            "required for kind = \"azure-openai\" (https://<resource>.openai.azure.com)".into(),
        )),
        _ => Ok(()),
    }
}

/// An id or slug: 1 to 64 lowercase letters, digits, `-` or `_`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Replaces `${NAME}` in every string value under `value` (`$${` is a literal
/// `${`). `field` is the dotted path, for the error.
fn interpolate(
    value: &mut toml::Value,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ParseFailure> {
    match value {
        toml::Value::String(s) if s.contains("${") => {
            *s = expand(s, env).map_err(|message| ParseFailure::Invalid {
                field: field.to_string(),
                message,
            })?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{field}[{i}]"), env)?;
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                interpolate(item, &format!("{field}.{key}"), env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let Some(close) = rest[at..].find('}') else {
            return Err("unclosed ${ (write $${ for a literal ${)".into());
        };
        let name = &rest[at + 2..at + close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("${{{name}}} is not an environment variable name"));
        }
        match env(name) {
            Some(value) => out.push_str(&value),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::InstanceMode;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, ParseFailure> {
        Config::parse(text, Path::new("/etc/sluice"), &|name| {
            (name == "TEST_KEY").then(|| "sk-from-env-0123456789".to_string())
        })
    }

    #[test]
    fn a_full_guardrail_entry_parses() {
        let config = parse(
            r#"
            [sandbox]
            cache_dir = "cache"

            [[guardrails]]
            plugin = "pii"
            phases = ["request"]
            on_failure = "allow"
            timeout_ms = 50
            memory_mb = 32
            instances = "fresh"
            settings = { action = "flag", allow_domains = ["example.com"] }

            [[guardrails]]
            id = "mine"
            path = "plugins/mine.wasm"
            "#,
        )
        .unwrap();
        assert_eq!(
            config.sandbox.cache_dir.unwrap(),
            Path::new("/etc/sluice/cache")
        );
        let pii = &config.guardrails[0];
        assert_eq!(pii.on_failure, FailurePolicy::Allow);
        assert_eq!(pii.limits().timeout, Duration::from_millis(50));
        assert_eq!(pii.limits().memory, 32 << 20);
        assert_eq!(pii.limits().instances, InstanceMode::Fresh);
        assert_eq!(
            pii.settings_json(),
            r#"{"action":"flag","allow_domains":["example.com"]}"#
        );
        let mine = &config.guardrails[1];
        assert_eq!(mine.id(), "mine");
        assert_eq!(
            mine.path.as_deref().unwrap(),
            Path::new("/etc/sluice/plugins/mine.wasm")
        );
        assert_eq!(mine.settings_json(), "{}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_name() {
        let Err(ParseFailure::Syntax(message)) =
            parse("[[guardrails]]\nplugin = \"pii\"\ntimeout = 5\n")
        else {
            panic!("accepted an unknown field");
        };
        assert!(message.contains("timeout"), "{message}");
    }

    /// Checks that each config text is refused naming its field, with a
    /// message containing the given words.
    fn assert_invalid(cases: &[(&str, &str, &str)]) {
        for (text, want_field, want_message) in cases {
            match parse(text) {
                Err(ParseFailure::Invalid { field, message }) => {
                    assert_eq!(field, *want_field, "{text}");
                    assert!(message.contains(want_message), "{text}: {message}");
                }
                other => panic!("{text}: expected an error for {want_field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let cases = [
            (
                "[[guardrails]]\nplugin = \"nope\"",
                "guardrails[0].plugin",
                "no built-in plugin named `nope`",
            ),
            (
                "[[guardrails]]\nsettings = {}",
                "guardrails[0].plugin",
                "missing",
            ),
            (
                "[[guardrails]]\nplugin = \"pii\"\npath = \"x.wasm\"",
                "guardrails[0].plugin",
                "not both",
            ),
            (
                "[[guardrails]]\nplugin = \"pii\"\ntimeout_ms = 0",
                "guardrails[0].timeout_ms",
                "between",
            ),
            (
                "[[guardrails]]\nplugin = \"pii\"\nphases = []",
                "guardrails[0].phases",
                "at least one",
            ),
            (
                "[[guardrails]]\nplugin = \"pii\"\nid = \"a b\"",
                "guardrails[0].id",
                "letters",
            ),
        ];
        assert_invalid(&cases);
    }

    #[test]
    fn cloud_settings_belong_to_their_kind_and_each_kind_has_what_it_needs() {
        let cases = [
            (
                "[[providers]]\nslug = \"o\"\nkind = \"openai\"\nregion = \"us-east-1\"",
                "providers[0].region",
                "only for kind = \"bedrock\"",
            ),
            (
                "[[providers]]\nslug = \"b\"\nkind = \"bedrock\"\napi_version = \"v\"",
                "providers[0].api_version",
                "only for kind = \"azure-openai\"",
            ),
            (
                "[[providers]]\nslug = \"v\"\nkind = \"vertex\"\nlocation = \"global\"",
                "providers[0].project",
                "required",
            ),
            (
                "[[providers]]\nslug = \"v\"\nkind = \"vertex\"\nproject = \"p\"",
                "providers[0].location",
                "required",
            ),
            (
                "[[providers]]\nslug = \"a\"\nkind = \"azure-openai\"",
                "providers[0].base_url",
                "openai.azure.com",
            ),
        ];
        assert_invalid(&cases);
    }

    #[test]
    fn defaults_enable_every_builtin() {
        let config = Config::embedded_default();
        assert_eq!(config.guardrails.len(), crate::builtin::BUILTINS.len());
        assert!(config.guardrails.iter().any(|g| g.id() == "pii"));
    }

    #[test]
    fn env_variables_fill_string_values_and_missing_ones_are_named() {
        let config = parse(
            "[[providers]]\nslug = \"openai\"\nkind = \"openai\"\napi_key = \"${TEST_KEY}\"\n",
        )
        .unwrap();
        assert_eq!(
            config.providers[0].api_key.as_ref().unwrap().expose(),
            "sk-from-env-0123456789"
        );
        match parse("[[providers]]\nslug = \"o\"\nkind = \"openai\"\napi_key = \"${NOPE}\"\n") {
            Err(ParseFailure::Invalid { field, message }) => {
                assert_eq!(field, "providers[0].api_key");
                assert!(message.contains("NOPE is not set"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            expand("a $${literal} b", &|_| None).unwrap(),
            "a ${literal} b"
        );
    }

    #[test]
    fn gateway_sections_are_validated() {
        let cases = [
            (
                "[[providers]]\nslug = \"local\"\nkind = \"openai-compatible\"\n",
                "providers[0].base_url",
            ),
            ("[models]\nfast = \"@nowhere/m\"\n", "models.fast"),
            ("[models]\nfast = \"gpt\"\n", "models.fast"),
            (
                "[[providers]]\nslug = \"an\"\nkind = \"echo\"\n[models]\n\"claude-*-x\" = \"@an/*\"\n",
                "models.claude-*-x",
            ),
            (
                "[[providers]]\nslug = \"an\"\nkind = \"echo\"\n[models]\n\"claude-*\" = \"@an/claude\"\n",
                "models.claude-*",
            ),
            (
                "[[providers]]\nslug = \"an\"\nkind = \"echo\"\n[models]\n\"claude-*\" = \"@nowhere/*\"\n",
                "models.claude-*",
            ),
            (
                "[[providers]]\nslug = \"an\"\nkind = \"echo\"\n[models]\n\"claude-*\" = \"@an/*\"\n\
                 [server]\ndefault_model = \"gpt-4o\"\n",
                "server.default_model",
            ),
            ("[[keys]]\nid = \"a\"\nkey = \"short\"\n", "keys[0].key"),
            ("[guardrail_cache]\nmax_mb = 0\n", "guardrail_cache.max_mb"),
            (
                "[[keys]]\nid = \"a\"\nkey = \"0123456789abcdef\"\nallowed_providers = [\"x\"]\n",
                "keys[0].allowed_providers",
            ),
            (
                "[[keys]]\nid = \"a\"\nkey = \"0123456789abcdef\"\nguardrails = [\"x\"]\n",
                "keys[0].guardrails",
            ),
        ];
        for (text, want) in cases {
            match parse(text) {
                Err(ParseFailure::Invalid { field, .. }) => assert_eq!(field, want, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_default_model_may_be_a_name_a_pattern_covers() {
        let config = parse(
            "[[providers]]\nslug = \"an\"\nkind = \"echo\"\n[models]\n\"claude-*\" = \"@an/*\"\n\
             [server]\ndefault_model = \"claude-opus-4-8\"\n",
        )
        .unwrap();
        assert_eq!(
            config.server.default_model.as_deref(),
            Some("claude-opus-4-8")
        );
    }

    #[test]
    fn the_guardrail_cache_is_on_by_default_and_can_be_sized_or_turned_off() {
        let default = parse("").unwrap().guardrail_cache;
        assert!(default.enabled && !default.per_key);
        assert_eq!(default.max_mb, 16);
        let sized = parse("[guardrail_cache]\nmax_mb = 8\nper_key = true\n").unwrap();
        assert_eq!(sized.guardrail_cache.max_mb, 8);
        assert!(sized.guardrail_cache.segment_cache().unwrap().per_key());
        let off = parse("[guardrail_cache]\nenabled = false\n").unwrap();
        assert!(off.guardrail_cache.segment_cache().is_none());
        assert!(matches!(
            parse("[guardrail_cache]\nmax_entries = 5\n"),
            Err(ParseFailure::Syntax(message)) if message.contains("max_entries")
        ));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = parse("[[keys]]\nid = \"a\"\nkey = \"supersecretgatewaykey\"\n").unwrap();
        assert!(!format!("{config:?}").contains("supersecret"));
    }
}
