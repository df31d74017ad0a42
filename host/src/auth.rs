//! Gateway keys: who is calling.
//!
//! Clients send a gateway key as `Authorization: Bearer KEY` or `x-api-key: KEY`.
//! A key is either in the config (`[[keys]]`) or managed in the key store
//! ([`crate::keys`]). Both are held only as BLAKE3 hashes, so a lookup compares
//! hashes, never the secret itself, and a memory dump of the gateway does not
//! hold client keys.
//!
//! With no key at all, in the config or in the store, every request from a
//! program on this machine is let in (the gateway then listens on a loopback
//! address only, and [`keyless`] refuses web pages). The first key seen ends
//! that for good, for the life of the process.

pub mod keyless;

use crate::api::error::{ApiError, ErrorKind};
use crate::audit::now_ms;
use crate::audit::report::format_time;
use crate::config::KeyConfig;
use crate::keys::{KeyHash, KeyRecord, LiveKeys, Scope, Status};
use crate::providers::{Providers, Route};
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The caller of one request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The key's id (`None` when the gateway runs without keys).
    pub key_id: Option<String>,
    /// The key's default model.
    pub default_model: Option<String>,
    /// The guardrails that run for this key (all when `None`).
    pub guardrails: Option<Vec<String>>,
    /// The key's metadata tags.
    pub metadata: crate::metadata::Tags,
    /// The models and providers the key may use (all when `None`).
    pub scope: Option<Arc<Scope>>,
    /// The key's routing config (`[routing.NAME]`), if it has one.
    pub config: Option<String>,
}

impl Caller {
    /// Whether the caller's key may use `route`, which the request named
    /// `requested`; a 403 naming the model and what the key may use otherwise.
    pub fn check_scope(
        &self,
        route: &Route<'_>,
        requested: Option<&str>,
        providers: &Providers,
    ) -> Result<(), ApiError> {
        let Some(scope) = &self.scope else {
            return Ok(());
        };
        let key_id = self.key_id.as_deref().unwrap_or("-");
        scope
            .check(key_id, route, requested, |name| {
                providers.alias_target(name)
            })
            .map_err(|message| ApiError::new(ErrorKind::Permission, message))
    }
}

/// Every gateway key: the config's and, when there is a store, the managed ones.
pub struct Keys {
    config: HashMap<KeyHash, Caller>,
    managed: Option<LiveKeys>,
    /// The guardrails this gateway runs, to refuse a managed key naming another.
    guardrail_ids: Vec<String>,
    /// Set once any key exists; from then on every request needs one.
    closed: AtomicBool,
}

impl Keys {
    /// The config's keys, the managed ones (`None`: no key store), and the ids
    /// of the guardrails this gateway runs.
    pub fn new(keys: &[KeyConfig], managed: Option<LiveKeys>, guardrail_ids: Vec<String>) -> Self {
        let config = keys
            .iter()
            .map(|k| {
                let caller = Caller {
                    key_id: Some(k.id.clone()),
                    default_model: k.default_model.clone(),
                    guardrails: k.guardrails.clone(),
                    metadata: Arc::new(k.metadata.clone().into_iter().collect()),
                    scope: Scope::new(&k.allowed_models, &k.allowed_providers).map(Arc::new),
                    config: k.config.clone(),
                };
                (KeyHash::of(k.key.expose()), caller)
            })
            .collect();
        let keys = Keys {
            config,
            managed,
            guardrail_ids,
            closed: AtomicBool::new(false),
        };
        keys.closed.store(!keys.is_open(), Ordering::Relaxed);
        keys
    }

    /// The managed keys, when there is a key store.
    pub fn managed(&self) -> Option<&LiveKeys> {
        self.managed.as_ref()
    }

