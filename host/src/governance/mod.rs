//! Governance: what each request may spend and how fast, and what it used.
//!
//! In the request's path (see [`crate::pipeline`]), after the model is routed:
//!
//! ```text
//! admit ─► every budget and rate limit the request falls under (its key, team,
//!          model, metadata tags) is checked, and request counters raised, in one
//!          atomic step of the state store
//!        ─► refused: 402 (budget spent, names it and when it resets) or
//!          429 (rate limit, with Retry-After and rate-limit headers)
//!        ─► admitted: a Ticket rides along with the request
//! answer ─► the provider's usage (whole answer, or its stream's usage events)
//!        ─► the Ticket is dropped: tokens and cost are added to the budget and
//!          token counters and to the hourly usage totals
//! ```
//!
//! Spend is counted when an answer ends, so a budget lets a request in while
//! its spend is below the limit: requests already in flight when the limit is
//! crossed finish, and that is how far spend can go past it (docs/governance.md).

pub mod limits;
pub mod pricing;
pub mod report;
pub mod state;
pub mod summary;
pub mod usage;
pub mod window;

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::clock::format_time;
use crate::config::Config;
use crate::telemetry::Observed;
use axum::http::{HeaderName, HeaderValue};
use limits::{Applied, Kind, Limits, Metric, Subject};
use pricing::{Price, Pricing};
use state::{Add, Admission, Check, State, Totals, UsageKey};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use usage::Usage;

/// How long after its window ends a counter is kept.
const COUNTER_GRACE_MS: i64 = 86_400_000;

/// Tags that are not usage dimensions: `team` has its own column, and a trace
/// id is unique per request.
const NOT_USAGE_TAGS: [&str; 2] = ["team", "trace_id"];

/// Budgets, rate limits, prices and the state they are counted in.
pub struct Governance {
    limits: Limits,
    pricing: Pricing,
    /// Shared with the governance of a reloaded config.
    state: Arc<State>,
    /// Records being written to Redis (waited for at shutdown).
    pending: Arc<AtomicUsize>,
}

/// The facts of a request that governance needs.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The client's API (for the error format and rate-limit headers).
    pub api: Api,
    /// The gateway key's id.
    pub key_id: Option<&'a str>,
    /// The merged metadata tags.
    pub metadata: &'a [(String, String)],
    /// The provider's slug.
    pub provider: &'a str,
    /// The model at the provider.
    pub model: &'a str,
}

impl Governance {
    /// Opens the state store of `config` (connecting to Redis when configured).
    pub async fn open(config: &Config) -> anyhow::Result<Arc<Governance>> {
        let state = State::open(&config.state, true).await?;
        Ok(Arc::new(Governance::with_state(config, state)))
    }

