//! `[mcp]`, `[[mcp_servers]]` and `[[mcp_access]]`: the MCP servers behind
//! `/mcp`, who may use which of their tools, and the endpoint's limits
//! (documented in docs/configuration.md and docs/mcp.md).

use crate::config::Period;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What separates a server's id from the name of one of its tools or prompts
/// (`github__create_issue`). Server ids hold no `_`, so the split is exact.
pub const SEPARATOR: &str = "__";

/// The `[mcp]` section: limits of the `/mcp` endpoint.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// The most sessions open at once; past it, a new session is refused with
    /// a 503 (default 1000).
    pub max_sessions: Option<usize>,
    /// A session with no request for this many seconds is closed (default 600).
    pub session_idle_s: Option<u64>,
    /// How long one call to an upstream server may take unless the server's
    /// own `timeout_s` says otherwise (default 60).
    pub timeout_s: Option<u64>,
}

impl McpConfig {
    /// The most sessions open at once.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions.unwrap_or(1000)
    }

    /// The idle time after which a session is closed.
    pub fn session_idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_idle_s.unwrap_or(600))
    }

    /// The default time one upstream call may take.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_s.unwrap_or(60))
    }
}

/// One `[[mcp_servers]]` entry: a Streamable HTTP server (`url`) or a local
/// server the gateway starts and talks to over stdio (`command`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// Prefixes the names of its tools, prompts and resources; lowercase
    /// letters, digits and `-`.
    pub id: String,
    /// A Streamable HTTP endpoint (`http://` or `https://`).
    pub url: Option<String>,
    /// Headers sent with every request to `url`, such as the server's
    /// credentials (`Authorization = "Bearer ${GITHUB_TOKEN}"`); never shown
    /// to clients or written to a log.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// The program of a stdio server.
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Its environment, added to the gateway's (values may use `${ENV}`).
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// How long one call to this server may take, in seconds (default:
    /// `[mcp] timeout_s`).
    pub timeout_s: Option<u64>,
}

/// Where a server is reached.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    /// Streamable HTTP at this URL.
    Http(&'a str),
    /// A child process the gateway starts.
    Stdio(&'a str),
}

impl McpServerConfig {
    /// How the server is reached (validated: exactly one of `url`, `command`).
    pub fn transport(&self) -> Transport<'_> {
        match (&self.url, &self.command) {
            (Some(url), _) => Transport::Http(url),
            (None, Some(command)) => Transport::Stdio(command),
            (None, None) => unreachable!("validated: a server has a url or a command"),
        }
    }
}

/// One `[[mcp_access]]` entry: the servers and tools a key, a team or every
/// key (`key = "*"`) may use. A key may use what any entry naming it, its
/// team or `*` grants; a key no entry names sees no tools.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpAccessConfig {
    /// A key id, or `*` for every key.
    pub key: Option<String>,
    /// A team (the key's `team` tag).
    pub team: Option<String>,
    /// Server id patterns (`*` any run of characters): every tool of a
    /// matching server.
    #[serde(default)]
    pub servers: Vec<String>,
    /// Tool patterns over the prefixed names (`files__read_*`).
    #[serde(default)]
    pub tools: Vec<String>,
}

/// One `[[mcp_rate_limits]]` entry: tool calls per minute, hour or day for
/// one key, team or tool (or each of them, with `*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpRateLimitConfig {
    /// Names the limit in errors and counters.
    pub id: String,
    /// A key id, or `*` for each key.
    pub key: Option<String>,
    /// A team, or `*` for each team.
    pub team: Option<String>,
    /// A prefixed tool name (`github__create_issue`), or `*` for each tool.
    pub tool: Option<String>,
    /// `minute`, `hour` or `day`.
    pub per: Period,
    /// The most tool calls in the window.
    pub requests: u64,
}

/// The MCP sections of the config.
#[derive(Debug, Clone, Copy)]
pub struct Sections<'a> {
    /// `[mcp]`.
    pub mcp: &'a McpConfig,
    /// `[[mcp_servers]]`.
    pub servers: &'a [McpServerConfig],
    /// `[[mcp_access]]`.
    pub access: &'a [McpAccessConfig],
    /// `[[mcp_rate_limits]]`.
    pub rate_limits: &'a [McpRateLimitConfig],
}

