//! The path of one chat request (OpenAI `/v1/chat/completions` or Anthropic
//! `/v1/messages`) through the gateway. The phases, in the order of `chat`:
//!
//! ```text
//! client ─► auth (gateway key, from the headers alone) ─► metadata (key tags
//!          + the tags `x-sluice-metadata` may set + trace id)
//!        ─► read the body (only now: a caller without a key never gets one
//!          buffered) ─► parse (JSON object, `messages` array, `model`,
//!          `max_tokens`): in full, or only its head when no request
//!          guardrail, routing config, cache or body log will read it (read in
//!          full after routing if a target needs it translated or overridden;
//!          else its bytes go upstream with only the model spliced in)
//!        ─► route (routing config: header | key | server default; else the model:
//!          alias | @provider/model | key default | server default) ─► a plan
//!          of targets (see [`crate::routing`])
//!        ─► scope (the key's allowed models and providers; else 403)
//!        ─► admit (budgets ⇒ 402, rate limits ⇒ 429; see [`crate::governance`])
//!        ─► request guardrails, over exactly the body each target is sent
//!          (its overrides applied; block ⇒ 400 content_blocked; redact ⇒ that
//!          body rewritten). Nothing after this changes what a message says.
//!        ─► response cache (when on: a fresh answer to this exact request,
//!          judged again by this request's response guardrails; see
//!          [`crate::response_cache`])
//!        ─► translate (when the provider speaks the other API)
//!        ─► provider: each target of the plan in turn, with retries, timeouts
//!          and circuit breaking, until one serves (echo answers locally; others
//!          get their checked body + provider key); answers read with a size limit
//!        ─► translate the answer back (whole, or event by event)
//!        ─► response guardrails: whole body, per streamed delta with holdback,
//!          a provider's error body or a stream's error event
//!        ─► client
//!        ─► usage (the provider's own counts) ─► counters and usage totals
//! ```
//!
//! The endpoints beside chat (embeddings, token counting) pass the same
//! phases without routing configs or streams: [`forward`]. The Responses API
//! is a client dialect of these phases, with what only it has (kept
//! conversations, built-in tools) in [`responses`]. The echo provider's
//! answer is made in [`echo_answer`]; a streamed answer's way to the client
//! (parse, meter, translate, guard) is [`stream`].
//!
//! Each guardrail check (request, response, or a streamed window) hands its
//! flags, redactions, blocks and plugin failures to the audit trail
//! ([`crate::audit`]) as it happens; the trail is written off the request's path.
//!
//! Every error on the way is an [`ApiError`], which knows no wire format: the
//! entry points (the [`Envelope`] of `chat`, [`forward`], [`responses`]) render
//! it in the client's.
//!
//! Each phase also tells the request's [`Observed`] what it learned (key,
//! route, retries, cache, guardrail decisions, time waiting on the provider,
//! usage); when the request is over, that becomes its metrics and its
//! request-log line ([`crate::telemetry`]). Spans: `request` around it all,
//! `auth`, `guardrails` per check, `attempt` per try of a target.

mod echo_answer;
pub mod forward;
pub mod responses;
mod stream;

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::api::segments::{self, Extracted};
use crate::api::shallow;
use crate::api::splice::{ClientBytes, Layout};
use crate::api::sse::SseParser;
use crate::api::stream::StreamTransformer;
use crate::audit::{AuditSink, RequestFacts};
use crate::auth::Caller;
use crate::canonical::Dialect;
use crate::gateway::Gateway;
use crate::governance::usage::{Usage, UsageMeter};
use crate::governance::{self, Ticket};
use crate::guardrails::redact::{self, SharedPlaceholders};
use crate::guardrails::stream::StreamGuard;
use crate::guardrails::{Guardrails, StopAt};
use crate::json_pointer::Pointer;
use crate::providers::Route;
use crate::response_cache::{
    self, CACHE_HEADER, Entry as CacheEntry, Mode as CacheMode, Recorder, ResponseCache,
};
use crate::routing::attempt::{self, Answer, Outbound};
use crate::routing::condition::Facts;
use crate::routing::{CONFIG_HEADER, Chosen, Failure, Plan, Planner, Report, Step};
use crate::sandbox::{Action, Context, Phase};
use crate::telemetry::{OVERHEAD_HEADER, Observed, otel};
use crate::translate::{self, StreamTranslator};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use echo_answer::{EchoCall, echo_response};
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use stream::{Metering, sse_response};
use tracing::Instrument;

/// The response header that carries the request's id (also in its audit records).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Runs one chat request: authenticates from the headers, then reads `body`
/// (so a caller without a key never gets a body buffered), then the phases.
pub async fn chat(gateway: Arc<Gateway>, api: Api, headers: HeaderMap, body: Body) -> Response {
    let envelope = Envelope::begin(&gateway, api, &headers);
    // room for the headers of the route, limits and trace
    let mut extra = Vec::with_capacity(8);
    // Boxed where it is made: the request's future holds every phase's state
    // (about 5 KB), and each move of it is a copy (wrapping it in its span
    // and awaiting it were two, memcpy a sixteenth of a passthrough profile).
    let inner = Box::pin(chat_inner(
        gateway,
        api,
        &headers,
        body,
        &envelope.request_id,
        &envelope.observed,
        &mut extra,
    ));
    let result = inner.instrument(envelope.span.clone()).await;
    envelope.finish(result, extra)
}

