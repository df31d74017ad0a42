//! The report as markdown: the machine, the settings, the tables (throughput,
//! latency at a fixed rate, the other gateways) and the targets.

use crate::body::BodyKind;
use crate::run::{Report, Row};
use crate::scenario::{Api, Target};
use std::fmt::Write as _;
use std::time::Duration;

/// The targets, on one core: passthrough's share of nginx as a
/// reverse proxy, on small and on 32 KB bodies.
pub const TARGET_SHARE_OF_NGINX: f64 = 0.6;
/// p99 added latency at half passthrough's own closed-loop rate.
pub const TARGET_ADDED_P99: Duration = Duration::from_millis(1);
/// Four guardrails on unique 32 KB bodies.
pub const TARGET_GUARDRAILS_32K_RPS: f64 = 3_000.0;
/// Peak memory under load.
pub const TARGET_PEAK_MIB: f64 = 100.0;

/// `report` as markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let o = &report.options;
    let _ = writeln!(out, "## Machine\n");
    let _ = writeln!(out, "{}\n", machine());
    let pinning = match (o.placement.load_cpu, o.placement.gateway_cpu) {
        (Some(load), Some(gateway)) => format!(
            "load generator and mock pinned to core {load}, the gateway under test alone on core {gateway} (`taskset`); sluice with `TOKIO_WORKER_THREADS=1`"
        ),
        _ => format!(
            "not pinned{}; sluice with `TOKIO_WORKER_THREADS=1`",
            o.placement_note
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
    };
    let _ = writeln!(
        out,
        "Settings: {pinning}. Closed loop: {} connections, {} after {} of warm-up ({} for the peers). \
         Open loop: {} per run, at {} requests/s or half the closed-loop rate when less. \
         Streams: {} text deltas, {} ms apart. Load average (1 min) {} at the start, {} at the end{}; run took {:.0} s.\n",
        o.connections,
        secs(o.duration),
        secs(o.warmup),
        secs(o.peer_duration),
        secs(o.open_duration),
        o.rate,
        o.mock.chunks,
        o.mock.chunk_delay.as_millis(),
        opt(report.load_before.map(|l| format!("{l:.2}"))),
        opt(report.load_after.map(|l| format!("{l:.2}"))),
        if report.disturbances.is_empty() {
            "; no compiler ran during the run".to_string()
        } else {
            format!(
                "; **seen running during the run: {}**",
                report.disturbances.join(", ")
            )
        },
        report.took.as_secs_f64(),
    );
    throughput(&mut out, report);
    latency(&mut out, report);
    peers(&mut out, report);
    targets(&mut out, report);
    let problems = report.problems();
    if !problems.is_empty() {
        let _ = writeln!(out, "## Problems\n");
        for p in problems {
            let _ = writeln!(out, "- {p}");
        }
        out.push('\n');
    }
    out
}

fn throughput(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "## Throughput (closed loop, {} connections)\n",
        report.options.connections
    );
    let _ = writeln!(
        out,
        "| scenario | what | requests/s | vs direct | p50 | p99 | p99.9 | peak memory | threads | failed |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &report.rows {
        let name = label(row);
        let Some(closed) = &row.closed else {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | | | | | | | |",
                row.scenario.about,
                row.skipped.as_deref().unwrap_or("not run")
            );
            continue;
        };
        let direct = baseline_closed(report, row);
        let _ = writeln!(
            out,
            "| {name} | {} | **{:.0}** | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario.about,
            closed.rate(),
            opt(direct.map(|d| ratio(closed.rate() / d))),
            ms(closed.latency_at(0.5)),
            ms(closed.latency_at(0.99)),
            ms(closed.latency_at(0.999)),
            opt(row.peak_memory_kib.map(mib)),
            opt(row.threads.map(|t| t.to_string())),
            closed.failed,
        );
    }
    out.push('\n');
}

