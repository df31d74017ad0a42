//! A test MCP server behind the gateway: rmcp's own server (the official
//! Rust SDK) over Streamable HTTP on a loopback port, with tools that echo,
//! return a secret, return an e-mail address, fail and hang, a prompt and a
//! resource. It checks the credentials the gateway must send it, and keeps
//! the arguments it received so a test can see what reached it.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, ListPromptsResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, Prompt, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A GitHub token the `secrets` guardrail redacts.
pub const SECRET: &str = "ghp_FaKeA01yFdxCN4ki6E2UVnj4dfxo5NAPN5WY";
/// An e-mail address the `pii` guardrail redacts.
pub const EMAIL: &str = "jane.doe@example.com";
/// The credential the gateway must send (from its config, never the client).
pub const UPSTREAM_TOKEN: &str = "upstream-credential-1234";

/// A running test MCP server.
pub struct MockMcp {
    /// Its endpoint, `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// The arguments of every tool call it received.
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl MockMcp {
    /// Starts a server whose tools are described as `name`'s.
    pub async fn start(name: &'static str) -> MockMcp {
        let received = Arc::new(Mutex::new(Vec::new()));
        let tools = Tools {
            name,
            received: received.clone(),
        };
        let service: StreamableHttpService<Tools, LocalSessionManager> = StreamableHttpService::new(
            move || Ok(tools.clone()),
            Default::default(),
            StreamableHttpServerConfig::default(),
        );
        let app = axum::Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn(require_token));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        MockMcp {
            url: format!("http://{addr}/mcp"),
            received,
        }
    }

    /// The `(tool, arguments)` of every call received so far.
    pub fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }

    /// The `[[mcp_servers]]` entry for this server under `id`.
    pub fn config(&self, id: &str) -> String {
        format!(
            "[[mcp_servers]]\nid = \"{id}\"\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer {UPSTREAM_TOKEN}\" }}\ntimeout_s = 2\n",
            self.url
        )
    }
}

/// Refuses a request without the upstream credential, as a real server does.
async fn require_token(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let expected = format!("Bearer {UPSTREAM_TOKEN}");
    let authorized = request
        .headers()
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        return (axum::http::StatusCode::UNAUTHORIZED, "bad credential").into_response();
    }
    next.run(request).await
}

use axum::response::IntoResponse;

#[derive(Clone)]
struct Tools {
    name: &'static str,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

fn tool(name: &'static str, description: &'static str) -> Tool {
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
    Tool::new(
        name,
        description,
        Arc::new(schema.as_object().unwrap().clone()),
    )
}

fn text(result: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(result)])
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(vec![
            tool("echo", "Returns its text argument"),
            tool("secret", "Returns a file holding a token"),
            tool("email", "Returns a customer's record"),
            tool("fail", "Always fails"),
            tool("hang", "Never answers"),
            tool(
                "progress",
                "Reports progress (naming a customer), then answers",
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        self.received
            .lock()
            .unwrap()
            .push((request.name.to_string(), arguments.clone()));
        let said = arguments["text"].as_str().unwrap_or_default().to_string();
        let result = match &*request.name {
            "echo" => text(format!("{}: {said}", self.name)),
            "secret" => text(format!("GITHUB_TOKEN={SECRET}\n")),
            "email" => text(format!("customer: {EMAIL}")),
            "fail" => CallToolResult::error(vec![ContentBlock::text("the tool failed")]),
            "progress" => {
                if let Some(token) = context.meta.get_progress_token() {
                    let step = ProgressNotificationParam::new(token, 1.0)
                        .with_total(2.0)
                        .with_message(format!("halfway, found {EMAIL}"));
                    context.peer.notify_progress(step).await.unwrap();
                    // A tool reports progress while it works: the answer
                    // comes later, not in the same instant.
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                text("done".into())
            }
            "hang" => {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                text(String::new())
            }
            other => return Err(McpError::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("A greeting"),
            None,
        )]))
    }

    async fn get_prompt(
        &self,
        _request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("write to {EMAIL}"),
        )])
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            "file:///notes.txt",
            "notes",
        )]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            format!("token {SECRET}"),
            request.uri,
        )])
        .into())
    }
}