/// What every request carries from start to end: its id, its metrics and log
/// line, and its span.
pub(crate) struct Envelope {
    /// The client's API: the format its errors are rendered in.
    api: Api,
    pub(crate) request_id: String,
    pub(crate) observed: Observed,
    pub(crate) span: tracing::Span,
}

impl Envelope {
    /// Starts a request of `api`.
    pub(crate) fn begin(gateway: &Gateway, api: Api, headers: &HeaderMap) -> Self {
        let started = Instant::now();
        let request_id = request_id(rand_id());
        let log = gateway.request_log.clone().filter(|log| log.wants(headers));
        let observed = Observed::start(
            gateway.metrics.clone(),
            gateway.recent.clone(),
            log,
            started,
            &request_id,
            api,
        );
        let span = tracing::info_span!("request", request_id = %request_id, api = api.as_str());
        otel::continue_trace(&span, headers);
        Envelope {
            api,
            request_id,
            observed,
            span,
        }
    }

    /// The response, with the request's id, its overhead and `extra` headers;
    /// an error rendered in the client's format.
    pub(crate) fn finish(
        self,
        result: Result<Response, ApiError>,
        extra: Vec<(HeaderName, HeaderValue)>,
    ) -> Response {
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                self.observed.failed(error.kind, &error.message);
                error.render(self.api)
            }
        };
        self.observed.facts().status = response.status().as_u16();
        let overhead = millis_header(self.observed.overhead_so_far());
        response
            .headers_mut()
            .entry(HeaderName::from_static(OVERHEAD_HEADER))
            .or_insert(overhead);
        for (name, value) in extra {
            response.headers_mut().entry(name).or_insert(value);
        }
        // the id's own bytes (`request_id` makes it ASCII, its capacity
        // its length), not a copy
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(self.request_id.into_bytes()))
        {
            response
                .headers_mut()
                .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
        }
        response
    }
}

/// A request id, `req_` and `n` in sixteen hex digits, written without
/// formatting (one for every request).
fn request_id(n: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(20);
    id.push_str("req_");
    for shift in (0..16).rev() {
        id.push(char::from(HEX[((n >> (4 * shift)) & 15) as usize]));
    }
    id
}

/// `time` in milliseconds with three decimals (`12.345`), written without
/// formatting a float: the overhead header is on every response.
fn millis_header(time: std::time::Duration) -> HeaderValue {
    use std::io::Write;
    let micros = (time.as_nanos() + 500) / 1000;
    let mut text = [0u8; 48];
    let mut rest = &mut text[..];
    write!(rest, "{}.{:03}", micros / 1000, micros % 1000).expect("48 bytes hold a u128");
    let len = 48 - rest.len();
    HeaderValue::from_bytes(&text[..len]).expect("digits and a dot")
}

/// The auth phase: the caller's key (from the headers alone), the request's
/// metadata merged with the key's tags, and its trace id; then what the
/// request's guardrail checks share (audit sink, placeholder numbering).
pub(crate) async fn authenticate(
    gateway: &Gateway,
    headers: &HeaderMap,
    request_id: &str,
    observed: &Observed,
    extra: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<(Caller, Call), ApiError> {
    use crate::metadata::{TRACE_ID_HEADER, TRACE_ID_TAG};
    let mut caller = gateway
        .keys
        .authenticate(headers)
        .instrument(tracing::info_span!("auth"))
        .await?;
    caller.metadata = crate::metadata::merge(
        Arc::clone(&caller.metadata),
        headers,
        &gateway.config.metadata,
    )?;
    if let Some(trace_id) = crate::metadata::trace_id(headers)? {
        let tags = Arc::make_mut(&mut caller.metadata);
        tags.retain(|(name, _)| name != TRACE_ID_TAG);
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            extra.push((HeaderName::from_static(TRACE_ID_HEADER), value));
        }
        tags.push((TRACE_ID_TAG.into(), trace_id));
    }
    {
        let mut facts = observed.facts();
        facts.key_id = caller.key_id.clone();
        facts.metadata = caller.metadata.clone();
    }
    let audit = gateway.audit.clone().map(|log| {
        let facts = RequestFacts {
            request_id: request_id.to_string(),
            team: caller
                .metadata
                .iter()
                .find(|(k, _)| k == "team")
                .map(|(_, v)| v.clone()),
        };
        AuditSink::new(log, facts)
    });
    let call = Call {
        audit,
        placeholders: SharedPlaceholders::default(),
        observed: observed.clone(),
    };
    Ok((caller, call))
}

