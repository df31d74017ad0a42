//! Normalisation: the text as the word lists see it, with a map back to the
//! original bytes.
//!
//! One pass over the text writes the normalised bytes into a reusable
//! [`Normalised`] buffer ([`normalise`]), with, for every output byte, the
//! offset of the original character it came from and how many letters it
//! stands for; [`normalise_bytes`] writes the same bytes without that map, for
//! a first look that is cheaper. Plain ASCII words, most of any text, go
//! through a fast path that a unit test checks against the general one (in
//! the WebAssembly build, sixteen bytes at a time: `normalise/block.rs`). Terms
//! are normalised by the same function, so a term and any spelling of it meet
//! in the same bytes. Step by step, for each character of the text:
//!
//! 1. **Folding** ([`crate::fold`]): case (`F` → `f`), diacritics (`é` → `e`,
//!    also when written as `e` + a combining accent), compatibility forms
//!    (fullwidth, mathematical, circled letters, ligatures) and homoglyphs
//!    (Cyrillic `а`, Greek `ο`, small capitals).
//! 2. **Invisible characters are dropped** without ending the word: zero-width
//!    characters, bidi controls, variation selectors, tag characters, soft
//!    hyphens (`f\u{200B}uck` reads `fuck`). So are quotes and apostrophes
//!    (`don't` reads `dont`, `"kill"` reads `kill`).
//! 3. **Whitespace**: any run of spaces, tabs, newlines or Unicode spaces is one
//!    space. Other ASCII punctuation is kept as it is; symbols and emoji become
//!    a [`SYMBOL`] byte; letters of scripts that do not fold to ASCII are kept,
//!    lowercased, as UTF-8. Words are the runs of letters and digits in between.
//! 4. **Spaced-out letters**: single letters joined by one and the same
//!    separator (`.`, `-`, `_`, `*` or a single space) are one word:
//!    `f.u.c.k`, `f u c k`, `f_u_c_k` read `fuck`. A word of two or more
//!    letters breaks the chain (`I love` stays two words).
//! 5. **Leetspeak**, only in words with at least two letters and not in hex
//!    literals, so that numbers (`1234`, `x86`, `0x1f`) keep their digits:
//!    `0→o 1→i 3→e 4→a 5→s 7→t 8→b 9→g`, and between letters
//!    `@→a $→s !→i |→l` (`sh!t`, `a$$hole`; a symbol at the start or end of a
//!    word stays a symbol, so `$hit` is a variable, not a word).
//! 6. **Repeated letters**: a run of one letter is written once, with its
//!    length in [`Normalised::runs`]. A term matches a run when the lengths are
//!    equal, or when the text has three or more (`fuuuuck`, `asssss`), so
//!    stretching is caught while `good` never reads as `god` nor `as` as `ass`.
//!
//! Offsets: [`Normalised::original_span`] maps a span of normalised bytes back
//! to the original text. It starts at the first character of the match and
//! ends after the last character that went into the match's last byte
//! (repeated letters, combining marks), so it covers the whole evasive
//! spelling, invisible characters inside it included, never the ones around
//! it, and always falls on character boundaries.

use crate::fold::{self, Reads};
use crate::swar;
use std::ops::Range;

mod block;

/// The byte that stands for a symbol or emoji: not a word character, and not
/// a byte that appears in UTF-8, so no term can contain it by accident.
pub const SYMBOL: u8 = 0xFF;

/// Whether a normalised byte belongs to a word: ASCII letters and digits, and
/// the UTF-8 bytes of letters of other scripts.
pub fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || (b >= 0x80 && b != SYMBOL)
}

/// Whether the normalised text has a word character just before `at` that a
/// match starting at `at` would continue: a letter or digit of a script
/// written with spaces. Scripts written without spaces between words (Chinese,
/// Japanese, Korean, Thai, ...) have no word boundaries to respect.
pub fn joins_before(bytes: &[u8], at: usize) -> bool {
    if at == 0 {
        return false;
    }
    let b = bytes[at - 1];
    if b < 0x80 || b == SYMBOL {
        return b.is_ascii_alphanumeric();
    }
    let mut lead = at - 1;
    while lead > 0 && at - lead < 4 && bytes[lead] & 0xC0 == 0x80 {
        lead -= 1;
    }
    match std::str::from_utf8(&bytes[lead..at]) {
        Ok(s) => s.chars().next().is_some_and(|c| !is_unspaced(c)),
        Err(_) => true,
    }
}

/// Whether the normalised text has a word character at `at` that a match
/// ending at `at` would run into (see [`joins_before`]).
pub fn joins_after(bytes: &[u8], at: usize) -> bool {
    let Some(&b) = bytes.get(at) else {
        return false;
    };
    if b < 0x80 || b == SYMBOL {
        return b.is_ascii_alphanumeric();
    }
    char_at(bytes, at).is_none_or(|c| !is_unspaced(c))
}

/// The character that starts at `at` in normalised bytes, if a UTF-8
/// character (a letter of a script that does not fold to ASCII) starts there.
pub fn char_at(bytes: &[u8], at: usize) -> Option<char> {
    let lead = *bytes.get(at)?;
    let end = (at + char_len(lead)).min(bytes.len());
    std::str::from_utf8(&bytes[at..end]).ok()?.chars().next()
}

/// A letter of a script written without spaces between words.
pub fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1100..=0x11FF // Hangul jamo
        | 0x1780..=0x17FF // Khmer
        | 0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3021..=0x303B // CJK radicals, marks
        | 0x3040..=0x31FF // kana, bopomofo, Hangul compatibility jamo
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // Han
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xFF66..=0xFF9F // halfwidth katakana
        | 0x20000..=0x3FFFF) // Han extensions
}

