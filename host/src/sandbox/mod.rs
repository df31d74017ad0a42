//! The plugin sandbox: one wasmtime engine, compiled components cached on disk,
//! and configured plugins whose every call is bounded.
//!
//! Loading a plugin ([`Sandbox::load`]) goes:
//!
//! ```text
//! bytes ─► compile (or load the precompiled artifact) ─► check the contract version
//!       ─► link (WASI that grants nothing + the `host` interface) ─► instantiate
//!       ─► describe ─► configure(settings) ─► a Plugin with one warm instance
//!                                                 and its fingerprint (bytes + settings)
//! ```
//!
//! Every call then runs with a wall-clock deadline (epoch interruption), a memory
//! cap, a cap on what the guest may make the host copy out, and no ambient
//! authority; see [`Limits`] for the defaults and [`InstanceMode`] for how
//! instances are reused. The deadline's clock, a thread that advances the
//! engine's epoch every millisecond while plugin code runs (and sleeps
//! otherwise), starts with the first plugin loaded.

mod bindings;
mod cache;
mod engine;
mod error;
mod limits;
mod plugin;
mod store;
mod verdict_check;

pub use bindings::{
    Action, CONTRACT_VERSION, CacheScope, Context, Finding, Info, Phase, Segment, SegmentKind,
    Verdict,
};
pub use cache::{ArtifactCache, Origin};
pub use error::{LoadError, PluginFailure};
pub use limits::{InstanceMode, Limits};
pub use plugin::{Fingerprint, Plugin, PluginStats};

use bindings::{GuardrailPre, PLUGIN_INTERFACE, compatible};
use plugin::{ConfigureError, configure, describe, start_instance};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use store::StoreState;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

/// Where a plugin's component comes from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    /// Embedded in the gateway binary.
    Builtin {
        /// Its name, such as `pii`.
        name: &'static str,
        /// The component.
        bytes: &'static [u8],
    },
    /// A `.wasm` file.
    File(PathBuf),
}

impl PluginSource {
    /// How the source is named in messages: the file path, or `builtin:NAME`.
    pub fn label(&self) -> String {
        match self {
            PluginSource::Builtin { name, .. } => format!("builtin:{name}"),
            PluginSource::File(path) => path.display().to_string(),
        }
    }

    /// The component's bytes: borrowed for a built-in, read for a file.
    fn bytes(&self) -> Result<Cow<'static, [u8]>, LoadError> {
        match self {
            PluginSource::Builtin { bytes, .. } => Ok(Cow::Borrowed(bytes)),
            PluginSource::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|source| LoadError::Read {
                        origin: self.label(),
                        source,
                    })
            }
        }
    }
}

/// The engine, linker and artifact cache that every plugin shares.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: Option<ArtifactCache>,
    /// Advances the engine's epoch for the plugins' deadlines. Started by the
    /// first [`Sandbox::load`], so that a gateway without plugins has no
    /// such thread; it ticks only while `clock` says a call is in flight.
    ticker: Mutex<Option<engine::EpochTicker>>,
    /// Calls into plugin code in flight, for the ticker.
    clock: engine::Clock,
}

impl Sandbox {
    /// Builds the engine and the linker (the epoch ticker starts with the first
    /// plugin). With `cache`, compiled components are stored there and loaded
    /// from there on the next start.
    pub fn new(cache: Option<ArtifactCache>) -> anyhow::Result<Self> {
        let engine = engine::new_engine().map_err(wasm_error)?;
        let mut linker = Linker::new(&engine);
        // WASI is linked so that a Rust std guest links and reports errors cleanly,
        // but the context (see `store.rs`) grants no files, env, sockets or clock.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(wasm_error)?;
        bindings::host_interface::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(wasm_error)?;
        Ok(Sandbox {
            engine,
            linker,
            cache,
            ticker: Mutex::new(None),
            clock: engine::Clock::default(),
        })
    }

