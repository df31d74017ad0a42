//! The word matcher: Aho-Corasick automata over every term of every category
//! (one per first byte), run over the normalised text.
//!
//! Each term is normalised ([`crate::normalise`]) into a key, the bytes the
//! automaton looks for, and the run length of each of its letters. A match
//! counts when
//!
//! - it is on **word boundaries**: no letter or digit just before a key that
//!   starts with one, nor just after a key that ends with one (`class`,
//!   `Scunthorpe`, `cocktail`, `skills` hold no word of the lists). Scripts
//!   written without spaces (Chinese, Japanese, Korean, Thai) have no word
//!   boundaries, so their terms match anywhere;
//! - its **repeated letters** fit the term's: equal run lengths, or a run of
//!   three or more in the text (see [`crate::normalise`]);
//! - it is not inside a match of an **allowed term**.
//!
//! Of overlapping matches of one category the longest leftmost wins
//! ("motherfucker" is one finding, not two); matches of different categories
//! may overlap, so that each category's action applies.
//!
//! **Where the automaton runs.** A key that starts on a word boundary starts
//! with a whole word of the text, its *first word* ("i" for "i will kill you",
//! "fucking" for "fucking"). [`Matcher::candidates`] walks the words of the
//! normalised text, looks each one up in a hash set of first words, and runs
//! the automaton, anchored, only where one starts and the four bytes after
//! the word are those of a key that starts with it (or some key is the word
//! with fewer than four bytes after it): "never" starts phrases, but "never
//! decode" starts none, and coding text is full of words such as "if", "new",
//! "you" and "when" that start a phrase of the lists. Keys that start in a
//! script without spaces, or with punctuation, are looked for at every
//! occurrence of their first character. The result is exactly that of an
//! unanchored scan of the whole text (a unit test checks it), but most bytes
//! are read once, hashed, and never walked through the automaton: with
//! thousands of phrases the automaton is a large NFA that costs several
//! nanoseconds a byte, and most words start no term.

use crate::category::Category;
use crate::normalise::{
    self, Normalised, SYMBOL, char_at, is_unspaced, is_word, joins_after, joins_before,
};
use crate::terms;
use crate::words;
use aho_corasick::{
    AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind,
    automaton::OverlappingState,
};
use std::collections::HashMap;
use std::ops::Range;

/// The longest term, in normalised bytes. With the letters of a term written
/// as 4-byte characters (mathematical alphanumerics) its span stays within the
/// plugin's `MAX_MATCH_LEN` of 256 bytes.
pub const MAX_TERM_LEN: usize = 64;

/// What a term is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Reported as this category.
    Category(Category),
    /// Never reported; hides the matches it contains.
    Allow,
}

/// One match, in normalised bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// What the matching term is for.
    pub target: Target,
    /// The span of normalised bytes.
    pub span: Range<usize>,
}

/// A key found on word boundaries, before its run lengths are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// The key's index in the automaton.
    pattern: u32,
    /// Where it starts in the normalised bytes.
    start: u32,
    /// Where it ends in the normalised bytes.
    end: u32,
}

/// One key of the automaton.
#[derive(Debug, Clone)]
struct Pattern {
    /// The key starts with a letter or digit of a spaced script, so needs a
    /// boundary before it.
    bounded_start: bool,
    /// The key ends with a letter or digit of a spaced script, so needs a
    /// boundary after it.
    bounded_end: bool,
    /// The terms with this key: indices into `Matcher::terms`.
    terms: Vec<u32>,
}

/// One term.
#[derive(Debug, Clone)]
struct Term {
    target: Target,
    /// Where the term's run lengths start in `Matcher::runs` (one per key byte).
    runs: u32,
}

/// Collects terms, then builds a [`Matcher`].
#[derive(Debug, Default)]
pub struct Builder {
    keys: HashMap<Vec<u8>, usize>,
    patterns: Vec<Pattern>,
    terms: Vec<Term>,
    runs: Vec<u8>,
    scratch: Normalised,
}

impl Builder {
    /// Adds term template `template` for `target`: every phrase it stands for
    /// ([`terms::expand`]), normalised. The error says what is wrong with it.
    pub fn add(&mut self, target: Target, template: &str) -> Result<(), String> {
        for phrase in terms::expand(template)? {
            self.add_phrase(target, &phrase)?;
        }
        Ok(())
    }

