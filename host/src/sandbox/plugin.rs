//! A loaded, configured plugin and its instances.
//!
//! Calls take an instance from the plugin's idle list (or create and configure a
//! new one), run under the per-call deadline, and give the instance back unless it
//! failed (see [`InstanceMode`]). Any number of threads may call `check` at once;
//! each call has an instance to itself.
//!
//! An instance that is used up or grew too big is replaced off the call path:
//!
//! ```text
//! give back an instance past max_uses or recycle_memory
//!     ─► a thread of its own instantiates and configures a successor
//!        (meanwhile the old instance keeps serving calls)
//!     ─► under the idle list's lock: the old one is marked replaced and taken
//!        out of the list, the successor goes in
//!     ─► the old one is dropped when it next comes back (or right away if idle)
//! ```
//!
//! So no call waits for an instantiation and `configure` (tens of milliseconds
//! for a plugin that compiles hundreds of rules) unless every warm instance is
//! busy. An instance marked replaced is never put back in the list.

use super::bindings::{Context, Guardrail, GuardrailPre, Info, Segment, Verdict};
use super::engine::{Awake, Clock, deadline_ticks};
use super::error::PluginFailure;
use super::limits::{InstanceMode, Limits};
use super::store::{StoreState, new_store, truncate};
use super::verdict_check::validate;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use wasmtime::{Engine, Store, Trap};

/// How much of a panic message or trap description is kept in a failure.
const MAX_FAILURE_MESSAGE: usize = 512;

/// A configured plugin, ready to check segments. Cheap to clone; clones share
/// instances.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    origin: String,
    info: Info,
    engine: Engine,
    pre: GuardrailPre<StoreState>,
    settings: String,
    fingerprint: Fingerprint,
    limits: Limits,
    idle: Mutex<Vec<Instance>>,
    instantiations: AtomicU64,
    cold_calls: AtomicU64,
    successors: AtomicU64,
    /// Set when a freshly configured instance was already past
    /// `recycle_memory`: replacing instances for their memory cannot help, so
    /// only `max_uses` replaces them (see [`Plugin::check_configured_size`]).
    outgrew_recycle_memory: AtomicBool,
    /// The epoch clock every instance's deadlines count on.
    clock: Clock,
}

/// One live instance with its store.
pub(super) struct Instance {
    store: Store<StoreState>,
    bindings: Guardrail,
    uses: u64,
    /// Set when a successor is being prepared; true once the successor is in
    /// the idle list and this instance is retired. Only set with the idle
    /// list's lock held.
    replaced: Option<Arc<AtomicBool>>,
}

impl Instance {
    fn is_replaced(&self) -> bool {
        self.replaced
            .as_ref()
            .is_some_and(|replaced| replaced.load(Ordering::Acquire))
    }
}

/// What a configured plugin is: a BLAKE3 hash of its component's bytes and of the
/// settings it was configured with, exactly as passed to `configure`. A changed
/// plugin file, a new version or a changed setting gives a new fingerprint; two
/// plugins with the same fingerprint run the same code on the same settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of `component` configured with `settings` (JSON).
    pub fn new(component: &[u8], settings: &str) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"sluice plugin fingerprint v1\0");
        hasher.update(blake3::hash(component).as_bytes());
        hasher.update(settings.as_bytes());
        Fingerprint(*hasher.finalize().as_bytes())
    }

    /// The hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Counters for benchmarks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginStats {
    /// Instances created so far (including the one made at load).
    pub instantiations: u64,
    /// Calls that found no warm instance idle and created one themselves
    /// (every call with [`InstanceMode::Fresh`]).
    pub cold_calls: u64,
    /// Instances created off the call path, each to replace one that was used
    /// up or grew too big; counted once it is in the idle list.
    pub successors: u64,
    /// Warm instances waiting for a call.
    pub idle: usize,
    /// The linear memory those idle instances hold, in bytes (what a plugin's
    /// tables and working buffers take once it has been configured and used).
    pub idle_memory: u64,
}

impl std::fmt::Display for PluginStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} instances created ({} inside a call, {} replacing a used-up one off the call path), {} idle holding {:.1} MiB of linear memory",
            self.instantiations,
            self.cold_calls,
            self.successors,
            self.idle,
            self.idle_memory as f64 / f64::from(1 << 20)
        )
    }
}

