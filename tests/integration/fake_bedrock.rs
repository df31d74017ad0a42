//! A fake Amazon Bedrock runtime, as strict as the real one about what it
//! checks: every request's SigV4 signature is recomputed from the request as
//! received (method, path, query, the signed headers, the body) with the
//! test's credentials by AWS's own signer, and a wrong key, a wrong
//! signature, a stale date, a wrong region or a missing session token is
//! refused with AWS's error JSON and `x-amzn-ErrorType`.
//!
//! Operations (`POST /model/{modelId}/…`):
//! - `converse` / `converse-stream`: Converse, answering "you said: <last
//!   user text>" (or, for a model whose name contains `tool`, a call of the
//!   first tool, then "tool said: <result>");
//! - `invoke` / `invoke-with-response-stream`: Claude's Messages body, which
//!   must carry `anthropic_version: "bedrock-2023-05-31"` and no `model`
//!   (answers from [`super::fake_claude`]).
//!
//! Streams are real event-stream frames (prelude, headers, payload, both
//! CRCs, written by `aws-smithy-eventstream`), sent in pieces cut at awkward
//! places: inside preludes, headers and checksums. A model named `throttled`
//! answers 429 `ThrottlingException`; `stream-throttled` sends an exception
//! frame after its first delta.

use super::fake_claude;
use super::mock_upstream::Received;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The test's access key id.
pub const ACCESS_KEY_ID: &str = "AKIAFAKEBEDROCKTEST1";
/// The test's secret access key.
pub const SECRET_ACCESS_KEY: &str = "fake-bedrock-secret-key-for-tests-only";
/// The region the fake serves.
pub const REGION: &str = "us-east-1";
/// AWS's answer to a signature that does not match.
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the \
signature you provided. Check your AWS Secret Access Key and signing method. Consult the service \
documentation for details.";

/// A running fake.
#[derive(Clone)]
pub struct FakeBedrock {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<FakeState>,
}

struct FakeState {
    /// The session token requests must carry, for temporary credentials.
    session_token: Option<String>,
    received: Mutex<Vec<Received>>,
}

impl FakeBedrock {
    /// A fake that accepts the test's long-term credentials.
    pub async fn start() -> FakeBedrock {
        Self::start_with(None).await
    }

    /// A fake that accepts the test's key with `session_token` (temporary
    /// credentials) when given.
    pub async fn start_with(session_token: Option<&str>) -> FakeBedrock {
        let state = Arc::new(FakeState {
            session_token: session_token.map(String::from),
            received: Mutex::default(),
        });
        let app = Router::new()
            .route("/model/{model}/{operation}", post(operation))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeBedrock { addr, state }
    }

    /// The base URL, standing in for `https://bedrock-runtime.<region>.amazonaws.com`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request that passed the signature check.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

/// An AWS error: JSON `{"message": …}` and the error type header.
fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header(
            "x-amzn-errortype",
            format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )
        .body(Body::from(json!({ "message": message }).to_string()))
        .unwrap()
}

/// The fields of a SigV4 `Authorization` header.
struct Authorization<'a> {
    credential: &'a str,
    signed_headers: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let field = |name: &str| {
        rest.split(", ")
            .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
    };
    Some(Authorization {
        credential: field("Credential")?,
        signed_headers: field("SignedHeaders")?,
    })
}

/// `20150830T123600Z` as a time.
fn parse_amz_date(value: &str) -> Option<SystemTime> {
    if value.len() != 16 {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &value[0..4],
        &value[4..6],
        &value[6..8],
        &value[9..11],
        &value[11..13],
        &value[13..15]
    );
    let ms = sluice::clock::parse_time(&iso, 0).ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).ok()?))
}