/// A normalised text with its map back to the original. Reuse one across calls:
/// [`normalise`] overwrites it and keeps its memory.
#[derive(Debug, Default, Clone)]
pub struct Normalised {
    /// The normalised bytes; only the first `len` are the text, the rest is
    /// room kept from earlier calls.
    bytes: Vec<u8>,
    /// For each byte, the offset in the original text of the first character
    /// that went into it.
    starts: Vec<u32>,
    /// For each byte, how many letters of the original it stands for (more
    /// than one for a collapsed run of a repeated letter).
    runs: Vec<u8>,
    len: usize,
    /// `starts` and `runs` are filled in ([`normalise`], not
    /// [`normalise_bytes`]).
    mapped: bool,
    /// Every byte of the original text was ASCII.
    ascii: bool,
}

impl Normalised {
    /// The normalised text.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// For each byte of [`bytes`](Self::bytes), how many letters of the
    /// original it stands for. Empty after [`normalise_bytes`].
    pub fn runs(&self) -> &[u8] {
        if self.mapped {
            &self.runs[..self.len]
        } else {
            &[]
        }
    }

    /// For each byte of [`bytes`](Self::bytes), the offset in the original of
    /// the first character that went into it. Empty after [`normalise_bytes`].
    pub fn starts(&self) -> &[u32] {
        if self.mapped {
            &self.starts[..self.len]
        } else {
            &[]
        }
    }

    /// The length of the normalised text in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the normalised text is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the original text was ASCII only: then it has no invisible
    /// characters, and [`crate::hidden`] need not look (known for free, as
    /// the normaliser takes every byte outside ASCII apart anyway).
    pub fn was_ascii(&self) -> bool {
        self.ascii
    }

    /// The original byte span of the normalised bytes `span` (non-empty) of
    /// `text`, the text this was made from by [`normalise`].
    pub fn original_span(&self, text: &str, span: Range<usize>) -> Range<usize> {
        let starts = self.starts();
        let start = starts[span.start] as usize;
        let last = starts[span.end - 1] as usize;
        let limit = match starts.get(span.end) {
            Some(&next) => next as usize,
            None => text.len(),
        };
        let mut end = last + char_len(text.as_bytes()[last]);
        if limit > end {
            let tail_start = end;
            for (i, c) in text[tail_start..limit].char_indices() {
                if absorbed(c) {
                    end = tail_start + i + c.len_utf8();
                }
            }
        }
        start..end
    }

    /// Drops buffers grown past `keep` bytes by one very long text, so that a
    /// single large request does not pin its memory for the life of the
    /// instance.
    pub fn trim(&mut self, keep: usize) {
        if self.bytes.len() > keep {
            *self = Normalised::default();
        }
    }

    /// Empties the text and makes room for `capacity` bytes.
    fn reset(&mut self, capacity: usize, mapped: bool) {
        self.len = 0;
        self.mapped = mapped;
        self.ascii = true;
        if self.bytes.len() < capacity {
            self.resize(capacity);
        }
    }

    fn resize(&mut self, capacity: usize) {
        self.bytes.resize(capacity, 0);
        self.starts.resize(capacity, 0);
        self.runs.resize(capacity, 0);
    }

    /// Makes room for `more` bytes after the text.
    #[inline]
    fn reserve(&mut self, more: usize) {
        if self.bytes.len() - self.len < more {
            self.grow(more);
        }
    }

    #[cold]
    fn grow(&mut self, more: usize) {
        self.resize((self.bytes.len() * 2).max(self.len + more + 64));
    }

    #[inline]
    fn push(&mut self, b: u8, start: u32, run: u8) {
        self.reserve(1);
        let at = self.len;
        self.bytes[at] = b;
        if self.mapped {
            self.starts[at] = start;
            self.runs[at] = run;
        }
        self.len = at + 1;
    }

    fn last(&self) -> Option<u8> {
        self.bytes().last().copied()
    }

    /// Adds one to the run of the last byte.
    fn extend_run(&mut self) {
        if self.mapped {
            let run = &mut self.runs[self.len - 1];
            *run = run.saturating_add(1);
        }
    }

    /// Removes the byte at `at`.
    fn remove(&mut self, at: usize) {
        self.remove_range(at..at + 1);
    }

    /// Removes the bytes in `range`.
    fn remove_range(&mut self, range: Range<usize>) {
        let (len, gone) = (self.len, range.len());
        self.bytes.copy_within(range.end..len, range.start);
        if self.mapped {
            self.starts.copy_within(range.end..len, range.start);
            self.runs.copy_within(range.end..len, range.start);
        }
        self.len = len - gone;
    }
}

/// The length of the UTF-8 sequence that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0..0x80 => 1,
        0xC0..0xE0 => 2,
        0xE0..0xF0 => 3,
        _ => 4,
    }
}

/// Whether `c`, found between a normalised byte's first character and the next
/// byte's, was folded into that byte (a repeated letter, a leetspeak digit, a
/// combining mark) rather than dropped (invisible characters, quotes, the
/// separators of spaced-out letters).
fn absorbed(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '@' | '$' | '!' | '|');
    }
    match fold::lookup(c) {
        Reads::Mark => true,
        Reads::Invisible => false,
        Reads::Byte(b) => b.is_ascii_alphanumeric(),
        Reads::Str(s) => s.bytes().all(|b| b.is_ascii_alphanumeric()),
        Reads::Unmapped => c.is_alphanumeric(),
    }
}

