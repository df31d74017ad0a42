//! The one MCP server `/mcp` shows (an rmcp [`ServerHandler`], one per
//! session): the tools, prompts and resources of every upstream, their names
//! prefixed by the server's id ([`super::names`]), listed as the caller's
//! grants allow, and each call passed on through an [`Exchange`].
//!
//! Lists ask every server the caller may reach at once; a server that is
//! down, hung or garbled is left out of the list (and logged), so one bad
//! server never hides the others.

use super::Authorized;
use super::access::{Access, Grant};
use super::exchange::{Exchange, Stopped};
use super::names;
use super::upstream::Upstream;
use crate::json_pointer::Pointer;
use crate::sandbox::Phase;
use futures_util::future::join_all;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, RequestParamsMeta, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};
use serde_json::Value;
use std::sync::Arc;

/// The gateway's MCP server for one session.
#[derive(Clone)]
pub struct Handler {
    upstreams: Arc<[Arc<Upstream>]>,
}

impl Handler {
    /// A server over `upstreams`.
    pub fn new(upstreams: Arc<[Arc<Upstream>]>) -> Self {
        Handler { upstreams }
    }

    fn upstream(&self, id: &str) -> Option<&Arc<Upstream>> {
        self.upstreams.iter().find(|u| u.id == id)
    }

    /// What the endpoint learned of the request: the gateway and the caller.
    fn authorized(context: &RequestContext<RoleServer>) -> Result<Authorized, McpError> {
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Authorized>())
            .cloned()
            .ok_or_else(|| McpError::internal_error("the request reached no gateway", None))
    }

    /// The items `list` gives on every server the caller may reach (all at
    /// once; a server that fails is left out, and logged), each passed to
    /// `keep` with the caller's grant and its server's id: what it returns
    /// (renamed) is listed. `whole_server`: prompts and resources, which only
    /// a grant of the whole server shows.
    async fn aggregate<T, F, Fut>(
        &self,
        context: &RequestContext<RoleServer>,
        whole_server: bool,
        list: F,
        keep: impl Fn(&Grant, &str, T) -> Option<T>,
    ) -> Result<Vec<T>, McpError>
    where
        F: Fn(rmcp::service::Peer<rmcp::service::RoleClient>) -> Fut,
        Fut: Future<Output = Result<Vec<T>, rmcp::ServiceError>>,
    {
        let authorized = Self::authorized(context)?;
        let grant = Access::new(&authorized.gateway.config.mcp_access).grant(&authorized.caller);
        let reachable = self.upstreams.iter().filter(|u| {
            if whole_server {
                grant.allows_server(&u.id)
            } else {
                grant.may_reach(&u.id)
            }
        });
        let lists = reachable.map(|upstream| {
            let list = &list;
            async move {
                match upstream.call(list).await {
                    Ok(items) => Some((upstream, items)),
                    Err(error) => {
                        tracing::warn!(server = %upstream.id, error = %error, "MCP server left out of a list");
                        None
                    }
                }
            }
        });
        let mut kept = Vec::new();
        for (upstream, items) in join_all(lists).await.into_iter().flatten() {
            kept.extend(
                items
                    .into_iter()
                    .filter_map(|item| keep(&grant, &upstream.id, item)),
            );
        }
        Ok(kept)
    }

    /// Starts an exchange for `name` (`SERVER__NAME`, or a prefixed URI):
    /// auth, the upstream, scope and admit.
    async fn open<'a>(
        &'a self,
        context: &RequestContext<RoleServer>,
        what: &str,
        name: &'a str,
        split: fn(&str) -> Option<(&str, &str)>,
        whole_server: bool,
    ) -> Result<(Exchange, &'a Arc<Upstream>, &'a str, &'a str), Stopped> {
        let authorized = Self::authorized(context).map_err(Stopped::Error)?;
        let exchange = Exchange::begin(authorized.gateway, &authorized.headers).await?;
        let Some((server, own)) = split(name) else {
            return Err(exchange.unknown(what, name));
        };
        let Some(upstream) = self.upstream(server) else {
            return Err(exchange.unknown(what, name));
        };
        exchange.admit(server, own, whole_server).await?;
        Ok((exchange, upstream, server, own))
    }
}

/// A blocked tool call: an isError result with the guardrail's reason.
fn blocked(reason: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "blocked by the gateway's guardrails: {reason}"
    ))])
}

/// Passes an upstream progress notification on to the client, under the
/// client's token; its message goes through the response guardrails
/// (redacted, or left out when they block).
async fn relay_progress(
    exchange: &Exchange,
    context: &RequestContext<RoleServer>,
    (server, tool, client_token): (&str, &str, &ProgressToken),
    mut notification: ProgressNotificationParam,
) {
    notification.progress_token = client_token.clone();
    if let Some(message) = notification.message.take() {
        let body = serde_json::json!({"content": [{"type": "text", "text": message}]});
        notification.message = match exchange.check(server, tool, Phase::Response, body).await {
            Ok(checked) => checked
                .at("/content/0/text")
                .and_then(Value::as_str)
                .map(str::to_string),
            Err(_) => None,
        };
    }
    if let Err(error) = context.peer.notify_progress(notification).await {
        tracing::debug!(error = %error, "a progress notification could not be passed on");
    }
}

/// An error for a prompt or resource (which have no isError result).
fn stopped(stop: Stopped) -> McpError {
    match stop {
        Stopped::Blocked(reason) => McpError::invalid_request(
            format!("blocked by the gateway's guardrails: {reason}"),
            None,
        ),
        Stopped::Error(error) => error,
    }
}

