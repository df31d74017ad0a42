//! A fast mock upstream: OpenAI Chat Completions (`POST /v1/chat/completions`)
//! and Anthropic Messages (`POST /v1/messages`), whole or streamed.
//!
//! It runs on a thread of its own with a single-threaded tokio runtime and
//! answers with hyper directly, building each answer from pieces made at start,
//! so that it costs a few microseconds a request. Every answer carries usage
//! counts (input tokens estimated as the body's bytes / 4). A request is
//! streamed when its body has `"stream": true`; OpenAI streams end with a usage
//! chunk when the request asks for it (`stream_options.include_usage`), as
//! OpenAI's do.
//!
//! A streamed answer is [`MockOptions::chunks`] text deltas: the first is sent
//! at once with the stream's opening events, each next one
//! [`MockOptions::chunk_delay`] after the one before (tokio's timer: a
//! millisecond's resolution), the closing events right after the last. A whole
//! answer carries the same text.

use crate::server_thread::{ServerThread, accept_until};
use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The text deltas of a streamed answer, in turn.
const WORDS: &[&str] = &[
    "Hello",
    "!",
    " This",
    " is",
    " the",
    " mock",
    " upstream",
    ",",
    " answering",
    " one",
    " token",
    " at",
    " a",
    " time",
    " so",
    " that",
    " the",
    " gateway",
    " has",
    " a",
    " stream",
    " to",
    " carry",
    ".",
];

/// How the mock answers.
#[derive(Debug, Clone, Copy)]
pub struct MockOptions {
    /// Text deltas in a streamed answer (also the answer's output tokens).
    pub chunks: usize,
    /// The wait between two deltas.
    pub chunk_delay: Duration,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            chunks: 64,
            chunk_delay: Duration::from_millis(1),
        }
    }
}

/// A running mock; stopped when dropped.
pub struct Mock {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    /// Dropping it stops the mock.
    _server: ServerThread,
}

struct Shared {
    options: MockOptions,
    requests: AtomicU64,
    /// The pieces of every answer, made once.
    openai: Pieces,
    anthropic: Pieces,
}

/// One API's answer, in pieces.
struct Pieces {
    /// A whole answer is `whole.0`, the input tokens, `whole.1`.
    whole: (String, String),
    /// A stream opens with this (and the first delta).
    head: Bytes,
    /// The text deltas.
    deltas: Vec<Bytes>,
    /// The closing events are `tail.0`, the input tokens, `tail.1`.
    tail: (String, String),
    /// For OpenAI: the closing events when the usage chunk is not asked for.
    tail_without_usage: Bytes,
}

type Body = Either<Full<Bytes>, StreamBody<Pin<Box<dyn Stream<Item = Frames> + Send>>>>;
type Frames = Result<Frame<Bytes>, Infallible>;

impl Mock {
    /// Starts the mock on a free port of 127.0.0.1, on a thread of its own.
    pub fn start(options: MockOptions) -> std::io::Result<Mock> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(options));
        let state = shared.clone();
        let server = ServerThread::spawn("mock-upstream", move |stopped| {
            serve(listener, state, stopped)
        })?;
        Ok(Mock {
            addr,
            shared,
            _server: server,
        })
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    accept_until(listener, stopped, move |socket| {
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |request| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(shared.answer(request).await) }
        });
        async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        }
    })
    .await;
}

