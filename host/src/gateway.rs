//! Everything a request needs, built once from the config.

use crate::audit::AuditLog;
use crate::auth::{AdminKey, Keys};
use crate::config::Config;
use crate::governance::Governance;
use crate::guardrails::Guardrails;
use crate::keys::LiveKeys;
use crate::providers::Providers;
use crate::response_cache::ResponseCache;
use crate::routing::Routing;
use crate::sandbox::Sandbox;
use std::sync::Arc;

/// The gateway's shared state.
pub struct Gateway {
    /// Upstreams and model resolution.
    pub providers: Providers,
    /// Every configured guardrail (a key may run a subset).
    pub guardrails: Guardrails,
    /// Gateway keys.
    pub keys: Keys,
    /// The admin API's key.
    pub admin_key: AdminKey,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// The config it was built from (new managed keys are checked against it).
    pub config: Arc<Config>,
    /// The audit trail, unless turned off.
    pub audit: Option<Arc<AuditLog>>,
    /// Budgets, rate limits, usage and cost.
    pub governance: Arc<Governance>,
    /// Routing configs and circuit breakers.
    pub routing: Routing,
    /// The response cache, when enabled.
    pub response_cache: Option<Arc<ResponseCache>>,
    /// Keeps the plugin engine (and its epoch ticker) alive.
    _sandbox: Sandbox,
}

impl Gateway {
    /// Loads providers, keys (the config's and the key store's) and guardrails (compiling or loading every plugin and
    /// configuring it: a plugin that refuses its settings fails this), with the
    /// segment cache the config asks for, and opens the state store (connecting
    /// to Redis when configured).
    pub async fn new(config: &Config) -> anyhow::Result<Arc<Self>> {
        let sandbox = Sandbox::new(config.sandbox.artifact_cache())?;
        let mut guardrails = Guardrails::load(&sandbox, &config.guardrails)?;
        if let Some(cache) = config.guardrail_cache.segment_cache() {
            guardrails = guardrails.with_cache(Arc::new(cache));
        }
        let guardrail_ids = guardrails.iter().map(|g| g.id.clone()).collect();
        let keys = Keys::new(&config.keys, managed_keys(config)?, guardrail_ids);
        if keys.is_open() && !config.server.listen.ip().is_loopback() {
            anyhow::bail!(
                "no gateway keys exist (none in [[keys]], none made with `sluice keys create`), \
                 so sluice would serve anyone; add a key or listen on a loopback address (listen = {})",
                config.server.listen
            );
        }
        Ok(Arc::new(Gateway {
            providers: Providers::new(config)?,
            guardrails,
            keys,
            admin_key: AdminKey::new(config.admin.key.as_ref()),
            max_body: (config.server.max_body_mb as usize) << 20,
            audit: AuditLog::open(&config.audit)?,
            governance: Governance::open(config).await?,
            routing: Routing::new(config),
            response_cache: ResponseCache::open(
                &config.response_cache,
                config.state.redis.as_ref(),
            )
            .await?,
            config: Arc::new(config.clone()),
            _sandbox: sandbox,
        }))
    }
}

/// The key store's keys (in the state file or in Redis), read once here and
/// then kept current.
fn managed_keys(config: &Config) -> anyhow::Result<Option<LiveKeys>> {
    let store = crate::keys::open(&config.state)?;
    let live = LiveKeys::load(store.clone())?;
    let config_ids: Vec<&str> = config.keys.iter().map(|k| k.id.as_str()).collect();
    let clash = live
        .records()
        .into_iter()
        .find(|k| k.revoked_at.is_none() && config_ids.contains(&k.id.as_str()));
    if let Some(key) = clash {
        anyhow::bail!(
            "gateway key id `{}` is both in the config's [[keys]] and in the key store {}; \
             revoke the managed one (`sluice keys revoke {}`) or rename the config's",
            key.id,
            store.describe(),
            key.id
        );
    }
    Ok(Some(live))
}
