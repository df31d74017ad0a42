//! Administrators' actions in the audit trail: who did what to which key, and
//! when, whether through the console or the admin API.
//!
//! An action is a [`Record`] with the outcome `admin`, the phase and the
//! guardrail `admin`, the action as its `rule` (`keys.create`,
//! `console.sign-in`, ...), the key it was about as its `key_id`, and who did it
//! in the metadata tags `actor` and `via`. The changes `sluice keys` makes are
//! recorded too, by the command itself. Like every record, it never holds a
//! secret: not the admin key, not a new gateway key's secret.

use super::record::{Outcome, Record};

/// Who acted: the holder of the admin key, presented as a header or through a
/// console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The admin key, sent with the request (`Authorization: Bearer`).
    AdminKey,
    /// A console session, by its public id (never its token).
    Session(String),
    /// `sluice keys`, run by this operating-system user (`$USER`) when known.
    Cli(Option<String>),
}

impl Actor {
    /// `admin-key`, `session:3f2a9c1d` or `user:alice`.
    pub fn describe(&self) -> String {
        match self {
            Actor::AdminKey => "admin-key".into(),
            Actor::Session(id) => format!("session:{id}"),
            Actor::Cli(Some(user)) => format!("user:{user}"),
            Actor::Cli(None) => "user".into(),
        }
    }

    /// `admin-api`, `console` or `cli`.
    pub fn via(&self) -> &'static str {
        match self {
            Actor::AdminKey => "admin-api",
            Actor::Session(_) => "console",
            Actor::Cli(_) => "cli",
        }
    }
}

/// The record of `action` (`keys.create`) by `actor`, about gateway key
/// `key_id` when there is one, from the client at `client` when known.
pub fn record(
    actor: &Actor,
    action: &str,
    key_id: Option<&str>,
    client: Option<std::net::IpAddr>,
    time_ms: i64,
) -> Record {
    let mut metadata = vec![
        ("actor".to_string(), actor.describe()),
        ("via".to_string(), actor.via().to_string()),
    ];
    if let Some(client) = client {
        metadata.push(("client".to_string(), client.to_string()));
    }
    Record {
        time_ms,
        request_id: format!("adm_{}", &blake3::hash(&random_bytes()).to_hex()[..16]),
        key_id: key_id.map(str::to_string),
        team: None,
        metadata,
        api: "admin".into(),
        model: String::new(),
        phase: "admin".into(),
        guardrail: "admin".into(),
        plugin: "sluice".into(),
        plugin_version: env!("CARGO_PKG_VERSION").into(),
        outcome: Outcome::Admin,
        rule: Some(action.to_string()),
        kind: Some("admin".into()),
        segment: None,
        span: None,
        excerpt: None,
        failure: None,
    }
}

/// Sixteen random bytes (the time when the random source fails: the id only
/// needs to be unique enough to group one action's record).
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = crate::clock::now_ms()
            .to_le_bytes()
            .repeat(2)
            .try_into()
            .unwrap_or([0; 16]);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_names_who_what_and_which_key() {
        let r = record(
            &Actor::Session("3f2a9c1d".into()),
            "keys.revoke",
            Some("ci"),
            Some([127, 0, 0, 1].into()),
            42,
        );
        assert_eq!(r.outcome.as_str(), "admin");
        assert_eq!(r.rule.as_deref(), Some("keys.revoke"));
        assert_eq!(r.key_id.as_deref(), Some("ci"));
        assert!(
            r.metadata
                .contains(&("actor".into(), "session:3f2a9c1d".into()))
        );
        assert!(r.metadata.contains(&("via".into(), "console".into())));
        assert!(r.request_id.starts_with("adm_"));
    }
}