/// Checks a request's signature the way AWS does: the refusal, if it fails.
fn refusal(
    state: &FakeState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let forbidden =
        |kind: &str, message: &str| Some(aws_error(StatusCode::FORBIDDEN, kind, message));
    let Some(authorization) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return forbidden(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
    };
    let Some(fields) = parse_authorization(authorization) else {
        return forbidden(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'.",
        );
    };
    let scope: Vec<&str> = fields.credential.split('/').collect();
    if scope.first() != Some(&ACCESS_KEY_ID) {
        return forbidden(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    if scope.get(2) != Some(&REGION) || scope.get(3) != Some(&"bedrock") {
        return forbidden(
            "InvalidSignatureException",
            "Credential should be scoped to a valid region and service.",
        );
    }
    let Some(time) = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_amz_date)
    else {
        return forbidden(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    };
    let skew = SystemTime::now()
        .duration_since(time)
        .unwrap_or_else(|e| e.duration());
    if skew > Duration::from_secs(300) {
        return forbidden(
            "InvalidSignatureException",
            "Signature expired: the request's date is more than 5 minutes from the server's time.",
        );
    }
    let token = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    if token != state.session_token.as_deref() {
        return forbidden(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    // Recompute from what arrived: the signed headers (other than the date
    // and token, which the signer adds from the time and the credentials).
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let url = format!("http://{host}{uri}");
    let signed: Vec<(&str, String)> = fields
        .signed_headers
        .split(';')
        .filter(|name| !["x-amz-date", "x-amz-security-token"].contains(name))
        .map(|name| {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (name, values.join(","))
        })
        .collect();
    let identity = aws_credential_types::Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        state.session_token.clone(),
        None,
        "fake-bedrock",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let expected = SignableRequest::new(
        method.as_str(),
        &url,
        signed.iter().map(|(n, v)| (*n, v.as_str())),
        SignableBody::Bytes(body),
    )
    .ok()
    .and_then(|request| sign(request, &params).ok())
    .map(|output| output.into_parts().0)
    .and_then(|instructions| {
        instructions
            .headers()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.to_string())
    });
    if expected.as_deref() != Some(authorization) {
        return forbidden("InvalidSignatureException", SIGNATURE_MISMATCH);
    }
    None
}

async fn operation(
    State(state): State<Arc<FakeState>>,
    Path((model, operation)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refusal(&state, &method, &uri, &headers, &body) {
        return refusal;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
        );
    };
    state.received.lock().unwrap().push(Received {
        path: uri.to_string(),
        headers: headers.clone(),
        body: body.clone(),
    });
    if model == "throttled" {
        return aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        );
    }
    if body.get("model").is_some() {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Malformed input request: extraneous key [model] is not permitted, please reformat your input and try again.",
        );
    }
    match operation.as_str() {
        "converse" => json_response(converse::answer(&model, &body)),
        "converse-stream" => event_stream(
            converse::events(&model, &body)
                .into_iter()
                .map(|(name, data)| event_frame(name, &data))
                .collect(),
            model == "stream-throttled",
        ),
        "invoke" | "invoke-with-response-stream" => {
            if body["anthropic_version"] != "bedrock-2023-05-31" {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    "Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.",
                );
            }
            if operation == "invoke" {
                return json_response(fake_claude::answer(&model, &body));
            }
            let frames = fake_claude::events(&model, &body)
                .iter()
                .map(|event| {
                    let bytes = aws_smithy_types::base64::encode(event.to_string());
                    event_frame("chunk", &json!({ "bytes": bytes }))
                })
                .collect();
            event_stream(frames, model == "stream-throttled")
        }
        _ => aws_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "Unknown operation",
        ),
    }
}

fn json_response(body: Value) -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// One event-stream frame.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let message = Message::new_from_parts(
        headers
            .iter()
            .map(|(name, value)| {
                Header::new(
                    name.to_string(),
                    HeaderValue::String(value.to_string().into()),
                )
            })
            .collect(),
        payload.to_vec(),
    );
    let mut bytes = Vec::new();
    write_message_to(&message, &mut bytes).unwrap();
    bytes
}

/// An event frame named `name` with a JSON payload.
pub fn event_frame(name: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", name),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An exception frame.
pub fn exception_frame(kind: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", kind),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({ "message": message }).to_string().as_bytes(),
    )
}

