//! The load generator: HTTP/1.1 keep-alive connections, driven closed loop or
//! open loop, on a single-threaded tokio runtime of the calling thread.
//!
//! - **Closed loop** ([`Mode::Closed`]): C connections, each sending its next
//!   request as soon as the last one is answered. What it measures is the most
//!   requests per second the target serves with C requests in flight.
//! - **Open loop** ([`Mode::Open`]): requests due at a fixed rate, whatever the
//!   target does; a pacing thread releases each when it is due (with
//!   `std::thread::sleep`, far finer than tokio's millisecond timer) to the next
//!   free connection of a pool. Latency is counted from when a request was
//!   *due*, so a target that falls behind shows it in its latency instead of
//!   slowing the load down (no coordinated omission).
//!
//! Latency is from the request being sent (or due) to the last byte of the
//! answer. Time to first token, for streams, is to the first event that carries
//! answer text (an OpenAI `delta.content` or an Anthropic `text_delta` that is
//! not empty). Every answer is checked: a 200, and a body that is an answer
//! (`"usage"` in a whole one; a stream that had text and reached its end
//! marker). Anything else is a failure, counted by status, with the first one's
//! body kept for the report.

use crate::body::Bodies;
use crate::scenario::Api;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a failed answer's body is kept.
const FAILURE_EXCERPT: usize = 300;

/// What to send where.
pub struct Workload {
    /// The target's address.
    pub addr: SocketAddr,
    /// The request path.
    pub path: String,
    /// Headers besides `host`, `content-type` and `content-length`.
    pub headers: Vec<(String, String)>,
    /// The request bodies.
    pub bodies: Arc<Bodies>,
    /// The answer's API (to find the first token and the stream's end).
    pub api: Api,
    /// Whether answers are streamed.
    pub stream: bool,
}

/// How load is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// `connections` connections, each with one request in flight at all times.
    Closed {
        /// How many.
        connections: usize,
    },
    /// `rate` requests a second, on a pool of `connections`.
    Open {
        /// Requests per second.
        rate: f64,
        /// The pool's size: at most this many requests in flight.
        connections: usize,
    },
}

/// What one run measured.
pub struct Outcome {
    /// How load was applied.
    pub mode: Mode,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Answers that passed the checks.
    pub ok: u64,
    /// Requests that failed: a connection error, a timeout, a status other than
    /// 200 or an answer that is not one.
    pub failed: u64,
    /// Answers by status (failed connections are not in it).
    pub statuses: BTreeMap<u16, u64>,
    /// The first failure, described.
    pub first_failure: Option<String>,
    /// Latency of the good answers, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Time to first token of the good streamed answers, in nanoseconds.
    pub ttft: Histogram<u64>,
}

impl Outcome {
    fn empty(mode: Mode) -> Outcome {
        Outcome {
            mode,
            elapsed: Duration::ZERO,
            ok: 0,
            failed: 0,
            statuses: BTreeMap::new(),
            first_failure: None,
            latency: histogram(),
            ttft: histogram(),
        }
    }

    /// Good answers per second.
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ok as f64 / self.elapsed.as_secs_f64()
        }
    }

    /// The latency at `quantile` (0.5, 0.99, 0.999).
    pub fn latency_at(&self, quantile: f64) -> Duration {
        Duration::from_nanos(self.latency.value_at_quantile(quantile))
    }

    /// The time to first token at `quantile`, if any stream was measured.
    pub fn ttft_at(&self, quantile: f64) -> Option<Duration> {
        (!self.ttft.is_empty()).then(|| Duration::from_nanos(self.ttft.value_at_quantile(quantile)))
    }

    fn merge(&mut self, other: Outcome) {
        self.ok += other.ok;
        self.failed += other.failed;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        let _ = self.latency.add(&other.latency);
        let _ = self.ttft.add(&other.ttft);
    }

    fn fail(&mut self, why: String) {
        self.failed += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(why);
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 ns to 100 s, three significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid bounds")
}

