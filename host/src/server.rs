//! Serving: the app as a function of its state, and a server with graceful
//! shutdown (in-flight requests finish; new connections are refused), limits
//! on client connections ([`connections`]) and config reload.
//!
//! Reload: on SIGHUP, or when the config file's content changes (checked every
//! [`WATCH_INTERVAL`]), the file is read again and a new [`Gateway`] built from
//! it ([`Gateway::reload`]). Only when that succeeds does it take over new
//! requests; requests in flight finish on the gateway they started on. A
//! config that does not parse, fails validation or cannot be built (a plugin
//! that will not load, a section that needs a restart) is logged and refused,
//! and the running one keeps serving.

pub mod connections;
mod open_files;
mod startup_pages;

use crate::api;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::guardrails::cache::{CacheStats, SegmentCache};
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often the config file is checked for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Where the served config comes from, so that a reload reads it the same way.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// The file; the embedded default (never reloaded) when not set.
    pub path: Option<PathBuf>,
    /// `--listen`, which overrides the file's `[server] listen`.
    pub listen: Option<SocketAddr>,
}

impl ConfigSource {
    /// Reads the config.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut config = match &self.path {
            Some(path) => Config::load(path)?,
            None => Config::embedded_default(),
        };
        if let Some(listen) = self.listen {
            config.server.listen = listen;
        }
        config.admin_key_from_env()?;
        Ok(config)
    }
}

/// How often the segment cache's counters are logged (when they changed).
const CACHE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The whole HTTP app for a gateway ([`api::App`]; its routes alone,
/// testable in-process without a socket, are [`api::router`]).
pub fn app(gateway: Arc<Gateway>) -> api::App {
    api::App::new(gateway)
}

/// The gateway serving new requests, swapped whole by a reload.
#[derive(Clone)]
struct Live {
    gateway: Arc<ArcSwap<Gateway>>,
    app: Arc<ArcSwap<api::App>>,
}

impl Live {
    fn new(gateway: Arc<Gateway>) -> Self {
        Live {
            app: Arc::new(ArcSwap::from_pointee(app(gateway.clone()))),
            gateway: Arc::new(ArcSwap::new(gateway)),
        }
    }

    /// Reads `source` again and, when the new config builds, serves it.
    async fn reload(&self, source: &ConfigSource, why: &str) {
        let current = self.gateway.load_full();
        let result = match source.load() {
            Ok(config) => current.reload(&config).await,
            Err(e) => Err(e),
        };
        current.metrics.reload(result.is_ok());
        match result {
            Ok(gateway) => {
                self.app.store(Arc::new(app(gateway.clone())));
                self.gateway.store(gateway);
                tracing::info!(why, "config reloaded");
                eprintln!("sluice: config reloaded ({why})");
            }
            Err(e) => {
                tracing::error!(why, error = %format!("{e:#}"), "config reload refused; the running config stays");
                eprintln!("sluice: config reload refused ({why}): {e:#}; the running config stays");
            }
        }
    }
}

/// Builds the gateway from `source` and serves it until SIGINT or SIGTERM,
/// reloading it on SIGHUP or when its file changes.
pub async fn serve(source: ConfigSource) -> anyhow::Result<()> {
    install_crypto_provider();
    let config = source.load()?;
    let gateway = Gateway::new(&config).await?;
    // After `Gateway::new`, which sets up logging.
    let open_files = open_files::raise();
    let mut limits = connections::Limits::from_config(&config.server);
    limits.max_connections = open_files::fit_connections(limits.max_connections, open_files);
    if limits.max_connections < config.server.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            open_files,
            "[server] max_connections lowered to half the open-files limit"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    let address = listener.local_addr()?;
    if gateway.keys.is_open() {
        tracing::warn!(
            "no gateway keys exist: serving without authentication (loopback only) until the first `sluice keys create`"
        );
    }
    let guardrails: Vec<&str> = gateway.guardrails.iter().map(|g| g.id.as_str()).collect();
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout_s = config.server.header_read_timeout_s,
        idle_timeout_s = config.server.idle_timeout_s,
        open_files,
        "connection limits"
    );
    tracing::info!(%address, guardrails = ?guardrails, "sluice is serving");
    eprintln!(
        "sluice: serving on http://{address} (guardrails: {})",
        guardrails.join(", ")
    );
    let runtime = tokio::runtime::Handle::current();
    let workers = match runtime.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => "one thread".to_string(),
        _ => format!("{} worker threads", runtime.metrics().num_workers()),
    };
    tracing::info!(workers, "requests are served on {workers}");
    eprintln!("sluice: requests are served on {workers}");
    if let Some(audit) = &gateway.audit {
        eprintln!("sluice: audit trail in {}", audit.location().describe());
    }
    if let Some(log) = &gateway.request_log {
        eprintln!("sluice: request log to {}", log.describe());
    }
    if let Some(managed) = gateway.keys.managed() {
        eprintln!(
            "sluice: managed gateway keys in {}",
            managed.store().describe()
        );
    }
    eprintln!(
        "sluice: limits and usage in {}",
        gateway.governance.state().describe()
    );
    let cache_log = gateway
        .guardrails
        .cache()
        .cloned()
        .map(|cache| tokio::spawn(log_cache_stats(cache)));
    let live = Live::new(gateway);
    let reloads = tokio::spawn(watch_for_reloads(live.clone(), source));
    // Ready: the binary's pages that only start-up used leave the resident
    // set (see `startup_pages`).
    let released = startup_pages::release();
    tracing::debug!(
        bytes = released,
        "the binary's pages released after start-up"
    );
    connections::serve(listener, live.app.clone(), limits, shutdown_signal()).await;
    reloads.abort();
    // In-flight requests are done: write every queued audit record, every
    // request's usage and log line.
    let gateway = live.gateway.load_full();
    if let Some(audit) = &gateway.audit {
        audit.close();
    }
    gateway.governance.close().await;
    if let Some(log) = &gateway.request_log {
        log.close();
    }
    if let Some(log) = cache_log {
        log.abort();
    }
    if let Some(cache) = gateway.guardrails.cache() {
        eprintln!("sluice: guardrail cache: {}", cache.stats());
    }
    for guardrail in gateway.guardrails.iter() {
        eprintln!(
            "sluice: guardrail `{}`: {}",
            guardrail.id,
            guardrail.plugin.stats()
        );
    }
    eprintln!("sluice: stopped");
    Ok(())
}

