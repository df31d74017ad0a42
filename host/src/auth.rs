//! Gateway keys: who is calling.
//!
//! Clients send a gateway key as `Authorization: Bearer KEY` or `x-api-key: KEY`.
//! Keys are held only as BLAKE3 hashes, so a lookup compares hashes, never the
//! secret itself, and a memory dump of the gateway does not hold client keys.

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::config::KeyConfig;
use axum::http::HeaderMap;
use std::collections::HashMap;

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
    pub metadata: Vec<(String, String)>,
}

/// The configured keys.
#[derive(Debug, Default)]
pub struct Keys {
    by_hash: HashMap<[u8; 32], Caller>,
}

impl Keys {
    /// The keys of the config. With none, every request is let in (the config
    /// only allows that on a loopback address).
    pub fn new(keys: &[KeyConfig]) -> Self {
        let by_hash = keys
            .iter()
            .map(|k| {
                let caller = Caller {
                    key_id: Some(k.id.clone()),
                    default_model: k.default_model.clone(),
                    guardrails: k.guardrails.clone(),
                    metadata: k.metadata.clone().into_iter().collect(),
                };
                (*blake3::hash(k.key.expose().as_bytes()).as_bytes(), caller)
            })
            .collect();
        Keys { by_hash }
    }

    /// True when no keys are configured.
    pub fn is_open(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Finds the caller of a request from its headers.
    pub fn authenticate(&self, headers: &HeaderMap, api: Api) -> Result<Caller, ApiError> {
        if self.is_open() {
            return Ok(Caller::default());
        }
        let Some(presented) = presented_key(headers) else {
            return Err(ApiError::new(
                api,
                ErrorKind::Authentication,
                "missing gateway key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`",
            ));
        };
        self.by_hash
            .get(blake3::hash(presented.as_bytes()).as_bytes())
            .cloned()
            .ok_or_else(|| ApiError::new(api, ErrorKind::Authentication, "invalid gateway key"))
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
}

impl AdminKey {
    /// The configured admin key; without one the admin API is off.
    pub fn new(key: Option<&crate::secret::Secret>) -> Self {
        AdminKey {
            hash: key.map(|k| *blake3::hash(k.expose().as_bytes()).as_bytes()),
        }
    }

    /// Lets the request in when it presents the admin key.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let api = Api::OpenAi;
        let Some(expected) = &self.hash else {
            return Err(ApiError::new(
                api,
                ErrorKind::NotFound,
                "the admin API is off: set [admin] key in the config",
            ));
        };
        let Some(presented) = presented_key(headers) else {
            return Err(ApiError::new(
                api,
                ErrorKind::Authentication,
                "missing admin key: send it as `Authorization: Bearer <admin key>`",
            ));
        };
        // blake3::Hash compares in constant time.
        if blake3::hash(presented.as_bytes()) == blake3::Hash::from(*expected) {
            Ok(())
        } else {
            Err(ApiError::new(
                api,
                ErrorKind::Authentication,
                "invalid admin key (gateway keys do not open the admin API)",
            ))
        }
    }
}
