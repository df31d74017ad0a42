//! Writes `src/common_trigrams.bin`, the table of the trigrams most common in
//! code and prose by which the keyword pass files each keyword under its
//! rarest trigram (see `src/keywords.rs`).
//!
//! ```sh
//! # the corpus the committed table was made from (Debian 12 paths):
//! find /usr/lib/python3.11 -name '*.py' -not -path '*/test/*' -not -path '*/tests/*' > corpus.txt
//! for c in tokio-1.54.1 hyper-1.12.0 serde-1.0.229 serde_json-1.0.154 regex-1.13.2 axum-0.8.9 clap-4.6.7; do
//!     find ~/.cargo/registry/src/*/$c \( -name '*.rs' -o -name '*.md' \)
//! done >> corpus.txt
//! cargo run --release -p sluice-plugin-secrets --example common_trigrams -- corpus.txt
//! ```
//!
//! The argument is a file that lists the corpus, one path a line (19 MB for
//! the committed table: CPython's standard library without its tests, and the
//! sources and docs of seven Rust crates). Nothing of sluice is in it, so
//! that its word lists and benchmark texts do not decide what counts as
//! common. Bytes are folded with `| 0x20`, as the keyword pass folds them.

use std::collections::HashMap;

/// How many trigrams the table keeps: on held-out code (three other crates,
/// sluice's host, CPython's tests) the keywords' chosen trigrams occur about
/// as rarely with 4,096 as with 16,384, and four times as rarely as when they
/// were chosen by their bytes alone.
const KEPT: usize = 4096;

fn main() {
    let list = std::env::args()
        .nth(1)
        .expect("usage: common_trigrams <file listing the corpus, one path a line>");
    let paths = std::fs::read_to_string(&list).expect("the list of corpus files");
    let mut counts: HashMap<u32, u64> = HashMap::new();
    let mut bytes = 0;
    for path in paths.lines().filter(|p| !p.is_empty()) {
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        bytes += text.len();
        for w in text.windows(3) {
            let trigram = u32::from_le_bytes([w[0] | 0x20, w[1] | 0x20, w[2] | 0x20, 0]);
            *counts.entry(trigram).or_default() += 1;
        }
    }
    let mut ranked: Vec<(u64, u32)> = counts.into_iter().map(|(t, n)| (n, t)).collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    ranked.truncate(KEPT);
    // Each entry: the trigram in the low 24 bits, ten times the log2 of its
    // count in the top 8; sorted by trigram for a binary search.
    let mut table: Vec<u32> = ranked
        .iter()
        .map(|&(n, t)| t | (((n as f64).log2() * 10.0).min(255.0) as u32) << 24)
        .collect();
    table.sort_unstable_by_key(|e| e & 0x00ff_ffff);
    let out: Vec<u8> = table.iter().flat_map(|e| e.to_le_bytes()).collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/common_trigrams.bin");
    std::fs::write(path, out).expect("write the table");
    println!(
        "{} trigrams from {} files, {:.1} MB, written to {path}",
        table.len(),
        paths.lines().count(),
        bytes as f64 / 1e6
    );
}
