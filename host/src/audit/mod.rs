//! The audit trail: every guardrail decision other than a plain allow, and every
//! plugin failure, as a hash-chained record that never holds the matched text.
//!
//! Phase order: the pipeline turns a guardrail [`Outcome`](crate::guardrails::Outcome)
//! into [`Record`]s ([`records`]), hands them to the [`AuditLog`] (a bounded queue,
//! so the request never waits on the disk), and a writer thread appends them in
//! batches to the store ([`sqlite`]), linking each to the one before.

pub mod admin;
pub mod filter;
pub mod postgres;
pub mod record;
pub mod report;
pub mod sqlite;
pub mod store;
#[cfg(test)]
mod store_contract;

pub use filter::Filter;
pub use record::{Excerpt, Outcome as RecordOutcome, Problem, Record};
pub use store::{Location, Store};

use crate::config::{AuditConfig, FailurePolicy};
use crate::guardrails::Outcome;
use crate::sandbox::{Action, Context, Phase, Segment};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How many records may wait for the writer. When the queue is full the
/// request's guardrail task waits for room: records are never dropped.
const QUEUE: usize = 8192;
/// The writer commits at least this often while records arrive.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// The most records in one transaction.
const BATCH: usize = 512;

/// The running audit trail: a queue and the thread that drains it into the
/// store, and a second connection for queries.
pub struct AuditLog {
    sender: Mutex<Option<SyncSender<Record>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    reader: Mutex<Box<dyn Store>>,
    key: [u8; 32],
    location: Location,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("location", &self.location.describe())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the trail the config describes and starts its writer; `None` when
    /// auditing is off.
    pub fn open(config: &AuditConfig) -> anyhow::Result<Option<Arc<AuditLog>>> {
        if !config.enabled {
            return Ok(None);
        }
        let location = config.location();
        // On a thread of its own: the PostgreSQL client runs a runtime of its
        // own, which cannot start on a thread that drives async tasks.
        let (store, reader) = std::thread::scope(|scope| {
            scope
                .spawn(|| anyhow::Ok((location.open()?, location.open()?)))
                .join()
                .expect("opening the audit store panicked")
        })?;
        let key = match (&config.hash_key, &location) {
            (Some(secret), _) => {
                blake3::derive_key("sluice audit excerpt key v1", secret.expose().as_bytes())
            }
            (None, Location::Sqlite(path)) => key_file(path)?,
            (None, Location::Postgres(_)) => anyhow::bail!(
                "[audit] hash_key is required with a PostgreSQL trail: every gateway process \
                 must hash matches with the same key (for example hash_key = \"${{SLUICE_AUDIT_KEY}}\")"
            ),
        };
        let retention = config
            .retention_days
            .map(|days| Duration::from_secs(u64::from(days) * 86_400));
        let (sender, receiver) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("sluice-audit".into())
            .spawn(move || write_loop(store, receiver, retention))?;
        Ok(Some(Arc::new(AuditLog {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            reader: Mutex::new(reader),
            key,
            location,
        })))
    }

    /// Where the trail is kept.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The key excerpts are hashed with.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The records `filter` selects, from the reading connection. Blocking: call
    /// it off the async workers.
    pub fn query(&self, filter: &Filter) -> anyhow::Result<Vec<(i64, Record)>> {
        self.reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .query(filter)
    }

    /// Checks the hash chain from the reading connection: the number of
    /// records, or the first one whose link does not hold. Blocking.
    pub fn verify(&self) -> anyhow::Result<Result<u64, Problem>> {
        self.reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .verify()
    }

    /// Queues `records`. Blocks while the queue is full (never drops).
    pub fn append(&self, records: Vec<Record>) {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(sender) = sender else {
            tracing::error!(
                count = records.len(),
                "audit trail closed; records not written"
            );
            return;
        };
        for record in records {
            if sender.send(record).is_err() {
                tracing::error!("the audit writer stopped; a record was not written");
                return;
            }
        }
    }

    /// Stops taking records, writes every queued one and waits for the writer.
    pub fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(writer) = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = writer.join();
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// How often retention runs, when configured.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

fn write_loop(mut store: Box<dyn Store>, receiver: Receiver<Record>, retention: Option<Duration>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        if let Some(keep) = retention
            && last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY)
        {
            let cutoff = now_ms() - keep.as_millis() as i64;
            match store.prune(cutoff) {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "audit retention"),
                Err(e) => tracing::error!(error = %e, "audit retention failed"),
            }
            last_prune = Some(std::time::Instant::now());
        }
        let first = match receiver.recv_timeout(PRUNE_EVERY) {
            Ok(record) => record,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return, // closed and drained
        };
        batch.push(first);
        let deadline = std::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match receiver.recv_timeout(left) {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let mut attempt = 0;
        while let Err(e) = store.append(&batch) {
            attempt += 1;
            tracing::error!(error = %e, attempt, count = batch.len(), "cannot write audit records; retrying");
            std::thread::sleep(Duration::from_millis(100 * attempt.min(50)));
        }
        batch.clear();
    }
}

