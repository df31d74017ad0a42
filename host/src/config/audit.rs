//! `[audit]`: where the audit trail is kept and how matches are hashed.

use crate::audit::Location;
use crate::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[audit]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Record guardrail decisions (default `true`).
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// The SQLite file. Default: `audit.db` next to the config file; without a
    /// config, `$XDG_DATA_HOME/sluice/audit.db` (else `~/.local/share/sluice`).
    pub path: Option<PathBuf>,
    /// A PostgreSQL connection URL (`postgres://user:password@host/db`; use
    /// `${ENV}` for the password). When set, the trail is kept there instead of
    /// the SQLite file, and several gateway processes can share it.
    pub url: Option<Secret>,
    /// The key that excerpt hashes are made with (any string; use `${ENV}`).
    /// Default: a random key kept in a file beside the database (`<path>.key`,
    /// mode 0600). Keep it out of the database: whoever has both can test
    /// guesses of a short secret against its hash.
    pub hash_key: Option<Secret>,
    /// Delete records older than this many days (default: keep everything).
    pub retention_days: Option<u32>,
}

fn enabled_default() -> bool {
    true
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            path: None,
            url: None,
            hash_key: None,
            retention_days: None,
        }
    }
}

impl AuditConfig {
    /// Where the trail is kept: `url` when set, else the SQLite file.
    pub fn location(&self) -> Location {
        match &self.url {
            Some(url) => Location::Postgres(url.clone()),
            None => Location::Sqlite(self.database()),
        }
    }

    /// The SQLite file.
    pub fn database(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| super::data_dir().join("audit.db"))
    }
}
