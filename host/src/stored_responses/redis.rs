//! Stored responses in Redis (`[state] redis`): one key per response,
//! `sluice:r:<id>`, holding it as JSON, expiring with it.
//!
//! Used from the blocking pool, so it speaks Redis synchronously, with
//! timeouts, and reconnects after a failure.

use super::{ResponseStore, StoredResponse};
use crate::secret::Secret;
use std::sync::Mutex;
use std::time::Duration;

/// How long one command may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Stored responses in Redis.
pub struct RedisResponses {
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
}

fn key(id: &str) -> String {
    format!("sluice:r:{id}")
}

impl RedisResponses {
    /// A store on the server at `url` (connected on first use).
    pub fn open(url: &Secret) -> anyhow::Result<RedisResponses> {
        let client = redis::Client::open(url.expose()).map_err(|e| {
            anyhow::anyhow!("[state] redis is not a valid Redis URL ({:?})", e.kind())
        })?;
        Ok(RedisResponses {
            client,
            connection: Mutex::new(None),
        })
    }

    /// Runs `f` on the connection, opening it first if needed; a failed
    /// connection is dropped, so the next call reconnects.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> anyhow::Result<T> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            let connection = self.client.get_connection_with_timeout(TIMEOUT)?;
            connection.set_read_timeout(Some(TIMEOUT))?;
            connection.set_write_timeout(Some(TIMEOUT))?;
            *slot = Some(connection);
        }
        let result = f(slot.as_mut().expect("just opened"));
        if result.is_err() {
            *slot = None;
        }
        Ok(result?)
    }
}

impl ResponseStore for RedisResponses {
    fn put(&self, response: &StoredResponse) -> anyhow::Result<()> {
        let record = serde_json::to_string(response)?;
        let ttl_ms = (response.expires_ms - crate::clock::now_ms()).max(1);
        self.with(|c| {
            redis::cmd("SET")
                .arg(key(&response.id))
                .arg(record)
                .arg("PX")
                .arg(ttl_ms)
                .query::<()>(c)
        })
    }

    fn get(&self, id: &str) -> anyhow::Result<Option<StoredResponse>> {
        let record: Option<String> = self.with(|c| redis::cmd("GET").arg(key(id)).query(c))?;
        Ok(match record {
            Some(json) => Some(serde_json::from_str(&json)?),
            None => None,
        })
    }

    fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let deleted: i64 = self.with(|c| redis::cmd("DEL").arg(key(id)).query(c))?;
        Ok(deleted > 0)
    }
}
