//! Everything a request needs, built once from the config.

use crate::audit::AuditLog;
use crate::auth::{AdminKey, Keys};
use crate::config::Config;
use crate::governance::Governance;
use crate::guardrails::Guardrails;
use crate::providers::Providers;
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
    /// The audit trail, unless turned off.
    pub audit: Option<Arc<AuditLog>>,
    /// Budgets, rate limits, usage and cost.
    pub governance: Arc<Governance>,
    /// Keeps the plugin engine (and its epoch ticker) alive.
    _sandbox: Sandbox,
}

impl Gateway {
    /// Loads providers, keys and guardrails (compiling or loading every plugin and
    /// configuring it: a plugin that refuses its settings fails this), with the
    /// segment cache the config asks for, and opens the state store (connecting
    /// to Redis when configured).
    pub async fn new(config: &Config) -> anyhow::Result<Arc<Self>> {
        let sandbox = Sandbox::new(config.sandbox.artifact_cache())?;
        let mut guardrails = Guardrails::load(&sandbox, &config.guardrails)?;
        if let Some(cache) = config.guardrail_cache.segment_cache() {
            guardrails = guardrails.with_cache(Arc::new(cache));
        }
        Ok(Arc::new(Gateway {
            providers: Providers::new(config)?,
            guardrails,
            keys: Keys::new(&config.keys),
            admin_key: AdminKey::new(config.admin.key.as_ref()),
            max_body: (config.server.max_body_mb as usize) << 20,
            audit: AuditLog::open(&config.audit)?,
            governance: Governance::open(config).await?,
            _sandbox: sandbox,
        }))
    }
}
