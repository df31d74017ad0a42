//! Runs of digits with separators, the shape shared by card numbers, social
//! security numbers and phone numbers.

use crate::number_starts::NumberStarts;
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
    runs_in(text, &NumberStarts::all(text.as_bytes()))
}

/// [`runs`], with the text's number starts already found.
pub(crate) fn runs_in(text: &str, starts: &NumberStarts) -> Vec<DigitRun> {
    let separators = b" -";
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cursor = starts.cursor();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i = cursor.next(i);
            continue;
        }
        if word_before(bytes, i) {
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
        if word_at(bytes, end) {
            // Runs into a word (`1234abc`): skip the whole token.
            while i < bytes.len() && is_ascii_word_byte(bytes[i]) {
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

/// ASCII letters, digits and `_`.
#[inline]
pub(crate) fn is_ascii_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A character a match must not touch on either side: ASCII letters, digits and
/// `_`, and letters of scripts written with spaces between words (Latin, Greek,
/// Cyrillic, Arabic, Hebrew, ...). Letters of Chinese, Japanese, Korean and the
/// scripts after them (from U+2E80) do not count: those scripts run words and
/// numbers together (`カード5300 6011 8995 9670で`), and neither does
/// punctuation of any script (`9756،`, `DE37 ... 74。`).
pub(crate) fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        is_ascii_word_byte(c as u8)
    } else {
        (c as u32) < 0x2E80 && c.is_alphanumeric()
    }
}

/// Whether the character that ends at byte `end` of the UTF-8 `bytes` is a word
/// character; false at the start of the text.
#[inline]
pub(crate) fn word_before(bytes: &[u8], end: usize) -> bool {
    let Some(&last) = end.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return false;
    };
    if last.is_ascii() {
        return is_ascii_word_byte(last);
    }
    word_before_outside_ascii(bytes, end)
}

/// [`word_before`] for a character outside ASCII; out of line, so that the
/// ASCII test is inlined into every detector's loop.
#[inline(never)]
fn word_before_outside_ascii(bytes: &[u8], end: usize) -> bool {
    let mut start = end - 1;
    while start > 0 && bytes[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    decode(&bytes[start..end]).is_some_and(is_word_char)
}

/// Whether the character that starts at byte `at` of the UTF-8 `bytes` is a word
/// character; false at the end of the text.
#[inline]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> bool {
    let Some(&first) = bytes.get(at) else {
        return false;
    };
    if first.is_ascii() {
        return is_ascii_word_byte(first);
    }
    word_at_outside_ascii(bytes, at, first)
}

/// [`word_at`] for a character outside ASCII, out of line.
#[inline(never)]
fn word_at_outside_ascii(bytes: &[u8], at: usize, first: u8) -> bool {
    let len = match first {
        0xF0.. => 4,
        0xE0.. => 3,
        _ => 2,
    };
    decode(&bytes[at..(at + len).min(bytes.len())]).is_some_and(is_word_char)
}

/// A letter of a script that separates words with spaces.
fn is_spaced_letter(c: char) -> bool {
    c.is_alphabetic() && is_word_char(c)
}

fn decode(bytes: &[u8]) -> Option<char> {
    std::str::from_utf8(bytes).ok()?.chars().next()
}

/// Whether one of `keywords` (lowercase ASCII or any script) ends at most
/// `reach` bytes before `at`, starting at a word boundary: the context that
/// turns a bare number into a phone number or an SSN (`phone: 0172 88973626`,
/// `SSN 747216732`).
pub(crate) fn keyword_before(text: &str, at: usize, reach: usize, keywords: &[&str]) -> bool {
    let from = text.ceil_char_boundary(at.saturating_sub(reach));
    let window = text[from..at].to_lowercase();
    keywords.iter().any(|keyword| {
        window.match_indices(keyword).any(|(i, _)| {
            // Look before the window too: `patel9` must not yield `tel`.
            let before = text[..from].chars().chain(window[..i].chars()).next_back();
            let after = &window[i + keyword.len()..];
            // `phone:`, `phone_number`, `phoneNumber`; not `telemetry`.
            let whole = after.chars().next().is_none_or(|c| !is_spaced_letter(c))
                || ["number", "num", "nr", "no"]
                    .iter()
                    .any(|suffix| after.starts_with(suffix));
            before.is_none_or(|c| !is_spaced_letter(c)) && whole
        })
    })
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
    fn numbers_touching_cjk_letters_or_any_punctuation_are_runs() {
        for text in [
            "カード5300 6011 8995 9670で",
            "بالبطاقة 4475 3111 5673 9756، هل",
            "号码：4475 3111 5673 9756。",
        ] {
            let found = runs(text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].digits(text).len(), 16, "{text}");
        }
        // Letters of spaced scripts are words: these are parts of identifiers.
        let text = "straße4475 3111";
        let found = runs(text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].span.clone()], "3111");
        assert!(runs("αβγ4475").is_empty());
    }

    #[test]
    fn keywords_count_only_at_a_word_start() {
        let text = "hotel: 12345, phone_number: 0172 88973626";
        let number = text.find("0172").unwrap();
        assert!(keyword_before(text, number, 24, &["phone"]));
        assert!(!keyword_before(
            text,
            text.find("12345").unwrap(),
            24,
            &["tel"]
        ));
        assert!(keyword_before("電話：090", 9, 24, &["電話"]));
        assert!(keyword_before("phoneNumber=0172", 12, 24, &["phone"]));
        assert!(!keyword_before("telemetry 0172", 10, 24, &["tel"]));
    }

    #[test]
    fn mixed_separators_split_runs() {
        let text = "1234-5678 9012";
        let runs = runs(text);
        assert_eq!(runs[0].digits(text), "12345678");
        assert_eq!(runs[1].digits(text), "9012");
    }
}
