//! One upstream MCP server, as an MCP client of it (rmcp): connected (a
//! Streamable HTTP session, or a child process spoken to over stdio) when
//! first needed and again after it went away, with backoff between failed
//! attempts so a dead server is not hammered. Every call has a deadline, so a
//! server that hangs costs its caller the timeout and nobody else anything:
//! each call is its own request on the shared connection.

use super::config::{McpServerConfig, Transport};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, NumberOrString,
    ProgressNotificationParam, ProgressToken, ServerResult,
};
use rmcp::service::{NotificationContext, Peer, PeerRequestOptions, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceError, ServiceExt};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// The longest wait between two attempts to reach a server.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long connecting (and, for stdio, starting) a server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// An upstream server and the gateway's connection to it.
pub struct Upstream {
    /// The server's id, the prefix of its names.
    pub id: String,
    config: McpServerConfig,
    /// How long one call may take.
    pub timeout: Duration,
    state: Mutex<State>,
    relay: Relay,
}

/// The connection, or when the last attempt failed.
enum State {
    Down {
        /// Failed attempts in a row.
        failures: u32,
        /// When the next attempt may be made.
        retry_at: Instant,
    },
    Up(RunningService<RoleClient, Relay>),
}

/// The gateway as a client of one server: it takes the server's progress
/// notifications to the call that asked for them, by progress token.
#[derive(Clone, Default)]
pub struct Relay {
    watching: Arc<std::sync::Mutex<Watchers>>,
}

/// The calls waiting for progress, and notifications that came first.
#[derive(Default)]
struct Watchers {
    /// Each call's sender, by progress token.
    by_token: HashMap<String, ProgressSender>,
    /// Notifications that came before their call was watched, oldest first
    /// (at most [`MAX_EARLY`]). rmcp picks a call's progress token and sends
    /// the request before the caller learns the token, and hands each
    /// notification to [`Relay::on_progress`] on a task of its own, so a
    /// server that reports progress at once can be heard before the watcher
    /// is in place.
    early: VecDeque<(String, ProgressNotificationParam)>,
}

/// The most notifications kept for calls not watched yet (tokens no call
/// claims, such as those of calls whose client asked for no progress, are
/// dropped as newer ones come).
const MAX_EARLY: usize = 64;

impl Watchers {
    /// Passes `notification` to the call watching `key`, or keeps it for
    /// that call's watcher.
    fn deliver(&mut self, key: String, notification: ProgressNotificationParam) {
        match self.by_token.get(&key) {
            Some(sender) => {
                let _ = sender.send(notification);
            }
            None => {
                if self.early.len() == MAX_EARLY {
                    self.early.pop_front();
                }
                self.early.push_back((key, notification));
            }
        }
    }

    /// Watches `key` with `sender`, which first gets what came early.
    fn watch(&mut self, key: String, sender: ProgressSender) {
        let mut at = 0;
        while at < self.early.len() {
            if self.early[at].0 == key {
                if let Some((_, notification)) = self.early.remove(at) {
                    let _ = sender.send(notification);
                }
            } else {
                at += 1;
            }
        }
        self.by_token.insert(key, sender);
    }
}

/// Where one call's progress notifications go.
pub type ProgressSender = mpsc::UnboundedSender<ProgressNotificationParam>;

impl ClientHandler for Relay {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let key = token_key(&params.progress_token);
        let mut watching = self.watching.lock().expect("progress watchers");
        watching.deliver(key, params);
    }
}

impl Relay {
    /// Calls a tool on `peer`, this relay's connection, sending each progress
    /// notification the server reports for the call to `progress` until the
    /// call ends.
    pub async fn call_tool(
        &self,
        peer: Peer<RoleClient>,
        params: CallToolRequestParams,
        progress: ProgressSender,
    ) -> Result<CallToolResult, ServiceError> {
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await?;
        let key = token_key(&handle.progress_token);
        self.watching
            .lock()
            .expect("progress watchers")
            .watch(key.clone(), progress);
        let _unwatch = Unwatch {
            relay: self.clone(),
            key,
        };
        match handle.await_response().await? {
            ServerResult::CallToolResult(result) => Ok(result),
            _ => Err(ServiceError::UnexpectedResponse),
        }
    }
}

