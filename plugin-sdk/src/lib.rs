//! Write [sluice](https://github.com/sluice-gateway/sluice) guardrail plugins in Rust.
//!
//! A guardrail looks at the text of a request or response that passes through the
//! gateway (messages, system prompt, tool-call arguments, tool results) and answers
//! with a [`Verdict`]: allow, flag, redact or block, with [`Finding`]s that point at
//! byte spans of the text. The gateway, not the plugin, applies redactions and
//! blocks, writes the audit trail, and holds back streamed text so that a match
//! split across two chunks is still caught: at most
//! [`MAX_MATCH_LEN`](Guardrail::MAX_MATCH_LEN) bytes, less where the plugin's
//! [`settled`](Guardrail::settled) offset says no match can still be open.
//!
//! A plugin is a type that implements [`Guardrail`] (one required method,
//! [`Guardrail::check`]; an optional one, [`Guardrail::settled`], releases
//! streamed text sooner; with the `regex` feature, `open_match::OpenMatches`
//! computes it from the plugin's regexes) and is named once with [`register!`].
//! Built for the `wasm32-wasip2` target, the crate becomes a WebAssembly
//! component that the gateway loads into a sandbox: no files, no network, no
//! environment, a memory cap and a deadline on every call.
//!
//! # Example
//!
//! A plugin that redacts a company's internal ticket ids (`ACME-1234`), with a
//! setting for the prefix:
//!
//! ```
//! use sluice_plugin_sdk::{Action, Context, Finding, Guardrail, Segment, Settings, Verdict};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct TicketSettings {
//!     #[serde(default = "default_prefix")]
//!     prefix: String,
//! }
//!
//! fn default_prefix() -> String {
//!     "ACME-".into()
//! }
//!
//! struct Tickets {
//!     prefix: String,
//! }
//!
//! impl Default for Tickets {
//!     fn default() -> Self {
//!         Tickets { prefix: default_prefix() }
//!     }
//! }
//!
//! impl Guardrail for Tickets {
//!     const MAX_MATCH_LEN: u32 = 32;
//!
//!     fn configure(settings: &Settings) -> Result<Self, String> {
//!         let settings: TicketSettings = settings.parse()?;
//!         if settings.prefix.is_empty() {
//!             return Err("prefix must not be empty".into());
//!         }
//!         Ok(Tickets { prefix: settings.prefix })
//!     }
//!
//!     fn check(&self, _ctx: &Context, segments: &[Segment]) -> Verdict {
//!         let mut findings = Vec::new();
//!         for (i, segment) in segments.iter().enumerate() {
//!             for (start, _) in segment.text.match_indices(&self.prefix) {
//!                 let digits = segment.text[start + self.prefix.len()..]
//!                     .bytes()
//!                     .take_while(u8::is_ascii_digit)
//!                     .count();
//!                 if digits > 0 {
//!                     let end = start + self.prefix.len() + digits;
//!                     findings.push(
//!                         Finding::new(i, start..end, "ticket", "ticket-id", Action::Redact)
//!                             .with_replacement("[TICKET]"),
//!                     );
//!                 }
//!             }
//!         }
//!         Verdict::from_findings(findings)
//!     }
//!
//!     // Optional: a ticket id holds no whitespace, so in a streamed answer only
//!     // the last word may still become one; everything before it can go out.
//!     fn settled(&self, segment: &Segment) -> usize {
//!         let text = &segment.text;
//!         text.rfind(|c: char| c.is_ascii_whitespace()).map_or(0, |i| i + 1)
//!     }
//! }
//!
//! sluice_plugin_sdk::register!(Tickets, name = "tickets");
//!
//! // Native unit test, same types, no wasm:
//! let plugin = sluice_plugin_sdk::testing::Harness::<Tickets>::with_defaults();
//! assert_eq!(plugin.redact("see ACME-42 and ACME-x"), "see [TICKET] and ACME-x");
//! assert!(sluice_plugin_sdk::testing::Harness::<Tickets>::configure(r#"{"prefix":""}"#).is_err());
//! // Streamed, each chunk releases the words before the last one; a ticket
//! // split across chunks is still redacted:
//! assert_eq!(plugin.stream_releases(&["see AC", "ME-4", "2 now"]), ["see ", "", "[TICKET] ", "now"]);
//! plugin.assert_any_split_streams_alike("see ACME-42 now");
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and point the
//! gateway config at the `.wasm` file; `docs/writing-a-plugin.md` walks through it.
//!
//! # What the gateway checks
//!
//! Spans must be UTF-8 byte offsets on character boundaries within the segment;
//! anything else, a panic, a trap, running past the deadline or over the memory cap
//! is a plugin failure, handled by the gateway's per-plugin policy (block by
//! default, or allow and record). After a failure the instance is discarded.

// The generated bindings name this crate by its absolute path.
extern crate self as sluice_plugin_sdk;

mod guardrail;
#[cfg(feature = "regex")]
pub mod open_match;
mod settings;
pub mod testing;
mod types;

#[cfg(target_arch = "wasm32")]
mod export;

pub use guardrail::{Guardrail, default_settled, open_run_start, run_start};
pub use settings::{Mode, Settings};
pub use types::{Action, CacheScope, Context, Finding, Phase, Segment, SegmentKind, Verdict};

/// Severity of a [`log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Writes a line to the gateway's log, attributed to this plugin. The gateway
/// truncates long lines and limits the lines per call. Never log the text you
/// inspect: it may hold the very secrets the plugin is there to catch.
///
/// In native tests the line goes to standard error.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    export::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Exports a [`Guardrail`] type as the component's plugin. Use it once per crate.
///
/// `register!(MyPlugin)` names the plugin after the crate (`CARGO_PKG_NAME`);
/// `register!(MyPlugin, name = "short-name")` chooses the name. The version is the
/// crate's version. Outside wasm the macro expands to nothing, so the crate still
/// builds and tests natively.
#[macro_export]
macro_rules! register {
    ($plugin:ty) => {
        $crate::register!($plugin, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($plugin:ty, name = $name:expr) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            struct __SluiceIdentity;
            impl $crate::__private::Identity for __SluiceIdentity {
                const NAME: &'static str = $name;
                const VERSION: &'static str = ::core::env!("CARGO_PKG_VERSION");
            }
            type __SluiceGuardrail = $crate::__private::Shim<$plugin, __SluiceIdentity>;
            $crate::__private::bindings::__export_guardrail!(
                __SluiceGuardrail with_types_in $crate::__private::bindings
            );
        };
    };
}

/// Used by [`register!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// The name and version a registered plugin reports.
    pub trait Identity {
        const NAME: &'static str;
        const VERSION: &'static str;
    }

    #[cfg(target_arch = "wasm32")]
    pub use crate::export::{Shim, bindings};
    #[cfg(target_arch = "wasm32")]
    pub use wit_bindgen;
}
