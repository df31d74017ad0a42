//! Logging and tracing for `sluice serve`: log lines to standard error (level
//! from `SLUICE_LOG`), and, when `[tracing] otlp_endpoint` is set, the
//! gateway's spans exported to an OpenTelemetry collector over OTLP/HTTP.
//!
//! Spans (all at info level, target `sluice`): `request` (one per chat call;
//! its parent is the client's W3C `traceparent` when it sends one), `auth`,
//! `guardrails` (one per check, with a `guardrail` span per plugin) and
//! `attempt` (one per try of a routing target, around the provider call).
//! They are exported whatever `SLUICE_LOG` says.

use crate::config::{OtlpProtocol, TracingConfig};
use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// Keeps the exporter running; [`Tracing::shutdown`] sends what is queued.
#[must_use = "dropping it loses spans not yet exported"]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    /// Sends every queued span and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("sluice: could not send the last spans: {e}");
        }
    }
}

/// Installs the global subscriber: the log to standard error, and the OTLP
/// exporter when `config` names a collector. Call it before the async runtime
/// starts (the exporter's HTTP client runs on a thread of its own).
pub fn init(config: Option<&TracingConfig>) -> anyhow::Result<Tracing> {
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        );
    let provider = match config.and_then(|c| c.otlp_endpoint.as_deref().map(|url| (c, url))) {
        Some((config, url)) => Some(provider(config, url)?),
        None => None,
    };
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("sluice"))
            .with_filter(Targets::new().with_target("sluice", LevelFilter::INFO))
    });
    tracing_subscriber::registry()
        .with(log)
        .with(spans)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the log: {e}"))?;
    Ok(Tracing { provider })
}

fn provider(config: &TracingConfig, url: &str) -> anyhow::Result<SdkTracerProvider> {
    let protocol = match config.protocol {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
        OtlpProtocol::HttpJson => Protocol::HttpJson,
    };
    // The exporter's HTTP client is built now, and needs rustls' provider.
    crate::server::install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_protocol(protocol)
        .build()
        .map_err(|e| anyhow::anyhow!("tracing.otlp_endpoint: cannot set up the exporter: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

/// Makes the client's W3C `traceparent` (and `tracestate`) the parent of `span`.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
