//! The HTTP surface: routes, and the wire formats they speak.
//!
//! | route | API |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI Chat Completions (streaming and not) |
//! | `GET /v1/models` | OpenAI or Anthropic model list (by the client's headers; [`models`]) |
//! | `POST /v1/embeddings` | OpenAI embeddings (auth, scope, limits, request guardrails, usage, audit) |
//! | `POST /v1/responses` | OpenAI Responses (streaming and not), through the chat phases |
//! | `GET`, `DELETE /v1/responses/{id}` | a response sluice kept (for `previous_response_id`), for the key that made it |
//! | `GET /v1/responses/{id}/input_items` | the input items of a response sluice kept, paged as OpenAI pages them |
//! | `POST /v1/messages` | Anthropic Messages (streaming and not; `?beta=true` accepted) |
//! | `POST /v1/messages/count_tokens` | Anthropic token counting (the same phases; no cost) |
//! | `POST /messages`, `/messages/count_tokens` | the same, for clients given the root URL as an Anthropic base URL |
//! | `POST`, `GET`, `DELETE /mcp` | the MCP gateway (Streamable HTTP; [`crate::mcp`]) |
//! | `HEAD /` | 200, without auth: Claude Code's probe |
//! | `GET /health` | liveness: the process answers |
//! | `GET /ready` | readiness: 200 when it can serve (state store reachable), else 503 |
//! | `GET /metrics` | Prometheus metrics ([`crate::telemetry::metrics`]) |
//! | `GET /admin/audit`, `/admin/audit/verify` | the audit trail, with the admin key ([`admin`]) |
//! | `GET /admin/usage` | usage and cost totals, with the admin key |
//! | `/admin/keys...` | managed gateway keys, with the admin key ([`admin_keys`]) |
//! | `GET /admin/overview`, `/admin/providers` | traffic, latency, usage and cost over a range ([`admin_overview`]) |
//! | `GET /admin/budgets` | budgets and rate limits against their limits ([`admin_budgets`]) |
//! | `GET /admin/requests` | the last requests, live ([`admin_requests`]) |
//! | `GET /admin/guardrails` | guardrail hits per rule and over time ([`admin_guardrails`]) |
//! | `/console...` | the web console, over the admin API ([`crate::console`]) |

pub mod admin;
pub mod admin_budgets;
pub mod admin_guardrails;
pub mod admin_keys;
pub mod admin_overview;
pub mod admin_query;
pub mod admin_requests;
pub mod catch_panic;
pub mod error;
pub mod header_limits;
pub mod json_check;
pub mod models;
pub mod segments;
pub mod shallow;
pub mod splice;
pub mod sse;
pub mod stream;

use crate::gateway::Gateway;
use crate::pipeline;
use crate::pipeline::forward::Endpoint;
use crate::pipeline::responses::StoredAction;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, head, post};
use error::{Api, ApiError, ErrorKind};
use serde_json::json;
use std::sync::Arc;
use tower::ServiceExt;

/// The gateway's HTTP app: [`router`]'s routes, with the chat routes (nearly
/// all of a gateway's traffic) handed to their handler directly. They pass
/// the same front door and the same handler as through the router, without
/// its per-request work (path matching, extensions, boxed service clones).
#[derive(Clone)]
pub struct App {
    gateway: Arc<Gateway>,
    router: Router,
}

impl App {
    /// The app of `gateway`.
    pub fn new(gateway: Arc<Gateway>) -> App {
        App {
            router: router(gateway.clone()),
            gateway,
        }
    }

    /// Answers `request`.
    pub async fn serve(self, request: Request) -> Response {
        let App { gateway, router } = self;
        match chat_route(&request) {
            Some(api) => {
                front_door_then(gateway.clone(), api, request, move |request| {
                    chat(gateway, api, request)
                })
                .await
            }
            None => match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
        }
    }
}

/// The app as a tower service, to call in-process (`oneshot`) as a
/// [`Router`] is called.
impl tower::Service<Request> for App {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let app = self.clone();
        Box::pin(async move { Ok(app.serve(request).await) })
    }
}

/// The API of a chat request (`POST` to one of the chat routes of [`router`],
/// the query aside), which [`App::serve`] hands to its handler directly.
fn chat_route(request: &Request) -> Option<Api> {
    if request.method() != axum::http::Method::POST {
        return None;
    }
    match request.uri().path() {
        "/v1/chat/completions" => Some(Api::OpenAi),
        "/v1/messages" | "/messages" => Some(Api::Anthropic),
        _ => None,
    }
}

