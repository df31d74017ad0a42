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

/// The high bit of each byte.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// One in each byte.
const ONES: u64 = 0x0101_0101_0101_0101;

/// For each byte of `x` (little-endian), its high bit set when the byte is an
/// ASCII digit.
#[inline]
fn digit_mask(x: u64) -> u64 {
    let ascii = x & !HIGH;
    // The high bit of each byte set when the (7-bit) byte is at least `lo`.
    let at_least = |v: u64, lo: u8| ((v | HIGH) - ONES * lo as u64) & HIGH;
    at_least(ascii, b'0') & !at_least(ascii, b'9' + 1) & !x
}

/// The start of every run of ASCII digits in a text, in order.
#[derive(Debug, Clone, Default)]
pub struct NumberStarts {
    starts: Vec<usize>,
    len: usize,
}

impl NumberStarts {
    /// Finds the runs of `bytes`, eight bytes at a time.
    pub fn new(bytes: &[u8]) -> Self {
        let mut starts = Vec::new();
        let mut after_digit = false;
        let mut i = 0;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let digits = digit_mask(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
            let mut first = digits & !((digits << 8) | (u64::from(after_digit) << 7));
            while first != 0 {
                starts.push(i + (first.trailing_zeros() / 8) as usize);
                first &= first - 1;
            }
            after_digit = digits >> 63 != 0;
            i += 8;
        }
        for (at, b) in bytes.iter().enumerate().skip(i) {
            if b.is_ascii_digit() && !after_digit {
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
    use super::*;

    /// Pseudo-random texts full of digits, at every alignment.
    pub(crate) fn number_texts(count: usize) -> Vec<String> {
        let pieces = [
            "0", "1", "7", "42", "555", "2671", "4111", " ", "-", ".", "/", "+", "(", ")", ":",
            "a", "DE", "x", "_", "é", "東", "\n", "::", "@",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        (0..count)
            .map(|_| {
                let mut text = String::new();
                for _ in 0..24 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                }
                text
            })
            .collect()
    }

    #[test]
    fn starts_are_the_digits_that_follow_no_digit() {
        for text in number_texts(3000) {
            let bytes = text.as_bytes();
            let starts = NumberStarts::new(bytes);
            let expected: Vec<usize> = (0..bytes.len())
                .filter(|&i| {
                    bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit())
                })
                .collect();
            assert_eq!(starts.starts, expected, "{text:?}");
        }
        for b in 0..=255u8 {
            let chunk = [b; 8];
            let expected = if b.is_ascii_digit() { HIGH } else { 0 };
            assert_eq!(digit_mask(u64::from_le_bytes(chunk)), expected, "{b:#x}");
        }
    }

    #[test]
    fn detectors_find_the_same_with_every_digit_listed() {
        use crate::{digits, iban, ip, phone};
        let mut texts = number_texts(3000);
        texts.extend(
            [
                "call +44 20 7946 0958 or (415) 555-2671, 1-415-555-2671",
                "phone: 0172 88973626, tel 01.94.49.66.09, +49 (0)30 901820",
                "card 4111 1111 1111 1111, ssn 078-05-1120, SSN 747216732",
                "IBAN DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432",
                "from 8.8.8.8 and 10.0.0.1, v1.2.3.4, 2001:db8::1, 123456789012345678",
            ]
            .map(String::from),
        );
        for text in &texts {
            let bytes = text.as_bytes();
            let (starts, every) = (NumberStarts::new(bytes), NumberStarts::every_digit(bytes));
            assert_eq!(
                phone::find_in(text, &starts),
                phone::find_in(text, &every),
                "{text:?}"
            );
            assert_eq!(
                phone::find_national_in(text, &starts),
                phone::find_national_in(text, &every),
                "{text:?}"
            );
            assert_eq!(
                digits::runs_in(text, &starts),
                digits::runs_in(text, &every),
                "{text:?}"
            );
            assert_eq!(
                iban::find_in(text, &starts),
                iban::find_in(text, &every),
                "{text:?}"
            );
            assert_eq!(
                ip::find_in(text, &starts),
                ip::find_in(text, &every),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_cursor_goes_forwards_and_backwards() {
        let text = b"ab 12 x 345 6";
        let starts = NumberStarts::new(text);
        let mut cursor = starts.cursor();
        assert_eq!(cursor.next(0), 3);
        assert_eq!(cursor.next(4), 8);
        assert_eq!(cursor.next(12), 12);
        assert_eq!(cursor.next(13), 13);
        assert_eq!(cursor.next(1), 3);
        assert_eq!(cursor.next(9), 12);
    }
}
