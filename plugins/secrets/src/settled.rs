//! How much of a streamed answer is settled: no secret can begin before the
//! offset and still be open (see the SDK's `Guardrail::settled`).
//!
//! Every match contains one of its rule's keywords, and what a match holds
//! before its first keyword never contains ASCII whitespace: keyword-first
//! rules start at the keyword; the others put only a token before it
//! (`[0-9a-f]{32}-us`, `sv=...&sig=`, `<db_password>`) or one boundary
//! character (`(?:^|\s)--password`), which the start of a window stands in
//! for. So a match still open at the end of the text starts
//!
//! - in the trailing run of non-whitespace (a half-seen `ghp_...`, `sk-ant-`,
//!   a hex run that may end in `-us1`), unless that run is a word closed by
//!   `!` or `,` ([`CLOSING`]), or
//! - in the run of non-whitespace before a keyword that has begun at the end
//!   (`bot ` and `vault token` hold spaces: `... bot ` waits for what follows), or
//! - in the run of non-whitespace before a keyword in the last
//!   [`MAX_WINDOWED_MATCH`] bytes (`password = "...`, a PEM header, a
//!   `curl -u` line) whose match may still come, or has ended: held from there
//!   until the match is decided, or the gateway's bound releases it. Whether
//!   it may still come, each rule with the keyword says by its regex as a lazy
//!   DFA ([`OpenMatches`](sluice_plugin_sdk::open_match::OpenMatches)), run
//!   anchored from every place its match could begin; a keyword from which
//!   every one has died without matching (`token` in "one token at a time",
//!   once ` at` has come) holds nothing;
//! - or it is a private key block whose END line has not come, however long
//!   (the gateway's bound then cuts inside it, and the block's redaction,
//!   which straddles the cut, holds it whole).
//!
//! Everything before the earliest of those is settled. Starting a window just
//! after whitespace keeps `\b` and `^` reading as they do in the whole text.
//! Before a keyword that has arrived, the 64 bytes of its line that
//! `allow_match` regexes read are held too. Before one yet to come they may be
//! released: a secret that context would have excused (`for example: ...`) is
//! then redacted in the stream, never the reverse.
//!
//! Rules from `extra_rules` promise none of this: with any, the plugin keeps
//! the SDK's default.

use crate::rules::{self, ALLOW_MATCH_LOOKBEHIND, MAX_WINDOWED_MATCH};
use crate::scan::Scanner;
use aho_corasick::{AhoCorasick, MatchKind};
use sluice_plugin_sdk::open_match::Fate;
use sluice_plugin_sdk::{default_settled, open_run_start, run_start};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Punctuation that closes a word for every built-in rule: none holds it
/// after letters in what comes before its keyword (`[?&;=]sv=`, which may
/// start after `;` or `?`, is why those two are not here), and a rule that
/// reads the byte before its match reads `!` and `,` as it reads the start of
/// a window (`\b`, `[^0-9]`), except `(?:^|\s)--password`, which a window then
/// finds where the whole text does not: a stricter stream, never a looser one.
const CLOSING: &[u8] = b"!,";

/// The keywords of the built-in rules, enabled or not (more keywords only hold
/// more back).
struct Keywords {
    automaton: AhoCorasick,
    /// For each keyword of the automaton, the rules that have it (indices into
    /// the built-in file's rules, which are the scanner's when it has no extras).
    rules_of: Vec<Vec<usize>>,
    /// Every proper prefix of a keyword, lowercase: what may end the text.
    prefixes: HashSet<Vec<u8>>,
    /// For each byte, the lengths of the prefixes that end with it (bit
    /// `n - 1` for `n` bytes; keywords are at most 64 bytes): the text's last
    /// byte says which of its ends to look up.
    prefix_lengths_ending_in: [u64; 256],
    /// How many rules the built-in file has: more means `extra_rules`.
    builtin_rules: usize,
}

fn keywords() -> &'static Keywords {
    static KEYWORDS: OnceLock<Keywords> = OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let file = rules::builtin();
        let mut words: Vec<String> = file
            .rules
            .iter()
            .flat_map(|rule| rule.keywords.iter().map(|k| k.to_ascii_lowercase()))
            .collect();
        words.sort();
        words.dedup();
        let rules_of = words
            .iter()
            .map(|word| {
                (0..file.rules.len())
                    .filter(|&r| {
                        file.rules[r]
                            .keywords
                            .iter()
                            .any(|k| k.eq_ignore_ascii_case(word))
                    })
                    .collect()
            })
            .collect();
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("the built-in keywords build an automaton");
        let prefixes: HashSet<Vec<u8>> = words
            .iter()
            .flat_map(|w| (1..w.len()).map(move |n| w.as_bytes()[..n].to_vec()))
            .collect();
        let mut prefix_lengths_ending_in = [0u64; 256];
        for prefix in &prefixes {
            assert!(
                prefix.len() <= 64,
                "a built-in keyword is longer than 64 bytes"
            );
            prefix_lengths_ending_in[usize::from(prefix[prefix.len() - 1])] |=
                1 << (prefix.len() - 1);
        }
        Keywords {
            automaton,
            rules_of,
            prefixes,
            prefix_lengths_ending_in,
            builtin_rules: file.rules.len(),
        }
    })
}