    /// Governance over an opened state store.
    pub fn with_state(config: &Config, state: State) -> Governance {
        Governance {
            limits: Limits::new(&config.budgets, &config.rate_limits),
            pricing: Pricing::new(&config.pricing),
            state: Arc::new(state),
            pending: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The budgets, limits and prices of `config` over this governance's
    /// state store (for a reloaded config whose `[state]` is unchanged):
    /// counters, windows and spend carry on.
    pub fn reconfigured(&self, config: &Config) -> Arc<Governance> {
        Arc::new(Governance {
            limits: Limits::new(&config.budgets, &config.rate_limits),
            pricing: Pricing::new(&config.pricing),
            state: self.state.clone(),
            pending: self.pending.clone(),
        })
    }

    /// The state store.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The usage rows of the hours in `[from_ms, to_ms)`; SQLite is read on the
    /// blocking pool, off the async workers.
    pub async fn usage(
        self: &Arc<Self>,
        from_ms: i64,
        to_ms: i64,
    ) -> anyhow::Result<Vec<(UsageKey, Totals)>> {
        if let State::Local(_) = &*self.state {
            let governance = self.clone();
            return tokio::task::spawn_blocking(move || match &*governance.state {
                State::Local(local) => local.usage(from_ms, to_ms),
                State::Redis(_) => unreachable!("checked above"),
            })
            .await?;
        }
        self.state.usage(from_ms, to_ms).await
    }

    /// Usage of the hours in `[from_ms, to_ms)` summed per bucket of
    /// `bucket_ms` and per team, key and model ([`State::usage_summary`]), off
    /// the async workers for the SQLite store.
    pub async fn usage_summary(
        self: &Arc<Self>,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> anyhow::Result<summary::Summary> {
        if let State::Local(_) = &*self.state {
            let governance = self.clone();
            return tokio::task::spawn_blocking(move || match &*governance.state {
                State::Local(local) => local.usage_summary(from_ms, to_ms, bucket_ms),
                State::Redis(_) => unreachable!("checked above"),
            })
            .await?;
        }
        self.state.usage_summary(from_ms, to_ms, bucket_ms).await
    }

    /// The configured budgets and rate limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Checks `request` against every limit it falls under and counts it.
    /// Admitted, it gets a [`Ticket`] (which records its usage when dropped) and
    /// the rate-limit headers for its response.
    pub async fn admit(self: &Arc<Self>, request: &Request<'_>) -> Result<Admitted, ApiError> {
        let now = crate::clock::now_ms();
        let qualified = format!("@{}/{}", request.provider, request.model);
        let subject = Subject {
            key_id: request.key_id,
            metadata: request.metadata,
            model: &qualified,
        };
        let applied = self.limits.applying(&subject, now);
        let values = self.count(request.api, &applied, now).await?;
        let headers = rate_limit_headers(request.api, &applied, &values, now);
        let counted = applied
            .iter()
            .filter(|a| a.limit.metric != Metric::Requests)
            .map(|a| {
                (
                    a.counter.clone(),
                    a.limit.metric,
                    a.window.end_ms + COUNTER_GRACE_MS,
                )
            })
            .collect();
        let metadata = request.metadata;
        let tag = |name: &str| {
            metadata
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let ticket = Ticket {
            governance: self.clone(),
            counted,
            usage_key: UsageKey {
                hour_ms: now - now.rem_euclid(3_600_000),
                key_id: request.key_id.unwrap_or_default().to_string(),
                team: tag("team").unwrap_or_default(),
                model: qualified.clone(),
                provider: request.provider.to_string(),
                tags: metadata
                    .iter()
                    .filter(|(k, _)| !NOT_USAGE_TAGS.contains(&k.as_str()))
                    .cloned()
                    .collect(),
            },
            price: self.pricing.price(request.provider, request.model),
            usage: None,
            observed: None,
        };
        Ok(Admitted { ticket, headers })
    }

    /// Checks `subject` against `limits`, limits kept apart from the
    /// config's `[[rate_limits]]` (the MCP tool-call limits), and counts it
    /// (no usage is recorded); a refusal names the limit and when it resets.
    pub async fn admit_to(&self, limits: &Limits, subject: &Subject<'_>) -> Result<(), ApiError> {
        let now = crate::clock::now_ms();
        let applied = limits.applying(subject, now);
        self.count(Api::OpenAi, &applied, now).await.map(drop)
    }

    /// Raises the request counters of `applied`, unless one is at its limit
    /// (then the refusal, in `api`'s headers); returns the counters' values.
    async fn count(
        &self,
        api: Api,
        applied: &[Applied<'_>],
        now: i64,
    ) -> Result<Vec<i64>, ApiError> {
        let checks: Vec<Check> = applied
            .iter()
            .map(|a| Check {
                counter: a.counter.clone(),
                max: a.limit.max,
                add: i64::from(a.limit.metric == Metric::Requests),
                expires_ms: a.window.end_ms + COUNTER_GRACE_MS,
            })
            .collect();
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let admission = self.state.admit(&checks).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "could not check budgets and rate limits");
            ApiError::new(
                ErrorKind::Unavailable,
                "the gateway cannot check budgets and rate limits right now (its state store is unreachable); try again shortly",
            )
        })?;
        match admission {
            Admission::Admitted(values) => Ok(values),
            Admission::Refused { index, value } => Err(refusal(api, applied, index, value, now)),
        }
    }

    /// Waits (up to 10 s) for usage still being written, then saves the state.
    pub async fn close(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.pending.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.state.close();
    }

    fn record(self: &Arc<Self>, adds: Vec<Add>, usage: (UsageKey, Totals)) {
        match &*self.state {
            State::Local(local) => local.record(&adds, usage),
            State::Redis(_) => {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    tracing::error!("usage recorded outside the runtime was lost");
                    return;
                };
                self.pending.fetch_add(1, Ordering::AcqRel);
                let governance = self.clone();
                runtime.spawn(async move {
                    if let Err(e) = governance.state.record(&adds, usage).await {
                        tracing::error!(error = %format!("{e:#}"), "a request's usage could not be recorded");
                    }
                    governance.pending.fetch_sub(1, Ordering::AcqRel);
                });
            }
        }
    }
}

/// An admitted request: its ticket and its response's rate-limit headers.
pub struct Admitted {
    /// Records the request's usage when dropped.
    pub ticket: Ticket,
    /// `x-ratelimit-*` (OpenAI) or `anthropic-ratelimit-*` (Anthropic).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Rides along with an admitted request. When dropped (the answer ended, failed
/// or the client left), it adds the request's usage to its counters and to the
/// usage totals, exactly once.
pub struct Ticket {
    governance: Arc<Governance>,
    /// Token and cost counters to raise: name, metric, expiry.
    counted: Vec<(String, Metric, i64)>,
    usage_key: UsageKey,
    price: Option<Price>,
    usage: Option<Usage>,
    /// Told the usage and cost when the ticket records them.
    observed: Option<Observed>,
}

impl Ticket {
    /// Tells `observed` (the request's metrics and log line) the usage and
    /// cost this ticket records.
    pub fn observe(&mut self, observed: Observed) {
        self.observed = Some(observed);
    }