pub use crate::clock::now_ms;

/// The hashing key kept beside the database (`audit.db.key`), made on first use
/// from the operating system's random source and readable by the gateway's
/// user only.
fn key_file(database: &Path) -> anyhow::Result<[u8; 32]> {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    let path = PathBuf::from(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        crate::private_files::tighten(&path);
        let bytes = blake3::Hash::from_hex(text.trim())
            .map_err(|_| anyhow::anyhow!("{} is not a 64-digit hex key", path.display()))?;
        return Ok(*bytes.as_bytes());
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, blake3::Hash::from(key).to_hex().as_bytes())?;
            Ok(key)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_file(database),
        Err(e) => Err(anyhow::anyhow!("cannot write {}: {e}", path.display())),
    }
}

/// What a request's guardrail runs report to: the trail and the request's facts.
#[derive(Debug, Clone)]
pub struct AuditSink {
    log: Arc<AuditLog>,
    facts: Arc<RequestFacts>,
}

impl AuditSink {
    /// A sink for one request.
    pub fn new(log: Arc<AuditLog>, facts: RequestFacts) -> Self {
        AuditSink {
            log,
            facts: Arc::new(facts),
        }
    }

    /// Records what `outcome` decided about `segments` (see [`records`]).
    pub fn record(
        &self,
        outcome: &Outcome,
        ctx: &Context,
        segments: &[Segment],
        offsets: &[usize],
    ) {
        let records = records(
            outcome,
            ctx,
            segments,
            offsets,
            &self.facts,
            self.log.key(),
            now_ms(),
        );
        if !records.is_empty() {
            self.log.append(records);
        }
    }
}

/// Facts about the request that every record of it carries.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// The request id.
    pub request_id: String,
    /// The key's `team` tag.
    pub team: Option<String>,
}

/// The records for one guardrail run over `segments`: one per finding that is
/// not an allow, one per verdict that blocks without a finding, one per plugin
/// failure. `offsets` shifts spans of segment `i` (streamed text is checked in
/// windows; offsets make spans relative to the whole streamed text).
pub fn records(
    outcome: &Outcome,
    ctx: &Context,
    segments: &[Segment],
    offsets: &[usize],
    facts: &RequestFacts,
    key: &[u8; 32],
    time_ms: i64,
) -> Vec<Record> {
    let base = |decision: &crate::guardrails::Decision, outcome: RecordOutcome| Record {
        time_ms,
        request_id: facts.request_id.clone(),
        key_id: ctx.key_id.clone(),
        team: facts.team.clone(),
        metadata: ctx.metadata.clone(),
        api: ctx.api.clone(),
        model: ctx.model.clone(),
        phase: match ctx.phase {
            Phase::Request => "request".into(),
            Phase::Response => "response".into(),
        },
        guardrail: decision.guardrail.clone(),
        plugin: decision.plugin.clone(),
        plugin_version: decision.version.clone(),
        outcome,
        rule: None,
        kind: None,
        segment: None,
        span: None,
        excerpt: None,
        failure: None,
    };
    let mut out = Vec::new();
    for decision in &outcome.decisions {
        match &decision.result {
            Err(failure) => {
                let outcome = match decision.on_failure {
                    FailurePolicy::Allow => RecordOutcome::FailOpen,
                    FailurePolicy::Block => RecordOutcome::FailClosed,
                };
                out.push(Record {
                    failure: Some(failure.kind().into()),
                    ..base(decision, outcome)
                });
            }
            Ok(verdict) => {
                let mut any = false;
                for finding in &verdict.findings {
                    let outcome = match finding.action {
                        Action::Allow => continue,
                        Action::Flag => RecordOutcome::Flag,
                        Action::Redact => RecordOutcome::Redact,
                        Action::Block => RecordOutcome::Block,
                    };
                    any = true;
                    let index = finding.segment as usize;
                    let (start, end) = (finding.start as usize, finding.end as usize);
                    let segment = segments.get(index);
                    let shift = offsets.get(index).copied().unwrap_or(0);
                    out.push(Record {
                        rule: Some(finding.rule.clone()),
                        kind: Some(finding.kind.clone()),
                        segment: segment.map(|s| s.path.clone()),
                        span: Some(((start + shift) as u32, (end + shift) as u32)),
                        excerpt: segment
                            .and_then(|s| s.text.get(start..end))
                            .map(|text| Excerpt::of(text, key)),
                        ..base(decision, outcome)
                    });
                }
                if !any && verdict.effective_action() == Action::Block {
                    out.push(base(decision, RecordOutcome::Block));
                }
            }
        }
    }
    out
}
