//! A fake Gemini API (`generativelanguage.googleapis.com`), as strict as the
//! real one about what it checks: the API key, from the `x-goog-api-key`
//! header or the `key` query parameter (a wrong one is Google's 400
//! `API_KEY_INVALID`, none is 403 `PERMISSION_DENIED`); a body with fields
//! Gemini does not have (`model`, `stream`, …) is 400 `INVALID_ARGUMENT`; a
//! call in the history without the thought signature the fake gave it (or
//! Google's documented `skip_thought_signature_validator`) is refused, as
//! Gemini 3 refuses it.
//!
//! `POST /v1beta/models/{model}:generateContent` answers whole;
//! `:streamGenerateContent?alt=sse` answers in SSE chunks (without `alt=sse`,
//! as one JSON array, as the real API does).
//!
//! What the model says ([`answer`], [`chunks`], shared with
//! [`super::fake_vertex`] for Gemini on Vertex): "you said: <last user
//! text>"; for a model whose name contains `tool`, offered functions, a call
//! of the first one, signed [`THOUGHT_SIGNATURE`], then "tool said:
//! <result>"; `blocked` blocks the prompt (`SAFETY`); `throttled` answers 429
//! `RESOURCE_EXHAUSTED`.

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

/// The test's API key.
pub const API_KEY: &str = "fake-gemini-api-key-for-tests";
/// The signature the fake puts on its calls, and wants back.
pub const THOUGHT_SIGNATURE: &str = "fake-gemini-thought-signature";
/// The signature Google documents as accepted for a call whose own was lost.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";
/// The request fields Gemini knows; anything else is refused.
const FIELDS: &[&str] = &[
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
    "labels",
];

/// A running fake.
#[derive(Clone)]
pub struct FakeGemini {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeGemini {
    /// Starts the fake.
    pub async fn start() -> FakeGemini {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = Router::new()
            .route("/v1beta/models/{call}", post(call))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGemini { addr, received }
    }

    /// The base URL, standing in for `https://generativelanguage.googleapis.com`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request that passed the key check.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A Google API error.
pub fn google_error(
    status: StatusCode,
    code: &str,
    message: &str,
    reason: Option<&str>,
) -> Response {
    let mut error = json!({"code": status.as_u16(), "message": message, "status": code});
    if let Some(reason) = reason {
        error["details"] = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                   "reason": reason, "domain": "googleapis.com"}]);
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Body::from(json!({ "error": error }).to_string()))
        .unwrap()
}

async fn call(
    State(received): State<Arc<Mutex<Vec<Received>>>>,
    Path(call): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .or(query.get("key").map(String::as_str));
    match key {
        None => {
            return google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                None,
            );
        }
        Some(key) if key != API_KEY => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                Some("API_KEY_INVALID"),
            );
        }
        Some(_) => {}
    }
    let (model, method, body) = match parse_call(&call, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => return *refusal,
    };
    received.lock().unwrap().push(Received {
        path: uri.to_string(),
        headers,
        body: body.clone(),
    });
    respond(model, method, query.get("alt").map(String::as_str), &body)
}

/// A `{model}:{method}` path segment and a JSON body, or Google's refusal.
pub fn parse_call<'a>(
    call: &'a str,
    body: &[u8],
) -> Result<(&'a str, &'a str, Value), Box<Response>> {
    let Some((model, method)) = call.split_once(':') else {
        return Err(Box::new(google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Not found",
            None,
        )));
    };
    let body = serde_json::from_slice::<Value>(body).map_err(|_| {
        Box::new(google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            None,
        ))
    })?;
    Ok((model, method, body))
}

/// The answer to a checked `generateContent` or `streamGenerateContent`
/// call (also Gemini on Vertex's).
pub fn respond(model: &str, method: &str, alt: Option<&str>, body: &Value) -> Response {
    if let Some(refusal) = check_body(body) {
        return refusal;
    }
    if model == "throttled" {
        return google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            None,
        );
    }
    match method {
        "generateContent" => Response::builder()
            .header("content-type", "application/json; charset=UTF-8")
            .body(Body::from(answer(model, body).to_string()))
            .unwrap(),
        "streamGenerateContent" if alt == Some("sse") => {
            let events: Vec<Result<String, std::io::Error>> = chunks(model, body)
                .into_iter()
                .map(|chunk| Ok(format!("data: {chunk}\r\n\r\n")))
                .collect();
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(futures_util::stream::iter(events)))
                .unwrap()
        }
        "streamGenerateContent" => Response::builder()
            .header("content-type", "application/json; charset=UTF-8")
            .body(Body::from(Value::Array(chunks(model, body)).to_string()))
            .unwrap(),
        _ => google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Method not found.",
            None,
        ),
    }
}