/// Applies `mode` to `workload` for `duration`; blocks the calling thread.
pub fn run(workload: Arc<Workload>, mode: Mode, duration: Duration) -> std::io::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(drive(workload, mode, duration)))
}

async fn drive(workload: Arc<Workload>, mode: Mode, duration: Duration) -> Outcome {
    let (Mode::Closed { connections } | Mode::Open { connections, .. }) = mode;
    let connections = connections.max(1);
    // Every connection is made before the clock starts.
    let ready = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let (due_tx, due_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let due_rx = Arc::new(tokio::sync::Mutex::new(due_rx));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (workload, ready, due_rx) = (workload.clone(), ready.clone(), due_rx.clone());
        workers.push(tokio::spawn(async move {
            let mut outcome = Outcome::empty(mode);
            let mut sender = connect(&workload, &mut outcome).await;
            ready.wait().await;
            match mode {
                Mode::Closed { .. } => {
                    let deadline = Instant::now() + duration;
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        exchange(&workload, &mut sender, sent, &mut outcome).await;
                    }
                }
                Mode::Open { .. } => loop {
                    let due = due_rx.lock().await.recv().await;
                    let Some(due) = due else { break };
                    exchange(&workload, &mut sender, due, &mut outcome).await;
                },
            }
            outcome
        }));
    }
    ready.wait().await;
    let started = Instant::now();
    let pacer = match mode {
        Mode::Open { rate, .. } => Some(std::thread::spawn(move || pace(due_tx, rate, duration))),
        Mode::Closed { .. } => {
            drop(due_tx);
            None
        }
    };
    let mut total = Outcome::empty(mode);
    for worker in workers {
        if let Ok(outcome) = worker.await {
            total.merge(outcome);
        }
    }
    if let Some(pacer) = pacer {
        let _ = pacer.join();
    }
    total.elapsed = started.elapsed();
    total
}

/// Sends the due time of each request, `rate` a second for `duration`.
fn pace(due: tokio::sync::mpsc::UnboundedSender<Instant>, rate: f64, duration: Duration) {
    let start = Instant::now();
    let count = (rate * duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    for i in 0..count {
        let at = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        if due.send(at).is_err() {
            return;
        }
    }
}

type Sender = Option<SendRequest<Full<Bytes>>>;

async fn connect(workload: &Workload, outcome: &mut Outcome) -> Sender {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(workload.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        Ok::<_, std::io::Error>(sender)
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, attempt).await {
        Ok(Ok(sender)) => Some(sender),
        Ok(Err(e)) => {
            outcome.fail(format!("connect to {}: {e}", workload.addr));
            None
        }
        Err(_) => {
            outcome.fail(format!("connect to {}: timed out", workload.addr));
            None
        }
    }
}

/// Sends one request (counted from `from`) and records what came back.
async fn exchange(workload: &Workload, sender: &mut Sender, from: Instant, outcome: &mut Outcome) {
    // A connection the server closed (or a failed one) is replaced first.
    let usable = match sender {
        Some(s) => s.ready().await.is_ok(),
        None => false,
    };
    if !usable {
        *sender = connect(workload, outcome).await;
        if sender.is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return;
        }
    }
    let s = sender.as_mut().expect("connected");
    let mut request = hyper::Request::post(workload.path.as_str())
        .header("host", workload.addr.to_string())
        .header("content-type", "application/json");
    for (name, value) in &workload.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(workload.bodies.next()))
        .expect("a valid request");
    match tokio::time::timeout(REQUEST_TIMEOUT, answer(s, request, workload)).await {
        Ok(Ok(answer)) => {
            *outcome.statuses.entry(answer.status).or_default() += 1;
            match answer.problem {
                None => {
                    outcome.ok += 1;
                    outcome
                        .latency
                        .saturating_record(nanos(answer.done.saturating_duration_since(from)));
                    if let Some(first) = answer.first_token {
                        outcome
                            .ttft
                            .saturating_record(nanos(first.saturating_duration_since(from)));
                    }
                }
                Some(problem) => outcome.fail(problem),
            }
        }
        Ok(Err(e)) => {
            outcome.fail(format!("request: {e}"));
            *sender = None;
        }
        Err(_) => {
            outcome.fail("request: timed out".into());
            *sender = None;
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

struct Answer {
    status: u16,
    done: Instant,
    first_token: Option<Instant>,
    problem: Option<String>,
}

async fn answer(
    sender: &mut SendRequest<Full<Bytes>>,
    request: hyper::Request<Full<Bytes>>,
    workload: &Workload,
) -> Result<Answer, hyper::Error> {
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    let mut first_token = None;
    let mut scanner = Scanner::default();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            bytes.extend_from_slice(data);
            if workload.stream
                && first_token.is_none()
                && status == 200
                && scanner.has_text(&bytes, workload.api)
            {
                first_token = Some(Instant::now());
            }
        }
    }
    let done = Instant::now();
    let problem = check(status, &bytes, workload, first_token.is_some());
    Ok(Answer {
        status,
        done,
        first_token,
        problem,
    })
}

