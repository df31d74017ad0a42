//! `[state]`: where governance state lives — managed gateway keys, budget and
//! rate-limit counters, usage totals, and the Responses that sluice keeps for
//! `previous_response_id`.
//!
//! By default that is a SQLite file beside the config, which one gateway process
//! owns. With `redis`, several gateway processes share one Redis server and so
//! enforce one limit and one budget.

use crate::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[state]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The SQLite file. Default: `state.db` next to the config file; without a
    /// config, `$XDG_DATA_HOME/sluice/state.db` (else `~/.local/share/sluice`).
    pub path: Option<PathBuf>,
    /// A Redis URL (`redis://[:password@]host:port[/db]`, `rediss://` for TLS;
    /// use `${ENV}` for the password). When set, state is kept there instead of
    /// the SQLite file, shared by every gateway process that points at it.
    pub redis: Option<Secret>,
    /// How long a Responses answer that sluice keeps (for a later
    /// `previous_response_id` on a target that does not store it) is kept,
    /// in hours. Default 720 (30 days, as OpenAI keeps them).
    pub responses_ttl_hours: Option<u64>,
}

/// How long kept Responses answers live when the config does not say.
const DEFAULT_RESPONSES_TTL_HOURS: u64 = 720;

impl StateConfig {
    /// How long a kept Responses answer lives, in hours.
    pub fn responses_ttl_hours(&self) -> u64 {
        self.responses_ttl_hours
            .unwrap_or(DEFAULT_RESPONSES_TTL_HOURS)
    }

    /// The SQLite file.
    pub fn database(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| super::data_dir().join("state.db"))
    }

    /// Checks the section; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(url) = &self.redis {
            let text = url.expose();
            if !(text.starts_with("redis://")
                || text.starts_with("rediss://")
                || text.starts_with("redis+unix://")
                || text.starts_with("unix://"))
            {
                return Err((
                    "state.redis".into(),
                    "must be a Redis URL such as redis://:${REDIS_PASSWORD}@redis.internal:6379/0"
                        .into(),
                ));
            }
            if self.path.is_some() {
                return Err((
                    "state.redis".into(),
                    "set either `path` (a SQLite file) or `redis`, not both".into(),
                ));
            }
        }
        Ok(())
    }
}