/// Stops passing on a call's progress when the call ends (or is dropped).
struct Unwatch {
    relay: Relay,
    key: String,
}

impl Drop for Unwatch {
    fn drop(&mut self) {
        let mut watching = self.relay.watching.lock().expect("progress watchers");
        watching.by_token.remove(&self.key);
    }
}

/// A progress token as a map key.
fn token_key(token: &ProgressToken) -> String {
    match &token.0 {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.to_string(),
    }
}

/// Why a call to an upstream failed, in words a client may see: never a
/// header or an environment value of the server's config.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// It could not be reached or started.
    #[error("MCP server `{id}` is unavailable: {reason}")]
    Unavailable {
        /// The server.
        id: String,
        /// Why.
        reason: String,
    },
    /// It did not answer in time.
    #[error("MCP server `{id}` did not answer within {seconds} s")]
    Timeout {
        /// The server.
        id: String,
        /// The deadline.
        seconds: u64,
    },
    /// It answered with an error, or with something that is not MCP.
    #[error("MCP server `{id}` failed: {reason}")]
    Failed {
        /// The server.
        id: String,
        /// Its error.
        reason: String,
    },
}

impl Upstream {
    /// The server of `config`, not yet connected; calls take at most
    /// `default_timeout` unless the server's `timeout_s` says otherwise.
    pub fn new(config: &McpServerConfig, default_timeout: Duration) -> Self {
        Upstream {
            id: config.id.clone(),
            timeout: config
                .timeout_s
                .map_or(default_timeout, Duration::from_secs),
            config: config.clone(),
            state: Mutex::new(State::Down {
                failures: 0,
                retry_at: Instant::now(),
            }),
            relay: Relay::default(),
        }
    }

    /// The relay of this server's progress notifications.
    pub fn relay(&self) -> Relay {
        self.relay.clone()
    }

    /// Whether this is a stdio server the gateway runs.
    pub fn is_stdio(&self) -> bool {
        matches!(self.config.transport(), Transport::Stdio(_))
    }

    /// Runs `call` on the server's connection (connecting first if needed)
    /// with the call deadline.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, UpstreamError>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let peer = self.peer().await?;
        match tokio::time::timeout(self.timeout, call(peer)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(self.failed(error).await),
            Err(_) => Err(UpstreamError::Timeout {
                id: self.id.clone(),
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    /// Whether the connection is up (for the supervisor of a stdio server).
    pub async fn is_up(&self) -> bool {
        matches!(&*self.state.lock().await, State::Up(service) if alive(service))
    }

    /// The connection's peer: the live one, or a new connection when the
    /// backoff allows another attempt.
    pub async fn peer(&self) -> Result<Peer<RoleClient>, UpstreamError> {
        let mut state = self.state.lock().await;
        let failures = match &*state {
            State::Up(service) if alive(service) => return Ok(service.peer().clone()),
            State::Up(_) => {
                tracing::warn!(server = %self.id, "MCP server connection closed; reconnecting");
                0
            }
            State::Down { failures, retry_at } => {
                let now = Instant::now();
                if *retry_at > now {
                    return Err(UpstreamError::Unavailable {
                        id: self.id.clone(),
                        reason: format!(
                            "it failed {failures} time(s) in a row; next attempt in {} s",
                            (*retry_at - now).as_secs().max(1)
                        ),
                    });
                }
                *failures
            }
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
            Ok(Ok(service)) => {
                tracing::info!(server = %self.id, "MCP server connected");
                let peer = service.peer().clone();
                *state = State::Up(service);
                Ok(peer)
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(reason)) => reason,
                    _ => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                };
                let failures = failures + 1;
                let backoff = backoff(failures);
                tracing::warn!(server = %self.id, failures, backoff_s = backoff.as_secs(), %reason, "MCP server unavailable");
                *state = State::Down {
                    failures,
                    retry_at: Instant::now() + backoff,
                };
                Err(UpstreamError::Unavailable {
                    id: self.id.clone(),
                    reason,
                })
            }
        }
    }

    /// A call's error; when it means the connection is gone, the connection
    /// is dropped so the next call makes a new one.
    async fn failed(&self, error: ServiceError) -> UpstreamError {
        let reason = match &error {
            ServiceError::McpError(data) => data.message.to_string(),
            other => other.to_string(),
        };
        if !matches!(error, ServiceError::McpError(_)) {
            let mut state = self.state.lock().await;
            if matches!(&*state, State::Up(service) if !alive(service)) {
                *state = State::Down {
                    failures: 0,
                    retry_at: Instant::now(),
                };
            }
        }
        UpstreamError::Failed {
            id: self.id.clone(),
            reason,
        }
    }

    async fn connect(&self) -> Result<RunningService<RoleClient, Relay>, String> {
        let client = self.relay.clone();
        match self.config.transport() {
            Transport::Http(url) => {
                let mut headers = HashMap::new();
                for (name, value) in &self.config.headers {
                    let name = axum::http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("header `{name}` is not an HTTP header name"))?;
                    let value =
                        axum::http::HeaderValue::from_str(value.expose()).map_err(|_| {
                            format!("the value of header `{name}` is not a header value")
                        })?;
                    headers.insert(name, value);
                }
                let config =
                    StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
                let transport = StreamableHttpClientTransport::from_config(config);
                client.serve(transport).await.map_err(|e| e.to_string())
            }
            Transport::Stdio(program) => {
                let mut command = tokio::process::Command::new(program);
                command.args(&self.config.args);
                for (name, value) in &self.config.env {
                    command.env(name, value.expose());
                }
                let (transport, _stderr) = TokioChildProcess::builder(command)
                    .stderr(std::process::Stdio::inherit())
                    .spawn()
                    .map_err(|e| format!("cannot start `{program}`: {e}"))?;
                client.serve(transport).await.map_err(|e| e.to_string())
            }
        }
    }
}

