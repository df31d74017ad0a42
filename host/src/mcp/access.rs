//! Which MCP servers and tools a caller may use (`[[mcp_access]]`), and the
//! tool-call rate limits (`[[mcp_rate_limits]]`).
//!
//! Patterns work as a key's `allowed_models` do ([`crate::keys::Scope`]): `*`
//! stands for any run of characters. A server pattern grants every tool of
//! the servers it matches; a tool pattern is matched against the prefixed
//! name (`files__read_*`). A caller may use what any entry naming its key id,
//! its team (the key's `team` tag) or every key (`key = "*"`) grants; a
//! caller no entry names sees no tool at all.

use super::config::{McpAccessConfig, McpRateLimitConfig, SEPARATOR};
use crate::auth::Caller;
use crate::config::{RateLimitConfig, TEAM_TAG};
use crate::governance::limits::{Limits, Subject};
use crate::keys::scope::matches;

/// Every `[[mcp_access]]` entry.
#[derive(Debug, Clone, Default)]
pub struct Access {
    entries: Vec<McpAccessConfig>,
}

/// What one caller may use: the patterns of every entry that names it.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    servers: Vec<String>,
    tools: Vec<String>,
}

impl Access {
    /// The entries of the config.
    pub fn new(entries: &[McpAccessConfig]) -> Self {
        Access {
            entries: entries.to_vec(),
        }
    }

    /// What `caller` may use.
    pub fn grant(&self, caller: &Caller) -> Grant {
        let team = team_of(caller);
        let mut grant = Grant::default();
        for entry in &self.entries {
            let named = match (&entry.key, &entry.team) {
                (Some(key), _) => key == "*" || caller.key_id.as_deref() == Some(key.as_str()),
                (None, Some(wanted)) => team == Some(wanted.as_str()),
                (None, None) => false,
            };
            if named {
                grant.servers.extend(entry.servers.iter().cloned());
                grant.tools.extend(entry.tools.iter().cloned());
            }
        }
        grant
    }
}

impl Grant {
    /// Whether the caller may use tool `tool` of server `server`.
    pub fn allows(&self, server: &str, tool: &str) -> bool {
        self.allows_server(server) || {
            let name = format!("{server}{SEPARATOR}{tool}");
            self.tools.iter().any(|p| matches(p, &name))
        }
    }

    /// Whether the caller may use every tool of `server` (and so its
    /// prompts and resources).
    pub fn allows_server(&self, server: &str) -> bool {
        self.servers.iter().any(|p| matches(p, server))
    }

    /// Whether the caller may use something of `server`.
    pub fn may_reach(&self, server: &str) -> bool {
        self.allows_server(server)
            || self.tools.iter().any(|p| {
                let server_part = p.split(SEPARATOR).next().unwrap_or_default();
                matches(server_part, server)
            })
    }

    /// Whether the caller may use anything at all.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.tools.is_empty()
    }
}

/// The caller's team, its key's `team` tag.
pub fn team_of(caller: &Caller) -> Option<&str> {
    caller
        .metadata
        .iter()
        .find(|(name, _)| name == TEAM_TAG)
        .map(|(_, value)| value.as_str())
}

/// The tool-call rate limits, counted in governance's state store beside
/// (and apart from) the model calls' limits. A limit on `tool` counts each
/// call of that prefixed tool name (or of each tool, with `*`).
pub fn rate_limits(configs: &[McpRateLimitConfig]) -> Limits {
    let as_governance: Vec<RateLimitConfig> = configs
        .iter()
        .map(|c| RateLimitConfig {
            id: c.id.clone(),
            key: c.key.clone(),
            team: c.team.clone(),
            model: c.tool.clone(),
            tag: None,
            per: c.per,
            requests: Some(c.requests),
            tokens: None,
        })
        .collect();
    Limits::new(&[], &as_governance)
}

/// The subject a tool call is counted as: its key, team and prefixed tool name.
pub fn subject<'a>(caller: &'a Caller, prefixed: &'a str) -> Subject<'a> {
    Subject {
        key_id: caller.key_id.as_deref(),
        metadata: &caller.metadata,
        model: prefixed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        key: Option<&str>,
        team: Option<&str>,
        servers: &[&str],
        tools: &[&str],
    ) -> McpAccessConfig {
        McpAccessConfig {
            key: key.map(Into::into),
            team: team.map(Into::into),
            servers: servers.iter().map(|s| s.to_string()).collect(),
            tools: tools.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn caller(key: &str, team: Option<&str>) -> Caller {
        Caller {
            key_id: Some(key.into()),
            metadata: std::sync::Arc::new(
                team.map(|t| ("team".to_string(), t.to_string()))
                    .into_iter()
                    .collect(),
            ),
            ..Caller::default()
        }
    }

    #[test]
    fn keys_teams_and_everyone_are_granted_servers_and_tool_patterns() {
        let access = Access::new(&[
            entry(Some("ci"), None, &["git*"], &[]),
            entry(None, Some("platform"), &[], &["files__read_*"]),
            entry(Some("*"), None, &[], &["time__now"]),
        ]);
        let ci = access.grant(&caller("ci", None));
        assert!(ci.allows("github", "create_issue"));
        assert!(!ci.allows("files", "read_file"));
        assert!(ci.allows("time", "now"), "every key");
        let platform = access.grant(&caller("alice", Some("platform")));
        assert!(platform.allows("files", "read_file"));
        assert!(!platform.allows("files", "write_file"));
        assert!(!platform.allows_server("files"));
        assert!(!platform.allows("github", "create_issue"));
    }

    #[test]
    fn a_caller_no_entry_names_may_use_nothing() {
        let access = Access::new(&[entry(Some("ci"), None, &["*"], &[])]);
        let other = access.grant(&caller("other", Some("platform")));
        assert!(other.is_empty());
        assert!(!other.allows("github", "x"));
        assert!(Access::default().grant(&caller("ci", None)).is_empty());
    }
}
