//! How much of a streamed answer is settled: no personal data can begin
//! before the offset and still be open (see the SDK's `Guardrail::settled`).
//!
//! - E-mail addresses and IP addresses hold no whitespace: one still open
//!   lies in the trailing run of non-whitespace, unless that run is a word
//!   closed by punctuation no address holds ([`CLOSING`]: `Hello!`, `Sure,`).
//! - Cards, phone numbers, IBANs and SSNs may hold spaces, but each is at most
//!   [`LONGEST_SPACED`] bytes and holds a digit within its first few
//!   characters (`+1 `, `(0)30`, `GB82 WEST`): one still open starts in the
//!   run of non-whitespace around a digit of the last [`LONGEST_SPACED`] bytes.
//! - National phone numbers and bare SSNs count only after a phone or SSN word
//!   (`tel`, `SSN`) at most [`REACH`] bytes before them: while such a word is
//!   near the end (or begun at it, as `social ` is), a number may still come
//!   that needs it, so the text is held from the word's neighbourhood.
//!
//! - Context that excuses a match is held the same way: a version word
//!   (`version`, `section`, `pinned`) in the line's last [`EXCUSE_REACH`] bytes
//!   before a dotted quad, or a login command (`ssh`, `scp`) before
//!   `user@host`, so that the stream lets pass what the whole text does.
//!
//! Everything before the earliest of those is settled, at the start of a run
//! of non-whitespace, so that a window reads its first word as the whole text
//! does.

use crate::{card, email, iban, ip, phone, ssn};
use sluice_plugin_sdk::{open_run_start, run_start};

/// Punctuation that no e-mail or IP address, card, phone number, IBAN or SSN
/// holds, and that none of them reads before its start except as a non-word
/// byte (as the start of a window reads; `email` ends a login command's word
/// at each of them): a word closed by it is settled.
pub(crate) const CLOSING: &[u8] = b"!?,;";

/// How far back on its line the context that excuses a dotted quad or a
/// `user@host` is looked for, from the start of the trailing run: more than
/// the 32 characters `ip` reads, and the 80 bytes `email` reads.
const EXCUSE_REACH: usize = 128;

/// The words of that context (lowercase; any occurrence that starts a word
/// counts, whatever follows).
const EXCUSING: &[&str] = &["ver", "release", "build", "oid", "section", "chapter", "§"];

/// The longest match that may hold whitespace.
const LONGEST_SPACED: usize = max(
    max(card::MAX_LEN, phone::MAX_LEN),
    max(iban::MAX_LEN, ssn::MAX_LEN),
);

/// How far before a number its context word may end.
const REACH: usize = max(phone::CONTEXT_REACH, ssn::CONTEXT_REACH);

/// The longest context word, in bytes.
const LONGEST_WORD: usize = 24;

/// The longest context word with a space in it (`social security`), in bytes.
const SPACED_WORD: usize = 16;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The settled offset of `text`.
pub fn settled(text: &str) -> usize {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut settled = open_run_start(bytes, CLOSING);
    let spaced_from = text.ceil_char_boundary(len.saturating_sub(LONGEST_SPACED.max(ip::MAX_LEN)));
    if let Some(digit) = bytes[spaced_from..].iter().position(u8::is_ascii_digit) {
        settled = settled.min(run_start(bytes, spaced_from + digit));
    }
    let context_from =
        text.ceil_char_boundary(len.saturating_sub(REACH + LONGEST_SPACED + LONGEST_WORD));
    if has_context_word(&text[context_from..]) {
        settled = settled.min(run_start(bytes, context_from));
    }
    if let Some(from) = excusing_context(text, settled, len) {
        settled = settled.min(run_start(bytes, from));
    }
    // A begun word with a space (`social `) may be completed by what comes.
    for word in phone::PHONE_WORDS.iter().chain(ssn::SSN_WORDS) {
        let Some(space) = word.find(' ') else {
            continue;
        };
        for (at, _) in word.char_indices().filter(|&(at, _)| at > space) {
            let begun = &word[..at];
            if ends_with_ignoring_case(text, begun) {
                settled = settled.min(run_start(bytes, len - begun.len()));
            }
        }
    }
    keep_context_whole(text, settled)
}

/// `settled`, moved back until no context word sits just before it: a number
/// still held after the point is never cut from the word that makes it a phone
/// number or an SSN (or that excuses it), which the next window would not see.
fn keep_context_whole(text: &str, mut settled: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        // Words with a space (`social security`) may straddle the point.
        let to = text.floor_char_boundary((settled + SPACED_WORD).min(text.len()));
        let from = text.ceil_char_boundary(settled.saturating_sub(REACH + LONGEST_WORD));
        let qualified = has_context_word(&text[from..to]).then_some(from);
        let excused = excusing_context(text, settled, to);
        let back = match (qualified, excused) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return settled,
        };
        let back = run_start(bytes, back);
        if back >= settled {
            return settled;
        }
        settled = back;
    }
}