/// The gateway's routes, behind one layer every request passes
/// ([`front_door`]), which does, in this order:
///
/// 1. [`catch_panic`]: a panic anywhere below becomes a 500 in the caller's
///    format.
/// 2. [`header_limits`]: too many or too large headers, a 431.
/// 3. [`keyless_guard`]: without gateway keys, only local programs may call
///    the API (403, 415).
///
/// Then the route's handler: [`pipeline`] writes down the phases of a chat
/// request.
///
/// A known route called with another method gets a 405, an unknown one a 404,
/// both in the caller's format.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let routes = Router::new()
        .route("/v1/chat/completions", post(openai_chat))
        .route("/v1/models", get(models::list))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/messages", post(anthropic_messages))
        .route("/v1/responses", post(openai_responses))
        .route(
            "/v1/responses/{id}",
            get(stored_response).delete(delete_stored_response),
        )
        .route("/v1/responses/{id}/input_items", get(stored_input_items))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/mcp", any(crate::mcp::serve))
        // Clients on the Vercel AI SDK (Cline's Anthropic provider, opencode)
        // post to `BASE/messages`; given the root URL, to `/messages`.
        .route("/messages", post(anthropic_messages))
        .route("/messages/count_tokens", post(count_tokens))
        // Claude Code's probe before its first call; no auth, no body.
        .route("/", head(|| async { StatusCode::OK }))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/audit/verify", get(admin::audit_verify))
        .route("/admin/usage", get(admin::usage))
        .route("/admin/overview", get(admin_overview::overview))
        .route("/admin/providers", get(admin_overview::providers))
        .route("/admin/budgets", get(admin_budgets::budgets))
        .route("/admin/requests", get(admin_requests::requests))
        .route("/admin/guardrails", get(admin_guardrails::guardrails))
        .route(
            "/admin/keys",
            get(admin_keys::list).post(admin_keys::create),
        )
        .route(
            "/admin/keys/{id}",
            get(admin_keys::show)
                .patch(admin_keys::update)
                .delete(admin_keys::revoke),
        )
        .route("/admin/keys/{id}/rotate", post(admin_keys::rotate))
        .merge(crate::console::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found);
    routes
        .layer(middleware::from_fn_with_state(gateway.clone(), front_door))
        .with_state(gateway)
}

/// The layer of [`router`]: its three steps in one (one layer costs a
/// service clone and a boxed future per request).
async fn front_door(
    State(gateway): State<Arc<Gateway>>,
    request: Request,
    next: middleware::Next,
) -> Response {
    let api = api_of_request(&request);
    front_door_then(gateway, api, request, |request| next.run(request)).await
}

/// [`front_door`]'s three steps for a request of `api`, then `handler`.
async fn front_door_then<F, H>(
    gateway: Arc<Gateway>,
    api: Api,
    request: Request,
    handler: H,
) -> Response
where
    H: FnOnce(Request) -> F,
    F: Future<Output = Response>,
{
    let uri = request.uri().clone();
    catch_panic::or_500(api, uri, async move {
        if let Err(message) = header_limits::check(request.headers()) {
            return ApiError::new(ErrorKind::HeadersTooLarge, message).render(api);
        }
        let path = request.uri().path();
        let api_route = path.starts_with("/v1/") || path.starts_with("/messages");
        if api_route
            && gateway.keys.open_now().await
            && let Some(refused) = keyless_guard(&request, api)
        {
            return refused;
        }
        handler(request).await
    })
    .await
}

/// Which API a request speaks: its route's, else its headers' ([`api_of`]).
pub(crate) fn api_of_request(request: &Request) -> Api {
    match request.uri().path() {
        "/v1/chat/completions" | "/v1/embeddings" => Api::OpenAi,
        path if path.starts_with("/v1/messages") || path.starts_with("/messages") => Api::Anthropic,
        _ => api_of(request.headers()),
    }
}

/// Without gateway keys, an API request must come from a program on this
/// machine ([`crate::auth::keyless`]); else its refusal, in `api`'s format.
fn keyless_guard(request: &Request, api: Api) -> Option<Response> {
    crate::auth::keyless::check(request.method(), request.uri(), request.headers())
        .err()
        .map(|error| error.render(api))
}

async fn method_not_allowed(request: Request) -> Response {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!(
            "{} does not take {} requests",
            request.uri().path(),
            request.method()
        ),
    )
    .render(api_of_request(&request))
}

/// `/ready`: whether this gateway can serve now: its state store answers
/// (budgets and rate limits are checked there on every request).
async fn ready(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.governance.state().ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "unavailable", "reason": format!("{e:#}")})),
        )
            .into_response(),
    }
}

