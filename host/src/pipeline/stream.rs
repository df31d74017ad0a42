//! A streamed answer on its way to the client: upstream bytes → events →
//! usage metered → translated (when the provider speaks another dialect) →
//! guarded ([`StreamTransformer`]) → client, with what the request log and
//! the response cache keep of it. If the client goes away, the body is
//! dropped, and with it the upstream request.

use crate::api::error::ErrorKind;
use crate::api::sse::{SseEvent, SseParser};
use crate::api::stream::StreamTransformer;
use crate::governance::Ticket;
use crate::governance::usage::UsageMeter;
use crate::response_cache::Recorder;
use crate::telemetry::Observed;
use crate::translate::StreamTranslator;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::StreamExt;
use std::time::Instant;

/// A streaming response: upstream bytes → events → guarded events → client. If
/// the client goes away, the body is dropped, and with it the upstream request.
pub(super) fn sse_response<S>(
    parser: SseParser,
    transformer: StreamTransformer,
    translator: Option<StreamTranslator>,
    metering: Metering,
    recorder: Option<Recorder>,
    observed: Observed,
    upstream: S,
) -> Response
where
    S: futures_util::Stream<Item = Result<Bytes, String>> + Send + 'static,
{
    let state = StreamState {
        upstream: Box::pin(upstream),
        parser,
        translator,
        transformer,
        metering,
        recorder,
        observed,
        sent_at: None,
        done: false,
    };
    let body = futures_util::stream::unfold(state, |mut state| async move {
        if let Some(sent_at) = state.sent_at.take() {
            state.observed.waited_on_client(sent_at.elapsed());
        }
        while !state.done {
            let waiting = Instant::now();
            let item = state.upstream.next().await;
            state.observed.waited_upstream(waiting.elapsed());
            let content_before = state.transformer.content_released;
            let out = state.step(item);
            if !out.is_empty() {
                if state.transformer.content_released > content_before {
                    state.observed.sent_content();
                }
                state.observed.add_response_text(&out);
                state.sent_at = Some(Instant::now());
                return Some((Ok::<_, std::io::Error>(Bytes::from(out)), state));
            }
        }
        None
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

struct StreamState<S> {
    upstream: std::pin::Pin<Box<S>>,
    parser: SseParser,
    translator: Option<StreamTranslator>,
    transformer: StreamTransformer,
    metering: Metering,
    /// Keeps the bytes for the response cache, when it is on.
    recorder: Option<Recorder>,
    /// The request's metrics and log line.
    observed: Observed,
    /// When the last output was handed to the client.
    sent_at: Option<Instant>,
    done: bool,
}

/// A stream's usage as the provider reports it, and the ticket it goes on. The
/// ticket records when the stream state is dropped: at its end, or when the
/// client goes away.
pub(super) struct Metering {
    pub(super) meter: UsageMeter,
    pub(super) ticket: Ticket,
}

impl<S> StreamState<S> {
    /// Handles one item of the upstream (`None`: it ended); returns the output.
    fn step(&mut self, item: Option<Result<Bytes, String>>) -> String {
        let out = match item {
            Some(Ok(bytes)) => match self.parser.feed(&bytes) {
                Ok(events) => events.into_iter().map(|event| self.handle(event)).collect(),
                Err(message) => self.transformer.fail(ErrorKind::BadGateway, &message),
            },
            Some(Err(message)) => self.transformer.fail(
                ErrorKind::BadGateway,
                &format!("the provider's stream broke off: {message}"),
            ),
            None => {
                let mut out = String::new();
                if let Some(event) = self.parser.finish() {
                    out.push_str(&self.handle(event));
                }
                out + &self.transformer.on_upstream_end()
            }
        };
        self.done = self.transformer.ended;
        if let Some((kind, message)) = self.transformer.failure.take() {
            // The client got a 200 and then an error event: its status stays.
            self.observed.facts().error = Some((kind.label(), message));
        }
        self.record(&out);
        out
    }

    /// Keeps `out` for the response cache; at a good end of a stream no
    /// guardrail changed, caches it.
    fn record(&mut self, out: &str) {
        let Some(recorder) = &mut self.recorder else {
            return;
        };
        if !recorder.push(out) {
            self.recorder = None;
            return;
        }
        if self.done
            && let Some(recorder) = self.recorder.take()
            && self.transformer.completed
            && !self.transformer.redacted()
        {
            recorder.finish();
        }
    }

    /// One upstream event: metered, translated (if needed), then guarded.
    fn handle(&mut self, event: SseEvent) -> String {
        self.metering.meter.observe(&event.data);
        if let Some(usage) = self.metering.meter.usage() {
            self.metering.ticket.set_usage(usage);
        }
        let transformer = &mut self.transformer;
        match &mut self.translator {
            Some(translator) => translator
                .on_event(event)
                .into_iter()
                .map(|e| transformer.on_event(e))
                .collect(),
            None => transformer.on_event(event),
        }
    }
}
