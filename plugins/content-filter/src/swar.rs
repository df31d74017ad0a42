//! Eight bytes at a time in a `u64` (SWAR): the byte tests the normaliser's
//! fast path and the word scan apply to plain ASCII text, with results as a
//! mask of the high bit of each byte (little-endian: byte `i` of the text is
//! bits `8 i .. 8 i + 8`). Exact for every byte value; a unit test checks each
//! one at each position against the byte-at-a-time test.

/// The high bit of each byte.
pub const HIGH: u64 = 0x8080_8080_8080_8080;
/// One in each byte.
pub const ONES: u64 = 0x0101_0101_0101_0101;

/// Eight bytes of `bytes` from `at`, little-endian, if there are eight.
#[inline]
pub fn load(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes(chunk.try_into().expect("eight bytes")))
}

/// The high bit of each byte of `v` (all below 0x80) that is at least `lo`.
#[inline]
fn at_least(v: u64, lo: u8) -> u64 {
    ((v | HIGH) - ONES * lo as u64) & HIGH
}

/// ASCII letters.
#[inline]
pub fn alphabetic(x: u64) -> u64 {
    let folded = (x & !HIGH) | (ONES * 0x20);
    at_least(folded, b'a') & !at_least(folded, b'z' + 1) & !x
}

/// ASCII digits.
#[inline]
pub fn digit(x: u64) -> u64 {
    let ascii = x & !HIGH;
    at_least(ascii, b'0') & !at_least(ascii, b'9' + 1) & !x
}

/// ASCII letters and digits.
#[inline]
pub fn alphanumeric(x: u64) -> u64 {
    digit(x) | alphabetic(x)
}

/// A mask's bytes as eight bits, bit `i` for byte `i` (for targets without
/// SIMD: see [`crate::words::block`]).
#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
#[inline]
pub fn bits(mask: u64) -> u16 {
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u16
}

/// Zero bytes.
#[inline]
pub fn zero(x: u64) -> u64 {
    let low = !HIGH;
    !(((x & low) + low) | x | low)
}

/// The bytes before the first byte not in `mask`, 0 to 8.
#[inline]
pub fn leading(mask: u64) -> usize {
    ((!mask & HIGH).trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SWAR test and the byte test it stands for.
    type Pair = (fn(u64) -> u64, fn(u8) -> bool);

    #[test]
    fn every_test_agrees_with_the_byte_test_on_every_byte_anywhere() {
        let tests: [Pair; 4] = [
            (alphabetic, |b| b.is_ascii_alphabetic()),
            (alphanumeric, |b| b.is_ascii_alphanumeric()),
            (digit, |b| b.is_ascii_digit()),
            (zero, |b| b == 0),
        ];
        for (swar, byte) in tests {
            for b in 0..=255u8 {
                for filler in [b'a', b'0', 0, b' ', 0xFF] {
                    for position in 0..8 {
                        let mut chunk = [filler; 8];
                        chunk[position] = b;
                        let expected = chunk
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| byte(**c))
                            .fold(0, |mask, (i, _)| mask | 0x80 << (8 * i));
                        assert_eq!(swar(u64::from_le_bytes(chunk)), expected, "{chunk:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn leading_counts_the_bytes_before_the_first_miss() {
        assert_eq!(leading(HIGH), 8);
        assert_eq!(leading(0), 0);
        assert_eq!(leading(alphabetic(u64::from_le_bytes(*b"abc.defg"))), 3);
    }

    #[test]
    fn bits_gathers_one_bit_per_byte() {
        assert_eq!(
            bits(alphabetic(u64::from_le_bytes(*b"abc.defg"))),
            0b1111_0111
        );
        assert_eq!(bits(HIGH), 0xFF);
        assert_eq!(bits(0x80 << 56), 0x80);
    }
}