/// What an ASCII character does in the normaliser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// A space: whitespace that may join spaced-out letters.
    Space,
    /// Other whitespace and control characters.
    Break,
    /// Punctuation that may join spaced-out letters: `. - _ *`.
    Joiner,
    /// Leetspeak symbols, letters when inside a word: `@ $ ! |`.
    Leet,
    /// Quotes and apostrophes: dropped.
    Quote,
    /// Any other punctuation: kept as it is.
    Punct,
}

const fn ascii_class(b: u8) -> Class {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Digit,
        b' ' => Class::Space,
        b'.' | b'-' | b'_' | b'*' => Class::Joiner,
        b'@' | b'$' | b'!' | b'|' => Class::Leet,
        b'\'' | b'"' | b'`' => Class::Quote,
        0..=0x1F | 0x7F => Class::Break,
        _ => Class::Punct,
    }
}

static CLASSES: [Class; 128] = {
    let mut table = [Class::Punct; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = ascii_class(b as u8);
        b += 1;
    }
    table
};

/// Spaced-out letters are joined into words of at most this many bytes: the
/// longest single word of the lists is shorter (phrases cannot be spelt out:
/// spaced-out letters make one word), and each letter joined rewrites the
/// word, so an endless chain (`a.b.a.b...`) must stop somewhere.
const MAX_CHAIN: usize = 32;

/// What the fast path does with an ASCII byte between words.
const FAST_LETTER: u8 = 0;
/// Leave the fast path: digits and leetspeak symbols.
const FAST_STOP: u8 = 1;
/// Whitespace.
const FAST_SPACE: u8 = 2;
/// Punctuation, written as it is.
const FAST_PUNCT: u8 = 3;
/// Quotes, dropped.
const FAST_DROP: u8 = 4;

static FAST: [u8; 128] = {
    let mut table = [FAST_PUNCT; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = match ascii_class(b as u8) {
            Class::Letter => FAST_LETTER,
            Class::Digit | Class::Leet => FAST_STOP,
            Class::Space | Class::Break => FAST_SPACE,
            Class::Joiner | Class::Punct => FAST_PUNCT,
            Class::Quote => FAST_DROP,
        };
        b += 1;
    }
    table
};

/// The letter a leetspeak character stands for, if any.
fn leet(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'o',
        b'1' | b'!' => b'i',
        b'3' => b'e',
        b'4' | b'@' => b'a',
        b'5' | b'$' => b's',
        b'7' => b't',
        b'8' => b'b',
        b'9' => b'g',
        b'|' => b'l',
        _ => return None,
    })
}

/// The end of the number that starts at `at`, between words, if the general
/// path would write it as it is and leave nothing pending: two digits or more
/// (one digit may start a chain of spaced-out characters), followed by
/// whitespace or punctuation (not a letter, a leetspeak symbol, a quote that
/// would join what follows, or a character outside ASCII). A word of digits
/// alone has no letters for leetspeak and no repeated letters to merge.
#[inline]
fn plain_number(bytes: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let next = *bytes.get(end)?;
    let ends_cleanly = next < 0x80 && matches!(FAST[next as usize], FAST_SPACE | FAST_PUNCT);
    (end - at >= 2 && ends_cleanly).then_some(end)
}

/// `0x` followed by hex digits: a number, whatever letters it has.
fn is_hex_literal(word: &[u8]) -> bool {
    word.len() > 2 && word.starts_with(b"0x") && word[2..].iter().all(u8::is_ascii_hexdigit)
}

/// Where the fast path's blocks stopped ([`take_blocks`]).
struct Taken {
    /// Where the blocks stopped in the text and in the output.
    i: usize,
    n: usize,
    /// The last byte written before `i`, quotes aside (as `last` was given).
    last: u8,
    /// Inside a word (else between words, at whitespace or punctuation).
    in_word: bool,
    /// Between words, after whitespace.
    after_space: bool,
    /// Where in the output the last word that the blocks started starts.
    word: Option<usize>,
}

/// The fast path sixteen bytes at a time ([`block::block`]), from `i` in the
/// text and `n` in `out`, at a letter of a word with nothing to rewrite whose
/// last letter so far is `last` (0 at the word's first letter). Writes every
/// block the fast path would take whole; of the first it would not, the part
/// before the last word that starts at or before the trouble (where the byte
/// loops, from there, either go on or leave as they would have).
#[inline]
fn take_blocks(bytes: &[u8], mut i: usize, out: &mut [u8], mut n: usize, mut last: u8) -> Taken {
    let mut word = None;
    while let (Some(chunk), true) = (bytes.get(i..i + 17), n + 16 <= out.len()) {
        let (chunk, next) = chunk.split_at(16);
        let chunk: &[u8; 16] = chunk.try_into().expect("sixteen bytes");
        let b = block::block(chunk, next[0], last);
        if b.trouble == 0 {
            if b.starts != 0 {
                let top = 15 - b.starts.leading_zeros();
                word = Some(n + (b.keep & ((1 << top) - 1)).count_ones() as usize);
            }
            n += b.write(b.keep, &mut out[n..]);
            i += 16;
            last = b.last;
            continue;
        }
        // Word starts at or before the first trouble.
        let cuts = b.starts & (u16::MAX >> (15 - b.trouble.trailing_zeros()));
        if cuts > 1 {
            let at = 15 - cuts.leading_zeros();
            n += b.write(b.keep & ((1 << at) - 1), &mut out[n..]);
            return Taken {
                i: i + at as usize,
                n,
                last: 0,
                in_word: false,
                // At a letter, which ends any whitespace.
                after_space: false,
                word,
            };
        }
        break;
    }
    Taken {
        i,
        n,
        last,
        in_word: last == 0 || last.is_ascii_lowercase(),
        after_space: last == b' ',
        word,
    }
}

