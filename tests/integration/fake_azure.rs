//! A fake Azure OpenAI resource, as strict as Azure about what it checks:
//! the `api-key` header (or an Entra ID bearer token, [`ENTRA_TOKEN`]), a
//! supported `api-version` on the deployment paths, and the deployment.
//!
//! Paths:
//! - `POST /openai/deployments/{deployment}/chat/completions?api-version=…`
//!   (the deployment names the model; the body's `model` is ignored);
//! - `POST /openai/v1/chat/completions` and `POST /openai/v1/responses` (the
//!   newer paths: no `api-version` needed, the body's `model` is the
//!   deployment).
//!
//! Errors are Azure's: 401 for a wrong key, 404 `Resource not found` for a
//! deployment path without `api-version`, 400 for a version it does not
//! support, 404 `DeploymentNotFound`, 429 with `Retry-After` for the
//! `throttled` deployment. Streams start, as Azure's do, with a chunk that
//! has no choices and the prompt's content-filter results.
//!
//! What a deployment says: "you said: <last user text>"; one whose name
//! contains `tool`, offered functions, calls the first, then answers "tool
//! said: <result>".

use super::mock_upstream::Received;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The resource's key.
pub const API_KEY: &str = "fake-azure-openai-key-0123456789";
/// An Entra ID access token the resource accepts.
pub const ENTRA_TOKEN: &str = "fake-entra-id-access-token";
/// The API versions the deployment paths accept.
pub const API_VERSIONS: &[&str] = &["2024-10-21", "2025-04-01-preview"];
/// The resource's deployments.
pub const DEPLOYMENTS: &[&str] = &["gpt-4o-prod", "gpt-4o-tool", "gpt-4o-leak", "throttled"];

/// A running fake.
#[derive(Clone)]
pub struct FakeAzure {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeAzure {
    /// Starts the fake.
    pub async fn start() -> FakeAzure {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = Router::new()
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(deployment_chat),
            )
            .route("/openai/v1/chat/completions", post(v1_chat))
            .route("/openai/v1/responses", post(v1_responses))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeAzure { addr, received }
    }

    /// The resource's URL, standing in for `https://<resource>.openai.azure.com`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request that passed the checks.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

type Shared = State<Arc<Mutex<Vec<Received>>>>;

/// An Azure error body.
fn azure_error(status: StatusCode, code: &str, message: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"error": {"code": code, "message": message}}).to_string(),
        ))
        .unwrap()
}