async fn chat_inner(
    gateway: Arc<Gateway>,
    api: Api,
    headers: &HeaderMap,
    body: Body,
    request_id: &str,
    observed: &Observed,
    extra: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<Response, ApiError> {
    // auth (headers only), then the body
    let (caller, call) = authenticate(&gateway, headers, request_id, observed, extra).await?;
    let body = crate::api::read_body(&gateway, body).await?;
    // what the key and the headers decide: the guardrails, the routing
    // config (a bad `x-sluice-config` is refused in the route phase)
    let guardrails = gateway.guardrails.subset(caller.guardrails.as_deref());
    let config = gateway.routing.choose(headers, caller.config.as_deref());
    // parse: in full, or only its head when nothing may need more (see
    // `ClientBody::head_only`)
    let head_only = may_pass_through(&gateway, api, observed, &guardrails, &config);
    let (parsed, layout) = if head_only {
        parse_head(api, &body)?
    } else {
        (parse_body(api, &body)?, None)
    };
    let who = Authenticated {
        caller,
        call,
        guardrails,
        config,
    };
    let request = ClientBody {
        parsed,
        raw: ClientBytes {
            bytes: body,
            layout: layout.map(Arc::new),
        },
        head_only,
    };
    chat_request(gateway, api, headers, who, request, observed, extra).await
}

/// Who is calling, once the auth phase let them in, and what that decides.
pub(crate) struct Authenticated {
    pub(crate) caller: Caller,
    pub(crate) call: Call,
    /// The guardrails the caller's requests pass (its key may name a subset).
    pub(crate) guardrails: Guardrails,
    /// The routing config the request uses (`x-sluice-config`, else the
    /// key's, else the server's), or why the header's is refused.
    pub(crate) config: Result<Option<Chosen>, ApiError>,
}

/// A client's request body: as parsed and checked ([`parse_body`]), and the
/// bytes it came in (with where its members sit, when [`parse_head`] read it).
pub(crate) struct ClientBody {
    pub(crate) parsed: Value,
    pub(crate) raw: ClientBytes,
    /// Whether `parsed` is only the body's head ([`parse_head`]): a request
    /// that no guardrail, routing config, cache or body log reads. It is
    /// parsed in full as soon as its plan needs more (a translation, an
    /// override, the echo provider); else its bytes go upstream as they came,
    /// the model spliced in.
    pub(crate) head_only: bool,
}

/// Whether a request may go upstream without its body being read past its
/// head: a Chat Completions or Messages request of a caller no request
/// guardrail checks, with no routing config, no response cache and no body
/// log. (Its plan may still need the whole body: see [`ClientBody::head_only`].)
fn may_pass_through(
    gateway: &Gateway,
    api: Api,
    observed: &Observed,
    guardrails: &Guardrails,
    config: &Result<Option<Chosen>, ApiError>,
) -> bool {
    api != Api::Responses
        && gateway.response_cache.is_none()
        && !observed.logs_bodies()
        && !guardrails.runs_in(Phase::Request)
        && matches!(config, Ok(None))
}

/// A chat request from the route phase on: `request` is a parsed, checked
/// Chat Completions, Messages or Responses body ([`parse_body`]).
pub(crate) async fn chat_request(
    gateway: Arc<Gateway>,
    api: Api,
    headers: &HeaderMap,
    who: Authenticated,
    request: ClientBody,
    observed: &Observed,
    extra: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<Response, ApiError> {
    let Authenticated {
        caller,
        call,
        guardrails,
        config,
    } = who;
    let key_id = caller.key_id.as_deref().unwrap_or_default();
    let ClientBody {
        parsed: request,
        raw,
        head_only,
    } = request;
    // the client's bytes, while the parsed body still says what they say
    let (mut request, raw) = match api {
        Api::Responses => {
            let (request, continued) =
                responses::continue_conversation(&gateway.conversations, key_id, request).await?;
            (request, (!continued).then_some(raw))
        }
        _ => (request, Some(raw)),
    };
    let stream = request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // route: the routing config (if any), and its plan of targets
    let requested = request
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string);
    {
        let mut facts = observed.facts();
        facts.stream = stream;
        facts.requested_model = requested.clone();
    }
    let chosen = config?;
    let planner = Planner {
        providers: &gateway.providers,
        configs: gateway.routing.configs(),
        facts: Facts {
            model: requested.as_deref().unwrap_or(""),
            key: caller.key_id.as_deref().unwrap_or(""),
            api: api.as_str(),
            metadata: &caller.metadata,
            params: &request,
        },
        requested: requested.as_deref(),
        key_default: caller.default_model.as_deref(),
    };
    let mut plan = gateway.routing.plan(&planner, chosen.as_ref())?;
    // scope: targets the key may not use are dropped
    let mut refused = None;
    plan.steps.retain(|step| {
        let allowed = caller.check_scope(&step.route, requested.as_deref(), &gateway.providers);
        allowed
            .map_err(|e| refused.get_or_insert(e).clone())
            .is_ok()
    });
    if plan.steps.is_empty() {
        return Err(refused.expect("a step was refused"));
    }
    if api == Api::Responses {
        responses::keep_targets_that_can_serve(&request, &mut plan)?;
    }
    // a body read only to its head passes through when every target takes
    // it as it is; else it is read in full now
    let passes_through = |step: &Step<'_>| {
        let provider = step.route.provider;
        step.overrides.is_empty()
            && provider.dialect_for(api.dialect(), &step.route.model) == Some(api.dialect())
    };
    let head_only = match &raw {
        Some(raw) if head_only && !plan.steps.iter().all(passes_through) => {
            request = parse_body(api, raw)?;
            false
        }
        _ => head_only,
    };
    {
        let mut facts = observed.facts();
        facts.config = plan.config.clone();
        facts.provider = Some(plan.steps[0].route.provider.slug.clone());
        facts.model = Some(plan.steps[0].route.qualified());
    }
    if let Some(name) = &plan.config
        && let Ok(value) = HeaderValue::from_str(name)
    {
        extra.push((HeaderName::from_static(CONFIG_HEADER), value));
    }
    // the response cache's key: the request as the client sent it, and the
    // response guardrails that judge its answer
    let caching = match &gateway.response_cache {
        Some(cache) => {
            let mode = CacheMode::of(headers)?;
            let config = match headers.get(CONFIG_HEADER).and_then(|v| v.to_str().ok()) {
                Some(inline) if inline.trim_start().starts_with('{') => inline.to_string(),
                _ => plan.config.clone().unwrap_or_default(),
            };
            let targets: Vec<String> = plan.steps.iter().map(|s| s.route.qualified()).collect();
            let judges = guardrails.fingerprint(Phase::Response);
            let key = cache.key(
                api,
                &config,
                &targets,
                caller.key_id.as_deref(),
                &judges,
                &request,
            );
            Some(Caching {
                cache: cache.clone(),
                key,
                mode,
            })
        }
        None => None,
    };
    let route = plan.steps[0].route.clone();
    // admit: budgets and rate limits (counted against the first target)
    let mut ticket = admit(&gateway, api, &caller, &route, observed, extra).await?;
    // request guardrails: over the body each target is sent, overrides applied
    let request = Arc::new(request);
    let client = ClientRequest {
        parsed: &request,
        raw: raw.as_ref(),
        head_only,
    };
    guard_steps(api, &guardrails, &mut plan, client, &caller, &call).await?;
    let checked = plan.steps[0].body.clone().expect("every step is checked");
    if observed.logs_bodies() {
        let mut sent = Value::clone(&checked);
        sent["model"] = Value::String(route.model.clone());
        observed.facts().request_body = Some(sent.to_string());
    }
    // a Responses answer that sluice makes (not OpenAI's) is kept, with the
    // checked input that led to it
    let keep =
        (api == Api::Responses && responses::wants_store(&request)).then(|| responses::Keep {
            key_id: key_id.to_owned(),
            input: responses::input_items(&checked),
        });
    let keep_unless_openais =
        |served: Dialect| keep.clone().filter(|_| served != Dialect::Responses);
    if route.provider.answers_locally() {
        let echo = EchoCall {
            request: &checked,
            route: &route,
            stream,
            ticket,
        };
        let response_ctx = context(&guardrails, api, Phase::Response, &route, &caller);
        let answer = echo_response(api, echo, guardrails, response_ctx, call).await?;
        return Ok(kept(answer, keep));
    }
    // cache: a fresh answer to this exact request, if there is one, judged
    // again by this request's response guardrails
    if let Some(caching) = &caching {
        if caching.mode == CacheMode::Use
            && let Some(entry) = caching.cache.get(&caching.key).await
        {
            extra.push(cache_header("hit"));
            observed.facts().cache = Some("hit");
            if let Ok(target) = HeaderValue::from_str(&entry.target) {
                extra.push((HeaderName::from_static("x-sluice-target"), target));
            }
            let ctx = context(&guardrails, api, Phase::Response, &route, &caller);
            return cached_response(api, &entry, &guardrails, ctx, call).await;
        }
        let status = match caching.mode {
            CacheMode::Use => "miss",
            CacheMode::Refresh => "refresh",
            CacheMode::Bypass => "bypass",
        };
        extra.push(cache_header(status));
        observed.facts().cache = Some(status);
    }
    let caching = caching.filter(|c| c.mode != CacheMode::Bypass);
    // provider: each target of the plan, with retries, until one serves
    let client_wants_usage =
        request.at("/stream_options/include_usage") == Some(&Value::Bool(true));
    let outbound = Outbound {
        dialect: api.dialect(),
        stream,
        client_headers: headers,
        client: &gateway.providers.client,
        max_answer: gateway.limits.max_answer,
        usage_only: api != Api::Responses && !guardrails.runs_in(Phase::Response),
    };
    let calling = Instant::now();
    let (result, report) = gateway
        .routing
        .execute(&plan, |step| {
            let span = tracing::info_span!("attempt", target = %step.route.qualified());
            attempt::try_step(&outbound, step.clone()).instrument(span)
        })
        .await;
    observed.waited_upstream(calling.elapsed());
    routing_headers(&report, extra);
    {
        let mut facts = observed.facts();
        facts.retries = report.retries;
        facts.fallback = report.fallback;
        // the target that served, when it is not the one planned
        if let Some(target) = &report.target
            && facts.model.as_ref() != Some(target)
        {
            facts.provider = target
                .strip_prefix('@')
                .and_then(|t| t.split_once('/'))
                .map(|(provider, _)| provider.to_string());
            facts.model = Some(target.clone());
        }
    }
    let served = match result {
        Ok((served, _)) => served,
        Err(Failure::Status {
            status,
            body,
            headers: passed_on,
            provider,
            translated,
            ..
        }) => {
            observed.facts().error = Some((
                "upstream_status",
                format!("provider `{provider}` answered {}", status.as_u16()),
            ));
            let error = upstream_error(api, &provider, status, &body, translated)?;
            // The provider's words reach the client only through the response
            // guardrails, like any answer.
            let ctx = context(&guardrails, api, Phase::Response, &route, &caller);
            let error = guard_body(&guardrails, ctx, error, segments::every_string, call).await?;
            return Ok(with_headers(json_response(status, &error), passed_on));
        }
        Err(failure) => return Err(failure.to_api()),
    };
    ticket.served_by(&served.route.provider.slug, &served.route.model);
    let upstream = served.dialect;
    let translating = upstream != api.dialect();
    // response guardrails, whole or event by event
    let response_ctx = context(&guardrails, api, Phase::Response, &served.route, &caller);
    let (mut answer, mut raw) = match served.answer {
        Answer::Stream { first, rest } => {
            let guard = StreamGuard::new(guardrails, response_ctx, call.audit, call.placeholders)
                .observed_by(call.observed.clone());
            let events =
                futures_util::stream::once(async move { Ok::<Bytes, String>(first) }).chain(rest);
            let translator = translating
                .then(|| StreamTranslator::new(upstream, api.dialect(), client_wants_usage));
            let mut transformer = StreamTransformer::new(api, guard);
            transformer.strip_usage = !translating && api == Api::OpenAi && !client_wants_usage;
            let metering = Metering {
                meter: UsageMeter::new(upstream),
                ticket,
            };
            let recorder = caching.map(|c| Recorder {
                cache: c.cache,
                key: c.key,
                target: served.route.qualified(),
                body: String::new(),
            });
            let answer = sse_response(
                SseParser::with_limit(gateway.limits.max_stream_event),
                transformer,
                translator,
                metering,
                recorder,
                call.observed,
                events,
            );
            return Ok(kept(answer, keep_unless_openais(upstream)));
        }
        Answer::Whole { parsed, raw } => (parsed, Some(raw)),
    };
    if let Some(usage) = Usage::from_answer(upstream, &answer) {
        ticket.set_usage(usage);
    }
    if translating {
        answer = translate::response(upstream, api.dialect(), &answer);
        raw = None;
    }
    let extract = chat_segments(api, Phase::Response);
    let (answer, redacted) = guard_shared(
        &guardrails,
        response_ctx,
        Arc::new(answer),
        extract,
        call.clone(),
    )
    .await?;
    // the provider's bytes, while they still say what the answer says
    let raw = raw.filter(|_| !redacted);
    let body = match raw {
        Some(raw) => raw,
        None => Bytes::from(serde_json::to_vec(&*answer).expect("a Value serializes")),
    };
    if call.observed.logs_bodies() {
        call.observed.facts().response_body = Some(String::from_utf8_lossy(&body).into_owned());
    }
    // An answer a response guardrail changed is not cached.
    if let Some(caching) = caching
        && !redacted
    {
        let entry = CacheEntry {
            stream: false,
            target: served.route.qualified(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        caching.cache.put(caching.key, entry).await;
    }
    let mut response = Response::new(Body::from(body));
    // room for the gateway's headers ([`Envelope::finish`]), so the map is
    // not grown on the way
    *response.headers_mut() = HeaderMap::with_capacity(16);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(kept(response, keep_unless_openais(upstream)))
}

/// `answer`, marked to be kept by the Responses edge when `keep` says so.
fn kept(mut answer: Response, keep: Option<responses::Keep>) -> Response {
    if let Some(keep) = keep {
        answer.extensions_mut().insert(keep);
    }
    answer
}

/// A request's use of the response cache.
struct Caching {
    cache: Arc<ResponseCache>,
    key: [u8; 32],
    mode: CacheMode,
}

fn cache_header(status: &'static str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(CACHE_HEADER),
        HeaderValue::from_static(status),
    )
}

/// A cached answer, as it was first sent (a JSON body, or a stream replayed),
/// after this request's response guardrails judged it again: a cache shared
/// by keys with other guardrails never hands out what this key's would stop.
async fn cached_response(
    api: Api,
    entry: &CacheEntry,
    guardrails: &Guardrails,
    ctx: Context,
    call: Call,
) -> Result<Response, ApiError> {
    if !entry.stream {
        let answer: Value = serde_json::from_str(&entry.body)
            .map_err(|_| ApiError::new(ErrorKind::Internal, "a cached answer could not be read"))?;
        let extract = chat_segments(api, Phase::Response);
        let answer = guard_body(guardrails, ctx, answer, extract, call).await?;
        return Ok(json_response(StatusCode::OK, &answer));
    }
    let replayed = response_cache::replay(entry);
    let body = if guardrails.runs_in(Phase::Response) {
        let guard = StreamGuard::new(guardrails.clone(), ctx, call.audit, call.placeholders)
            .observed_by(call.observed);
        let mut transformer = StreamTransformer::new(api, guard);
        let mut parser = SseParser::default();
        let mut out = String::new();
        let events = parser.feed(&replayed).unwrap_or_default();
        for event in events.into_iter().chain(parser.finish()) {
            out.push_str(&transformer.on_event(event));
        }
        Bytes::from(out)
    } else {
        replayed
    };
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    Ok(response)
}

/// Adds to `headers` `x-sluice-target`, `x-sluice-retries` and
/// `x-sluice-fallback`: which target served (or failed last), after how many
/// retries, and whether a fallback target was tried.
fn routing_headers(report: &Report, headers: &mut Vec<(HeaderName, HeaderValue)>) {
    headers.extend([
        (
            HeaderName::from_static("x-sluice-retries"),
            match report.retries {
                0 => HeaderValue::from_static("0"),
                retries => HeaderValue::from(retries),
            },
        ),
        (
            HeaderName::from_static("x-sluice-fallback"),
            HeaderValue::from_static(if report.fallback { "true" } else { "false" }),
        ),
    ]);
    if let Some(target) = report
        .target
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        headers.push((HeaderName::from_static("x-sluice-target"), target));
    }
}

