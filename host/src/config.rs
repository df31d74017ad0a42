//! The configuration file (TOML).
//!
//! This module owns the parts the guardrail engine needs today: `[sandbox]` and
//! `[[guardrails]]`. `docs/configuration.md` documents every field. Relative
//! paths are resolved against the config file's folder.

use crate::builtin;
use crate::sandbox::{ArtifactCache, InstanceMode, Limits, Phase, PluginSource};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Engine-wide settings.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// The guardrails, in the order they run.
    #[serde(default)]
    pub guardrails: Vec<GuardrailConfig>,
}

/// `[sandbox]`: settings shared by all plugins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Where precompiled plugins are kept. Default: `$SLUICE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice` (`components/` inside).
    pub cache_dir: Option<PathBuf>,
    /// Set to `false` to compile plugins at every start instead (default `true`).
    pub cache: Option<bool>,
}

/// What a plugin's failure (trap, timeout, memory cap, bad output) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// Fail closed: refuse the request with a clear error (the default).
    #[default]
    Block,
    /// Fail open: let the traffic through, and record the failure.
    Allow,
}

/// One `[[guardrails]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailConfig {
    /// The id used in errors, audit records and routing configs. Default: the
    /// built-in's name, or the file's stem.
    pub id: Option<String>,
    /// A built-in plugin by name (`sluice plugin list` shows them).
    pub plugin: Option<String>,
    /// An external plugin: a `.wasm` component file.
    pub path: Option<PathBuf>,
    /// The phases to run in; default all the plugin handles.
    pub phases: Option<Vec<PhaseName>>,
    /// Fail closed (`block`, default) or open (`allow`).
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Deadline for one call, in milliseconds (default 100).
    pub timeout_ms: Option<u64>,
    /// Memory cap per instance, in MiB (default 128).
    pub memory_mb: Option<u64>,
    /// `reuse` (warm instances, default) or `fresh` (one instance per call).
    pub instances: Option<InstanceModeName>,
    /// The plugin's own settings, passed to it as JSON.
    pub settings: Option<toml::Table>,
}

/// A phase name in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseName {
    /// The request phase.
    Request,
    /// The response phase.
    Response,
}

/// An instance mode in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceModeName {
    /// Warm instances, reused.
    Reuse,
    /// A new instance per call.
    Fresh,
}

/// A config that cannot be used; says where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|e| match e {
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

    /// Parses config text; relative paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ParseFailure> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| ParseFailure::Syntax(e.to_string().trim().to_string()))?;
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    /// The config used when none is given: every built-in plugin with its defaults.
    pub fn builtin_defaults() -> Config {
        Config {
            sandbox: SandboxConfig::default(),
            guardrails: builtin::BUILTINS
                .iter()
                .map(|b| GuardrailConfig {
                    plugin: Some(b.name.to_string()),
                    ..GuardrailConfig::default()
                })
                .collect(),
        }
    }

    /// The artifact cache this config asks for (`None` when disabled, or when no
    /// cache folder can be determined or created, which is logged).
    pub fn artifact_cache(&self) -> Option<ArtifactCache> {
        if self.sandbox.cache == Some(false) {
            return None;
        }
        let dir = self
            .sandbox
            .cache_dir
            .clone()
            .or_else(ArtifactCache::default_dir)?;
        match ArtifactCache::open(&dir) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "plugin cache unavailable; compiling plugins at every start");
                None
            }
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
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
        for (i, g) in self.guardrails.iter().enumerate() {
            let field = |name: &str| format!("guardrails[{i}].{name}");
            let invalid = |name: &str, message: String| ParseFailure::Invalid {
                field: field(name),
                message,
            };
            match (&g.plugin, &g.path) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "plugin",
                        "give either `plugin` (a built-in) or `path` (a .wasm file), not both"
                            .into(),
                    ));
                }
                (None, None) => {
                    return Err(invalid(
                        "plugin",
                        "missing: name a built-in with `plugin` or a .wasm file with `path`".into(),
                    ));
                }
                (Some(name), None) if builtin::find(name).is_none() => {
                    return Err(invalid(
                        "plugin",
                        format!(
                            "no built-in plugin named `{name}` (built-ins: {})",
                            builtin::names().join(", ")
                        ),
                    ));
                }
                _ => {}
            }
            if let Some(id) = &g.id
                && (id.is_empty()
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            {
                return Err(invalid(
                    "id",
                    format!("{id:?} must be letters, digits, '-' or '_'"),
                ));
            }
            if g.timeout_ms == Some(0) || g.timeout_ms.is_some_and(|t| t > 60_000) {
                return Err(invalid("timeout_ms", "must be between 1 and 60000".into()));
            }
            if g.memory_mb.is_some_and(|m| !(1..=4096).contains(&m)) {
                return Err(invalid("memory_mb", "must be between 1 and 4096".into()));
            }
            if g.phases.as_ref().is_some_and(|p| p.is_empty()) {
                return Err(invalid(
                    "phases",
                    "must name at least one phase (or be left out)".into(),
                ));
            }
        }
        Ok(())
    }
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