    /// Sets what the provider reported (the latest report wins).
    pub fn set_usage(&mut self, usage: Usage) {
        self.usage = Some(usage);
    }

    /// Records that `model` of `provider` served the request (a fallback
    /// target may differ from the one it was admitted for): its usage is
    /// totalled, and priced, as that model's.
    pub fn served_by(&mut self, provider: &str, model: &str) {
        let same = self
            .usage_key
            .model
            .strip_prefix('@')
            .and_then(|rest| rest.strip_prefix(provider))
            .and_then(|rest| rest.strip_prefix('/'))
            == Some(model);
        if !same {
            self.usage_key.model = format!("@{provider}/{model}");
            self.usage_key.provider = provider.to_string();
            self.price = self.governance.pricing.price(provider, model);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let usage = self.usage.unwrap_or_default();
        let cost = self.price.map_or(0, |p| p.cost_nanos(&usage));
        if let (Some(observed), Some(reported)) = (&self.observed, self.usage) {
            let mut facts = observed.facts();
            facts.tokens = Some((reported.all_input(), reported.output_tokens));
            facts.cost_usd = self.price.map(|_| cost as f64 / 1e9);
        }
        let adds = self
            .counted
            .drain(..)
            .map(|(counter, metric, expires_ms)| Add {
                amount: match metric {
                    Metric::Tokens => usage.total() as i64,
                    Metric::CostNanos => cost,
                    Metric::Requests => 0,
                },
                counter,
                expires_ms,
            })
            .filter(|a| a.amount != 0)
            .collect();
        let totals = Totals {
            requests: 1,
            input_tokens: usage.input_tokens as i64,
            output_tokens: usage.output_tokens as i64,
            cache_read_tokens: usage.cache_read_tokens as i64,
            cache_write_tokens: usage.cache_write_tokens as i64,
            cost_nanos: cost,
            unpriced_requests: i64::from(self.price.is_none() && self.usage.is_some()),
        };
        let key = std::mem::replace(
            &mut self.usage_key,
            UsageKey {
                hour_ms: 0,
                key_id: String::new(),
                team: String::new(),
                model: String::new(),
                provider: String::new(),
                tags: Default::default(),
            },
        );
        self.governance.record(adds, (key, totals));
    }
}

/// The error for a request refused by `applied[index]`, whose counter is at `value`.
fn refusal(api: Api, applied: &[Applied<'_>], index: usize, value: i64, now: i64) -> ApiError {
    let refused = &applied[index];
    let limit = refused.limit;
    let resets = format_time(refused.window.end_ms);
    let resets = resets.trim_end_matches(".000Z").to_string() + "Z";
    match limit.kind {
        Kind::Budget => {
            let (spent, max) = match limit.metric {
                Metric::CostNanos => (dollars(value), dollars(limit.max)),
                _ => (format!("{value} tokens"), format!("{} tokens", limit.max)),
            };
            ApiError::new(
                ErrorKind::BudgetExceeded,
                format!(
                    "budget `{}` for {} is used up: {spent} of {max} this {}; it resets at {resets}",
                    limit.id,
                    refused.describe(),
                    limit.period.as_str(),
                ),
            )
        }
        Kind::RateLimit => {
            let wait = refused.window.seconds_left(now);
            let what = match limit.metric {
                Metric::Requests => "requests",
                _ => "tokens",
            };
            let mut headers = rate_limit_headers(api, std::slice::from_ref(refused), &[value], now);
            headers.push((
                HeaderName::from_static("retry-after"),
                HeaderValue::from(wait),
            ));
            ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "rate limit `{}` for {} reached: {} {what} per {}; it resets at {resets}, in {wait} s",
                    limit.id,
                    refused.describe(),
                    limit.max,
                    limit.period.as_str(),
                ),
            )
            .with_headers(headers)
        }
    }
}

/// `$12.34` (cents; smaller amounts to the millionth of a dollar).
fn dollars(nanos: i64) -> String {
    let usd = nanos as f64 / 1e9;
    if usd.abs() >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.6}")
    }
}

