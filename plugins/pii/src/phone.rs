//! Phone numbers.
//!
//! - North American (NANP): `(415) 555-2671`, `415-555-2671`, `415.555.2671`,
//!   `1-415-555-2671`, `+1 415 555 2671`. The area code and exchange start with
//!   2–9. Ten bare digits are not matched: too many ids and counters look so.
//! - International, written with `+` and a country code (E.164): `+44 20 7946
//!   0958`, `+49 (0)30 901820`, `+33 1 23 45 67 89`: 8 to 15 digits, in groups
//!   separated by spaces, dashes, dots or parentheses.

use crate::digits::{keyword_before, word_at, word_before};
use crate::number_starts::NumberStarts;
use std::ops::Range;

/// The longest formatted number handled.
pub const MAX_LEN: usize = 32;

/// Phone numbers in `text`, as byte ranges.
///
/// Every number starts with a digit, or with `+` or `(` right before one, so the
/// scan jumps from digit to digit and tries the byte before it first.
pub fn find(text: &str) -> Vec<Range<usize>> {
    find_in(text, &NumberStarts::new(text.as_bytes()))
}

/// [`find`], with the text's number starts already found.
pub(crate) fn find_in(text: &str, starts: &NumberStarts) -> Vec<Range<usize>> {
    let mut found = find_all(text, starts);
    found.retain(|span| !is_fictional(&text[span.clone()]));
    found
}

/// North American numbers ending in 555-0100 to 555-0199 are reserved for
/// fiction and documentation: they reach no one.
fn is_fictional(number: &str) -> bool {
    let digits: Vec<u8> = number.bytes().filter(u8::is_ascii_digit).collect();
    digits.len() >= 7 && digits[digits.len() - 7..digits.len() - 2] == *b"55501"
}

fn find_all(text: &str, starts: &NumberStarts) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cursor = starts.cursor();
    let mut from = 0;
    loop {
        let digit = cursor.next(from);
        if digit >= bytes.len() {
            return out;
        }
        let opener = digit
            .checked_sub(1)
            .filter(|&at| at >= from && matches!(bytes[at], b'+' | b'('));
        from = digit + 1;
        for start in opener.into_iter().chain([digit]) {
            if let Some(end) = number_at(bytes, start) {
                out.push(start..end);
                from = end;
                break;
            }
        }
    }
}

/// Words that, just before a number, say it is a phone number, in the
/// languages of the evaluation corpus (lowercase).
pub(crate) const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "tél",
    "telephone",
    "téléphone",
    "telefon",
    "telefono",
    "teléfono",
    "telefone",
    "mobile",
    "mobil",
    "cell",
    "handy",
    "fax",
    "portable",
    "móvil",
    "celular",
    "電話",
    "电话",
    "手机",
    "携帯",
    "телефон",
    "тел",
    "هاتف",
    "جوال",
];

/// How far before a national number its context word may end.
pub(crate) const CONTEXT_REACH: usize = 24;

/// National-format numbers (`0172 88973626`, `01.94.49.66.09`, `(0)30 901820`)
/// right after a phone word (`"phone": "..."`, `Tel.`, `téléphone :`). Without
/// such a word, a national number is indistinguishable from an id or a count.
pub fn find_national(text: &str) -> Vec<Range<usize>> {
    find_national_in(text, &NumberStarts::new(text.as_bytes()))
}

/// [`find_national`], with the text's number starts already found.
pub(crate) fn find_national_in(text: &str, starts: &NumberStarts) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cursor = starts.cursor();
    let mut from = 0;
    loop {
        let start = cursor.next(from);
        if start >= bytes.len() {
            return out;
        }
        from = start + 1;
        if word_before(bytes, start)
            || (start > 0 && matches!(bytes[start - 1], b'+' | b'.' | b'-' | b'/'))
        {
            continue;
        }
        let Some(end) = national_at(bytes, start) else {
            continue;
        };
        if ends_cleanly(bytes, end)
            && keyword_before(text, start, CONTEXT_REACH, PHONE_WORDS)
            && !is_fictional(&text[start..end])
        {
            out.push(start..end);
            from = end;
        }
    }
}

