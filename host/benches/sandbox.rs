//! The cost of one guardrail call in the sandbox, against baselines measured in
//! the same run. `cargo bench -p sluice --bench sandbox`; results and how to
//! read them are in docs/benchmarks.md.
//!
//! - `copy`: cloning the input text, the floor of any work on it.
//! - `pii/native`: the built-in pii plugin's code called directly, no sandbox.
//! - `<built-in>/warm`: each built-in plugin in the sandbox, on a warm (reused)
//!   instance, with its default settings (org-rules with three sample rules).
//! - `<built-in>/cold` (32 KB): the same with the core's L1 and L2 caches
//!   flushed before each call (4 MiB written, not timed), as in the gateway,
//!   where a request's parsing and the other plugins run between two calls.
//! - `<built-in>/varied` (32 KB): each call on the next of 16 texts like the
//!   gateway benchmark's 32 KB requests (`sluice_bench::body::agent_text`), so
//!   that no call sees the text of the one before it, as in the gateway.
//! - `four-requests/by-request` and `four-requests/by-plugin` (32 KB): the
//!   four built-ins on four varied texts with the caches flushed before each
//!   request (not timed), one request's calls after another's, or each
//!   plugin's four calls back to back (what batching checks by plugin would
//!   save).
//! - `<built-in>/warm-response` (256 bytes): the same on an answer, where the
//!   plugin also computes how much of the text is settled (for streams).
//! - `<built-in>/response-cold` (256 bytes): the answer with the core's L1
//!   and L2 caches flushed before each call.
//! - `<built-in>/response-after-request` (256 bytes): the answer checked on
//!   an instance that has just checked a 32 KB request (not timed), as the
//!   gateway's instances do.
//! - `noop/warm` and `noop/fresh`: a plugin that does nothing, on a warm instance
//!   and on a new instance per call (instantiate + configure + call + drop).
//! - `load/*`: loading a component: precompiled artifact vs compiling it.
//!
//! `SLUICE_BENCH_BUILTINS=<dir>` loads the built-ins from `<dir>/<name>.wasm`
//! instead of the embedded ones, so that two builds of the plugins can be
//! measured back to back with one bench binary (docs/benchmarks.md).

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use sluice::builtin;
use sluice::sandbox::{
    ArtifactCache, Context, InstanceMode, Limits, Phase, Plugin, PluginSource, Sandbox, Segment,
    SegmentKind,
};
use std::hint::black_box;

fn segments(text: &str) -> Vec<Segment> {
    vec![Segment {
        path: "messages[0].content".into(),
        role: "user".into(),
        kind: SegmentKind::Message,
        text: text.to_string(),
    }]
}

fn context() -> Context {
    Context {
        phase: Phase::Request,
        api: "openai".into(),
        model: "@bench/model".into(),
        key_id: Some("bench".into()),
        metadata: Vec::new(),
    }
}

/// Settings for built-ins that do nothing without them.
fn bench_settings(plugin: &str) -> &'static str {
    match plugin {
        "org-rules" => {
            r#"{"rules": [
                {"id": "codename", "keywords": ["Project Falcon", "Osprey", "猎鹰计划"], "action": "block"},
                {"id": "gpl", "regex": "GNU (Affero |Lesser )?General Public License"},
                {"id": "tickets", "regex": "\\bINC-\\d{4,}\\b", "action": "redact"}
            ]}"#
        }
        _ => "{}",
    }
}

