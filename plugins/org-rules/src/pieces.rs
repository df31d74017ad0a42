//! Every prefilter's pieces looked for in one pass over a text.
//!
//! Each prefiltered rule names pieces one of which any of its matches
//! contains ([`crate::prefilter`]). Looked for one at a time with `memchr`'s
//! substring search, a text was read once per piece, and once more to
//! lowercase it for the rules that ignore case: six times for the three
//! sample rules of the benchmarks. Here one pass reads it sixteen positions at
//! a time, whatever the number of pieces, the way Teddy (the
//! `aho-corasick` crate's SIMD search for a few literals, which has no
//! WebAssembly version) does: the pieces go into eight buckets, and two
//! tables per leading byte say, for each low and each high nibble of a byte,
//! the buckets that have a piece with a byte of that nibble there. A byte
//! shuffle looks the nibbles of sixteen text bytes up at once; a position
//! where the first `width` bytes (up to three; fewer if a piece is shorter)
//! all leave some bucket in is a candidate, and only there are that bucket's
//! pieces compared in full.
//!
//! A piece that ignores case is lowercased ASCII-wise, and is compared with the
//! text lowercased the same way; in the tables its letters stand for both
//! cases (`p` and `P` differ in their high nibble only). A piece found is not
//! compared again, and the pass ends when every piece asked for is found.
//!
//! In WebAssembly the sixteen positions are looked up with SIMD; natively the
//! same tables are read a byte at a time, so that the tests check the pass on
//! every target.
//!
//! The more pieces share a bucket, the more positions its tables let through,
//! each then compared with every piece of the bucket. Past
//! [`MAX_TABLE_PIECES`] pieces (four a bucket) they are looked for with
//! Aho-Corasick automata instead (one for the pieces that ignore ASCII case,
//! one for the others), a pass each, whose cost does not grow with the number
//! of pieces. Measured with rules of invented keywords (docs/benchmarks.md):
//! with 17 or 25 pieces the tables take half the automata's time, with 33
//! or 41 about the same, with 81 six times as long.

use aho_corasick::AhoCorasick;
use std::collections::HashMap;

/// The positions looked at once.
const BLOCK: usize = 16;
/// The buckets of pieces: one bit each in the tables.
const BUCKETS: usize = 8;
/// The most leading bytes of a piece the tables test.
const MAX_WIDTH: usize = 3;
/// The most pieces looked for with the tables: four a bucket.
pub const MAX_TABLE_PIECES: usize = 4 * BUCKETS;

/// The pieces of every prefiltered rule, each once, ready to be looked for
/// ([`PiecesBuilder`] makes it).
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    pieces: Vec<Piece>,
    search: Search,
}

/// How the pieces are looked for.
#[derive(Debug, Clone)]
enum Search {
    /// Nibble tables, sixteen positions at a time.
    Tables(Box<Tables>),
    /// Aho-Corasick automata: the pieces that keep case, and those that
    /// ignore ASCII case, each with the indices of its patterns' pieces.
    Automata(Vec<(AhoCorasick, Vec<usize>)>),
}

impl Default for Search {
    fn default() -> Self {
        Search::Tables(Box::default())
    }
}

/// The tables of the pieces' leading bytes.
#[derive(Debug, Clone, Default)]
struct Tables {
    /// The leading bytes the tables test: the shortest piece's length, at
    /// most [`MAX_WIDTH`].
    width: usize,
    /// For the `k`th leading byte, by low nibble (`low[k]`) and by high
    /// nibble (`high[k]`): the buckets with a piece whose `k`th byte has it.
    low: [[u8; 16]; MAX_WIDTH],
    high: [[u8; 16]; MAX_WIDTH],
    /// The pieces in each bucket.
    buckets: [Vec<usize>; BUCKETS],
}

/// Collects pieces, each once, then makes [`Pieces`].
#[derive(Debug, Default)]
pub struct PiecesBuilder {
    pieces: Vec<Piece>,
    index: HashMap<Piece, usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Piece {
    /// As the text must have it: lowercased ASCII-wise when it ignores case.
    needle: Vec<u8>,
    case_sensitive: bool,
}

impl PiecesBuilder {
    /// Adds `needle` (not empty; lowercased ASCII-wise unless
    /// `case_sensitive`), or finds it among those added; returns its index.
    pub fn add(&mut self, needle: &[u8], case_sensitive: bool) -> usize {
        assert!(!needle.is_empty(), "a piece has at least one byte");
        let piece = Piece {
            needle: needle.to_vec(),
            case_sensitive,
        };
        let next = self.pieces.len();
        *self.index.entry(piece.clone()).or_insert_with(|| {
            self.pieces.push(piece);
            next
        })
    }

