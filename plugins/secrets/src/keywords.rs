//! The keyword pass: every occurrence of every rule keyword in a text, ASCII
//! case-insensitively, in one pass over a small table instead of a large automaton.
//!
//! Each keyword is represented by one of its three-byte pieces (a *trigram*), the
//! one least common in code and prose: the rarest by [`COMMON_TRIGRAMS`], the
//! counts of the 4,096 commonest trigrams of a corpus that has nothing of sluice
//! in it (`erc` rather than `ver` in `vercel`, `swo` rather than `wor` in
//! `password`), and among those it does not list, the one made of the rarest
//! bytes. The pass reads the text eight bytes at a time, hashes the six trigrams
//! that start in those bytes, and looks each hash up in a table of 65,536 flags
//! (64 KB) that marks the keywords' trigrams. Only when one is marked does it look
//! at the keywords filed under that hash and compare each with the text where it
//! would begin. On code the corpus does not hold (three other crates, sluice's
//! host, CPython's tests) about one position in a hundred is marked (one in
//! twenty-five when keywords were filed by their bytes alone, each a comparison
//! and a branch no predictor learns); an Aho-Corasick DFA
//! over the same 450 keywords (what this replaced) takes more than a megabyte and
//! misses the cache on most bytes. A byte per flag rather than a bit costs more
//! memory but fewer instructions per position, which is what counts in
//! WebAssembly (see docs/benchmarks.md).
//!
//! A flag is a tag of the one trigram filed under its hash (seven bits of
//! another hash of it), so that a trigram that only shares the hash is turned
//! away without reading the keywords filed there (on the benchmark's texts 43%
//! of the marked positions were such collisions); a hash with several
//! trigrams filed under it has a flag that lets every trigram through.
//!
//! Bytes are folded with `| 0x20` before hashing, which maps `A`..`Z` to `a`..`z`
//! (and a few other bytes onto each other: `_` onto DEL, `\n` onto `*`); folding
//! is the same function for the keyword and the text, so a keyword's trigram
//! always hits, and what folding confuses the comparison sorts out. Keywords of
//! one or two bytes are filed under every trigram they can begin.

/// The 4,096 commonest trigrams of CPython's standard library and the sources and
/// docs of seven Rust crates, folded with `| 0x20`: per trigram a little-endian
/// `u32`, the trigram in the low 24 bits and ten times the log2 of its count in
/// the top 8, sorted by trigram. Made by `examples/common_trigrams.rs`, which
/// lists the corpus.
static COMMON_TRIGRAMS: &[u8; 4 * 4096] = include_bytes!("common_trigrams.bin");

/// How common the folded trigram `trigram` is, by [`COMMON_TRIGRAMS`]: 0 when it
/// is not listed (rarer than every one listed).
fn trigram_commonness(trigram: u32) -> u8 {
    let (entries, _) = COMMON_TRIGRAMS.as_chunks::<4>();
    let entry = |bytes: &[u8; 4]| u32::from_le_bytes(*bytes);
    match entries.binary_search_by_key(&trigram, |e| entry(e) & 0x00ff_ffff) {
        Ok(i) => (entry(&entries[i]) >> 24).max(1) as u8,
        Err(_) => 0,
    }
}

/// How common each (folded) ASCII byte is in code, logs and prose, log-scaled to
/// 0..=255: byte frequencies of the repository's Rust sources, docs and eval
/// corpus, folded with `| 0x20`. Only the order matters: between trigrams that
/// [`COMMON_TRIGRAMS`] does not tell apart, it picks the one of rarer bytes.
const COMMONNESS: [u8; 128] = [
    223, 135, 174, 127, 92, 79, 139, 147, 169, 170, 186, 134, 171, 167, 178, 168, //
    172, 171, 170, 164, 165, 164, 162, 160, 160, 161, 178, 151, 131, 158, 143, 119, //
    223, 135, 174, 127, 92, 79, 139, 147, 169, 170, 186, 134, 171, 167, 178, 168, //
    172, 171, 170, 164, 165, 164, 162, 160, 160, 161, 178, 151, 131, 158, 143, 119, //
    163, 196, 171, 186, 185, 205, 175, 174, 178, 192, 152, 168, 185, 179, 193, 193, //
    181, 153, 194, 196, 199, 182, 164, 165, 161, 169, 149, 158, 150, 158, 89, 169, //
    163, 196, 171, 186, 185, 205, 175, 174, 178, 192, 152, 168, 185, 179, 193, 193, //
    181, 153, 194, 196, 199, 182, 164, 165, 161, 169, 149, 158, 150, 158, 89, 169, //
];