/// The component of built-in `name`: the embedded one, or
/// `$SLUICE_BENCH_BUILTINS/<name>.wasm` when that variable names a directory,
/// to compare two builds of the plugins back to back with one bench binary.
fn builtin_bytes(name: &str, embedded: &'static [u8]) -> &'static [u8] {
    let Some(dir) = std::env::var_os("SLUICE_BENCH_BUILTINS") else {
        return embedded;
    };
    let path = std::path::Path::new(&dir).join(format!("{name}.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Box::leak(bytes.into_boxed_slice())
}

fn bench_calls(c: &mut Criterion) {
    let sandbox = Sandbox::new(None).unwrap();
    let builtins: Vec<_> = builtin::BUILTINS
        .iter()
        .map(|b| {
            let source = PluginSource::Builtin {
                name: b.name,
                bytes: builtin_bytes(b.name, b.bytes),
            };
            let plugin = sandbox
                .load(&source, bench_settings(b.name), Limits::default())
                .unwrap();
            (b.name, plugin)
        })
        .collect();
    let guests = sluice_wasm_build::build_components(&["sluice-guest-hostile"]);
    let noop_source = PluginSource::File(guests[0].path.clone());
    let noop_warm = sandbox.load(&noop_source, "{}", Limits::default()).unwrap();
    let fresh = Limits {
        instances: InstanceMode::Fresh,
        ..Limits::default()
    };
    let noop_fresh = sandbox.load(&noop_source, "{}", fresh).unwrap();
    let pii_native = sluice_plugin_sdk::testing::Harness::<sluice_plugin_pii::Pii>::with_defaults();
    let ctx = context();
    let response_ctx = Context {
        phase: Phase::Response,
        ..context()
    };

    let request_32k = segments(&sluice_plugin_sdk::testing::agent_text(32 << 10));
    // What the cold cases write between two calls.
    let mut other_work = vec![0u8; EVICT_BYTES];
    let mut group = c.benchmark_group("call");
    for size in [256, 32 << 10, 1 << 20] {
        let text = sluice_plugin_sdk::testing::agent_text(size);
        let segs = segments(&text);
        let label = if size < 1 << 10 {
            format!("{size}B")
        } else if size < 1 << 20 {
            format!("{}KB", size >> 10)
        } else {
            format!("{}MB", size >> 20)
        };
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("copy", &label), &segs, |b, segs| {
            b.iter(|| black_box(segs.clone()))
        });
        group.bench_with_input(BenchmarkId::new("noop/warm", &label), &segs, |b, segs| {
            b.iter(|| black_box(noop_warm.check(&ctx, segs).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("noop/fresh", &label), &segs, |b, segs| {
            b.iter(|| black_box(noop_fresh.check(&ctx, segs).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("pii/native", &label), &text, |b, text| {
            let native_segments = vec![sluice_plugin_sdk::Segment::user(text.as_str())];
            let native_ctx = sluice_plugin_sdk::Context::request("@bench/model");
            b.iter(|| black_box(pii_native.check(&native_ctx, &native_segments)))
        });
        // Texts no call has seen just before: a branch predictor cannot learn
        // them as it learns `agent_text`'s six lines repeated.
        let varied: Vec<Vec<Segment>> = if size == 32 << 10 {
            (0..VARIED_TEXTS)
                .map(|seed| segments(&sluice_bench::body::agent_text(seed, size)))
                .collect()
        } else {
            Vec::new()
        };
        // Four requests through the four built-ins, with the core's caches
        // flushed before each request (not timed): one request's calls after
        // another, or each plugin's calls on the four back to back.
        if !varied.is_empty() {
            let mut next = 0;
            for order in ["by-request", "by-plugin"] {
                let id = BenchmarkId::new(format!("four-requests/{order}"), &label);
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut took = std::time::Duration::ZERO;
                        for _ in 0..iters {
                            let texts: Vec<&Vec<Segment>> = (0..4)
                                .map(|_| {
                                    next = (next + 1) % varied.len();
                                    &varied[next]
                                })
                                .collect();
                            if order == "by-request" {
                                for text in &texts {
                                    evict_caches(&mut other_work);
                                    let started = std::time::Instant::now();
                                    for (_, plugin) in &builtins {
                                        black_box(plugin.check(&ctx, text).unwrap());
                                    }
                                    took += started.elapsed();
                                }
                            } else {
                                for _ in &texts {
                                    evict_caches(&mut other_work);
                                }
                                let started = std::time::Instant::now();
                                for (_, plugin) in &builtins {
                                    for text in &texts {
                                        black_box(plugin.check(&ctx, text).unwrap());
                                    }
                                }
                                took += started.elapsed();
                            }
                        }
                        took
                    })
                });
            }
        }
        for (name, plugin) in &builtins {
            let id = BenchmarkId::new(format!("{name}/warm"), &label);
            group.bench_with_input(id, &segs, |b, segs| {
                b.iter(|| black_box(plugin.check(&ctx, segs).unwrap()))
            });
            // The call as the gateway makes it: the request's own work has
            // pushed the plugin's code, tables and buffers out of the core's
            // caches since its last call.
            if size == 32 << 10 {
                let id = BenchmarkId::new(format!("{name}/cold"), &label);
                bench_cold(&mut group, id, plugin, &ctx, &segs, &mut other_work);
            }
            if !varied.is_empty() {
                let id = BenchmarkId::new(format!("{name}/varied"), &label);
                let mut next = 0;
                group.bench_function(id, |b| {
                    b.iter(|| {
                        next = (next + 1) % varied.len();
                        black_box(plugin.check(&ctx, &varied[next]).unwrap())
                    })
                });
            }
            // An answer: the plugin also says how much of it is settled.
            if size < 1 << 10 {
                let id = BenchmarkId::new(format!("{name}/warm-response"), &label);
                group.bench_with_input(id, &segs, |b, segs| {
                    b.iter(|| black_box(plugin.check(&response_ctx, segs).unwrap()))
                });
                // As in the gateway, where the upstream's exchange and the
                // request's other work run between the two checks.
                let id = BenchmarkId::new(format!("{name}/response-cold"), &label);
                bench_cold(
                    &mut group,
                    id,
                    plugin,
                    &response_ctx,
                    &segs,
                    &mut other_work,
                );
                // As in the gateway, where the same instance checked the
                // request (32 KB, not timed) just before the answer.
                let id = BenchmarkId::new(format!("{name}/response-after-request"), &label);
                group.bench_with_input(id, &segs, |b, segs| {
                    b.iter_batched(
                        || black_box(plugin.check(&ctx, &request_32k).unwrap()),
                        |_| black_box(plugin.check(&response_ctx, segs).unwrap()),
                        BatchSize::PerIteration,
                    )
                });
            }
        }
    }
    group.finish();
}

/// How many different texts the `varied` cases go through, one per call.
const VARIED_TEXTS: u64 = 16;

/// More than a core's L1 and L2 caches together (1 MiB of L2 on the machine
/// of docs/benchmarks.md), less than its L3.
const EVICT_BYTES: usize = 4 << 20;

/// `plugin.check(ctx, segs)` with the core's caches flushed before each call
/// (not timed): `other_work` is written through first.
fn bench_cold(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    plugin: &Plugin,
    ctx: &Context,
    segs: &[Segment],
    other_work: &mut [u8],
) {
    group.bench_function(id, |b| {
        b.iter_batched(
            || evict_caches(other_work),
            |()| black_box(plugin.check(ctx, segs).unwrap()),
            BatchSize::PerIteration,
        )
    });
}

/// Writes a byte in every cache line of `buffer`, so that what a plugin call
/// left in the core's L1 and L2 caches is gone before the next one.
fn evict_caches(buffer: &mut [u8]) {
    for line in buffer.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    black_box(&buffer[0]);
}

fn bench_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::open(dir.path()).unwrap();
    let cached = Sandbox::new(Some(cache)).unwrap();
    let uncached = Sandbox::new(None).unwrap();
    let pii = builtin::find("pii").unwrap();
    let source = PluginSource::Builtin {
        name: pii.name,
        bytes: pii.bytes,
    };
    cached.compile(&source).unwrap(); // warm the cache

    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("pii/precompiled", |b| {
        b.iter(|| black_box(cached.compile(&source).unwrap()))
    });
    group.bench_function("pii/compile", |b| {
        b.iter(|| black_box(uncached.compile(&source).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench_calls, bench_load);
criterion_main!(benches);