fn latency(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "## Latency at a fixed rate (open loop; added = this run minus direct at the same rate, run just before)\n"
    );
    let _ = writeln!(
        out,
        "| scenario | rate/s | p50 | p99 | p99.9 | direct p50 | direct p99 | **added p50** | **added p99** | TTFT p50 | TTFT p99 | **TTFT added p50** | **TTFT added p99** | failed |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in &report.rows {
        let Some(open) = &row.open else { continue };
        let Mode { rate } = mode(open);
        let base = row.baseline_open.as_ref();
        let added = |q: f64| base.map(|b| signed_ms(open.latency_at(q), b.latency_at(q)));
        let ttft_added = |q: f64| {
            let (a, b) = (open.ttft_at(q)?, base?.ttft_at(q)?);
            Some(signed_ms(a, b))
        };
        let _ = writeln!(
            out,
            "| {} | {rate:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            label(row),
            ms(open.latency_at(0.5)),
            ms(open.latency_at(0.99)),
            ms(open.latency_at(0.999)),
            opt(base.map(|b| ms(b.latency_at(0.5)))),
            opt(base.map(|b| ms(b.latency_at(0.99)))),
            opt(added(0.5)),
            opt(added(0.99)),
            opt(open.ttft_at(0.5).map(ms)),
            opt(open.ttft_at(0.99).map(ms)),
            opt(ttft_added(0.5)),
            opt(ttft_added(0.99)),
            open.failed + base.map_or(0, |b| b.failed),
        );
    }
    out.push('\n');
}

fn peers(out: &mut String, report: &Report) {
    let ran: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.scenario.target.is_peer())
        .collect();
    if ran.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Against the other gateways (same run, same mock, same small OpenAI requests)\n"
    );
    let comparable: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| {
            r.scenario.target.is_sluice()
                && r.closed.is_some()
                && (r.scenario.api, r.scenario.body, r.scenario.stream)
                    == (Api::OpenAi, BodyKind::Small, false)
        })
        .collect();
    let _ = writeln!(
        out,
        "| sluice scenario | peer | requests/s: sluice / peer | p50 (closed loop): peer / sluice | p99: peer / sluice | peak memory: peer / sluice |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
    for peer in &ran {
        let Some(p) = &peer.closed else {
            let _ = writeln!(
                out,
                "| | {} | {} | | | |",
                label(peer),
                peer.skipped.as_deref().unwrap_or("not run")
            );
            continue;
        };
        for s in &comparable {
            let c = s.closed.as_ref().expect("filtered");
            let memory = match (peer.peak_memory_kib, s.peak_memory_kib) {
                (Some(a), Some(b)) if b > 0 => ratio(a as f64 / b as f64),
                _ => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | **{}** | {} | {} | {} |",
                s.scenario.name,
                label(peer),
                ratio(c.rate() / p.rate().max(f64::MIN_POSITIVE)),
                ratio(p.latency_at(0.5).as_secs_f64() / c.latency_at(0.5).as_secs_f64()),
                ratio(p.latency_at(0.99).as_secs_f64() / c.latency_at(0.99).as_secs_f64()),
                memory,
            );
        }
    }
    out.push('\n');
}