    /// True when no key exists at all (as of the last look at the store).
    pub fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
            && self.config.is_empty()
            && self.managed.as_ref().is_none_or(|m| m.records().is_empty())
    }

    /// True when no key exists at all, looking at the store as
    /// [`Keys::authenticate`] does; once false, false for good.
    pub async fn open_now(&self) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let store_empty = match &self.managed {
            Some(managed) => managed.is_empty().await,
            None => true,
        };
        if self.config.is_empty() && store_empty {
            return true;
        }
        self.closed.store(true, Ordering::Relaxed);
        false
    }

    /// The ids of the config's keys.
    pub fn config_ids(&self) -> impl Iterator<Item = &str> {
        self.config.values().filter_map(|c| c.key_id.as_deref())
    }

    /// Finds the caller of a request from its headers. A managed key is looked
    /// up in a snapshot of the store (see [`LiveKeys`] for how fresh it is).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let hash = presented_key(headers).map(KeyHash::of);
        if let Some(caller) = hash.as_ref().and_then(|h| self.config.get(h)) {
            return Ok(caller.clone());
        }
        if self.open_now().await {
            return Ok(Caller::default());
        }
        let Some(hash) = hash else {
            return Err(ApiError::new(
                ErrorKind::Authentication,
                "missing gateway key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`",
            ));
        };
        let found = match &self.managed {
            Some(managed) => managed.find(&hash).await,
            None => None,
        };
        match found {
            Some(key) => self.managed_caller(&key),
            None => Err(ApiError::new(
                ErrorKind::Authentication,
                "invalid gateway key",
            )),
        }
    }

    /// The caller of a managed key, unless it was revoked, has expired, or
    /// cannot be served as it stands.
    fn managed_caller(&self, key: &KeyRecord) -> Result<Caller, ApiError> {
        let refused = |message: String| Err(ApiError::new(ErrorKind::Authentication, message));
        match key.status(now_ms()) {
            Status::Revoked(at) => {
                return refused(format!(
                    "this gateway key (`{}`) was revoked on {}; ask for a new one",
                    key.id,
                    format_time(at)
                ));
            }
            Status::Expired(at) => {
                return refused(format!(
                    "this gateway key (`{}`) expired on {}; ask for a new one or a later expiry",
                    key.id,
                    format_time(at)
                ));
            }
            Status::Active => {}
        }
        // Fail closed on what a key made without the config (`--db`) got wrong.
        let unusable = |why: String| {
            tracing::error!(key = %key.id, "{why}");
            Err(ApiError::new(
                ErrorKind::Internal,
                format!(
                    "{why}; an operator must fix it with `sluice keys update {}`",
                    key.id
                ),
            ))
        };
        if self.config_ids().any(|id| id == key.id) {
            return unusable(format!(
                "gateway key id `{}` is both in the config and in the key store",
                key.id
            ));
        }
        if let Some(id) = key
            .guardrails
            .iter()
            .flatten()
            .find(|id| !self.guardrail_ids.contains(id))
        {
            return unusable(format!(
                "gateway key `{}` names guardrail `{id}`, which this gateway does not run",
                key.id
            ));
        }
        Ok(Caller {
            key_id: Some(key.id.clone()),
            default_model: key.default_model.clone(),
            guardrails: key.guardrails.clone(),
            metadata: Arc::new(key.tags()),
            scope: Scope::new(&key.allowed_models, &key.allowed_providers).map(Arc::new),
            config: key.routing_config.clone(),
        })
    }
}

/// The key a request presents: `Authorization: Bearer KEY` or `x-api-key: KEY`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The admin key, held as a hash like gateway keys. Gateway keys never open the
/// admin API (the config refuses an admin key that is also a gateway key).
#[derive(Debug, Default)]
pub struct AdminKey {
    hash: Option<[u8; 32]>,
    /// Signs console sessions ([`crate::console::session`]): derived from the
    /// key, so every gateway process with the same key accepts a session, and
    /// a new key ends every session.
    session_key: Option<[u8; 32]>,
}

impl AdminKey {
    /// The configured admin key; without one the admin API is off.
    pub fn new(key: Option<&crate::secret::Secret>) -> Self {
        AdminKey {
            hash: key.map(|k| *blake3::hash(k.expose().as_bytes()).as_bytes()),
            session_key: key
                .map(|k| blake3::derive_key("sluice console session v1", k.expose().as_bytes())),
        }
    }

    /// Whether an admin key is configured (else the admin API and the console are off).
    pub fn is_set(&self) -> bool {
        self.hash.is_some()
    }

    /// Whether `presented` is the admin key (false when none is set).
    pub fn matches(&self, presented: &str) -> bool {
        // blake3::Hash compares in constant time.
        self.hash
            .is_some_and(|h| blake3::hash(presented.as_bytes()) == blake3::Hash::from(h))
    }

    /// The key console sessions are signed with, when an admin key is set.
    pub fn session_key(&self) -> Option<&[u8; 32]> {
        self.session_key.as_ref()
    }

    /// Whether the request presents a key at all (`Authorization` or `x-api-key`).
    pub fn presented(headers: &HeaderMap) -> bool {
        presented_key(headers).is_some()
    }