    /// The pieces, with tables when there are few enough, else automata.
    pub fn build(self) -> Result<Pieces, String> {
        let tables = self.pieces.len() <= MAX_TABLE_PIECES;
        self.build_with(tables)
    }

    fn build_with(self, tables: bool) -> Result<Pieces, String> {
        let search = if tables {
            Search::Tables(Box::new(Tables::new(&self.pieces)))
        } else {
            let mut automata = Vec::new();
            for case_sensitive in [true, false] {
                let ids: Vec<usize> = (0..self.pieces.len())
                    .filter(|&i| self.pieces[i].case_sensitive == case_sensitive)
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let automaton = AhoCorasick::builder()
                    .ascii_case_insensitive(!case_sensitive)
                    .build(ids.iter().map(|&i| &self.pieces[i].needle))
                    .map_err(|e| format!("rules: too many keywords and prefixes ({e})"))?;
                automata.push((automaton, ids));
            }
            Search::Automata(automata)
        };
        Ok(Pieces {
            pieces: self.pieces,
            search,
        })
    }
}

impl Tables {
    /// The tables and buckets of `pieces`.
    fn new(pieces: &[Piece]) -> Tables {
        let shortest = pieces.iter().map(|p| p.needle.len()).min();
        let mut tables = Tables {
            width: shortest.unwrap_or(0).min(MAX_WIDTH),
            ..Tables::default()
        };
        for (i, piece) in pieces.iter().enumerate() {
            let bucket = i % BUCKETS;
            tables.buckets[bucket].push(i);
            for k in 0..tables.width {
                for b in piece.spellings(k) {
                    tables.low[k][usize::from(b & 15)] |= 1 << bucket;
                    tables.high[k][usize::from(b >> 4)] |= 1 << bucket;
                }
            }
        }
        tables
    }
}

impl Pieces {
    /// Which of the pieces `wanted` (by index) occur in `text`: `found[i]`
    /// for piece `i` (false for those not wanted).
    pub fn find(&self, text: &[u8], wanted: &[usize]) -> Vec<bool> {
        let mut found = vec![false; self.pieces.len()];
        let mut looking = vec![false; self.pieces.len()];
        for &i in wanted {
            looking[i] = true;
        }
        let mut left = looking.iter().filter(|&&l| l).count();
        match &self.search {
            Search::Tables(tables) => {
                tables.find(&self.pieces, text, &mut looking, &mut found, &mut left);
            }
            Search::Automata(automata) => {
                for (automaton, ids) in automata {
                    if !ids.iter().any(|&i| looking[i]) {
                        continue;
                    }
                    for m in automaton.find_overlapping_iter(text) {
                        let i = ids[m.pattern().as_usize()];
                        if looking[i] {
                            looking[i] = false;
                            found[i] = true;
                            left -= 1;
                            if left == 0 {
                                return found;
                            }
                        }
                    }
                }
            }
        }
        found
    }
}

impl Tables {
    /// Looks for the pieces still `looking`, marking those `found`; `left`
    /// counts those still looked for.
    fn find(
        &self,
        pieces: &[Piece],
        text: &[u8],
        looking: &mut [bool],
        found: &mut [bool],
        left: &mut usize,
    ) {
        // Compares the pieces of `buckets` that are still looked for at `at`.
        let mut compare = |buckets: u8, at: usize, left: &mut usize| {
            for bucket in (0..BUCKETS).filter(|b| buckets & (1 << b) != 0) {
                for &i in &self.buckets[bucket] {
                    if looking[i] && pieces[i].is_at(text, at) {
                        looking[i] = false;
                        found[i] = true;
                        *left -= 1;
                    }
                }
            }
        };
        let mut at = 0;
        // A block reads sixteen bytes from each of its first `width` positions.
        while *left > 0 && at + BLOCK + self.width <= text.len() + 1 {
            let (mut candidates, buckets) = self.block(text, at);
            while candidates != 0 && *left > 0 {
                let lane = candidates.trailing_zeros() as usize;
                compare(buckets[lane], at + lane, left);
                candidates &= candidates - 1;
            }
            at += BLOCK;
        }
        // The last positions, too near the end for a block, one at a time.
        while *left > 0 && at < text.len() {
            compare(u8::MAX, at, left);
            at += 1;
        }
    }

