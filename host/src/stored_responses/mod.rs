//! Responses that sluice keeps itself, so that `previous_response_id` works
//! on a target that does not speak the Responses API (Anthropic, an
//! OpenAI-compatible server), as OpenAI's own store does for OpenAI.
//!
//! A stored response is the answer as its client received it (after the
//! response guardrails: redacted text stays redacted) and the whole input
//! that led to it (the earlier turns included), under the id sluice gave it,
//! for the gateway key that asked. It is kept in the `[state]` store (the
//! SQLite file, or Redis when `[state] redis` is set) for
//! `[state] responses_ttl_hours`; a request with `store: false` is not kept.
//! A key never reads, continues or deletes another key's responses: to any
//! other key they do not exist.

mod redis;
mod sqlite;

use crate::config::StateConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// One stored response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// Its id (`resp_…`, given by sluice).
    pub id: String,
    /// The gateway key that made it (empty without keys).
    pub key_id: String,
    /// When it may be forgotten, in milliseconds since the Unix epoch.
    pub expires_ms: i64,
    /// The input items that led to it, the earlier turns' included.
    pub input: Vec<Value>,
    /// The response object, as its client received it.
    pub response: Value,
}

impl StoredResponse {
    /// The conversation so far, as input items for the next turn: the input,
    /// then the answer's output items.
    pub fn conversation(&self) -> Vec<Value> {
        let output = self.response["output"].as_array().into_iter().flatten();
        self.input.iter().chain(output).cloned().collect()
    }
}

/// Where stored responses are kept. The calls block (run them on the
/// blocking pool).
pub trait ResponseStore: Send + Sync {
    /// Keeps `response`, replacing one with the same id.
    fn put(&self, response: &StoredResponse) -> anyhow::Result<()>;
    /// The response with `id`, unless it expired.
    fn get(&self, id: &str) -> anyhow::Result<Option<StoredResponse>>;
    /// Forgets the response with `id`; whether there was one.
    fn delete(&self, id: &str) -> anyhow::Result<bool>;
}

/// The store `state` names.
pub fn open(state: &StateConfig) -> anyhow::Result<Arc<dyn ResponseStore>> {
    Ok(match &state.redis {
        Some(url) => Arc::new(redis::RedisResponses::open(url)?),
        None => Arc::new(sqlite::SqliteResponses::open(&state.database())?),
    })
}

/// The stored responses of one gateway, per key.
#[derive(Clone)]
pub struct Conversations {
    store: Arc<dyn ResponseStore>,
    ttl_ms: i64,
}

impl Conversations {
    /// Responses in `store`, each kept for `ttl_hours`.
    pub fn new(store: Arc<dyn ResponseStore>, ttl_hours: u64) -> Self {
        Conversations {
            store,
            ttl_ms: i64::try_from(ttl_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX),
        }
    }

    /// The response `id` of `key_id`; `None` when it does not exist, expired
    /// or is another key's.
    pub async fn get(&self, key_id: &str, id: &str) -> anyhow::Result<Option<StoredResponse>> {
        let store = self.store.clone();
        let id = id.to_string();
        let found = tokio::task::spawn_blocking(move || store.get(&id)).await??;
        Ok(found.filter(|r| r.key_id == key_id && r.expires_ms > crate::clock::now_ms()))
    }

    /// Keeps `response` (with `input`) for `key_id`.
    pub async fn put(
        &self,
        key_id: &str,
        input: Vec<Value>,
        response: Value,
    ) -> anyhow::Result<()> {
        let record = StoredResponse {
            id: response["id"].as_str().unwrap_or_default().to_string(),
            key_id: key_id.to_string(),
            expires_ms: crate::clock::now_ms().saturating_add(self.ttl_ms),
            input,
            response,
        };
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.put(&record)).await?
    }

    /// Forgets the response `id` of `key_id`; whether there was one.
    pub async fn delete(&self, key_id: &str, id: &str) -> anyhow::Result<bool> {
        if self.get(key_id, id).await?.is_none() {
            return Ok(false);
        }
        let store = self.store.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || store.delete(&id)).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conversations(dir: &std::path::Path) -> Conversations {
        let store = sqlite::SqliteResponses::open(&dir.join("state.db")).unwrap();
        Conversations::new(Arc::new(store), 1)
    }

    #[tokio::test]
    async fn a_key_reads_and_deletes_only_its_own_responses() {
        let dir = tempfile::tempdir().unwrap();
        let conversations = conversations(dir.path());
        let response = json!({"id": "resp_1", "output": [{"type": "message", "content": []}]});
        conversations
            .put(
                "alice",
                vec![json!({"role": "user", "content": "hi"})],
                response,
            )
            .await
            .unwrap();
        let found = conversations.get("alice", "resp_1").await.unwrap().unwrap();
        assert_eq!(found.conversation().len(), 2, "the input, then the output");
        assert!(conversations.get("bob", "resp_1").await.unwrap().is_none());
        assert!(!conversations.delete("bob", "resp_1").await.unwrap());
        assert!(conversations.delete("alice", "resp_1").await.unwrap());
        assert!(
            conversations
                .get("alice", "resp_1")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_expired_response_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(sqlite::SqliteResponses::open(&dir.path().join("s.db")).unwrap());
        let conversations = Conversations::new(store, 0);
        conversations
            .put("k", vec![], json!({"id": "resp_old", "output": []}))
            .await
            .unwrap();
        assert!(conversations.get("k", "resp_old").await.unwrap().is_none());
    }

    #[test]
    fn redis_keeps_them_too() {
        let Some(url) = crate::test_services::service_url("SLUICE_TEST_REDIS_URL", "Redis") else {
            return;
        };
        let store = redis::RedisResponses::open(&crate::secret::Secret::new(url)).unwrap();
        let record = StoredResponse {
            id: format!("resp_test_{}", crate::clock::now_ms()),
            key_id: "k".into(),
            expires_ms: crate::clock::now_ms() + 60_000,
            input: vec![json!("x")],
            response: json!({"output": []}),
        };
        store.put(&record).unwrap();
        assert_eq!(store.get(&record.id).unwrap(), Some(record.clone()));
        assert!(store.delete(&record.id).unwrap());
        assert_eq!(store.get(&record.id).unwrap(), None);
    }
}