/// The settled offset of `text` for `scanner`'s enabled rules.
pub fn settled(scanner: &Scanner, text: &str) -> usize {
    let keywords = keywords();
    if scanner.rules().len() != keywords.builtin_rules {
        return default_settled(text, MAX_WINDOWED_MATCH as u32);
    }
    let bytes = text.as_bytes();
    let len = bytes.len();
    let tail = text.floor_char_boundary(len.saturating_sub(MAX_WINDOWED_MATCH));
    let mut settled = open_run_start(bytes, CLOSING);
    for hit in keywords.automaton.find_overlapping_iter(&text[tail..]) {
        let at = tail + hit.start();
        if !starts_nothing(
            scanner,
            &keywords.rules_of[hit.pattern().as_usize()],
            text,
            at,
        ) {
            settled = settled.min(with_allow_context(bytes, run_start(bytes, at)));
        }
    }
    if let Some(begin) = open_key_block(text) {
        settled = settled.min(run_start(bytes, begin));
    }
    // A keyword begun at the end. The longest such end settles least, so the
    // lengths are tried from the longest down.
    if let Some(&last) = bytes.last() {
        let mut lengths = keywords.prefix_lengths_ending_in[usize::from(last.to_ascii_lowercase())];
        while lengths != 0 {
            let begun = 64 - lengths.leading_zeros() as usize;
            lengths &= !(1 << (begun - 1));
            if begun <= len
                && keywords
                    .prefixes
                    .contains(&bytes[len - begun..].to_ascii_lowercase())
            {
                settled = settled.min(run_start(bytes, len - begun));
                break;
            }
        }
    }
    settled
}

/// Whether no rule of `with_keyword` (whose keyword begins at `at`) has a
/// match around that keyword, nor can have one whatever text comes: each
/// rule's regex, anchored at every place such a match could begin (the
/// keyword for a keyword-first rule; else any of the run of non-whitespace
/// before it, or the one boundary character before the run), has died
/// without matching. Such a keyword needs nothing held: not its text, nor the
/// context `allow_match` would read before a match. A match that has ended
/// is still held with its context, as before, since a window starting between
/// the two would judge it without that context. A rule the scanner does not
/// run reports nothing, so it holds nothing (and is never compiled here).
fn starts_nothing(scanner: &Scanner, with_keyword: &[usize], text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    with_keyword.iter().all(|&r| {
        if !scanner.enabled()[r] {
            return true;
        }
        let rule = &scanner.rules()[r];
        let (Some(compiled), Some(open)) = (rule.compiled(), rule.open_matches()) else {
            return false;
        };
        let first = if compiled.keyword_first {
            at
        } else {
            run_start(bytes, at).saturating_sub(1)
        };
        (first..=at)
            .filter(|&start| text.is_char_boundary(start))
            .all(|start| open.fate(text, start) == Fate::Never)
    })
}

/// Where the last private key block starts, while its END line has not come:
/// the block's match ends before a half-written END line, and would otherwise
/// be released without it.
fn open_key_block(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let begin = ["-----begin", "---- begin"]
        .iter()
        .filter_map(|marker| lower.rfind(marker))
        .max()?;
    let rest = &lower[begin..];
    let ended = ["-----end", "---- end"].iter().any(|marker| {
        rest.find(marker)
            .is_some_and(|at| rest[at..].contains("key-----") || rest[at..].contains("key ----"))
    });
    (!ended).then_some(begin)
}

/// Where the text an `allow_match` regex reads before a match at `at` starts:
/// up to [`ALLOW_MATCH_LOOKBEHIND`] bytes of its line, from a run start.
fn with_allow_context(bytes: &[u8], at: usize) -> usize {
    let line_start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let from = at.saturating_sub(ALLOW_MATCH_LOOKBEHIND).max(line_start);
    if from == at {
        at
    } else {
        run_start(bytes, from)
    }
}

#[cfg(test)]
mod tests {
    use crate::Secrets;
    use sluice_plugin_sdk::testing::Harness;

    fn plugin() -> Harness<Secrets> {
        Harness::<Secrets>::with_defaults()
    }

    #[test]
    fn plain_words_are_settled_up_to_the_last_one() {
        let text = "Here is the plan for the refactor: we move the parser first";
        assert_eq!(plugin().settled(text), text.len() - "first".len());
        assert_eq!(plugin().settled("done. "), "done. ".len());
    }

    #[test]
    fn a_begun_token_or_keyword_is_held() {
        let secrets = plugin();
        // a keyword holds its line's last 64 bytes before it, for allow_match
        let text = "use the token ghp_aB3";
        assert_eq!(secrets.settled(text), 0);
        let text =
            "a long line of words that allow_match regexes do not read at all, then the bot ";
        assert_eq!(secrets.settled(text), text.find("line").unwrap());
        let text = "then run gh";
        assert_eq!(secrets.settled(text), text.len() - 2);
    }