/// Where the line's last [`EXCUSE_REACH`] bytes before `at` start, when they
/// (up to `until`) hold a word that excuses a dotted quad or a `user@host`
/// after it.
fn excusing_context(text: &str, at: usize, until: usize) -> Option<usize> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let from = text.ceil_char_boundary(at.saturating_sub(EXCUSE_REACH).max(line_start));
    let window = text[from..until.max(from)].to_lowercase();
    starts_a_word(&window, EXCUSING_WORDS).then_some(from)
}

/// Whether a phone or SSN word starts a word in `window` (a loose test: any
/// such word counts, whatever follows it).
fn has_context_word(window: &str) -> bool {
    starts_a_word(&window.to_lowercase(), CONTEXT_WORDS)
}

/// Words looked for together (at most 64, each of two bytes or more), indexed
/// by the byte each begins with: a position is compared only with the words
/// that begin with its byte.
struct Words {
    words: [&'static str; 64],
    /// For each byte, the indices (bits) of the words that begin with it.
    starting_with: [u64; 256],
}

impl Words {
    const fn new(lists: &[&[&'static str]]) -> Words {
        let mut words = [""; 64];
        let mut starting_with = [0u64; 256];
        let mut count = 0;
        let mut list = 0;
        while list < lists.len() {
            let mut word = 0;
            while word < lists[list].len() {
                assert!(count < 64, "at most 64 words");
                // `starts_a_word` compares the second byte first.
                assert!(lists[list][word].len() >= 2, "words of two bytes or more");
                words[count] = lists[list][word];
                starting_with[words[count].as_bytes()[0] as usize] |= 1 << count;
                count += 1;
                word += 1;
            }
            list += 1;
        }
        Words {
            words,
            starting_with,
        }
    }
}

/// The phone and SSN words.
const CONTEXT_WORDS: &Words = &Words::new(&[phone::PHONE_WORDS, ssn::SSN_WORDS]);

/// The words that excuse a dotted quad or a `user@host` after them.
const EXCUSING_WORDS: &Words = &Words::new(&[EXCUSING, ip::VERSION_WORDS, email::LOGIN_COMMANDS]);

/// Whether one of `words` occurs in `lower` with no letter or digit just
/// before it. One pass: each position that starts a word of `lower` is
/// compared with the words that begin with its byte.
fn starts_a_word(lower: &str, words: &Words) -> bool {
    let bytes = lower.as_bytes();
    let mut after_word_char = false;
    for (at, c) in lower.char_indices() {
        if !after_word_char {
            let mut candidates = words.starting_with[usize::from(bytes[at])];
            while candidates != 0 {
                let word = words.words[candidates.trailing_zeros() as usize];
                // The second byte first: most candidates differ there.
                let rest = &bytes[at..];
                if rest.get(1) == word.as_bytes().get(1) && rest.starts_with(word.as_bytes()) {
                    return true;
                }
                candidates &= candidates - 1;
            }
        }
        after_word_char = c.is_alphanumeric();
    }
    false
}

fn ends_with_ignoring_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].to_lowercase() == suffix
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

    #[test]
    fn a_word_closed_by_punctuation_no_address_holds_is_settled() {
        let pii = plugin();
        assert_eq!(pii.settled("Hello!"), "Hello!".len());
        assert_eq!(pii.settled("Well. Sure,"), "Well. Sure,".len());
        // An address may go on after `.` or `:` (`jane.doe@`, `fe80::1`).
        assert_eq!(pii.settled("Hello."), 0);
        assert_eq!(pii.settled("say dead:"), 4);
        // A context word is held however it ends: a number may follow.
        assert_eq!(pii.settled("tel,"), 0);
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
            "Hello!leak.person@corp-mail.com, Sure,4111 1111 1111 1111",
        ];
        for text in cases {
            let whole = plugin.assert_any_split_streams_alike(text);
            assert_ne!(whole, text, "the case has something to redact: {text}");
        }
    }

    /// What excuses a number in the whole text excuses it in a stream too.
    #[test]
    fn excused_numbers_stay_excused_split_at_any_byte() {
        let plugin = plugin();
        for text in [
            "see section 4.5.1.54 of the spec",
            "we pinned the driver to 9.9.11.34 last week",
            "then run ssh deploy@build-01.internal.example.org now",
            "Release!8.8.4.4 is out",
            "Sure,ssh bob@corp-mail.com",
            "Done?scp dump.sql backup@files.acme.io:/srv/",
            "Hello!ssh deploy@bastion.acme-corp.io",
        ] {
            assert_eq!(plugin.assert_any_split_streams_alike(text), text);
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
