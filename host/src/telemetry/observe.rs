//! One request, observed: the facts the pipeline learns on the way, turned into
//! metrics and a request-log line when the request is over. The line (and its
//! timings) also goes to [`Recent`], the console's view of the last requests,
//! whether or not the request log is on.
//!
//! An [`Observed`] is a shared handle. The pipeline keeps one; a streamed
//! answer's state and the governance ticket keep clones. When the last handle
//! goes (the answer was sent, the stream ended, or the client left), the
//! request is finished: metrics counted, its line queued.
//!
//! The gateway's own time is the whole time minus the time waiting on
//! providers, and, for streams, minus the time the client took to read what it
//! was sent: what is left is what sluice itself spent.

use super::metrics::{DecisionSample, Metrics, RequestSample};
use super::recent::{KeptLine, Recent, Sample};
use super::request_log::RequestLog;
use crate::api::error::{Api, ErrorKind};
use crate::guardrails::Outcome;
use crate::sandbox::{Action, Phase};
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The response header with the gateway's own time so far, in milliseconds.
pub const OVERHEAD_HEADER: &str = "x-sluice-overhead-ms";

/// The most inter-token gaps one stream keeps for its histogram.
const MAX_GAPS: usize = 4096;
/// The most bytes of an answer body a request-log line keeps.
const MAX_LOGGED_BODY: usize = 1 << 20;

/// A request being observed; cheap to clone.
#[derive(Clone)]
pub struct Observed(Arc<Inner>);

struct Inner {
    metrics: Arc<Metrics>,
    /// The console's view of recent requests.
    recent: Arc<Recent>,
    /// Where its line goes, when this request is logged.
    log: Option<Arc<RequestLog>>,
    started: Instant,
    facts: Mutex<Facts>,
}

/// What the pipeline learned about the request.
#[derive(Debug, Default)]
pub struct Facts {
    /// The request id.
    pub request_id: String,
    /// The client's API.
    pub api: Option<Api>,
    /// The name of a surface that is no chat API (`mcp`), in place of `api`.
    pub surface: Option<&'static str>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The gateway key's id.
    pub key_id: Option<String>,
    /// The merged metadata (the key's tags, the request's, the trace id).
    pub metadata: crate::metadata::Tags,
    /// The model the client asked for.
    pub requested_model: Option<String>,
    /// The provider that served, or was tried last.
    pub provider: Option<String>,
    /// `@provider/model` that served, or was tried last.
    pub model: Option<String>,
    /// The routing config used.
    pub config: Option<String>,
    /// Retries over all targets.
    pub retries: u32,
    /// Whether a fallback target was tried.
    pub fallback: bool,
    /// The response cache's status for this request.
    pub cache: Option<&'static str>,
    /// The status sent.
    pub status: u16,
    /// The error class and message, when it failed (the message never holds
    /// a key, a secret or matched text).
    pub error: Option<(&'static str, String)>,
    /// Time waiting on providers.
    pub upstream: Duration,
    /// Whether a provider was called at all.
    pub called_upstream: bool,
    /// Streams: time the client took to read what it was sent.
    pub client_wait: Duration,
    /// Streams: when the first content went out, and the last.
    first_content: Option<Instant>,
    last_content: Option<Instant>,
    gaps: Vec<Duration>,
    /// Tokens in and out.
    pub tokens: Option<(u64, u64)>,
    /// Cost in US dollars, when priced.
    pub cost_usd: Option<f64>,
    /// Guardrail decisions, per guardrail and phase.
    guardrails: Vec<GuardrailFacts>,
    /// The request as sent upstream (after redaction), when bodies are logged.
    pub request_body: Option<String>,
    /// The answer as sent to the client (after redaction), when bodies are logged.
    pub response_body: Option<String>,
}

/// One guardrail in one phase, over all its checks of the request.
#[derive(Debug, Serialize)]
struct GuardrailFacts {
    guardrail: String,
    phase: &'static str,
    action: &'static str,
    checks: u32,
    findings: u32,
    rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'static str>,
    duration_ms: f64,
}

impl Observed {
    /// Starts observing a request that arrived at `started`; `log` is where
    /// its line goes if it is logged.
    pub fn start(
        metrics: Arc<Metrics>,
        recent: Arc<Recent>,
        log: Option<Arc<RequestLog>>,
        started: Instant,
        request_id: &str,
        api: Api,
    ) -> Observed {
        Observed(Arc::new(Inner {
            metrics,
            recent,
            log,
            started,
            facts: Mutex::new(Facts {
                request_id: request_id.to_string(),
                api: Some(api),
                ..Facts::default()
            }),
        }))
    }

    /// The facts, to fill in.
    pub fn facts(&self) -> MutexGuard<'_, Facts> {
        self.0
            .facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether bodies go into this request's log line.
    pub fn logs_bodies(&self) -> bool {
        self.0.log.as_ref().is_some_and(|log| log.bodies())
    }

