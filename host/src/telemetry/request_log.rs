//! The request log: one JSON line per request, written off the request's path
//! by a thread of its own, to standard output or appended to a file.
//!
//! A request hands its line to a bounded queue and moves on; when the writer
//! falls behind by more than [`QUEUE_LINES`] lines, new lines are dropped and
//! counted (`sluice_request_log_dropped_total`) rather than slowing requests.

use super::metrics::Metrics;
use crate::config::{LogMode, RequestLogConfig};
use axum::http::HeaderMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The request header that asks for a request to be logged (`true`) in
/// `on_request` mode.
pub const LOG_HEADER: &str = "x-sluice-log";

/// Lines waiting for the writer before new ones are dropped.
const QUEUE_LINES: usize = 16 * 1024;

/// An open request log.
pub struct RequestLog {
    config: RequestLogConfig,
    queue: SyncSender<String>,
    writer: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
}

impl RequestLog {
    /// Opens the log `config` asks for (`None` in `never` mode). A file is
    /// created when missing (mode 0600) and appended to.
    pub fn open(
        config: &RequestLogConfig,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Option<Arc<RequestLog>>> {
        if config.mode == LogMode::Never {
            return Ok(None);
        }
        let out: Box<dyn Write + Send> = match &config.path {
            Some(path) => Box::new(open_file(path)?),
            None => Box::new(std::io::stdout()),
        };
        let (queue, lines) = sync_channel(QUEUE_LINES);
        let writer = std::thread::Builder::new()
            .name("sluice-request-log".into())
            .spawn(move || write_lines(lines, out))?;
        Ok(Some(Arc::new(RequestLog {
            config: config.clone(),
            queue,
            writer: Mutex::new(Some(writer)),
            metrics,
        })))
    }

    /// Whether a request with `headers` is logged.
    pub fn wants(&self, headers: &HeaderMap) -> bool {
        match self.config.mode {
            LogMode::Always => true,
            LogMode::Never => false,
            LogMode::OnRequest => headers
                .get(LOG_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
        }
    }

    /// Whether bodies are logged.
    pub fn bodies(&self) -> bool {
        self.config.bodies
    }

    /// Where the lines go, for the start-up message.
    pub fn describe(&self) -> String {
        match &self.config.path {
            Some(path) => path.display().to_string(),
            None => "standard output".into(),
        }
    }

    /// The config it was opened with (a reload keeps an unchanged log).
    pub fn config(&self) -> &RequestLogConfig {
        &self.config
    }

    /// Queues one line (without its newline).
    pub fn write(&self, line: String) {
        match self.queue.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.metrics.log_dropped(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Writes every queued line and stops the writer (at shutdown). Lines
    /// queued after this are lost.
    pub fn close(&self) {
        if let Some(writer) = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = self.queue.send(STOP.to_string());
            let _ = writer.join();
        }
    }
}

/// Tells the writer to stop (never a JSON line).
const STOP: &str = "\u{0}stop";

fn open_file(path: &Path) -> anyhow::Result<std::fs::File> {
    crate::private_files::open_append(path)
        .map_err(|e| anyhow::anyhow!("cannot open the request log {}: {e}", path.display()))
}

/// The writer thread: lines as they come, flushed whenever the queue is empty.
fn write_lines(lines: Receiver<String>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 << 10, out);
    let mut failed = false;
    while let Ok(line) = lines.recv() {
        let mut next = Some(line);
        while let Some(line) = next.take() {
            if line == STOP {
                let _ = out.flush();
                return;
            }
            if !line.is_empty()
                && let Err(e) = writeln!(out, "{line}")
                && !failed
            {
                failed = true;
                tracing::error!(error = %e, "the request log cannot be written");
            }
            next = lines.try_recv().ok();
        }
        if let Err(e) = out.flush()
            && !failed
        {
            failed = true;
            tracing::error!(error = %e, "the request log cannot be written");
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MetricsConfig;

    fn log(mode: LogMode, path: &Path) -> Arc<RequestLog> {
        let config = RequestLogConfig {
            mode,
            path: Some(path.to_path_buf()),
            bodies: false,
        };
        RequestLog::open(&config, Metrics::new(&MetricsConfig::default()))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn lines_are_appended_and_flushed_at_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/requests.jsonl");
        let log = log(LogMode::Always, &path);
        for i in 0..1000 {
            log.write(format!("{{\"n\":{i}}}"));
        }
        log.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "{\"n\":999}");
    }

    #[test]
    fn on_request_mode_logs_only_what_asks() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(LogMode::OnRequest, &dir.path().join("r.jsonl"));
        let mut headers = HeaderMap::new();
        assert!(!log.wants(&headers));
        headers.insert(LOG_HEADER, "true".parse().unwrap());
        assert!(log.wants(&headers));
        headers.insert(LOG_HEADER, "false".parse().unwrap());
        assert!(!log.wants(&headers));
        log.close();
    }

    #[test]
    fn never_mode_opens_nothing() {
        let config = RequestLogConfig::default();
        let opened = RequestLog::open(&config, Metrics::new(&MetricsConfig::default())).unwrap();
        assert!(opened.is_none());
    }
}
