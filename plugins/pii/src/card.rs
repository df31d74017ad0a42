//! Payment card numbers: 13 to 19 digits, optionally in groups separated by
//! spaces or dashes, whose prefix and length match a card brand and whose last
//! digit is a valid Luhn check digit.

use crate::digits::{DigitRun, runs};
use std::ops::Range;

/// The longest formatted card number: 19 digits and 4 separators... with room.
pub const MAX_LEN: usize = 24;

/// Card numbers in `text`, as byte ranges, with the digits alone.
pub fn find(text: &str) -> Vec<(Range<usize>, String)> {
    from_runs(text, &runs(text))
}

/// Card numbers among digit runs already found in `text`.
pub fn from_runs(text: &str, runs: &[DigitRun]) -> Vec<(Range<usize>, String)> {
    runs.iter()
        .filter(|run| (13..=19).contains(&run.digit_count) && !run.too_many_groups())
        .filter(|run| {
            let groups = run.groups();
            groups.len() == 1
                || groups.iter().all(|g| (3..=6).contains(g))
                || is_amex_grouping(groups)
        })
        .map(|run| (run.span.clone(), run.digits(text)))
        .filter(|(_, digits)| brand(digits).is_some() && luhn(digits))
        .collect()
}

fn is_amex_grouping(groups: &[u8]) -> bool {
    groups == [4, 6, 5]
}

/// The brand whose prefix and length fit `digits`.
pub fn brand(digits: &str) -> Option<&'static str> {
    let len = digits.len();
    let prefix = |n: usize| digits[..n].parse::<u32>().unwrap_or(0);
    let brand = match digits.as_bytes()[0] {
        b'4' if matches!(len, 13 | 16 | 19) => "visa",
        b'5' if len == 16 && (51..=55).contains(&prefix(2)) => "mastercard",
        b'2' if len == 16 && (2221..=2720).contains(&prefix(4)) => "mastercard",
        b'3' if len == 15 && matches!(prefix(2), 34 | 37) => "amex",
        b'3' if (16..=19).contains(&len) && (3528..=3589).contains(&prefix(4)) => "jcb",
        b'3' if len == 14
            && ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39)) =>
        {
            "diners"
        }
        b'6' if (16..=19).contains(&len)
            && (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3))) =>
        {
            "discover"
        }
        b'6' if (16..=19).contains(&len) && prefix(2) == 62 => "unionpay",
        b'5' | b'6' if (12..=19).contains(&len) && matches!(prefix(2), 50 | 56..=58 | 63 | 67) => {
            "maestro"
        }
        _ => return None,
    };
    Some(brand)
}

/// The Luhn check over a string of ASCII digits.
pub fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str) -> Vec<&str> {
        find(text).into_iter().map(|(r, _)| &text[r]).collect()
    }

    #[test]
    fn finds_the_major_brands_in_their_usual_formats() {
        for number in [
            "4111 1111 1111 1111", // visa
            "4111-1111-1111-1111", // visa, dashes
            "4012888888881881",    // visa, plain
            "5555 5555 5555 4444", // mastercard
            "2223 0031 2200 3222", // mastercard 2-series
            "3782 822463 10005",   // amex
            "6011 1111 1111 1117", // discover
            "3530 1113 3330 0000", // jcb
            "3056 930902 5904",    // diners (4-6-4)
            "6200 0000 0000 0005", // unionpay
        ] {
            let text = format!("pay with {number}.");
            assert_eq!(matches(&text), [number], "{number}");
            assert!(brand(&number.replace([' ', '-'], "")).is_some());
        }
    }

    #[test]
    fn rejects_luhn_failures_and_look_alikes() {
        for text in [
            "4111 1111 1111 1112",          // Luhn fails
            "1234 5678 9012 3456",          // no brand, Luhn fails
            "order 4111111111111111234567", // too long
            "id=4111111111111111abc",       // part of a token
            "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "v4111.1111.1111.1111", // dots are not card separators
            "4111 1111-1111 1111",  // mixed separators
        ] {
            assert!(matches(text).is_empty(), "{text}: {:?}", matches(text));
        }
    }

    #[test]
    fn spans_are_exact_around_non_ascii() {
        let text = "Karte: 4111 1111 1111 1111 — danke";
        let (span, digits) = &find(text)[0];
        assert_eq!(&text[span.clone()], "4111 1111 1111 1111");
        assert_eq!(digits, "4111111111111111");
    }
}