/// Gemini's refusal of a body it would refuse.
fn check_body(body: &Value) -> Option<Response> {
    let invalid = |message: String| {
        Some(google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            &message,
            None,
        ))
    };
    for key in body.as_object().into_iter().flat_map(|o| o.keys()) {
        if !FIELDS.contains(&key.as_str()) {
            return invalid(format!(
                "Invalid JSON payload received. Unknown name \"{key}\": Cannot find field."
            ));
        }
    }
    if body["contents"].as_array().is_none_or(|c| c.is_empty()) {
        return invalid("* GenerateContentRequest.contents: contents is not specified".into());
    }
    for (i, content) in body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, part) in content["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ours = part["functionCall"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("fake-call-"));
            let signature = part["thoughtSignature"].as_str();
            if ours && !matches!(signature, Some(THOUGHT_SIGNATURE | SKIP_SIGNATURE)) {
                return invalid(format!(
                    "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                    part["functionCall"]["name"].as_str().unwrap_or(""),
                    i * 100 + j + 1
                ));
            }
        }
    }
    None
}

/// The last user turn: its text, and the function response it carries.
fn last_turn(body: &Value) -> (String, Option<String>) {
    let parts = body["contents"]
        .as_array()
        .and_then(|c| c.last())
        .and_then(|c| c["parts"].as_array())
        .cloned()
        .unwrap_or_default();
    let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    let result = parts.iter().find_map(|p| {
        let response = &p.get("functionResponse")?["response"];
        Some(match response.get("result").and_then(Value::as_str) {
            Some(result) => result.to_string(),
            None => response.to_string(),
        })
    });
    (text.join(" "), result)
}

/// The answer's parts and finish reason (`None`: the prompt is blocked).
fn parts(model: &str, body: &Value) -> Option<Vec<Value>> {
    if model == "blocked" {
        return None;
    }
    let (text, result) = last_turn(body);
    if let Some(result) = result {
        return Some(vec![json!({"text": format!("tool said: {result}")})]);
    }
    let function = body["tools"][0]["functionDeclarations"][0]["name"].as_str();
    if let (true, Some(name)) = (model.contains("tool"), function) {
        return Some(vec![
            json!({"functionCall": {"id": "fake-call-1", "name": name,
                                                 "args": {"input": text}},
                                "thoughtSignature": THOUGHT_SIGNATURE}),
        ]);
    }
    Some(vec![
        json!({ "text": super::fake_claude::reply(model, &text) }),
    ])
}

fn usage(body: &Value) -> Value {
    let prompt = body.to_string().split_whitespace().count() + 3;
    json!({"promptTokenCount": prompt, "candidatesTokenCount": 6, "totalTokenCount": prompt + 6})
}

/// A whole `generateContent` answer.
pub fn answer(model: &str, body: &Value) -> Value {
    match parts(model, body) {
        None => json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(body),
                       "modelVersion": model, "responseId": "fake-response-1"}),
        Some(parts) => json!({
            "candidates": [{"content": {"role": "model", "parts": parts},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage(body), "modelVersion": model, "responseId": "fake-response-1"
        }),
    }
}

