//! Sixteen bytes of the normaliser's fast path at once, for the built-in
//! plugin's WebAssembly SIMD: classify the bytes, lowercase the letters with
//! one `or`, and write the block with its quotes, repeated letters and
//! repeated whitespace compacted away by one byte shuffle (a table of
//! shuffles per eight-bit mask, as simdjson does).
//!
//! [`block`] tells the fast path what the block's bytes become and where the
//! fast path, taken one byte at a time, would stop in it ([`Block::trouble`]):
//! digits that are not a number standing alone, leetspeak symbols, bytes
//! outside ASCII, a word of a single letter that may start a chain of
//! spaced-out letters. The fast path writes the block when there is no
//! trouble, and otherwise the part before the last word that starts before
//! the trouble, and leaves the rest to its byte loops.
//!
//! A word of a single letter followed by whitespace or punctuation and then
//! two letters (`a word`, `x.name`) is no trouble: the piece after the
//! separator is a word, which ends any chain, and the general path writes the
//! bytes as they are. Blocks take it where the byte loops stop, and a word
//! of one letter and digits (`u8`, `i32`, `E0308`), which has no
//! leetspeak (that takes two letters) and is no single character. (Leetspeak
//! symbols that are plainly punctuation, `|x|` or `debug!(`, were tried the
//! same way and made the sandbox benchmark's texts slower, not faster.)
//!
//! Natively the same steps run one byte at a time (a twin of the SIMD code,
//! so that the tests run on every target); they are slower there than the
//! byte loops, so only the WebAssembly build takes blocks ([`PAYS`]).

use super::{FAST, FAST_LETTER, FAST_PUNCT, FAST_SPACE};

/// Whether the fast path takes blocks: with WebAssembly SIMD (the built-in
/// plugins). Natively the byte-at-a-time twin costs more than the byte loops
/// it replaces; tests take blocks on every target.
pub const PAYS: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// What sixteen bytes of text become on the fast path, bit `i` of each mask
/// for byte `i`.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    /// The bytes as the fast path writes them: letters lowercased, whitespace
    /// as a space, the rest as it is.
    written: Lanes,
    /// The bytes written: not quotes, nor letters that repeat the letter
    /// before them in the word, nor whitespace after whitespace.
    pub keep: u16,
    /// Letters that start a word.
    pub starts: u16,
    /// Where the fast path, a byte at a time, would stop (or could not be
    /// followed here): only the bytes before the last word start at or
    /// before the first of these are the fast path's.
    pub trouble: u16,
    /// The last byte of the block that was not a quote, as written (the
    /// block's `last` when it is all quotes): what the next block follows.
    pub last: u8,
}

/// The classes of sixteen bytes and what comes before each, bit `i` for byte
/// `i`: what [`block`] computes with SIMD or a byte at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Masks {
    letter: u16,
    digit: u16,
    /// Whitespace and control characters.
    space: u16,
    quote: u16,
    /// Leetspeak symbols and bytes outside ASCII.
    stop: u16,
    /// Letters and whitespace that repeat the last byte before them that is
    /// not a quote.
    repeat: u16,
    /// Bytes whose last byte before them that is not a quote is a letter.
    after_letter: u16,
    /// Quotes after three quotes or more: what comes before them is not known.
    unresolved: u16,
}

impl Block {
    /// Writes the bytes of `keep` (a subset of [`Block::keep`]) at the start
    /// of `out`, which must have room for sixteen bytes (the bytes after those
    /// kept are overwritten with others of the block); returns how many.
    #[inline]
    pub fn write(&self, keep: u16, out: &mut [u8]) -> usize {
        write(self.written, keep, out);
        keep.count_ones() as usize
    }
}

/// The fast path's view of `chunk`, the sixteen bytes after a byte whose
/// written form (see [`Block::last`]) is `last`, or 0 at the start of a word;
/// `next` is the byte after the chunk.
#[inline]
pub fn block(chunk: &[u8; 16], next: u8, last: u8) -> Block {
    let (written, masks, end) = classify(chunk, last);
    let (keep, starts, trouble) = plan(&masks, next);
    Block {
        written,
        keep,
        starts,
        trouble,
        last: end,
    }
}

