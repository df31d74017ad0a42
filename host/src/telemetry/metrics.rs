//! Prometheus metrics (`GET /metrics`, OpenMetrics text).
//!
//! One [`Metrics`] lives for the whole process: a config reload keeps it, so
//! counters never go back. Every label's values are bounded: key ids, teams,
//! models, providers, guardrail rules and the metadata tags the config allows
//! ([`MetricsConfig::tags`]) each keep their first [`MetricsConfig::max_label_values`]
//! values, and later ones are counted as `other`. Request ids and raw metadata
//! values never become labels.

use crate::config::MetricsConfig;
use crate::guardrails::cache::CacheStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

/// A label set: fixed names, bounded values.
pub type Labels = Vec<(&'static str, String)>;

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// The label value for values past a label's bound.
pub const OTHER: &str = "other";

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Label bounds, one per dimension.
    bounds: Bounds,
    /// Metadata tags that are labels of `sluice_requests_total`.
    tags: Vec<String>,
    requests: Family<Labels, Counter>,
    request_duration: Histograms,
    upstream_duration: Histograms,
    overhead: Histograms,
    time_to_first_token: Histograms,
    inter_token: Histograms,
    tokens: Family<Labels, Counter>,
    cost: Family<Labels, Counter<f64, AtomicU64>>,
    errors: Family<Labels, Counter>,
    guardrail_decisions: Family<Labels, Counter>,
    guardrail_duration: Histograms,
    guardrail_failures: Family<Labels, Counter>,
    response_cache: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    fallbacks: Family<Labels, Counter>,
    rejections: Family<Labels, Counter>,
    log_dropped: Counter,
    reloads: Family<Labels, Counter>,
    live: Arc<LiveCollector>,
    /// The series of the label sets requests were counted in, by their raw
    /// label values ([`Metrics::series_of`]).
    series: RwLock<HashMap<String, Arc<RequestSeries>>>,
    /// The series of guardrail checks that found nothing, by guardrail,
    /// phase and action ([`Metrics::decision`]).
    checks: RwLock<Vec<CheckSeries>>,
}

/// The series a guardrail check that found nothing and did not fail counts
/// in (most checks), resolved once: a check then builds no label set and
/// hashes none (8 checks a request with four guardrails).
struct CheckSeries {
    guardrail: String,
    phase: String,
    action: String,
    decisions: Counter,
    duration: Histogram,
}

/// The `rule` label of a decision that found nothing.
const NO_RULE: &str = "none";

/// The labels of `sluice_guardrail_decisions_total` (`guardrail` already
/// bounded).
fn decision_labels(guardrail: &str, phase: &str, rule: String, action: &str) -> Labels {
    vec![
        ("guardrail", guardrail.into()),
        ("phase", phase.into()),
        ("rule", rule),
        ("action", action.into()),
    ]
}

/// The labels of `sluice_guardrail_duration_seconds` (`guardrail` already
/// bounded).
fn duration_labels(guardrail: &str, phase: &str) -> Labels {
    vec![("guardrail", guardrail.into()), ("phase", phase.into())]
}

/// Label sets of checks kept resolved (guardrails × phases × actions).
const MAX_CACHED_CHECKS: usize = 256;

/// Label sets of requests whose series are kept resolved; past it, a new
/// label set is resolved for each request (the families stay bounded either
/// way: see [`Bound`]).
const MAX_CACHED_SERIES: usize = 10_000;

/// The series one request's label set counts in, resolved once.
struct RequestSeries {
    requests: Counter,
    request_duration: Histogram,
    upstream_duration: OnceLock<Histogram>,
    overhead: Histogram,
    time_to_first_token: OnceLock<Histogram>,
    inter_token: OnceLock<Histogram>,
    /// Input and output tokens.
    tokens: OnceLock<(Counter, Counter)>,
    cost: OnceLock<Counter<f64, AtomicU64>>,
    /// `provider`, `model`, `key`, `team` (bounded): the labels of usage and cost.
    usage: Labels,
    /// `api`, `provider` (bounded): the labels of the duration histograms.
    by_provider: Labels,
}