/// The largest `max_tokens` a request may ask for: more than any model
/// answers, small enough to be a number every provider reads. A provider
/// refuses values above its model's own limit; translation never rewrites a
/// value it would have refused.
const MAX_TOKENS: u64 = i32::MAX as u64;

/// Parses and checks the shape of a chat request body in `api`'s format.
pub(crate) fn parse_body(api: Api, body: &[u8]) -> Result<Value, ApiError> {
    let text = utf8(body)?;
    let value: Value = serde_json::from_str(text).map_err(not_json)?;
    check_fields(api, &value)?;
    Ok(value)
}

/// The top-level members of a chat request that the gateway reads on a
/// request's way through; [`parse_head`] parses only these in full.
const HEAD_MEMBERS: [&str; 6] = [
    "model",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
];

/// The head of a chat request body in `api`'s format: the whole body checked
/// as [`parse_body`] checks it (UTF-8, JSON syntax, the same fields, the same
/// errors), but only its [`HEAD_MEMBERS`] parsed into values; every other
/// top-level member is an empty value of its own type (`[]` for an array, `""`
/// for a string...). It is never sent anywhere: a request read only to its
/// head goes upstream as its bytes ([`ClientBody::head_only`]).
///
/// Also where the body's top-level members sit, for editing its bytes
/// without reading them again ([`crate::api::splice::edit`]), when it could
/// tell.
pub(crate) fn parse_head(api: Api, body: &[u8]) -> Result<(Value, Option<Layout>), ApiError> {
    let text = utf8(body)?;
    let read = match shallow::read_object_laid_out(text, &HEAD_MEMBERS) {
        Some((head, layout)) => Ok((head, Some(layout))),
        None => shallow::read_object_str(text, &HEAD_MEMBERS).map(|head| (head, None)),
    };
    match read {
        Ok((head, layout)) => {
            let head = Value::Object(head);
            check_fields(api, &head)?;
            Ok((head, layout))
        }
        // not an object, or not JSON: the error `parse_body` gives
        Err(_) => Err(parse_body(api, body).err().unwrap_or_else(|| {
            ApiError::new(
                ErrorKind::InvalidRequest,
                "the request body must be a JSON object",
            )
        })),
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorKind::InvalidRequest, message)
}