impl Plugin {
    /// Wraps an instance that has already been described and configured.
    pub(super) fn new(
        origin: String,
        info: Info,
        pre: GuardrailPre<StoreState>,
        settings: String,
        fingerprint: Fingerprint,
        limits: Limits,
        first: Instance,
    ) -> Self {
        let plugin = Plugin {
            inner: Arc::new(Inner {
                origin,
                info,
                engine: pre.engine().clone(),
                pre,
                settings,
                fingerprint,
                limits,
                idle: Mutex::new(Vec::new()),
                instantiations: AtomicU64::new(1),
                cold_calls: AtomicU64::new(0),
                successors: AtomicU64::new(0),
                outgrew_recycle_memory: AtomicBool::new(false),
                clock: first.store.data().clock().clone(),
            }),
        };
        plugin.check_configured_size(&first);
        if plugin.inner.limits.instances == InstanceMode::Reuse {
            plugin.give_back(first);
        }
        plugin
    }

    /// What the plugin said about itself.
    pub fn info(&self) -> &Info {
        &self.inner.info
    }

    /// The file (or built-in name) it was loaded from.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// Its component and settings, hashed (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.fingerprint
    }

    /// The limits it runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Instance counters.
    pub fn stats(&self) -> PluginStats {
        let (idle, idle_memory) = match self.inner.idle.lock() {
            Ok(idle) => (
                idle.len(),
                idle.iter()
                    .map(|instance| instance.store.data().memory_size)
                    .sum(),
            ),
            Err(_) => (0, 0),
        };
        PluginStats {
            instantiations: self.inner.instantiations.load(Ordering::Relaxed),
            cold_calls: self.inner.cold_calls.load(Ordering::Relaxed),
            successors: self.inner.successors.load(Ordering::Relaxed),
            idle,
            idle_memory,
        }
    }

    /// Checks `segments`. The verdict's spans have been validated against them.
    pub fn check(&self, ctx: &Context, segments: &[Segment]) -> Result<Verdict, PluginFailure> {
        let limits = &self.inner.limits;
        let mut instance = match self.take_idle() {
            Some(instance) => instance,
            None => {
                self.inner.cold_calls.fetch_add(1, Ordering::Relaxed);
                self.instantiate().map_err(PluginFailure::Instantiate)?
            }
        };
        instance.uses += 1;
        instance.store.data_mut().begin_call(limits.max_log_lines);
        let awake = arm(&mut instance.store, limits.timeout);
        let result = instance.bindings.sluice_guardrail_plugin().call_check(
            &mut instance.store,
            ctx,
            segments,
        );
        drop(awake);
        let dropped = instance.store.data().log_lines_dropped;
        if dropped > 0 {
            tracing::warn!(plugin = %self.inner.info.name, dropped, "plugin log lines dropped (per-call limit)");
        }
        match result {
            Ok(Ok(verdict)) => {
                self.give_back(instance);
                validate(verdict, segments, limits).map_err(PluginFailure::BadOutput)
            }
            Ok(Err(message)) => {
                self.give_back(instance);
                Err(PluginFailure::Error(
                    truncate(&message, MAX_FAILURE_MESSAGE).to_string(),
                ))
            }
            // After a trap the instance is dead; dropping it frees its memory.
            Err(error) => Err(classify(error, &instance.store, limits, limits.timeout)),
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        if self.inner.limits.instances == InstanceMode::Fresh {
            return None;
        }
        self.inner.idle.lock().ok()?.pop()
    }

    /// Puts `instance` back in the idle list, unless it has been replaced or
    /// the list is full (then it is dropped). One that is used up or grew too
    /// big goes back too, with a successor started for it.
    fn give_back(&self, mut instance: Instance) {
        if self.inner.limits.instances != InstanceMode::Reuse {
            return;
        }
        if instance.replaced.is_none() && self.is_due(&instance) {
            let replaced = Arc::new(AtomicBool::new(false));
            if !self.start_successor(&replaced) {
                return; // retired now: the next call without an idle instance creates one
            }
            instance.replaced = Some(replaced);
        }
        let dropped = match self.inner.idle.lock() {
            Ok(mut idle) if idle.len() < self.inner.limits.max_idle && !instance.is_replaced() => {
                idle.push(instance);
                None
            }
            _ => Some(instance),
        };
        // A store is freed outside the lock.
        drop(dropped);
    }

    /// Whether `instance` has served its calls or grown past the memory at
    /// which it is replaced.
    fn is_due(&self, instance: &Instance) -> bool {
        let limits = &self.inner.limits;
        instance.uses >= limits.max_uses
            || (instance.store.data().memory_size > limits.recycle_memory
                && !self.inner.outgrew_recycle_memory.load(Ordering::Relaxed))
    }

    /// Notes a freshly configured instance that is already past
    /// `recycle_memory` (a plugin whose rules need more than that): its
    /// successors would be too, so each call would start one. From then on
    /// only `max_uses` replaces this plugin's instances; `memory` stays the
    /// hard cap (`memory_mb` in the config). Said once, as a warning.
    fn check_configured_size(&self, instance: &Instance) {
        let size = instance.store.data().memory_size;
        let limit = self.inner.limits.recycle_memory;
        if size > limit
            && !self
                .inner
                .outgrew_recycle_memory
                .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                plugin = %self.inner.info.name,
                size,
                recycle_memory = limit,
                "a configured instance is already past the memory at which instances are replaced: they are replaced only after max_uses calls from now on"
            );
        }
    }

    /// Starts a thread that prepares a successor for the instance `replaced`
    /// belongs to ([`Plugin::install_successor`]); false if none could start.
    fn start_successor(&self, replaced: &Arc<AtomicBool>) -> bool {
        let plugin: Weak<Inner> = Arc::downgrade(&self.inner);
        let replaced = replaced.clone();
        let started = std::thread::Builder::new()
            .name("sluice-successor".into())
            .spawn(move || {
                yield_to_requests();
                // A plugin dropped meanwhile (a config reload) needs none.
                if let Some(inner) = plugin.upgrade() {
                    Plugin { inner }.install_successor(&replaced);
                }
            });
        if let Err(error) = &started {
            tracing::warn!(plugin = %self.inner.info.name, %error, "could not start a thread to prepare a successor instance");
        }
        started.is_ok()
    }

    /// Creates and configures a successor, then, under the idle list's lock,
    /// marks the instance of `replaced` as retired, takes it out of the list if
    /// it is there, and puts the successor in. If the successor cannot be made
    /// the old instance is retired all the same (the next call that finds no
    /// idle instance then creates one, and reports the failure).
    fn install_successor(&self, replaced: &AtomicBool) {
        let successor = self.instantiate();
        if let Err(message) = &successor {
            tracing::warn!(plugin = %self.inner.info.name, "could not prepare a successor instance: {message}");
        }
        let made = successor.is_ok();
        let mut dropped = Vec::new();
        {
            let mut idle = self
                .inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            replaced.store(true, Ordering::Release);
            let mut at = 0;
            while at < idle.len() {
                if idle[at].is_replaced() {
                    dropped.push(idle.swap_remove(at));
                } else {
                    at += 1;
                }
            }
            match successor {
                Ok(successor) if idle.len() < self.inner.limits.max_idle => idle.push(successor),
                Ok(successor) => dropped.push(successor),
                Err(_) => {}
            }
        }
        // Counted once in place, for a caller that waits for it.
        if made {
            self.inner.successors.fetch_add(1, Ordering::Relaxed);
        }
        // Stores are freed outside the lock.
        drop(dropped);
    }

    /// Creates and configures a new instance (the settings were accepted at load,
    /// so a refusal now is a failure of the plugin, not of the config).
    fn instantiate(&self) -> Result<Instance, String> {
        let inner = &self.inner;
        self.inner.instantiations.fetch_add(1, Ordering::Relaxed);
        let mut instance = start_instance(
            &inner.engine,
            &inner.clock,
            &inner.pre,
            &inner.info.name,
            &inner.limits,
        )
        .map_err(|failure| failure.to_string())?;
        configure(&mut instance, &inner.settings, &inner.limits).map_err(|e| match e {
            ConfigureError::Refused(message) => format!("refused its settings: {message}"),
            ConfigureError::Failed(failure) => failure.to_string(),
        })?;
        self.check_configured_size(&instance);
        Ok(instance)
    }
}