/// The rate-limit headers of the most constrained request limit and the most
/// constrained token limit among `applied` (with counter `values`).
fn rate_limit_headers(
    api: Api,
    applied: &[Applied<'_>],
    values: &[i64],
    now: i64,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    for (metric, name) in [(Metric::Requests, "requests"), (Metric::Tokens, "tokens")] {
        let tightest = applied
            .iter()
            .zip(values)
            .filter(|(a, _)| a.limit.kind == Kind::RateLimit && a.limit.metric == metric)
            .min_by_key(|(a, value)| a.limit.max - **value);
        let Some((applied, value)) = tightest else {
            continue;
        };
        let limit = applied.limit.max;
        let remaining = (limit - value).max(0);
        let (limit_name, remaining_name, reset_name, reset) = match api {
            Api::OpenAi | Api::Responses => (
                format!("x-ratelimit-limit-{name}"),
                format!("x-ratelimit-remaining-{name}"),
                format!("x-ratelimit-reset-{name}"),
                duration_text(applied.window.end_ms - now),
            ),
            Api::Anthropic => (
                format!("anthropic-ratelimit-{name}-limit"),
                format!("anthropic-ratelimit-{name}-remaining"),
                format!("anthropic-ratelimit-{name}-reset"),
                format_time(applied.window.end_ms).replace(".000Z", "Z"),
            ),
        };
        for (header, value) in [
            (limit_name, limit.to_string()),
            (remaining_name, remaining.to_string()),
            (reset_name, reset),
        ] {
            if let (Ok(header), Ok(value)) =
                (HeaderName::try_from(header), HeaderValue::try_from(value))
            {
                headers.push((header, value));
            }
        }
    }
    headers
}

/// OpenAI's way of writing how long until a reset: `20ms`, `59s`, `6m0s`, `1h2m3s`.
fn duration_text(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = (ms + 999) / 1000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_openais() {
        assert_eq!(duration_text(20), "20ms");
        assert_eq!(duration_text(59_000), "59s");
        assert_eq!(duration_text(360_000), "6m0s");
        assert_eq!(duration_text(3_723_000), "1h2m3s");
    }

    #[test]
    fn dollars_keep_small_amounts_visible() {
        assert_eq!(dollars(12_340_000_000), "$12.34");
        assert_eq!(dollars(4_500_000), "$0.004500");
    }
}
