//! `/mcp` on the HTTP side: every request (POST, GET for the server's
//! stream, DELETE to end a session) needs a gateway key, as a chat request
//! does; a session belongs to the key that opened it, and is closed after
//! `[mcp] session_idle_s` without a request; past `[mcp] max_sessions` open
//! sessions, a new one is refused with a 503. Then rmcp's Streamable HTTP
//! service takes the request, with [`Authorized`] in its extensions for the
//! handler. Errors here are JSON-RPC error objects, as MCP clients expect.

use super::{Authorized, Hub};
use crate::gateway::Gateway;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// The MCP session header.
const SESSION_HEADER: &str = "mcp-session-id";

/// Serves one request to `/mcp`.
pub async fn serve(State(gateway): State<Arc<Gateway>>, mut request: Request) -> Response {
    let Some(hub) = gateway.mcp.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "this gateway has no MCP servers ([[mcp_servers]] in its config)",
        );
    };
    let headers = request.headers().clone();
    if gateway.keys.open_now().await
        && let Err(refused) = crate::auth::keyless::check(request.method(), request.uri(), &headers)
    {
        return error(refused.kind.status(), &refused.message);
    }
    let caller = match gateway.keys.authenticate(&headers).await {
        Ok(caller) => caller,
        Err(refused) => {
            let status = refused.kind.status();
            let mut response = error(status, &refused.message);
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return response;
        }
    };
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Err(refused) = hub
        .check_session(
            session.as_deref(),
            request.method(),
            caller.key_id.as_deref(),
        )
        .await
    {
        return refused;
    }
    let key_id = caller.key_id.clone();
    request.extensions_mut().insert(Authorized {
        gateway,
        caller,
        headers,
    });
    let response = hub.service.handle(request).await;
    if session.is_none()
        && let Some(id) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
    {
        hub.own(id, key_id).await;
    }
    response.map(Body::new)
}

impl Hub {
    /// Refuses a request in another key's session (404, as for a session
    /// that does not exist), and a new session past `max_sessions` (503).
    async fn check_session(
        &self,
        session: Option<&str>,
        method: &Method,
        key_id: Option<&str>,
    ) -> Result<(), Response> {
        if let Some(id) = session
            && !self.owned_by(id, key_id)
        {
            return Err(error(
                StatusCode::NOT_FOUND,
                "no such MCP session for this gateway key",
            ));
        }
        let opens = session.is_none() && method == Method::POST;
        if opens && self.open_sessions().await >= self.max_sessions {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the gateway has as many MCP sessions open as it allows ([mcp] max_sessions); try again later",
            ));
        }
        Ok(())
    }

    /// Whether session `id` may be used by key `key_id` (a session the
    /// gateway does not know is left to rmcp, which answers 404).
    fn owned_by(&self, id: &str, key_id: Option<&str>) -> bool {
        let owners = self.owners.lock().expect("session owners");
        owners
            .get(id)
            .is_none_or(|owner| owner.as_deref() == key_id)
    }

    /// Records that key `key_id` opened session `id`, and forgets the owners
    /// of sessions that ended.
    async fn own(&self, id: &str, key_id: Option<String>) {
        let open: Vec<String> = {
            let sessions = self.sessions.sessions.read().await;
            sessions.keys().map(|id| id.to_string()).collect()
        };
        let mut owners = self.owners.lock().expect("session owners");
        owners.insert(id.to_string(), key_id);
        if owners.len() > open.len() + 16 {
            owners.retain(|id, _| open.iter().any(|o| o == id));
        }
    }

    /// How many sessions are open.
    async fn open_sessions(&self) -> usize {
        self.sessions.sessions.read().await.len()
    }
}

/// A JSON-RPC error object with `status`.
fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32000, "message": message},
    });
    (status, axum::Json(body)).into_response()
}
