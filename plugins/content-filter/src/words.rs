//! The words of a normalised text, as the matcher's first-word table sees
//! them: where a word ends, and a hash of its bytes.
//!
//! A word is a run of ASCII letters and digits and of letters of scripts
//! written with spaces ([`joins_after`]). Most words are short runs of ASCII
//! letters, so both steps go eight bytes at a time: the end is found with a
//! SWAR test of eight bytes at once, and the hash mixes eight bytes per
//! multiplication. (One multiplication per byte made the hash a chain of
//! dependent multiplications, the slowest step of a clean text's scan.) The
//! hash only has to agree with itself: it picks which words to look up in the
//! automaton, which then decides.

use crate::normalise::{SYMBOL, char_at, joins_after};
use crate::swar::{self, load};

/// The end of the word that starts at `at` in the normalised `bytes`.
#[inline]
pub fn end(bytes: &[u8], at: usize) -> usize {
    let mut end = at;
    loop {
        while let Some(chunk) = load(bytes, end) {
            let letters = swar::leading(swar::alphanumeric(chunk));
            end += letters;
            if letters < 8 {
                break;
            }
        }
        while bytes.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            end += 1;
        }
        match bytes.get(end) {
            // A letter of another script written with spaces: all its bytes.
            Some(&b) if b >= 0x80 && b != SYMBOL && joins_after(bytes, end) => {
                end += char_at(bytes, end).map_or(1, char::len_utf8);
            }
            _ => return end.min(bytes.len()),
        }
    }
}

/// A hash of `bytes[at..end]`, never zero.
#[inline]
pub fn hash(bytes: &[u8], at: usize, end: usize) -> u64 {
    let mix = |hash: u64, x: u64| (hash.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ (end - at) as u64;
    let mut i = at;
    while end - i >= 8 {
        hash = mix(hash, load(bytes, i).expect("inside the word"));
        i += 8;
    }
    if i < end {
        let n = end - i;
        let chunk = load(bytes, i).unwrap_or_else(|| {
            let mut buf = [0; 8];
            buf[..n].copy_from_slice(&bytes[i..end]);
            u64::from_le_bytes(buf)
        });
        hash = mix(hash, chunk & (u64::MAX >> (64 - 8 * n)));
    }
    hash | 1
}

/// The end of the word that starts at `at` and its hash.
#[inline]
pub fn end_and_hash(bytes: &[u8], at: usize) -> (usize, u64) {
    let end = end(bytes, at);
    (end, hash(bytes, at, end))
}

/// Whether [`block`] pays: with WebAssembly SIMD (the built-in plugins) the
/// word scan takes the words of 64 bytes at once where it can. Natively,
/// without SIMD here, the `u64` emulation costs more than the byte loop it
/// replaces (the `content_filter_throughput` example's matcher stage on its coding text:
/// 708 MB/s without, 564 MB/s with), so the scan keeps its byte loop; tests
/// use the blocks on every target.
pub const BLOCKS_PAY: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// A set of ASCII bytes (the first bytes of keys that start with
/// punctuation) as the table [`block`] looks them up in: per low nibble, one
/// bit per high nibble (0 to 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSet {
    by_low_nibble: [u8; 16],
}

impl ByteSet {
    /// The set of the bytes `b` below 0x80 with `set[b]`.
    pub fn new(set: &[bool; 128]) -> Self {
        let mut by_low_nibble = [0; 16];
        for (b, _) in set.iter().enumerate().filter(|(_, in_set)| **in_set) {
            by_low_nibble[b & 15] |= 1 << (b >> 4);
        }
        ByteSet { by_low_nibble }
    }

    /// Whether `b` is in the set.
    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        b < 0x80 && self.by_low_nibble[usize::from(b & 15)] & (1 << (b >> 4)) != 0
    }
}

/// What the word scan needs to know of sixteen normalised bytes, bit `i` for
/// byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// ASCII letters and digits.
    pub alphanumeric: u16,
    /// Bytes the scan looks at one by one: outside ASCII (letters of other
    /// scripts, symbols) and in `first_bytes`.
    pub others: u16,
}