/// 7 to 15 digits from `start`, in groups joined by one space, dot, dash or
/// slash; returns the end.
fn national_at(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    let mut count = 0;
    let mut end = start;
    while at < bytes.len() {
        if bytes[at].is_ascii_digit() {
            count += 1;
            at += 1;
            end = at;
        } else if matches!(bytes[at], b' ' | b'.' | b'-' | b'/')
            && bytes.get(at + 1).is_some_and(u8::is_ascii_digit)
            && end == at
        {
            at += 1;
        } else {
            break;
        }
        if count > 15 {
            return None;
        }
    }
    (7..=15).contains(&count).then_some(end)
}

/// The end of a phone number starting exactly at `start`, if there is one.
fn number_at(bytes: &[u8], start: usize) -> Option<usize> {
    let boundary = start == 0
        || !(word_before(bytes, start) || matches!(bytes[start - 1], b'+' | b'.' | b'-' | b'/'));
    if !boundary {
        return None;
    }
    let end = if bytes[start] == b'+' {
        international(bytes, start)
    } else {
        north_american(bytes, start)
    }?;
    ends_cleanly(bytes, end).then_some(end)
}

/// Not followed by more digits or a word (`415-555-26710`, `...2671abc`), nor by
/// a separator and a digit (a longer number, a date, a version).
fn ends_cleanly(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None => true,
        Some(_) if word_at(bytes, end) => false,
        Some(b'-' | b'.' | b'/') => !bytes.get(end + 1).is_some_and(u8::is_ascii_digit),
        _ => true,
    }
}

/// `n` ASCII digits at `at`; returns the position after them.
fn digits(bytes: &[u8], at: usize, n: usize) -> Option<usize> {
    let end = at + n;
    (end <= bytes.len() && bytes[at..end].iter().all(u8::is_ascii_digit)).then_some(end)
}

fn separator(bytes: &[u8], at: usize) -> Option<usize> {
    matches!(bytes.get(at), Some(b' ' | b'-' | b'.')).then_some(at + 1)
}

/// A NANP number starting at `start`, without `+`.
fn north_american(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start;
    // Optional trunk prefix `1` and a separator.
    if bytes[at] == b'1'
        && separator(bytes, at + 1).is_some()
        && bytes.get(at + 2).is_none_or(|b| *b != b' ')
    {
        at += 2;
    }
    let area_start;
    if bytes.get(at) == Some(&b'(') {
        area_start = at + 1;
        at = digits(bytes, at + 1, 3)?;
        if bytes.get(at) != Some(&b')') {
            return None;
        }
        at += 1;
        if matches!(bytes.get(at), Some(b' ' | b'-')) {
            at += 1;
        }
    } else {
        area_start = at;
        at = digits(bytes, at, 3)?;
        at = separator(bytes, at)?;
    }
    let exchange_start = at;
    at = digits(bytes, at, 3)?;
    at = separator(bytes, at)?;
    at = digits(bytes, at, 4)?;
    let valid = (b'2'..=b'9').contains(&bytes[area_start])
        && (b'2'..=b'9').contains(&bytes[exchange_start]);
    valid.then_some(at)
}

/// A separator before a digit or `(`, or a `(` before a digit.
fn opens_group(bytes: &[u8], at: usize) -> bool {
    let next = bytes.get(at + 1);
    match bytes[at] {
        b' ' | b'-' | b'.' => next.is_some_and(|n| n.is_ascii_digit() || *n == b'('),
        b'(' => next.is_some_and(u8::is_ascii_digit),
        _ => false,
    }
}

