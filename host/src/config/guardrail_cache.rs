//! `[guardrail_cache]`: how much memory the segment cache may use, and whether
//! gateway keys share it. What the cache does is in `crate::guardrails::cache`.

use crate::guardrails::cache::SegmentCache;
use serde::Deserialize;

/// The default memory bound, in MiB: about 146 long agent sessions kept warm
/// across the four built-ins, and a gateway that has seen new text for long
/// enough still under 100 MB with them (docs/benchmarks.md, "The segment
/// cache's default bound").
const DEFAULT_MAX_MB: u64 = 16;
/// The largest memory bound accepted, in MiB.
const MAX_MAX_MB: u64 = 64 << 10;

/// The `[guardrail_cache]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardrailCacheConfig {
    /// Cache findings per segment (default `true`).
    pub enabled: bool,
    /// The most memory the cache may use, in MiB (default 16).
    pub max_mb: u64,
    /// Give each gateway key entries of its own (default `false`: shared).
    pub per_key: bool,
}

impl Default for GuardrailCacheConfig {
    fn default() -> Self {
        GuardrailCacheConfig {
            enabled: true,
            max_mb: DEFAULT_MAX_MB,
            per_key: false,
        }
    }
}

impl GuardrailCacheConfig {
    /// The cache this section asks for (`None` when disabled).
    pub fn segment_cache(&self) -> Option<SegmentCache> {
        self.enabled
            .then(|| SegmentCache::new(self.max_mb << 20, self.per_key))
    }

    /// Checks the section; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=MAX_MAX_MB).contains(&self.max_mb) {
            return Err((
                "guardrail_cache.max_mb".into(),
                format!("must be between 1 and {MAX_MAX_MB} (or set enabled = false)"),
            ));
        }
        Ok(())
    }
}
