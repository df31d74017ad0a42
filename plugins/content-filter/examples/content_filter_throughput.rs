//! Native throughput of the content filter on ordinary text: not a benchmark
//! with statistics, a quick check.
//!
//! ```sh
//! cargo run --release -p sluice-plugin-content-filter --example content_filter_throughput
//! ```
//!
//! Scans about 1 MB of coding-agent-like English and code with no bad words
//! (and once more with a few), prints MB/s for the whole check and for its
//! stages, the configure time and the size of the automaton. The best of 30
//! runs is reported. `CF_SETTINGS='{"categories": {...}}'` configures the
//! plugin with other settings than the defaults.

use sluice_plugin_content_filter::ContentFilter;
use sluice_plugin_content_filter::category::Category;
use sluice_plugin_content_filter::hidden;
use sluice_plugin_content_filter::matcher::{Builder, Target};
use sluice_plugin_content_filter::normalise::{Normalised, normalise, normalise_bytes};
use sluice_plugin_content_filter::terms::BuiltinLists;
use sluice_plugin_sdk::{Context, Guardrail, Segment, Settings};
use std::hint::black_box;
use std::time::Instant;

const SAMPLE: &str = r#"The build failed because `cargo test` could not find the fixture file.
I ran `kill -9 4242` to stop the stuck process, then restarted the worker pool.
fn analyse(class: &Class) -> Result<Analysis, Error> { assert_eq!(class.skills.len(), 3); Ok(Analysis::default()) }
2024-05-01T12:00:03Z INFO scheduler: job 1834 finished in 2.31s (exit status 0), 17 tasks executed
Traceback (most recent call last):
  File "/srv/app/models.py", line 88, in execute
    raise ValueError("cocktail of options is invalid")
{"id": 42, "name": "Essex therapist", "tags": ["assessment", "document"], "score": 0.93}
Please refactor the parser so that it handles UTF-8 input; résumé and naïve should round-trip.
git commit --amend --no-edit && git push --force-with-lease origin main
The master branch was renamed; update the whitelist in config.yaml and abort the migration.
"#;

/// The text of the sandbox benchmark (`host/benches/sandbox.rs`): code, a
/// compiler error, a log line and JSON, with no word of the lists.
const AGENT: &str = r#"fn handle(req: Request) -> Result<Response, Error> {
    let user = db.find_user(req.user_id).await?; // see issue #4411
    tracing::info!(elapsed_ms = 12, "loaded {} rows", rows.len());
error[E0382]: borrow of moved value: `config` at src/main.rs:88:17
The test `routing::fallback_on_503` failed: expected 200, got 503 after 3 retries.
{"model":"gpt-4o","temperature":0.2,"max_tokens":1024,"stream":true}
"#;

fn main() {
    let t = Instant::now();
    let filter = ContentFilter::configure(&Settings::new(
        std::env::var("CF_SETTINGS").unwrap_or("{}".into()),
    ))
    .expect("valid settings");
    let configure = t.elapsed();

    let text = about_a_megabyte(SAMPLE);
    let ctx = Context::request("@test/model");
    let clean = [Segment::user(text.clone())];
    let dirty = [Segment::user(
        text.replace("worker pool", "fucking worker pool"),
    )];
    let agent = [Segment::user(about_a_megabyte(AGENT))];

    for (name, segments) in [
        ("clean", &clean),
        ("with matches", &dirty),
        ("bench text", &agent),
    ] {
        let verdict = filter.check(&ctx, segments);
        let secs = best_of(30, || {
            black_box(filter.check(&ctx, black_box(segments)));
        });
        let mb = segments[0].text.len() as f64 / 1e6;
        println!(
            "{name:>12}: {:.1} MB in {:.2} ms = {:.0} MB/s ({} findings)",
            mb,
            secs * 1e3,
            mb / secs,
            verdict.findings.len()
        );
    }
    // The stages on their own, on each clean text.
    let lists = BuiltinLists::load().expect("lists");
    let mut builder = Builder::default();
    for category in Category::WORDS {
        for term in lists.of(category) {
            builder.add(Target::Category(category), term).expect("term");
        }
    }
    let matcher = builder.build().expect("automaton");
    for (name, segments) in [("clean", &clean), ("bench text", &agent)] {
        let text = &segments[0].text;
        let mbs = |secs: f64| text.len() as f64 / 1e6 / secs;
        println!("{name}:");
        let mut normalised = Normalised::default();
        let secs = best_of(30, || normalise(black_box(text), &mut normalised));
        println!("   normalise: {:.0} MB/s (with the offset map)", mbs(secs));
        let secs = best_of(30, || normalise_bytes(black_box(text), &mut normalised));
        println!("   normalise: {:.0} MB/s (bytes only)", mbs(secs));
        let mut spans = Vec::new();
        let secs = best_of(30, || {
            spans.clear();
            hidden::find(black_box(text), &mut spans);
        });
        println!(" hidden text: {:.0} MB/s", mbs(secs));
        normalise_bytes(text, &mut normalised);
        let mut candidates = Vec::new();
        let secs = best_of(30, || {
            candidates.clear();
            matcher.candidates(black_box(normalised.bytes()), &mut candidates);
        });
        println!("     matcher: {:.0} MB/s", mbs(secs));
    }

    println!(
        "   configure: {:.1} ms, {} patterns, automaton {} KiB, lists version {}",
        configure.as_secs_f64() * 1e3,
        filter.patterns(),
        filter.automaton_memory() >> 10,
        filter.lists_version()
    );
}

/// `sample` repeated to about 1 MB.
fn about_a_megabyte(sample: &str) -> String {
    let mut text = String::new();
    while text.len() < 1 << 20 {
        text.push_str(sample);
    }
    text
}

/// The shortest of `rounds` runs of `f`, in seconds: the machine this runs on
/// is shared, and the minimum is the least noisy estimate.
fn best_of(rounds: usize, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