/// Lowers the calling thread's priority (nice 10), for work done beside the
/// requests, such as preparing a successor instance: `configure` takes 100 to
/// 180 ms of CPU for secrets or content-filter, and on a busy core it should
/// not take equal turns with the threads that serve requests (it did: the
/// stream benchmark's time-to-first-token tail). Not lower: the work still
/// has its setup deadline to meet on a saturated core. On Linux a thread's
/// nice value is its own; elsewhere nothing changes.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!(%error, "could not lower a background thread's priority");
    }
}

/// Sets `store`'s deadline `timeout` from now and wakes the epoch ticker for
/// the call about to run into plugin code; hold the result until it returns.
fn arm(store: &mut Store<StoreState>, timeout: Duration) -> Awake {
    let awake = store.data().clock().awake();
    store.set_epoch_deadline(deadline_ticks(timeout));
    awake
}

/// Instantiates the component in a new store with every limit set.
pub(super) fn start_instance(
    engine: &Engine,
    clock: &Clock,
    pre: &GuardrailPre<StoreState>,
    name: &str,
    limits: &Limits,
) -> Result<Instance, PluginFailure> {
    let mut store = new_store(engine, clock, name, limits.memory, limits.max_output_bytes);
    let awake = arm(&mut store, limits.setup_timeout);
    let instantiated = pre.instantiate(&mut store);
    drop(awake);
    match instantiated {
        Ok(bindings) => Ok(Instance {
            store,
            bindings,
            uses: 0,
            replaced: None,
        }),
        Err(error) => Err(classify(error, &store, limits, limits.setup_timeout)),
    }
}

