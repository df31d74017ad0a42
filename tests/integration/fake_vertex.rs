//! A fake Vertex AI, with its own OAuth token endpoint, as strict as Google
//! about what it checks.
//!
//! - `POST /token`: a service-account JWT bearer grant. The assertion must be
//!   RS256-signed by the test key (verified with its public half), issued by
//!   the test account, for this endpoint (`aud`), with the cloud-platform
//!   scope, and live at most an hour; otherwise Google's `invalid_grant`.
//!   It issues access tokens good for an hour.
//! - `POST /v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`:
//!   a bearer token the endpoint issued (else 401 `UNAUTHENTICATED`), the
//!   configured project and location (else 403/404); `anthropic` models take
//!   `rawPredict` / `streamRawPredict` with a Messages body carrying
//!   `anthropic_version: "vertex-2023-10-16"` and no `model`
//!   ([`super::fake_claude`]); `google` models take `generateContent` /
//!   `streamGenerateContent` ([`super::fake_gemini::respond`]).
//!
//! The test's RSA key is generated when the fake starts ([`FakeVertex::key_json`]
//! is the service-account key file to give the gateway).

use super::mock_upstream::Received;
use super::{fake_claude, fake_gemini};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use fake_gemini::google_error;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::Generate;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The test's service account.
pub const CLIENT_EMAIL: &str = "sluice-test@fake-project.iam.gserviceaccount.com";
/// The project the fake serves.
pub const PROJECT: &str = "fake-project";
/// The location the fake serves.
pub const LOCATION: &str = "us-east5";

/// A running fake.
#[derive(Clone)]
pub struct FakeVertex {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The test account's private key, PEM.
    private_pem: String,
    state: Arc<FakeState>,
}

struct FakeState {
    /// The test key's public half.
    public: DecodingKey,
    /// The token endpoint's own URL (the assertions' audience).
    token_uri: String,
    /// Access tokens issued.
    tokens: Mutex<HashSet<String>>,
    /// Exchanges so far.
    exchanges: AtomicUsize,
    received: Mutex<Vec<Received>>,
}

impl FakeVertex {
    /// Starts the fake, with a fresh test key.
    pub async fn start() -> FakeVertex {
        let private = rsa::PrivateKey::generate();
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(FakeState {
            public: DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
            token_uri: format!("http://{addr}/token"),
            tokens: Mutex::default(),
            exchanges: AtomicUsize::new(0),
            received: Mutex::default(),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route(
                "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{call}",
                post(predict),
            )
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeVertex {
            addr,
            private_pem,
            state,
        }
    }

    /// The base URL, standing in for `https://<location>-aiplatform.googleapis.com`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> &str {
        &self.state.token_uri
    }

    /// The service-account key file for the test account, naming this
    /// fake's token endpoint.
    pub fn key_json(&self) -> String {
        json!({"type": "service_account", "project_id": PROJECT, "private_key_id": "fake-key-1",
               "private_key": self.private_pem, "client_email": CLIENT_EMAIL,
               "client_id": "1", "token_uri": self.state.token_uri})
        .to_string()
    }

    /// How many tokens were exchanged.
    pub fn exchanges(&self) -> usize {
        self.state.exchanges.load(Ordering::SeqCst)
    }

    /// Every model request that passed the token check.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

/// Google's OAuth error.
fn oauth_error(description: &str) -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(
            json!({"error": "invalid_grant", "error_description": description}).to_string(),
        ))
        .unwrap()
}

async fn token(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    state.exchanges.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from(
                json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "})
                    .to_string(),
            ))
            .unwrap();
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&state.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let assertion = form.get("assertion").map(String::as_str).unwrap_or("");
    let claims = match jsonwebtoken::decode::<Value>(assertion, &state.public, &validation) {
        Ok(data) => data.claims,
        Err(_) => return oauth_error("Invalid JWT Signature."),
    };
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    if !(1..=3600).contains(&lifetime) {
        return oauth_error(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let scopes = claims["scope"].as_str().unwrap_or("");
    if !scopes
        .split(' ')
        .any(|s| s == "https://www.googleapis.com/auth/cloud-platform")
    {
        return oauth_error("Invalid OAuth scope or ID token audience provided.");
    }
    let token = format!("ya29.fake-{}", state.exchanges.load(Ordering::SeqCst));
    state.tokens.lock().unwrap().insert(token.clone());
    Response::builder()
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(
            json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).to_string(),
        ))
        .unwrap()
}

