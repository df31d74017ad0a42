//! `[sandbox]` and `[[guardrails]]`: which plugins run, with which limits.

use crate::builtin;
use crate::sandbox::{ArtifactCache, InstanceMode, Limits, Phase, PluginSource};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[sandbox]`: settings shared by all plugins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Where precompiled plugins are kept. Default: `$SLUICE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice` (`components/` inside).
    pub cache_dir: Option<PathBuf>,
    /// Set to `false` to compile plugins at every start instead (default `true`).
    pub cache: Option<bool>,
    /// Guardrail checks of request and answer bodies that run at once (default:
    /// the cores the process may use). More requests wait for a turn.
    pub parallel_checks: Option<usize>,
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

impl SandboxConfig {
    /// The artifact cache this config asks for (`None` when disabled, or when no
    /// cache folder can be determined or created, which is logged).
    pub fn artifact_cache(&self) -> Option<ArtifactCache> {
        if self.cache == Some(false) {
            return None;
        }
        let dir = self.cache_dir.clone().or_else(ArtifactCache::default_dir)?;
        match ArtifactCache::open(&dir) {
            Ok(cache) => Some(cache),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "plugin cache unavailable; compiling plugins at every start");
                None
            }
        }
    }
}

/// The guardrail entries for every built-in plugin, with defaults.
pub fn builtin_guardrails() -> Vec<GuardrailConfig> {
    builtin::BUILTINS
        .iter()
        .map(|b| GuardrailConfig {
            plugin: Some(b.name.to_string()),
            ..GuardrailConfig::default()
        })
        .collect()
}

/// Checks the `[[guardrails]]` entries; returns the offending field and why.
pub fn validate(guardrails: &[GuardrailConfig]) -> Result<(), (String, String)> {
    for (i, g) in guardrails.iter().enumerate() {
        let invalid =
            |name: &str, message: String| Err((format!("guardrails[{i}].{name}"), message));
        match (&g.plugin, &g.path) {
            (Some(_), Some(_)) => {
                return invalid(
                    "plugin",
                    "give either `plugin` (a built-in) or `path` (a .wasm file), not both".into(),
                );
            }
            (None, None) => {
                return invalid(
                    "plugin",
                    "missing: name a built-in with `plugin` or a .wasm file with `path`".into(),
                );
            }
            (Some(name), None) if builtin::find(name).is_none() => {
                return invalid(
                    "plugin",
                    format!(
                        "no built-in plugin named `{name}` (built-ins: {})",
                        builtin::names().join(", ")
                    ),
                );
            }
            _ => {}
        }
        if let Some(id) = &g.id
            && (id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return invalid("id", format!("{id:?} must be letters, digits, '-' or '_'"));
        }
        if g.timeout_ms == Some(0) || g.timeout_ms.is_some_and(|t| t > 60_000) {
            return invalid("timeout_ms", "must be between 1 and 60000".into());
        }
        if g.memory_mb.is_some_and(|m| !(1..=4096).contains(&m)) {
            return invalid("memory_mb", "must be between 1 and 4096".into());
        }
        if g.phases.as_ref().is_some_and(|p| p.is_empty()) {
            return invalid(
                "phases",
                "must name at least one phase (or be left out)".into(),
            );
        }
    }
    Ok(())
}