/// What a scrape reads from the serving gateway: the segment cache's counters
/// and the open circuits.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// The guardrail segment cache, when on.
    pub segment_cache: Option<CacheStats>,
    /// Targets whose circuit is open.
    pub open_circuits: Vec<String>,
}

/// One request's facts, as the metrics see them.
#[derive(Debug, Clone, Default)]
pub struct RequestSample<'a> {
    /// `openai` or `anthropic`.
    pub api: &'a str,
    /// The provider that served (or was tried last), or `none`.
    pub provider: &'a str,
    /// `@provider/model`, or `none`.
    pub model: &'a str,
    /// The gateway key's id, or `none`.
    pub key: &'a str,
    /// The `team` tag, or `none`.
    pub team: &'a str,
    /// The merged metadata tags.
    pub metadata: &'a [(String, String)],
    /// The HTTP status sent.
    pub status: u16,
    /// The error class (see `ErrorKind::label`), if it failed.
    pub error: Option<&'a str>,
    /// Whole time in the gateway.
    pub total: Duration,
    /// Time spent waiting on providers.
    pub upstream: Option<Duration>,
    /// Total minus upstream: the gateway's own time.
    pub overhead: Duration,
    /// For streams: time to the first content the client got.
    pub time_to_first_token: Option<Duration>,
    /// For streams: the gaps between content events after the first.
    pub inter_token: &'a [Duration],
    /// Tokens in and out, from the provider's usage.
    pub tokens: Option<(u64, u64)>,
    /// Cost in US dollars, when priced.
    pub cost_usd: Option<f64>,
    /// Response cache status (`hit`, `miss`, `refresh`, `bypass`), if it was asked.
    pub cache: Option<&'a str>,
    /// Retries over all targets.
    pub retries: u32,
    /// Whether a fallback target was tried.
    pub fallback: bool,
    /// The routing config used, if any.
    pub config: Option<&'a str>,
}

/// One guardrail's decision in one check.
#[derive(Debug, Clone, Copy)]
pub struct DecisionSample<'a> {
    /// The guardrail id.
    pub guardrail: &'a str,
    /// `request` or `response`.
    pub phase: &'a str,
    /// `allow`, `flag`, `redact` or `block`.
    pub action: &'a str,
    /// The rules of its findings (empty when it found nothing).
    pub rules: &'a [(&'a str, &'a str)],
    /// Its failure kind, if it failed.
    pub failure: Option<&'a str>,
    /// How long the plugin took.
    pub elapsed: Duration,
}

