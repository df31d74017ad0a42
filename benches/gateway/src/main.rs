//! `sluice-bench`: measures a `sluice` binary end to end against direct calls to
//! a mock upstream and against the Portkey and LiteLLM gateways, and prints the
//! tables of docs/benchmarks.md. `benches/gateway/run.sh` builds and runs it.

use clap::Parser;
use sluice_bench::mock::MockOptions;
use sluice_bench::run::Options;
use sluice_bench::scenario;
use sluice_bench::targets::{Peers, Placement};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Measures sluice end to end: requests per second, latency percentiles, added
/// latency over direct calls, time-to-first-token overhead and peak memory.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The `sluice` binary to measure (a release build).
    #[arg(long, default_value = "target/release/sluice")]
    sluice: PathBuf,
    /// Scenarios to run, comma-separated (their direct baselines are added);
    /// default: all. Names: direct, direct-anthropic, direct-32k, direct-stream,
    /// passthrough, passthrough-32k, nginx, nginx-32k, hyper-proxy,
    /// hyper-proxy-32k, passthrough-anthropic, guardrails, guardrails-32k,
    /// stream, stream-guardrails, portkey, litellm.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Seconds of each closed-loop run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of warm-up before each closed-loop run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds of each open-loop run.
    #[arg(long, default_value_t = 5.0)]
    open_duration: f64,
    /// Seconds of each run of a peer gateway (closed and open loop).
    #[arg(long, default_value_t = 3.0)]
    peer_duration: f64,
    /// Connections of the closed loop (and of the open loop's pool).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Open-loop rate, requests/s (or half the closed-loop rate, when less).
    #[arg(long, default_value_t = 15_000.0)]
    rate: f64,
    /// Text deltas in a streamed answer.
    #[arg(long, default_value_t = 64)]
    chunks: usize,
    /// Milliseconds between two deltas.
    #[arg(long, default_value_t = 1)]
    chunk_delay_ms: u64,
    /// Do not pin processes to cores.
    #[arg(long)]
    no_pin: bool,
    /// Skip the peer gateways even when installed.
    #[arg(long)]
    no_peers: bool,
    /// Where install-peers.sh put the peers.
    #[arg(long, default_value = "target/bench-peers")]
    peers_dir: PathBuf,
    /// Keep configs and logs in this folder.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Every sluice scenario for a fraction of a second with a tiny load: checks
    /// that the harness works (the test suite runs it), measures nothing.
    #[arg(long)]
    smoke: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sluice-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.sluice.exists() {
        anyhow::bail!(
            "no sluice binary at {} (build one: cargo build --release -p sluice)",
            args.sluice.display()
        );
    }
    let mut options = if args.smoke {
        Options::smoke(args.sluice.clone())
    } else {
        let mut options = Options::full(args.sluice.clone());
        options.duration = Duration::from_secs_f64(args.duration);
        options.warmup = Duration::from_secs_f64(args.warmup);
        options.open_duration = Duration::from_secs_f64(args.open_duration);
        options.peer_duration = Duration::from_secs_f64(args.peer_duration);
        options.connections = args.connections;
        options.rate = args.rate;
        options.mock = MockOptions {
            chunks: args.chunks,
            chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        };
        options
    };
    if !args.scenarios.is_empty() {
        options.scenarios = args
            .scenarios
            .iter()
            .map(|name| {
                scenario::named(name).ok_or_else(|| anyhow::anyhow!("no scenario {name:?}"))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    if args.no_peers || args.smoke {
        options.scenarios.retain(|s| !s.target.is_peer());
    }
    options.peers = Peers {
        dir: args.peers_dir,
    };
    options.keep = args.keep;
    if !args.no_pin && !args.smoke {
        let (placement, note) = Placement::two_cores();
        // Before any thread exists, so that every thread inherits it.
        placement.pin_self()?;
        options.placement = placement;
        options.placement_note = note;
    }
    let report = sluice_bench::run(&options)?;
    println!("{}", sluice_bench::report::markdown(&report));
    let problems = report.problems();
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("sluice-bench: {} problem(s), listed above", problems.len());
        Ok(ExitCode::FAILURE)
    }
}
