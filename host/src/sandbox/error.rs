//! What can go wrong loading a plugin, and calling one.

use std::time::Duration;

/// A plugin could not be loaded or configured. Each message names the plugin's
/// file (or built-in name) so that an operator knows which one to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{origin}: cannot read the plugin: {source}")]
    Read {
        /// The file.
        origin: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component (a core module, or not wasm).
    #[error("{origin}: not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The file.
        origin: String,
        /// Wasmtime's reason.
        reason: String,
    },
    /// A component, but not a guardrail.
    #[error(
        "{origin}: not a sluice guardrail: it does not export `sluice:guardrail/plugin` \
         (its exports: {exports})"
    )]
    NotAGuardrail {
        /// The file.
        origin: String,
        /// What it exports instead.
        exports: String,
    },
    /// A guardrail built against another version of the contract.
    #[error(
        "{origin}: built against guardrail contract {found}, but this gateway implements \
         {expected}; rebuild the plugin with a sluice-plugin-sdk for contract {expected}"
    )]
    IncompatibleContract {
        /// The file.
        origin: String,
        /// The contract version the component was built against.
        found: String,
        /// The contract version this gateway implements.
        expected: &'static str,
    },
    /// The component imports something the sandbox does not grant.
    #[error("{origin}: cannot be linked: {reason}")]
    Link {
        /// The file.
        origin: String,
        /// Wasmtime's reason (names the missing import).
        reason: String,
    },
    /// Instantiation, `describe` or `configure` failed (trap, timeout...).
    #[error("{origin}: failed while starting: {failure}")]
    Setup {
        /// The file.
        origin: String,
        /// What happened.
        failure: PluginFailure,
    },
    /// `describe` returned something unusable.
    #[error("{origin}: describes itself badly: {reason}")]
    BadInfo {
        /// The file.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The plugin refused its settings; `message` is the plugin's own.
    #[error("plugin `{name}` ({origin}) refused its settings: {message}")]
    Settings {
        /// The plugin's name.
        name: String,
        /// The file.
        origin: String,
        /// The plugin's explanation.
        message: String,
    },
    /// The thread that enforces plugin deadlines could not be started.
    #[error("cannot start the thread that enforces plugin deadlines: {source}")]
    Ticker {
        /// Why.
        source: std::io::Error,
    },
}

/// One `check` call failed. The gateway applies the plugin's failure policy
/// (block, or allow and record); the instance involved has been discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    /// The call ran past its deadline and was interrupted.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The plugin tried to grow its memory past the cap.
    #[error("{0}")]
    MemoryLimit(String),
    /// The plugin panicked; the message is its own, truncated.
    #[error("panicked: {0}")]
    Panic(String),
    /// Any other trap.
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin returned an error instead of a verdict.
    #[error("returned an error: {0}")]
    Error(String),
    /// The verdict broke the contract (span out of range, too many findings...).
    #[error("returned an invalid verdict: {0}")]
    BadOutput(String),
    /// A new instance could not be created or configured.
    #[error("could not start an instance: {0}")]
    Instantiate(String),
}

impl PluginFailure {
    /// A short, fixed label for metrics and audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Timeout(_) => "timeout",
            PluginFailure::MemoryLimit(_) => "memory-limit",
            PluginFailure::Panic(_) => "panic",
            PluginFailure::Trap(_) => "trap",
            PluginFailure::Error(_) => "error",
            PluginFailure::BadOutput(_) => "bad-output",
            PluginFailure::Instantiate(_) => "instantiate",
        }
    }
}