    /// Whether the epoch ticker has started (it does with the first plugin
    /// loaded; it then ticks only while a call is in flight).
    pub fn ticking(&self) -> bool {
        self.ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// How many times the epoch has advanced: only while plugin code runs.
    pub fn epoch_ticks(&self) -> u64 {
        self.clock.ticks()
    }

    /// Starts the epoch ticker unless it runs: no plugin code runs without it,
    /// since its deadlines count its ticks.
    fn start_ticker(&self) -> Result<(), LoadError> {
        let mut ticker = self.ticker.lock().unwrap_or_else(PoisonError::into_inner);
        if ticker.is_none() {
            let started = engine::EpochTicker::start(&self.engine, &self.clock)
                .map_err(|source| LoadError::Ticker { source })?;
            *ticker = Some(started);
        }
        Ok(())
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The artifact cache, if one is configured.
    pub fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }

    /// Compiles (or loads from the cache) the component of `source`, and checks
    /// that it is a guardrail built for this contract version.
    pub fn compile(&self, source: &PluginSource) -> Result<(Component, Origin), LoadError> {
        self.compile_bytes(&source.bytes()?, &source.label())
    }

    /// [`Sandbox::compile`] for bytes already read; `origin` names them in errors.
    fn compile_bytes(&self, bytes: &[u8], origin: &str) -> Result<(Component, Origin), LoadError> {
        if !is_component(bytes) {
            let reason = if bytes.starts_with(b"\0asm") {
                "it is a core WebAssembly module; build the plugin for the wasm32-wasip2 target"
            } else {
                "the file does not start with the WebAssembly magic bytes"
            };
            return Err(LoadError::NotAComponent {
                origin: origin.to_string(),
                reason: reason.into(),
            });
        }
        let compiled = match &self.cache {
            Some(cache) => cache.load(&self.engine, bytes),
            None => Component::new(&self.engine, bytes).map(|c| (c, Origin::Compiled)),
        };
        let (component, how) = compiled.map_err(|e| LoadError::NotAComponent {
            origin: origin.to_string(),
            reason: format!("{e:#}"),
        })?;
        self.check_contract(&component, origin)?;
        Ok((component, how))
    }

    /// Loads a plugin and configures it with `settings` (a JSON document).
    pub fn load(
        &self,
        source: &PluginSource,
        settings: &str,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        self.start_ticker()?;
        let origin = source.label();
        let bytes = source.bytes()?;
        let (component, _) = self.compile_bytes(&bytes, &origin)?;
        let fingerprint = Fingerprint::new(&bytes, settings);
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link {
                origin: origin.clone(),
                reason: format!("{e:#}"),
            })?;
        let pre = GuardrailPre::new(pre).map_err(|e| LoadError::Link {
            origin: origin.clone(),
            reason: format!("{e:#}"),
        })?;
        let setup_failed = |failure| LoadError::Setup {
            origin: origin.clone(),
            failure,
        };
        let mut instance = start_instance(&self.engine, &self.clock, &pre, &origin, &limits)
            .map_err(setup_failed)?;
        let info = describe(&mut instance, &limits).map_err(setup_failed)?;
        check_info(&info).map_err(|reason| LoadError::BadInfo {
            origin: origin.clone(),
            reason,
        })?;
        match configure(&mut instance, settings, &limits) {
            Ok(()) => {}
            Err(ConfigureError::Refused(message)) => {
                return Err(LoadError::Settings {
                    name: info.name.clone(),
                    origin,
                    message,
                });
            }
            Err(ConfigureError::Failed(failure)) => return Err(setup_failed(failure)),
        }
        Ok(Plugin::new(
            origin,
            info,
            pre,
            settings.to_string(),
            fingerprint,
            limits,
            instance,
        ))
    }

    /// Refuses a component that does not export the guardrail interface, or that
    /// exports it for an incompatible contract version.
    fn check_contract(&self, component: &Component, origin: &str) -> Result<(), LoadError> {
        let ty = component.component_type();
        let exports: Vec<&str> = ty.exports(&self.engine).map(|(name, _)| name).collect();
        let prefix = format!("{PLUGIN_INTERFACE}@");
        let Some(found) = exports.iter().find_map(|name| name.strip_prefix(&prefix)) else {
            let listed = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            return Err(LoadError::NotAGuardrail {
                origin: origin.to_string(),
                exports: listed,
            });
        };
        if !compatible(found) {
            return Err(LoadError::IncompatibleContract {
                origin: origin.to_string(),
                found: found.to_string(),
                expected: CONTRACT_VERSION,
            });
        }
        Ok(())
    }
}

/// Wasmtime's error type, as an `anyhow` error with its whole chain.
fn wasm_error(error: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{error:#}")
}

/// A component (layer 1) rather than a core module: the version field after the
/// magic bytes is 0x0d 0x00, with layer 0x01 0x00.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes.starts_with(b"\0asm") && bytes[6..8] == [0x01, 0x00]
}

/// Checks what `describe` returned.
fn check_info(info: &Info) -> Result<(), String> {
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(format!(
            "name {:?} must be 1-64 characters of letters, digits, '-', '_' or '.'",
            store::truncate(&info.name, 80)
        ));
    }
    if info.version.is_empty() || info.version.len() > 64 {
        return Err("version must be 1-64 characters".into());
    }
    if info.phases.is_empty() {
        return Err("it handles no phase".into());
    }
    if info.max_match_len > 1 << 20 {
        return Err(format!(
            "max-match-len {} is more than 1 MiB; streamed responses would be held back too long",
            info.max_match_len
        ));
    }
    Ok(())
}