impl Shared {
    fn new(options: MockOptions) -> Shared {
        let words: Vec<&str> = (0..options.chunks)
            .map(|i| WORDS[i % WORDS.len()])
            .collect();
        let text: String = words.concat();
        let text_json = serde_json::to_string(&text).expect("a string");
        let output = options.chunks;
        let openai_delta = |word: &str| {
            let chunk = serde_json::json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                "created": 1, "model": "mock-1",
                "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]});
            Bytes::from(format!("data: {chunk}\n\n"))
        };
        let openai_finish = "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"mock-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
        let openai = Pieces {
            whole: (
                format!(
                    "{{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"mock-1\",\
                     \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":{text_json}}},\"finish_reason\":\"stop\"}}],\
                     \"usage\":{{\"prompt_tokens\":"
                ),
                format!(",\"completion_tokens\":{output}}}}}"),
            ),
            head: Bytes::from_static(
                b"data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"mock-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
            ),
            deltas: words.iter().map(|w| openai_delta(w)).collect(),
            tail: (
                format!(
                    "{openai_finish}data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"mock-1\",\"choices\":[],\"usage\":{{\"prompt_tokens\":"
                ),
                format!(",\"completion_tokens\":{output}}}}}\n\ndata: [DONE]\n\n"),
            ),
            tail_without_usage: Bytes::from(format!("{openai_finish}data: [DONE]\n\n")),
        };
        let anthropic_delta = |word: &str| {
            let data = serde_json::json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": word}});
            Bytes::from(format!("event: content_block_delta\ndata: {data}\n\n"))
        };
        let anthropic = Pieces {
            whole: (
                format!(
                    "{{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"mock-1\",\
                     \"content\":[{{\"type\":\"text\",\"text\":{text_json}}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\
                     \"usage\":{{\"input_tokens\":"
                ),
                format!(",\"output_tokens\":{output}}}}}"),
            ),
            head: Bytes::from_static(
                b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"mock-1\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":1}}}\n\n\
                  event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            ),
            deltas: words.iter().map(|w| anthropic_delta(w)).collect(),
            tail: (
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
                 event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":"
                    .to_string(),
                format!(
                    ",\"output_tokens\":{output}}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
                ),
            ),
            tail_without_usage: Bytes::new(),
        };
        Shared {
            options,
            requests: AtomicU64::new(0),
            openai,
            anthropic,
        }
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Body> {
        let pieces = match request.uri().path() {
            "/v1/chat/completions" => &self.openai,
            "/v1/messages" => &self.anthropic,
            _ => return status(StatusCode::NOT_FOUND, "no such route"),
        };
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return status(StatusCode::BAD_REQUEST, "the body broke off"),
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let input = (body.len() / 4).to_string();
        if !json_true(&body, b"stream") {
            let (before, after) = &pieces.whole;
            let text = format!("{before}{input}{after}");
            return Response::builder()
                .header("content-type", "application/json")
                .body(Either::Left(Full::new(Bytes::from(text))))
                .expect("a response");
        }
        let tail = if std::ptr::eq(pieces, &self.openai) && !json_true(&body, b"include_usage") {
            pieces.tail_without_usage.clone()
        } else {
            Bytes::from(format!("{}{input}{}", pieces.tail.0, pieces.tail.1))
        };
        let events = stream(
            pieces.head.clone(),
            pieces.deltas.clone(),
            tail,
            self.options.chunk_delay,
        );
        Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(Either::Right(StreamBody::new(events)))
            .expect("a response")
    }
}

/// The stream of an answer: the head with the first delta, then each next delta
/// after `delay`, the tail with the last.
fn stream(
    head: Bytes,
    deltas: Vec<Bytes>,
    tail: Bytes,
    delay: Duration,
) -> Pin<Box<dyn Stream<Item = Frames> + Send>> {
    let count = deltas.len();
    let state = (0usize, Some(head), deltas, Some(tail));
    Box::pin(futures_util::stream::unfold(
        state,
        move |(i, mut head, deltas, mut tail)| async move {
            if i > count || (i == count && tail.is_none()) {
                return None;
            }
            if i > 0 && i < count && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut piece = Vec::new();
            if let Some(head) = head.take() {
                piece.extend_from_slice(&head);
            }
            if i < count {
                piece.extend_from_slice(&deltas[i]);
            }
            if i + 1 >= count
                && let Some(tail) = tail.take()
            {
                piece.extend_from_slice(&tail);
            }
            let frame = Frame::data(Bytes::from(piece));
            Some((Ok(frame), (i + 1, head, deltas, tail)))
        },
    ))
}

fn status(code: StatusCode, message: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Either::Left(Full::new(Bytes::from(format!(
            "{{\"error\":{{\"message\":\"{message}\"}}}}"
        )))))
        .expect("a response")
}

/// Whether the JSON text `body` has `"key": true` (at any depth; the bodies of
/// the benchmark have one such key at most).
pub fn json_true(body: &[u8], key: &[u8]) -> bool {
    let mut quoted = Vec::with_capacity(key.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(key);
    quoted.push(b'"');
    memchr::memmem::find_iter(body, &quoted).any(|at| {
        let rest = &body[at + quoted.len()..];
        let rest = rest.trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|value| value.trim_ascii_start().starts_with(b"true"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_true_flags_however_spaced() {
        assert!(json_true(br#"{"a":1,"stream":true}"#, b"stream"));
        assert!(json_true(br#"{"stream" : true}"#, b"stream"));
        assert!(!json_true(br#"{"stream":false}"#, b"stream"));
        assert!(!json_true(br#"{"content":"stream"}"#, b"stream"));
        assert!(json_true(
            br#"{"stream_options": {"include_usage": true}}"#,
            b"include_usage"
        ));
    }
}
