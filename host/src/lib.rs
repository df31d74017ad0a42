//! sluice: an LLM API gateway with WebAssembly guardrails.
//!
//! This crate is the gateway. Its parts, each in its own module:
//!
//! - [`server`] and [`api`]: the HTTP app (OpenAI and Anthropic wire formats).
//! - [`pipeline`]: the path of one chat request, phase by phase.
//! - [`providers`]: upstreams (OpenAI, Anthropic, OpenAI-compatible, echo).
//! - [`response_cache`]: exact-match caching of answers, whole or streamed.
//! - [`routing`]: routing configs: fallbacks, load balancing, conditions,
//!   retries, timeouts and circuit breaking.
//! - [`translate`]: OpenAI ⇄ Anthropic, for a client on the other API's model,
//!   as a decode to the [`canonical`] model of a request, answer and stream
//!   and an encode, by one [`codec`] per API.
//! - [`auth`]: who is calling: gateway keys from the config and the key store.
//! - [`mcp`]: the MCP gateway (`/mcp`): MCP servers' tools behind the same
//!   keys, guardrails, limits and audit trail.
//! - [`keys`]: managed gateway keys (`sluice keys`, `/admin/keys`) and their store.
//! - [`governance`]: budgets, rate limits, usage and cost, and the state store
//!   (SQLite or Redis) they are counted in.
//! - [`sandbox`]: runs guardrail plugins (WebAssembly components implementing
//!   `wit/guardrail.wit`) with a deadline, a memory cap and no ambient authority.
//! - [`guardrails`]: a configured set of plugins, run over text segments, with
//!   verdicts combined, failure policies applied and redactions carried out, and
//!   the segment cache that scans a resent conversation only where it is new.
//! - [`builtin`]: the built-in plugins embedded in the binary.
//! - [`console`]: the web console (`/console`), over the admin API.
//! - [`config`]: the TOML configuration file.
//! - [`sqlite`]: how every SQLite-backed store opens its file.
//! - [`private_files`]: files only the gateway's user may read (mode 0600).
//! - [`telemetry`]: metrics (`/metrics`), the request log and traces (OTLP).
//! - [`clock`]: UTC calendar arithmetic (no date-time crate).
//! - [`scan`]: `sluice scan`, guardrails over files without an upstream.
//! - [`scaffold`]: `sluice plugin new`, a new plugin crate.

pub mod api;
pub mod audit;
pub mod auth;
pub mod body_bytes;
pub mod builtin;
pub mod canonical;
pub mod clock;
pub mod codec;
pub mod config;
pub mod console;
pub mod gateway;
pub mod governance;
pub mod guardrails;
pub mod json_pointer;
pub mod keys;
pub mod mcp;
pub mod metadata;
pub mod pipeline;
pub mod private_files;
pub mod providers;
pub mod response_cache;
pub mod routing;
pub mod sandbox;
pub mod scaffold;
pub mod scan;
pub mod secret;
pub mod server;
pub mod sqlite;
pub mod stored_responses;
pub mod telemetry;
#[cfg(test)]
mod test_json;
#[cfg(test)]
mod test_services;
pub mod translate;
