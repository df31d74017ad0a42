//! Sixteen bytes at a time: the byte classes of the normaliser's fast path as
//! bitmasks, so that a stretch of plain code or prose (words of two letters or
//! more, single spaces, punctuation) is written with one store and no branch
//! per byte.
//!
//! [`classify`] turns sixteen bytes into [`Classes`]: bit `i` of each mask is
//! byte `i`. With WebAssembly SIMD (the built-in plugins are compiled with
//! `+simd128`) that is a handful of `i8x16` compares and a bitmask each; other
//! targets use two `u64` halves ([`crate::swar`]), for the tests: natively the
//! byte loops are faster ([`PAYS`]). [`Classes::plain`] then says how much of the block the
//! fast path would write unchanged but for lowercasing. A unit test checks
//! both against the byte-at-a-time classes on every byte value at every
//! position; the normaliser's test compares the paths on generated texts.

/// Whether blocks pay: with WebAssembly SIMD (the built-in plugins) the
/// normaliser and the word scan go sixteen bytes at a time where they can.
/// Natively, without SIMD here, the `u64` emulation costs more than the byte
/// loops it replaces (the `throughput` example's coding text: 330 MB/s
/// without, 197 MB/s with), so both keep their byte loops; tests use the
/// blocks on every target.
pub const PAYS: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// The classes of sixteen bytes of text, bit `i` for byte `i`, and the bytes
/// as the fast path writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes {
    /// The bytes lowercased, whitespace and control characters as a space,
    /// anything else as it is.
    pub bytes: [u8; 16],
    /// ASCII letters.
    pub letters: u16,
    /// Whitespace and control characters (`0..=0x20`, `0x7F`).
    pub spaces: u16,
    /// Bytes that need the general path or the byte-by-byte fast path:
    /// non-ASCII, digits, leetspeak symbols (`@ $ ! |`) and quotes
    /// (`' " ` `).
    pub stops: u16,
    /// Bytes equal to the byte before once both are lowercased (to `last`, a
    /// lowercase letter or 0, for the first); only meaningful where both are
    /// letters.
    pub repeats: u16,
}

/// The part of a block the fast path may write in one step (see
/// [`Classes::plain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plain {
    /// Bytes written and consumed: the next byte is a letter inside a word of
    /// two letters or more.
    pub len: usize,
    /// Where the word that goes on at `len` starts in the block, when it
    /// started inside it (not before the block).
    pub word: Option<usize>,
    /// The letter before `len`, lowercased; 0 when a word starts at `len`.
    pub last: u8,
}

impl Classes {
    /// How much of the block the fast path may write as [`Classes::bytes`],
    /// when byte 0 is a letter inside a plain word (after `last`, or its first
    /// letter when `last` is 0) and `next_is_letter` tells whether the byte
    /// after the block is an ASCII letter. `None` when the block holds a byte
    /// that needs more (a digit, a quote, a leetspeak symbol, a character
    /// outside ASCII), a run of whitespace, a repeated letter or a word of one
    /// letter, or when no letter after byte 0 gives a place to stop.
    #[inline]
    pub fn plain(&self, next_is_letter: bool) -> Option<Plain> {
        let letters = self.letters;
        // Byte 0 continues the word in progress.
        let before_letter = (letters << 1) | 1;
        let after_letter = (letters >> 1) | (u16::from(next_is_letter) << 15);
        let starts = letters & !before_letter;
        if self.stops != 0
            || self.spaces & (self.spaces << 1) != 0
            || self.repeats & letters & before_letter != 0
            || starts & !after_letter != 0
        {
            return None;
        }
        // Stop at a letter: the last one, or after the block inside a word.
        let len = if letters & (1 << 15) != 0 && next_is_letter {
            16
        } else {
            let later = letters & !1;
            if later == 0 {
                return None;
            }
            15 - later.leading_zeros() as usize
        };
        let to = |at: usize| u16::MAX.checked_shr(16 - at as u32).unwrap_or(0);
        let started = starts & (to(len) | 1 << (len & 15));
        let word = (started != 0).then(|| 15 - started.leading_zeros() as usize);
        let last = if word == Some(len) {
            0
        } else {
            self.bytes[len - 1]
        };
        Some(Plain { len, word, last })
    }
}

