//! `POST /v1/responses`: OpenAI's Responses API (what Codex CLI speaks), a
//! client dialect of the chat phases like Chat Completions and Messages.
//!
//! ```text
//! auth (headers only) ─► read the body ─► parse (JSON object; `input` a
//!   string or items) ─► the chat phases ([`super::chat`]): route, scope,
//!   what only Responses can carry (below), admit, request guardrails on the
//!   Responses segments, provider: the body as it is to a provider that speaks
//!   Responses (OpenAI), else translated (Chat Completions, Messages)
//!   ─► response guardrails on the Responses answer or stream
//!   ([`crate::api::stream`]), usage, audit
//! ```
//!
//! What only a provider speaking Responses can serve: built-in tools
//! (`web_search`, `file_search`, `code_interpreter`, namespaces, ...), which
//! OpenAI runs, and `previous_response_id`, a conversation OpenAI stored.
//! Targets of the plan that would be sent such a request translated are left
//! out; when none is left, the request is refused with a 400 naming what it
//! needs. Errors are OpenAI's error JSON, which the Responses API shares.

use crate::api::error::{ApiError, ErrorKind};
use crate::canonical::Dialect;
use crate::codec;
use crate::gateway::Gateway;
use crate::routing::Plan;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// Runs one Responses request.
pub async fn responses(gateway: Arc<Gateway>, headers: HeaderMap, body: Body) -> Response {
    super::chat(gateway, crate::api::error::Api::Responses, headers, body).await
}

/// What in a Responses `request` only a provider speaking Responses serves,
/// in words for an error: its built-in tools and a `previous_response_id`.
fn needs_responses(request: &Value) -> Vec<String> {
    let mut needs: Vec<String> = codec::responses::builtin_tools(request)
        .into_iter()
        .map(|tool| format!("tools of type `{tool}`"))
        .collect();
    if request
        .get("previous_response_id")
        .is_some_and(|id| !id.is_null())
    {
        needs.push("`previous_response_id`".into());
    }
    needs
}

/// Leaves out the targets of `plan` that do not speak Responses when
/// `request` carries what only they can serve; a 400 when none is left.
pub(crate) fn keep_targets_that_can_serve(
    request: &Value,
    plan: &mut Plan<'_>,
) -> Result<(), ApiError> {
    let needs = needs_responses(request);
    if needs.is_empty() {
        return Ok(());
    }
    let first = plan.steps[0].route.qualified();
    plan.steps.retain(|step| {
        let provider = step.route.provider;
        provider.answers_locally()
            || provider.dialect_for(Dialect::Responses, &step.route.model)
                == Some(Dialect::Responses)
    });
    if plan.steps.is_empty() {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!(
                "{} can only be served by a provider speaking the Responses API (kind = \"openai\"); \
                 `{first}` does not: send function tools only, and the whole conversation as `input`",
                needs.join(" and ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_tools_and_stored_conversations_need_responses() {
        let body = json!({"input": "hi", "tools": [{"type": "function", "name": "f"},
            {"type": "web_search"}], "previous_response_id": "resp_1"});
        assert_eq!(
            needs_responses(&body),
            ["tools of type `web_search`", "`previous_response_id`"]
        );
        let plain = json!({"input": "hi", "tools": [{"type": "function", "name": "f"}],
            "previous_response_id": null});
        assert!(needs_responses(&plain).is_empty());
    }
}