fn utf8(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| {
        invalid(format!(
            "the request body is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

fn not_json(e: serde_json::Error) -> ApiError {
    invalid(format!("the request body is not valid JSON: {e}"))
}

/// The checks of a chat request's fields, on a parsed body or its head.
fn check_fields(api: Api, value: &Value) -> Result<(), ApiError> {
    if !value.is_object() {
        return Err(invalid("the request body must be a JSON object".into()));
    }
    match (api, value.get("messages"), value.get("input")) {
        (Api::OpenAi | Api::Anthropic, Some(Value::Array(_)), _) => {}
        (Api::OpenAi | Api::Anthropic, Some(_), _) => {
            return Err(invalid("`messages` must be an array".into()));
        }
        (Api::OpenAi | Api::Anthropic, None, _) => {
            return Err(invalid("`messages` is required".into()));
        }
        (Api::Responses, _, None | Some(Value::String(_) | Value::Array(_))) => {}
        (Api::Responses, _, Some(_)) => {
            return Err(invalid(
                "`input` must be a string or an array of items".into(),
            ));
        }
    }
    if let Some(model) = value.get("model")
        && !model.is_string()
    {
        return Err(invalid("`model` must be a string".into()));
    }
    if let Some(stream) = value.get("stream")
        && !stream.is_boolean()
    {
        return Err(invalid("`stream` must be a boolean".into()));
    }
    for field in ["max_tokens", "max_completion_tokens", "max_output_tokens"] {
        match value.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=MAX_TOKENS).contains(&n)) => {
            }
            Some(other) => {
                return Err(invalid(format!(
                    "`{field}` must be an integer from 1 to {MAX_TOKENS}, not {other}"
                )));
            }
        }
    }
    Ok(())
}

/// What the guardrails of `phase` are told about the call; left empty when
/// none of them runs in it, as nothing reads it then (a passthrough does
/// not pay for copying the key's metadata).
fn context(
    guardrails: &Guardrails,
    api: Api,
    phase: Phase,
    route: &Route<'_>,
    caller: &Caller,
) -> Context {
    if !guardrails.runs_in(phase) {
        return Context {
            phase,
            api: String::new(),
            model: String::new(),
            key_id: None,
            metadata: Vec::new(),
        };
    }
    Context {
        phase,
        api: api.as_str().into(),
        model: route.qualified(),
        key_id: caller.key_id.clone(),
        metadata: Vec::clone(&caller.metadata),
    }
}

/// The admit phase: budgets (402) and rate limits (429) for `route`; the
/// ticket that records the request's usage, and the rate-limit headers.
pub(crate) async fn admit(
    gateway: &Gateway,
    api: Api,
    caller: &Caller,
    route: &Route<'_>,
    observed: &Observed,
    extra: &mut Vec<(HeaderName, HeaderValue)>,
) -> Result<Ticket, ApiError> {
    let admitted = gateway
        .governance
        .admit(&governance::Request {
            api,
            key_id: caller.key_id.as_deref(),
            metadata: &caller.metadata,
            provider: &route.provider.slug,
            model: &route.model,
        })
        .await?;
    extra.extend(admitted.headers);
    let mut ticket = admitted.ticket;
    ticket.observe(observed.clone());
    Ok(ticket)
}

/// Where the text of a chat body in `api`'s format is, in `phase`.
fn chat_segments(api: Api, phase: Phase) -> fn(&Value) -> Extracted {
    match (api, phase) {
        (Api::OpenAi, Phase::Request) => segments::openai_request,
        (Api::Anthropic, Phase::Request) => segments::anthropic_request,
        (Api::OpenAi, Phase::Response) => segments::openai_response,
        (Api::Anthropic, Phase::Response) => segments::anthropic_response,
        (Api::Responses, Phase::Request) => segments::responses::request,
        (Api::Responses, Phase::Response) => segments::responses::response,
    }
}

/// The request guardrails, over exactly the body each step of the plan will
/// send: the request with that step's overrides applied ([`Step::outgoing`]).
/// Steps that override alike share one check (usually there is one in all).
/// Each step keeps its checked (and redacted) body; nothing else is ever sent.
/// The request as the client sent it, for [`guard_steps`]: parsed, and its
/// bytes while they still say what the parsed body says.
#[derive(Clone, Copy)]
struct ClientRequest<'a> {
    parsed: &'a Arc<Value>,
    raw: Option<&'a ClientBytes>,
    /// `parsed` is only the head of `raw` ([`ClientBody::head_only`]).
    head_only: bool,
}