impl Metrics {
    /// The metrics, with the label bounds of `config`.
    pub fn new(config: &MetricsConfig) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("sluice");
        let metrics = Metrics {
            bounds: Bounds::new(config.max_label_values),
            tags: config.tags.clone(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(long_buckets),
            upstream_duration: Family::new_with_constructor(long_buckets),
            overhead: Family::new_with_constructor(tiny_buckets),
            time_to_first_token: Family::new_with_constructor(long_buckets),
            inter_token: Family::new_with_constructor(short_buckets),
            tokens: Family::default(),
            cost: Family::default(),
            errors: Family::default(),
            guardrail_decisions: Family::default(),
            guardrail_duration: Family::new_with_constructor(tiny_buckets),
            guardrail_failures: Family::default(),
            response_cache: Family::default(),
            retries: Family::default(),
            fallbacks: Family::default(),
            rejections: Family::default(),
            log_dropped: Counter::default(),
            reloads: Family::default(),
            live: Arc::new(LiveCollector::default()),
            series: RwLock::new(HashMap::new()),
            checks: RwLock::new(Vec::new()),
            registry: Registry::default(),
        };
        let m = &metrics;
        registry.register(
            "requests",
            "Chat requests answered, by API, provider, model, key, team, status (and allowed tags)",
            m.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Whole time of a request in the gateway, to its last byte",
            m.request_duration.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time spent waiting on providers (all tries, streams to their end)",
            m.upstream_duration.clone(),
        );
        registry.register(
            "gateway_overhead_seconds",
            "The gateway's own time: total minus the time waiting on providers",
            m.overhead.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Streams: time from the request to the first content sent to the client",
            m.time_to_first_token.clone(),
        );
        registry.register(
            "inter_token_latency_seconds",
            "Streams: time between content events sent to the client",
            m.inter_token.clone(),
        );
        registry.register(
            "tokens",
            "Tokens by direction (input, output), from the providers' usage",
            m.tokens.clone(),
        );
        registry.register(
            "cost_usd",
            "Cost in US dollars from the pricing table",
            m.cost.clone(),
        );
        registry.register("errors", "Failed requests by class", m.errors.clone());
        registry.register(
            "guardrail_decisions",
            "Guardrail decisions per check, by guardrail, phase, rule and action",
            m.guardrail_decisions.clone(),
        );
        registry.register(
            "guardrail_duration_seconds",
            "Time of one guardrail check (a plugin call, or cached findings)",
            m.guardrail_duration.clone(),
        );
        registry.register(
            "guardrail_failures",
            "Guardrail plugin failures (timeouts, traps, bad verdicts), by kind",
            m.guardrail_failures.clone(),
        );
        registry.register(
            "response_cache",
            "Response cache lookups by result",
            m.response_cache.clone(),
        );
        registry.register("retries", "Retries of a provider call", m.retries.clone());
        registry.register(
            "fallbacks",
            "Requests that moved on to a fallback target",
            m.fallbacks.clone(),
        );
        registry.register(
            "rejections",
            "Requests refused by a budget (402) or a rate limit (429) of the gateway",
            m.rejections.clone(),
        );
        registry.register(
            "request_log_dropped",
            "Request log lines dropped because the writer fell behind",
            m.log_dropped.clone(),
        );
        registry.register(
            "config_reloads",
            "Config reloads, by result (ok, refused)",
            m.reloads.clone(),
        );
        registry.register_collector(Box::new(m.live.clone()));
        let mut metrics = metrics;
        metrics.registry = registry;
        Arc::new(metrics)
    }