/// The key or token check, the deployment check, then the body.
fn admit(
    received: &Mutex<Vec<Received>>,
    deployment: Option<&str>,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, Box<Response>> {
    let key = headers.get("api-key").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(API_KEY) && bearer != Some(ENTRA_TOKEN) {
        return Err(Box::new(azure_error(
            StatusCode::UNAUTHORIZED,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
        )));
    }
    let body: Value = serde_json::from_slice(body).map_err(|_| {
        Box::new(azure_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "We could not parse the JSON body of your request.",
        ))
    })?;
    let deployment = deployment.or(body["model"].as_str()).unwrap_or("");
    if !DEPLOYMENTS.contains(&deployment) {
        return Err(Box::new(azure_error(
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
        )));
    }
    received.lock().unwrap().push(Received {
        path: uri.to_string(),
        headers: headers.clone(),
        body: body.clone(),
    });
    if deployment == "throttled" {
        return Err(Box::new(Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("content-type", "application/json")
            .header("retry-after", "6")
            .header("retry-after-ms", "6000")
            .body(Body::from(json!({"error": {"code": "429", "message":
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds."}}).to_string()))
            .unwrap()));
    }
    Ok(body)
}

/// The `api-version` check of the deployment paths: the refusal, if it fails.
fn version_refusal(query: &HashMap<String, String>) -> Option<Response> {
    match query.get("api-version") {
        None => Some(azure_error(
            StatusCode::NOT_FOUND,
            "404",
            "Resource not found",
        )),
        Some(version) if !API_VERSIONS.contains(&version.as_str()) => Some(azure_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "API version not supported",
        )),
        Some(_) => None,
    }
}

async fn deployment_chat(
    State(received): Shared,
    Path(deployment): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = version_refusal(&query) {
        return refusal;
    }
    match admit(&received, Some(&deployment), &uri, &headers, &body) {
        Ok(body) => chat(&deployment, &body),
        Err(refusal) => *refusal,
    }
}

async fn v1_chat(
    State(received): Shared,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&received, None, &uri, &headers, &body) {
        Ok(body) => chat(body["model"].as_str().unwrap_or(""), &body),
        Err(refusal) => *refusal,
    }
}

async fn v1_responses(
    State(received): Shared,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match admit(&received, None, &uri, &headers, &body) {
        Ok(body) => responses(body["model"].as_str().unwrap_or(""), &body),
        Err(refusal) => *refusal,
    }
}

/// Content-filter results with nothing filtered, as Azure attaches them.
fn filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

/// What a Chat Completions request is answered: text, or a call.
fn chat_reply(deployment: &str, body: &Value) -> Result<String, (String, String)> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let text = match &last["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    };
    if last["role"] == "tool" {
        return Ok(format!("tool said: {text}"));
    }
    match body["tools"][0]["function"]["name"].as_str() {
        Some(name) if deployment.contains("tool") => {
            Err((name.to_string(), json!({ "input": text }).to_string()))
        }
        _ => Ok(super::fake_claude::reply(deployment, &text)),
    }
}

fn sse_response(events: Vec<String>) -> Response {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(body))
        .unwrap()
}

/// A Chat Completions answer, whole or streamed.
fn chat(deployment: &str, body: &Value) -> Response {
    let model = "gpt-4o-2024-11-20";
    let usage = json!({"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17});
    let reply = chat_reply(deployment, body);
    if body["stream"] != true {
        let (message, finish) = match &reply {
            Ok(text) => (json!({"role": "assistant", "content": text}), "stop"),
            Err((name, arguments)) => (
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_fake_1",
                    "type": "function", "function": {"name": name, "arguments": arguments}}]}),
                "tool_calls",
            ),
        };
        let answer = json!({"id": "chatcmpl-fake1", "object": "chat.completion", "created": 1,
            "model": model, "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}],
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": null, "content_filter_results": filter_results()}],
            "usage": usage, "system_fingerprint": "fp_fake"});
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(answer.to_string()))
            .unwrap();
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": 1, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
        .to_string()
    };
    let mut events = vec![
        json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}]})
        .to_string(),
    ];
    events.push(chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    let finish = match &reply {
        Ok(text) => {
            for word in text.split_inclusive(' ') {
                events.push(chunk(json!({ "content": word }), Value::Null));
            }
            "stop"
        }
        Err((name, arguments)) => {
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in arguments.as_bytes().chunks(6) {
                events.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function":
                    {"arguments": String::from_utf8_lossy(piece)}}]}),
                    Value::Null,
                ));
            }
            "tool_calls"
        }
    };
    events.push(chunk(json!({}), json!(finish)));
    if body["stream_options"]["include_usage"] == true {
        events.push(
            json!({"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": 1,
                           "model": model, "choices": [], "usage": usage})
            .to_string(),
        );
    }
    events.push("[DONE]".into());
    sse_response(events)
}