fn targets(out: &mut String, report: &Report) {
    let _ = writeln!(out, "## The issue's targets (one core)\n");
    let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
    let rate = |name: &str| {
        report
            .row(name)
            .and_then(|r| r.closed.as_ref())
            .map(|c| c.rate())
    };
    for (sluice, nginx, what) in [
        ("passthrough", "nginx", "small bodies"),
        ("passthrough-32k", "nginx-32k", "unique 32 KB bodies"),
    ] {
        if let (Some(s), Some(n)) = (rate(sluice), rate(nginx))
            && n > 0.0
        {
            let share = s / n;
            let _ = writeln!(
                out,
                "- passthrough at {:.0}% or more of nginx as a reverse proxy, {what}: {s:.0} against {n:.0} requests/s, {:.0}%, {}",
                TARGET_SHARE_OF_NGINX * 100.0,
                share * 100.0,
                verdict(share >= TARGET_SHARE_OF_NGINX)
            );
        }
    }
    for (sluice, proxy, nginx, what) in [
        ("passthrough", "hyper-proxy", "nginx", "small bodies"),
        (
            "passthrough-32k",
            "hyper-proxy-32k",
            "nginx-32k",
            "unique 32 KB bodies",
        ),
    ] {
        if let (Some(s), Some(p), Some(n)) = (rate(sluice), rate(proxy), rate(nginx))
            && p > 0.0
            && n > 0.0
        {
            let _ = writeln!(
                out,
                "- (not a target) the bare hyper proxy, {what}: {p:.0} requests/s, {:.0}% of nginx; sluice passthrough is {:.0}% of it",
                p / n * 100.0,
                s / p * 100.0,
            );
        }
    }
    if let Some(r) = report.row("passthrough")
        && let (Some(closed), Some(open), Some(base)) = (&r.closed, &r.open, &r.baseline_open)
    {
        let Mode { rate } = mode(open);
        let added = open.latency_at(0.99).saturating_sub(base.latency_at(0.99));
        let half = closed.rate() / 2.0;
        let at_half = (rate - half).abs() <= half * 0.01;
        let at = if at_half {
            format!("at {rate:.0}/s")
        } else {
            format!(
                "at {rate:.0}/s (not half of the closed loop's {:.0}/s: `--rate` is lower)",
                closed.rate()
            )
        };
        let _ = writeln!(
            out,
            "- passthrough p99 added latency under {} ms at half its own closed-loop rate (open loop, against direct at the same rate): {} {at}, {}",
            TARGET_ADDED_P99.as_millis(),
            ms(added),
            verdict(added < TARGET_ADDED_P99 && at_half)
        );
    }
    if let Some(c) = report.row("guardrails-32k").and_then(|r| r.closed.as_ref()) {
        let _ = writeln!(
            out,
            "- four guardrails on unique 32 KB bodies, at least {TARGET_GUARDRAILS_32K_RPS:.0} requests/s: {:.0}, {}",
            c.rate(),
            verdict(c.rate() >= TARGET_GUARDRAILS_32K_RPS)
        );
    }
    let peaks: Vec<(&str, f64)> = report
        .rows
        .iter()
        .filter(|r| r.scenario.target.is_sluice())
        .filter_map(|r| Some((r.scenario.name, r.peak_memory_kib? as f64 / 1024.0)))
        .collect();
    if let Some((name, peak)) = peaks.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)) {
        let _ = writeln!(
            out,
            "- sluice's peak memory under load under {TARGET_PEAK_MIB:.0} MB: at most {peak:.1} MiB ({name}), {}",
            verdict(peak * 1.048_576 < TARGET_PEAK_MIB)
        );
    }
    out.push('\n');
}

struct Mode {
    rate: f64,
}

fn mode(outcome: &crate::load::Outcome) -> Mode {
    match outcome.mode {
        crate::load::Mode::Open { rate, .. } => Mode { rate },
        crate::load::Mode::Closed { .. } => Mode {
            rate: outcome.rate(),
        },
    }
}

/// The closed-loop rate of `row`'s direct baseline.
fn baseline_closed(report: &Report, row: &Row) -> Option<f64> {
    let baseline = row.scenario.baseline()?;
    let rate = report.row(baseline.name)?.closed.as_ref()?.rate();
    (rate > 0.0).then_some(rate)
}

fn label(row: &Row) -> String {
    match (&row.version, row.scenario.target) {
        (Some(v), Target::Portkey | Target::Litellm | Target::Nginx) => {
            format!("{} {v}", row.scenario.name)
        }
        _ => row.scenario.name.to_string(),
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    // Not `available_parallelism`: the harness may have pinned itself to one.
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({model}), {memory} of memory, Linux {}",
        kernel.trim()
    )
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn opt(value: Option<String>) -> String {
    value.unwrap_or_else(|| "–".into())
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn signed_ms(a: Duration, b: Duration) -> String {
    let diff = (a.as_secs_f64() - b.as_secs_f64()) * 1000.0;
    if diff.abs() < 10.0 {
        format!("{diff:+.3} ms")
    } else {
        format!("{diff:+.1} ms")
    }
}

fn ratio(r: f64) -> String {
    if !r.is_finite() {
        "–".into()
    } else if r >= 10.0 {
        format!("{r:.0}x")
    } else {
        format!("{r:.2}x")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
