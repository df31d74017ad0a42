//! Guardrails on tool traffic, with the same plugins and the same
//! [`guard_body`] as a model call: a tool call's arguments in the request
//! phase (segments of kind `tool-call`), its result, a prompt or a resource
//! in the response phase (kind `tool-result`). The context's `api` is `mcp`,
//! its `model` `@SERVER/NAME`, and its metadata carries `mcp_server` and
//! `mcp_tool` beside the key's tags, so a rule can single out a server or a
//! tool. Redactions are written into what goes on; a block stops it, and the
//! audit trail and request log get each check as they do a model call's.

use crate::api::error::{ApiError, ErrorKind};
use crate::api::segments::{Extracted, mcp as segments};
use crate::auth::Caller;
use crate::guardrails::Guardrails;
use crate::pipeline::{Call, guard_body};
use crate::sandbox::{Context, Phase};
use serde_json::Value;

/// What one checked thing is: its server and tool (or prompt, or resource).
pub struct Subject<'a> {
    /// The server's id.
    pub server: &'a str,
    /// The tool's, prompt's or resource's own name at the server.
    pub name: &'a str,
}

/// Why checked traffic does not go on.
#[derive(Debug)]
pub enum Refused {
    /// A guardrail blocked it; the reason never holds the matched text.
    Blocked(String),
    /// The check could not be made.
    Failed(ApiError),
}

impl Subject<'_> {
    /// The guardrails' context for this subject in `phase`.
    pub fn context(&self, phase: Phase, caller: &Caller) -> Context {
        let mut metadata = Vec::clone(&caller.metadata);
        metadata.push(("mcp_server".into(), self.server.to_string()));
        metadata.push(("mcp_tool".into(), self.name.to_string()));
        Context {
            phase,
            api: "mcp".into(),
            model: format!("@{}/{}", self.server, self.name),
            key_id: caller.key_id.clone(),
            metadata,
        }
    }
}

/// Checks `body` (`{"arguments": ...}` in the request phase; a result in the
/// response phase) and returns it with redactions applied.
pub(crate) async fn check(
    guardrails: &Guardrails,
    subject: &Subject<'_>,
    phase: Phase,
    caller: &Caller,
    body: Value,
    call: Call,
) -> Result<Value, Refused> {
    let extract: fn(&Value) -> Extracted = match phase {
        Phase::Request => segments::arguments,
        Phase::Response => segments::result,
    };
    let ctx = subject.context(phase, caller);
    guard_body(guardrails, ctx, body, extract, call)
        .await
        .map_err(|error| match error.kind {
            ErrorKind::Blocked => Refused::Blocked(error.message),
            _ => Refused::Failed(error),
        })
}
