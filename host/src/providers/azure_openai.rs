//! `kind = "azure-openai"`: an Azure OpenAI resource
//! (`https://<resource>.openai.azure.com`), the key in the `api-key` header,
//! or an Entra ID access token (`entra_token`) as a bearer.
//!
//! Two ways of addressing a model, by the config:
//! - with `api_version`: the deployment paths,
//!   `/openai/deployments/{deployment}/chat/completions?api-version=…`
//!   (Chat Completions; other clients are translated to it);
//! - without: the newer `/openai/v1/chat/completions` and
//!   `/openai/v1/responses`, the deployment in the body's `model` (Chat
//!   Completions and Responses clients pass through in their own API).
//!
//! A model is its deployment's name unless `deployments` maps it to one, so
//! clients can use model names (and prices apply) whatever the deployments
//! are called.

use super::body::UpstreamBody;
use super::http::Request;
use super::{Endpoint, Outgoing, Upstream, UpstreamError, path_segment};
use crate::canonical::Dialect;
use crate::codec;
use crate::config::ProviderConfig;
use crate::secret::Secret;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::collections::BTreeMap;

/// Azure OpenAI.
#[derive(Debug)]
pub struct AzureOpenAi {
    /// The provider's slug, for errors.
    slug: String,
    /// The resource's URL, without a trailing `/`.
    base: String,
    /// The deployment paths' `api-version`; `None`: the v1 paths.
    api_version: Option<String>,
    /// Model → deployment.
    deployments: BTreeMap<String, String>,
    key: Option<Secret>,
    entra_token: Option<Secret>,
}

impl AzureOpenAi {
    /// The provider of `config`.
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        let base = super::endpoint_url(config, "")?;
        Ok(AzureOpenAi {
            slug: config.slug.clone(),
            base: base.to_string().trim_end_matches('/').to_string(),
            api_version: config.api_version.clone(),
            deployments: config.deployments.clone().unwrap_or_default(),
            key: config.api_key.clone(),
            entra_token: config.entra_token.clone(),
        })
    }

    /// The deployment that serves `model`.
    fn deployment<'m>(&'m self, model: &'m str) -> &'m str {
        self.deployments.get(model).map_or(model, String::as_str)
    }
}

/// `body` with its `model` set to `deployment`.
fn with_model(body: UpstreamBody, deployment: &str) -> UpstreamBody {
    let body = body.into_vec();
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut object)) => {
            object.insert("model".into(), Value::String(deployment.into()));
            serde_json::to_vec(&Value::Object(object))
                .expect("a Value serializes")
                .into()
        }
        _ => body.into(),
    }
}

impl Upstream for AzureOpenAi {
    fn dialects(&self, _: &str) -> &'static [Dialect] {
        if self.api_version.is_some() {
            &[Dialect::Chat]
        } else {
            &[Dialect::Chat, Dialect::Responses]
        }
    }

    fn serves(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::Chat
    }

    fn target(&self) -> codec::Target {
        codec::Target {
            openai_native: true,
        }
    }

    fn request<'a>(&'a self, call: Outgoing<'a>) -> BoxFuture<'a, Result<Request, UpstreamError>> {
        let deployment = self.deployment(call.model);
        let (url, body) = match (&self.api_version, call.dialect) {
            (Some(version), _) => (
                format!(
                    "{}/openai/deployments/{}/chat/completions?api-version={}",
                    self.base,
                    path_segment(deployment),
                    path_segment(version)
                ),
                call.body,
            ),
            (None, Dialect::Responses) => (
                format!("{}/openai/v1/responses", self.base),
                with_model(call.body, deployment),
            ),
            (None, _) => (
                format!("{}/openai/v1/chat/completions", self.base),
                with_model(call.body, deployment),
            ),
        };
        let request = super::post_json_to(&self.slug, &url, body).map(|request| {
            match (&self.entra_token, &self.key) {
                (Some(token), _) => request.bearer(token.expose()),
                (None, Some(key)) => request.secret("api-key", key.expose()),
                (None, None) => request,
            }
        });
        async move { request }.boxed()
    }
}
