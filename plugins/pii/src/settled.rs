//! How much of a streamed answer is settled: no personal data can begin
//! before the offset and still be open (see the SDK's `Guardrail::settled`).
//!
//! - E-mail addresses and IP addresses hold no whitespace: one still open
//!   lies in the trailing run of non-whitespace.
//! - Cards, phone numbers, IBANs and SSNs may hold spaces, but each is at most
//!   [`LONGEST_SPACED`] bytes and holds a digit within its first few
//!   characters (`+1 `, `(0)30`, `GB82 WEST`): one still open starts in the
//!   run of non-whitespace around a digit of the last [`LONGEST_SPACED`] bytes.
//! - National phone numbers and bare SSNs count only after a phone or SSN word
//!   (`tel`, `SSN`) at most [`REACH`] bytes before them: while such a word is
//!   near the end (or begun at it, as `social ` is), a number may still come
//!   that needs it, so the text is held from the word's neighbourhood.
//!
//! Everything before the earliest of those is settled, at the start of a run
//! of non-whitespace, so that a window reads its first word as the whole text
//! does. Context that only excuses a match (a version word before a dotted
//! quad, `ssh` before `user@host`) may be released before it: the stream then
//! redacts what the whole text would have let pass, never the reverse.

use crate::{card, iban, ip, phone, ssn};

/// The longest match that may hold whitespace.
const LONGEST_SPACED: usize = max(
    max(card::MAX_LEN, phone::MAX_LEN),
    max(iban::MAX_LEN, ssn::MAX_LEN),
);

/// How far before a number its context word may end.
const REACH: usize = max(phone::CONTEXT_REACH, ssn::CONTEXT_REACH);

/// The longest context word, in bytes.
const LONGEST_WORD: usize = 24;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The settled offset of `text`.
pub fn settled(text: &str) -> usize {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut settled = run_start(bytes, len);
    let spaced_from = ceil_boundary(text, len.saturating_sub(LONGEST_SPACED.max(ip::MAX_LEN)));
    if let Some(digit) = bytes[spaced_from..].iter().position(u8::is_ascii_digit) {
        settled = settled.min(run_start(bytes, spaced_from + digit));
    }
    let context_from = ceil_boundary(
        text,
        len.saturating_sub(REACH + LONGEST_SPACED + LONGEST_WORD),
    );
    if has_context_word(&text[context_from..]) {
        settled = settled.min(run_start(bytes, context_from));
    }
    for word in phone::PHONE_WORDS.iter().chain(ssn::SSN_WORDS) {
        for (at, _) in word.char_indices().skip(1) {
            let begun = &word[..at];
            if begun.contains(' ') && ends_with_ignoring_case(text, begun) {
                settled = settled.min(run_start(bytes, len - begun.len()));
            }
        }
    }
    settled
}

/// Whether a phone or SSN word starts a word in `window` (a loose test: any
/// such word counts, whatever follows it).
fn has_context_word(window: &str) -> bool {
    let lower = window.to_lowercase();
    phone::PHONE_WORDS.iter().chain(ssn::SSN_WORDS).any(|word| {
        lower.match_indices(word).any(|(at, _)| {
            lower[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphabetic())
        })
    })
}

fn ends_with_ignoring_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].to_lowercase() == suffix
}

/// The start of the run of non-whitespace that ends at `at`.
fn run_start(bytes: &[u8], at: usize) -> usize {
    bytes[..at]
        .iter()
        .rposition(u8::is_ascii_whitespace)
        .map_or(0, |i| i + 1)
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use crate::Pii;
    use sluice_plugin_sdk::testing::Harness;

    fn plugin() -> Harness<Pii> {
        Harness::<Pii>::with_defaults()
    }

    #[test]
    fn words_without_digits_are_settled_up_to_the_last_one() {
        let text = "Sure, I can help with the migration plan";
        assert_eq!(plugin().settled(text), text.len() - "plan".len());
        assert_eq!(plugin().settled("All done. "), "All done. ".len());
    }

    #[test]
    fn numbers_and_context_words_are_held() {
        let pii = plugin();
        let text = "my card is 4111 1111";
        assert_eq!(pii.settled(text), text.find("4111").unwrap());
        let text = "Reach me by phone at ";
        assert!(pii.settled(text) <= text.find("phone").unwrap());
        let text = "her social ";
        assert_eq!(pii.settled(text), text.find("social").unwrap());
    }

    /// Personal data of each kind, split into two chunks at every byte and
    /// streamed with the settled offsets: the client never sees it, and gets
    /// what the whole text redacts.
    #[test]
    fn personal_data_split_at_any_byte_never_reaches_the_client() {
        let plugin = plugin();
        let cases = [
            "You can reach me at leak.person@corp-mail.com any time.",
            "Card: 4111 1111 1111 1111, expiry 12/29.",
            "Call +1 415 555 2671 tomorrow",
            "Telefon: 0172 88973626 bitte",
            "my SSN 078051120 is on file",
            "IBAN GB82 WEST 1234 5698 7654 32 for the transfer",
            "server at 8.8.4.4 answers",
        ];
        for text in cases {
            let whole = plugin.assert_any_split_streams_alike(text);
            assert_ne!(whole, text, "the case has something to redact: {text}");
        }
    }

    #[test]
    fn words_are_released_as_they_complete() {
        let words = ["The ", "parser ", "reads ", "each ", "line ", "once."];
        let releases = plugin().stream_releases(&words);
        assert_eq!(releases[..3], ["The ", "parser ", "reads "]);
        assert_eq!(releases.concat(), words.concat());
    }
}