    /// Lets the request in when it presents the admin key.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.hash.is_none() {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                "the admin API is off: set [admin] key in the config (or SLUICE_ADMIN_KEY)",
            ));
        }
        let Some(presented) = presented_key(headers) else {
            return Err(ApiError::new(
                ErrorKind::Authentication,
                "missing admin key: send it as `Authorization: Bearer <admin key>`",
            ));
        };
        if self.matches(presented) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorKind::Authentication,
                "invalid admin key (gateway keys do not open the admin API)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::Api;
    use crate::keys::{KeyChanges, KeyStore, SqliteKeyStore};
    use crate::secret::Secret;

    fn bearer(secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Bearer {secret}").parse().unwrap());
        headers
    }

    /// Keys over an empty store, and the store (as the CLI would reach it).
    fn keys(dir: &tempfile::TempDir, config: &[KeyConfig]) -> (Keys, Arc<dyn KeyStore>) {
        let store: Arc<dyn KeyStore> =
            Arc::new(SqliteKeyStore::open(&dir.path().join("state.db")).unwrap());
        let live = LiveKeys::load(store.clone()).unwrap();
        (Keys::new(config, Some(live), vec!["pii".into()]), store)
    }

    fn create(store: &Arc<dyn KeyStore>, id: &str, changes: KeyChanges) -> Secret {
        store.create(Some(id), &changes, None, now_ms()).unwrap().1
    }

    async fn refused(keys: &Keys, secret: &str) -> ApiError {
        keys.managed().unwrap().mark_stale();
        keys.authenticate(&bearer(secret)).await.unwrap_err()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_managed_key_brings_its_tags_and_scope() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, store) = keys(&dir, &[]);
        let changes = KeyChanges {
            team: Some(Some("infra".into())),
            tags: vec![("app".into(), Some("ci".into()))],
            allowed_models: Some(vec!["@oa/*".into()]),
            ..KeyChanges::default()
        };
        let secret = create(&store, "ci", changes);
        keys.managed().unwrap().mark_stale();
        let caller = keys.authenticate(&bearer(secret.expose())).await.unwrap();
        assert_eq!(caller.key_id.as_deref(), Some("ci"));
        assert_eq!(
            *caller.metadata,
            [
                ("team".to_string(), "infra".to_string()),
                ("app".into(), "ci".into())
            ]
        );
        assert!(caller.scope.is_some());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn revoked_expired_and_unknown_keys_are_told_apart_without_echoing_them() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, store) = keys(&dir, &[]);
        let revoked = create(&store, "gone", KeyChanges::default());
        store.revoke("gone", 1_767_225_600_000).unwrap();
        let expired = create(
            &store,
            "old",
            KeyChanges {
                expires_at: Some(Some(1_767_225_600_000)),
                ..KeyChanges::default()
            },
        );
        for (secret, says) in [
            (
                revoked.expose(),
                "this gateway key (`gone`) was revoked on 2026-01-01T00:00:00.000Z",
            ),
            (
                expired.expose(),
                "this gateway key (`old`) expired on 2026-01-01T00:00:00.000Z",
            ),
            (
                "sk-sluice-not-a-key-at-all-0000000000000",
                "invalid gateway key",
            ),
        ] {
            for api in [Api::OpenAi, Api::Anthropic] {
                let error = refused(&keys, secret).await;
                assert_eq!(error.kind, ErrorKind::Authentication);
                assert!(error.message.starts_with(says), "{}", error.message);
                assert!(!error.body(api).to_string().contains(secret));
            }
        }
        let missing = keys.authenticate(&HeaderMap::new()).await.unwrap_err();
        assert!(
            missing.message.starts_with("missing gateway key"),
            "{}",
            missing.message
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_first_key_closes_an_open_gateway_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, store) = keys(&dir, &[]);
        assert!(keys.is_open());
        assert!(keys.authenticate(&HeaderMap::new()).await.is_ok());
        create(&store, "first", KeyChanges::default());
        keys.managed().unwrap().mark_stale();
        assert!(keys.authenticate(&HeaderMap::new()).await.is_err());
        assert!(!keys.is_open());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_key_the_gateway_cannot_serve_as_it_stands_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let config = KeyConfig {
            config: None,
            id: "cfg".into(),
            key: Secret::new("config-key-0123456789"),
            default_model: None,
            guardrails: None,
            metadata: Default::default(),
            allowed_models: Vec::new(),
            allowed_providers: Vec::new(),
        };
        let (keys, store) = keys(&dir, &[config]);
        let no_pii = create(
            &store,
            "typo",
            KeyChanges {
                guardrails: Some(Some(vec!["pi".into()])),
                ..KeyChanges::default()
            },
        );
        let twin = create(&store, "cfg", KeyChanges::default());
        for (secret, says) in [
            (no_pii, "names guardrail `pi`"),
            (twin, "both in the config and in the key store"),
        ] {
            let error = refused(&keys, secret.expose()).await;
            assert_eq!(error.kind, ErrorKind::Internal);
            assert!(error.message.contains(says), "{}", error.message);
        }
        let caller = keys
            .authenticate(&bearer("config-key-0123456789"))
            .await
            .unwrap();
        assert_eq!(caller.key_id.as_deref(), Some("cfg"));
    }
}
