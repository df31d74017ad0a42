//! What the gateway tells the people who run it: Prometheus metrics, the
//! request log, and traces.
//!
//! - [`metrics`]: every metric on `/metrics`, with bounded labels.
//! - [`observe`]: one request's facts, collected along the pipeline and
//!   turned into metrics and a log line when the request is over.
//! - [`request_log`]: the JSON-lines writer.
//! - [`recent`]: the last requests and per-minute counts, for the console.
//! - [`otel`]: the log on standard error and spans exported over OTLP.

pub mod metrics;
pub mod observe;
pub mod otel;
pub mod recent;
pub mod request_log;

pub use metrics::Metrics;
pub use observe::{OVERHEAD_HEADER, Observed};
pub use recent::Recent;
pub use request_log::RequestLog;