/// The sizes the stream is cut into, in turn: pieces that end inside a
/// prelude, a header, a payload and a checksum.
const CUTS: [usize; 9] = [1, 3, 7, 2, 13, 5, 31, 4, 11];

/// `bytes` cut into pieces of the [`CUTS`] sizes.
pub fn awkward_pieces(bytes: &[u8]) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in CUTS.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        pieces.push(Bytes::copy_from_slice(&bytes[at..end]));
        at = end;
    }
    pieces
}

/// An event-stream answer of `frames` (after the first frame's successor, a
/// throttling exception instead of the rest when `throttle`).
fn event_stream(mut frames: Vec<Vec<u8>>, throttle: bool) -> Response {
    if throttle {
        frames.truncate(2);
        frames.push(exception_frame(
            "throttlingException",
            "Too many tokens, please wait before trying again.",
        ));
    }
    let pieces = awkward_pieces(&frames.concat());
    let stream = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    Response::builder()
        .header("content-type", "application/vnd.amazon.eventstream")
        .header("x-amzn-bedrock-content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// What a Converse model says.
mod converse {
    use serde_json::{Value, json};

    /// The last user turn: its text, and the tool result it carries.
    fn last_turn(body: &Value) -> (String, Option<String>) {
        let blocks = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_array())
            .cloned()
            .unwrap_or_default();
        let text: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
        let result = blocks.iter().find_map(|b| {
            let content = b["toolResult"]["content"].as_array()?;
            Some(content.iter().filter_map(|c| c["text"].as_str()).collect())
        });
        (text.join(" "), result)
    }

    /// The answer's blocks and stop reason.
    fn content(model: &str, body: &Value) -> (Vec<Value>, &'static str) {
        let (text, result) = last_turn(body);
        if let Some(result) = result {
            return (
                vec![json!({"text": format!("tool said: {result}")})],
                "end_turn",
            );
        }
        let tool = body["toolConfig"]["tools"][0]["toolSpec"]["name"].as_str();
        if let (true, Some(name)) = (model.contains("tool"), tool) {
            let call = json!({"toolUse": {"toolUseId": "tooluse_fake_1", "name": name,
                                          "input": {"input": text}}});
            return (vec![call], "tool_use");
        }
        (
            vec![json!({ "text": super::super::fake_claude::reply(model, &text) })],
            "end_turn",
        )
    }

    fn usage(body: &Value) -> Value {
        let input = body.to_string().split_whitespace().count() + 3;
        json!({"inputTokens": input, "outputTokens": 6, "totalTokens": input + 6})
    }

    /// A whole answer.
    pub fn answer(model: &str, body: &Value) -> Value {
        let (content, stop) = content(model, body);
        json!({"output": {"message": {"role": "assistant", "content": content}},
               "stopReason": stop, "usage": usage(body), "metrics": {"latencyMs": 12}})
    }

    /// A stream, as (event type, payload).
    pub fn events(model: &str, body: &Value) -> Vec<(&'static str, Value)> {
        let (content, stop) = content(model, body);
        let mut events = vec![("messageStart", json!({"role": "assistant"}))];
        for (index, block) in content.iter().enumerate() {
            if let Some(text) = block["text"].as_str() {
                for word in text.split_inclusive(' ') {
                    events.push((
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index, "delta": {"text": word}}),
                    ));
                }
            } else {
                let call = &block["toolUse"];
                events.push((
                    "contentBlockStart",
                    json!({"contentBlockIndex": index,
                    "start": {"toolUse": {"toolUseId": call["toolUseId"], "name": call["name"]}}}),
                ));
                let input = call["input"].to_string();
                for piece in input.as_bytes().chunks(4) {
                    events.push((
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index,
                        "delta": {"toolUse": {"input": String::from_utf8_lossy(piece)}}}),
                    ));
                }
            }
            events.push(("contentBlockStop", json!({ "contentBlockIndex": index })));
        }
        events.push(("messageStop", json!({ "stopReason": stop })));
        events.push((
            "metadata",
            json!({"usage": usage(body), "metrics": {"latencyMs": 12}}),
        ));
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::api::sse::SseEvent;
    use sluice::canonical::Event;
    use sluice::codec::StreamDecoder;
    use sluice::providers::aws::credentials::Credentials;
    use sluice::providers::aws::eventstream::EventStreamParser;
    use sluice::providers::aws::sigv4::Signer;
    use sluice::secret::Secret;

    fn signer(secret: &str, token: Option<&str>) -> Signer {
        Signer::new(
            Credentials {
                access_key_id: ACCESS_KEY_ID.into(),
                secret_access_key: Secret::new(secret),
                session_token: token.map(Secret::new),
            },
            REGION,
            "bedrock",
        )
    }

    /// Posts `body` to `path`, signed by `signer` (over `signed_body`, which
    /// a test may make differ from what is sent).
    async fn post(
        fake: &FakeBedrock,
        signer: &Signer,
        path: &str,
        body: &Value,
        signed_body: &Value,
    ) -> reqwest::Response {
        let url = format!("{}{path}", fake.url());
        let headers = [("content-type", "application/json")];
        let signed = signer
            .sign(
                "POST",
                &url,
                &headers,
                signed_body.to_string().as_bytes(),
                SystemTime::now(),
            )
            .expect("signed");
        let mut request = crate::support::http_client()
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in signed {
            request = request.header(name, value);
        }
        request.send().await.expect("the fake answers")
    }

    fn converse_body(text: &str) -> Value {
        json!({"messages": [{"role": "user", "content": [{"text": text}]}],
               "inferenceConfig": {"maxTokens": 100}})
    }

    /// The text of a decoded stream.
    fn text_of(events: &[Event]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                Event::TextDelta { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// A streamed answer, parsed as it arrives and decoded by `decoder`.
    async fn decode_stream(
        response: reqwest::Response,
        decoder: &mut dyn StreamDecoder,
    ) -> (Vec<SseEvent>, Vec<Event>) {
        use futures_util::StreamExt;
        let mut parser = EventStreamParser::default();
        let (mut raw, mut events) = (Vec::new(), Vec::new());
        let mut body = response.bytes_stream();
        while let Some(piece) = body.next().await {
            for event in parser.feed(&piece.expect("bytes")).expect("valid frames") {
                raw.push(event.clone());
                events.extend(decoder.decode(event));
            }
        }
        assert!(
            !parser.is_mid_frame(),
            "the stream ends on a frame boundary"
        );
        (raw, events)
    }

    #[tokio::test]
    async fn a_signed_converse_call_is_answered() {
        let fake = FakeBedrock::start().await;
        let body = converse_body("hello there");
        let path = "/model/amazon.nova-pro-v1%3A0/converse";
        let response = post(&fake, &signer(SECRET_ACCESS_KEY, None), path, &body, &body).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(
            answer["output"]["message"]["content"][0]["text"],
            "you said: hello there"
        );
        assert_eq!(fake.received()[0].path, path);
    }

    #[tokio::test]
    async fn a_wrong_secret_or_a_changed_body_is_refused_as_aws_does() {
        let fake = FakeBedrock::start().await;
        let body = converse_body("hello");
        let path = "/model/m/converse";
        let wrong = post(&fake, &signer("not-the-secret", None), path, &body, &body).await;
        assert_eq!(wrong.status(), 403);
        assert!(
            wrong.headers()["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .starts_with("InvalidSignatureException:")
        );
        assert_eq!(
            wrong.json::<Value>().await.unwrap(),
            json!({ "message": SIGNATURE_MISMATCH })
        );
        let tampered = post(
            &fake,
            &signer(SECRET_ACCESS_KEY, None),
            path,
            &converse_body("hello, changed after signing"),
            &body,
        )
        .await;
        assert_eq!(tampered.status(), 403);
        let unsigned = crate::support::http_client()
            .post(format!("{}{path}", fake.url()))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 403);
        assert!(fake.received().is_empty());
    }

    #[tokio::test]
    async fn temporary_credentials_must_carry_their_signed_token() {
        let fake = FakeBedrock::start_with(Some("fake-session-token")).await;
        let body = converse_body("hi");
        let path = "/model/m/converse";
        let without = post(&fake, &signer(SECRET_ACCESS_KEY, None), path, &body, &body).await;
        assert_eq!(without.status(), 403);
        let with = post(
            &fake,
            &signer(SECRET_ACCESS_KEY, Some("fake-session-token")),
            path,
            &body,
            &body,
        )
        .await;
        assert_eq!(with.status(), 200);
    }

    #[tokio::test]
    async fn a_converse_stream_arrives_in_awkward_pieces_and_decodes_whole() {
        let fake = FakeBedrock::start().await;
        let body = converse_body("stream me please");
        let response = post(
            &fake,
            &signer(SECRET_ACCESS_KEY, None),
            "/model/m/converse-stream",
            &body,
            &body,
        )
        .await;
        assert_eq!(response.status(), 200);
        let mut decoder = sluice::codec::stream_decoder(sluice::canonical::Dialect::Converse);
        let (raw, events) = decode_stream(response, decoder.as_mut()).await;
        assert_eq!(raw[0].event.as_deref(), Some("messageStart"));
        assert_eq!(text_of(&events), "you said: stream me please");
        assert_eq!(events.last(), Some(&Event::End));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Usage(u) if u.output == Some(6)))
        );
    }

    #[tokio::test]
    async fn claude_streams_come_as_chunks_of_messages_events() {
        let fake = FakeBedrock::start().await;
        let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "think then answer"}]});
        let response = post(
            &fake,
            &signer(SECRET_ACCESS_KEY, None),
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream",
            &body,
            &body,
        )
        .await;
        assert_eq!(response.status(), 200);
        let mut decoder = sluice::codec::stream_decoder(sluice::canonical::Dialect::Messages);
        let (_, events) = decode_stream(response, decoder.as_mut()).await;
        assert_eq!(text_of(&events), "you said: think then answer");
        assert!(events.contains(&Event::SignatureDelta {
            index: 0,
            signature: fake_claude::THINKING_SIGNATURE.into()
        }));
    }

    #[tokio::test]
    async fn claude_bodies_need_bedrocks_anthropic_version_and_no_model() {
        let fake = FakeBedrock::start().await;
        let signer = signer(SECRET_ACCESS_KEY, None);
        let plain = json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
        let refused = post(&fake, &signer, "/model/m/invoke", &plain, &plain).await;
        assert_eq!(refused.status(), 400);
        let mut with_model = plain.clone();
        with_model["anthropic_version"] = json!("bedrock-2023-05-31");
        with_model["model"] = json!("claude");
        let refused = post(&fake, &signer, "/model/m/invoke", &with_model, &with_model).await;
        assert_eq!(refused.status(), 400);
        with_model.as_object_mut().unwrap().remove("model");
        let answered = post(&fake, &signer, "/model/m/invoke", &with_model, &with_model).await;
        assert_eq!(answered.status(), 200);
    }

    #[tokio::test]
    async fn throttling_is_a_429_or_an_exception_frame_mid_stream() {
        let fake = FakeBedrock::start().await;
        let signer = signer(SECRET_ACCESS_KEY, None);
        let body = converse_body("x");
        let throttled = post(&fake, &signer, "/model/throttled/converse", &body, &body).await;
        assert_eq!(throttled.status(), 429);
        let response = post(
            &fake,
            &signer,
            "/model/stream-throttled/converse-stream",
            &body,
            &body,
        )
        .await;
        let mut decoder = sluice::codec::stream_decoder(sluice::canonical::Dialect::Converse);
        let (_, events) = decode_stream(response, decoder.as_mut()).await;
        assert_eq!(
            events.last(),
            Some(&Event::Error {
                message: "Too many tokens, please wait before trying again.".into()
            })
        );
    }
}