/// The request guardrails, over the body each step sends (steps with the same
/// overrides share one check). A step without overrides whose body the
/// guardrails left alone keeps the client's bytes ([`crate::routing::Step::raw`]).
async fn guard_steps(
    api: Api,
    guardrails: &Guardrails,
    plan: &mut Plan<'_>,
    request: ClientRequest<'_>,
    caller: &Caller,
    call: &Call,
) -> Result<(), ApiError> {
    type Checked<'o> = (
        &'o serde_json::Map<String, Value>,
        Arc<Value>,
        Option<ClientBytes>,
    );
    let mut checked: Vec<Checked<'_>> = Vec::new();
    let mut bodies = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let body = match checked.iter().find(|(o, _, _)| **o == step.overrides) {
            Some((_, body, raw)) => (body.clone(), raw.clone()),
            None => {
                let as_sent = step.overrides.is_empty();
                let outgoing = if as_sent {
                    request.parsed.clone()
                } else {
                    Arc::new(step.outgoing(request.parsed))
                };
                let (body, redacted) = if guardrails.runs_in(Phase::Request) {
                    let ctx = context(guardrails, api, Phase::Request, &step.route, caller);
                    let extract = chat_segments(api, Phase::Request);
                    guard_shared(guardrails, ctx, outgoing, extract, call.clone()).await?
                } else {
                    (outgoing, false)
                };
                let raw = request.raw.filter(|_| as_sent && !redacted).cloned();
                checked.push((&step.overrides, body.clone(), raw.clone()));
                (body, raw)
            }
        };
        bodies.push(body);
    }
    for (step, (body, raw)) in plan.steps.iter_mut().zip(bodies) {
        step.head_only = request.head_only && raw.is_some();
        step.body = Some(body);
        step.raw = raw;
    }
    Ok(())
}