/// An international number starting with `+` at `start`.
fn international(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    if !bytes.get(at).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        return None;
    }
    let mut count = 0;
    let mut end = at;
    let mut digits_seen = Vec::with_capacity(16);
    while at < bytes.len() {
        let b = bytes[at];
        if b.is_ascii_digit() {
            digits_seen.push(b);
            count += 1;
            at += 1;
            end = at;
        } else if opens_group(bytes, at) {
            at += 1;
        } else if b == b')' && at > 0 && bytes[at - 1].is_ascii_digit() {
            at += 1;
            if matches!(bytes.get(at), Some(b' ' | b'-'))
                && bytes.get(at + 1).is_some_and(u8::is_ascii_digit)
            {
                at += 1;
            }
        } else {
            break;
        }
        if count > 15 {
            return None;
        }
    }
    if !(8..=15).contains(&count) {
        return None;
    }
    // `+1` numbers must be valid North American numbers.
    if digits_seen[0] == b'1' {
        let valid = count == 11
            && (b'2'..=b'9').contains(&digits_seen[1])
            && (b'2'..=b'9').contains(&digits_seen[4]);
        if !valid {
            return None;
        }
    }
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str) -> Vec<&str> {
        find(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn finds_north_american_formats() {
        for number in [
            "(415) 555-2671",
            "415-555-2671",
            "415.555.2671",
            "1-415-555-2671",
            "+1 415 555 2671",
            "+14155552671",
        ] {
            let text = format!("call {number} today");
            assert_eq!(matches(&text), [number], "{number}");
        }
    }

    #[test]
    fn finds_international_formats() {
        for number in [
            "+44 20 7946 0958",
            "+49 (0)30 901820",
            "+33 1 23 45 67 89",
            "+81-3-1234-5678",
            "+5511987654321",
        ] {
            let text = format!("Tel: {number}.");
            assert_eq!(matches(&text), [number], "{number}");
        }
    }

    #[test]
    fn national_numbers_count_only_after_a_phone_word() {
        for (text, number) in [
            (r#""phone": "0172 88973626"}"#, "0172 88973626"),
            ("téléphone : 01.94.49.66.09.", "01.94.49.66.09"),
            ("SUPPORT_TEL=079120 96445", "079120 96445"),
            ("電話：090-1234-5678です", "090-1234-5678"),
            ("phone\n0172 88973626", "0172 88973626"),
            ("moreau@sfr.fr — tél. 07 60 63 98 62", "07 60 63 98 62"),
            ("メールはa@b.jp、電話は03-8225-0416です。", "03-8225-0416"),
        ] {
            let found: Vec<&str> = find_national(text).into_iter().map(|r| &text[r]).collect();
            assert_eq!(found, [number], "{text}");
        }
        for text in [
            "order 0172 88973626",
            "hotel 0172 88973626",
            "phone 123456",
            "phone 1234567890123456",
            "0172 88973626",
            r#""phone": "555-0100""#,
            "Author: J <m.patel9@yahoo.com>\nDate:   2023-10-14 04:02:47 +0200",
        ] {
            assert!(find_national(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn a_number_after_an_equals_sign_is_found_whole() {
        assert_eq!(
            matches("SUPPORT_PHONE=+1 480 667 7319"),
            ["+1 480 667 7319"]
        );
        assert_eq!(matches("SUPPORT_PHONE=(858) 990-3299"), ["(858) 990-3299"]);
    }

    #[test]
    fn rejects_dates_versions_ids_and_short_or_invalid_numbers() {
        for text in [
            "2024-01-15",
            "4155552671",
            "id 415-555-26710",
            "v1.415.555.2671",
            "(015) 555-2671",
            "415-155-2671",
            "+1 015 555 2671",
            "+44 20",
            "+0 123 456 789",
            "10.20.30.40",
            "x=1+415-555-2671",
            "port 8080-8090",
            "(415) 555-0123",
        ] {
            assert!(matches(text).is_empty(), "{text}: {:?}", matches(text));
        }
    }
}
