//! One audit record: the facts of one guardrail decision, and never the text it
//! was about.
//!
//! A match is described by its kind, its length and a keyed hash ([`Excerpt`]):
//! enough to see that the same secret was sent twice, by whom and where, without
//! the trail itself becoming a place where secrets are kept.

use serde::{Deserialize, Serialize};

/// What the decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Let through and recorded.
    Flag,
    /// The match was replaced before the text went on.
    Redact,
    /// The request was refused, or the response ended.
    Block,
    /// The plugin failed and the guardrail is configured to let traffic through.
    FailOpen,
    /// The plugin failed and the guardrail is configured to block.
    FailClosed,
    /// An administrator's action: a key created, changed, rotated or revoked,
    /// a console sign-in or sign-out ([`crate::audit::admin`]).
    Admin,
}

impl Outcome {
    /// The name used in records, filters and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Flag => "flag",
            Outcome::Redact => "redact",
            Outcome::Block => "block",
            Outcome::FailOpen => "fail-open",
            Outcome::FailClosed => "fail-closed",
            Outcome::Admin => "admin",
        }
    }

    /// The outcome a stored name stands for.
    pub fn parse(name: &str) -> Result<Outcome, UnknownOutcome> {
        [
            Outcome::Flag,
            Outcome::Redact,
            Outcome::Block,
            Outcome::FailOpen,
            Outcome::FailClosed,
            Outcome::Admin,
        ]
        .into_iter()
        .find(|o| o.as_str() == name)
        .ok_or_else(|| UnknownOutcome(name.chars().take(40).collect()))
    }
}

/// A stored outcome that is none of the known ones: the row was changed by hand.
#[derive(Debug, thiserror::Error)]
#[error("a record holds the unknown outcome `{0}`: the trail was changed by hand")]
pub struct UnknownOutcome(String);

/// One recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The request's id (also in the response header and the request log).
    pub request_id: String,
    /// The gateway key's id, never the key.
    pub key_id: Option<String>,
    /// The key's `team` tag, if any.
    pub team: Option<String>,
    /// Metadata tags of the key and the request.
    pub metadata: Vec<(String, String)>,
    /// `openai` or `anthropic`: the API the client spoke.
    pub api: String,
    /// `@provider/model`.
    pub model: String,
    /// `request` or `response`.
    pub phase: String,
    /// The guardrail's id in the config.
    pub guardrail: String,
    /// The plugin's name and version, as it describes itself.
    pub plugin: String,
    /// The plugin's version.
    pub plugin_version: String,
    /// What happened.
    pub outcome: Outcome,
    /// The rule that matched (none for a plugin failure).
    pub rule: Option<String>,
    /// What was found (none for a plugin failure).
    pub kind: Option<String>,
    /// Where in the body: `messages[2].content`.
    pub segment: Option<String>,
    /// UTF-8 byte offsets of the match in that segment's text.
    pub span: Option<(u32, u32)>,
    /// The match, described without its text.
    pub excerpt: Option<Excerpt>,
    /// How the plugin failed (`timeout`, `panic`, ...), for failures.
    pub failure: Option<String>,
}

/// A match described without its text: kind, length in characters, and a keyed
/// hash that is the same for the same text under the same deployment key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    /// Length of the match in characters.
    pub chars: u32,
    /// The first 16 bytes of the keyed BLAKE3 hash of the match, in hex.
    pub hash: String,
}

impl Excerpt {
    /// Describes `matched` with `key`, the deployment's audit hashing key. The
    /// key keeps the hash from being a dictionary lookup away from the value:
    /// without it, a four-digit PIN or a short password would be found by
    /// hashing every candidate.
    pub fn of(matched: &str, key: &[u8; 32]) -> Excerpt {
        let hash = blake3::keyed_hash(key, matched.as_bytes());
        Excerpt {
            chars: matched.chars().count() as u32,
            hash: hash.to_hex()[..32].to_string(),
        }
    }

    /// `17 chars, #4f2a…` for tables.
    pub fn short(&self) -> String {
        format!("{} chars, #{}", self.chars, &self.hash[..12])
    }
}

/// The hash that links record `record` to the one before it: BLAKE3 of the
/// previous link and the record's canonical JSON. Changing, removing or
/// reordering a record breaks every link after it.
pub fn link(previous: &[u8; 32], record: &Record) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(previous);
    hasher.update(&serde_json::to_vec(record).expect("a record serialises"));
    *hasher.finalize().as_bytes()
}

/// The link before the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// A record as a store keeps it: its sequence number, the record, the link it
/// claims to follow and its own link.
pub type Stored = (i64, Record, [u8; 32], [u8; 32]);

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The record whose link does not hold.
    pub seq: i64,
    /// What does not hold, in words.
    pub what: String,
}

/// Walks `rows` (in sequence order) from the link `start`: the number of
/// records checked, or the first one whose link does not hold.
pub fn check_chain<E>(
    start: [u8; 32],
    rows: impl Iterator<Item = Result<Stored, E>>,
) -> Result<Result<u64, Problem>, E> {
    let mut expected = start;
    let mut checked = 0;
    for row in rows {
        let (seq, record, previous, stored) = row?;
        if previous != expected {
            return Ok(Err(Problem {
                seq,
                what: "its link to the record before does not match: a record before it was removed or changed".into(),
            }));
        }
        let computed = link(&previous, &record);
        if computed != stored {
            return Ok(Err(Problem {
                seq,
                what: "its content does not match its hash: it was changed after it was written"
                    .into(),
            }));
        }
        expected = computed;
        checked += 1;
    }
    Ok(Ok(checked))
}

/// A link read from a store (a wrong length reads as all zeroes, which never
/// matches a real link).
pub fn to_link(bytes: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(bytes).unwrap_or([0; 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rule: &str) -> Record {
        Record {
            time_ms: 1_700_000_000_000,
            request_id: "req-1".into(),
            key_id: Some("team-a".into()),
            team: Some("a".into()),
            metadata: vec![("team".into(), "a".into())],
            api: "openai".into(),
            model: "@oa/gpt-4o".into(),
            phase: "request".into(),
            guardrail: "secrets".into(),
            plugin: "secrets".into(),
            plugin_version: "0.1.0".into(),
            outcome: Outcome::Redact,
            rule: Some(rule.into()),
            kind: Some("secret".into()),
            segment: Some("messages[0].content".into()),
            span: Some((5, 45)),
            excerpt: Some(Excerpt::of("ghp_exampleexampleexample", &[7; 32])),
            failure: None,
        }
    }

    #[test]
    fn excerpts_correlate_repeats_without_the_text() {
        let key = [7; 32];
        let a = Excerpt::of("hunter2-but-longer", &key);
        assert_eq!(a, Excerpt::of("hunter2-but-longer", &key));
        assert_ne!(a.hash, Excerpt::of("hunter3-but-longer", &key).hash);
        assert_ne!(a.hash, Excerpt::of("hunter2-but-longer", &[8; 32]).hash);
        assert_eq!(a.chars, 18);
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains("hunter"), "{json}");
    }

    #[test]
    fn links_change_with_any_field_and_with_order() {
        let (first, second) = (record("secrets.github-pat"), record("secrets.npm-token"));
        let a = link(&GENESIS, &first);
        let b = link(&a, &second);
        assert_ne!(link(&GENESIS, &second), a);
        assert_ne!(link(&link(&GENESIS, &second), &first), b);
        let mut tampered = first.clone();
        tampered.span = Some((5, 46));
        assert_ne!(link(&GENESIS, &tampered), a);
    }
}
