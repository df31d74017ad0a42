//! Managed keys in Redis (`[state] redis`), for gateway processes on several
//! hosts: one hash `sluice:k:records` (key id → the record as JSON) and a
//! counter `sluice:k:generation` that every write raises in the same
//! transaction (`MULTI`/`EXEC`, guarded by `WATCH`, so two writers never
//! overwrite each other's change).
//!
//! The store is used from the blocking pool and the CLI, so it speaks Redis
//! synchronously, with timeouts, and reconnects after a failure.

use super::record::{KeyHash, KeyRecord};
use super::store::{KeyError, KeyStore};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

const RECORDS: &str = "sluice:k:records";
const GENERATION: &str = "sluice:k:generation";
/// How long one command may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How often a write is retried when another writer got in first.
const WRITE_ATTEMPTS: usize = 20;

/// A record as stored: every field, the hash in hex.
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    name: String,
    hash: String,
    prefix: String,
    team: Option<String>,
    metadata: BTreeMap<String, String>,
    default_model: Option<String>,
    guardrails: Option<Vec<String>>,
    allowed_models: Vec<String>,
    allowed_providers: Vec<String>,
    #[serde(default)]
    routing_config: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<&KeyRecord> for Stored {
    fn from(k: &KeyRecord) -> Stored {
        Stored {
            id: k.id.clone(),
            name: k.name.clone(),
            hash: k.hash.0.iter().map(|b| format!("{b:02x}")).collect(),
            prefix: k.prefix.clone(),
            team: k.team.clone(),
            metadata: k.metadata.clone(),
            default_model: k.default_model.clone(),
            guardrails: k.guardrails.clone(),
            allowed_models: k.allowed_models.clone(),
            allowed_providers: k.allowed_providers.clone(),
            routing_config: k.routing_config.clone(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            rotated_at: k.rotated_at,
            revoked_at: k.revoked_at,
        }
    }
}

impl Stored {
    fn into_record(self) -> Option<KeyRecord> {
        let mut hash = [0u8; 32];
        if self.hash.len() != 64 {
            return None;
        }
        for (i, byte) in hash.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&self.hash[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(KeyRecord {
            id: self.id,
            name: self.name,
            hash: KeyHash(hash),
            prefix: self.prefix,
            team: self.team,
            metadata: self.metadata,
            default_model: self.default_model,
            guardrails: self.guardrails,
            allowed_models: self.allowed_models,
            allowed_providers: self.allowed_providers,
            routing_config: self.routing_config,
            created_at: self.created_at,
            expires_at: self.expires_at,
            rotated_at: self.rotated_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// Managed keys in a Redis server.
pub struct RedisKeyStore {
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    describe: String,
}

impl RedisKeyStore {
    /// Connects to the server at `url`.
    pub fn open(url: &Secret) -> Result<RedisKeyStore, KeyError> {
        let client = redis::Client::open(url.expose()).map_err(|e| KeyError::Storage {
            where_: "[state] redis".into(),
            message: format!("not a valid Redis URL ({:?})", e.kind()),
        })?;
        let describe = format!("Redis at {}", client.get_connection_info().addr());
        let store = RedisKeyStore {
            client,
            connection: Mutex::new(None),
            describe,
        };
        store.generation()?;
        Ok(store)
    }

    fn storage(&self, error: impl std::fmt::Display) -> KeyError {
        KeyError::Storage {
            where_: self.describe.clone(),
            message: error.to_string(),
        }
    }

    /// Runs `f` on the connection, opening it first if needed; a failed
    /// connection is dropped, so the next call reconnects.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_none() {
            let connection = self
                .client
                .get_connection_with_timeout(TIMEOUT)
                .map_err(|e| self.storage(e))?;
            connection
                .set_read_timeout(Some(TIMEOUT))
                .and_then(|()| connection.set_write_timeout(Some(TIMEOUT)))
                .map_err(|e| self.storage(e))?;
            *slot = Some(connection);
        }
        let result = f(slot.as_mut().expect("just opened"));
        if matches!(result, Err(KeyError::Storage { .. })) {
            *slot = None;
        }
        result
    }

    fn parse(&self, json: &str) -> Result<KeyRecord, KeyError> {
        serde_json::from_str::<Stored>(json)
            .ok()
            .and_then(Stored::into_record)
            .ok_or_else(|| self.storage("a key record in Redis is not readable"))
    }

    /// Writes `key` unless `RECORDS` changed since it was watched; `Ok(false)`
    /// when another writer got in first (the caller reads again and retries).
    fn write_watched(&self, c: &mut redis::Connection, key: &KeyRecord) -> Result<bool, KeyError> {
        let json = serde_json::to_string(&Stored::from(key)).expect("a record serializes");
        let done: Option<()> = redis::pipe()
            .atomic()
            .hset(RECORDS, &key.id, json)
            .ignore()
            .incr(GENERATION, 1)
            .ignore()
            .query(c)
            .map_err(|e| self.storage(e))?;
        Ok(done.is_some())
    }

    /// Watches the records, reads key `id`, and returns it (unwatching when
    /// the caller gives up).
    fn watch_and_get(
        &self,
        c: &mut redis::Connection,
        id: &str,
    ) -> Result<Option<KeyRecord>, KeyError> {
        redis::cmd("WATCH")
            .arg(RECORDS)
            .exec(c)
            .map_err(|e| self.storage(e))?;
        self.read(c, id)
    }

    /// Key `id`, on `c`.
    fn read(&self, c: &mut redis::Connection, id: &str) -> Result<Option<KeyRecord>, KeyError> {
        let json: Option<String> = redis::cmd("HGET")
            .arg(RECORDS)
            .arg(id)
            .query(c)
            .map_err(|e| self.storage(e))?;
        json.map(|j| self.parse(&j)).transpose()
    }

    fn unwatch(&self, c: &mut redis::Connection) -> Result<(), KeyError> {
        redis::cmd("UNWATCH").exec(c).map_err(|e| self.storage(e))
    }
}

impl KeyStore for RedisKeyStore {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn generation(&self) -> Result<u64, KeyError> {
        self.with(|c| {
            let generation: Option<u64> = redis::cmd("GET")
                .arg(GENERATION)
                .query(c)
                .map_err(|e| self.storage(e))?;
            Ok(generation.unwrap_or(0))
        })
    }

    fn list(&self) -> Result<Vec<KeyRecord>, KeyError> {
        self.with(|c| {
            let all: BTreeMap<String, String> = redis::cmd("HGETALL")
                .arg(RECORDS)
                .query(c)
                .map_err(|e| self.storage(e))?;
            all.values().map(|json| self.parse(json)).collect()
        })
    }

    fn get(&self, id: &str) -> Result<Option<KeyRecord>, KeyError> {
        self.with(|c| self.read(c, id))
    }

    fn insert(&self, key: &KeyRecord) -> Result<(), KeyError> {
        self.with(|c| {
            for _ in 0..WRITE_ATTEMPTS {
                if self.watch_and_get(c, &key.id)?.is_some() {
                    self.unwatch(c)?;
                    return Err(KeyError::Exists(key.id.clone()));
                }
                if self.write_watched(c, key)? {
                    return Ok(());
                }
            }
            Err(self.storage("too many concurrent writers; try again"))
        })
    }

    fn modify(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut KeyRecord) -> Result<(), KeyError>,
    ) -> Result<KeyRecord, KeyError> {
        self.with(|c| {
            for _ in 0..WRITE_ATTEMPTS {
                let Some(mut key) = self.watch_and_get(c, id)? else {
                    self.unwatch(c)?;
                    return Err(KeyError::NotFound(id.to_string()));
                };
                if let Err(refused) = change(&mut key) {
                    self.unwatch(c)?;
                    return Err(refused);
                }
                if self.write_watched(c, &key)? {
                    return Ok(key);
                }
            }
            Err(self.storage("too many concurrent writers; try again"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyChanges;

    /// Database 15 of the test server (`SLUICE_TEST_REDIS_URL`, from
    /// `.ci/services`), emptied; `None` (not run) without a server or with
    /// `SLUICE_TEST_OFFLINE=1`, unless
    /// `SLUICE_REQUIRE_SERVICES` is set.
    fn store() -> Option<RedisKeyStore> {
        let base = crate::test_services::service_url("SLUICE_TEST_REDIS_URL", "Redis")?;
        let url = Secret::new(format!("{}/15", base.trim_end_matches('/')));
        let store = RedisKeyStore::open(&url).unwrap();
        store
            .with(|c| redis::cmd("FLUSHDB").exec(c).map_err(|e| store.storage(e)))
            .unwrap();
        Some(store)
    }

    #[test]
    fn keys_round_trip_and_concurrent_changes_are_never_lost() {
        let Some(store) = store() else {
            return;
        };
        let store = std::sync::Arc::new(store);
        let changes = KeyChanges {
            team: Some(Some("infra".into())),
            ..KeyChanges::default()
        };
        let (key, secret) = store.create(Some("bot"), &changes, None, 1_000).unwrap();
        assert_eq!(store.get("bot").unwrap().unwrap(), key);
        assert_eq!(key.hash, KeyHash::of(secret.expose()));
        assert!(matches!(
            store.create(Some("bot"), &changes, None, 1_000),
            Err(KeyError::Exists(_))
        ));
        let before = store.generation().unwrap();
        // Two writers, 20 read-change-writes each, on one key: WATCH makes the
        // loser retry, so all 40 increments land.
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        store
                            .modify("bot", &mut |key| {
                                let n: u32 =
                                    key.metadata.get("n").map_or(0, |n| n.parse().unwrap());
                                key.metadata.insert("n".into(), (n + 1).to_string());
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(store.get("bot").unwrap().unwrap().metadata["n"], "40");
        assert_eq!(store.generation().unwrap(), before + 40);
        store.revoke("bot", 2_000).unwrap();
        assert_eq!(store.list().unwrap()[0].revoked_at, Some(2_000));
        assert!(matches!(store.get("nobody"), Ok(None)));
        assert!(matches!(
            store.modify("nobody", &mut |_| Ok(())),
            Err(KeyError::NotFound(_))
        ));
    }
}
