//! The gateway benchmark: sluice end to end, against direct calls to the same
//! upstream and against other gateways, in one run.
//!
//! `benches/gateway/run.sh` builds a release `sluice` and this crate's
//! `sluice-bench` binary and runs it; the results, the machine and the command
//! are in `docs/benchmarks.md`. The parts:
//!
//! - [`mock`]: a fast mock upstream answering the OpenAI Chat Completions and
//!   Anthropic Messages shapes, with usage counts, whole or streamed in a
//!   configurable number of chunks with a delay between them.
//! - [`load`]: a load generator. Closed loop (C connections, each sending its next
//!   request when the last one is answered) for the most requests per second;
//!   open loop (requests at a fixed rate, latency counted from when each was due)
//!   for latency at a given load. Latency and time to first token go in HDR
//!   histograms.
//! - [`body`]: request bodies: small chat requests and 32 KB coding-agent
//!   requests, every one unique so that no cache can help.
//! - [`scenario`]: what is measured (direct, sluice passthrough, sluice with the
//!   four built-in guardrails, streams, the peer gateways).
//! - [`targets`]: starting sluice (with a config written for the scenario), the
//!   Portkey gateway and the LiteLLM proxy, pinned to their own core, and reading
//!   their peak memory.
//! - [`proxy`]: a bare reverse proxy on sluice's own HTTP stack (hyper's
//!   server and pooled client), the floor of that stack beside nginx's.
//! - [`run`]: the orchestrator, which measures every scenario and returns a
//!   [`run::Report`]; [`report`] prints it as markdown tables.
//!
//! The placement, on a machine of at least two cores: the load generator and the
//! mock share core 0 (threads of this process); the gateway under test runs
//! alone on core 1 (sluice with one tokio worker thread). Direct calls use the
//! same placement with nothing on core 1.
//!
//! `sluice-bench --smoke` runs every sluice scenario for a fraction of a second
//! with a tiny load; the test suite runs it (tests/integration/bench_smoke.rs)
//! so that the harness cannot rot. It checks behaviour only, never timings.

pub mod body;
pub mod load;
pub mod mock;
pub mod proxy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server_thread;
pub mod targets;

pub use run::{Options, Report, run};
