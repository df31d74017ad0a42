//! One managed gateway key as it is stored: everything about it but its secret.

use crate::audit::report::format_time;
use std::collections::BTreeMap;
use std::fmt;

/// The BLAKE3 hash of a key's secret: what the store keeps instead of it.
/// `Debug` does not print it, so no log line or listing carries it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// The hash of a presented or generated secret.
    pub fn of(secret: &str) -> KeyHash {
        KeyHash(*blake3::hash(secret.as_bytes()).as_bytes())
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// A managed gateway key. Times are milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Its id: lowercase letters, digits, `-` and `_`. Recorded in the audit
    /// trail and given to guardrails; never changes, not even on rotation.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// The hash of the current secret.
    pub hash: KeyHash,
    /// The first characters of the secret (`sk-sluice-ab12`), to recognise it.
    pub prefix: String,
    /// The team; it becomes the `team` metadata tag of every call.
    pub team: Option<String>,
    /// Further metadata tags of every call (never `team`).
    pub metadata: BTreeMap<String, String>,
    /// The model used when a request names none.
    pub default_model: Option<String>,
    /// The guardrails (by id) that run for this key; all when `None`.
    pub guardrails: Option<Vec<String>>,
    /// Model patterns this key may use (`@openai/*`, `claude-sonnet-*`, an
    /// alias); any model when empty.
    pub allowed_models: Vec<String>,
    /// Provider slugs this key may use; any provider when empty.
    pub allowed_providers: Vec<String>,
    /// The routing config (`[routing.NAME]`) its requests use unless they
    /// send `x-sluice-config`.
    pub routing_config: Option<String>,
    /// When the key was created.
    pub created_at: i64,
    /// When the key stops working, if ever.
    pub expires_at: Option<i64>,
    /// When the secret was last replaced.
    pub rotated_at: Option<i64>,
    /// When the key was revoked (for good).
    pub revoked_at: Option<i64>,
}

/// Whether a key works at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It works.
    Active,
    /// It expired at this time (the expiry can still be moved).
    Expired(i64),
    /// It was revoked at this time, for good.
    Revoked(i64),
}

impl Status {
    /// `active`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expired(_) => "expired",
            Status::Revoked(_) => "revoked",
        }
    }
}

impl KeyRecord {
    /// A record with `id`, `hash` and `prefix`, created at `now`, with nothing
    /// else set: the start of every new key.
    pub fn blank(id: String, hash: KeyHash, prefix: String, now: i64) -> KeyRecord {
        KeyRecord {
            name: id.clone(),
            id,
            hash,
            prefix,
            team: None,
            metadata: BTreeMap::new(),
            default_model: None,
            guardrails: None,
            allowed_models: Vec::new(),
            allowed_providers: Vec::new(),
            routing_config: None,
            created_at: now,
            expires_at: None,
            rotated_at: None,
            revoked_at: None,
        }
    }

    /// Whether the key works at `now`; revocation wins over expiry.
    pub fn status(&self, now: i64) -> Status {
        match (self.revoked_at, self.expires_at) {
            (Some(at), _) => Status::Revoked(at),
            (None, Some(at)) if at <= now => Status::Expired(at),
            _ => Status::Active,
        }
    }

    /// The metadata tags of a call made with this key: `team` first, then the
    /// others in name order.
    pub fn tags(&self) -> Vec<(String, String)> {
        let team = self.team.iter().map(|t| ("team".to_string(), t.clone()));
        team.chain(self.metadata.clone()).collect()
    }

    /// The JSON shown by `sluice keys` and the admin API: never the hash.
    pub fn to_json(&self, now: i64) -> serde_json::Value {
        let time = |t: Option<i64>| t.map(format_time);
        serde_json::json!({
            "object": "gateway_key",
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "status": self.status(now).as_str(),
            "team": self.team,
            "metadata": self.metadata,
            "default_model": self.default_model,
            "guardrails": self.guardrails,
            "allowed_models": self.allowed_models,
            "allowed_providers": self.allowed_providers,
            "routing_config": self.routing_config,
            "created_at": format_time(self.created_at),
            "expires_at": time(self.expires_at),
            "rotated_at": time(self.rotated_at),
            "revoked_at": time(self.revoked_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> KeyRecord {
        KeyRecord::blank("ci".into(), KeyHash::of("sk-x"), "sk-sluice-ab12".into(), 0)
    }

    #[test]
    fn revocation_wins_over_expiry() {
        let mut key = record();
        assert_eq!(key.status(10), Status::Active);
        key.expires_at = Some(10);
        assert_eq!(key.status(9), Status::Active);
        assert_eq!(key.status(10), Status::Expired(10));
        key.revoked_at = Some(5);
        assert_eq!(key.status(10), Status::Revoked(5));
    }

    #[test]
    fn the_team_is_the_first_tag() {
        let mut key = record();
        key.metadata.insert("app".into(), "cli".into());
        key.team = Some("infra".into());
        assert_eq!(
            key.tags(),
            [
                ("team".to_string(), "infra".to_string()),
                ("app".into(), "cli".into())
            ]
        );
    }

    #[test]
    fn neither_json_nor_debug_shows_the_hash() {
        let key = record();
        let hex = blake3::Hash::from(key.hash.0).to_hex().to_string();
        let json = key.to_json(0).to_string();
        let debug = format!("{key:?}");
        for shown in [json, debug] {
            assert!(!shown.contains(&hex[..16]), "{shown}");
            assert!(!shown.contains(&format!("{:?}", key.hash.0)), "{shown}");
        }
    }
}
