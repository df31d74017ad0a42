//! Runs of digits with separators, the shape shared by card numbers, social
//! security numbers and phone numbers.

use std::ops::Range;

/// The most groups a run records; longer runs are never a card, SSN or phone.
const MAX_GROUPS: usize = 8;

/// A run like `4111 1111 1111 1111` or `078-05-1120`: digit groups joined by one
/// separator character, the same one throughout. Allocation-free: text is full
/// of numbers, and most runs are dismissed by their length alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitRun {
    /// Byte range in the text.
    pub span: Range<usize>,
    /// How many digits the run has.
    pub digit_count: usize,
    group_lengths: [u8; MAX_GROUPS],
    group_count: usize,
    /// The separator, if the run has more than one group.
    pub separator: Option<u8>,
}

impl DigitRun {
    /// The lengths of the digit groups, in order (the first `MAX_GROUPS`).
    pub fn groups(&self) -> &[u8] {
        &self.group_lengths[..self.group_count.min(MAX_GROUPS)]
    }

    /// True when the run has more groups than are recorded.
    pub fn too_many_groups(&self) -> bool {
        self.group_count > MAX_GROUPS
    }

    /// The digits alone.
    pub fn digits(&self, text: &str) -> String {
        text[self.span.clone()]
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(char::from)
            .collect()
    }
}

/// Every maximal run of ASCII digits joined by single spaces or dashes, standing
/// on its own: not touching a letter, a digit, or a `_` on either side (so parts
/// of identifiers, hashes and longer numbers are not runs).
pub fn runs(text: &str) -> Vec<DigitRun> {
    let separators = b" -";
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i = next_digit(bytes, i);
            continue;
        }
        if i > 0 && is_word_byte(bytes[i - 1]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digit_count = 0;
        let mut group_lengths = [0u8; MAX_GROUPS];
        let mut group_count = 0;
        let mut separator: Option<u8> = None;
        loop {
            let group_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            digit_count += i - group_start;
            if group_count < MAX_GROUPS {
                group_lengths[group_count] = (i - group_start).min(255) as u8;
            }
            group_count += 1;
            // Continue over one separator followed by a digit, if it matches.
            let next_is_sep = i + 1 < bytes.len()
                && separators.contains(&bytes[i])
                && bytes[i + 1].is_ascii_digit()
                && separator.is_none_or(|s| s == bytes[i]);
            if !next_is_sep {
                break;
            }
            separator = Some(bytes[i]);
            i += 1;
        }
        let end = i;
        if end < bytes.len() && is_word_byte(bytes[end]) {
            // Runs into a word (`1234abc`): skip the whole token.
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            continue;
        }
        out.push(DigitRun {
            span: start..end,
            digit_count,
            group_lengths,
            group_count,
            separator,
        });
    }
    out
}

/// The position of the first ASCII digit at or after `from` (`bytes.len()` when
/// there is none). Eight bytes at a time: most text has no digit in most words,
/// and this is the loop every number-shaped detector spends its time in.
pub(crate) fn next_digit(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Digits become 0..=9 and nothing else does; then the classic
        // "has a byte less than 10" test.
        let shifted = word ^ (ONES * b'0' as u64);
        if shifted.wrapping_sub(ONES * 10) & !shifted & (ONES * 0x80) != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && !bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Letters, digits and `_`, plus any non-ASCII byte (letters of other scripts):
/// what a match must not touch on either side.
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_grouped_runs_and_skips_words() {
        let text = "card 4111 1111 1111 1111, ssn 078-05-1120, id abc123 and 12ab";
        let runs = runs(text);
        let found: Vec<&str> = runs.iter().map(|r| &text[r.span.clone()]).collect();
        assert_eq!(found, ["4111 1111 1111 1111", "078-05-1120"]);
        assert_eq!(runs[0].groups(), [4, 4, 4, 4]);
        assert_eq!(runs[0].digits(text), "4111111111111111");
        assert_eq!(runs[1].separator, Some(b'-'));
    }

    #[test]
    fn next_digit_finds_the_first_digit_at_any_alignment() {
        let text = "abcdefghijklmnopqrstuvwxyz /:;@[`{ ÿé 7 tail";
        let seven = text.find('7').unwrap();
        for from in 0..=seven {
            assert_eq!(next_digit(text.as_bytes(), from), seven, "from {from}");
        }
        assert_eq!(next_digit(text.as_bytes(), seven + 1), text.len());
        for len in 0..20 {
            let mut bytes = vec![b'x'; len];
            assert_eq!(next_digit(&bytes, 0), len);
            if len > 0 {
                bytes[len - 1] = b'0';
                assert_eq!(next_digit(&bytes, 0), len - 1);
                bytes[len - 1] = b'9';
                assert_eq!(next_digit(&bytes, 0), len - 1);
            }
        }
    }

    #[test]
    fn mixed_separators_split_runs() {
        let text = "1234-5678 9012";
        let runs = runs(text);
        assert_eq!(runs[0].digits(text), "12345678");
        assert_eq!(runs[1].digits(text), "9012");
    }
}