/// Calls `describe` on a new instance.
pub(super) fn describe(instance: &mut Instance, limits: &Limits) -> Result<Info, PluginFailure> {
    let _awake = arm(&mut instance.store, limits.setup_timeout);
    instance
        .bindings
        .sluice_guardrail_plugin()
        .call_describe(&mut instance.store)
        .map_err(|error| classify(error, &instance.store, limits, limits.setup_timeout))
}

/// Why `configure` did not succeed.
pub(super) enum ConfigureError {
    /// The plugin said no; the message is its own.
    Refused(String),
    /// The plugin failed (trap, timeout...).
    Failed(PluginFailure),
}

/// Calls `configure` with the settings JSON.
pub(super) fn configure(
    instance: &mut Instance,
    settings: &str,
    limits: &Limits,
) -> Result<(), ConfigureError> {
    let _awake = arm(&mut instance.store, limits.setup_timeout);
    match instance
        .bindings
        .sluice_guardrail_plugin()
        .call_configure(&mut instance.store, settings)
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(ConfigureError::Refused(
            truncate(&message, MAX_FAILURE_MESSAGE).to_string(),
        )),
        Err(error) => Err(ConfigureError::Failed(classify(
            error,
            &instance.store,
            limits,
            limits.setup_timeout,
        ))),
    }
}

/// Turns a wasmtime error from a call into a failure that says what happened;
/// `deadline` is the one that applied to the call.
fn classify(
    error: wasmtime::Error,
    store: &Store<StoreState>,
    limits: &Limits,
    deadline: Duration,
) -> PluginFailure {
    let state = store.data();
    if state.memory_refused {
        return PluginFailure::MemoryLimit(format!(
            "memory limit exceeded: the plugin tried to grow past {} MiB",
            limits.memory >> 20
        ));
    }
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return PluginFailure::Timeout(deadline);
    }
    let stderr = state.stderr_text();
    if let Some(panic) = panic_message(&stderr) {
        return PluginFailure::Panic(truncate(panic, MAX_FAILURE_MESSAGE).to_string());
    }
    let root = error.root_cause().to_string();
    if root.contains("fuel allocated for hostcalls") {
        return PluginFailure::BadOutput(format!(
            "the plugin tried to return more than {} bytes",
            limits.max_output_bytes
        ));
    }
    let description = match trap {
        Some(trap) => trap.to_string(),
        None => root,
    };
    PluginFailure::Trap(truncate(&description, MAX_FAILURE_MESSAGE).to_string())
}

/// The message of a Rust panic, from what the guest wrote to stderr.
fn panic_message(stderr: &str) -> Option<&str> {
    let start = stderr.find("panicked at")?;
    let message = &stderr[start..];
    // "panicked at src/lib.rs:1:2:\nthe message\nnote: ..." -> keep up to the note.
    let end = message.find("\nnote:").unwrap_or(message.len());
    Some(message[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_keeps_location_and_text() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom\nnote: run with `RUST_BACKTRACE=1`";
        assert_eq!(
            panic_message(stderr),
            Some("panicked at src/lib.rs:10:5:\nboom")
        );
        assert_eq!(panic_message("nothing"), None);
    }
}
