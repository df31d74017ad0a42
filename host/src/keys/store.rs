//! Where managed keys are kept: one trait with six required methods, and the
//! key operations (create, rotate, revoke, update) built on them, so every
//! store gets the same rules.

use super::changes::{Invalid, KeyChanges, check_against_config, check_id};
use super::generate::{NoRandomness, new_id, new_secret};
use super::record::KeyRecord;
use crate::audit::report::format_time;
use crate::config::Config;
use crate::secret::Secret;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key has this id.
    #[error("no gateway key with id `{0}`")]
    NotFound(String),
    /// The id is taken.
    #[error("`id`: a gateway key with id `{0}` exists already")]
    Exists(String),
    /// The key was revoked; it cannot be changed any more.
    #[error("gateway key `{id}` was revoked on {}; a revoked key cannot be changed", format_time(*at))]
    Revoked {
        /// The key.
        id: String,
        /// When.
        at: i64,
    },
    /// A field has a value that cannot be used.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No secret could be made.
    #[error(transparent)]
    Random(#[from] NoRandomness),
    /// The store could not be read or written.
    #[error("the key store ({where_}): {message}")]
    Storage {
        /// The store, in words.
        where_: String,
        /// What went wrong.
        message: String,
    },
}

/// A place that keeps managed keys, shared by every gateway process and CLI
/// run that points at it.
///
/// Implementations provide storage only; [`KeyStore::create`],
/// [`KeyStore::rotate`], [`KeyStore::revoke`] and [`KeyStore::update`] are
/// built on it.
pub trait KeyStore: Send + Sync {
    /// Where the keys are, in words (never a password), for messages.
    fn describe(&self) -> String;

    /// A number that changes whenever any process adds, changes, rotates or
    /// revokes a key. The gateway asks about once a second, so it must be cheap.
    fn generation(&self) -> Result<u64, KeyError>;

    /// Every key, revoked ones included, in id order.
    fn list(&self) -> Result<Vec<KeyRecord>, KeyError>;

    /// The key with `id`.
    fn get(&self, id: &str) -> Result<Option<KeyRecord>, KeyError>;

    /// Adds a new key; [`KeyError::Exists`] when its id is taken.
    fn insert(&self, key: &KeyRecord) -> Result<(), KeyError>;

    /// Changes one key atomically: reads it, lets `change` edit it and writes
    /// it back, with no other write in between. When `change` fails nothing is
    /// written. Returns the key as written.
    fn modify(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut KeyRecord) -> Result<(), KeyError>,
    ) -> Result<KeyRecord, KeyError>;

    /// Creates a key with a new secret: `id`, or a generated one; `changes` set
    /// everything else. With `config`, what the key names must exist there.
    /// Returns the key and its secret, which is not kept anywhere.
    fn create(
        &self,
        id: Option<&str>,
        changes: &KeyChanges,
        config: Option<&Config>,
        now: i64,
    ) -> Result<(KeyRecord, Secret), KeyError> {
        if let Some(id) = id {
            check_id(id)?;
        }
        // A generated id is retried on the (unlikely) chance that it is taken.
        for _ in 0..3 {
            let new = new_secret()?;
            let key_id = match id {
                Some(id) => id.to_string(),
                None => new_id()?,
            };
            let mut key = KeyRecord::blank(key_id, new.hash, new.prefix, now);
            changes.apply(&mut key)?;
            if let Some(config) = config {
                check_against_config(&key, config)?;
            }
            match self.insert(&key) {
                Err(KeyError::Exists(_)) if id.is_none() => continue,
                Err(error) => return Err(error),
                Ok(()) => return Ok((key, new.secret)),
            }
        }
        Err(KeyError::Exists("(generated)".into()))
    }

    /// Gives key `id` a new secret; the old one stops working.
    fn rotate(&self, id: &str, now: i64) -> Result<(KeyRecord, Secret), KeyError> {
        let new = new_secret()?;
        let key = self.modify(id, &mut |key| {
            refuse_revoked(key)?;
            key.hash = new.hash;
            key.prefix = new.prefix.clone();
            key.rotated_at = Some(now);
            Ok(())
        })?;
        Ok((key, new.secret))
    }

    /// Revokes key `id` for good. Revoking it again changes nothing.
    fn revoke(&self, id: &str, now: i64) -> Result<KeyRecord, KeyError> {
        self.modify(id, &mut |key| {
            key.revoked_at.get_or_insert(now);
            Ok(())
        })
    }

    /// Applies `changes` to key `id` (checked against `config` when given).
    fn update(
        &self,
        id: &str,
        changes: &KeyChanges,
        config: Option<&Config>,
    ) -> Result<KeyRecord, KeyError> {
        self.modify(id, &mut |key| {
            refuse_revoked(key)?;
            changes.apply(key)?;
            if let Some(config) = config {
                check_against_config(key, config)?;
            }
            Ok(())
        })
    }
}

fn refuse_revoked(key: &KeyRecord) -> Result<(), KeyError> {
    match key.revoked_at {
        Some(at) => Err(KeyError::Revoked {
            id: key.id.clone(),
            at,
        }),
        None => Ok(()),
    }
}
