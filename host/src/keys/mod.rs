//! Managed gateway keys: created, listed, rotated, revoked and expired with
//! `sluice keys ...` or the admin API, while the gateway runs.
//!
//! A key is a [`KeyRecord`]: an id, a name, a team and metadata tags, a
//! default model and guardrail subset, the models and providers it may use
//! ([`Scope`]), and its times (created, expires, rotated, revoked). Its secret
//! (`sk-sluice-` and 40 random characters) is shown once, when it is made, and
//! kept only as a BLAKE3 hash and a short display prefix.
//!
//! Keys live in a [`KeyStore`]: [`SqliteKeyStore`] on the `[state]` SQLite file
//! by default. The trait's six required methods are storage; the operations —
//! [`KeyStore::create`], [`KeyStore::rotate`], [`KeyStore::revoke`],
//! [`KeyStore::update`] — are built on them, so every store follows the same
//! rules. [`open`] picks the store the config names.
//!
//! The gateway reads the store through [`LiveKeys`], a snapshot that notices
//! another process's changes by the store's [`KeyStore::generation`]: a new key
//! works within 100 ms, a revoked one stops within a second.
//!
//! ```no_run
//! use sluice::keys::{KeyChanges, KeyStore, SqliteKeyStore};
//! let store = SqliteKeyStore::open("state.db".as_ref())?;
//! let changes = KeyChanges { team: Some(Some("infra".into())), ..KeyChanges::default() };
//! let (key, secret) = store.create(Some("ci-bot"), &changes, None, sluice::audit::now_ms())?;
//! println!("{} {}", key.prefix, secret.expose()); // the only time the secret is seen
//! # Ok::<(), sluice::keys::KeyError>(())
//! ```

mod changes;
pub mod command;
mod generate;
mod live;
mod record;
mod redis;
pub(crate) mod scope;
mod sqlite;
mod store;

pub mod report;

pub use changes::{Invalid, KeyChanges, check_against_config, parse_expiry};
pub use generate::SECRET_PREFIX;
pub use live::{LiveKeys, RECHECK, RECHECK_UNKNOWN};
pub use record::{KeyHash, KeyRecord, Status};
pub use redis::RedisKeyStore;
pub use scope::Scope;
pub use sqlite::SqliteKeyStore;
pub use store::{KeyError, KeyStore};

use crate::config::StateConfig;
use std::sync::Arc;

/// The key store `[state]` names: Redis, or its SQLite file (created when
/// missing).
pub fn open(state: &StateConfig) -> anyhow::Result<Arc<dyn KeyStore>> {
    Ok(match &state.redis {
        Some(url) => Arc::new(RedisKeyStore::open(url)?),
        None => Arc::new(SqliteKeyStore::open(&state.database())?),
    })
}