/// Where the fast path stops or would have to be followed byte by byte.
/// Returns (keep, starts, trouble), see [`Block`].
#[inline]
fn plan(m: &Masks, next: u8) -> (u16, u16, u16) {
    let class = |b: u8| if b < 0x80 { FAST[b as usize] } else { 0xFF };
    let next_class = class(next);
    let bit = |yes: bool| u16::from(yes) << 15;
    let punct = !(m.letter | m.digit | m.space | m.quote | m.stop);
    let next_letter = m.letter >> 1 | bit(next_class == FAST_LETTER);
    let next_digit = m.digit >> 1 | bit(next.is_ascii_digit());
    let next_clean = (m.space | punct) >> 1
        | bit(!next.is_ascii_digit() && matches!(next_class, FAST_SPACE | FAST_PUNCT));
    let starts = m.letter & !m.after_letter;
    // A number: two digits or more between words, followed by whitespace or
    // punctuation (`plain_number`), and none ends at the block's end.
    let number_start = m.digit & !(m.digit << 1);
    let number_end = m.digit & !next_digit;
    // A word of one letter and digits (`u8`, `i32`, `E0308`): one letter is
    // no leetspeak, and two characters no chain; written as it is (what ends
    // it is checked as any number's end is). Its letters, and its digits: the
    // runs of digits right after them (the carry of an addition runs to each
    // one's end).
    let letter_numbers = starts & m.digit >> 1;
    let first_digits = letter_numbers << 1;
    let past_digits = m.digit.wrapping_add(first_digits) & !m.digit;
    let their_digits = past_digits.wrapping_sub(first_digits);
    let bad_number = ((m.digit & m.after_letter) & !their_digits)
        | (number_start & !next_digit & !their_digits)
        | (number_end & !next_clean)
        | (m.digit & 0x8000);
    // Single letters that start no chain: the piece after their separator is
    // a word (two letters; the general path then drops any pending chain).
    let single = starts & !next_letter & !letter_numbers;
    let before_word = next_clean & m.letter >> 2 & m.letter >> 3;
    let trouble = m.stop | m.unresolved | (single & !before_word) | bad_number;
    let keep = !(m.quote | m.repeat);
    (keep, starts, trouble)
}

/// Leetspeak symbols: letters inside a word.
const LEET: [u8; 4] = [b'@', b'$', b'!', b'|'];

/// The written bytes, the masks and the last written byte (see [`block`]),
/// sixteen bytes at once.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn classify(chunk: &[u8; 16], last: u8) -> (Lanes, Masks, u8) {
    use core::arch::wasm32::*;
    #[allow(unsafe_code)]
    // SAFETY: sixteen readable bytes; `v128.load` has no alignment requirement.
    let x = unsafe { v128_load(chunk.as_ptr().cast()) };
    let splat = u8x16_splat;
    let is = |b: u8| u8x16_eq(x, splat(b));
    let lower = v128_or(x, splat(0x20));
    let letter = u8x16_lt(u8x16_sub(lower, splat(b'a')), splat(26));
    let digit = u8x16_lt(u8x16_sub(x, splat(b'0')), splat(10));
    let space = v128_or(u8x16_le(x, splat(b' ')), is(0x7F));
    let quote = v128_or(v128_or(is(b'\''), is(b'"')), is(b'`'));
    let leet = v128_or(
        v128_or(is(LEET[0]), is(LEET[1])),
        v128_or(is(LEET[2]), is(LEET[3])),
    );
    let stop = v128_or(leet, i8x16_lt(x, i8x16_splat(0)));
    let written = v128_bitselect(splat(b' '), v128_bitselect(lower, x, letter), space);
    // The last byte that is not a quote, up to each byte: quotes take the
    // byte before them, then (runs of quotes) the one two bytes before.
    let carry = splat(last);
    let zero = splat(0);
    let one = |v: v128, before: v128| {
        u8x16_shuffle::<15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30>(before, v)
    };
    let two = |v: v128, before: v128| {
        u8x16_shuffle::<14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29>(before, v)
    };
    let upto = v128_bitselect(one(written, carry), written, quote);
    let runs = v128_and(quote, one(quote, zero));
    let upto = v128_bitselect(two(upto, carry), upto, runs);
    let unresolved = v128_and(runs, two(runs, zero));
    let before = one(upto, carry);
    let before_letter = u8x16_lt(u8x16_sub(before, splat(b'a')), splat(26));
    let repeat = v128_and(v128_or(letter, space), u8x16_eq(before, written));
    let masks = Masks {
        letter: u8x16_bitmask(letter),
        digit: u8x16_bitmask(digit),
        space: u8x16_bitmask(space),
        quote: u8x16_bitmask(quote),
        stop: u8x16_bitmask(stop),
        repeat: u8x16_bitmask(repeat),
        after_letter: u8x16_bitmask(before_letter),
        unresolved: u8x16_bitmask(unresolved),
    };
    (written, masks, u8x16_extract_lane::<15>(upto))
}