    /// Adds time spent waiting on a provider.
    pub fn waited_upstream(&self, time: Duration) {
        let mut facts = self.facts();
        facts.upstream += time;
        facts.called_upstream = true;
    }

    /// Adds time a streaming client took to take what it was sent.
    pub fn waited_on_client(&self, time: Duration) {
        self.facts().client_wait += time;
    }

    /// Notes streamed content sent to the client now.
    pub fn sent_content(&self) {
        let now = Instant::now();
        let mut facts = self.facts();
        if let Some(last) = facts.last_content
            && facts.gaps.len() < MAX_GAPS
        {
            facts.gaps.push(now - last);
        }
        facts.first_content.get_or_insert(now);
        facts.last_content = Some(now);
    }

    /// Appends streamed output to the logged answer body (when bodies are logged).
    pub fn add_response_text(&self, text: &str) {
        if !self.logs_bodies() {
            return;
        }
        let mut facts = self.facts();
        let body = facts.response_body.get_or_insert_with(String::new);
        if body.len() + text.len() <= MAX_LOGGED_BODY {
            body.push_str(text);
        }
    }

    /// Notes a failure sent to the client.
    pub fn failed(&self, kind: ErrorKind, message: &str) {
        let mut facts = self.facts();
        facts.status = kind.status().as_u16();
        facts.error = Some((kind.label(), message.to_string()));
    }

    /// The gateway's own time so far.
    pub fn overhead_so_far(&self) -> Duration {
        let facts = self.facts();
        self.0
            .started
            .elapsed()
            .saturating_sub(facts.upstream + facts.client_wait)
    }

    /// Counts one guardrail check's decisions, and keeps them for the log line.
    pub fn guardrails(&self, outcome: &Outcome, phase: Phase) {
        let phase_name = phase.as_str();
        // Kept for every request: the console shows them (`/admin/requests`).
        let mut facts = self.facts();
        for decision in &outcome.decisions {
            let (action, rules, failure): (Action, Vec<(&str, &str)>, Option<&'static str>) =
                match &decision.result {
                    Ok(verdict) => (
                        decision.action(),
                        verdict
                            .findings
                            .iter()
                            .map(|f| (f.rule.as_str(), f.action.as_str()))
                            .collect(),
                        None,
                    ),
                    Err(failure) => (decision.action(), Vec::new(), Some(failure.kind())),
                };
            self.0.metrics.decision(&DecisionSample {
                guardrail: &decision.guardrail,
                phase: phase_name,
                action: action.as_str(),
                rules: &rules,
                failure,
                elapsed: decision.elapsed,
            });
            let index = match facts
                .guardrails
                .iter()
                .position(|g| g.guardrail == decision.guardrail && g.phase == phase_name)
            {
                Some(index) => index,
                None => {
                    facts.guardrails.push(GuardrailFacts {
                        guardrail: decision.guardrail.clone(),
                        phase: phase_name,
                        action: Action::Allow.as_str(),
                        checks: 0,
                        findings: 0,
                        rules: Vec::new(),
                        failure: None,
                        duration_ms: 0.0,
                    });
                    facts.guardrails.len() - 1
                }
            };
            let entry = &mut facts.guardrails[index];
            entry.checks += 1;
            entry.findings += rules.len() as u32;
            for (rule, _) in &rules {
                if !entry.rules.iter().any(|r| r == rule) {
                    entry.rules.push(rule.to_string());
                }
            }
            if action.strength() > action_named(entry.action).strength() {
                entry.action = action.as_str();
            }
            entry.failure = entry.failure.or(failure);
            entry.duration_ms += decision.elapsed.as_secs_f64() * 1000.0;
        }
    }
}

fn action_named(name: &str) -> Action {
    match name {
        "flag" => Action::Flag,
        "redact" => Action::Redact,
        "block" => Action::Block,
        _ => Action::Allow,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let total = self.started.elapsed();
        let now_ms = crate::clock::now_ms();
        let facts = std::mem::take(self.facts.get_mut().expect("observed facts"));
        let finished = Finished {
            start_ms: now_ms - total.as_millis() as i64,
            overhead: total.saturating_sub(facts.upstream + facts.client_wait),
            time_to_first_token: facts.first_content.map(|t| t - self.started),
            total,
            facts,
        };
        let facts = &finished.facts;
        self.metrics.request(&RequestSample {
            api: finished.api(),
            provider: facts.provider.as_deref().unwrap_or("none"),
            model: facts.model.as_deref().unwrap_or("none"),
            key: facts.key_id.as_deref().unwrap_or("none"),
            team: tag(&facts.metadata, "team").unwrap_or("none"),
            metadata: &facts.metadata,
            status: facts.status,
            error: facts.error.as_ref().map(|(class, _)| *class),
            total,
            upstream: facts.called_upstream.then_some(facts.upstream),
            overhead: finished.overhead,
            time_to_first_token: finished.time_to_first_token,
            inter_token: &facts.gaps,
            tokens: facts.tokens,
            cost_usd: facts.cost_usd,
            cache: facts.cache,
            retries: facts.retries,
            fallback: facts.fallback,
            config: facts.config.as_deref(),
        });
        if let Some(log) = &self.log
            && let Some(text) = finished.text()
        {
            log.write(text);
        }
        let sample = Sample {
            provider: facts.provider.as_deref().unwrap_or("none"),
            error: facts.error.is_some(),
            total,
            overhead: finished.overhead,
        };
        self.recent.count(now_ms, &sample);
        // what the line does not show is not kept (a stream's gaps: up to
        // 64 KiB)
        let mut finished = finished;
        finished.facts.gaps = Vec::new();
        self.recent.keep(Box::new(finished));
    }
}

/// A finished request: its facts and timings, what its log line says. The
/// console keeps these ([`Recent`]) and makes their lines only when it is
/// asked for them, so a request that is not logged costs no JSON.
struct Finished {
    facts: Facts,
    /// When it arrived (milliseconds since the epoch).
    start_ms: i64,
    total: Duration,
    overhead: Duration,
    time_to_first_token: Option<Duration>,
}

impl Finished {
    /// The API (or surface) label.
    fn api(&self) -> &'static str {
        (self.facts.surface)
            .or(self.facts.api.map(Api::as_str))
            .unwrap_or("none")
    }

