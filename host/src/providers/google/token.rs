//! OAuth access tokens for a service account (Google's "two-legged" flow):
//! a JWT naming the account, the scope and the token endpoint, signed RS256
//! with the account's private key (`jsonwebtoken`), exchanged at the token
//! endpoint for an access token.
//!
//! [`TokenSource::token`] hands out the cached token while it has more than
//! [`REFRESH_MARGIN_MS`] to live, and otherwise refreshes it. Refreshes are
//! serialized: callers that arrive during one wait for it and share its
//! token, so a burst of requests costs one exchange. A failed exchange is an
//! error for the request that needed it (the next one tries again); no error
//! carries the private key, the assertion or the token.

use super::service_account::ServiceAccountKey;
use crate::secret::Secret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A token is refreshed when it has less than this left (5 minutes; Google's
/// tokens live an hour).
pub const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;

/// How long an assertion is valid (Google's maximum, an hour).
const ASSERTION_LIFETIME_S: i64 = 3600;

/// The current time in milliseconds since the epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Access tokens for one service account.
pub struct TokenSource {
    /// The account.
    email: String,
    /// The key's id, sent as `kid`.
    key_id: Option<String>,
    /// The private key, parsed once.
    signing_key: EncodingKey,
    /// Where assertions are exchanged.
    token_uri: String,
    /// The scope asked for.
    scope: String,
    /// The HTTP client for the exchange.
    client: reqwest::Client,
    /// The token and when it expires (ms since the epoch); the lock is held
    /// through a refresh.
    cache: Mutex<Option<(Secret, i64)>>,
    /// The time.
    now: Clock,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("email", &self.email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The key file's private key is not an RSA key in PEM.
    #[error("the service account's private key is not an RSA private key in PEM")]
    BadKey,
    /// The assertion could not be signed.
    #[error("the token assertion could not be signed")]
    Sign,
    /// The token endpoint could not be reached.
    #[error("the token endpoint {0} could not be reached: {1}")]
    Unreachable(String, String),
    /// The token endpoint refused (Google's `error` and `error_description`).
    #[error("the token endpoint refused the service account ({status}): {error}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Google's error code and description.
        error: String,
    },
    /// The endpoint's answer has no token.
    #[error("the token endpoint's answer has no access token")]
    NoToken,
}

/// The JWT claims of an assertion.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl TokenSource {
    /// A source for `key`, exchanging at `token_uri` (else the key's own).
    pub fn new(
        key: &ServiceAccountKey,
        token_uri: Option<&str>,
        client: reqwest::Client,
    ) -> Result<TokenSource, TokenError> {
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.expose().as_bytes())
            .map_err(|_| TokenError::BadKey)?;
        Ok(TokenSource {
            email: key.client_email.clone(),
            key_id: key.private_key_id.clone(),
            signing_key,
            token_uri: token_uri.unwrap_or(&key.token_uri).to_string(),
            scope: CLOUD_PLATFORM_SCOPE.into(),
            client,
            cache: Mutex::new(None),
            now: Arc::new(crate::clock::now_ms),
        })
    }

    /// The same source reading the time from `now` (tests move it).
    pub fn with_clock(mut self, now: Clock) -> TokenSource {
        self.now = now;
        self
    }

    /// A token with more than [`REFRESH_MARGIN_MS`] to live.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cache = self.cache.lock().await;
        let now = (self.now)();
        if let Some((token, expires)) = cache.as_ref()
            && expires - now > REFRESH_MARGIN_MS
        {
            return Ok(token.clone());
        }
        let (token, expires) = self.exchange(now).await?;
        *cache = Some((token.clone(), expires));
        Ok(token)
    }

    /// A signed assertion, issued at `now` (ms).
    fn assertion(&self, now: i64) -> Result<String, TokenError> {
        let issued = now / 1000;
        let claims = Claims {
            iss: &self.email,
            scope: &self.scope,
            aud: &self.token_uri,
            iat: issued,
            exp: issued + ASSERTION_LIFETIME_S,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.signing_key).map_err(|_| TokenError::Sign)
    }

    /// Exchanges a fresh assertion for a token and its expiry (ms).
    async fn exchange(&self, now: i64) -> Result<(Secret, i64), TokenError> {
        let assertion = self.assertion(now)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let response = self
            .client
            .post(&self.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                TokenError::Unreachable(self.token_uri.clone(), e.without_url().to_string())
            })?;
        let status = response.status();
        let answer: Value = match response.bytes().await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if !status.is_success() {
            let error = match (
                answer["error"].as_str(),
                answer["error_description"].as_str(),
            ) {
                (Some(error), Some(description)) => format!("{error}: {description}"),
                (Some(error), None) => error.into(),
                _ => "no reason given".into(),
            };
            return Err(TokenError::Refused {
                status: status.as_u16(),
                error,
            });
        }
        let token = answer["access_token"].as_str().ok_or(TokenError::NoToken)?;
        let lifetime_s = answer["expires_in"]
            .as_i64()
            .unwrap_or(ASSERTION_LIFETIME_S);
        Ok((Secret::new(token), now + lifetime_s * 1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::State;
    use axum::routing::post;
    use jsonwebtoken::{DecodingKey, Validation};
    use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use rsa::Generate;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    /// A token endpoint that checks each assertion's signature and counts
    /// exchanges; `gate` holds every answer until it is opened.
    #[derive(Clone)]
    struct Endpoint {
        public: Arc<DecodingKey>,
        audience: String,
        exchanges: Arc<AtomicUsize>,
        gate: Arc<tokio::sync::Semaphore>,
    }

    async fn exchange(
        State(endpoint): State<Endpoint>,
        body: String,
    ) -> (axum::http::StatusCode, String) {
        let n = endpoint.exchanges.fetch_add(1, Ordering::SeqCst) + 1;
        let _open = endpoint.gate.acquire().await.expect("the gate");
        let form: std::collections::HashMap<String, String> =
            form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&endpoint.audience]);
        validation.validate_exp = false;
        match jsonwebtoken::decode::<Value>(&form["assertion"], &endpoint.public, &validation) {
            Ok(_) => (
                axum::http::StatusCode::OK,
                serde_json::json!({"access_token": format!("token-{n}"), "expires_in": 3600,
                                   "token_type": "Bearer"})
                .to_string(),
            ),
            Err(_) => (
                axum::http::StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "invalid_grant",
                                   "error_description": "Invalid JWT Signature."})
                .to_string(),
            ),
        }
    }

    fn client() -> reqwest::Client {
        crate::server::install_crypto_provider();
        reqwest::Client::new()
    }

    /// A key, a running endpoint that trusts `trusted` (the key's own public
    /// half when `None`), and a source for the key whose clock is `now`.
    async fn setup(trusted: Option<String>) -> (TokenSource, Endpoint, Arc<AtomicI64>) {
        let private = rsa::PrivateKey::generate();
        let private_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PEM")
            .to_string();
        let public_pem = match trusted {
            Some(pem) => pem,
            None => private
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("PEM"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let token_uri = format!(
            "http://{}/token",
            listener.local_addr().expect("an address")
        );
        let endpoint = Endpoint {
            public: Arc::new(DecodingKey::from_rsa_pem(public_pem.as_bytes()).expect("key")),
            audience: token_uri.clone(),
            exchanges: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
        };
        let app = axum::Router::new()
            .route("/token", post(exchange))
            .with_state(endpoint.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let key = ServiceAccountKey::from_json(
            &serde_json::json!({"type": "service_account", "client_email": "sa@p.iam",
                "private_key": private_pem, "token_uri": token_uri})
            .to_string(),
        )
        .expect("a key");
        let now = Arc::new(AtomicI64::new(1_800_000_000_000));
        let clock = now.clone();
        let source = TokenSource::new(&key, None, client())
            .expect("a source")
            .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
        (source, endpoint, now)
    }

    #[tokio::test]
    async fn a_token_is_kept_until_five_minutes_before_it_expires() {
        let (source, endpoint, now) = setup(None).await;
        endpoint.gate.add_permits(100);
        assert_eq!(source.token().await.expect("a token").expose(), "token-1");
        now.fetch_add(3_600_000 - REFRESH_MARGIN_MS - 1000, Ordering::SeqCst);
        assert_eq!(source.token().await.expect("cached").expose(), "token-1");
        now.fetch_add(2000, Ordering::SeqCst);
        assert_eq!(source.token().await.expect("refreshed").expose(), "token-2");
        assert_eq!(endpoint.exchanges.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn callers_during_a_refresh_share_it() {
        let (source, endpoint, _) = setup(None).await;
        let source = Arc::new(source);
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let source = source.clone();
                tokio::spawn(async move { source.token().await.map(|t| t.expose().to_string()) })
            })
            .collect();
        // Let every caller reach the lock or the endpoint before it answers.
        while endpoint.exchanges.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        endpoint.gate.add_permits(100);
        for caller in callers {
            assert_eq!(caller.await.expect("joined").expect("a token"), "token-1");
        }
        assert_eq!(endpoint.exchanges.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_key_is_a_clear_error_without_the_key() {
        let other = rsa::PrivateKey::generate()
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("PEM");
        let (source, endpoint, _) = setup(Some(other)).await;
        endpoint.gate.add_permits(100);
        let error = source.token().await.expect_err("refused");
        let text = error.to_string();
        assert_eq!(
            text,
            "the token endpoint refused the service account (400): invalid_grant: Invalid JWT Signature."
        );
        assert!(!format!("{error:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_key_that_is_not_rsa_pem_is_refused_at_once() {
        let key = ServiceAccountKey::from_json(
            &serde_json::json!({"client_email": "sa@p.iam",
                "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"})
            .to_string(),
        )
        .expect("a key file");
        let error = TokenSource::new(&key, None, client()).expect_err("bad key");
        assert_eq!(
            error.to_string(),
            "the service account's private key is not an RSA private key in PEM"
        );
    }
}
