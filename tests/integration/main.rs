//! sluice's integration tests: one binary, one module per area.
//!
//! The hostile guest plugins in `tests/guests/` are compiled to components on
//! first use (see `support::guest`).

mod audit;
mod bench_smoke;
mod builtins;
mod claude_code;
mod cli;
mod clouds;
mod clouds_clients;
mod console;
mod console_browser;
mod contract;
mod fake_azure;
mod fake_bedrock;
mod fake_claude;
mod fake_gemini;
mod fake_vertex;
mod gateway;
mod governance;
mod keys;
mod mcp;
mod mock_mcp;
mod mock_upstream;
mod observability;
mod pairs;
mod plugin_authoring;
mod proxy;
mod quality;
mod response_cache;
mod responses;
mod routing;
mod sandbox_limits;
mod sdk;
mod security;
mod segment_cache;
mod serve;
mod server_hardening;
mod stream_release;
mod support;
mod tls_upstream;