/// The [`Block`] of `chunk`, with `first_bytes` the punctuation that starts
/// a key.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
pub fn block(chunk: &[u8; 16], first_bytes: &ByteSet) -> Block {
    use core::arch::wasm32::*;
    /// One bit per high nibble of ASCII, none above.
    const HIGH_NIBBLES: v128 = u8x16(1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0);
    #[allow(unsafe_code)]
    // SAFETY: both are sixteen readable bytes; `v128.load` has no alignment
    // requirement.
    let (x, by_low) = unsafe {
        (
            v128_load(chunk.as_ptr().cast()),
            v128_load(first_bytes.by_low_nibble.as_ptr().cast()),
        )
    };
    let splat = u8x16_splat;
    let letters = u8x16_lt(u8x16_sub(v128_or(x, splat(0x20)), splat(b'a')), splat(26));
    let digits = u8x16_lt(u8x16_sub(x, splat(b'0')), splat(10));
    let low = u8x16_swizzle(by_low, v128_and(x, splat(15)));
    let high = u8x16_swizzle(HIGH_NIBBLES, u8x16_shr(x, 4));
    let first = v128_not(u8x16_eq(v128_and(low, high), splat(0)));
    Block {
        alphanumeric: u8x16_bitmask(v128_or(letters, digits)),
        others: u8x16_bitmask(v128_or(first, i8x16_lt(x, i8x16_splat(0)))),
    }
}

/// The [`Block`] of `chunk`, with `first_bytes` the punctuation that starts
/// a key.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
pub fn block(chunk: &[u8; 16], first_bytes: &ByteSet) -> Block {
    let half = |at: usize| u64::from_le_bytes(chunk[at..at + 8].try_into().expect("8 bytes"));
    let (low, high) = (half(0), half(8));
    let join = |f: fn(u64) -> u64| swar::bits(f(low)) | swar::bits(f(high)) << 8;
    let mut others = join(|x| x & swar::HIGH);
    for (i, &b) in chunk.iter().enumerate() {
        others |= u16::from(first_bytes.contains(b)) << i;
    }
    Block {
        alphanumeric: join(swar::alphanumeric),
        others,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word's end, one byte at a time.
    fn plain_end(bytes: &[u8], at: usize) -> usize {
        let mut end = at;
        while let Some(&b) = bytes.get(end) {
            if b.is_ascii_alphanumeric() {
                end += 1;
            } else if b >= 0x80 && b != SYMBOL && joins_after(bytes, end) {
                end += char_at(bytes, end).map_or(1, char::len_utf8);
            } else {
                break;
            }
        }
        end.min(bytes.len())
    }

    #[test]
    fn ends_are_those_of_a_byte_by_byte_scan() {
        let pieces: [&[u8]; 12] = [
            b"a",
            b"Z9",
            b"word",
            b"longerword",
            b" ",
            b".",
            b"_",
            "ж".as_bytes(),
            "東".as_bytes(),
            &[SYMBOL],
            b"0x1f",
            "é".as_bytes(),
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5000 {
            let mut text = Vec::new();
            for _ in 0..8 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            for at in 0..text.len() {
                assert_eq!(end(&text, at), plain_end(&text, at), "{text:?} at {at}");
            }
        }
    }

    #[test]
    fn hashes_depend_on_the_word_only() {
        let text = b"fuck fucking xfuck fuck";
        let at = |i: usize| end_and_hash(text, i).1;
        assert_eq!(at(0), at(19));
        assert_ne!(at(0), at(5));
        assert_ne!(at(0), at(13));
        // At the end of the text, fewer than eight bytes are left to load.
        assert_eq!(hash(b"fucking", 0, 7), hash(b"fucking and more", 0, 7));
        assert_ne!(hash(b"a", 0, 1), hash(b"a\0", 0, 2));
    }

    #[test]
    fn blocks_agree_with_the_byte_at_a_time_classes_on_every_byte_anywhere() {
        let mut set = [false; 128];
        for b in [b'*', b'#', b'~', 0, 0x7F, b'p'] {
            set[usize::from(b)] = true;
        }
        let first_bytes = ByteSet::new(&set);
        for b in 0..=255u8 {
            assert_eq!(
                first_bytes.contains(b),
                set.get(usize::from(b)) == Some(&true)
            );
            for filler in [b'a', b'0', b' ', b'*', 0xFF] {
                for position in 0..16 {
                    let mut chunk = [filler; 16];
                    chunk[position] = b;
                    let mut expected = Block {
                        alphanumeric: 0,
                        others: 0,
                    };
                    for (i, &c) in chunk.iter().enumerate() {
                        expected.alphanumeric |= u16::from(c.is_ascii_alphanumeric()) << i;
                        expected.others |= u16::from(c >= 0x80 || set[usize::from(c)]) << i;
                    }
                    assert_eq!(block(&chunk, &first_bytes), expected, "{chunk:?}");
                }
            }
        }
    }
}