    /// Its request-log line.
    fn line(&self) -> LogLine<'_> {
        let facts = &self.facts;
        LogLine {
            time: crate::clock::format_time(self.start_ms),
            request_id: &facts.request_id,
            trace_id: tag(&facts.metadata, crate::metadata::TRACE_ID_TAG),
            api: self.api(),
            stream: facts.stream,
            key_id: facts.key_id.as_deref(),
            team: tag(&facts.metadata, "team"),
            metadata: facts
                .metadata
                .iter()
                .filter(|(name, _)| name != "team" && name != crate::metadata::TRACE_ID_TAG)
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            requested_model: facts.requested_model.as_deref(),
            provider: facts.provider.as_deref(),
            model: facts.model.as_deref(),
            config: facts.config.as_deref(),
            retries: facts.retries,
            fallback: facts.fallback,
            cache: facts.cache,
            status: facts.status,
            error: facts
                .error
                .as_ref()
                .map(|(class, message)| LogError { class, message }),
            input_tokens: facts.tokens.map(|t| t.0),
            output_tokens: facts.tokens.map(|t| t.1),
            cost_usd: facts.cost_usd,
            duration_ms: millis(self.total),
            upstream_ms: facts.called_upstream.then(|| millis(facts.upstream)),
            overhead_ms: millis(self.overhead),
            time_to_first_token_ms: self.time_to_first_token.map(millis),
            guardrails: &facts.guardrails,
            request_body: facts.request_body.as_deref(),
            response_body: facts.response_body.as_deref(),
        }
    }
}

impl KeptLine for Finished {
    fn text(&self) -> Option<String> {
        serde_json::to_string(&self.line())
            .inspect_err(|e| tracing::error!(error = %e, "a request log line could not be made"))
            .ok()
    }

    fn weight(&self) -> usize {
        let facts = &self.facts;
        let strings = [
            facts.request_body.as_ref(),
            facts.response_body.as_ref(),
            facts.error.as_ref().map(|(_, message)| message),
        ];
        let metadata: usize = facts.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        std::mem::size_of::<Self>()
            + metadata
            + strings
                .into_iter()
                .flatten()
                .map(String::len)
                .sum::<usize>()
            + facts.guardrails.len() * std::mem::size_of::<GuardrailFacts>()
            + facts.gaps.capacity() * std::mem::size_of::<Duration>()
    }
}

fn tag<'a>(metadata: &'a [(String, String)], name: &str) -> Option<&'a str> {
    metadata
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Milliseconds with microsecond precision.
fn millis(time: Duration) -> f64 {
    (time.as_micros() as f64) / 1000.0
}

/// One line of the request log (field by field in docs/observability.md).
#[derive(Serialize)]
struct LogLine<'a> {
    time: String,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    api: &'a str,
    stream: bool,
    key_id: Option<&'a str>,
    team: Option<&'a str>,
    metadata: std::collections::BTreeMap<&'a str, &'a str>,
    requested_model: Option<&'a str>,
    provider: Option<&'a str>,
    model: Option<&'a str>,
    config: Option<&'a str>,
    retries: u32,
    fallback: bool,
    cache: Option<&'a str>,
    status: u16,
    error: Option<LogError<'a>>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cost_usd: Option<f64>,
    duration_ms: f64,
    upstream_ms: Option<f64>,
    overhead_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_to_first_token_ms: Option<f64>,
    guardrails: &'a [GuardrailFacts],
    #[serde(skip_serializing_if = "Option::is_none")]
    request_body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<&'a str>,
}

#[derive(Serialize)]
struct LogError<'a> {
    class: &'a str,
    message: &'a str,
}
