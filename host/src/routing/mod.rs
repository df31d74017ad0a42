//! Routing that survives provider trouble: named configs of fallbacks, load
//! balancing and conditions over targets, with retries, per-target timeouts and
//! circuit breaking.
//!
//! For one request, in the order of [`crate::pipeline`]:
//!
//! ```text
//! choose ─► the config: `x-sluice-config` (a name, or the config as JSON),
//!           else the key's `config`, else `[server] default_config`, else none
//! plan   ─► the targets to try, in order (plan.rs): conditions and load
//!           balancing decided once; fallbacks become the order
//! execute ─► per target: circuit open? skip ─► try (with its timeout)
//!           ─► failure worth a retry? back off (or wait Retry-After) and retry
//!           ─► still failing: move on if the fallback allows, else stop
//! ```
//!
//! A streamed answer counts as served once its first event has arrived, so a
//! stream that breaks before its first byte falls back like any failure; after
//! that the client has bytes, and the stream ends with an error event instead.

pub mod attempt;
pub mod circuit;
pub mod condition;
pub mod plan;
pub mod retry;

use crate::api::error::{ApiError, ErrorKind};
use crate::config::{Config, RouteNode};
use crate::providers::UpstreamError;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use circuit::{Breakers, Permit};
pub use plan::{Plan, Planner, Step};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// The request header that names a routing config, or carries one as JSON.
pub const CONFIG_HEADER: &str = "x-sluice-config";

/// The most upstream calls one request may cause, over all its targets and
/// retries; past it, the last failure is the answer. With
/// [`plan::MAX_TARGETS`] and at most 10 retries a target, this keeps one
/// request (which the rate limiter counts once) from becoming hundreds of
/// calls.
pub const MAX_ATTEMPTS: u32 = 20;

/// The configs and the circuits of every target.
#[derive(Debug)]
pub struct Routing {
    configs: BTreeMap<String, RouteNode>,
    default_config: Option<String>,
    /// Which targets are skipped for now.
    pub breakers: Breakers,
}

/// The config one request uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Chosen {
    /// A named config.
    Named(String),
    /// A config sent in `x-sluice-config`.
    Inline(Box<RouteNode>),
}

/// Why a try of a target failed.
#[derive(Debug)]
pub enum Failure {
    /// The provider answered with an error status.
    Status {
        /// The status.
        status: StatusCode,
        /// The answer's body.
        body: Bytes,
        /// Its headers worth passing on (`Retry-After`, rate limits).
        headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The provider's slug.
        provider: String,
        /// Whether the request was translated for it (so its error body is
        /// in the other API's format).
        translated: bool,
    },
    /// No answer: connection refused or reset, DNS, TLS, or a timeout.
    Transport(UpstreamError),
    /// An answer that cannot be used (not JSON, or a stream that ended before
    /// its first event).
    Malformed(String),
    /// The target's circuit is open.
    CircuitOpen {
        /// `@provider/model`.
        target: String,
        /// Until the next probe.
        wait: Duration,
    },
}

impl Failure {
    /// Whether the failure says the target is unwell (for its circuit): not a
    /// 4xx, which is about the request (429 included: the provider is up).
    fn unwell(&self) -> bool {
        match self {
            Failure::Status { status, .. } => status.is_server_error(),
            Failure::Transport(_) | Failure::Malformed(_) => true,
            Failure::CircuitOpen { .. } => false,
        }
    }

    /// Whether a fallback with `codes` moves on after this failure.
    fn moves_on(&self, codes: &[u16]) -> bool {
        match self {
            Failure::Status { status, .. } => codes.contains(&status.as_u16()),
            _ => true,
        }
    }

    /// Whether `policy` retries this failure.
    fn retryable(&self, policy: &retry::RetryPolicy) -> bool {
        match self {
            Failure::Status { status, .. } => policy.on_status_codes.contains(&status.as_u16()),
            Failure::Transport(_) | Failure::Malformed(_) => true,
            Failure::CircuitOpen { .. } => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The failure as the client's error, when it is not an upstream answer
    /// to pass on (`Status` is passed on by the caller).
    pub fn to_api(&self) -> ApiError {
        match self {
            Failure::Status { status, .. } => ApiError::new(
                ErrorKind::for_status(*status),
                format!("the provider answered {}", status.as_u16()),
            ),
            Failure::Transport(error) => error.to_api(),
            Failure::Malformed(message) => ApiError::new(ErrorKind::BadGateway, message.clone()),
            Failure::CircuitOpen { target, wait } => {
                let seconds = wait.as_secs().max(1);
                ApiError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "`{target}` kept failing and is skipped for now (its circuit is open); it is tried again in {seconds} s"
                    ),
                )
                .with_headers(vec![(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(seconds),
                )])
            }
        }
    }
}

/// How a request's routing went, for response headers and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `@provider/model` of the target that served (or failed last).
    pub target: Option<String>,
    /// Retries, over all targets.
    pub retries: u32,
    /// Whether a target after the first was tried.
    pub fallback: bool,
}

