//! What each plugin instance's store holds: a WASI context that grants nothing, the
//! memory limiter, the captured stderr, and the host's side of the contract (`log`).

use super::bindings::{Level, host_interface as host};
use super::engine::Clock;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

/// How much of a plugin's stderr (panic messages) is kept for failure reports.
const STDERR_CAPACITY: usize = 4096;
/// How much of one log line is kept.
const LOG_LINE_MAX: usize = 1024;

/// The state of one instance's store.
pub struct StoreState {
    /// Which plugin this is, for log lines.
    plugin: String,
    /// The epoch clock its deadlines count on.
    clock: Clock,
    wasi: WasiCtx,
    table: ResourceTable,
    stderr: MemoryOutputPipe,
    memory_cap: u64,
    /// The largest linear memory size granted so far.
    pub memory_size: u64,
    /// Set when a grow request was refused: the trap that follows is a memory cap.
    pub memory_refused: bool,
    log_lines_left: u32,
    /// Lines dropped this call because the per-call limit was reached.
    pub log_lines_dropped: u32,
}

impl StoreState {
    /// A fresh state. Nothing ambient is granted: no preopened directories, no
    /// environment, no arguments, no sockets, stdin empty, stdout discarded,
    /// stderr captured (bounded), and clocks that always read zero.
    pub fn new(plugin: &str, memory_cap: u64, clock: Clock) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .allow_blocking_current_thread(false)
            .build();
        StoreState {
            plugin: plugin.to_string(),
            clock,
            wasi,
            table: ResourceTable::new(),
            stderr,
            memory_cap,
            memory_size: 0,
            memory_refused: false,
            log_lines_left: 0,
            log_lines_dropped: 0,
        }
    }

    /// The epoch clock its deadlines count on.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Resets the per-call counters before a call.
    pub fn begin_call(&mut self, max_log_lines: u32) {
        self.log_lines_left = max_log_lines;
        self.log_lines_dropped = 0;
    }

    /// What the plugin wrote to stderr (a panic message, typically), trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

/// Builds a store for one instance, with every limit set.
pub fn new_store(
    engine: &wasmtime::Engine,
    clock: &Clock,
    plugin: &str,
    memory_cap: u64,
    max_output_bytes: usize,
) -> Store<StoreState> {
    let mut store = Store::new(engine, StoreState::new(plugin, memory_cap, clock.clone()));
    store.limiter(|state| state as &mut dyn ResourceLimiter);
    store.set_hostcall_fuel(max_output_bytes);
    store.epoch_deadline_trap();
    store
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.memory_cap {
            self.memory_refused = true;
            wasmtime::bail!(
                "memory limit exceeded: the plugin asked for {} MiB, the limit is {} MiB",
                desired.div_ceil(1 << 20),
                self.memory_cap >> 20
            );
        }
        self.memory_size = self.memory_size.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a guardrail needs a few thousand at most.
        Ok(desired <= 100_000)
    }
}

impl host::Host for StoreState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_lines_left == 0 {
            self.log_lines_dropped += 1;
            return;
        }
        self.log_lines_left -= 1;
        let message = truncate(&message, LOG_LINE_MAX);
        let plugin = self.plugin.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "sluice::plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "sluice::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "sluice::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "sluice::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "sluice::plugin", plugin, "{message}"),
        }
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A clock that always reads zero: plugins get no time source, so they cannot
/// measure (and leak through timing) anything about other work in the process.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
