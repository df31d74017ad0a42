//! `[metrics]`, `[request_log]` and `[tracing]`: what the gateway tells the
//! people who run it. What each produces is in `crate::telemetry`.

use serde::Deserialize;
use std::path::PathBuf;

/// The default bound on distinct values of one metric label.
const DEFAULT_MAX_LABEL_VALUES: usize = 100;

/// The `[metrics]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` (default `true`).
    pub enabled: bool,
    /// Metadata tags that become labels of `sluice_requests_total` (as
    /// `tag_<name>`); no tag does unless it is named here.
    pub tags: Vec<String>,
    /// Distinct values one label keeps before counting the rest as `other`.
    pub max_label_values: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            tags: Vec::new(),
            max_label_values: DEFAULT_MAX_LABEL_VALUES,
        }
    }
}

/// When requests are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogMode {
    /// Every request.
    Always,
    /// No request.
    #[default]
    Never,
    /// Requests that send `x-sluice-log: true`.
    OnRequest,
}

/// The `[request_log]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLogConfig {
    /// When a request is logged (default `never`).
    pub mode: LogMode,
    /// A file to append JSON lines to; standard output when not set.
    pub path: Option<PathBuf>,
    /// Also log the request body as sent upstream and the answer as sent to the
    /// client, both after the guardrails' redactions (default `false`).
    pub bodies: bool,
}

/// The wire format of OTLP over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum OtlpProtocol {
    /// Protocol buffers (what collectors expect by default).
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// JSON.
    #[serde(rename = "http/json")]
    HttpJson,
}

/// The `[tracing]` section: export spans to an OpenTelemetry collector.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// The collector's OTLP/HTTP traces URL, such as
    /// `http://127.0.0.1:4318/v1/traces`. No export when not set.
    pub otlp_endpoint: Option<String>,
    /// `http/protobuf` (default) or `http/json`.
    pub protocol: OtlpProtocol,
    /// The `service.name` of the spans (default `sluice`).
    pub service_name: String,
    /// The share of traces sampled when the client sends no sampling decision,
    /// from 0 to 1 (default 1).
    pub sample_ratio: f64,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            otlp_endpoint: None,
            protocol: OtlpProtocol::default(),
            service_name: "sluice".into(),
            sample_ratio: 1.0,
        }
    }
}

/// Checks the three sections; returns the offending field and why.
pub fn validate(metrics: &MetricsConfig, tracing: &TracingConfig) -> Result<(), (String, String)> {
    if metrics.max_label_values == 0 || metrics.max_label_values > 10_000 {
        return Err((
            "metrics.max_label_values".into(),
            "must be between 1 and 10000".into(),
        ));
    }
    for (i, tag) in metrics.tags.iter().enumerate() {
        let label_safe = !tag.is_empty()
            && tag
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !label_safe {
            return Err((
                format!("metrics.tags[{i}]"),
                format!(
                    "{tag:?} must be lowercase letters, digits or '_' (it becomes a label name)"
                ),
            ));
        }
        if tag == "trace_id" {
            return Err((
                format!("metrics.tags[{i}]"),
                "`trace_id` is unique per request and cannot be a label".into(),
            ));
        }
    }
    if let Some(url) = &tracing.otlp_endpoint
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err((
            "tracing.otlp_endpoint".into(),
            format!("{url:?} must start with http:// or https://"),
        ));
    }
    if !(0.0..=1.0).contains(&tracing.sample_ratio) {
        return Err((
            "tracing.sample_ratio".into(),
            "must be between 0 and 1".into(),
        ));
    }
    Ok(())
}
