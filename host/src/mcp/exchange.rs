//! One call through `/mcp` that reaches an upstream server (a tool call, a
//! prompt, a resource read), phase by phase:
//!
//! ```text
//! client ─► auth (gateway key; the endpoint already refused a bad one)
//!        ─► name (SERVER__TOOL; unknown ⇒ invalid params)
//!        ─► scope ([[mcp_access]]: the key's, its team's and every key's
//!          grants; not granted ⇒ invalid params naming the tool)
//!        ─► admit ([[mcp_rate_limits]] per key, team, tool ⇒ rate limited)
//!        ─► request guardrails on the arguments (block ⇒ an isError result
//!          with the reason; redact ⇒ the arguments rewritten)
//!        ─► upstream (with its deadline; down, hung or garbled ⇒ an MCP
//!          error naming the server, nobody else waits)
//!        ─► response guardrails on the result (block ⇒ isError; redact ⇒
//!          the result rewritten)
//!        ─► client
//! ```
//!
//! Each exchange is a request in the metrics and the request log (surface
//! `mcp`, provider the server, model `@SERVER/NAME`, key, team, latency,
//! status and error), and its guardrail findings go to the audit trail.

use super::access::{self, Access};
use super::guard::{self, Refused, Subject};
use super::upstream::{Upstream, UpstreamError};
use crate::api::error::{Api, ApiError, ErrorKind};
use crate::auth::Caller;
use crate::gateway::Gateway;
use crate::guardrails::Guardrails;
use crate::pipeline::{self, Call};
use crate::sandbox::Phase;
use crate::telemetry::Observed;
use axum::http::HeaderMap;
use rmcp::ErrorData as McpError;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// A call on its way: who makes it, and what its checks share.
pub struct Exchange {
    gateway: Arc<Gateway>,
    caller: Caller,
    call: Call,
    observed: Observed,
    guardrails: Guardrails,
}

/// How an exchange ended short of an answer.
pub enum Stopped {
    /// A guardrail blocked the arguments or the result: an isError result.
    Blocked(String),
    /// Anything else: a JSON-RPC error.
    Error(McpError),
}

impl Exchange {
    /// The auth phase for a call from a request with `headers`.
    pub async fn begin(gateway: Arc<Gateway>, headers: &HeaderMap) -> Result<Exchange, Stopped> {
        let request_id = format!("req_{:016x}", pipeline::rand_id());
        let log = gateway.request_log.clone().filter(|log| log.wants(headers));
        let observed = Observed::start(
            gateway.metrics.clone(),
            gateway.recent.clone(),
            log,
            Instant::now(),
            &request_id,
            Api::OpenAi,
        );
        {
            let mut facts = observed.facts();
            facts.api = None;
            facts.surface = Some("mcp");
        }
        let mut extra = Vec::new();
        let (caller, call) =
            match pipeline::authenticate(&gateway, headers, &request_id, &observed, &mut extra)
                .await
            {
                Ok(who) => who,
                Err(error) => {
                    observed.failed(error.kind, &error.message);
                    return Err(Stopped::Error(McpError::invalid_request(
                        error.message,
                        None,
                    )));
                }
            };
        let guardrails = gateway.guardrails.subset(caller.guardrails.as_deref());
        Ok(Exchange {
            gateway,
            caller,
            call,
            observed,
            guardrails,
        })
    }

    /// The scope and admit phases for `name` of `server`; `whole_server`:
    /// a prompt or resource, which only a grant of the whole server covers.
    pub async fn admit(&self, server: &str, name: &str, whole_server: bool) -> Result<(), Stopped> {
        let prefixed = super::names::prefixed(server, name);
        {
            let mut facts = self.observed.facts();
            facts.provider = Some(server.to_string());
            facts.model = Some(format!("@{server}/{name}"));
            facts.requested_model = Some(prefixed.clone());
        }
        let grant = Access::new(&self.gateway.config.mcp_access).grant(&self.caller);
        let allowed = if whole_server {
            grant.allows_server(server)
        } else {
            grant.allows(server, name)
        };
        if !allowed {
            let key = self.caller.key_id.as_deref().unwrap_or("-");
            let message = format!("gateway key `{key}` may not use `{prefixed}`");
            return Err(self.error(ErrorKind::Permission, message));
        }
        let limits = access::rate_limits(&self.gateway.config.mcp_rate_limits);
        let subject = access::subject(&self.caller, &prefixed);
        self.gateway
            .governance
            .admit_to(&limits, &subject)
            .await
            .map_err(|e| self.error(e.kind, e.message))
    }

    /// A guardrail phase over `body` for `name` of `server`.
    pub async fn check(
        &self,
        server: &str,
        name: &str,
        phase: Phase,
        body: Value,
    ) -> Result<Value, Stopped> {
        let subject = Subject { server, name };
        let checked = guard::check(
            &self.guardrails,
            &subject,
            phase,
            &self.caller,
            body,
            self.call.clone(),
        )
        .await;
        checked.map_err(|refused| match refused {
            Refused::Blocked(reason) => {
                self.observed.failed(ErrorKind::Blocked, &reason);
                Stopped::Blocked(reason)
            }
            Refused::Failed(error) => self.error(error.kind, error.message),
        })
    }

    /// The upstream phase: `call` on `upstream`, its time counted as the
    /// upstream's.
    pub async fn upstream<T, F, Fut>(&self, upstream: &Upstream, call: F) -> Result<T, Stopped>
    where
        F: FnOnce(rmcp::service::Peer<rmcp::service::RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let started = Instant::now();
        let answer = upstream.call(call).await;
        {
            let mut facts = self.observed.facts();
            facts.called_upstream = true;
        }
        self.observed.waited_upstream(started.elapsed());
        answer.map_err(|error| {
            let kind = match error {
                UpstreamError::Timeout { .. } => ErrorKind::Timeout,
                _ => ErrorKind::BadGateway,
            };
            self.error(kind, error.to_string())
        })
    }

    /// Records a success.
    pub fn succeeded(&self) {
        self.observed.facts().status = 200;
    }

    /// The error for a name that is no known server's.
    pub fn unknown(&self, what: &str, name: &str) -> Stopped {
        let message = format!("no {what} `{name}` (names are SERVER__NAME; list them first)");
        self.error(ErrorKind::InvalidRequest, message)
    }

    /// An error of `kind`, recorded, as the JSON-RPC error the client gets.
    fn error(&self, kind: ErrorKind, message: String) -> Stopped {
        self.observed.failed(kind, &message);
        let error = ApiError::new(kind, message);
        Stopped::Error(match kind {
            ErrorKind::Permission | ErrorKind::InvalidRequest | ErrorKind::NotFound => {
                McpError::invalid_params(error.message, None)
            }
            ErrorKind::RateLimited | ErrorKind::BudgetExceeded => {
                McpError::invalid_request(error.message, None)
            }
            _ => McpError::internal_error(error.message, None),
        })
    }
}