    /// Counts one finished request.
    pub fn request(&self, s: &RequestSample<'_>) {
        let series = self.series_of(s);
        series.requests.inc();
        series.request_duration.observe(s.total.as_secs_f64());
        if let Some(upstream) = s.upstream {
            series
                .upstream_duration
                .get_or_init(|| {
                    self.upstream_duration
                        .get_or_create_owned(&series.by_provider)
                })
                .observe(upstream.as_secs_f64());
        }
        series.overhead.observe(s.overhead.as_secs_f64());
        if let Some(ttft) = s.time_to_first_token {
            series
                .time_to_first_token
                .get_or_init(|| {
                    self.time_to_first_token
                        .get_or_create_owned(&series.by_provider)
                })
                .observe(ttft.as_secs_f64());
        }
        if !s.inter_token.is_empty() {
            let histogram = series
                .inter_token
                .get_or_init(|| self.inter_token.get_or_create_owned(&series.by_provider));
            for gap in s.inter_token {
                histogram.observe(gap.as_secs_f64());
            }
        }
        if let Some((input, output)) = s.tokens {
            let (input_tokens, output_tokens) = series.tokens.get_or_init(|| {
                let labels = |direction: &'static str| -> Labels {
                    let mut labels = vec![("direction", direction.to_string())];
                    labels.extend(series.usage.iter().cloned());
                    labels
                };
                (
                    self.tokens.get_or_create_owned(&labels("input")),
                    self.tokens.get_or_create_owned(&labels("output")),
                )
            });
            input_tokens.inc_by(input);
            output_tokens.inc_by(output);
        }
        if let Some(cost) = s.cost_usd {
            series
                .cost
                .get_or_init(|| self.cost.get_or_create_owned(&series.usage))
                .inc_by(cost);
        }
        let api = || s.api.to_string();
        let provider = || label(&series.usage, "provider");
        if let Some(class) = s.error {
            self.errors
                .get_or_create(&vec![("api", api()), ("class", class.into())])
                .inc();
            let rejection = match class {
                "budget_exceeded" => Some("budget"),
                "rate_limited" if s.upstream.is_none() => Some("rate_limit"),
                _ => None,
            };
            if let Some(kind) = rejection {
                self.rejections
                    .get_or_create(&vec![
                        ("kind", kind.into()),
                        ("key", label(&series.usage, "key")),
                        ("team", label(&series.usage, "team")),
                    ])
                    .inc();
            }
        }
        if let Some(result) = s.cache {
            self.response_cache
                .get_or_create(&vec![("result", result.into())])
                .inc();
        }
        if s.retries > 0 {
            self.retries
                .get_or_create(&vec![("provider", provider())])
                .inc_by(u64::from(s.retries));
        }
        if s.fallback {
            let config = self.bounds.config.get(s.config.unwrap_or("none"));
            self.fallbacks
                .get_or_create(&vec![("config", config), ("provider", provider())])
                .inc();
        }
    }

    /// The series `s` counts in: looked up by its label values, resolved
    /// (bounded, each family's series found or made) the first time they
    /// are seen. Past [`MAX_CACHED_SERIES`] label sets, new ones are resolved
    /// for each request and not kept.
    fn series_of(&self, s: &RequestSample<'_>) -> Arc<RequestSeries> {
        // each value after its length, so that no value can pass for two
        // (written without formatting: this is on every request)
        let mut id = String::with_capacity(96);
        let mut digits = itoa::Buffer::new();
        id.push_str(digits.format(s.status));
        let tags = self.tags.iter().map(|tag| tag_value(s.metadata, tag));
        for part in [s.api, s.provider, s.model, s.key, s.team]
            .into_iter()
            .chain(tags)
        {
            id.push(' ');
            id.push_str(digits.format(part.len()));
            id.push(':');
            id.push_str(part);
        }
        let cached = self
            .series
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some(series) = cached {
            return series;
        }
        let series = Arc::new(self.resolve(s));
        let mut cache = self
            .series
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() < MAX_CACHED_SERIES {
            cache.insert(id, series.clone());
        }
        series
    }

    /// The series of `s`'s label values, bounded, found or made in each
    /// family. Upstream durations, token and cost series, and streams'
    /// histograms are made when first counted (so a label set that never had
    /// them exports none).
    fn resolve(&self, s: &RequestSample<'_>) -> RequestSeries {
        let b = &self.bounds;
        let provider = b.provider.get(s.provider);
        let model = b.model.get(s.model);
        let key = b.key.get(s.key);
        let team = b.team.get(s.team);
        let api = s.api.to_string();
        let mut labels: Labels = vec![
            ("api", api.clone()),
            ("provider", provider.clone()),
            ("model", model.clone()),
            ("key", key.clone()),
            ("team", team.clone()),
            ("status", s.status.to_string()),
        ];
        for tag in &self.tags {
            labels.push((tag_label(tag), b.tag.get(tag_value(s.metadata, tag))));
        }
        let by_provider: Labels = vec![("api", api.clone()), ("provider", provider.clone())];
        RequestSeries {
            requests: self.requests.get_or_create_owned(&labels),
            request_duration: self.request_duration.get_or_create_owned(&by_provider),
            upstream_duration: OnceLock::new(),
            overhead: self.overhead.get_or_create_owned(&vec![("api", api)]),
            time_to_first_token: OnceLock::new(),
            inter_token: OnceLock::new(),
            tokens: OnceLock::new(),
            cost: OnceLock::new(),
            usage: vec![
                ("provider", provider),
                ("model", model),
                ("key", key),
                ("team", team),
            ],
            by_provider,
        }
    }

    /// Counts one guardrail decision of one check.
    pub fn decision(&self, d: &DecisionSample<'_>) {
        if d.rules.is_empty() && d.failure.is_none() && self.count_check(d) {
            return;
        }
        let b = &self.bounds;
        let guardrail = b.guardrail.get(d.guardrail);
        if d.rules.is_empty() {
            self.guardrail_decisions
                .get_or_create(&decision_labels(
                    &guardrail,
                    d.phase,
                    NO_RULE.into(),
                    d.action,
                ))
                .inc();
        }
        for (rule, action) in d.rules {
            self.guardrail_decisions
                .get_or_create(&decision_labels(
                    &guardrail,
                    d.phase,
                    b.rule.get(rule),
                    action,
                ))
                .inc();
        }
        self.guardrail_duration
            .get_or_create(&duration_labels(&guardrail, d.phase))
            .observe(d.elapsed.as_secs_f64());
        if let Some(kind) = d.failure {
            self.guardrail_failures
                .get_or_create(&vec![("guardrail", guardrail), ("kind", kind.into())])
                .inc();
        }
    }

    /// Counts a check that found nothing in its resolved series
    /// ([`CheckSeries`]), resolving them on first sight; `false` when too
    /// many label sets are kept already (the caller counts it by labels).
    fn count_check(&self, d: &DecisionSample<'_>) -> bool {
        let same = |c: &CheckSeries| {
            c.guardrail == d.guardrail && c.phase == d.phase && c.action == d.action
        };
        let count = |c: &CheckSeries| {
            c.decisions.inc();
            c.duration.observe(d.elapsed.as_secs_f64());
        };
        let checks = self
            .checks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(series) = checks.iter().find(|c| same(c)) {
            count(series);
            return true;
        }
        drop(checks);
        let mut checks = self
            .checks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !checks.iter().any(same) {
            if checks.len() >= MAX_CACHED_CHECKS {
                return false;
            }
            let guardrail = self.bounds.guardrail.get(d.guardrail);
            let decisions = decision_labels(&guardrail, d.phase, NO_RULE.into(), d.action);
            checks.push(CheckSeries {
                guardrail: d.guardrail.into(),
                phase: d.phase.into(),
                action: d.action.into(),
                decisions: self.guardrail_decisions.get_or_create_owned(&decisions),
                duration: self
                    .guardrail_duration
                    .get_or_create_owned(&duration_labels(&guardrail, d.phase)),
            });
        }
        checks.iter().find(|c| same(c)).map(count).is_some()
    }

    /// Counts a request log line that was dropped.
    pub fn log_dropped(&self) {
        self.log_dropped.inc();
    }

    /// Counts a config reload that was applied (`ok`) or refused.
    pub fn reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.reloads
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    /// The OpenMetrics text of every metric, with `live` read from the gateway.
    pub fn render(&self, live: Live) -> String {
        *self
            .live
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = live;
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Buckets for request, provider and first-token times: 5 ms to 41 s.
fn long_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Buckets for the time between streamed events: 1 ms to 8 s.
fn short_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

/// Buckets for the gateway's own time and guardrail checks: 10 µs to 1.3 s.
fn tiny_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.00001, 2.0, 18))
}