/// Normalises `text` into `out`, with the map back to `text`
/// ([`Normalised::starts`], [`Normalised::runs`], [`Normalised::original_span`]).
pub fn normalise(text: &str, out: &mut Normalised) {
    run::<true, true, false>(text, out);
}

/// Normalises `text` into `out` without the map: the same bytes, faster. For a
/// first look; normalise again with [`normalise`] when something may match.
pub fn normalise_bytes(text: &str, out: &mut Normalised) {
    run::<false, true, { block::PAYS }>(text, out);
}

/// The normaliser; `FAST` turns the fast path for plain ASCII words on (off
/// only in tests, to check that both paths write the same), `BLOCKS` its
/// sixteen-byte blocks ([`block`], without the map only).
fn run<const MAP: bool, const FAST: bool, const BLOCKS: bool>(text: &str, out: &mut Normalised) {
    // The text is never longer normalised, but for lowercase letters of other
    // scripts that grow in UTF-8 (`push` makes room for those).
    out.reset(text.len() + 64, MAP);
    let mut w = Writer::new(out);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if FAST
                && b.is_ascii_alphabetic()
                && (w.in_plain_word()
                    || (w.can_start_plain_word()
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic)))
            {
                // Most of any text: words of two or more ASCII letters.
                i = w.fast::<MAP, BLOCKS>(bytes, i);
                continue;
            }
            w.ascii(b, i as u32);
            i += 1;
            continue;
        }
        w.out.ascii = false;
        let len = char_len(b);
        let c = text[i..i + len].chars().next().unwrap_or_default();
        let start = i as u32;
        match fold::lookup(c) {
            Reads::Invisible | Reads::Mark => {}
            Reads::Byte(b) => w.ascii(b, start),
            Reads::Str(s) => s.bytes().for_each(|b| w.ascii(b, start)),
            Reads::Unmapped if c.is_alphanumeric() => w.other_letter(c, start),
            Reads::Unmapped => w.separator(SYMBOL, start, false),
        }
        i += len;
    }
    w.end_word();
}

/// The normaliser's state: where the current word started, and whether it may
/// be a chain of spaced-out letters.
struct Writer<'a> {
    out: &'a mut Normalised,
    /// Inside a word.
    in_word: bool,
    /// Where the current word starts in `out` (for a chain, its first letter).
    word: usize,
    /// Where the current piece of a chain starts (`word` when not in a chain).
    piece: usize,
    /// Characters in the current piece (2 is enough to know it is no letter).
    piece_chars: u8,
    /// The current word has digits or leetspeak symbols, or was a chain.
    rewrite: bool,
    /// Leetspeak symbols written after the last letter: part of the word only
    /// if another letter follows.
    trailing_symbols: usize,
    /// The last piece of the word that just ended was a single character.
    single: bool,
    /// The separator of the current chain, 0 when there is none.
    chain_separator: u8,
    /// The index in `out` of a separator that follows a single character and
    /// goes away if another single character follows it.
    pending_separator: Option<usize>,
    /// The last character was whitespace (runs are written once).
    after_space: bool,
}

impl<'a> Writer<'a> {
    fn new(out: &'a mut Normalised) -> Self {
        Writer {
            out,
            in_word: false,
            word: 0,
            piece: 0,
            piece_chars: 0,
            rewrite: false,
            trailing_symbols: 0,
            single: false,
            chain_separator: 0,
            pending_separator: None,
            after_space: false,
        }
    }

    #[inline]
    fn ascii(&mut self, b: u8, start: u32) {
        match CLASSES[b as usize] {
            Class::Letter => self.word_char(b | 0x20, start),
            Class::Digit => {
                self.word_char(b, start);
                self.rewrite = true;
            }
            Class::Leet if self.in_word => {
                self.after_space = false;
                self.out.push(b, start, 1);
                self.trailing_symbols += 1;
            }
            Class::Leet | Class::Punct => self.separator(b, start, false),
            Class::Joiner => self.separator(b, start, true),
            Class::Space => self.space(start, true),
            Class::Break => self.space(start, false),
            Class::Quote => {}
        }
    }

    /// In a word past its second character, with no symbols pending: the next
    /// ASCII letters only need writing.
    fn in_plain_word(&self) -> bool {
        self.in_word && self.piece_chars >= 2 && self.trailing_symbols == 0
    }

    /// Outside a word, with nothing pending: a word of two letters or more can
    /// start without the bookkeeping of `start_char`.
    fn can_start_plain_word(&self) -> bool {
        !self.in_word && self.pending_separator.is_none()
    }

    /// Starts a word known to begin with two ASCII letters.
    fn start_plain_word(&mut self) {
        self.in_word = true;
        self.after_space = false;
        self.word = self.out.len();
        self.piece = self.word;
        self.piece_chars = 2;
        self.chain_separator = 0;
        self.rewrite = false;
    }

