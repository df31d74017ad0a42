//! Native throughput check for the `pii` guardrail on the coding-agent text of
//! the sandbox benchmark (`sluice_plugin_sdk::testing::agent_text`), one
//! segment of 32 KB and of 1 MB, so that native and sandbox numbers compare;
//! prints MB/s and the number of findings. Not a test; run it with
//! `cargo run --release -p sluice-plugin-pii --example pii_throughput`
//! (`-- <seconds>` measures each size for that long, for `perf record`).

use sluice_plugin_pii::Pii;
use sluice_plugin_sdk::{Context, Guardrail, Segment, Settings};
use std::time::{Duration, Instant};

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(1.0, |s| s.parse().expect("seconds"));
    let plugin = Pii::configure(&Settings::new("{}")).expect("default settings");
    let ctx = Context::request("@bench/model");
    for len in [32 << 10, 1 << 20] {
        let segments = [Segment::user(sluice_plugin_sdk::testing::agent_text(len))];
        let findings = plugin.check(&ctx, &segments).findings.len();
        let started = Instant::now();
        let mut rounds = 0;
        while started.elapsed() < Duration::from_secs_f64(seconds) {
            std::hint::black_box(plugin.check(&ctx, &segments));
            rounds += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "sandbox agent text, one segment of {} KB: {:.1} MB/s ({} findings)",
            len >> 10,
            (len * rounds) as f64 / secs / 1e6,
            findings
        );
    }
}