/// Reloads on SIGHUP, and when the config file's content changes.
async fn watch_for_reloads(live: Live, source: ConfigSource) {
    let Some(path) = source.path.clone() else {
        return; // the embedded default never changes
    };
    let read = || std::fs::read(&path).ok().map(|bytes| blake3::hash(&bytes));
    let mut seen = read();
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let signal = async {
            match &mut hangup {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signal = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = signal => {
                seen = read();
                live.reload(&source, "SIGHUP").await;
            }
            _ = ticks.tick() => {
                let now = read();
                // A file being rewritten may be missing for a moment: wait.
                if now.is_some() && now != seen {
                    seen = now;
                    live.reload(&source, "the config file changed").await;
                }
            }
        }
    }
}

/// Logs the segment cache's counters (hits, misses, bytes scanned and skipped)
/// at info level every [`CACHE_LOG_INTERVAL`] in which they changed. Until the
/// gateway exports metrics, this line and the one printed at shutdown are where
/// an operator sees what the cache saves.
async fn log_cache_stats(cache: Arc<SegmentCache>) {
    let mut last = CacheStats::default();
    let mut ticks = tokio::time::interval(CACHE_LOG_INTERVAL);
    loop {
        ticks.tick().await;
        let stats = cache.stats();
        if (stats.hits, stats.misses) != (last.hits, last.misses) {
            tracing::info!(
                hits = stats.hits,
                misses = stats.misses,
                bytes_scanned = stats.bytes_scanned,
                bytes_skipped = stats.bytes_skipped,
                fallbacks = stats.fallbacks,
                entries = stats.entries,
                "guardrail segment cache: {stats}"
            );
            last = stats;
        }
    }
}

/// TLS for upstream calls uses rustls with the `ring` provider.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("sluice: shutting down; finishing in-flight requests");
}