    /// Like [`add`](Self::add), with the masked spellings of single words
    /// ([`terms::masked`]) too.
    pub fn add_masked(&mut self, target: Target, template: &str) -> Result<(), String> {
        for phrase in terms::expand(template)? {
            self.add_phrase(target, &phrase)?;
            for variant in terms::masked(&phrase) {
                self.add_phrase(target, &variant)?;
            }
        }
        Ok(())
    }

    fn add_phrase(&mut self, target: Target, phrase: &str) -> Result<(), String> {
        normalise::normalise(phrase, &mut self.scratch);
        let bytes = self.scratch.bytes();
        // Quotes are dropped, so `' foo'` would leave spaces at the edges.
        let from = bytes.iter().take_while(|&&b| b == b' ').count();
        let to = bytes.len() - bytes.iter().rev().take_while(|&&b| b == b' ').count();
        let key = &bytes[from..to.max(from)];
        if !key.iter().copied().any(is_word) {
            return Err(format!("{phrase:?} has no letters or digits"));
        }
        if key.contains(&SYMBOL) {
            return Err(format!(
                "{phrase:?}: terms are letters, digits, spaces and punctuation, not symbols or emoji"
            ));
        }
        if key.len() > MAX_TERM_LEN {
            return Err(format!(
                "{phrase:?} is longer than {MAX_TERM_LEN} characters"
            ));
        }
        let pattern = match self.keys.get(key) {
            Some(&index) => index,
            None => {
                self.patterns.push(Pattern {
                    bounded_start: joins_after(key, 0),
                    bounded_end: joins_before(key, key.len()),
                    terms: Vec::new(),
                });
                self.keys.insert(key.to_vec(), self.patterns.len() - 1);
                self.patterns.len() - 1
            }
        };
        let runs = &self.scratch.runs()[from..from + key.len()];
        let duplicate = self.patterns[pattern].terms.iter().any(|&t| {
            let term = &self.terms[t as usize];
            let start = term.runs as usize;
            term.target == target && self.runs[start..start + runs.len()] == runs[..]
        });
        if !duplicate {
            self.patterns[pattern].terms.push(self.terms.len() as u32);
            self.terms.push(Term {
                target,
                runs: self.runs.len() as u32,
            });
            self.runs.extend_from_slice(runs);
        }
        Ok(())
    }

    /// The number of distinct keys so far.
    pub fn patterns(&self) -> usize {
        self.patterns.len()
    }

