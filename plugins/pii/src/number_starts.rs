//! Where numbers start: one pass over the text for every number detector.
//!
//! Phone numbers, card numbers, SSNs, IBANs and IPv4 addresses are each found
//! by jumping from digit to digit. Each used to scan the whole text for its
//! next digit itself; now one pass ([`NumberStarts::new`]) records where each
//! run of ASCII digits starts, and each detector walks that list with its own
//! [`Cursor`].
//!
//! Only the first digit of a run is listed: every detector rejects a digit
//! that follows another (the digit before it is a word character, so a match
//! cannot start there, and an IBAN's country code, the two bytes before its
//! check digits, would not be letters). A detector that looked at a digit in
//! the middle of a run only spent time on it; a test runs each detector with
//! every digit listed and checks that it finds the same.
//!
//! Nor is every run start listed, only those where a match may begin
//! ([`may_start_match`]): code is full of short numbers (`= 12,`, `:88:17`,
//! `E0382`) that no detector can take, and each detector walked past each of
//! them. A match that starts at a run (or at the `+` or `(` right before it)
//! holds at least seven digits (phone numbers, cards and SSNs) or four digits
//! and three dots (IPv4), all within the stretch of digits and separators
//! that starts there; an IBAN's run has two capital letters right before it.
//! A start left out is one where every detector would find nothing, and then
//! so would it at every later start that a detector skips from there (each
//! such start lies in the same stretch, so it is left out too); a test runs
//! each detector with every run start listed and checks that it finds the
//! same.

/// Eight bytes at a time in a `u64`: the digits of sixteen bytes natively
/// ([`digits16`]), where there is no WebAssembly SIMD.
#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
mod swar {
    /// The high bit of each byte.
    pub const HIGH: u64 = 0x8080_8080_8080_8080;
    /// One in each byte.
    const ONES: u64 = 0x0101_0101_0101_0101;

    /// For each byte of `x` (little-endian), its high bit set when the byte is
    /// an ASCII digit.
    #[inline]
    pub fn digit_mask(x: u64) -> u64 {
        // A digit is a byte that is less than 10 once `0` is taken off its high
        // nibble: its low seven bits plus 118 stay below 128 (no carry into the
        // next byte: at most 127 + 118), and its own high bit is clear.
        let offset = x ^ (ONES * u64::from(b'0'));
        !(((offset & !HIGH) + ONES * (128 - 10)) | offset) & HIGH
    }
}

/// The ASCII digits of sixteen bytes, bit `i` for byte `i`: with WebAssembly
/// SIMD, one compare and one bitmask.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline]
fn digits16(chunk: &[u8; 16]) -> u16 {
    use core::arch::wasm32::*;
    #[allow(unsafe_code)]
    // SAFETY: sixteen readable bytes; `v128.load` has no alignment requirement.
    let x = unsafe { v128_load(chunk.as_ptr().cast()) };
    u8x16_bitmask(u8x16_lt(u8x16_sub(x, u8x16_splat(b'0')), u8x16_splat(10)))
}

