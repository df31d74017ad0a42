//! The MCP gateway: one MCP endpoint, `/mcp` (the Streamable HTTP transport,
//! served by the official SDK, rmcp), in front of the MCP servers of
//! `[[mcp_servers]]`, behind the same gateway keys, guardrails, rate limits,
//! audit trail and request log as the model calls. Documented in docs/mcp.md.
//!
//! The parts, each in its own module:
//!
//! - [`config`]: `[mcp]`, `[[mcp_servers]]`, `[[mcp_access]]`,
//!   `[[mcp_rate_limits]]`.
//! - [`endpoint`]: the HTTP side: the gateway key, sessions bounded in
//!   number and idle time and tied to the key that opened them.
//! - [`handler`]: the one server the client sees, aggregating every
//!   upstream's tools, prompts and resources under prefixed [`names`].
//! - [`access`]: who may use which server and tool, and the tool-call limits.
//! - [`exchange`]: the phases of one call (its chart is there).
//! - [`guard`]: the guardrails on tool arguments and results.
//! - [`upstream`]: the gateway as a client of each server (HTTP, or a stdio
//!   child process it starts, supervises and restarts with backoff).

pub mod access;
pub mod config;
pub mod endpoint;
pub mod exchange;
pub mod guard;
pub mod handler;
pub mod names;
pub mod upstream;

pub use config::{McpAccessConfig, McpConfig, McpRateLimitConfig, McpServerConfig};
pub use endpoint::serve;

use crate::auth::Caller;
use crate::config::Config;
use crate::gateway::Gateway;
use axum::http::HeaderMap;
use handler::Handler;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use upstream::Upstream;

/// The MCP servers, their connections and the endpoint's sessions: kept
/// across a config reload that leaves `[mcp]` and `[[mcp_servers]]` alone.
pub struct Hub {
    /// The sections it was made from.
    made_from: (McpConfig, Vec<McpServerConfig>),
    upstreams: Arc<[Arc<Upstream>]>,
    sessions: Arc<LocalSessionManager>,
    service: StreamableHttpService<Handler, LocalSessionManager>,
    /// The key that opened each session (`None`: a keyless gateway's).
    owners: Mutex<HashMap<String, Option<String>>>,
    max_sessions: usize,
    /// Supervisors of the stdio servers.
    supervisors: Vec<tokio::task::JoinHandle<()>>,
    shutdown: CancellationToken,
}

/// What the endpoint hands the handler with each request.
#[derive(Clone)]
pub struct Authorized {
    /// The gateway serving the request.
    pub gateway: Arc<Gateway>,
    /// The caller, by its gateway key.
    pub caller: Caller,
    /// The request's headers (metadata, trace id, request-log opt-out).
    pub headers: HeaderMap,
}

impl Hub {
    /// The hub of `config`, or `None` when it lists no MCP server; carries
    /// `previous` on when its sections are the same. Starts every stdio
    /// server. `max_body` bounds a request body.
    pub fn new(config: &Config, previous: Option<&Arc<Hub>>, max_body: usize) -> Option<Arc<Hub>> {
        if config.mcp_servers.is_empty() {
            return None;
        }
        let made_from = (config.mcp.clone(), config.mcp_servers.clone());
        if let Some(previous) = previous.filter(|p| p.made_from == made_from) {
            return Some(previous.clone());
        }
        let timeout = config.mcp.timeout();
        let upstreams: Arc<[Arc<Upstream>]> = config
            .mcp_servers
            .iter()
            .map(|server| Arc::new(Upstream::new(server, timeout)))
            .collect();
        let supervisors = upstreams
            .iter()
            .filter(|u| u.is_stdio())
            .map(|u| tokio::spawn(upstream::supervise(u.clone())))
            .collect();
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = Some(config.mcp.session_idle());
        let sessions = Arc::new(sessions);
        let shutdown = CancellationToken::new();
        let mut server = StreamableHttpServerConfig::default()
            .with_cancellation_token(shutdown.child_token())
            .with_max_request_body_bytes(max_body)
            // The gateway key guards the endpoint; a keyless gateway refuses
            // web pages itself ([`crate::auth::keyless`]).
            .disable_allowed_hosts();
        server.sse_keep_alive = Some(std::time::Duration::from_secs(15));
        let serving = upstreams.clone();
        let service = StreamableHttpService::new(
            move || Ok(Handler::new(serving.clone())),
            sessions.clone(),
            server,
        );
        Some(Arc::new(Hub {
            made_from,
            upstreams,
            sessions,
            service,
            owners: Mutex::new(HashMap::new()),
            max_sessions: config.mcp.max_sessions(),
            supervisors,
            shutdown,
        }))
    }

    /// The upstream servers.
    pub fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for supervisor in &self.supervisors {
            supervisor.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(servers: &str, access: &str) -> Config {
        Config::parse(&format!("{servers}{access}"), Path::new("."), &|_| None).unwrap()
    }

    #[tokio::test]
    async fn a_reload_keeps_the_hub_unless_its_servers_or_limits_change() {
        let servers = "[[mcp_servers]]\nid = \"a\"\nurl = \"http://127.0.0.1:9/mcp\"\n";
        assert!(
            Hub::new(&config("", ""), None, 1024).is_none(),
            "no servers, no hub"
        );
        let first = Hub::new(&config(servers, ""), None, 1024).unwrap();
        let access = "[[mcp_access]]\nkey = \"*\"\nservers = [\"a\"]\n";
        let kept = Hub::new(&config(servers, access), Some(&first), 1024).unwrap();
        assert!(Arc::ptr_eq(&first, &kept), "access applies per call");
        let limits = "[mcp]\nmax_sessions = 5\n";
        let remade = Hub::new(
            &config(&format!("{limits}{servers}"), ""),
            Some(&first),
            1024,
        );
        assert!(!Arc::ptr_eq(&first, &remade.unwrap()));
        let other = servers.replace(":9/", ":10/");
        let remade = Hub::new(&config(&other, ""), Some(&first), 1024).unwrap();
        assert!(!Arc::ptr_eq(&first, &remade));
        assert_eq!(remade.upstreams().len(), 1);
    }
}