    #[test]
    fn a_keyword_that_starts_no_match_is_released() {
        let secrets = plugin();
        // `token` is a keyword of the generic assignment rule; ` at` ends it
        let text = "This is the mock upstream, answering one token at a time so";
        assert_eq!(secrets.settled(text), text.len() - "so".len());
        let words = ["Hello", "!", " one", " token", " at", " a", " time", "."];
        let releases = secrets.stream_releases(&words);
        assert_eq!(releases[4], "one token ", "released once ` at` decides it");
        // while the assignment may still come, it is held with its line
        for open in ["one token", "one token ", "one token =", "one token = 'abc"] {
            assert_eq!(secrets.settled(open), 0, "{open}");
        }
        // a match that has ended keeps its context held, as before
        let text = "the token = c0rr3ctH0rseBattery9 then more";
        assert_eq!(secrets.settled(text), 0);
    }

    #[test]
    fn an_assignment_is_held_past_its_spaces() {
        let text = "config:\n  db_password = \"hunter";
        assert_eq!(plugin().settled(text), "config:\n".len());
    }

    #[test]
    fn extra_rules_keep_the_default() {
        let settings = r#"{"extra_rules": [{"id": "acme-token", "title": "Acme", "keywords": ["acme_"],
            "regex": "\\b(ACME_[A-Za-z0-9]{32})\\b", "examples": ["ACME_q8FwL2zVr7Kd0sPbX3mN6tYhZk3pW9qv"]}]}"#;
        let secrets = Harness::<Secrets>::configure(settings).unwrap();
        let text = "x".repeat(600) + " plain words";
        assert_eq!(secrets.settled(&text), text.len() - 512);
    }

    /// Secrets of many shapes, each split into two chunks at every byte and
    /// streamed with the settled offsets: the client never sees the secret,
    /// and gets what the whole text redacts.
    #[test]
    fn a_secret_split_at_any_byte_never_reaches_the_client() {
        let plugin = plugin();
        let cases = [
            "Set GITHUB_TOKEN=ghp_R8x2kP9qL4mN7vB1cZ6wT3yH5jD0fG2sA8eK and rerun.",
            "the key is sk-ant-api03-Zq8Xw2Lp9Rt4Vn7Mk1Bc6Hd3Fj5Gs0Ya8Ue2Io4Pq9Wr1Ts6Ly end",
            "db:\n  password = \"c0rr3ct-h0rse-Battery9\"\nnext line",
            "connect to postgres://app:Sup3rS3cretPw@db.internal:5432/app now",
            "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXBsb3kiLCJyb2xlIjoiYWRtaW4ifQ.Xk9wP2mQ7rT4vB8nL1cZ6yH3jD5fG0sA8eKqW2 done",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8Xp2Lk3M\n",
            "one token at a time; the secret of it: token = \"c0rr3ct-h0rse-Battery9\" ok",
            "a token, a secret, then api_key=Zq8Xw2Lp9Rt4Vn7Mk1Bc6Hd3 and more",
        ];
        for text in cases {
            let whole = plugin.assert_any_split_streams_alike(text);
            assert_ne!(whole, text, "the case has something to redact: {text}");
        }
    }

    /// Every example of every built-in rule, after some plain words, split at
    /// every byte: what the shape argument above promises, checked rule by rule.
    #[test]
    fn every_rule_example_split_at_any_byte_streams_as_a_whole() {
        let plugin = plugin();
        for rule in crate::rules::builtin().rules {
            for example in &rule.examples {
                let text = format!("Here it is: {example}\nand more words after it");
                plugin.assert_any_split_streams_alike(&text);
            }
        }
    }

    /// The same, each example glued to a word closed by punctuation, which is
    /// released before the example has begun.
    #[test]
    fn every_rule_example_after_a_closed_word_streams_as_a_whole() {
        let plugin = plugin();
        for rule in crate::rules::builtin().rules {
            for example in &rule.examples {
                for closed in ["Hello!", "Sure,"] {
                    let text = format!("Here it is, {closed}{example}\nand more");
                    plugin.assert_any_split_streams_alike(&text);
                }
            }
        }
    }

    #[test]
    fn a_word_closed_by_punctuation_no_rule_holds_is_settled() {
        let secrets = plugin();
        assert_eq!(secrets.settled("Hello!"), "Hello!".len());
        assert_eq!(secrets.settled("Well. Sure,"), "Well. Sure,".len());
        // `;sv=...&sig=` starts a SAS token; `.` and `:` go on in many.
        for text in ["Hello;", "Hello.", "Hello:"] {
            assert_eq!(secrets.settled(text), 0, "{text}");
        }
        // A keyword is held however it ends: `token,` may be followed by a value.
        assert!(secrets.settled("the token,") <= "the ".len());
    }

    #[test]
    fn words_are_released_as_they_complete() {
        let secrets = plugin();
        let words = ["The ", "parser ", "reads ", "each ", "line ", "once."];
        let releases = secrets.stream_releases(&words);
        assert_eq!(releases[0], "The ");
        assert_eq!(releases[1], "parser ");
        assert_eq!(releases[2], "reads ");
        assert_eq!(releases.concat(), words.concat());
    }
}