    /// The positions `at..at + 16` whose leading bytes leave some bucket in,
    /// bit `i` for `at + i`, and the buckets left at each. The text has
    /// `width - 1` bytes after them.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline]
    fn block(&self, text: &[u8], at: usize) -> (u16, [u8; BLOCK]) {
        use core::arch::wasm32::*;
        #[allow(unsafe_code)]
        // SAFETY: each pointer is to sixteen readable bytes (the slices'
        // lengths are checked); `v128.load` and `v128.store` have no alignment
        // requirement.
        let load = |bytes: &[u8]| unsafe { v128_load(bytes[..BLOCK].as_ptr().cast()) };
        let nibble = u8x16_splat(0x0F);
        let mut buckets = u8x16_splat(0xFF);
        for k in 0..self.width {
            let x = load(&text[at + k..]);
            let low = u8x16_swizzle(load(&self.low[k]), v128_and(x, nibble));
            let high = u8x16_swizzle(load(&self.high[k]), u8x16_shr(x, 4));
            buckets = v128_and(buckets, v128_and(low, high));
        }
        if !v128_any_true(buckets) {
            return (0, [0; BLOCK]);
        }
        let mut lanes = [0; BLOCK];
        #[allow(unsafe_code)]
        // SAFETY: `lanes` has sixteen writable bytes.
        unsafe {
            v128_store(lanes.as_mut_ptr().cast(), buckets);
        }
        let empty = u8x16_bitmask(u8x16_eq(buckets, u8x16_splat(0)));
        (!empty, lanes)
    }

    /// The positions `at..at + 16` whose leading bytes leave some bucket in,
    /// and the buckets left at each: the same tables, a byte at a time.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    #[inline]
    fn block(&self, text: &[u8], at: usize) -> (u16, [u8; BLOCK]) {
        let lanes: [u8; BLOCK] = std::array::from_fn(|i| {
            (0..self.width).fold(u8::MAX, |buckets, k| {
                let b = text[at + i + k];
                buckets & self.low[k][usize::from(b & 15)] & self.high[k][usize::from(b >> 4)]
            })
        });
        let candidates = (0..BLOCK).fold(0, |mask, i| mask | u16::from(lanes[i] != 0) << i);
        (candidates, lanes)
    }
}

impl Piece {
    /// The bytes the text may have where the piece has its `k`th: both cases
    /// of a letter when the piece ignores case, else the byte itself.
    fn spellings(&self, k: usize) -> impl Iterator<Item = u8> {
        let b = self.needle[k];
        let other = (!self.case_sensitive && b.is_ascii_lowercase()).then_some(b ^ 0x20);
        std::iter::once(b).chain(other)
    }