/// The chunks of a streamed answer: texts word by word, a call whole, the
/// finish reason and usage on the last.
pub fn chunks(model: &str, body: &Value) -> Vec<Value> {
    let chunk = |parts: Vec<Value>| {
        json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
               "modelVersion": model, "responseId": "fake-response-1"})
    };
    let Some(parts) = parts(model, body) else {
        return vec![answer(model, body)];
    };
    let mut chunks: Vec<Value> = Vec::new();
    for part in parts {
        match part["text"].as_str() {
            Some(text) => chunks.extend(
                text.split_inclusive(' ')
                    .map(|word| chunk(vec![json!({ "text": word })])),
            ),
            None => chunks.push(chunk(vec![part])),
        }
    }
    if let Some(last) = chunks.last_mut() {
        last["candidates"][0]["finishReason"] = json!("STOP");
        last["usageMetadata"] = usage(body);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::api::sse::SseParser;
    use sluice::canonical::{Dialect, Event, Part, Role, Turn};
    use sluice::codec;

    fn body(text: &str) -> Value {
        json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
    }

    #[tokio::test]
    async fn the_key_goes_in_a_header_or_the_query_and_a_wrong_one_is_refused() {
        let fake = FakeGemini::start().await;
        let client = crate::support::http_client();
        let url = format!(
            "{}/v1beta/models/gemini-2.5-flash:generateContent",
            fake.url()
        );
        let by_header = client
            .post(&url)
            .header("x-goog-api-key", API_KEY)
            .json(&body("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(by_header.status(), 200);
        let answer: Value = by_header.json().await.unwrap();
        assert_eq!(
            answer["candidates"][0]["content"]["parts"][0]["text"],
            "you said: hi"
        );
        let by_query = client
            .post(format!("{url}?key={API_KEY}"))
            .json(&body("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(by_query.status(), 200);
        let wrong = client
            .post(&url)
            .header("x-goog-api-key", "wrong")
            .json(&body("hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 400);
        let error: Value = wrong.json().await.unwrap();
        assert_eq!(error["error"]["details"][0]["reason"], "API_KEY_INVALID");
        let none = client.post(&url).json(&body("hi")).send().await.unwrap();
        assert_eq!(none.status(), 403);
        assert_eq!(fake.received().len(), 2);
    }

    #[tokio::test]
    async fn a_codec_encoded_tool_round_trip_keeps_the_signature_gemini_wants_back() {
        let fake = FakeGemini::start().await;
        let client = crate::support::http_client();
        let url = format!(
            "{}/v1beta/models/gemini-3-pro-tool:generateContent",
            fake.url()
        );
        let mut request = codec::decode_request(
            Dialect::Gemini,
            &json!({"contents": [{"role": "user", "parts": [{"text": "list it"}]}],
                    "tools": [{"functionDeclarations": [{"name": "ls", "parameters": {"type": "object"}}]}]}),
        );
        let post = |body: Value| {
            client
                .post(&url)
                .header("x-goog-api-key", API_KEY)
                .json(&body)
                .send()
        };
        let first = post(codec::encode_request(
            Dialect::Gemini,
            &request,
            Default::default(),
        ))
        .await
        .unwrap();
        let answer = codec::decode_answer(Dialect::Gemini, &first.json().await.unwrap());
        let call_id = answer
            .parts
            .iter()
            .find_map(|p| match p {
                Part::ToolCall { id, .. } => Some(id.clone()),
                _ => None,
            })
            .expect("a call");
        request.turns.push(Turn {
            role: Role::Assistant,
            parts: answer.parts.clone(),
        });
        request.turns.push(Turn {
            role: Role::User,
            parts: vec![Part::ToolResult {
                call_id: call_id.clone(),
                content: "a.txt".into(),
                is_error: false,
            }],
        });
        // Through the Messages codec and back, as a Messages client carries it.
        let messages = codec::encode_request(Dialect::Messages, &request, Default::default());
        let request = codec::decode_request(Dialect::Messages, &messages);
        let second = post(codec::encode_request(
            Dialect::Gemini,
            &request,
            Default::default(),
        ))
        .await
        .unwrap();
        assert_eq!(second.status(), 200, "{}", second.text().await.unwrap());
        let unsigned = {
            let mut body = codec::encode_request(Dialect::Gemini, &request, Default::default());
            body["contents"][1]["parts"][0]
                .as_object_mut()
                .unwrap()
                .remove("thoughtSignature");
            body
        };
        let refused = post(unsigned).await.unwrap();
        assert_eq!(refused.status(), 400);
        let sent = &fake.received()[1].body;
        assert_eq!(
            sent["contents"][2]["parts"][0]["functionResponse"],
            json!({"id": call_id, "name": "ls", "response": {"result": "a.txt"}})
        );
    }

    #[tokio::test]
    async fn a_stream_with_alt_sse_decodes_to_the_whole_text() {
        let fake = FakeGemini::start().await;
        let response = crate::support::http_client()
            .post(format!(
                "{}/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                fake.url()
            ))
            .header("x-goog-api-key", API_KEY)
            .json(&body("one two three"))
            .send()
            .await
            .unwrap();
        let bytes = response.bytes().await.unwrap();
        let mut parser = SseParser::default();
        let mut decoder = codec::stream_decoder(Dialect::Gemini);
        let events: Vec<Event> = parser
            .feed(&bytes)
            .unwrap()
            .into_iter()
            .flat_map(|e| decoder.decode(e))
            .collect();
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Event::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "you said: one two three");
        assert_eq!(events.last(), Some(&Event::End));
    }

    #[tokio::test]
    async fn fields_gemini_does_not_have_are_refused() {
        let fake = FakeGemini::start().await;
        let mut with_model = body("hi");
        with_model["model"] = json!("gemini-2.5-pro");
        let refused = crate::support::http_client()
            .post(format!(
                "{}/v1beta/models/gemini-2.5-pro:generateContent",
                fake.url()
            ))
            .header("x-goog-api-key", API_KEY)
            .json(&with_model)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400);
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    }
}