/// The ASCII digits of sixteen bytes, bit `i` for byte `i`: natively, two
/// [`swar::digit_mask`]s with their high bits gathered into a byte each.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline]
fn digits16(chunk: &[u8; 16]) -> u16 {
    let half = |at: usize| {
        let x = u64::from_le_bytes(chunk[at..at + 8].try_into().expect("8 bytes"));
        // Bit `8 i` of each byte to bit `56 + i`: one multiplication, as no
        // two of the shifted copies meet in the top byte.
        ((swar::digit_mask(x) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u16
    };
    half(0) | half(8) << 8
}

/// Whether a match may begin at the run of digits that starts at `start`,
/// or at the `+` or `(` right before it: an IBAN's check digits (two capital
/// letters before them), or at least seven digits, or four digits and three
/// dots, in the stretch of digits, spaces, dashes, dots, slashes and
/// parentheses from `start` (every byte a phone number, card, SSN or IPv4
/// address holds after its first digit is one of those).
#[inline]
fn may_start_match(bytes: &[u8], start: usize) -> bool {
    if start >= 2 && bytes[start - 2].is_ascii_uppercase() && bytes[start - 1].is_ascii_uppercase()
    {
        return true;
    }
    let (mut digits, mut dots) = (0, 0);
    for &b in &bytes[start..] {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            b' ' | b'-' | b'/' | b'(' | b')' => {}
            _ => break,
        }
        if digits >= 7 || (digits >= 4 && dots >= 3) {
            return true;
        }
    }
    false
}

/// Where runs of ASCII digits start in a text, in order: those where a match
/// may begin ([`NumberStarts::new`]), or all of them ([`NumberStarts::all`]).
#[derive(Debug, Clone, Default)]
pub struct NumberStarts {
    starts: Vec<usize>,
    len: usize,
}

impl NumberStarts {
    /// The run starts of `bytes` where a match may begin ([`may_start_match`]).
    pub fn new(bytes: &[u8]) -> Self {
        Self::filtered(bytes, may_start_match)
    }

    /// Every run start of `bytes`, for what reads runs of any length
    /// ([`crate::digits::runs`]).
    pub fn all(bytes: &[u8]) -> Self {
        Self::filtered(bytes, |_, _| true)
    }

    /// The run starts of `bytes` that `keep` keeps, found sixteen bytes at a
    /// time (the last few one by one).
    #[inline]
    fn filtered(bytes: &[u8], keep: impl Fn(&[u8], usize) -> bool) -> Self {
        let mut starts = Vec::new();
        let mut after_digit = false;
        let mut i = 0;
        while let Some(chunk) = bytes.get(i..i + 16) {
            let digits = digits16(chunk.try_into().expect("16 bytes"));
            let mut first = digits & !((digits << 1) | u16::from(after_digit));
            while first != 0 {
                let start = i + first.trailing_zeros() as usize;
                if keep(bytes, start) {
                    starts.push(start);
                }
                first &= first - 1;
            }
            after_digit = digits >> 15 != 0;
            i += 16;
        }
        for (at, b) in bytes.iter().enumerate().skip(i) {
            if b.is_ascii_digit() && !after_digit && keep(bytes, at) {
                starts.push(at);
            }
            after_digit = b.is_ascii_digit();
        }
        NumberStarts {
            starts,
            len: bytes.len(),
        }
    }

    /// Every digit of `bytes` as a start: what the detectors saw when each
    /// scanned for its next digit itself. For tests.
    #[cfg(test)]
    pub fn every_digit(bytes: &[u8]) -> Self {
        NumberStarts {
            starts: (0..bytes.len())
                .filter(|&i| bytes[i].is_ascii_digit())
                .collect(),
            len: bytes.len(),
        }
    }

    /// A cursor at the start of the text.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            starts: &self.starts,
            at: 0,
            len: self.len,
        }
    }
}

/// A position in a [`NumberStarts`], for one detector's walk through the text.
#[derive(Debug)]
pub struct Cursor<'a> {
    starts: &'a [usize],
    /// The index of the first start not yet passed.
    at: usize,
    len: usize,
}