    /// Whether the piece is in `text` at `at`.
    fn is_at(&self, text: &[u8], at: usize) -> bool {
        let Some(there) = text.get(at..at + self.needle.len()) else {
            return false;
        };
        if self.case_sensitive {
            there == self.needle
        } else {
            there
                .iter()
                .zip(&self.needle)
                .all(|(t, &n)| t.to_ascii_lowercase() == n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the pass must say: each piece searched on its own by `memchr`, in
    /// the text or in the text lowercased ASCII-wise.
    fn one_by_one(pieces: &[(&str, bool)], text: &str) -> Vec<bool> {
        let lowercase = text.to_ascii_lowercase();
        pieces
            .iter()
            .map(|&(needle, case_sensitive)| {
                let haystack = if case_sensitive { text } else { &lowercase };
                memchr::memmem::find(haystack.as_bytes(), needle.as_bytes()).is_some()
            })
            .collect()
    }

    /// The pieces, with tables or with automata.
    fn set_of(pieces: &[(&str, bool)], tables: bool) -> Pieces {
        let mut set = PiecesBuilder::default();
        for (i, &(needle, case_sensitive)) in pieces.iter().enumerate() {
            assert_eq!(set.add(needle.as_bytes(), case_sensitive), i);
        }
        set.build_with(tables).unwrap()
    }

    fn width_of(set: &Pieces) -> usize {
        match &set.search {
            Search::Tables(tables) => tables.width,
            Search::Automata(_) => 0,
        }
    }

    /// Ten pieces (two buckets share), the ones of the benchmarks' sample
    /// rules among them.
    const PIECES: [(&str, bool); 10] = [
        ("project", false),
        ("prey", false),
        ("猎鹰计划", false),
        ("GNU ", true),
        ("INC-", true),
        ("tra", false),
        ("Q-9", true),
        ("inc-", false),
        ("a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s", false),
        ("Zz\u{e9}", true),
    ];

    #[test]
    fn the_pass_finds_what_each_search_finds() {
        let sets = [set_of(&PIECES, true), set_of(&PIECES, false)];
        assert_eq!(width_of(&sets[0]), 3);
        let all: Vec<usize> = (0..PIECES.len()).collect();
        let bits = [
            "Project",
            "PROJECT",
            "proj",
            "ect",
            "Osprey",
            "PREY",
            "pre",
            "猎鹰计划",
            "猎鹰",
            "GNU ",
            "gnu ",
            "GNU",
            "INC-",
            "inc-",
            "Inc-",
            "TRA",
            "Straße",
            "Q-9",
            "q-9",
            "-",
            " ",
            "\n",
            "é",
            "Zz",
            "ZZÉ",
            "Zzé",
            "A-B-C-D-E-F-G-H-I-J-K-L-M-N-O-P-Q-R-S",
            "a-b-c-d",
        ];
        let seed = 0x2545_f491_4f6c_dd1d;
        for text in sluice_plugin_sdk::testing::texts_from(&bits, 3000, 40, seed) {
            let expected = one_by_one(&PIECES, &text);
            for set in &sets {
                assert_eq!(set.find(text.as_bytes(), &all), expected, "{text:?}");
            }
        }
    }

    /// Each piece, in each case, at every offset of a text of a few blocks:
    /// across the blocks' edges and in the last positions.
    #[test]
    fn a_piece_is_found_wherever_it_is() {
        for width in [1, 2, 3] {
            let mut pieces = PIECES.to_vec();
            let short = ["x", "xy"];
            if width < 3 {
                pieces.push((short[width - 1], false));
            }
            let set = set_of(&pieces, true);
            assert_eq!(width_of(&set), width);
            let plain = "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(2);
            for (i, &(needle, case_sensitive)) in pieces.iter().enumerate() {
                for spelling in [needle.to_string(), needle.to_ascii_uppercase()] {
                    for at in (0..=plain.len()).filter(|&at| plain.is_char_boundary(at)) {
                        let mut text = plain.clone();
                        text.insert_str(at, &spelling);
                        let found = set.find(text.as_bytes(), &[i])[i];
                        let expected = one_by_one(&[(needle, case_sensitive)], &text)[0];
                        assert_eq!(found, expected, "{needle:?} in {text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn only_the_pieces_asked_for_are_looked_for() {
        for tables in [true, false] {
            let set = set_of(&[("alpha", false), ("beta", false)], tables);
            assert_eq!(set.find(b"ALPHA and beta", &[1]), [false, true]);
            assert_eq!(set.find(b"ALPHA and beta", &[]), [false, false]);
            assert_eq!(set.find(b"", &[0, 1]), [false, false]);
        }
        let mut once = PiecesBuilder::default();
        assert_eq!(once.add(b"beta", false), once.add(b"beta", false));
        assert_ne!(once.add(b"beta", true), 0);
    }

    /// Past the tables' limit the builder makes automata, which find the same.
    #[test]
    fn many_pieces_are_looked_for_with_automata() {
        let words: Vec<(String, bool)> = (0..=MAX_TABLE_PIECES)
            .map(|i| (format!("w{i}rd"), i % 3 == 0))
            .collect();
        let pieces: Vec<(&str, bool)> = words.iter().map(|(w, c)| (w.as_str(), *c)).collect();
        let mut builder = PiecesBuilder::default();
        for &(needle, case_sensitive) in &pieces {
            builder.add(needle.as_bytes(), case_sensitive);
        }
        let set = builder.build().unwrap();
        assert!(matches!(set.search, Search::Automata(_)));
        let all: Vec<usize> = (0..pieces.len()).collect();
        let bits = [
            "w1rd", "W2RD", "w3rd", "W3RD", "w12", "rd", " ", "w30rd", "W31Rd",
        ];
        let seed = 0x9e37_79b9_7f4a_7c15;
        for text in sluice_plugin_sdk::testing::texts_from(&bits, 500, 20, seed) {
            assert_eq!(
                set.find(text.as_bytes(), &all),
                one_by_one(&pieces, &text),
                "{text:?}"
            );
        }
    }
}