async fn predict(
    State(state): State<Arc<FakeState>>,
    Path((project, location, publisher, call)): Path<(String, String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|token| state.tokens.lock().unwrap().contains(token)) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            Some("ACCESS_TOKEN_TYPE_UNSUPPORTED"),
        );
    }
    if project != PROJECT {
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!("Permission denied on resource project {project}."),
            None,
        );
    }
    if location != LOCATION {
        return google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!(
                "Publisher model `projects/{project}/locations/{location}/publishers/{publisher}/models/{call}` not found."
            ),
            None,
        );
    }
    let (model, method, body) = match fake_gemini::parse_call(&call, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => return *refusal,
    };
    state.received.lock().unwrap().push(Received {
        path: uri.to_string(),
        headers,
        body: body.clone(),
    });
    match (publisher.as_str(), method) {
        ("google", _) => {
            fake_gemini::respond(model, method, query.get("alt").map(String::as_str), &body)
        }
        ("anthropic", "rawPredict" | "streamRawPredict") => claude(model, method, &body),
        _ => google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Method not found.",
            None,
        ),
    }
}

/// Claude on Vertex: a Messages body with Vertex's version and no model.
fn claude(model: &str, method: &str, body: &Value) -> Response {
    if body["anthropic_version"] != "vertex-2023-10-16" || body.get("model").is_some() {
        let message = json!({"type": "error", "error": {"type": "invalid_request_error",
            "message": "anthropic_version: vertex-2023-10-16 is required, and model must not be set in the body"}});
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header("content-type", "application/json")
            .body(Body::from(message.to_string()))
            .unwrap();
    }
    if model == "throttled" {
        return google_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model.",
            None,
        );
    }
    if method == "rawPredict" {
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(fake_claude::answer(model, body).to_string()))
            .unwrap();
    }
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from(fake_claude::sse_body(&fake_claude::events(
            model, body,
        ))))
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::providers::google::service_account::ServiceAccountKey;
    use sluice::providers::google::token::{TokenError, TokenSource};

    fn source(key_json: &str) -> TokenSource {
        let key = ServiceAccountKey::from_json(key_json).expect("a key file");
        TokenSource::new(&key, None, crate::support::http_client()).expect("a source")
    }

    fn claude_url(fake: &FakeVertex, model: &str, method: &str) -> String {
        format!(
            "{}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/{model}:{method}",
            fake.url()
        )
    }

    fn claude_body() -> Value {
        json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 20,
               "messages": [{"role": "user", "content": "hi vertex"}]})
    }

    #[tokio::test]
    async fn a_service_account_token_opens_claude_on_vertex() {
        let fake = FakeVertex::start().await;
        let tokens = source(&fake.key_json());
        let token = tokens.token().await.expect("a token");
        let again = tokens.token().await.expect("the cached token");
        assert_eq!(token, again);
        assert_eq!(fake.exchanges(), 1);
        let response = crate::support::http_client()
            .post(claude_url(
                &fake,
                "claude-sonnet-4-5@20250929",
                "rawPredict",
            ))
            .bearer_auth(token.expose())
            .json(&claude_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["content"][0]["text"], "you said: hi vertex");
    }

    #[tokio::test]
    async fn a_key_the_endpoint_does_not_know_gets_no_token() {
        let fake = FakeVertex::start().await;
        let stranger = FakeVertex::start().await;
        // The other fake's key, naming this fake's endpoint.
        let mut key: Value = serde_json::from_str(&stranger.key_json()).unwrap();
        key["token_uri"] = json!(fake.token_uri());
        let error = source(&key.to_string()).token().await.expect_err("refused");
        assert!(
            matches!(&error, TokenError::Refused { status: 400, error } if error == "invalid_grant: Invalid JWT Signature."),
            "{error}"
        );
        assert!(!error.to_string().contains("PRIVATE KEY"));
    }

    #[tokio::test]
    async fn requests_without_an_issued_token_are_unauthenticated() {
        let fake = FakeVertex::start().await;
        let response = crate::support::http_client()
            .post(claude_url(&fake, "claude", "rawPredict"))
            .bearer_auth("ya29.made-up")
            .json(&claude_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["status"], "UNAUTHENTICATED");
        assert!(fake.received().is_empty());
    }

    #[tokio::test]
    async fn gemini_on_vertex_streams_sse_chunks() {
        let fake = FakeVertex::start().await;
        let token = source(&fake.key_json()).token().await.unwrap();
        let response = crate::support::http_client()
            .post(format!(
                "{}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                fake.url()
            ))
            .bearer_auth(token.expose())
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.starts_with("data: {"), "{text}");
        assert!(text.contains("\"finishReason\":\"STOP\""));
    }
}
