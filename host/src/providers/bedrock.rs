//! `kind = "bedrock"`: Amazon Bedrock's runtime
//! (`https://bedrock-runtime.<region>.amazonaws.com`), every request signed
//! with SigV4 ([`super::aws::sigv4`]) by credentials from the config or the
//! standard environment variables.
//!
//! Claude models (ids with `anthropic.` or `claude`, cross-region inference
//! profiles such as `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, or ARNs)
//! speak Messages through `InvokeModel` /
//! `InvokeModelWithResponseStream`: the Messages body goes as it is, without
//! `model` and `stream`, with `anthropic_version: "bedrock-2023-05-31"` and
//! the client's `anthropic-beta` values in `anthropic_beta`, so a Messages
//! client loses nothing (cache control, thinking and its signatures, tools,
//! images). Other models speak Converse (`Converse` / `ConverseStream`). The
//! model id goes in the path, percent-encoded. Streams come as AWS
//! event-stream frames, which [`super::aws::eventstream`] turns into SSE.

use super::aws::credentials::Credentials;
use super::aws::sigv4::Signer;
use super::http::Request;
use super::{Endpoint, Outgoing, Upstream, UpstreamError, path_segment};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::time::SystemTime;

/// The `anthropic_version` Bedrock wants in a Claude body.
pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Bedrock.
#[derive(Debug)]
pub struct Bedrock {
    /// The provider's slug, for errors.
    slug: String,
    /// The runtime's base URL, without a trailing `/`.
    base: String,
    /// Signs for `bedrock` in the region.
    signer: Signer,
}

impl Bedrock {
    /// The provider of `config`: its region and credentials (from the config,
    /// else the environment).
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = config
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "provider `{}`: no region: set `region`, or AWS_REGION",
                    config.slug
                )
            })?;
        let credentials = Credentials::resolve(
            config.access_key_id.as_deref(),
            config.secret_access_key.as_ref(),
            config.session_token.as_ref(),
            env,
        )
        .map_err(|e| anyhow::anyhow!("provider `{}`: {e}", config.slug))?;
        let base = match &config.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://bedrock-runtime.{region}.amazonaws.com"),
        };
        Ok(Bedrock {
            slug: config.slug.clone(),
            base,
            signer: Signer::new(credentials, &region, "bedrock"),
        })
    }
}

/// Whether a Bedrock model id names a Claude model.
fn is_claude(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

/// A Messages body as `InvokeModel` wants it: no `model` or `stream`,
/// Bedrock's `anthropic_version`, and the client's beta values in the body.
pub fn claude_body(body: &[u8], client_headers: &axum::http::HeaderMap) -> Vec<u8> {
    super::anthropic::cloud_body(body, ANTHROPIC_VERSION, &["stream"], Some(client_headers))
}

impl Upstream for Bedrock {
    fn dialects(&self, model: &str) -> &'static [Dialect] {
        if is_claude(model) {
            &[Dialect::Messages]
        } else {
            &[Dialect::Converse]
        }
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::Chat
    }

    fn target(&self) -> codec::Target {
        codec::Target::default()
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        // signed whole: the pieces joined
        let body = call.body.into_vec();
        let (operation, body) = match (call.dialect, call.stream) {
            (Dialect::Messages, false) => ("invoke", claude_body(&body, call.client_headers)),
            (Dialect::Messages, true) => (
                "invoke-with-response-stream",
                claude_body(&body, call.client_headers),
            ),
            (_, false) => ("converse", body),
            (_, true) => ("converse-stream", body),
        };
        let url = format!(
            "{}/model/{}/{operation}",
            self.base,
            path_segment(call.model)
        );
        let accept = if call.stream {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        };
        let headers = [("content-type", "application/json"), ("accept", accept)];
        let signed = self
            .signer
            .sign("POST", &url, &headers, &body, SystemTime::now())
            .map_err(|e| UpstreamError::Auth(self.slug.clone(), e.to_string()));
        let request = signed.and_then(|signed| {
            let mut request = super::post_to(&self.slug, &url, body)?;
            for (name, value) in headers {
                request = request.header_str(name, value);
            }
            for (name, value) in signed {
                request = request.secret(name, &value);
            }
            Ok(request)
        });
        async move { request }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};
    use serde_json::{Value, json};

    #[test]
    fn claude_bodies_lose_model_and_stream_and_carry_version_and_betas() {
        let mut headers = HeaderMap::new();
        headers.append("anthropic-beta", HeaderValue::from_static("a-1, b-2"));
        headers.append("anthropic-beta", HeaderValue::from_static("c-3"));
        let body = br#"{"model":"m","stream":true,"max_tokens":5,"messages":[]}"#;
        let out: Value = serde_json::from_slice(&claude_body(body, &headers)).unwrap();
        assert_eq!(
            out,
            json!({"max_tokens": 5, "messages": [], "anthropic_version": ANTHROPIC_VERSION,
                   "anthropic_beta": ["a-1", "b-2", "c-3"]})
        );
    }

    #[test]
    fn claude_ids_and_profiles_speak_messages_and_others_converse() {
        for claude in [
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1:123:application-inference-profile/claude-x",
        ] {
            assert!(is_claude(claude), "{claude}");
        }
        assert!(!is_claude("amazon.nova-pro-v1:0"));
        assert!(!is_claude("meta.llama3-70b-instruct-v1:0"));
    }
}