/// Runs the guardrails of `ctx.phase` over the text `extract` finds in a
/// whole JSON body (a request, an answer, an error) and returns it with their
/// redactions applied; a block is an error. Plugins run on the guardrails'
/// own threads ([`crate::guardrails::pool`]), so a slow or hostile one
/// (bounded by its deadline) never holds up the async workers that serve
/// other requests; at most `[sandbox] parallel_checks` checks run at once.
pub(crate) async fn guard_body(
    guardrails: &Guardrails,
    ctx: Context,
    body: Value,
    extract: fn(&Value) -> Extracted,
    call: Call,
) -> Result<Value, ApiError> {
    let (body, _) = guard_shared(guardrails, ctx, Arc::new(body), extract, call).await?;
    Ok(Arc::try_unwrap(body).unwrap_or_else(|shared| Value::clone(&shared)))
}

/// [`guard_body`] on a shared body, copied only when a redaction is written
/// into it; also says whether one was.
async fn guard_shared(
    guardrails: &Guardrails,
    ctx: Context,
    mut body: Arc<Value>,
    extract: fn(&Value) -> Extracted,
    call: Call,
) -> Result<(Arc<Value>, bool), ApiError> {
    if !guardrails.runs_in(ctx.phase) {
        return Ok((body, false));
    }
    let set = guardrails.clone();
    let span = tracing::info_span!("guardrails", phase = ctx.phase.as_str());
    let checked = guardrails
        .run_check(move || {
            let _span = span.entered();
            let extracted = extract(&body);
            let outcome = set.check(&ctx, &extracted.segments, StopAt::FirstBlock);
            outcome.log_failures();
            call.observed.guardrails(&outcome, ctx.phase);
            if let Some(audit) = &call.audit {
                audit.record(&outcome, &ctx, &extracted.segments, &[]);
            }
            match outcome.action() {
                Action::Block => Err(outcome.block_message().unwrap_or_default()),
                Action::Redact => {
                    let mut placeholders = redact::lock(&call.placeholders);
                    let redacted =
                        extracted.apply(Arc::make_mut(&mut body), &outcome, &mut placeholders);
                    Ok((body, redacted))
                }
                Action::Allow | Action::Flag => Ok((body, false)),
            }
        })
        .await;
    match checked {
        Ok(Ok(checked)) => Ok(checked),
        Ok(Err(message)) => Err(ApiError::new(ErrorKind::Blocked, message)),
        Err(_) => Err(ApiError::new(
            ErrorKind::Internal,
            "the guardrail check could not complete",
        )),
    }
}