/// The commonness of a byte outside ASCII (UTF-8 lead and continuation bytes).
const NON_ASCII_COMMONNESS: u8 = 100;

/// log2 of the number of flags in the trigram table.
const HASH_BITS: u32 = 16;

/// Folds every byte of `word` the way the pass folds text.
const FOLD: u64 = 0x2020_2020_2020_2020;

/// One keyword found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    /// Where it begins (a byte offset).
    pub start: usize,
    /// Where it ends.
    pub end: usize,
    /// Its index in the list the index was built from.
    pub keyword: u32,
}

/// A keyword filed under a trigram: its index, and the trigram's offset in it.
#[derive(Debug, Clone, Copy)]
struct Filed {
    keyword: u32,
    offset: u32,
}

/// Keywords, ready to be found in texts.
#[derive(Debug)]
pub struct Keywords {
    /// The keywords, lowercased.
    words: Vec<Box<[u8]>>,
    /// `marked[h]` is 0 when no keyword is filed under trigram hash `h`; else
    /// the [`tag`] of the one trigram filed there, or [`ANY_TRIGRAM`] when
    /// several are.
    marked: Box<[u8; 1 << HASH_BITS]>,
    /// `filed[bucket_starts[h]..bucket_starts[h + 1]]`: the keywords under hash `h`.
    bucket_starts: Vec<u32>,
    filed: Vec<Filed>,
}

fn commonness(byte: u8) -> u32 {
    u32::from(
        COMMONNESS
            .get(usize::from(byte | 0x20))
            .copied()
            .unwrap_or(NON_ASCII_COMMONNESS),
    )
}

