//! Serving: the app as a function of its state, and a server with graceful
//! shutdown (in-flight requests finish; new connections are refused).

use crate::api;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::guardrails::cache::{CacheStats, SegmentCache};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;

/// How often the segment cache's counters are logged (when they changed).
const CACHE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The whole HTTP app for a gateway: testable in-process without a socket.
pub fn app(gateway: Arc<Gateway>) -> Router {
    api::router(gateway)
}

/// Builds the gateway from `config` and serves it until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    install_crypto_provider();
    let gateway = Gateway::new(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    let address = listener.local_addr()?;
    if gateway.keys.is_open() {
        tracing::warn!(
            "no gateway keys exist: serving without authentication (loopback only) until the first `sluice keys create`"
        );
    }
    let guardrails: Vec<&str> = gateway.guardrails.iter().map(|g| g.id.as_str()).collect();
    tracing::info!(%address, guardrails = ?guardrails, "sluice is serving");
    eprintln!(
        "sluice: serving on http://{address} (guardrails: {})",
        guardrails.join(", ")
    );
    let audit = gateway.audit.clone();
    if let Some(audit) = &audit {
        eprintln!("sluice: audit trail in {}", audit.location().describe());
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
    let governance = gateway.governance.clone();
    let cache = gateway.guardrails.cache().cloned();
    let cache_log = cache
        .clone()
        .map(|cache| tokio::spawn(log_cache_stats(cache)));
    axum::serve(listener, app(gateway))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // In-flight requests are done: write every queued audit record.
    if let Some(audit) = audit {
        audit.close();
    }
    // ... and every request's usage.
    governance.close().await;
    if let (Some(cache), Some(log)) = (cache, cache_log) {
        log.abort();
        eprintln!("sluice: guardrail cache: {}", cache.stats());
    }
    eprintln!("sluice: stopped");
    Ok(())
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