/// The classes of `chunk`, with `last` taken as the byte before it.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub fn classify(chunk: &[u8; 16], last: u8) -> Classes {
    use core::arch::wasm32::*;
    #[allow(unsafe_code)]
    // SAFETY: `chunk` is sixteen readable bytes; `v128.load` has no alignment
    // requirement.
    let x = unsafe { v128_load(chunk.as_ptr().cast()) };
    let splat = u8x16_splat;
    let lower = v128_or(x, splat(0x20));
    let letters = u8x16_lt(u8x16_sub(lower, splat(b'a')), splat(26));
    let spaces = v128_or(u8x16_lt(x, splat(0x21)), u8x16_eq(x, splat(0x7F)));
    let digits = u8x16_lt(u8x16_sub(x, splat(b'0')), splat(10));
    let eq = |c: u8| u8x16_eq(x, splat(c));
    let stops = v128_or(
        v128_or(
            v128_or(digits, i8x16_lt(x, i8x16_splat(0))),
            v128_or(eq(b'@'), eq(b'$')),
        ),
        v128_or(
            v128_or(eq(b'!'), eq(b'|')),
            v128_or(eq(b'\''), v128_or(eq(b'"'), eq(b'`'))),
        ),
    );
    let before =
        i8x16_shuffle::<16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>(lower, splat(last));
    let written = v128_bitselect(
        splat(b' '),
        v128_or(x, v128_and(letters, splat(0x20))),
        spaces,
    );
    let mut bytes = [0u8; 16];
    #[allow(unsafe_code)]
    // SAFETY: `bytes` is sixteen writable bytes; `v128.store` has no alignment
    // requirement.
    unsafe {
        v128_store(bytes.as_mut_ptr().cast(), written)
    };
    Classes {
        bytes,
        letters: u8x16_bitmask(letters),
        spaces: u8x16_bitmask(spaces),
        stops: u8x16_bitmask(stops),
        repeats: u8x16_bitmask(u8x16_eq(lower, before)),
    }
}

