//! `[response_cache]`: exact-match caching of answers. What the gateway does
//! with it is in `crate::response_cache`.

use serde::Deserialize;

/// Where cached answers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheStore {
    /// In this process's memory.
    Memory,
    /// In the `[state] redis` server, shared by every gateway process.
    Redis,
}

/// The `[response_cache]` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseCacheConfig {
    /// Cache answers (default `false`: an LLM answer is not always one to reuse).
    pub enabled: bool,
    /// How long an answer is served from the cache, in seconds (default 300).
    pub max_age_s: u64,
    /// `memory` (default) or `redis`.
    pub store: CacheStore,
    /// The most memory the in-process cache may use, in MiB (default 256).
    pub max_mb: u64,
    /// The largest answer cached, in KiB (default 4096).
    pub max_entry_kb: u64,
    /// Let every gateway key read every key's cached answers (default `false`:
    /// each key has its own).
    pub shared: bool,
}

impl Default for ResponseCacheConfig {
    fn default() -> Self {
        ResponseCacheConfig {
            enabled: false,
            max_age_s: 300,
            store: CacheStore::Memory,
            max_mb: 256,
            max_entry_kb: 4096,
            shared: false,
        }
    }
}

impl ResponseCacheConfig {
    /// Checks the section; `redis` says whether `[state] redis` is set.
    pub fn validate(&self, redis: bool) -> Result<(), (String, String)> {
        let field = |name: &str| format!("response_cache.{name}");
        if !(1..=30 * 86_400).contains(&self.max_age_s) {
            return Err((
                field("max_age_s"),
                "must be between 1 and 2592000 (30 days)".into(),
            ));
        }
        if !(1..=64 << 10).contains(&self.max_mb) {
            return Err((field("max_mb"), "must be between 1 and 65536".into()));
        }
        if !(1..=64 << 10).contains(&self.max_entry_kb) {
            return Err((field("max_entry_kb"), "must be between 1 and 65536".into()));
        }
        if self.store == CacheStore::Redis && !redis {
            return Err((field("store"), "\"redis\" needs [state] redis".into()));
        }
        Ok(())
    }
}
