//! The gateway benchmark's smoke mode (benches/gateway): every sluice scenario
//! for a fraction of a second with a tiny load, against this build's `sluice`,
//! so that the harness cannot rot. It checks that everything ran and was
//! answered well, never how fast: timings on a test machine mean nothing.

use sluice_bench::scenario::{ALL, Target};

#[test]
fn the_gateway_benchmark_runs_every_sluice_scenario() {
    let options = sluice_bench::Options::smoke(env!("CARGO_BIN_EXE_sluice").into());
    let report = sluice_bench::run(&options).expect("the harness runs");
    let problems = report.problems();
    assert!(problems.is_empty(), "problems: {problems:#?}");
    for scenario in ALL.iter().filter(|s| !s.target.is_peer()) {
        let row = report
            .row(scenario.name)
            .unwrap_or_else(|| panic!("{} did not run", scenario.name));
        assert_eq!(row.skipped, None, "{}", scenario.name);
        for run in [&row.closed, &row.open].into_iter().flatten() {
            assert!(run.ok > 0, "{}: no answer", scenario.name);
            assert_eq!(run.failed, 0, "{}: {:?}", scenario.name, run.first_failure);
            assert_eq!(
                run.statuses.keys().copied().collect::<Vec<_>>(),
                [200],
                "{}",
                scenario.name
            );
            if scenario.stream {
                assert_eq!(
                    run.ttft.len(),
                    run.ok,
                    "{}: a stream without text",
                    scenario.name
                );
            }
        }
        assert!(row.open.is_some(), "{}: no open-loop run", scenario.name);
        if scenario.target != Target::Direct {
            // Every answer came from the upstream, through the gateway.
            let answered =
                row.closed.as_ref().map_or(0, |r| r.ok) + row.open.as_ref().map_or(0, |r| r.ok);
            assert!(row.upstream_requests >= answered, "{}", scenario.name);
            assert!(
                row.baseline_open.is_some(),
                "{}: no direct run at the same rate",
                scenario.name
            );
            // The bare proxy runs on a thread of the harness: no memory of its own.
            assert_eq!(
                row.peak_memory_kib.is_some_and(|kib| kib > 0),
                scenario.target != Target::HyperProxy,
                "{}",
                scenario.name
            );
        }
        let guardrails: &[&str] = match scenario.target {
            Target::SluiceGuardrails => &["pii", "secrets", "content-filter", "org-rules"],
            _ => &[],
        };
        assert_eq!(row.guardrails, guardrails, "{}", scenario.name);
    }
    let tables = sluice_bench::report::markdown(&report);
    for heading in [
        "## Throughput",
        "## Latency at a fixed rate",
        "## The issue's targets",
    ] {
        assert!(
            tables.contains(heading),
            "{heading} missing from:\n{tables}"
        );
    }
    assert!(tables.contains("| guardrails-32k |"), "{tables}");
}