/// A typed value through JSON, for the guardrails, and back.
fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, McpError> {
    serde_json::to_value(value).map_err(|e| McpError::internal_error(e.to_string(), None))
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, McpError> {
    serde_json::from_value(value).map_err(|e| McpError::internal_error(e.to_string(), None))
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("sluice", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "The tools, prompts and resources of the MCP servers behind this sluice gateway; \
             each name starts with its server's id (SERVER__NAME).",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let tools = self
            .aggregate(
                &context,
                false,
                |peer| async move { peer.list_all_tools().await },
                |grant, server, mut tool| {
                    grant.allows(server, &tool.name).then(|| {
                        tool.name = names::prefixed(server, &tool.name).into();
                        tool
                    })
                },
            )
            .await?;
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let opened = self
            .open(&context, "tool", &name, names::split, false)
            .await;
        let (exchange, upstream, server, tool) = match opened {
            Ok(opened) => opened,
            Err(Stopped::Blocked(reason)) => return Ok(blocked(&reason).into()),
            Err(Stopped::Error(error)) => return Err(error),
        };
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let checked = exchange
            .check(
                server,
                tool,
                Phase::Request,
                serde_json::json!({ "arguments": arguments }),
            )
            .await;
        let arguments = match checked {
            Ok(mut body) => match body.get_mut("arguments").map(Value::take) {
                Some(Value::Object(arguments)) => arguments,
                _ => Default::default(),
            },
            Err(Stopped::Blocked(reason)) => return Ok(blocked(&reason).into()),
            Err(Stopped::Error(error)) => return Err(error),
        };
        let mut params = CallToolRequestParams::new(tool.to_string());
        if request.arguments.is_some() || !arguments.is_empty() {
            params = params.with_arguments(arguments);
        }
        // The server's progress notifications, when the client asked for
        // them: passed on under the client's token, each message checked.
        let client_token = request
            .progress_token()
            .or_else(|| context.meta.get_progress_token());
        let (progress, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let relay = client_token.is_some().then(|| upstream.relay());
        let call = exchange.upstream(upstream, |peer| async move {
            match relay {
                Some(relay) => relay.call_tool(peer, params, progress).await,
                None => peer.call_tool(params).await,
            }
        });
        let answer = match &client_token {
            Some(client_token) => {
                tokio::pin!(call);
                let answer = loop {
                    // Notifications first: the server sent them before its
                    // answer, and they must reach the client before it too.
                    tokio::select! {
                        biased;
                        Some(notification) = notifications.recv() => {
                            let relayed = (server, tool, client_token);
                            relay_progress(&exchange, &context, relayed, notification).await;
                        }
                        answer = &mut call => break answer,
                    }
                };
                while let Ok(notification) = notifications.try_recv() {
                    let relayed = (server, tool, client_token);
                    relay_progress(&exchange, &context, relayed, notification).await;
                }
                answer
            }
            None => call.await,
        };
        let result = match answer {
            Ok(result) => result,
            Err(Stopped::Blocked(reason)) => return Ok(blocked(&reason).into()),
            Err(Stopped::Error(error)) => return Err(error),
        };
        match exchange
            .check(server, tool, Phase::Response, to_json(&result)?)
            .await
        {
            Ok(body) => {
                exchange.succeeded();
                Ok(from_json::<CallToolResult>(body)?.into())
            }
            Err(Stopped::Blocked(reason)) => Ok(blocked(&reason).into()),
            Err(Stopped::Error(error)) => Err(error),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let prompts = self
            .aggregate(
                &context,
                true,
                |peer| async move { peer.list_all_prompts().await },
                |_, server, mut prompt| {
                    prompt.name = names::prefixed(server, &prompt.name);
                    Some(prompt)
                },
            )
            .await?;
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let name = request.name.clone();
        let (exchange, upstream, server, prompt) = self
            .open(&context, "prompt", &name, names::split, true)
            .await
            .map_err(stopped)?;
        let mut params = request.clone();
        params.name = prompt.to_string();
        let result = exchange
            .upstream(
                upstream,
                |peer| async move { peer.get_prompt(params).await },
            )
            .await
            .map_err(stopped)?;
        let body = exchange
            .check(server, prompt, Phase::Response, to_json(&result)?)
            .await
            .map_err(stopped)?;
        exchange.succeeded();
        Ok(from_json::<GetPromptResult>(body)?.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let resources = self
            .aggregate(
                &context,
                true,
                |peer| async move { peer.list_all_resources().await },
                |_, server, mut resource| {
                    resource.uri = names::prefixed_uri(server, &resource.uri);
                    resource.name = names::prefixed(server, &resource.name);
                    Some(resource)
                },
            )
            .await?;
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let templates = self
            .aggregate(
                &context,
                true,
                |peer| async move { peer.list_all_resource_templates().await },
                |_, server, mut template| {
                    template.uri_template = names::prefixed_uri(server, &template.uri_template);
                    template.name = names::prefixed(server, &template.name);
                    Some(template)
                },
            )
            .await?;
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let (exchange, upstream, server, own) = self
            .open(&context, "resource", &uri, names::split_uri, true)
            .await
            .map_err(stopped)?;
        let mut params = request.clone();
        params.uri = own.to_string();
        let result = exchange
            .upstream(
                upstream,
                |peer| async move { peer.read_resource(params).await },
            )
            .await
            .map_err(stopped)?;
        let mut body = exchange
            .check(server, own, Phase::Response, to_json(&result)?)
            .await
            .map_err(stopped)?;
        if let Some(contents) = body.get_mut("contents").and_then(Value::as_array_mut) {
            for item in contents {
                if let Some(Value::String(uri)) = item.get_mut("uri") {
                    *uri = names::prefixed_uri(server, uri);
                }
            }
        }
        exchange.succeeded();
        Ok(from_json::<ReadResourceResult>(body)?.into())
    }
}