/// The classes of `chunk`, with `last` taken as the byte before it.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
pub fn classify(chunk: &[u8; 16], last: u8) -> Classes {
    use crate::swar::{HIGH, ONES};
    let half = |at: usize| u64::from_le_bytes(chunk[at..at + 8].try_into().expect("8 bytes"));
    let (low, high) = (half(0), half(8));
    let classes = |x: u64| {
        let letters = swar::alphabetic(x);
        let spaces = swar::below(x, 0x21) | swar::zero(x ^ (ONES * 0x7F));
        let mut stops = (x & HIGH) | swar::digit(x);
        for symbol in *b"@$!|'\"`" {
            stops |= swar::zero(x ^ (ONES * u64::from(symbol)));
        }
        let fill = (spaces >> 7) * 0xFF;
        let written = ((x | (letters >> 2)) & !fill) | (fill & (ONES * 0x20));
        (letters, spaces, stops, written)
    };
    let (lo, hi) = (classes(low), classes(high));
    let (lower_low, lower_high) = (low | (ONES * 0x20), high | (ONES * 0x20));
    let repeats_low = swar::zero(lower_low ^ ((lower_low << 8) | u64::from(last)));
    let repeats_high = swar::zero(lower_high ^ ((lower_high << 8) | (lower_low >> 56)));
    let join = |low: u64, high: u64| swar::bits(low) | swar::bits(high) << 8;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&lo.3.to_le_bytes());
    bytes[8..].copy_from_slice(&hi.3.to_le_bytes());
    Classes {
        bytes,
        letters: join(lo.0, hi.0),
        spaces: join(lo.1, hi.1),
        stops: join(lo.2, hi.2),
        repeats: join(repeats_low, repeats_high),
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use crate::swar;

#[cfg(test)]
mod tests {
    use super::*;

    /// The classes of `chunk`, one byte at a time.
    fn bytewise(chunk: &[u8; 16], last: u8) -> Classes {
        let mut classes = Classes {
            bytes: [0; 16],
            letters: 0,
            spaces: 0,
            stops: 0,
            repeats: 0,
        };
        for (i, &b) in chunk.iter().enumerate() {
            let bit = 1 << i;
            let before = if i == 0 { last } else { chunk[i - 1] };
            classes.bytes[i] = match b {
                _ if b.is_ascii_alphabetic() => b.to_ascii_lowercase(),
                0..=0x20 | 0x7F => b' ',
                _ => b,
            };
            if b.is_ascii_alphabetic() {
                classes.letters |= bit;
            }
            if b <= 0x20 || b == 0x7F {
                classes.spaces |= bit;
            }
            if b >= 0x80 || b.is_ascii_digit() || b"@$!|'\"`".contains(&b) {
                classes.stops |= bit;
            }
            if b | 0x20 == if i == 0 { last } else { before | 0x20 } {
                classes.repeats |= bit;
            }
        }
        classes
    }

    #[test]
    fn classes_agree_with_the_byte_at_a_time_classes_on_every_byte_anywhere() {
        for b in 0..=255u8 {
            for filler in [b'a', b'Z', b'0', b' ', b'.', 0xC3, b'"'] {
                for position in 0..16 {
                    let mut chunk = [filler; 16];
                    chunk[position] = b;
                    for last in [0, b, b'a', filler | 0x20] {
                        assert_eq!(
                            classify(&chunk, last),
                            bytewise(&chunk, last),
                            "{chunk:?} after {last}"
                        );
                    }
                }
            }
        }
    }

    fn plain(text: &[u8; 17], last: u8) -> Option<Plain> {
        let chunk = text[..16].try_into().unwrap();
        classify(chunk, last).plain(text[16].is_ascii_alphabetic())
    }

    #[test]
    fn plain_stops_at_the_last_letter_and_names_the_word_there() {
        type Case = (&'static [u8; 17], u8, Option<(usize, Option<usize>, u8)>);
        let cases: [Case; 19] = [
            (b"edit, world) { fn", b'r', Some((16, Some(15), b'f'))),
            (b"edit world fix ab", b'r', Some((16, Some(15), b'a'))),
            (b"edit world fuzBar", b'r', Some((16, Some(11), b'a'))),
            (b"editworldfuzbars.", b'r', Some((15, None, b'r'))),
            (b"edit world fix. x", b'r', Some((13, Some(11), b'i'))),
            (b"ab..............x", 0, Some((1, None, b'a'))),
            // One letter alone, at the end of the block or inside it.
            (b"edit, world) { f.", b'r', None),
            (b"edit world fix:a.", b'r', None),
            (b"edit, w world fix", b'r', None),
            // A repeated letter, also the one before the block.
            (b"editworldfuzbaar.", b'r', None),
            (b"lo world fix bar.", b'l', None),
            // Runs of whitespace.
            (b"edit  world fix a", b'r', None),
            (b"edit\n world fixab", b'r', None),
            // Quotes, digits, leetspeak symbols, bytes outside ASCII.
            (b"edit 'world' fixa", b'r', None),
            (b"edit world 2 fixa", b'r', None),
            (b"edit world$ fixab", b'r', None),
            (b"edit w\xc3\xa9rld fixab", b'r', None),
            // No letter after the first to stop at.
            (b"e...............x", 0, None),
            (b"e.............. x", 0, None),
        ];
        for (text, last, expected) in cases {
            let found = plain(text, last).map(|p| (p.len, p.word, p.last));
            assert_eq!(found, expected, "{:?}", String::from_utf8_lossy(text));
        }
    }
}