/// A Responses answer (text only), whole or streamed.
fn responses(deployment: &str, body: &Value) -> Response {
    let text = match &body["input"] {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .last()
            .and_then(|item| match &item["content"] {
                Value::String(text) => Some(text.clone()),
                Value::Array(parts) => {
                    Some(parts.iter().filter_map(|p| p["text"].as_str()).collect())
                }
                _ => None,
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    let reply = super::fake_claude::reply(deployment, &text);
    let message = json!({"type": "message", "id": "msg_fake_1", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": reply, "annotations": []}]});
    let response = json!({"id": "resp_fake_1", "object": "response", "created_at": 1, "status": "completed",
        "model": deployment, "output": [message],
        "usage": {"input_tokens": 9, "output_tokens": 5, "total_tokens": 14}});
    if body["stream"] != true {
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(response.to_string()))
            .unwrap();
    }
    let mut created = response.clone();
    created["status"] = json!("in_progress");
    created["output"] = json!([]);
    let kinds = [
        ("response.created", json!({ "response": created })),
        (
            "response.output_item.added",
            json!({"output_index": 0, "item":
            {"type": "message", "id": "msg_fake_1", "status": "in_progress", "role": "assistant", "content": []}}),
        ),
        (
            "response.content_part.added",
            json!({"output_index": 0, "item_id": "msg_fake_1", "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
        (
            "response.output_text.delta",
            json!({"output_index": 0, "item_id": "msg_fake_1", "content_index": 0, "delta": reply}),
        ),
        (
            "response.output_text.done",
            json!({"output_index": 0, "item_id": "msg_fake_1", "content_index": 0, "text": reply}),
        ),
        (
            "response.content_part.done",
            json!({"output_index": 0, "item_id": "msg_fake_1", "content_index": 0,
            "part": {"type": "output_text", "text": reply, "annotations": []}}),
        ),
        (
            "response.output_item.done",
            json!({"output_index": 0, "item": message}),
        ),
        ("response.completed", json!({ "response": response })),
    ];
    let body: String = kinds
        .into_iter()
        .enumerate()
        .map(|(n, (kind, mut data))| {
            data["type"] = json!(kind);
            data["sequence_number"] = json!(n);
            format!("event: {kind}\ndata: {data}\n\n")
        })
        .collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(body))
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_body(text: &str) -> Value {
        json!({"messages": [{"role": "user", "content": text}]})
    }

    /// Posts `body` to `url` with one auth header.
    async fn post(url: &str, auth: (&str, &str), body: &Value) -> reqwest::Response {
        crate::support::http_client()
            .post(url)
            .header(auth.0, auth.1)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    const KEY: (&str, &str) = ("api-key", API_KEY);

    #[tokio::test]
    async fn a_deployment_path_needs_the_key_and_a_supported_api_version() {
        let fake = FakeAzure::start().await;
        let path = format!(
            "{}/openai/deployments/gpt-4o-prod/chat/completions",
            fake.url()
        );
        let current = format!("{path}?api-version=2024-10-21");
        let ok = post(&current, KEY, &chat_body("hi azure")).await;
        assert_eq!(ok.status(), 200);
        let answer: Value = ok.json().await.unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "you said: hi azure"
        );
        let no_version = post(&path, KEY, &chat_body("x")).await;
        assert_eq!(no_version.status(), 404);
        let old = post(
            &format!("{path}?api-version=2023-01-01"),
            KEY,
            &chat_body("x"),
        )
        .await;
        assert_eq!(old.status(), 400);
        let wrong_key = post(&current, ("api-key", "wrong"), &chat_body("x")).await;
        assert_eq!(wrong_key.status(), 401);
        let bearer = format!("Bearer {API_KEY}");
        let openai_style = post(&current, ("authorization", &bearer), &chat_body("x")).await;
        assert_eq!(
            openai_style.status(),
            401,
            "the key goes in api-key, not a bearer"
        );
        assert_eq!(fake.received().len(), 1);
    }

    #[tokio::test]
    async fn the_v1_paths_take_an_entra_token_and_the_deployment_as_model() {
        let fake = FakeAzure::start().await;
        let chat = format!("{}/openai/v1/chat/completions", fake.url());
        let entra = format!("Bearer {ENTRA_TOKEN}");
        let mut body = chat_body("hello");
        body["model"] = json!("gpt-4o-prod");
        let ok = post(&chat, ("authorization", &entra), &body).await;
        assert_eq!(ok.status(), 200);
        body["model"] = json!("gpt-5-unknown");
        let missing = post(&chat, ("authorization", &entra), &body).await;
        assert_eq!(missing.status(), 404);
        let responses = post(
            &format!("{}/openai/v1/responses", fake.url()),
            KEY,
            &json!({"model": "gpt-4o-prod", "input": "hey", "stream": true}),
        )
        .await;
        let text = responses.text().await.unwrap();
        assert!(text.starts_with("event: response.created\n"), "{text}");
        assert!(text.contains("you said: hey"));
    }

    #[tokio::test]
    async fn throttling_says_when_to_retry() {
        let fake = FakeAzure::start().await;
        let url = format!(
            "{}/openai/deployments/throttled/chat/completions?api-version=2024-10-21",
            fake.url()
        );
        let response = post(&url, KEY, &chat_body("x")).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "6");
    }

    #[tokio::test]
    async fn a_stream_opens_with_the_prompt_filter_chunk_and_ends_with_usage() {
        let fake = FakeAzure::start().await;
        let mut body = chat_body("a b");
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let url = format!(
            "{}/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
            fake.url()
        );
        let text = post(&url, KEY, &body).await.text().await.unwrap();
        let events: Vec<&str> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .collect();
        let first: Value = serde_json::from_str(events[0]).unwrap();
        assert_eq!(first["choices"], json!([]));
        assert!(first["prompt_filter_results"].is_array());
        assert_eq!(events.last(), Some(&"[DONE]"));
        assert!(events[events.len() - 2].contains("\"usage\""));
    }
}
