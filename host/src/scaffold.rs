//! `sluice plugin new NAME`: a new guardrail plugin crate, ready to build.

use std::path::{Path, PathBuf};

/// Where the new crate gets the SDK from.
#[derive(Debug, Clone)]
pub enum SdkSource {
    /// A local checkout of the SDK crate.
    Path(PathBuf),
    /// The sluice git repository.
    Git(String),
}

impl SdkSource {
    /// The SDK next to this binary's source tree when it still exists (a
    /// development build), otherwise the git repository.
    pub fn default_for_this_build() -> Self {
        let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
        match in_tree.canonicalize() {
            Ok(path) if path.join("Cargo.toml").exists() => SdkSource::Path(path),
            _ => SdkSource::Git(env!("CARGO_PKG_REPOSITORY").to_string()),
        }
    }

    fn dependency(&self) -> String {
        match self {
            SdkSource::Path(path) => format!("{{ path = {:?} }}", path.display().to_string()),
            SdkSource::Git(url) => format!("{{ git = {url:?} }}"),
        }
    }
}

/// Checks that `name` is a usable crate and plugin name.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid plugin name: use lowercase letters, digits, '-' and '_', starting with a letter"
        ))
    }
}

/// Creates the crate in `dir` (which must not exist) and returns the files written.
pub fn create(dir: &Path, name: &str, sdk: &SdkSource) -> Result<Vec<PathBuf>, String> {
    validate_name(name)?;
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let files = [
        ("Cargo.toml", cargo_toml(name, sdk)),
        ("src/lib.rs", lib_rs(name)),
        (".gitignore", "/target\n".to_string()),
        (".cargo/config.toml", CARGO_CONFIG.to_string()),
    ];
    let mut written = Vec::new();
    for (relative, contents) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// WebAssembly SIMD lets memchr, aho-corasick and regex scan many bytes at once.
const CARGO_CONFIG: &str =
    "[target.wasm32-wasip2]\nrustflags = [\"-C\", \"target-feature=+simd128\"]\n";

fn cargo_toml(name: &str, sdk: &SdkSource) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
# cdylib: the wasm component; rlib: native unit tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
sluice-plugin-sdk = {sdk}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = true

# A standalone crate, even when created inside another workspace.
[workspace]
"#,
        sdk = sdk.dependency()
    )
}

fn lib_rs(name: &str) -> String {
    let type_name: String = name
        .split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    LIB_TEMPLATE
        .replace("{{name}}", name)
        .replace("{{Type}}", &type_name)
}

const LIB_TEMPLATE: &str = r##"//! `{{name}}`: a sluice guardrail plugin.
//!
//! Redacts every occurrence of the configured words. Settings:
//!
//! ```toml
//! [[guardrails]]
//! path = "target/wasm32-wasip2/release/{{name}}.wasm"
//! settings = { words = ["project-falcon"], action = "redact" }
//! ```

use serde::Deserialize;
use sluice_plugin_sdk::{Action, CacheScope, Context, Finding, Guardrail, Segment, Settings, Verdict};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct {{Type}}Settings {
    #[serde(default)]
    words: Vec<String>,
    #[serde(default = "default_action")]
    action: String,
}

fn default_action() -> String {
    "redact".into()
}

#[derive(Default)]
pub struct {{Type}} {
    words: Vec<String>,
    action: Action,
}

impl Guardrail for {{Type}} {
    /// The longest word we match; the gateway holds back this much of a stream.
    const MAX_MATCH_LEN: u32 = 64;
    /// Findings depend only on the segment's text: the gateway may cache them.
    const CACHE_SCOPE: CacheScope = CacheScope::Segment;

    fn configure(settings: &Settings) -> Result<Self, String> {
        let settings: {{Type}}Settings = settings.parse()?;
        let action = match settings.action.as_str() {
            "flag" => Action::Flag,
            "redact" => Action::Redact,
            "block" => Action::Block,
            other => return Err(format!("action: {other:?} is not one of flag, redact, block")),
        };
        if let Some(word) = settings.words.iter().find(|w| w.is_empty() || w.len() > 64) {
            return Err(format!("words: {word:?} must be 1 to 64 bytes long"));
        }
        Ok({{Type}} { words: settings.words, action })
    }

    fn check(&self, _ctx: &Context, segments: &[Segment]) -> Verdict {
        let mut findings = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            for word in &self.words {
                for (start, matched) in segment.text.match_indices(word.as_str()) {
                    findings.push(Finding::new(i, start..start + matched.len(), "word", "{{name}}.word", self.action));
                }
            }
        }
        let verdict = Verdict::from_findings(findings);
        if verdict.effective_action() == Action::Block {
            // Never echo the matched text in a reason: it reaches the client.
            verdict.with_reason("the text contains a forbidden word")
        } else {
            verdict
        }
    }
}

sluice_plugin_sdk::register!({{Type}});

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_sdk::testing::Harness;

    #[test]
    fn redacts_configured_words() {
        let plugin = Harness::<{{Type}}>::configure(r#"{"words": ["falcon"]}"#).unwrap();
        assert_eq!(plugin.redact("project falcon ships"), "project [WORD] ships");
    }

    #[test]
    fn refuses_a_bad_action() {
        assert!(Harness::<{{Type}}>::configure(r#"{"action": "explode"}"#).is_err());
    }
}
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("my-guard").is_ok());
        assert!(validate_name("My Guard").is_err());
        assert!(validate_name("1guard").is_err());
    }

    #[test]
    fn template_gets_a_type_name() {
        let lib = lib_rs("ticket-ids");
        assert!(lib.contains("pub struct TicketIds"));
        assert!(lib.contains("register!(TicketIds)"));
        assert!(!lib.contains("{{"));
    }
}