/// Why an answer is not a good one, if it is not.
fn check(status: u16, body: &[u8], workload: &Workload, had_text: bool) -> Option<String> {
    let excerpt = || {
        let text = String::from_utf8_lossy(body);
        text.chars().take(FAILURE_EXCERPT).collect::<String>()
    };
    if status != 200 {
        return Some(format!("status {status}: {}", excerpt()));
    }
    if !workload.stream {
        return (memchr::memmem::find(body, b"\"usage\"").is_none())
            .then(|| format!("an answer without usage: {}", excerpt()));
    }
    let end: &[u8] = match workload.api {
        Api::OpenAi => b"[DONE]",
        Api::Anthropic => b"message_stop",
    };
    if !had_text {
        return Some(format!("a stream without text: {}", excerpt()));
    }
    (memchr::memmem::find(body, end).is_none()).then(|| {
        format!(
            "a stream without its end ({}): {}",
            String::from_utf8_lossy(end),
            excerpt()
        )
    })
}

/// Finds the first event of a stream that carries answer text.
#[derive(Default)]
struct Scanner {
    /// Bytes of the stream already looked at (whole events).
    seen: usize,
}

impl Scanner {
    /// Whether the complete events in `stream` past those already seen carry text.
    fn has_text(&mut self, stream: &[u8], api: Api) -> bool {
        while let Some(end) = memchr::memmem::find(&stream[self.seen..], b"\n\n") {
            let event = &stream[self.seen..self.seen + end];
            self.seen += end + 2;
            if event_has_text(event, api) {
                return true;
            }
        }
        false
    }
}

fn event_has_text(event: &[u8], api: Api) -> bool {
    event.split(|&b| b == b'\n').any(|line| {
        let Some(data) = line.strip_prefix(b"data:") else {
            return false;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(data.trim_ascii()) else {
            return false;
        };
        let text = match api {
            Api::OpenAi => value.pointer("/choices/0/delta/content"),
            Api::Anthropic => (value.pointer("/delta/type").and_then(|t| t.as_str())
                == Some("text_delta"))
            .then(|| value.pointer("/delta/text"))
            .flatten(),
        };
        text.and_then(|t| t.as_str()).is_some_and(|t| !t.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_token_is_the_first_event_with_text() {
        let openai =
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
                       data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
        let mut scanner = Scanner::default();
        let first = openai.iter().position(|&b| b == b'\n').unwrap() + 2;
        assert!(!scanner.has_text(&openai[..first], Api::OpenAi));
        assert!(!scanner.has_text(&openai[..first + 10], Api::OpenAi));
        assert!(scanner.has_text(openai, Api::OpenAi));

        let anthropic = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n\
                          event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";
        assert!(Scanner::default().has_text(anthropic, Api::Anthropic));
        assert!(!Scanner::default().has_text(&anthropic[..60], Api::Anthropic));
    }
}
