//! Everything a request needs, built once from the config, and built again
//! from a changed config on reload ([`Gateway::reload`]).

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
use crate::stored_responses::Conversations;
use crate::telemetry::{Metrics, Recent, RequestLog};
use std::sync::Arc;

/// The most the gateway reads of one thing, in bytes (`[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request body (`max_body_mb`); past it, 413.
    pub max_body: usize,
    /// An upstream answer read whole, or an error body (`max_answer_mb`);
    /// past it, 502.
    pub max_answer: usize,
    /// One event of an upstream stream (`max_stream_event_mb`); past it, the
    /// stream ends with an error event.
    pub max_stream_event: usize,
}

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
    /// Size limits on what the gateway reads.
    pub limits: Limits,
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
    /// Responses sluice keeps for `previous_response_id` (in the state store).
    pub conversations: Conversations,
    /// The process's metrics (kept across reloads).
    pub metrics: Arc<Metrics>,
    /// The request log, unless `never`.
    pub request_log: Option<Arc<RequestLog>>,
    /// The last requests and per-minute counts, for the console (kept across reloads).
    pub recent: Arc<Recent>,
    /// The console's sessions and sign-in limits (kept across reloads).
    pub console: Arc<crate::console::State>,
    /// The MCP servers behind `/mcp`, when the config lists any.
    pub mcp: Option<Arc<crate::mcp::Hub>>,
    /// Keeps the plugin engine (and its epoch ticker) alive.
    _sandbox: Sandbox,
}

impl Gateway {
    /// Loads providers, keys (the config's and the key store's) and guardrails (compiling or loading every plugin and
    /// configuring it: a plugin that refuses its settings fails this), with the
    /// segment cache the config asks for, and opens the state store (connecting
    /// to Redis when configured).
    pub async fn new(config: &Config) -> anyhow::Result<Arc<Self>> {
        Self::build(config, None).await
    }

    /// A gateway for a changed `config` that carries on from this one: the
    /// same metrics, state store (counters, budgets, usage), audit trail, and
    /// the caches whose sections did not change. Everything else (providers,
    /// keys, guardrails, routing, limits, prices) comes from `config`. Changes
    /// that need a restart (`[server] listen`, `[state]`, `[audit]`) are
    /// refused, and this gateway keeps serving.
    pub async fn reload(&self, config: &Config) -> anyhow::Result<Arc<Self>> {
        let old = &self.config;
        let needs_restart = [
            ("[server] listen", old.server.listen != config.server.listen),
            ("[state]", old.state != config.state),
            ("[audit]", old.audit != config.audit),
        ];
        if let Some((section, _)) = needs_restart.iter().find(|(_, changed)| *changed) {
            anyhow::bail!("{section} changed: that takes a restart; the running config stays");
        }
        for (section, changed) in [
            ("[metrics]", old.metrics != config.metrics),
            ("[tracing]", old.tracing != config.tracing),
        ] {
            if changed {
                tracing::warn!("{section} changed: that takes effect at the next restart");
            }
        }
        Self::build(config, Some(self)).await
    }

    async fn build(config: &Config, previous: Option<&Gateway>) -> anyhow::Result<Arc<Self>> {
        let sandbox = Sandbox::new(config.sandbox.artifact_cache())?;
        let mut guardrails = Guardrails::load(&sandbox, &config.guardrails)?;
        let kept_cache = previous
            .filter(|p| p.config.guardrail_cache == config.guardrail_cache)
            .and_then(|p| p.guardrails.cache().cloned());
        if let Some(cache) =
            kept_cache.or_else(|| config.guardrail_cache.segment_cache().map(Arc::new))
        {
            guardrails = guardrails.with_cache(cache);
        }
        if let Some(checks) = config.sandbox.parallel_checks {
            guardrails = guardrails.with_parallel_checks(checks);
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
        let metrics = match previous {
            Some(p) => p.metrics.clone(),
            None => Metrics::new(&config.metrics),
        };
        let request_log = match previous {
            Some(p) if p.request_log.as_ref().map(|l| l.config()) == Some(&config.request_log) => {
                p.request_log.clone()
            }
            _ => RequestLog::open(&config.request_log, metrics.clone())?,
        };
        let (audit, governance) = match previous {
            Some(p) => (p.audit.clone(), p.governance.reconfigured(config)),
            None => (
                AuditLog::open(&config.audit)?,
                Governance::open(config).await?,
            ),
        };
        let conversations = match previous {
            Some(p) => p.conversations.clone(),
            None => Conversations::new(
                crate::stored_responses::open(&config.state)?,
                config.state.responses_ttl_hours(),
            ),
        };
        let response_cache = match previous {
            Some(p) if p.config.response_cache == config.response_cache => p.response_cache.clone(),
            _ => ResponseCache::open(&config.response_cache, config.state.redis.as_ref()).await?,
        };
        let max_body = (config.server.max_body_mb as usize) << 20;
        let mcp = crate::mcp::Hub::new(config, previous.and_then(|p| p.mcp.as_ref()), max_body);
        Ok(Arc::new(Gateway {
            providers: Providers::new(config)?,
            guardrails,
            keys,
            admin_key: AdminKey::new(config.admin.key.as_ref()),
            limits: Limits {
                max_body: (config.server.max_body_mb as usize) << 20,
                max_answer: (config.server.max_answer_mb as usize) << 20,
                max_stream_event: (config.server.max_stream_event_mb as usize) << 20,
            },
            audit,
            governance,
            routing: Routing::new(config),
            response_cache,
            conversations,
            metrics,
            request_log,
            recent: previous.map_or_else(Arc::default, |p| p.recent.clone()),
            console: previous.map_or_else(Arc::default, |p| p.console.clone()),
            config: Arc::new(config.clone()),
            mcp,
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
