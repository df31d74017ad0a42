//! The response cache: an exact-match cache of answers, so that a request
//! sent again (same key, same body, same routing config) is answered without
//! the provider.
//!
//! - **Key**: BLAKE3 of the client's API, the routing config (its name, or the
//!   inline config), the targets of the plan, the request body with its object
//!   keys sorted (so field order does not matter), the response guardrails the
//!   asking key runs (their fingerprints: code and settings), and the gateway
//!   key's id unless `shared = true`. Without `shared`, one key can never read
//!   another key's answer.
//! - **A hit is checked again**: the pipeline runs the asking request's
//!   response guardrails over a cached answer before replaying it, so a hit is
//!   never an answer those guardrails would not have let through as it is.
//! - **Stored**: the answer exactly as the client received it, whole or as
//!   the stream's bytes, which a hit replays as a stream.
//! - **Never stored**: errors, blocked answers, answers a response guardrail
//!   redacted or flagged for redaction, and streams that ended with an error.
//! - **Per request**: `x-sluice-cache: bypass` (neither read nor write) or
//!   `refresh` (do not read; write the new answer). The response says what
//!   happened in `x-sluice-cache`: `hit`, `miss`, `bypass` or `refresh`.

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::config::{CacheStore, ResponseCacheConfig};
use axum::body::Bytes;
use axum::http::HeaderMap;
use quick_cache::Weighter;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The request and response header.
pub const CACHE_HEADER: &str = "x-sluice-cache";

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Whether it is a stream's bytes (else a JSON body).
    pub stream: bool,
    /// The target that served it.
    pub target: String,
    /// The bytes the client received.
    pub body: String,
}

/// What a request does with the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read, and write on a miss.
    Use,
    /// Neither read nor write.
    Bypass,
    /// Write, without reading.
    Refresh,
}

impl Mode {
    /// The request's mode, from `x-sluice-cache` (default `use`).
    pub fn of(headers: &HeaderMap) -> Result<Mode, ApiError> {
        match headers
            .get(CACHE_HEADER)
            .map(|v| v.to_str().unwrap_or_default())
        {
            None | Some("use") => Ok(Mode::Use),
            Some("bypass") => Ok(Mode::Bypass),
            Some("refresh") => Ok(Mode::Refresh),
            Some(_) => Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!("{CACHE_HEADER}: use, bypass or refresh"),
            )),
        }
    }
}

enum Store {
    Memory(quick_cache::sync::Cache<[u8; 32], Arc<(Instant, Entry)>, ByLength>),
    Redis(redis::aio::ConnectionManager),
}

/// The cache.
pub struct ResponseCache {
    store: Store,
    max_age: Duration,
    max_entry: usize,
    shared: bool,
}

impl ResponseCache {
    /// The cache `config` asks for (`None` when disabled); `redis` is the
    /// `[state] redis` URL.
    pub async fn open(
        config: &ResponseCacheConfig,
        redis: Option<&crate::secret::Secret>,
    ) -> anyhow::Result<Option<Arc<ResponseCache>>> {
        if !config.enabled {
            return Ok(None);
        }
        let store = match (config.store, redis) {
            (CacheStore::Redis, Some(url)) => {
                let client = redis::Client::open(url.expose()).map_err(|e| {
                    anyhow::anyhow!("[state] redis is not a valid Redis URL ({:?})", e.kind())
                })?;
                Store::Redis(redis::aio::ConnectionManager::new(client).await?)
            }
            (CacheStore::Redis, None) => {
                anyhow::bail!("[response_cache] store = \"redis\" needs [state] redis")
            }
            (CacheStore::Memory, _) => {
                let max_bytes = config.max_mb << 20;
                Store::Memory(quick_cache::sync::Cache::with_weighter(
                    (max_bytes / 4096).max(16) as usize,
                    max_bytes,
                    ByLength,
                ))
            }
        };
        Ok(Some(Arc::new(ResponseCache {
            store,
            max_age: Duration::from_secs(config.max_age_s),
            max_entry: (config.max_entry_kb as usize) << 10,
            shared: config.shared,
        })))
    }

    /// The largest answer worth recording, in bytes.
    pub fn max_entry(&self) -> usize {
        self.max_entry
    }