/// The written bytes, the masks and the last written byte (see [`block`]),
/// a byte at a time: the same steps as the SIMD code, lane by lane.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn classify(chunk: &[u8; 16], last: u8) -> (Lanes, Masks, u8) {
    let class = |x: u8| if x < 0x80 { FAST[x as usize] } else { 0xFF };
    let lanes = |f: &dyn Fn(usize) -> u8| -> [u8; 16] { std::array::from_fn(f) };
    let flag = |yes: bool| if yes { 0xFF } else { 0 };
    let letter = lanes(&|i| flag(class(chunk[i]) == FAST_LETTER));
    let space = lanes(&|i| flag(class(chunk[i]) == FAST_SPACE));
    let quote = lanes(&|i| flag(class(chunk[i]) == super::FAST_DROP));
    let written = lanes(&|i| match (letter[i], space[i]) {
        (0xFF, _) => chunk[i] | 0x20,
        (_, 0xFF) => b' ',
        _ => chunk[i],
    });
    // `one` and `two`: each lane takes the lane one or two before it, the
    // first lanes `before`'s.
    let one = |v: &[u8; 16], before: u8| lanes(&|i| if i >= 1 { v[i - 1] } else { before });
    let two = |v: &[u8; 16], before: u8| lanes(&|i| if i >= 2 { v[i - 2] } else { before });
    let select = |a: &[u8; 16], b: &[u8; 16], mask: &[u8; 16]| {
        lanes(&|i| if mask[i] != 0 { a[i] } else { b[i] })
    };
    let and = |a: &[u8; 16], b: &[u8; 16]| lanes(&|i| a[i] & b[i]);
    let upto = select(&one(&written, last), &written, &quote);
    let runs = and(&quote, &one(&quote, 0));
    let upto = select(&two(&upto, last), &upto, &runs);
    let unresolved = and(&runs, &two(&runs, 0));
    let before = one(&upto, last);
    let bits = |f: &dyn Fn(usize) -> bool| (0..16).fold(0u16, |m, i| m | u16::from(f(i)) << i);
    let masks = Masks {
        letter: bits(&|i| letter[i] != 0),
        digit: bits(&|i| chunk[i].is_ascii_digit()),
        space: bits(&|i| space[i] != 0),
        quote: bits(&|i| quote[i] != 0),
        stop: bits(&|i| chunk[i] >= 0x80 || LEET.contains(&chunk[i])),
        repeat: bits(&|i| (letter[i] | space[i]) != 0 && before[i] == written[i]),
        after_letter: bits(&|i| before[i].is_ascii_lowercase()),
        unresolved: bits(&|i| unresolved[i] != 0),
    };
    (written, masks, upto[15])
}

/// The written bytes of a block: a SIMD vector, or an array natively.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
type Lanes = core::arch::wasm32::v128;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
type Lanes = [u8; 16];

/// For each eight-bit mask, the indices of its set bits in order, one per
/// byte (the shuffle that gathers those bytes of eight).
static GATHER: [u64; 256] = {
    let mut table = [0; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut indices, mut at, mut bit) = (0u64, 0, 0);
        while bit < 8 {
            if mask & (1 << bit) != 0 {
                indices |= (bit as u64) << (8 * at);
                at += 1;
            }
            bit += 1;
        }
        table[mask] = indices;
        mask += 1;
    }
    table
};

/// Writes the bytes of `written` selected by `keep` at the start of `out`
/// (room for sixteen): one shuffle per half, two eight-byte stores.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn write(written: Lanes, keep: u16, out: &mut [u8]) {
    use core::arch::wasm32::*;
    let out = &mut out[..16];
    let (low, high) = (usize::from(keep as u8), usize::from(keep >> 8));
    let indices = u64x2(GATHER[low], GATHER[high] | 0x0808_0808_0808_0808);
    let gathered = u8x16_swizzle(written, indices);
    let second = low.count_ones() as usize;
    #[allow(unsafe_code)]
    // SAFETY: `out` has sixteen bytes, so both eight-byte stores (at 0 and at
    // most 8) are inside it; `v128.store64_lane` has no alignment requirement.
    unsafe {
        v128_store64_lane::<0>(gathered, out.as_mut_ptr().cast());
        v128_store64_lane::<1>(gathered, out.as_mut_ptr().add(second).cast());
    }
}

/// Writes the bytes of `written` selected by `keep` at the start of `out`, a
/// byte at a time with the same table as the SIMD code.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn write(written: Lanes, keep: u16, out: &mut [u8]) {
    let mut at = 0;
    for (half, mask) in [(0, keep as u8), (8, (keep >> 8) as u8)] {
        let indices = GATHER[usize::from(mask)].to_le_bytes();
        for &index in &indices[..mask.count_ones() as usize] {
            out[at] = written[half + usize::from(index)];
            at += 1;
        }
    }
}