/// An upstream error answer's body, to pass on with its status: as is when
/// the provider speaks the client's API, re-worded into the client's format
/// when translating, and a 502 when it is not JSON. Either way it goes through
/// the response guardrails before the client sees it. A redirect is a 502 that
/// says so (the client cannot follow it: it would reach the provider without
/// the gateway).
fn upstream_error(
    api: Api,
    provider: &str,
    status: StatusCode,
    body: &[u8],
    translating: bool,
) -> Result<Value, ApiError> {
    if status.is_redirection() {
        return Err(ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "provider `{provider}` answered {} (a redirect), which the gateway does not follow; \
                 its `base_url` should name the final address",
                status.as_u16()
            ),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        // A body in the client's own error shape passes unchanged; a cloud's
        // (AWS's `{"message"}`, Google's `{"error": {"status"}}`) is
        // rewritten even when the dialect is the client's, when its message
        // can be read (else it passes as it is, losing nothing).
        Ok(body)
            if body.is_object()
                && !translating
                && (is_error_of(api, &body) || translate::error_message(&body).is_none()) =>
        {
            Ok(body)
        }
        Ok(body) if body.is_object() => {
            let message =
                translate::error_message(&body).unwrap_or("the provider reported an error");
            let error = ApiError::new(
                ErrorKind::for_status(status),
                format!("provider `{provider}`: {message}"),
            );
            Ok(error.body(api))
        }
        _ => Err(ApiError::new(
            ErrorKind::BadGateway,
            format!(
                "provider `{provider}` answered {} with a body that is not JSON",
                status.as_u16()
            ),
        )),
    }
}

/// Whether `body` is an error body in `api`'s own shape: Anthropic's
/// `{"type": "error", "error": {…}}`, OpenAI's `{"error": {"message": …}}`
/// (without Google's `status`).
fn is_error_of(api: Api, body: &Value) -> bool {
    match api {
        Api::Anthropic => body["type"] == "error" && body["error"].is_object(),
        Api::OpenAi | Api::Responses => {
            body["error"]["message"].is_string() && body["error"].get("status").is_none()
        }
    }
}

/// What one call's guardrail checks share: the audit sink and the placeholder
/// numbering (so a value keeps its placeholder from request to response).
#[derive(Clone)]
pub(crate) struct Call {
    audit: Option<AuditSink>,
    placeholders: SharedPlaceholders,
    observed: Observed,
}

/// `response` with `headers` set (replacing the gateway's own of the same
/// name: a provider's `Retry-After` and rate-limit state are the ones that
/// count for its error).
fn with_headers(mut response: Response, headers: Vec<(HeaderName, HeaderValue)>) -> Response {
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A random-enough id for echo answers (not a secret).
pub(crate) fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::{HEAD_MEMBERS, parse_body, parse_head, request_id};
    use crate::api::error::Api;
    use serde_json::Value;

    #[test]
    fn request_ids_are_sixteen_hex_digits() {
        for n in [0, 1, 0xabc, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(request_id(n), format!("req_{n:016x}"));
        }
    }

    /// The JSON type of a value, by name.
    fn kind(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    #[test]
    fn the_head_passes_and_refuses_what_a_whole_parse_does_and_keeps_its_members() {
        let bodies: [&[u8]; 22] = [
            br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#,
            br#"{"messages": [], "stream": true, "stream_options": {"include_usage": true}}"#,
            br#"{"model": "m", "messages": [], "system": "be brief", "tools": [{"a": [1, {"b": null}]}],
                "temperature": 0.5, "n": -1, "top_p": 1e3, "metadata": {"x": "y"}, "flag": false, "none": null}"#,
            br#"{"mod\u0065l": "escaped", "messages": [], "model": "twice"}"#,
            br#"{"model": "m", "messages": [], "max_tokens": 100, "max_completion_tokens": null}"#,
            br#"{"model": "m", "messages": [], "max_tokens": 0}"#,
            br#"{"model": "m", "messages": [], "max_output_tokens": 1.5}"#,
            br#"{"model": 7, "messages": []}"#,
            br#"{"model": "m", "messages": [], "stream": "yes"}"#,
            br#"{"model": "m", "messages": {}}"#,
            br#"{"model": "m"}"#,
            br#"{"model": "m", "input": "text"}"#,
            br#"{"model": "m", "input": 3}"#,
            br#"[{"model": "m"}]"#,
            br#""text""#,
            br#"{"model": "m", "messages": [}"#,
            br#"{"model": "m", "messages": []} trailing"#,
            b"{\"model\": \"m\", \"messages\": [\"\xff\"]}",
            br#"{"model": "m", "messages": ["\ud800 lone"]}"#,
            br#"{"model": "m", "messages": [1e999]}"#,
            br#"{"model": "m", "messages": [], "tools": [-0.0, 18446744073709551616, "\u00e9\n"]}"#,
            b"",
        ];
        let deep = format!(
            r#"{{"model": "m", "messages": [{}{}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let bodies = bodies.into_iter().chain([deep.as_bytes()]);
        for api in [Api::OpenAi, Api::Anthropic, Api::Responses] {
            for body in bodies.clone() {
                let shown = String::from_utf8_lossy(body);
                match (parse_body(api, body), parse_head(api, body)) {
                    (Ok(whole), Ok((head, _))) => {
                        let (whole, head) = (whole.as_object().unwrap(), head.as_object().unwrap());
                        let keys = |m: &serde_json::Map<String, Value>| {
                            m.keys().cloned().collect::<Vec<_>>()
                        };
                        assert_eq!(keys(whole), keys(head), "{shown}");
                        for (key, value) in whole {
                            if HEAD_MEMBERS.contains(&key.as_str()) {
                                assert_eq!(value, &head[key], "{key} of {shown}");
                            } else {
                                assert_eq!(kind(value), kind(&head[key]), "{key} of {shown}");
                            }
                        }
                    }
                    (Err(whole), Err(head)) => {
                        assert_eq!(whole.message, head.message, "{shown}");
                        assert_eq!(whole.kind, head.kind, "{shown}");
                    }
                    (whole, head) => panic!(
                        "{api:?} {shown}: whole {:?}, head {:?}",
                        whole.map_err(|e| e.message),
                        head.map_err(|e| e.message)
                    ),
                }
            }
        }
    }
}