/// Whether a connection still serves: not cancelled, and its service loop
/// (which ends when the server's stream or process does) still running.
fn alive(service: &RunningService<RoleClient, Relay>) -> bool {
    !service.is_closed() && !service.peer().is_transport_closed()
}

/// The wait after `failures` failed attempts in a row: 1, 2, 4 ... 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(MAX_BACKOFF)
}

/// Keeps a stdio server running: started with the gateway, and started again
/// (with backoff) when it exits, whether or not a call is waiting for it.
pub async fn supervise(upstream: std::sync::Arc<Upstream>) {
    loop {
        if !upstream.is_up().await {
            // An error is logged by `peer`, which also sets the backoff.
            let _ = upstream.peer().await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    fn step(token: &str, message: &str) -> ProgressNotificationParam {
        ProgressNotificationParam::new(ProgressToken(NumberOrString::String(token.into())), 1.0)
            .with_message(message.to_string())
    }

    fn messages(receiver: &mut mpsc::UnboundedReceiver<ProgressNotificationParam>) -> Vec<String> {
        std::iter::from_fn(|| receiver.try_recv().ok())
            .filter_map(|n| n.message)
            .collect()
    }

    #[test]
    fn progress_heard_before_its_call_is_watched_reaches_the_call() {
        let mut watchers = Watchers::default();
        watchers.deliver("7".into(), step("7", "first"));
        watchers.deliver("8".into(), step("8", "another call's"));
        watchers.deliver("7".into(), step("7", "second"));
        let (sender, mut receiver) = mpsc::unbounded_channel();
        watchers.watch("7".into(), sender);
        watchers.deliver("7".into(), step("7", "third"));
        assert_eq!(messages(&mut receiver), ["first", "second", "third"]);
        assert_eq!(watchers.early.len(), 1, "the other call's is kept for it");
    }

    #[test]
    fn unclaimed_progress_is_bounded() {
        let mut watchers = Watchers::default();
        for n in 0..MAX_EARLY + 10 {
            watchers.deliver(n.to_string(), step(&n.to_string(), "unclaimed"));
        }
        assert_eq!(watchers.early.len(), MAX_EARLY);
        let (sender, mut receiver) = mpsc::unbounded_channel();
        watchers.watch("0".into(), sender);
        assert!(messages(&mut receiver).is_empty(), "the oldest went first");
    }
}