impl Routing {
    /// The configs of `config`.
    pub fn new(config: &Config) -> Self {
        Routing {
            configs: config.routing.clone(),
            default_config: config.server.default_config.clone(),
            breakers: Breakers::new(&config.circuit_breaker),
        }
    }

    /// The named configs.
    pub fn configs(&self) -> &BTreeMap<String, RouteNode> {
        &self.configs
    }

    /// The config a request uses: `x-sluice-config` (a name or JSON), else
    /// the key's, else the server's default.
    pub fn choose(
        &self,
        headers: &HeaderMap,
        key_config: Option<&str>,
    ) -> Result<Option<Chosen>, ApiError> {
        let invalid = |message: String| ApiError::new(ErrorKind::InvalidRequest, message);
        if let Some(value) = headers.get(CONFIG_HEADER) {
            let text = value
                .to_str()
                .map_err(|_| invalid(format!("{CONFIG_HEADER}: not text")))?
                .trim();
            if text.starts_with('{') {
                let node: RouteNode = serde_json::from_str(text)
                    .map_err(|e| invalid(format!("{CONFIG_HEADER}: not a routing config: {e}")))?;
                crate::config::check_routing_node(&node, CONFIG_HEADER, &self.configs, &|_| Ok(()))
                    .map_err(|(field, message)| invalid(format!("{field}: {message}")))?;
                return Ok(Some(Chosen::Inline(Box::new(node))));
            }
            if !self.configs.contains_key(text) {
                return Err(invalid(format!(
                    "{CONFIG_HEADER}: no routing config `{text}` (configured: {})",
                    self.configs.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            return Ok(Some(Chosen::Named(text.to_string())));
        }
        Ok(key_config
            .or(self.default_config.as_deref())
            .map(|name| Chosen::Named(name.to_string())))
    }

    /// The plan of `chosen` (or of the requested model, without a config).
    pub fn plan<'p>(
        &self,
        planner: &Planner<'_, 'p>,
        chosen: Option<&Chosen>,
    ) -> Result<Plan<'p>, ApiError> {
        match chosen {
            None => planner.direct(),
            Some(Chosen::Named(name)) => match self.configs.get(name) {
                Some(node) => planner.plan(Some(name.clone()), node),
                // A managed key made with `--db` may name a config this
                // gateway does not have.
                None => Err(ApiError::new(
                    ErrorKind::Internal,
                    format!(
                        "this gateway has no routing config `{name}`, which the gateway key names; ask its administrator"
                    ),
                )),
            },
            Some(Chosen::Inline(node)) => planner.plan(Some("inline".into()), node),
        }
    }

    /// Tries the plan's steps as the module doc says; `try_once` makes one
    /// try of a step. Returns what served (and the index of its step), or the
    /// last failure, and the report.
    pub async fn execute<'p, S, F, Fut>(
        &self,
        plan: &Plan<'p>,
        mut try_once: F,
    ) -> (Result<(S, usize), Failure>, Report)
    where
        F: FnMut(&Step<'p>) -> Fut,
        Fut: Future<Output = Result<S, Failure>>,
    {
        let mut report = Report::default();
        let mut last: Option<Failure> = None;
        let mut attempts = 0;
        for (index, step) in plan.steps.iter().enumerate() {
            if attempts >= MAX_ATTEMPTS {
                break;
            }
            if let Some(failure) = &last {
                let codes = step.enter_on.as_deref().unwrap_or(&[]);
                if !failure.moves_on(codes) {
                    break;
                }
                report.fallback = true;
            }
            let target = step.route.qualified();
            report.target = Some(target.clone());
            if let Permit::Skip(wait) = self.breakers.permit(&target) {
                last = Some(Failure::CircuitOpen { target, wait });
                continue;
            }
            let started = Instant::now();
            let mut retry = 0;
            loop {
                attempts += 1;
                let failure = match try_once(step).await {
                    Ok(served) => {
                        self.breakers.record(&target, false);
                        return (Ok((served, index)), report);
                    }
                    Err(failure) => failure,
                };
                self.breakers.record(&target, failure.unwell());
                // No retry past the request's bound, nor of a target whose
                // circuit this failure (or another request's) just opened.
                let may_retry = attempts < MAX_ATTEMPTS
                    && retry < step.retry.attempts
                    && failure.retryable(&step.retry)
                    && matches!(self.breakers.permit(&target), Permit::Go);
                let wait = may_retry
                    .then(|| {
                        step.retry
                            .wait(retry, failure.retry_after(), retry::random_unit())
                    })
                    .flatten()
                    .filter(|wait| started.elapsed() + *wait <= step.retry.max_total);
                let Some(wait) = wait else {
                    last = Some(failure);
                    break;
                };
                tracing::debug!(target, retry, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                retry += 1;
                report.retries += 1;
            }
        }
        let failure = last.unwrap_or_else(|| Failure::Malformed("no target to try".into()));
        (Err(failure), report)
    }
}