/// `/metrics`: every metric, in the OpenMetrics text format Prometheus reads.
async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    if !gateway.config.metrics.enabled {
        return not_found_text();
    }
    let live = crate::telemetry::metrics::Live {
        segment_cache: gateway.guardrails.cache().map(|c| c.stats()),
        open_circuits: gateway.routing.breakers.open_circuits(),
    };
    let text = gateway.metrics.render(live);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn not_found_text() -> Response {
    (
        StatusCode::NOT_FOUND,
        "metrics are off ([metrics] enabled = false)\n",
    )
        .into_response()
}

/// Which API a request on a shared route speaks, from its headers.
fn api_of(headers: &HeaderMap) -> Api {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        Api::Anthropic
    } else {
        Api::OpenAi
    }
}

/// How much of an oversized body is read and thrown away before answering 413,
/// so that the client, still sending, receives the error rather than a reset.
const DRAIN_LIMIT: usize = 64 << 20;

/// Reads a body up to the configured limit; over it, a 413 in the API's format.
/// Called only after the caller is authenticated.
pub(crate) async fn read_body(gateway: &Gateway, mut body: Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let limit = gateway.limits.max_body;
    let announced = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
    let mut collected = crate::body_bytes::BodyBytes::expecting(
        usize::try_from(announced).unwrap_or(limit).min(limit),
    );
    let mut discarded = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                ErrorKind::InvalidRequest,
                format!("could not read the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if discarded == 0 && collected.len() + data.len() <= limit {
            collected.push(data);
            continue;
        }
        discarded += collected.len() + data.len();
        collected.clear();
        if discarded > DRAIN_LIMIT {
            break;
        }
    }
    if discarded > 0 {
        return Err(ApiError::new(
            ErrorKind::TooLarge,
            format!(
                "the request body is larger than the limit of {} MiB (server.max_body_mb)",
                limit >> 20
            ),
        ));
    }
    Ok(collected.finish())
}

async fn chat(gateway: Arc<Gateway>, api: Api, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Not boxed here: the pipeline boxes the kilobytes of its request's
    // future itself (`pipeline::chat`), so what the router's layers move is
    // small.
    pipeline::chat(gateway, api, parts.headers, body).await
}

async fn openai_chat(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    chat(gateway, Api::OpenAi, request).await
}

async fn anthropic_messages(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    chat(gateway, Api::Anthropic, request).await
}

/// A response sluice kept ([`pipeline::responses::stored`]).
async fn stored_response(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    pipeline::responses::stored(gateway, StoredAction::Get, id, headers).await
}

/// The input items of a response sluice kept ([`pipeline::responses::stored`]).
async fn stored_input_items(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let action = StoredAction::InputItems(query);
    pipeline::responses::stored(gateway, action, id, headers).await
}

/// Forgets a response sluice kept ([`pipeline::responses::stored`]).
async fn delete_stored_response(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    pipeline::responses::stored(gateway, StoredAction::Delete, id, headers).await
}

/// The Responses API, through the chat phases ([`pipeline::responses`]).
async fn openai_responses(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    Box::pin(pipeline::responses::responses(gateway, parts.headers, body)).await
}

/// Embeddings: the same phases as chat ([`pipeline::forward`]).
async fn embeddings(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward::forward(gateway, Endpoint::Embeddings, parts.headers, body).await
}

/// Token counting: the same phases as chat, counted as a request with no
/// cost; the echo provider estimates (four bytes a token).
async fn count_tokens(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    pipeline::forward::forward(gateway, Endpoint::CountTokens, parts.headers, body).await
}

async fn not_found(request: Request) -> Response {
    let api = api_of(request.headers());
    ApiError::new(
        ErrorKind::NotFound,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
    .render(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_posts_to_the_chat_routes_skip_the_router() {
        let request = |method: &str, uri: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap()
        };
        let chat = |method, uri| chat_route(&request(method, uri));
        assert_eq!(chat("POST", "/v1/chat/completions"), Some(Api::OpenAi));
        assert_eq!(chat("POST", "/v1/messages?beta=true"), Some(Api::Anthropic));
        assert_eq!(chat("POST", "/messages"), Some(Api::Anthropic));
        // the router answers the rest: other methods (405), other routes
        assert_eq!(chat("GET", "/v1/chat/completions"), None);
        assert_eq!(chat("POST", "/v1/messages/count_tokens"), None);
        assert_eq!(chat("POST", "/v1/chat/completions/"), None);
        assert_eq!(chat("POST", "/v1/responses"), None);
    }
}
