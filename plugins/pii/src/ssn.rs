//! US social security numbers written `AAA-GG-SSSS` (or with spaces), with the
//! ranges the SSA never issues rejected: area 000, 666 and 900–999, group 00,
//! serial 0000. Nine bare digits count only right after an SSN word (`SSN`,
//! `social security number`): without one, too many other things look so.

use crate::digits::{DigitRun, keyword_before, runs};
use std::ops::Range;

/// An SSN is 11 bytes formatted.
pub const MAX_LEN: usize = 11;

/// Words that make nine bare digits right after them an SSN (lowercase).
pub(crate) const SSN_WORDS: &[&str] = &["ssn", "social security", "ss#", "ss #", "tin"];

/// How far before the digits the word may end.
pub(crate) const CONTEXT_REACH: usize = 32;

/// SSNs in `text`, as byte ranges.
pub fn find(text: &str) -> Vec<Range<usize>> {
    from_runs(text, &runs(text))
}

/// SSNs among digit runs already found in `text`.
pub fn from_runs(text: &str, runs: &[DigitRun]) -> Vec<Range<usize>> {
    runs.iter()
        .filter(|run| {
            (run.groups() == [3, 2, 4] && !run.too_many_groups())
                || (run.groups() == [9]
                    && keyword_before(text, run.span.start, CONTEXT_REACH, SSN_WORDS))
        })
        .filter(|run| valid(&run.digits(text)))
        .map(|run| run.span.clone())
        .collect()
}

/// Whether nine digits form an SSN that could have been issued.
pub fn valid(digits: &str) -> bool {
    let area: u32 = digits[..3].parse().unwrap_or(0);
    let group: u32 = digits[3..5].parse().unwrap_or(0);
    let serial: u32 = digits[5..].parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_formatted_ssns_and_rejects_never_issued_ranges() {
        let text = "SSN 123-45-6789, alt 123 45 6789; bad 000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000";
        let found: Vec<&str> = find(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, ["123-45-6789", "123 45 6789"]);
    }

    #[test]
    fn bare_digits_count_after_an_ssn_word() {
        let text = "Applicant SSN: 450785840 (verify); social security number 427740862 is flagged";
        let found: Vec<&str> = find(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, ["450785840", "427740862"]);
        assert!(find("order 450785840").is_empty());
        assert!(find("SSN: 900785840").is_empty(), "never issued");
    }

    #[test]
    fn ignores_bare_digits_dates_and_phone_shapes() {
        for text in [
            "123456789",
            "2024-01-15",
            "555-123-4567",
            "call 12-345-6789",
        ] {
            assert!(find(text).is_empty(), "{text}");
        }
    }
}