/// Checks the MCP sections; returns the offending field and why.
pub fn validate(sections: Sections<'_>) -> Result<(), (String, String)> {
    let Sections {
        mcp,
        servers,
        access,
        rate_limits,
    } = sections;
    for (i, limit) in rate_limits.iter().enumerate() {
        let field = |name: &str| format!("mcp_rate_limits[{i}].{name}");
        if limit.id.trim().is_empty() {
            return Err((field("id"), "is empty".into()));
        }
        let selectors = [&limit.key, &limit.team, &limit.tool];
        if selectors.iter().filter(|s| s.is_some()).count() != 1 {
            return Err((
                field("key"),
                "name exactly one of `key`, `team` and `tool`".into(),
            ));
        }
        if limit.requests == 0 {
            return Err((field("requests"), "must be at least 1".into()));
        }
    }
    if mcp.max_sessions == Some(0) {
        return Err(("mcp.max_sessions".into(), "must be at least 1".into()));
    }
    if mcp.session_idle_s == Some(0) {
        return Err(("mcp.session_idle_s".into(), "must be at least 1".into()));
    }
    if mcp.timeout_s == Some(0) {
        return Err(("mcp.timeout_s".into(), "must be at least 1".into()));
    }
    for (i, server) in servers.iter().enumerate() {
        let field = |name: &str| format!("mcp_servers[{i}].{name}");
        validate_server(server).map_err(|(name, message)| (field(name), message))?;
        if servers[..i].iter().any(|s| s.id == server.id) {
            return Err((
                field("id"),
                format!("`{}` is the id of an earlier server", server.id),
            ));
        }
    }
    for (i, entry) in access.iter().enumerate() {
        let field = |name: &str| format!("mcp_access[{i}].{name}");
        match (&entry.key, &entry.team) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err((
                    field("key"),
                    "name exactly one of `key` (a key id, or `*`) and `team`".into(),
                ));
            }
        }
        if entry.servers.is_empty() && entry.tools.is_empty() {
            return Err((
                field("servers"),
                "grants nothing: list `servers` or `tools`".into(),
            ));
        }
        for (j, pattern) in entry.servers.iter().enumerate() {
            let known = servers
                .iter()
                .any(|s| crate::keys::scope::matches(pattern, &s.id));
            if !known {
                return Err((
                    format!("mcp_access[{i}].servers[{j}]"),
                    format!("`{pattern}` matches no server in [[mcp_servers]]"),
                ));
            }
        }
        for (j, pattern) in entry.tools.iter().enumerate() {
            let server = pattern.split(SEPARATOR).next().unwrap_or_default();
            let known = pattern.contains(SEPARATOR)
                && servers
                    .iter()
                    .any(|s| crate::keys::scope::matches(server, &s.id));
            if !known {
                return Err((
                    format!("mcp_access[{i}].tools[{j}]"),
                    format!(
                        "`{pattern}` must be SERVER{SEPARATOR}TOOL with SERVER (a pattern) matching a server in [[mcp_servers]]"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn validate_server(server: &McpServerConfig) -> Result<(), (&'static str, String)> {
    let id_ok = !server.id.is_empty()
        && server.id.len() <= 32
        && server
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err((
            "id",
            format!(
                "`{}` must be 1 to 32 lowercase letters, digits or `-` (it prefixes tool names, as in `{}{SEPARATOR}tool`)",
                server.id, server.id
            ),
        ));
    }
    match (&server.url, &server.command) {
        (Some(_), Some(_)) | (None, None) => {
            return Err((
                "url",
                "give exactly one of `url` (a Streamable HTTP server) and `command` (a stdio server)"
                    .into(),
            ));
        }
        (Some(url), None) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err((
                    "url",
                    format!("`{url}` must start with http:// or https://"),
                ));
            }
            if !server.args.is_empty() || !server.env.is_empty() {
                return Err((
                    "args",
                    "`args` and `env` are for stdio servers (`command`)".into(),
                ));
            }
            for name in server.headers.keys() {
                if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(("headers", format!("`{name}` is not an HTTP header name")));
                }
            }
        }
        (None, Some(command)) => {
            if command.trim().is_empty() {
                return Err(("command", "is empty".into()));
            }
            if !server.headers.is_empty() {
                return Err((
                    "headers",
                    "`headers` are for Streamable HTTP servers (`url`)".into(),
                ));
            }
            for name in server.env.keys() {
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    return Err((
                        "env",
                        format!("`{name}` is not an environment variable name"),
                    ));
                }
            }
        }
    }
    if server.timeout_s == Some(0) {
        return Err(("timeout_s", "must be at least 1".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ParseFailure};
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("."), &|name| {
            (name == "GH_TOKEN").then(|| "ghp_secret".to_string())
        })
        .map_err(|e| match e {
            ParseFailure::Syntax(message) => message,
            ParseFailure::Invalid { field, message } => format!("{field}: {message}"),
        })
    }

    #[test]
    fn http_and_stdio_servers_parse_with_credentials_from_the_environment() {
        let config = parse(
            "[[mcp_servers]]\nid = \"github\"\nurl = \"https://mcp.example/mcp\"\n\
             headers = { Authorization = \"Bearer ${GH_TOKEN}\" }\ntimeout_s = 5\n\
             [[mcp_servers]]\nid = \"files\"\ncommand = \"mcp-files\"\nargs = [\"/srv\"]\n\
             env = { TOKEN = \"${GH_TOKEN}\" }\n\
             [[mcp_access]]\nteam = \"platform\"\nservers = [\"git*\"]\ntools = [\"files__read_*\"]\n",
        )
        .unwrap();
        let github = &config.mcp_servers[0];
        assert_eq!(
            github.headers["Authorization"].expose(),
            "Bearer ghp_secret"
        );
        assert!(!format!("{github:?}").contains("ghp_secret"));
        assert_eq!(config.mcp_servers[1].env["TOKEN"].expose(), "ghp_secret");
        assert_eq!(config.mcp_access[0].team.as_deref(), Some("platform"));
    }

    #[test]
    fn bad_entries_are_refused_naming_the_field() {
        for (text, field, why) in [
            (
                "[[mcp_servers]]\nid = \"Git_Hub\"\nurl = \"https://x\"\n",
                "mcp_servers[0].id",
                "lowercase letters",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\nurl = \"https://x\"\ncommand = \"y\"\n",
                "mcp_servers[0].url",
                "exactly one",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\n",
                "mcp_servers[0].url",
                "exactly one",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\nurl = \"ftp://x\"\n",
                "mcp_servers[0].url",
                "http://",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\nurl = \"https://x\"\n[[mcp_servers]]\nid = \"a\"\ncommand = \"b\"\n",
                "mcp_servers[1].id",
                "earlier server",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\ncommand = \"b\"\nheaders = { X = \"y\" }\n",
                "mcp_servers[0].headers",
                "Streamable HTTP",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\nurl = \"https://x\"\nheaders = { \"bad header\" = \"y\" }\n",
                "mcp_servers[0].headers",
                "not an HTTP header",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\ncommand = \"b\"\n[[mcp_access]]\nkey = \"k\"\nteam = \"t\"\nservers = [\"a\"]\n",
                "mcp_access[0].key",
                "exactly one",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\ncommand = \"b\"\n[[mcp_access]]\nkey = \"*\"\nservers = [\"zz\"]\n",
                "mcp_access[0].servers[0]",
                "matches no server",
            ),
            (
                "[[mcp_servers]]\nid = \"a\"\ncommand = \"b\"\n[[mcp_access]]\nkey = \"*\"\ntools = [\"read\"]\n",
                "mcp_access[0].tools[0]",
                "SERVER__TOOL",
            ),
            (
                "[mcp]\nmax_sessions = 0\n",
                "mcp.max_sessions",
                "at least 1",
            ),
            (
                "[[mcp_rate_limits]]\nid = \"r\"\nkey = \"a\"\ntool = \"*\"\nper = \"minute\"\nrequests = 5\n",
                "mcp_rate_limits[0].key",
                "exactly one",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(field), "{text}: {error}");
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