    /// The fast path, from a letter in a plain word (see `in_plain_word`) or a
    /// plain word's first letter (see `can_start_plain_word`): writes plain
    /// words of ASCII letters and the ASCII whitespace and punctuation between
    /// them, for as long as nothing needs the general path (digits, symbols
    /// that may be leetspeak, single letters, other characters). Leaves the
    /// state as the general path would; returns where it stopped.
    #[inline]
    fn fast<const MAP: bool, const BLOCKS: bool>(&mut self, bytes: &[u8], mut i: usize) -> usize {
        self.out.reserve(bytes.len() - i);
        if !self.in_word {
            self.start_plain_word();
        }
        // The state lives in locals here and goes back to `self` at the end.
        let mut word = self.word;
        let mut rewrite = self.rewrite;
        let mut in_word = true;
        let mut new_word = false;
        let mut after_space = false;
        let out = &mut *self.out;
        let mut n = out.len;
        // Not a letter when the word starts here: no run to continue.
        let mut last = if n > word { out.bytes[n - 1] } else { 0 };
        // Slices, not the vectors: their pointers and lengths stay in registers.
        let (out_bytes, out_starts, out_runs) =
            (&mut out.bytes[..], &mut out.starts[..], &mut out.runs[..]);
        'words: loop {
            if BLOCKS && !MAP && !rewrite && (last == 0 || last.is_ascii_lowercase()) {
                let taken = take_blocks(bytes, i, out_bytes, n, last);
                (i, n, last) = (taken.i, taken.n, taken.last);
                if let Some(at) = taken.word {
                    (word, new_word) = (at, true);
                }
                (in_word, after_space) = (taken.in_word, taken.after_space);
            }
            // Without blocks, always: every pass starts in a word.
            if !BLOCKS || in_word {
                if !MAP {
                    // Eight letters at a time, while none repeats the one before.
                    while let (Some(chunk), Some(room)) =
                        (swar::load(bytes, i), out_bytes.get_mut(n..n + 8))
                    {
                        let letters = swar::leading(swar::alphabetic(chunk));
                        let lower = chunk | (swar::ONES * 0x20);
                        let repeats = swar::zero(lower ^ ((lower << 8) | u64::from(last)));
                        let first = (letters * 8) as u32;
                        if letters == 0
                            || repeats & u64::MAX.checked_shr(64 - first).unwrap_or(0) != 0
                        {
                            break;
                        }
                        // The bytes after the letters are written too, and
                        // overwritten or left beyond the text.
                        room.copy_from_slice(&lower.to_le_bytes());
                        n += letters;
                        i += letters;
                        last = (lower >> (first - 8)) as u8;
                        if letters < 8 {
                            break;
                        }
                    }
                }
                // The letters of a word (quotes inside it are dropped: `don't`).
                while let Some(&b) = bytes.get(i) {
                    if !b.is_ascii_alphabetic() {
                        if b < 0x80 && FAST[b as usize] == FAST_DROP {
                            i += 1;
                            continue;
                        }
                        break;
                    }
                    let b = b | 0x20;
                    if b != last {
                        out_bytes[n] = b;
                        if MAP {
                            out_starts[n] = i as u32;
                            out_runs[n] = 1;
                        }
                        n += 1;
                        last = b;
                    } else if MAP {
                        out_runs[n - 1] = out_runs[n - 1].saturating_add(1);
                    }
                    i += 1;
                }
                // The word ends here, unless it goes on with a digit, a symbol or
                // another character.
                let Some(&b) = bytes.get(i) else {
                    break;
                };
                if rewrite || b >= 0x80 || FAST[b as usize] == FAST_STOP {
                    break;
                }
                in_word = false;
            }
            // Whitespace and punctuation up to the next word.
            loop {
                let Some(&b) = bytes.get(i) else {
                    break 'words;
                };
                if b >= 0x80 {
                    break 'words;
                }
                let action = FAST[b as usize];
                if action == FAST_SPACE {
                    if !after_space {
                        after_space = true;
                        out_bytes[n] = b' ';
                        if MAP {
                            out_starts[n] = i as u32;
                            out_runs[n] = 1;
                        }
                        n += 1;
                    }
                } else if action == FAST_PUNCT {
                    after_space = false;
                    out_bytes[n] = b;
                    if MAP {
                        out_starts[n] = i as u32;
                        out_runs[n] = 1;
                    }
                    n += 1;
                } else if action == FAST_LETTER {
                    break;
                } else if action == FAST_STOP {
                    // A number of two digits or more standing alone (`= 12,`,
                    // `1024}`) is written as it is; anything else that starts
                    // with a digit or a symbol leaves the fast path.
                    let Some(end) = plain_number(bytes, i) else {
                        break 'words;
                    };
                    after_space = false;
                    for (at, &digit) in bytes[i..end].iter().enumerate() {
                        out_bytes[n] = digit;
                        if MAP {
                            out_starts[n] = (i + at) as u32;
                            out_runs[n] = 1;
                        }
                        n += 1;
                    }
                    i = end;
                    continue;
                }
                // FAST_DROP: a quote.
                i += 1;
            }
            // A next word of two letters or more goes on here.
            let letter = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_alphabetic);
            if !(letter(i) && letter(i + 1)) {
                break;
            }
            in_word = true;
            new_word = true;
            after_space = false;
            word = n;
            rewrite = false;
            last = 0;
        }
        out.len = n;
        if in_word {
            self.in_word = true;
            self.after_space = false;
            if new_word {
                self.word = word;
                self.piece = word;
                self.piece_chars = 2;
                self.chain_separator = 0;
                self.rewrite = false;
            }
        } else {
            self.in_word = false;
            self.single = false;
            self.chain_separator = 0;
            self.after_space = after_space;
        }
        i
    }

    /// A letter of a script that does not fold to ASCII: a word character,
    /// written lowercased as UTF-8.
    fn other_letter(&mut self, c: char, start: u32) {
        let mut buf = [0; 4];
        let mut first = true;
        for lower in c.to_lowercase() {
            for &b in lower.encode_utf8(&mut buf).as_bytes() {
                if first {
                    self.start_char();
                    first = false;
                }
                self.out.push(b, start, 1);
            }
        }
    }

    /// A letter or digit (ASCII, after folding).
    #[inline]
    fn word_char(&mut self, b: u8, start: u32) {
        self.start_char();
        let out = &mut *self.out;
        if b.is_ascii_lowercase() && out.len() > self.piece && out.last() == Some(b) {
            out.extend_run();
        } else {
            out.push(b, start, 1);
        }
    }

    /// Bookkeeping for one more word character, before it is written.
    #[inline]
    fn start_char(&mut self) {
        self.after_space = false;
        if !self.in_word {
            self.in_word = true;
            self.piece_chars = 0;
            self.piece = self.out.len();
            if self.pending_separator.is_none() {
                // A new word, not the next piece of a chain.
                self.word = self.piece;
                self.chain_separator = 0;
                self.rewrite = false;
            }
        }
        if self.trailing_symbols > 0 {
            // Symbols between letters are part of the word: `sh!t`.
            self.piece_chars = self.piece_chars.saturating_add(1);
            self.trailing_symbols = 0;
            self.rewrite = true;
        }
        self.piece_chars = self.piece_chars.saturating_add(1);
        if self.piece_chars == 2 && self.pending_separator.is_some() {
            // The piece after the separator is a word: the chain, if any, ended
            // before the separator, and this piece starts a word of its own.
            self.pending_separator = None;
            self.chain_separator = 0;
            self.word = self.piece;
            self.rewrite = self.out.bytes()[self.piece..]
                .iter()
                .any(|b| !b.is_ascii_lowercase() && b.is_ascii());
        }
    }

    /// Ends the current word, if any: joins a chain, applies leetspeak and
    /// collapses repeated letters.
    #[inline]
    fn end_word(&mut self) {
        let pending = self.pending_separator.take();
        if !self.in_word {
            self.single = false;
            return;
        }
        self.in_word = false;
        let mut end = self.out.len() - self.trailing_symbols;
        if let Some(at) = pending {
            // Another single character after the separator: the separator goes.
            self.out.remove(at);
            end -= 1;
            self.rewrite = true;
        }
        if self.rewrite {
            self.rewrite_word(end);
        }
        self.single = self.piece_chars == 1 && self.trailing_symbols == 0;
        self.trailing_symbols = 0;
    }

    /// Applies leetspeak to the word `out[self.word..end]` (if it has two
    /// letters) and merges runs of a repeated letter, in place.
    #[cold]
    fn rewrite_word(&mut self, end: usize) {
        let from = self.word;
        let out = &mut *self.out;
        let letters = out.bytes()[from..end]
            .iter()
            .filter(|b| b.is_ascii_lowercase())
            .count();
        let apply_leet = letters >= 2 && !is_hex_literal(&out.bytes()[from..end]);
        let mut write = from;
        for read in from..end {
            let mut b = out.bytes[read];
            if apply_leet && let Some(letter) = leet(b) {
                b = letter;
            }
            if b.is_ascii_lowercase() && write > from && out.bytes[write - 1] == b {
                if out.mapped {
                    out.runs[write - 1] = out.runs[write - 1].saturating_add(out.runs[read]);
                }
                continue;
            }
            out.bytes[write] = b;
            if out.mapped {
                out.starts[write] = out.starts[read];
                out.runs[write] = out.runs[read];
            }
            write += 1;
        }
        if write < end {
            out.remove_range(write..end);
        }
    }

    /// Punctuation or a symbol: ends the word; `joins` when it may join
    /// spaced-out letters.
    #[inline]
    fn separator(&mut self, b: u8, start: u32, joins: bool) {
        let was_in_word = self.in_word;
        self.end_word();
        self.after_space = false;
        self.out.push(b, start, 1);
        self.maybe_chain(was_in_word, joins, b);
    }

    /// Whitespace: ends the word, written once per run; `joins` for a space.
    #[inline]
    fn space(&mut self, start: u32, joins: bool) {
        let was_in_word = self.in_word;
        self.end_word();
        if self.after_space {
            self.chain_separator = 0;
            return;
        }
        self.after_space = true;
        self.out.push(b' ', start, 1);
        self.maybe_chain(was_in_word, joins, b' ');
    }

    /// After writing separator `b`: if it follows a single character and may
    /// join, remember it, to be removed if a single character follows.
    #[inline]
    fn maybe_chain(&mut self, was_in_word: bool, joins: bool, b: u8) {
        if was_in_word
            && self.single
            && joins
            && (self.chain_separator == 0 || self.chain_separator == b)
            && self.out.len() - 1 - self.word < MAX_CHAIN
        {
            self.chain_separator = b;
            self.pending_separator = Some(self.out.len() - 1);
        } else {
            self.chain_separator = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normalised text, with `~` for symbols.
    fn norm(text: &str) -> String {
        let mut out = Normalised::default();
        normalise(text, &mut out);
        let bytes: Vec<u8> = out
            .bytes()
            .iter()
            .map(|&b| if b == SYMBOL { b'~' } else { b })
            .collect();
        String::from_utf8(bytes).unwrap()
    }

    /// The original text behind the normalised occurrence of `needle`.
    fn original<'t>(text: &'t str, needle: &str) -> &'t str {
        let mut out = Normalised::default();
        normalise(text, &mut out);
        let at = out
            .bytes()
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .unwrap_or_else(|| {
                panic!(
                    "{needle:?} not in {:?}",
                    String::from_utf8_lossy(out.bytes())
                )
            });
        let span = out.original_span(text, at..at + needle.len());
        &text[span]
    }

    fn runs(text: &str) -> Vec<u8> {
        let mut out = Normalised::default();
        normalise(text, &mut out);
        out.runs().to_vec()
    }

    #[test]
    fn plain_text_is_lowercased_with_spaces_collapsed() {
        assert_eq!(norm("Hello,  World!\n\tBye."), "helo, world! bye.");
        assert_eq!(norm("kill -9 1234"), "kil -9 1234");
    }

    #[test]
    fn case() {
        assert_eq!(norm("FuCK"), "fuck");
        assert_eq!(original("I said FUCK.", "fuck"), "FUCK");
    }

    #[test]
    fn diacritics_precomposed_and_combining() {
        assert_eq!(norm("fück"), "fuck");
        assert_eq!(original("a fück b", "fuck"), "fück");
        // `u` + U+0308 COMBINING DIAERESIS, and a mark on the last letter.
        assert_eq!(norm("fu\u{0308}ck"), "fuck");
        assert_eq!(original("x fuck\u{0301} y", "fuck"), "fuck\u{0301}");
        assert_eq!(norm("Crème brûlée"), "creme brule");
    }

    #[test]
    fn leetspeak_inside_words_only() {
        assert_eq!(norm("sh1t"), "shit");
        assert_eq!(norm("5h1t"), "shit");
        assert_eq!(norm("sh!t"), "shit");
        assert_eq!(norm("a$$hole"), "ashole");
        assert_eq!(runs("a$$hole")[1], 2);
        assert_eq!(original("you a$$hole!", "ashole"), "a$$hole");
        // Numbers and words with one letter keep their digits.
        assert_eq!(norm("1234 x86 0x1f a55 v2"), "1234 x86 0x1f a55 v2");
        // Symbols at the edges of a word stay symbols.
        assert_eq!(norm("$hit shit! @home"), "$hit shit! @home");
        assert_eq!(norm("pa55word"), "pasword");
    }

    #[test]
    fn zero_width_inside_a_word() {
        let text = "so fu\u{200B}c\u{200D}k\u{FEFF} it";
        assert_eq!(norm(text), "so fuck it");
        assert_eq!(original(text, "fuck"), "fu\u{200B}c\u{200D}k");
        // A soft hyphen, a tag character, a variation selector.
        assert_eq!(norm("fu\u{00AD}c\u{E0041}k\u{FE0F}"), "fuck");
    }

    #[test]
    fn repeated_letters() {
        assert_eq!(norm("fuuuuuck"), "fuck");
        assert_eq!(runs("fuuuuuck"), [1, 5, 1, 1]);
        assert_eq!(original("fuuuuuckkk!", "fuck"), "fuuuuuckkk");
        assert_eq!(norm("good coffee"), "god cofe");
        assert_eq!(runs("good"), [1, 2, 1]);
        // Repeats across an invisible character are one run.
        assert_eq!(runs("fu\u{200B}uuck")[1], 3);
    }

    #[test]
    fn homoglyphs_and_compatibility_forms() {
        // Cyrillic а, с, е and о in Latin words.
        let text = "an аss and a fоrсе";
        assert_eq!(norm(text), "an as and a force");
        assert_eq!(original(text, "as "), "аss ");
        assert_eq!(norm("ｆｕｃｋ"), "fuck");
        assert_eq!(original("- ｆｕｃｋ -", "fuck"), "ｆｕｃｋ");
        assert_eq!(norm("𝐟𝐮𝐜𝐤"), "fuck");
        assert_eq!(norm("ⓕⓤⓒⓚ"), "fuck");
    }

    #[test]
    fn spaced_out_letters() {
        for text in [
            "f.u.c.k", "f u c k", "f-u-c-k", "f_u_c_k", "f*u*c*k", "F.U.C.K",
        ] {
            assert_eq!(norm(text), "fuck", "{text:?}");
            assert_eq!(original(&format!("oh {text}!"), "fuck"), text);
        }
        assert_eq!(norm("say f.u.c.k."), "say fuck.");
        // Mixed separators, double spaces and words break the chain.
        assert_eq!(norm("f.u-c.k"), "fu-ck");
        assert_eq!(norm("f  u  c  k"), "f u c k");
        assert_eq!(norm("I love a b"), "i love ab");
        assert_eq!(norm("e.g. this"), "eg. this");
        // Leetspeak applies to the joined word.
        assert_eq!(norm("5.h.1.t"), "shit");
        // Repeated letters across the separators are one run.
        assert_eq!(runs("a.s.s"), [1, 2]);
    }

    #[test]
    fn long_chains_stop_joining() {
        let text = "a.b.".repeat(100_000);
        let t = std::time::Instant::now();
        let normalised = norm(&text);
        assert!(t.elapsed().as_secs() < 5, "{:?}", t.elapsed());
        assert!(normalised.starts_with(&"ab".repeat(16)));
        assert!(normalised.len() > 100_000);
    }

    #[test]
    fn quotes_are_dropped_and_symbols_separate_words() {
        assert_eq!(norm("don't \"say\" it’s"), "dont say its");
        assert_eq!(norm("kill😀you"), "kil~you");
        assert_eq!(norm("a—b"), "a~b");
    }

    #[test]
    fn other_scripts_stay_letters() {
        assert_eq!(norm("Жук и кот"), "жyk и kot");
        assert_eq!(norm("東京 fuck"), "東京 fuck");
        assert!(is_word("ж".as_bytes()[0]) && is_word("ж".as_bytes()[1]));
    }

    #[test]
    fn spans_fall_on_character_boundaries_whatever_surrounds_them() {
        let text = "ééé fück ñ 東京fuck ｆｕｃｋ😀";
        let mut out = Normalised::default();
        normalise(text, &mut out);
        for start in 0..out.bytes().len() {
            for end in start + 1..=out.bytes().len() {
                let span = out.original_span(text, start..end);
                assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
                assert!(span.start < span.end && span.end <= text.len());
            }
        }
    }

    #[test]
    fn every_path_writes_the_same() {
        let pieces = [
            "fuck",
            "ing",
            " ",
            "  ",
            "\n",
            "I",
            "a",
            "s",
            "5",
            "h",
            "1",
            "t",
            "$",
            "!",
            "@",
            ".",
            "-",
            "_",
            "*",
            "'",
            "\"",
            "é",
            "\u{200B}",
            "\u{0301}",
            "ж",
            "東",
            "😀",
            "ß",
            "ﬁ",
            "Ｆ",
            "0x1f",
            "goood",
            ",",
            "x86",
            "12",
            "2024",
            "0.2",
            " 4411",
            "7",
            "\t",
            "Abcdefghijk",
            "LONGERWORDS",
            "aab",
        ];
        assert_paths_agree(&pieces, 20000, 10);
    }

    /// Mostly plain code and prose, where the fast path runs longest, with
    /// what stops it now and then.
    #[test]
    fn plain_code_is_written_the_same_by_every_path() {
        let pieces = [
            "fn",
            "handle",
            "Request",
            " ",
            " ",
            ", ",
            "(",
            ")",
            "::",
            "-> ",
            "{",
            "\n",
            "\t",
            "a",
            "I",
            " x ",
            "word",
            "Hello",
            "look",
            "e.g.",
            "1",
            "'",
            "é",
            "  ",
            ".",
            "*",
            "abcdefghijklmnopq",
            "ZZtop",
            "Ab",
            "s",
            "\0",
            "_",
            "|x| ",
            "debug!(",
            " || ",
            "!=",
            "a!",
            "|",
            "!",
            "u8",
            " i32,",
            "E0308",
            "x86_64",
            "h3ll",
            "a12345",
            "v0.",
        ];
        assert_paths_agree(&pieces, 20000, 30);
    }

    /// Normalises `texts` texts of `length` pieces each, drawn from `pieces`,
    /// with and without the map and with and without the fast path, and
    /// checks that all write the same.
    fn assert_paths_agree(pieces: &[&str], texts: usize, length: usize) {
        let (mut fast, mut slow, mut bytes_only) = (
            Normalised::default(),
            Normalised::default(),
            Normalised::default(),
        );
        let seed = 0x9e37_79b9_7f4a_7c15;
        for text in sluice_plugin_sdk::testing::texts_from(pieces, texts, length, seed) {
            normalise(&text, &mut fast);
            run::<true, false, false>(&text, &mut slow);
            normalise_bytes(&text, &mut bytes_only);
            assert_eq!(fast.bytes(), slow.bytes(), "{text:?}");
            assert_eq!(fast.starts(), slow.starts(), "{text:?}");
            assert_eq!(fast.runs(), slow.runs(), "{text:?}");
            assert_eq!(fast.bytes(), bytes_only.bytes(), "{text:?}");
            assert_eq!(bytes_only.was_ascii(), text.is_ascii(), "{text:?}");
            assert_eq!(fast.was_ascii(), text.is_ascii(), "{text:?}");
            assert_blocks_agree(&text, &slow);
        }
    }

    /// Checks that the fast path with its sixteen-byte blocks (on every
    /// target here) writes what the general path wrote, `reference`, and
    /// leaves the same state behind: a continuation that joins the last word
    /// (digits, a chain) must read the same too.
    fn assert_blocks_agree(text: &str, reference: &Normalised) {
        let mut blocks = Normalised::default();
        run::<false, true, true>(text, &mut blocks);
        assert_eq!(blocks.bytes(), reference.bytes(), "{text:?}");
        assert_eq!(blocks.was_ascii(), text.is_ascii(), "{text:?}");
        for tail in ["5.h.1.t", "1a", ".a.b"] {
            let text = format!("{text}{tail}");
            let mut slow = Normalised::default();
            run::<true, false, false>(&text, &mut slow);
            run::<false, true, true>(&text, &mut blocks);
            assert_eq!(blocks.bytes(), slow.bytes(), "{text:?}");
        }
    }

    /// Quotes, doubled letters, whitespace, numbers and what stops the fast
    /// path, at every offset in and around the first blocks of plain text.
    #[test]
    fn blocks_write_the_same_whatever_straddles_their_edges() {
        let pieces = [
            "'",
            "\"",
            "''",
            "\"\"\"\"",
            "``'`",
            "ss",
            " \"\"\"\" ",
            "oo",
            "Oo",
            "ee'e",
            "  ",
            "\n\t ",
            " \"  ",
            "12",
            "1",
            "12a",
            "a1",
            "1'",
            "'12",
            "12\"",
            "@",
            "!",
            "$x",
            "|",
            "é",
            "ж",
            "a b",
            " x ",
            "4o",
            "0.2",
            "''a",
            "a'b",
            ", b",
            " bb",
            "-",
            "\0",
            "\x7f",
            "1024,",
            "|x| ",
            "x!(",
            "!!",
            "a |b",
            "a b c",
            "u8 ",
            "u8 1 ",
            "E0308]",
            "i32x",
            "b4d",
            "x1234 ",
            "x12345 ",
        ];
        let base = "Handle request, Result {Some(x)} elapsed_ms = fallback retries. ";
        let base = base.repeat(2);
        for piece in pieces {
            for at in 0..40 {
                let mut text = base.clone();
                text.insert_str(at, piece);
                let mut slow = Normalised::default();
                run::<true, false, false>(&text, &mut slow);
                assert_blocks_agree(&text, &slow);
            }
        }
    }

    #[test]
    fn blocks_write_the_benchmark_text_the_same() {
        let text = sluice_plugin_sdk::testing::agent_text(1 << 16);
        let mut slow = Normalised::default();
        run::<true, false, false>(&text, &mut slow);
        assert_blocks_agree(&text, &slow);
    }

    #[test]
    fn output_is_never_much_longer_than_input() {
        let text = "ﬃ ß Ⱥ ǅ ㎒ ŉ";
        let mut out = Normalised::default();
        normalise(text, &mut out);
        assert!(out.bytes().len() <= text.len() + 4);
    }
}