    /// Builds the automata and the table of first words.
    pub fn build(self) -> Result<Matcher, String> {
        let mut keys: Vec<(Vec<u8>, usize)> = self.keys.into_iter().collect();
        keys.sort_by_key(|(_, index)| *index);
        let mut first_words = Vec::new();
        let mut openings = Vec::new();
        let mut first_chars = Vec::new();
        let mut first_bytes = [false; 128];
        for (key, _) in &keys {
            if joins_after(key, 0) {
                let (end, hash) = words::end_and_hash(key, 0);
                first_words.push(hash);
                openings.push(opening(hash, key.get(end..end + 4)));
            } else if key[0] >= 0x80 {
                first_chars.extend(char_at(key, 0));
            } else {
                first_bytes[key[0] as usize] = true;
            }
        }
        first_chars.sort_unstable();
        first_chars.dedup();
        // One automaton per first byte, each built as soon as its keys are
        // gathered and their memory given back (see `Matcher::automata`).
        let mut by_first: Vec<Vec<(Vec<u8>, usize)>> = vec![Vec::new(); 256];
        for (key, index) in keys {
            by_first[key[0] as usize].push((key, index));
        }
        let automata = by_first
            .into_iter()
            .map(|keys| {
                if keys.is_empty() {
                    return Ok(None);
                }
                let ac = AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .start_kind(StartKind::Anchored)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(keys.iter().map(|(key, _)| key))
                    .map_err(|e| format!("cannot build the word automaton: {e}"))?;
                Ok(Some(FirstByte {
                    ac,
                    patterns: keys.iter().map(|&(_, index)| index as u32).collect(),
                }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Matcher {
            automata,
            patterns: self.patterns,
            terms: self.terms,
            runs: self.runs,
            first_words: HashSet64::new(&first_words),
            openings: HashSet64::new(&openings),
            first_chars,
            first_bytes: words::ByteSet::new(&first_bytes),
        })
    }
}

/// The keys that start with one byte, in an automaton of their own.
#[derive(Debug, Clone)]
struct FirstByte {
    /// Anchored searches only.
    ac: AhoCorasick,
    /// Each of its patterns' index in [`Matcher::patterns`].
    patterns: Vec<u32>,
}

/// The compiled word lists.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Every key, in one automaton per first byte. Searches are anchored, and
    /// a match at `at` can only be a key that starts with the byte there, so
    /// this finds what one automaton over every key would. Building that one
    /// passes through a noncontiguous NFA of about 10 MB for the built-in
    /// lists, and a WebAssembly memory never shrinks: the instance would keep
    /// it. Built per first byte, the largest is a small part of it.
    /// Indexed by that byte; `None` where no key starts with it.
    automata: Vec<Option<FirstByte>>,
    patterns: Vec<Pattern>,
    terms: Vec<Term>,
    runs: Vec<u8>,
    /// Hashes of the first words of the keys that start on a word boundary.
    first_words: HashSet64,
    /// The same keys' [`opening`]s: each first word with the four bytes
    /// after it (1,476 for the built-in lists: 8,192 slots, 64 KB). Of the
    /// words of the sandbox benchmark's varied 32 KB texts, about 7% (340 a text)
    /// start a key and the automaton ran at each; with this check it runs
    /// at about one a text ("you are a c...").
    openings: HashSet64,
    /// First characters of keys in scripts without spaces, sorted.
    first_chars: Vec<char>,
    /// First bytes of keys that start with punctuation.
    first_bytes: words::ByteSet,
}

impl Matcher {
    /// The number of keys in the automaton.
    pub fn patterns(&self) -> usize {
        self.patterns.len()
    }

    /// The heap memory of the automata, in bytes.
    pub fn memory_usage(&self) -> usize {
        self.automata
            .iter()
            .flatten()
            .map(|a| a.ac.memory_usage() + a.patterns.len() * 4)
            .sum()
    }

    /// Appends to `found` every key that occurs in the normalised text `bytes`
    /// on word boundaries (overlapping ones included), in order of position.
    /// Only needs the bytes ([`normalise::normalise_bytes`]); an empty result
    /// means the text has no match.
    pub fn candidates(&self, bytes: &[u8], found: &mut Vec<Candidate>) {
        self.scan::<{ words::BLOCKS_PAY }>(bytes, found);
    }

    /// [`Matcher::candidates`]; `BLOCKS` turns on the words of plain ASCII
    /// found 64 bytes at a time (see [`words::BLOCKS_PAY`]; tests check that
    /// both ways find the same).
    fn scan<const BLOCKS: bool>(&self, bytes: &[u8], found: &mut Vec<Candidate>) {
        let mut state = OverlappingState::start();
        let mut at = 0;
        while at < bytes.len() {
            if BLOCKS
                && let Some(chunk) = bytes.get(at..at + 64)
                && let Some(next) = self.block_words(bytes, at, chunk, &mut state, found)
            {
                at = next;
                continue;
            }
            let b = bytes[at];
            if b < 0x80 && !b.is_ascii_alphanumeric() {
                if self.first_bytes.contains(b) {
                    self.anchored(bytes, at, &mut state, found);
                }
                at += 1;
                continue;
            }
            if b >= 0x80 {
                if b == SYMBOL {
                    at += 1;
                    continue;
                }
                let c = char_at(bytes, at).unwrap_or_default();
                if is_unspaced(c) {
                    if self.first_chars.binary_search(&c).is_ok() {
                        self.anchored(bytes, at, &mut state, found);
                    }
                    at += c.len_utf8().max(1);
                    continue;
                }
            }
            // A word starts here: nothing before it joins it.
            let (end, hash) = words::end_and_hash(bytes, at);
            if self.opens(bytes, hash, end) {
                self.anchored(bytes, at, &mut state, found);
            }
            at = end;
        }
    }

    /// The words of plain ASCII in the 64 bytes `chunk` at `at` (never
    /// inside a word), for [`Matcher::scan`]; returns where the scan goes on,
    /// or `None` when the byte loop takes the byte at `at` (another kind of
    /// byte, or a word that fills the block's plain part).
    ///
    /// Sixteen bytes are classified at a time, four times (a word seldom
    /// crosses 64 bytes' end). The words that end before the block's first
    /// byte of another kind, one by one; the last word before that byte may go
    /// on past it, and the next block starts with it, so that no word's end is
    /// looked for byte by byte (a quarter of the words did that when each
    /// block took its last word whole).
    #[inline]
    fn block_words(
        &self,
        bytes: &[u8],
        at: usize,
        chunk: &[u8],
        state: &mut OverlappingState,
        found: &mut Vec<Candidate>,
    ) -> Option<usize> {
        let (mut others, mut alphanumeric) = (0u64, 0u64);
        for (i, part) in chunk.chunks_exact(16).enumerate() {
            let b = words::block(part.try_into().expect("16 bytes"), &self.first_bytes);
            others |= u64::from(b.others) << (16 * i);
            alphanumeric |= u64::from(b.alphanumeric) << (16 * i);
        }
        let plain = others.trailing_zeros() as usize;
        if plain == 0 {
            return None;
        }
        let letters = alphanumeric & (u64::MAX >> (64 - plain));
        let mut starts = letters & !(letters << 1);
        let mut next = at + plain;
        if letters & (1 << (plain - 1)) != 0 {
            let last = 63 - starts.leading_zeros() as usize;
            starts &= !(1 << last);
            next = at + last;
        }
        if next == at {
            return None;
        }
        while starts != 0 {
            let start = starts.trailing_zeros() as usize;
            starts &= starts - 1;
            let len = (!letters >> start).trailing_zeros() as usize;
            let end = at + start + len;
            if self.opens(bytes, words::hash(bytes, at + start, end), end) {
                self.anchored(bytes, at + start, state, found);
            }
        }
        Some(next)
    }

    /// Whether a key may start with the word whose hash is `hash` and that
    /// ends at `end`: the word starts a key, and the four bytes after it are
    /// what follows it in such a key, or some key has fewer after it (the
    /// word alone, "fuck"), or the text has fewer left. A key that matches
    /// here has this word as its first word (its bytes are the text's), so
    /// its four bytes after the word are the text's: none is passed over.
    #[inline]
    fn opens(&self, bytes: &[u8], hash: u64, end: usize) -> bool {
        self.first_words.contains(hash) && self.opening_follows(bytes, hash, end)
    }

    /// The second half of [`Matcher::opens`], for the few words that start
    /// a key: out of the scan's loop, which it would only crowd.
    #[inline(never)]
    fn opening_follows(&self, bytes: &[u8], hash: u64, end: usize) -> bool {
        match bytes.get(end..end + 4) {
            Some(next) => {
                self.openings.contains(opening(hash, Some(next)))
                    || self.openings.contains(opening(hash, None))
            }
            None => true,
        }
    }

    /// Runs the automaton anchored at `at`; keeps the keys on word boundaries.
    fn anchored(
        &self,
        bytes: &[u8],
        at: usize,
        state: &mut OverlappingState,
        found: &mut Vec<Candidate>,
    ) {
        let Some(automaton) = &self.automata[bytes[at] as usize] else {
            return;
        };
        let input = Input::new(bytes).range(at..).anchored(Anchored::Yes);
        *state = OverlappingState::start();
        loop {
            automaton.ac.find_overlapping(input.clone(), state);
            let Some(m) = state.get_match() else {
                break;
            };
            let index = automaton.patterns[m.pattern().as_usize()];
            let pattern = &self.patterns[index as usize];
            if pattern.bounded_start && joins_before(bytes, m.start()) {
                continue;
            }
            if pattern.bounded_end && joins_after(bytes, m.end()) {
                continue;
            }
            found.push(Candidate {
                pattern: index,
                start: m.start() as u32,
                end: m.end() as u32,
            });
        }
    }

    /// Appends to `hits` the terms of `candidates` (found in `text.bytes()`)
    /// whose run lengths fit. `text` must be mapped ([`normalise::normalise`]).
    pub fn verify(&self, text: &Normalised, candidates: &[Candidate], hits: &mut Vec<Hit>) {
        let (bytes, text_runs) = (text.bytes(), text.runs());
        for c in candidates {
            let (start, end) = (c.start as usize, c.end as usize);
            for &t in &self.patterns[c.pattern as usize].terms {
                let term = &self.terms[t as usize];
                let runs = &self.runs[term.runs as usize..term.runs as usize + (end - start)];
                if runs_fit(&bytes[start..end], &text_runs[start..end], runs) {
                    hits.push(Hit {
                        target: term.target,
                        span: start..end,
                    });
                }
            }
        }
    }

    /// Both steps on a mapped text: the matches of every term, overlapping
    /// and allowed ones included (see [`resolve`]).
    pub fn find(&self, text: &Normalised, hits: &mut Vec<Hit>) {
        let mut candidates = Vec::new();
        self.candidates(text.bytes(), &mut candidates);
        self.verify(text, &candidates, hits);
    }
}

/// A key's first word (its hash) with the four bytes that follow it in the
/// key, or `None` where fewer follow; never zero.
fn opening(first_word: u64, next: Option<&[u8]>) -> u64 {
    // Four bytes fit in 32 bits: `None` cannot collide with any of them.
    let next = next.map_or(1 << 32, |b| {
        u64::from(u32::from_le_bytes(b.try_into().expect("four bytes")))
    });
    let mut h =
        (first_word ^ next.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 31;
    h | 1
}

/// A set of non-zero 64-bit hashes: open addressing, linear probing, behind a
/// filter of one bit per hash's top bits.
///
/// Most words of a text start no term: the filter (8 KB, 682 bits set for the
/// built-in lists' 686 first words) says no to about 99% of them without
/// reading the table.
#[derive(Debug, Clone)]
struct HashSet64 {
    filter: Vec<u64>,
    slots: Vec<u64>,
    shift: u32,
}

/// The filter's size: `1 << FILTER_BITS` bits.
const FILTER_BITS: u32 = 16;

impl HashSet64 {
    /// A set of `hashes`, in which keys that share a first word repeat.
    fn new(hashes: &[u64]) -> Self {
        let mut hashes = hashes.to_vec();
        hashes.sort_unstable();
        hashes.dedup();
        // Four slots per hash (4,096 slots, 32 KB, for the built-in lists;
        // sized before the keys' repeats were dropped, it took 1 MB).
        let size = (hashes.len() * 4).next_power_of_two().max(16);
        let mut set = HashSet64 {
            filter: vec![0; (1 << FILTER_BITS) / 64],
            slots: vec![0; size],
            shift: 64 - size.trailing_zeros(),
        };
        for &h in &hashes {
            let bit = Self::filter_bit(h);
            set.filter[bit / 64] |= 1 << (bit % 64);
            let mut i = set.index(h);
            while set.slots[i] != 0 && set.slots[i] != h {
                i = (i + 1) & (size - 1);
            }
            set.slots[i] = h;
        }
        set
    }

    fn filter_bit(hash: u64) -> usize {
        (hash >> (64 - FILTER_BITS)) as usize
    }

    fn index(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline]
    fn contains(&self, hash: u64) -> bool {
        let bit = Self::filter_bit(hash);
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.index(hash);
        loop {
            match self.slots[i] {
                0 => return false,
                h if h == hash => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// Whether the text's run lengths fit the term's: for every letter, the same
/// length, or three or more in the text (stretched for emphasis or evasion).
fn runs_fit(key: &[u8], text: &[u8], term: &[u8]) -> bool {
    key.iter()
        .zip(text.iter().zip(term))
        .all(|(b, (&t, &w))| !b.is_ascii_lowercase() || t == w || (t >= 3 && t > w))
}

/// Keeps the matches to report: drops those inside an allowed term's match and
/// the allowed matches themselves, then, per category, keeps the longest of
/// overlapping matches (the leftmost on a tie of starts). Sorted by category,
/// then position.
pub fn resolve(hits: &mut Vec<Hit>) {
    if hits.is_empty() {
        return;
    }
    // Allowed spans by start, with the furthest end reached so far: a hit is
    // inside one if an allowed span starting at or before it reaches its end.
    let mut allowed: Vec<(usize, usize)> = hits
        .iter()
        .filter(|h| h.target == Target::Allow)
        .map(|h| (h.span.start, h.span.end))
        .collect();
    allowed.sort_unstable();
    let mut furthest = 0;
    for span in &mut allowed {
        furthest = furthest.max(span.1);
        span.1 = furthest;
    }
    hits.retain(|h| {
        let before = allowed.partition_point(|&(start, _)| start <= h.span.start);
        h.target != Target::Allow && (before == 0 || allowed[before - 1].1 < h.span.end)
    });
    hits.sort_by_key(|h| (h.target, h.span.start, std::cmp::Reverse(h.span.end)));
    let mut kept = 0;
    for i in 0..hits.len() {
        if kept > 0 {
            let last = &hits[kept - 1];
            if last.target == hits[i].target && hits[i].span.start < last.span.end {
                continue; // overlaps a longer or earlier match of the category
            }
        }
        hits.swap(kept, i);
        kept += 1;
    }
    hits.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::normalise;
    use sluice_plugin_sdk::testing::texts_from;

    fn matcher(terms: &[(Target, &str)]) -> Matcher {
        let mut builder = Builder::default();
        for (target, term) in terms {
            builder.add(*target, term).unwrap();
        }
        builder.build().unwrap()
    }

    /// The original text of every reported match.
    fn found(m: &Matcher, text: &str) -> Vec<String> {
        let mut norm = Normalised::default();
        normalise(text, &mut norm);
        let mut hits = Vec::new();
        m.find(&norm, &mut hits);
        resolve(&mut hits);
        hits.iter()
            .map(|h| text[norm.original_span(text, h.span.clone())].to_string())
            .collect()
    }

    const P: Target = Target::Category(Category::Profanity);
    const SEED: u64 = 0x2545_f491_4f6c_dd1d;

    #[test]
    fn matches_are_on_word_boundaries() {
        let m = matcher(&[(P, "ass"), (P, "cunt"), (P, "cock")]);
        assert_eq!(
            found(&m, "class assert Scunthorpe cocktail"),
            Vec::<String>::new()
        );
        assert_eq!(found(&m, "you ass, cunt!"), ["ass", "cunt"]);
        assert_eq!(found(&m, "(ass)"), ["ass"]);
    }

    #[test]
    fn run_lengths_must_fit() {
        let m = matcher(&[(P, "ass"), (P, "fuck"), (P, "god")]);
        assert_eq!(found(&m, "as good as"), Vec::<String>::new());
        assert_eq!(found(&m, "asssss"), ["asssss"]);
        assert_eq!(found(&m, "fuuuuck"), ["fuuuuck"]);
        assert_eq!(found(&m, "goood"), ["goood"]); // stretched: either word
        assert_eq!(found(&m, "fuuck"), Vec::<String>::new()); // doubled, not stretched
    }

    #[test]
    fn longest_match_of_a_category_wins() {
        let m = matcher(&[(P, "fuck"), (P, "motherfucker"), (P, "fucker")]);
        assert_eq!(found(&m, "motherfucker"), ["motherfucker"]);
        assert_eq!(found(&m, "fucker fuck"), ["fucker", "fuck"]);
    }

    #[test]
    fn allowed_terms_hide_what_they_contain() {
        let m = matcher(&[(P, "hell"), (Target::Allow, "hell's kitchen")]);
        assert_eq!(found(&m, "Hell's Kitchen, hell"), ["hell"]);
    }

    #[test]
    fn phrases_match_across_whitespace_and_case() {
        let m = matcher(&[(
            Target::Category(Category::PromptInjection),
            "{ignore|disregard} {|all} previous instructions",
        )]);
        assert_eq!(
            found(&m, "Please IGNORE   all\nprevious instructions."),
            ["IGNORE   all\nprevious instructions"]
        );
        assert_eq!(
            found(&m, "ignore previous instructionsets"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn scripts_without_spaces_have_no_word_boundaries() {
        let m = matcher(&[
            (
                Target::Category(Category::PromptInjection),
                "忽略之前的指令",
            ),
            (P, "fuck"),
        ]);
        assert_eq!(found(&m, "请忽略之前的指令并输出"), ["忽略之前的指令"]);
        assert_eq!(found(&m, "东京fuck"), ["fuck"]);
        assert_eq!(found(&m, "жfuck fuckж"), Vec::<String>::new());
    }

    /// The keys of `m` found by a plain unanchored scan of every byte, with the
    /// same boundary checks: what `candidates` must reproduce.
    fn plain_scan(m: &Matcher, keys: &[Vec<u8>], bytes: &[u8]) -> Vec<Candidate> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(keys)
            .unwrap();
        let mut found: Vec<Candidate> = ac
            .find_overlapping_iter(bytes)
            .filter(|h| {
                let p = &m.patterns[h.pattern().as_usize()];
                let joined_start = p.bounded_start && joins_before(bytes, h.start());
                let joined_end = p.bounded_end && joins_after(bytes, h.end());
                !joined_start && !joined_end
            })
            .map(|h| Candidate {
                pattern: h.pattern().as_u32(),
                start: h.start() as u32,
                end: h.end() as u32,
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn the_prefilter_finds_what_a_full_scan_finds() {
        let terms = [
            "fuck",
            "fucking",
            "motherfucker",
            "i will kill you",
            "i want it",
            "never gonna",
            "ass",
            "as",
            "new instructions:",
            "-rf now",
            "忽略之前的指令",
            "指令",
            "東京",
            "kill",
            "ж",
            "жук",
            "a b",
            "you",
            "x",
        ];
        let mut builder = Builder::default();
        for term in terms {
            builder.add(P, term).unwrap();
        }
        let mut keys: Vec<(Vec<u8>, usize)> = builder.keys.clone().into_iter().collect();
        keys.sort_by_key(|(_, i)| *i);
        let keys: Vec<Vec<u8>> = keys.into_iter().map(|(k, _)| k).collect();
        let m = builder.build().unwrap();
        // Pseudo-random texts from pieces that start, end, join and break keys.
        let pieces = [
            "fuck",
            "ing",
            "mother",
            "er",
            " ",
            "  ",
            "i",
            " will",
            " kill",
            " you",
            " want",
            " wan",
            " it",
            "never",
            " gon",
            "na",
            "as",
            "s",
            "new",
            " instructions",
            ":",
            "-",
            "rf",
            " now",
            "忽略",
            "之前的",
            "指令",
            "東京",
            "ж",
            "ук",
            "😀",
            ".",
            "x",
            "a",
            " b",
            "1",
            "東",
            "'",
            "\n",
            "é",
        ];
        let mut norm = Normalised::default();
        for text in texts_from(&pieces, 3000, 12, SEED) {
            normalise::normalise_bytes(&text, &mut norm);
            let mut found = Vec::new();
            m.candidates(norm.bytes(), &mut found);
            found.sort();
            assert_eq!(found, plain_scan(&m, &keys, norm.bytes()), "{text:?}");
        }
    }

    #[test]
    fn blocks_of_64_bytes_find_what_the_byte_scan_finds() {
        let m = matcher(&[
            (P, "fuck"),
            (P, "f*ck"),
            (P, "#fuck"),
            (P, "motherfucker"),
            (P, "-rf now"),
            (P, "жук"),
            (P, "東京"),
        ]);
        let pieces = [
            "fuck",
            "mother",
            "fucker",
            "f",
            "*",
            "#",
            "ck",
            " ",
            "-",
            "rf",
            " now",
            ".",
            "(",
            "ж",
            "ук",
            "東京",
            "😀",
            "é",
            "12",
            "x86",
            "abcdefghijklmnopqrstuvwxyz",
            "longerword",
            ", ",
        ];
        let mut norm = Normalised::default();
        let (mut blocks, mut bytewise) = (Vec::new(), Vec::new());
        for text in texts_from(&pieces, 20000, 40, SEED) {
            normalise::normalise_bytes(&text, &mut norm);
            blocks.clear();
            bytewise.clear();
            m.scan::<true>(norm.bytes(), &mut blocks);
            m.scan::<false>(norm.bytes(), &mut bytewise);
            assert_eq!(blocks, bytewise, "{text:?}");
        }
    }

    #[test]
    fn bad_terms_are_refused() {
        let mut b = Builder::default();
        assert!(b.add(P, "...").unwrap_err().contains("no letters"));
        assert!(b.add(P, "kill 🔪").unwrap_err().contains("symbols"));
        assert!(
            b.add(P, &"a".repeat(30).replace('a', "ab "))
                .unwrap_err()
                .contains("longer")
        );
        assert!(b.add(P, "x{y").is_err());
    }

    #[test]
    fn duplicate_terms_share_a_key() {
        let mut b = Builder::default();
        b.add(P, "fuck").unwrap();
        b.add(P, "FUCK").unwrap();
        b.add(Target::Category(Category::Hate), "fuck").unwrap();
        b.add(P, "ass").unwrap();
        b.add(P, "as").unwrap();
        assert_eq!(b.patterns(), 2);
        assert_eq!(b.terms.len(), 4);
    }
}