/// Metadata tags become labels named `tag_<name>` (so a tag cannot shadow a
/// built-in label); names are checked when the config loads.
fn tag_label(tag: &str) -> &'static str {
    // The set of tags is fixed by the config and small: leaking one string per
    // tag name, once, gives the `&'static str` label names need.
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let wanted = format!("tag_{tag}");
    if let Some(name) = names.iter().find(|n| **n == wanted) {
        return name;
    }
    let name: &'static str = Box::leak(wanted.into_boxed_str());
    names.push(name);
    name
}

/// The value of the label `name` in `labels` (one it has).
fn label(labels: &Labels, name: &str) -> String {
    labels
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.clone())
        .expect("a label of the set")
}

/// The value of metadata tag `tag`, or `none`.
fn tag_value<'a>(metadata: &'a [(String, String)], tag: &str) -> &'a str {
    metadata
        .iter()
        .find(|(name, _)| name == tag)
        .map_or("none", |(_, v)| v.as_str())
}

/// The bounds of every dimension.
struct Bounds {
    provider: Bound,
    model: Bound,
    key: Bound,
    team: Bound,
    tag: Bound,
    guardrail: Bound,
    rule: Bound,
    config: Bound,
}

impl Bounds {
    fn new(max: usize) -> Self {
        Bounds {
            provider: Bound::new(max),
            model: Bound::new(max),
            key: Bound::new(max),
            team: Bound::new(max),
            tag: Bound::new(max),
            guardrail: Bound::new(max),
            rule: Bound::new(max),
            config: Bound::new(max),
        }
    }
}

