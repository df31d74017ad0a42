//! International bank account numbers: a country code, two check digits and a
//! country-specific number of letters and digits, optionally in groups of four
//! separated by spaces; the length must be the country's and the mod-97 check
//! (ISO 13616) must hold.

use crate::digits::{word_at, word_before};
use crate::number_starts::NumberStarts;
use std::ops::Range;

/// The longest IBAN (34 characters) with a space every four.
pub const MAX_LEN: usize = 42;

/// IBAN lengths by country (the SWIFT registry).
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn country_length(code: &[u8]) -> Option<usize> {
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_bytes() == code)
        .map(|(_, n)| *n)
}

/// IBANs in `text`, as byte ranges.
pub fn find(text: &str) -> Vec<Range<usize>> {
    find_in(text, &NumberStarts::new(text.as_bytes()))
}

/// [`find`], with the text's number starts already found.
pub(crate) fn find_in(text: &str, starts: &NumberStarts) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cursor = starts.cursor();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        // Every IBAN has check digits at its third byte: jump there.
        if !bytes[i + 2].is_ascii_digit() {
            i = cursor.next(i + 2).max(i + 3) - 2;
            continue;
        }
        let starts_here = bytes[i].is_ascii_uppercase()
            && bytes[i + 1].is_ascii_uppercase()
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit()
            && !word_before(bytes, i);
        let Some(length) = starts_here
            .then(|| country_length(&bytes[i..i + 2]))
            .flatten()
        else {
            i += 1;
            continue;
        };
        if let Some(end) = take_iban(bytes, i, length) {
            out.push(i..end);
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Reads `length` alphanumerics from `start`, allowing a single space between
/// groups of four; returns the end if the result is a valid IBAN on its own.
fn take_iban(bytes: &[u8], start: usize, length: usize) -> Option<usize> {
    let mut compact = Vec::with_capacity(length);
    let mut i = start;
    while compact.len() < length && i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_uppercase() || b.is_ascii_digit() {
            compact.push(b);
            i += 1;
        } else if b == b' '
            && compact.len() % 4 == 0
            && i + 1 < bytes.len()
            && bytes[i + 1].is_ascii_alphanumeric()
        {
            i += 1;
        } else {
            return None;
        }
    }
    if compact.len() != length || word_at(bytes, i) {
        return None;
    }
    mod97(&compact).then_some(i)
}

/// ISO 7064 mod 97-10 over the rearranged IBAN.
fn mod97(iban: &[u8]) -> bool {
    let rearranged = iban[4..].iter().chain(&iban[..4]);
    let mut remainder: u32 = 0;
    for &b in rearranged {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str) -> Vec<&str> {
        find(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn finds_ibans_compact_and_grouped() {
        for iban in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB82 WEST 1234 5698 7654 32",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "NO9386011117947",
        ] {
            let text = format!("IBAN: {iban}.");
            assert_eq!(matches(&text), [iban], "{iban}");
        }
    }

    #[test]
    fn rejects_bad_checksums_lengths_and_look_alikes() {
        for text in [
            "DE89370400440532013001",     // check fails
            "DE8937040044053201300",      // one short
            "XX89370400440532013000",     // no such country
            "ID DE89370400440532013000X", // runs into a word
            "version GB12 and AB12CD",
        ] {
            assert!(matches(text).is_empty(), "{text}");
        }
    }
}