    /// The cache key of a request.
    pub fn key(
        &self,
        api: Api,
        config: &str,
        targets: &[String],
        key_id: Option<&str>,
        response_guardrails: &[u8; 32],
        body: &Value,
    ) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(response_guardrails);
        for part in [
            api.as_str(),
            config,
            if self.shared {
                ""
            } else {
                key_id.unwrap_or("")
            },
        ] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        for target in targets {
            hasher.update(&(target.len() as u64).to_le_bytes());
            hasher.update(target.as_bytes());
        }
        hasher.update(canonical(body).as_bytes());
        *hasher.finalize().as_bytes()
    }

    /// The answer cached under `key`, if it is fresh. A store that cannot be
    /// read is a miss (logged), never an error for the client.
    pub async fn get(&self, key: &[u8; 32]) -> Option<Entry> {
        match &self.store {
            Store::Memory(cache) => {
                let entry = cache.get(key)?;
                if entry.0.elapsed() > self.max_age {
                    cache.remove(key);
                    return None;
                }
                Some(entry.1.clone())
            }
            Store::Redis(connection) => {
                let text: Option<String> = redis::cmd("GET")
                    .arg(redis_key(key))
                    .query_async(&mut connection.clone())
                    .await
                    .map_err(|e| tracing::warn!(error = %e, "response cache: read failed"))
                    .ok()?;
                serde_json::from_str(&text?).ok()
            }
        }
    }

    /// Caches `entry` under `key` (entries over `max_entry_kb` are not).
    pub async fn put(&self, key: [u8; 32], entry: Entry) {
        if entry.body.len() > self.max_entry {
            return;
        }
        match &self.store {
            Store::Memory(cache) => cache.insert(key, Arc::new((Instant::now(), entry))),
            Store::Redis(connection) => {
                let text = serde_json::to_string(&entry).expect("an entry serializes");
                let written: Result<(), _> = redis::cmd("SET")
                    .arg(redis_key(&key))
                    .arg(text)
                    .arg("EX")
                    .arg(self.max_age.as_secs())
                    .query_async(&mut connection.clone())
                    .await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, "response cache: write failed");
                }
            }
        }
    }
}

fn redis_key(key: &[u8; 32]) -> String {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    format!("sluice:rc:{hex}")
}

/// `value` as JSON with every object's keys sorted.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// Weighs an entry by its bytes.
#[derive(Debug, Clone, Copy)]
struct ByLength;

impl Weighter<[u8; 32], Arc<(Instant, Entry)>> for ByLength {
    fn weight(&self, _key: &[u8; 32], entry: &Arc<(Instant, Entry)>) -> u64 {
        (entry.1.body.len() + entry.1.target.len() + 128) as u64
    }
}

/// Bytes of a stream as the client receives them, kept for the cache until
/// the stream ends well.
pub struct Recorder {
    /// The cache.
    pub cache: Arc<ResponseCache>,
    /// The request's key.
    pub key: [u8; 32],
    /// The target that serves it.
    pub target: String,
    /// The bytes so far.
    pub body: String,
}

impl Recorder {
    /// Adds bytes sent to the client; gives up past the entry limit.
    pub fn push(&mut self, bytes: &str) -> bool {
        self.body.push_str(bytes);
        self.body.len() <= self.cache.max_entry()
    }

    /// Stores the stream (call only when it ended well, unredacted).
    pub fn finish(self) {
        let Recorder {
            cache,
            key,
            target,
            body,
        } = self;
        let entry = Entry {
            stream: true,
            target,
            body,
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { cache.put(key, entry).await });
        }
    }
}

/// Bytes for a cached stream's replay.
pub fn replay(entry: &Entry) -> Bytes {
    Bytes::from(entry.body.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn cache(shared: bool, max_age_s: u64) -> Arc<ResponseCache> {
        let config = ResponseCacheConfig {
            enabled: true,
            max_age_s,
            shared,
            ..ResponseCacheConfig::default()
        };
        ResponseCache::open(&config, None).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn keys_ignore_field_order_but_not_the_key_or_config() {
        let c = cache(false, 60).await;
        let targets = ["@oa/m".to_string()];
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let b = json!({"messages": [{"content": "hi", "role": "user"}], "model": "m"});
        let key = |key_id, config, body: &Value| {
            c.key(Api::OpenAi, config, &targets, Some(key_id), &[0; 32], body)
        };
        assert_eq!(key("alice", "x", &a), key("alice", "x", &b));
        assert_ne!(
            key("alice", "x", &a),
            key("bob", "x", &a),
            "partitioned by key"
        );
        assert_ne!(
            key("alice", "x", &a),
            key("alice", "y", &a),
            "and by config"
        );
        let shared = cache(true, 60).await;
        assert_eq!(
            shared.key(Api::OpenAi, "x", &targets, Some("alice"), &[0; 32], &a),
            shared.key(Api::OpenAi, "x", &targets, Some("bob"), &[0; 32], &a)
        );
    }

    #[tokio::test]
    async fn entries_expire_and_big_ones_are_not_kept() {
        let c = cache(false, 60).await;
        let entry = Entry {
            stream: false,
            target: "@oa/m".into(),
            body: "{}".into(),
        };
        c.put([1; 32], entry.clone()).await;
        assert_eq!(c.get(&[1; 32]).await, Some(entry.clone()));
        if let Store::Memory(store) = &c.store {
            let old = Instant::now() - Duration::from_secs(61);
            store.insert([1; 32], Arc::new((old, entry.clone())));
        }
        assert_eq!(c.get(&[1; 32]).await, None, "older than max_age");
        let big = Entry {
            body: "x".repeat(c.max_entry() + 1),
            ..entry
        };
        c.put([2; 32], big).await;
        assert_eq!(c.get(&[2; 32]).await, None);
    }
}