/// One label's values: the first `max` seen pass, later ones become [`OTHER`].
struct Bound {
    max: usize,
    seen: RwLock<HashSet<String>>,
}

impl Bound {
    fn new(max: usize) -> Self {
        Bound {
            max,
            seen: RwLock::new(HashSet::new()),
        }
    }

    fn get(&self, value: &str) -> String {
        if self
            .seen
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(value)
        {
            return value.to_string();
        }
        let mut seen = self
            .seen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() < self.max || seen.contains(value) {
            seen.insert(value.to_string());
            value.to_string()
        } else {
            OTHER.to_string()
        }
    }
}

/// Metrics read from the serving gateway at each scrape.
#[derive(Debug, Default)]
struct LiveCollector {
    now: Mutex<Live>,
}

impl Collector for LiveCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(stats) = live.segment_cache {
            let counters = [
                (
                    "guardrail_segment_cache_hits",
                    "Segments whose findings came from the segment cache",
                    stats.hits,
                ),
                (
                    "guardrail_segment_cache_misses",
                    "Segments a cacheable plugin was called on",
                    stats.misses,
                ),
                (
                    "guardrail_segment_cache_bytes_skipped",
                    "Bytes of text whose findings came from the segment cache",
                    stats.bytes_skipped,
                ),
            ];
            for (name, help, value) in counters {
                let counter = ConstCounter::new(value);
                counter.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    counter.metric_type(),
                )?)?;
            }
            let entries = ConstGauge::new(stats.entries as i64);
            entries.encode(encoder.encode_descriptor(
                "guardrail_segment_cache_entries",
                "Entries held by the segment cache",
                None,
                entries.metric_type(),
            )?)?;
        }
        let open = ConstGauge::new(live.open_circuits.len() as i64);
        open.encode(encoder.encode_descriptor(
            "open_circuits",
            "Targets whose circuit is open (skipped until their next probe)",
            None,
            open.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max: usize, tags: &[&str]) -> MetricsConfig {
        MetricsConfig {
            max_label_values: max,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..MetricsConfig::default()
        }
    }

    #[test]
    fn label_values_past_the_bound_are_other() {
        let metrics = Metrics::new(&config(2, &[]));
        for model in ["@a/one", "@a/two", "@a/three", "@a/one"] {
            metrics.request(&RequestSample {
                api: "openai",
                model,
                status: 200,
                ..RequestSample::default()
            });
        }
        let text = metrics.render(Live::default());
        assert!(text.contains("model=\"@a/one\""), "{text}");
        assert!(text.contains("model=\"@a/two\""), "{text}");
        assert!(!text.contains("@a/three"), "{text}");
        assert!(text.contains("model=\"other\""), "{text}");
    }

    #[test]
    fn a_label_set_seen_again_counts_in_the_same_series() {
        let metrics = Metrics::new(&config(10, &[]));
        for (input, cost) in [(3, 0.25), (4, 0.5)] {
            metrics.request(&RequestSample {
                api: "openai",
                provider: "p",
                model: "@p/m",
                key: "k",
                status: 200,
                tokens: Some((input, 1)),
                cost_usd: Some(cost),
                ..RequestSample::default()
            });
        }
        let text = metrics.render(Live::default());
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {text}"))
                .to_string()
        };
        assert!(line("sluice_requests_total{").ends_with(" 2"), "{text}");
        assert!(
            line("sluice_tokens_total{direction=\"input\"").ends_with(" 7"),
            "{text}"
        );
        assert!(line("sluice_cost_usd_total{").ends_with(" 0.75"), "{text}");
        // a request that streamed nothing has no first-token series, and
        // one that never reached a provider no upstream series
        assert!(
            !text.contains("sluice_time_to_first_token_seconds_count{"),
            "{text}"
        );
        assert!(
            !text.contains("sluice_upstream_duration_seconds_count{"),
            "{text}"
        );
    }

    #[test]
    fn checks_count_in_the_series_their_labels_name() {
        let metrics = Metrics::new(&config(1, &[]));
        let check = |guardrail, phase, action, rules: &[(&str, &str)], failure| {
            metrics.decision(&DecisionSample {
                guardrail,
                phase,
                action,
                rules,
                failure,
                elapsed: Duration::from_micros(50),
            });
        };
        for _ in 0..3 {
            check("pii", "request", "allow", &[], None);
        }
        check("pii", "response", "allow", &[], None);
        check("pii", "request", "redact", &[("pii.email", "redact")], None);
        check("pii", "request", "allow", &[], Some("timeout"));
        // past the label bound: another guardrail is `other`, found once
        check("secrets", "request", "allow", &[], None);
        let text = metrics.render(Live::default());
        let value = |series: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("no {series} in {text}"))
                .to_string()
        };
        let decisions = |guardrail: &str, phase: &str, rule: &str, action: &str| {
            value(&format!(
                "sluice_guardrail_decisions_total{{guardrail=\"{guardrail}\",phase=\"{phase}\",rule=\"{rule}\",action=\"{action}\"}}"
            ))
        };
        assert_eq!(decisions("pii", "request", "none", "allow"), "4");
        assert_eq!(decisions("pii", "response", "none", "allow"), "1");
        assert_eq!(decisions("pii", "request", "pii.email", "redact"), "1");
        assert_eq!(decisions("other", "request", "none", "allow"), "1");
        let durations = |guardrail: &str, phase: &str| {
            value(&format!(
                "sluice_guardrail_duration_seconds_count{{guardrail=\"{guardrail}\",phase=\"{phase}\"}}"
            ))
        };
        assert_eq!(durations("pii", "request"), "5");
        assert_eq!(durations("pii", "response"), "1");
        assert_eq!(durations("other", "request"), "1");
    }

    #[test]
    fn label_values_do_not_run_into_each_other() {
        let metrics = Metrics::new(&config(10, &[]));
        for (model, key) in [("a", "b c"), ("a b", "c")] {
            metrics.request(&RequestSample {
                api: "openai",
                model,
                key,
                status: 200,
                ..RequestSample::default()
            });
        }
        let text = metrics.render(Live::default());
        assert!(text.contains("model=\"a\",key=\"b c\""), "{text}");
        assert!(text.contains("model=\"a b\",key=\"c\""), "{text}");
    }

    #[test]
    fn only_allowed_tags_become_labels() {
        let metrics = Metrics::new(&config(10, &["app"]));
        let metadata = vec![
            ("app".to_string(), "billing".to_string()),
            ("trace_id".to_string(), "t-123".to_string()),
        ];
        metrics.request(&RequestSample {
            api: "openai",
            metadata: &metadata,
            status: 200,
            ..RequestSample::default()
        });
        let text = metrics.render(Live::default());
        assert!(text.contains("tag_app=\"billing\""), "{text}");
        assert!(!text.contains("t-123"), "{text}");
    }

    #[test]
    fn live_values_are_read_at_each_scrape() {
        let metrics = Metrics::new(&config(10, &[]));
        let text = metrics.render(Live {
            segment_cache: Some(CacheStats {
                hits: 7,
                ..CacheStats::default()
            }),
            open_circuits: vec!["@a/m".into()],
        });
        assert!(
            text.contains("sluice_guardrail_segment_cache_hits_total 7"),
            "{text}"
        );
        assert!(text.contains("sluice_open_circuits 1"), "{text}");
    }
}