impl GuardrailConfig {
    /// The guardrail's id: the configured one, the built-in's name or the file stem.
    pub fn id(&self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        if let Some(name) = &self.plugin {
            return name.clone();
        }
        self.path
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into())
    }

    /// Where the plugin comes from (validated: exactly one of `plugin`/`path`).
    pub fn source(&self) -> PluginSource {
        match (&self.plugin, &self.path) {
            (Some(name), _) => {
                let builtin = builtin::find(name).expect("validated built-in name");
                PluginSource::Builtin {
                    name: builtin.name,
                    bytes: builtin.bytes,
                }
            }
            (None, Some(path)) => PluginSource::File(path.clone()),
            (None, None) => unreachable!("validated: plugin or path"),
        }
    }

    /// The plugin's settings as a JSON document (`{}` when none are given).
    pub fn settings_json(&self) -> String {
        match &self.settings {
            Some(table) => serde_json::to_string(table).unwrap_or_else(|_| "{}".into()),
            None => "{}".into(),
        }
    }

    /// The configured phases, if the entry restricts them.
    pub fn phases(&self) -> Option<Vec<Phase>> {
        self.phases
            .as_ref()
            .map(|names| names.iter().map(|n| n.phase()).collect())
    }

    /// The sandbox limits, defaults overridden by this entry.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        if let Some(ms) = self.timeout_ms {
            limits.timeout = Duration::from_millis(ms);
        }
        if let Some(mb) = self.memory_mb {
            limits.memory = mb << 20;
            limits.recycle_memory = limits.recycle_memory.min(limits.memory);
        }
        if let Some(mode) = self.instances {
            limits.instances = match mode {
                InstanceModeName::Reuse => InstanceMode::Reuse,
                InstanceModeName::Fresh => InstanceMode::Fresh,
            };
        }
        limits
    }
}

impl PhaseName {
    /// The sandbox phase this names.
    pub fn phase(self) -> Phase {
        match self {
            PhaseName::Request => Phase::Request,
            PhaseName::Response => Phase::Response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ParseFailure> {
        Config::parse(text, Path::new("/etc/sluice"))
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
        for (text, want_field, want_message) in cases {
            match parse(text) {
                Err(ParseFailure::Invalid { field, message }) => {
                    assert_eq!(field, want_field, "{text}");
                    assert!(message.contains(want_message), "{text}: {message}");
                }
                other => panic!("{text}: expected an error for {want_field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn defaults_enable_every_builtin() {
        let config = Config::builtin_defaults();
        assert_eq!(config.guardrails.len(), builtin::BUILTINS.len());
        assert!(config.guardrails.iter().any(|g| g.id() == "pii"));
    }
}
