//! The bounds every plugin call runs under, with their defaults.

use std::time::Duration;

/// How instances of a plugin are used across calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceMode {
    /// Keep configured instances warm and reuse them (the default). A call costs a
    /// few microseconds instead of an instantiation plus `configure`, which for a
    /// plugin that compiles rules can be hundreds of microseconds. The trade-off:
    /// state a plugin keeps in its memory survives into later calls, which may be
    /// for other gateway keys. The host discards an instance after any failure,
    /// and replaces one after `max_uses` calls or when its memory has grown past
    /// `recycle_memory`: a successor is prepared on a thread of its own while the
    /// old instance keeps serving, so no call waits for the instantiation.
    Reuse,
    /// A new instance for every call, discarded after it: nothing a plugin saw can
    /// survive into another call. Costs an instantiation and `configure` per call.
    Fresh,
}

/// Limits for one plugin. The defaults suit built-in plugins on coding-agent
/// traffic; each can be changed per plugin in the gateway config.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock deadline for one `check` call.
    pub timeout: Duration,
    /// Wall-clock deadline for instantiation plus `configure` (rule compilation).
    pub setup_timeout: Duration,
    /// The most linear memory an instance may grow to, in bytes.
    pub memory: u64,
    /// How instances are used across calls.
    pub instances: InstanceMode,
    /// Idle warm instances kept per plugin (with `Reuse`).
    pub max_idle: usize,
    /// Calls after which a warm instance is replaced (with `Reuse`); it serves
    /// the calls that come while its successor is prepared. A million: a
    /// streamed answer is a call per delta, and at 100,000 an instance of each
    /// plugin was replaced every few seconds under load, each replacement a
    /// `configure` of up to 180 ms and a second instance's memory meanwhile.
    pub max_uses: u64,
    /// Memory size past which a warm instance is replaced after its call (as
    /// with `max_uses`, once its successor is ready; `memory` is the hard cap).
    pub recycle_memory: u64,
    /// The most findings one verdict may carry.
    pub max_findings: usize,
    /// The most bytes the guest may make the host copy out of one call (findings,
    /// labels, reason, log lines): bounds host memory against a hostile guest.
    pub max_output_bytes: usize,
    /// The longest `kind`, `rule` or `replacement` string accepted in a finding.
    pub max_label_len: usize,
    /// Log lines a plugin may write per call; the rest are dropped.
    pub max_log_lines: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(100),
            setup_timeout: Duration::from_secs(5),
            memory: 128 << 20,
            instances: InstanceMode::Reuse,
            max_idle: 16,
            max_uses: 1_000_000,
            recycle_memory: 32 << 20,
            max_findings: 10_000,
            max_output_bytes: 4 << 20,
            max_label_len: 256,
            max_log_lines: 16,
        }
    }
}