impl Cursor<'_> {
    /// The first start at or after `from`, or the text's length when there is
    /// none. Fastest when `from` only grows from call to call.
    pub fn next(&mut self, from: usize) -> usize {
        while self.at > 0 && self.starts[self.at - 1] >= from {
            self.at -= 1;
        }
        while self.starts.get(self.at).is_some_and(|&s| s < from) {
            self.at += 1;
        }
        self.starts.get(self.at).copied().unwrap_or(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::swar::{HIGH, digit_mask};
    use super::*;

    /// Pseudo-random texts full of digits, at every alignment.
    fn number_texts(count: usize) -> Vec<String> {
        let pieces = [
            "0", "1", "7", "42", "555", "2671", "4111", " ", "-", ".", "/", "+", "(", ")", ":",
            "a", "DE", "x", "_", "é", "東", "\n", "::", "@",
        ];
        sluice_plugin_sdk::testing::texts_from(&pieces, count, 24, 0x2545_f491_4f6c_dd1d)
    }

    /// Pseudo-random texts made of the pieces of phone numbers, cards, SSNs,
    /// IBANs and IPv4 addresses, their separators and their context words,
    /// so that many of them hold matches.
    fn match_texts(count: usize) -> Vec<String> {
        let pieces = [
            "+44 20 7946 0958",
            "(415) 555-2671",
            "1-415-555-2671",
            "4111 1111 1111 1111",
            "078-05-1120",
            "747216732",
            "DE89 3704 0044 0532 0130 00",
            "GB82WEST12345698765432",
            "81.2.69.160",
            "8.8.8.8",
            "0172 88973626",
            "+49 (0)30 901820",
            "tel ",
            "SSN ",
            "phone: ",
            "v",
            "415",
            "555",
            "2671",
            "1111",
            "69",
            "160",
            "0",
            "12",
            "3",
            " ",
            " ",
            "-",
            ".",
            "/",
            "(",
            ")",
            "+",
            ":",
            "x",
            "DE",
            "_",
            "é",
            "\n",
        ];
        sluice_plugin_sdk::testing::texts_from(&pieces, count, 12, 0x9e37_79b9_7f4a_7c15)
    }

    /// What [`digits16`] must say: the byte test, byte by byte.
    fn digits_of(chunk: &[u8; 16]) -> u16 {
        (0..16).fold(0, |mask, i| {
            mask | u16::from(chunk[i].is_ascii_digit()) << i
        })
    }

    #[test]
    fn starts_are_the_digits_that_follow_no_digit() {
        for text in number_texts(3000) {
            let bytes = text.as_bytes();
            let starts = NumberStarts::all(bytes);
            let expected: Vec<usize> = (0..bytes.len())
                .filter(|&i| {
                    bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit())
                })
                .collect();
            assert_eq!(starts.starts, expected, "{text:?}");
        }
        let mut seed: u64 = 0x0123_4567_89ab_cdef;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let expected = seed
                .to_le_bytes()
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_digit())
                .fold(0, |mask, (i, _)| mask | 0x80 << (8 * i));
            assert_eq!(digit_mask(seed), expected, "{seed:#x}");
            // Sixteen bytes: these eight, and the same with digits put in.
            let mut chunk = [0; 16];
            chunk[..8].copy_from_slice(&seed.to_le_bytes());
            for (i, b) in seed.to_le_bytes().iter().enumerate() {
                chunk[8 + i] = if b & 1 == 0 { b'0' + b % 10 } else { *b };
            }
            assert_eq!(digits16(&chunk), digits_of(&chunk), "{chunk:?}");
        }
        for b in 0..=255u8 {
            let chunk = [b; 8];
            let expected = if b.is_ascii_digit() { HIGH } else { 0 };
            assert_eq!(digit_mask(u64::from_le_bytes(chunk)), expected, "{b:#x}");
            for at in 0..16 {
                let mut chunk = [b'0'.wrapping_add(at as u8); 16];
                chunk[at] = b;
                assert_eq!(digits16(&chunk), digits_of(&chunk), "{b:#x} at {at}");
            }
        }
    }

    /// What each detector finds in `text` from `starts`; of the digit runs,
    /// those of at least `min_run_digits` digits.
    fn detected(text: &str, starts: &NumberStarts, min_run_digits: usize) -> String {
        use crate::{digits, iban, ip, phone};
        let runs: Vec<_> = digits::runs_in(text, starts)
            .into_iter()
            .filter(|run| run.digit_count >= min_run_digits)
            .collect();
        format!(
            "phone {:?}\nnational {:?}\nruns {runs:?}\niban {:?}\nip {:?}",
            phone::find_in(text, starts),
            phone::find_national_in(text, starts),
            iban::find_in(text, starts),
            ip::find_in(text, starts),
        )
    }

    #[test]
    fn detectors_find_the_same_with_every_digit_listed() {
        let mut texts = number_texts(3000);
        texts.extend(match_texts(3000));
        for text in &texts {
            let bytes = text.as_bytes();
            assert_eq!(
                detected(text, &NumberStarts::all(bytes), 0),
                detected(text, &NumberStarts::every_digit(bytes), 0),
                "{text:?}"
            );
        }
    }

    /// The starts where no match may begin are left out ([`may_start_match`]):
    /// every detector finds the same as with every run start listed, and so
    /// do cards and SSNs, which take runs of nine digits and more.
    #[test]
    fn detectors_find_the_same_with_only_the_starts_where_a_match_may_begin() {
        use crate::{card, digits, ssn};
        let mut texts = number_texts(3000);
        texts.extend(match_texts(20_000));
        let mut matched = 0;
        for text in &texts {
            let bytes = text.as_bytes();
            let (some, all) = (NumberStarts::new(bytes), NumberStarts::all(bytes));
            let found = detected(text, &all, 7);
            assert_eq!(detected(text, &some, 7), found, "{text:?}");
            let (some_runs, all_runs) = (digits::runs_in(text, &some), digits::runs_in(text, &all));
            assert_eq!(
                card::from_runs(text, &some_runs),
                card::from_runs(text, &all_runs),
                "{text:?}"
            );
            assert_eq!(
                ssn::from_runs(text, &some_runs),
                ssn::from_runs(text, &all_runs),
                "{text:?}"
            );
            matched += usize::from(found.contains(".."));
        }
        // The texts exercise the detectors: most hold a match.
        assert!(matched > texts.len() / 2, "{matched} of {}", texts.len());
    }

    #[test]
    fn a_cursor_goes_forwards_and_backwards() {
        let text = b"ab 12 x 345 6";
        let starts = NumberStarts::all(text);
        let mut cursor = starts.cursor();
        assert_eq!(cursor.next(0), 3);
        assert_eq!(cursor.next(4), 8);
        assert_eq!(cursor.next(12), 12);
        assert_eq!(cursor.next(13), 13);
        assert_eq!(cursor.next(1), 3);
        assert_eq!(cursor.next(9), 12);
    }
}
