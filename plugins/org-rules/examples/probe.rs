//! scratch probe (not committed)
use regex::{Regex, RegexSet};
use std::hint::black_box;
use std::time::Instant;

fn agent_text(len: usize) -> String {
    let lines = [
        "fn handle(req: Request) -> Result<Response, Error> {",
        "    let user = db.find_user(req.user_id).await?; // see issue #4411",
        "    tracing::info!(elapsed_ms = 12, \"loaded {} rows\", rows.len());",
        "error[E0382]: borrow of moved value: `config` at src/main.rs:88:17",
        "The test `routing::fallback_on_503` failed: expected 200, got 503 after 3 retries.",
        "{\"model\":\"gpt-4o\",\"temperature\":0.2,\"max_tokens\":1024,\"stream\":true}",
    ];
    let mut text = String::with_capacity(len + 100);
    let mut i = 0;
    while text.len() < len {
        text.push_str(lines[i % lines.len()]);
        text.push('\n');
        i += 1;
    }
    text.truncate(len);
    text
}

fn main() {
    let sources = [
        r"(?i)(?:\bProject\s+Falcon\b)|(?:\bOsprey\b)|(?:猎鹰计划)",
        r"(?:GNU (Affero |Lesser )?General Public License)",
        r"(?:\bINC-\d{4,}\b)",
    ];
    let set = RegexSet::new(sources).unwrap();
    let set2 = RegexSet::new(&sources[1..]).unwrap();
    let regexes: Vec<Regex> = sources.iter().map(|s| Regex::new(s).unwrap()).collect();
    for size in [32 << 10, 1 << 20] {
        let text = agent_text(size);
        let mb = text.len() as f64 / 1e6;
        for _ in 0..2 {
            let secs = best_of(50, || {
                black_box(set.matches(black_box(&text)));
            });
            println!("{size} set.matches: {:.0} MB/s", mb / secs);
            let secs = best_of(50, || {
                black_box(set2.matches(black_box(&text)));
            });
            println!("{size} set2.matches: {:.0} MB/s", mb / secs);
            for (s, r) in sources.iter().zip(&regexes) {
                let secs = best_of(50, || {
                    black_box(r.is_match(black_box(&text)));
                });
                println!("{size} is_match {s}: {:.0} MB/s", mb / secs);
            }
        }
    }
}

fn best_of(rounds: usize, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