/// The hash of a folded trigram (its three bytes in the low 24 bits).
#[inline(always)]
fn hash(trigram: u32) -> usize {
    (trigram.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// The tag of a folded trigram in the table: seven bits of a second hash, so
/// 1 to 128, never 0 (unmarked) nor [`ANY_TRIGRAM`].
#[inline(always)]
fn tag(trigram: u32) -> u8 {
    (trigram.wrapping_mul(0x2545_F491) >> 25) as u8 + 1
}

/// The flag of a hash with several trigrams filed under it: compare always.
const ANY_TRIGRAM: u8 = 0xFF;

/// Whether a trigram of the text, whose hash has `flag` in the table, may be
/// one filed under that hash.
#[inline(always)]
fn may_be_filed(flag: u8, trigram: u32) -> bool {
    flag != 0 && (flag == ANY_TRIGRAM || flag == tag(trigram))
}

fn trigram(a: u8, b: u8, c: u8) -> u32 {
    u32::from_le_bytes([a | 0x20, b | 0x20, c | 0x20, 0])
}

/// Every value a byte can fold to.
fn folded_bytes() -> impl Iterator<Item = u8> + Clone {
    (0..=255u8).filter(|b| b & 0x20 != 0)
}

impl Keywords {
    /// Indexes `words` (matched ASCII case-insensitively; empty words are never found).
    pub fn new<S: AsRef<str>>(words: &[S]) -> Self {
        let words: Vec<Box<[u8]>> = words
            .iter()
            .map(|w| {
                w.as_ref()
                    .as_bytes()
                    .to_ascii_lowercase()
                    .into_boxed_slice()
            })
            .collect();
        let mut buckets: Vec<Vec<Filed>> = vec![Vec::new(); 1 << HASH_BITS];
        // The flag of each hash: the tag of its one trigram, or `ANY_TRIGRAM`.
        let mut flags = vec![0u8; 1 << HASH_BITS];
        for (index, word) in words.iter().enumerate() {
            let keyword = index as u32;
            let mut file = |trigram: u32, offset: usize| {
                let h = hash(trigram);
                flags[h] = match flags[h] {
                    0 => tag(trigram),
                    flag if flag == tag(trigram) => flag,
                    _ => ANY_TRIGRAM,
                };
                let bucket = &mut buckets[h];
                let filed = Filed {
                    keyword,
                    offset: offset as u32,
                };
                if !bucket
                    .iter()
                    .any(|f| f.keyword == keyword && f.offset == filed.offset)
                {
                    bucket.push(filed);
                }
            };
            match **word {
                [] => {}
                [a] => {
                    for b in folded_bytes() {
                        for c in folded_bytes() {
                            file(trigram(a, b, c), 0);
                        }
                    }
                }
                [a, b] => {
                    for c in folded_bytes() {
                        file(trigram(a, b, c), 0);
                    }
                }
                _ => {
                    let offset = (0..=word.len() - 3)
                        .min_by_key(|&k| {
                            let piece = &word[k..k + 3];
                            (
                                trigram_commonness(trigram(piece[0], piece[1], piece[2])),
                                piece.iter().map(|&b| commonness(b)).sum::<u32>(),
                            )
                        })
                        .expect("a word of three bytes or more has a trigram");
                    file(
                        trigram(word[offset], word[offset + 1], word[offset + 2]),
                        offset,
                    );
                }
            }
        }
        let marked: Box<[u8; 1 << HASH_BITS]> = flags
            .into_boxed_slice()
            .try_into()
            .expect("the table has 1 << HASH_BITS flags");
        let mut bucket_starts = Vec::with_capacity(buckets.len() + 1);
        let mut filed = Vec::new();
        for bucket in &buckets {
            bucket_starts.push(filed.len() as u32);
            filed.extend_from_slice(bucket);
        }
        bucket_starts.push(filed.len() as u32);
        Keywords {
            words,
            marked,
            bucket_starts,
            filed,
        }
    }

    /// Every occurrence of every keyword in `text`, overlapping ones included, in
    /// order of start, then end (`out` is cleared first).
    pub fn find(&self, text: &[u8], out: &mut Vec<Occurrence>) {
        out.clear();
        let len = text.len();
        let mut at = 0;
        // Six trigrams start in each eight bytes read.
        while at + 8 <= len {
            let word = u64::from_le_bytes(text[at..at + 8].try_into().expect("eight bytes")) | FOLD;
            let mut any = 0;
            for shift in 0..6 {
                any |= self.marked[hash((word >> (8 * shift)) as u32 & 0x00ff_ffff)];
            }
            if any != 0 {
                for shift in 0..6 {
                    let trigram = (word >> (8 * shift)) as u32 & 0x00ff_ffff;
                    let h = hash(trigram);
                    if may_be_filed(self.marked[h], trigram) {
                        self.compare(text, at + shift, h, out);
                    }
                }
            }
            at += 6;
        }
        // The last trigrams, padded past the end of the text with bytes that fold
        // to spaces: keywords of one or two bytes may still begin there.
        for position in at..len {
            let byte = |i: usize| text.get(i).copied().unwrap_or(0);
            let trigram = trigram(byte(position), byte(position + 1), byte(position + 2));
            let h = hash(trigram);
            if may_be_filed(self.marked[h], trigram) {
                self.compare(text, position, h, out);
            }
        }
        if out.len() > 1 {
            out.sort_unstable();
        }
    }

    /// Compares the keywords filed under hash `h` with the text, for a trigram
    /// found at `position`.
    #[inline(never)]
    fn compare(&self, text: &[u8], position: usize, h: usize, out: &mut Vec<Occurrence>) {
        let filed = &self.filed[self.bucket_starts[h] as usize..self.bucket_starts[h + 1] as usize];
        for f in filed {
            let Some(start) = position.checked_sub(f.offset as usize) else {
                continue;
            };
            let keyword = &self.words[f.keyword as usize];
            let end = start + keyword.len();
            if text
                .get(start..end)
                .is_some_and(|found| found.eq_ignore_ascii_case(keyword))
            {
                out.push(Occurrence {
                    start,
                    end,
                    keyword: f.keyword,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence, by comparing each keyword at each position.
    fn naive(words: &[&str], text: &[u8]) -> Vec<Occurrence> {
        let mut out = Vec::new();
        for start in 0..text.len() {
            for (index, word) in words.iter().enumerate() {
                let end = start + word.len();
                if !word.is_empty()
                    && text
                        .get(start..end)
                        .is_some_and(|t| t.eq_ignore_ascii_case(word.as_bytes()))
                {
                    out.push(Occurrence {
                        start,
                        end,
                        keyword: index as u32,
                    });
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn found(words: &[&str], text: &str) -> Vec<Occurrence> {
        let mut out = Vec::new();
        Keywords::new(words).find(text.as_bytes(), &mut out);
        out
    }

    /// The trigram `word` is filed under.
    fn filed_under(word: &str) -> &str {
        let keywords = Keywords::new(&[word]);
        let offset = keywords.filed[0].offset as usize;
        &word[offset..offset + 3]
    }

    #[test]
    fn keywords_are_filed_under_their_rarest_trigram() {
        let entries: Vec<u32> = COMMON_TRIGRAMS
            .as_chunks::<4>()
            .0
            .iter()
            .map(|e| u32::from_le_bytes(*e) & 0x00ff_ffff)
            .collect();
        assert!(
            entries.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        assert!(
            trigram_commonness(trigram(b't', b'h', b'e'))
                > trigram_commonness(trigram(b'v', b'e', b'r'))
        );
        assert_eq!(trigram_commonness(trigram(b'q', b'x', b'z')), 0);
        // By the corpus's counts of trigrams
        assert_eq!(filed_under("vercel"), "erc");
        assert_eq!(filed_under("password"), "swo");
        assert_eq!(filed_under("PassWord"), "sWo");
        assert_eq!(filed_under("sentry"), "ntr");
    }

    #[test]
    fn finds_overlapping_keywords_in_any_case() {
        let words = ["token", "session_token", "secret", "_to"];
        let text = "SESSION_TOKEN=x; Secret tok; my_token";
        assert_eq!(found(&words, text), naive(&words, text.as_bytes()));
        assert_eq!(found(&words, text).len(), 6);
    }

    #[test]
    fn finds_keywords_at_both_ends_and_short_ones() {
        let words = ["q~", "x", "ab", "abc", "bc"];
        for text in [
            "q~",
            "Q~abc",
            "abcx",
            "x",
            "",
            "ab",
            "zzzzzzzzab",
            "zzzzzzzq~",
            "bc",
        ] {
            assert_eq!(
                found(&words, text),
                naive(&words, text.as_bytes()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn folding_collisions_are_not_matches() {
        // `_` folds onto DEL, `@` onto a backtick, a line feed onto `*`.
        let words = ["a_b", "x@y", "p\nq"];
        let text = "A\u{7f}B x`y p*q";
        assert!(found(&words, text).is_empty());
        assert_eq!(found(&words, "A_B X@Y P\nQ").len(), 3);
    }

    #[test]
    fn non_ascii_keywords_and_text() {
        let words = ["passwort", "schlüssel", "ключ"];
        let text = "Passwort: … der Schlüssel, КЛЮЧ и ключ";
        assert_eq!(found(&words, text), naive(&words, text.as_bytes()));
        assert_eq!(found(&words, text).len(), 3);
    }

    #[test]
    fn agrees_with_comparing_everywhere_on_pseudo_random_text() {
        let words = [
            "ghp_", "sk-", "token", "password", "://", "q~", "eyj", "api_key", "key", "s", "xoxb-",
        ];
        let alphabet = b"abcdeghijkopqrstuwxyzKEYTOPSW_-:/~ \n0123456789";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            let len = round * 7 % 300;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let mut out = Vec::new();
            Keywords::new(&words).find(&text, &mut out);
            assert_eq!(out, naive(&words, &text), "round {round}");
        }
    }
}
