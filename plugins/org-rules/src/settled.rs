//! How much of a streamed answer is settled for the organisation's rules (see
//! the SDK's `Guardrail::settled`).
//!
//! Keywords and regexes alike are patterns ([`Rule::pattern`]), so one lazy
//! DFA of the patterns of every rule that may run on responses says, for each
//! start in the last `max-match-len` bytes, whether a match beginning there
//! could still be open ([`OpenMatches`]): a keyword half-written at the end
//! (`Project Fal`, in any case folding the rule allows), a whole-word keyword
//! that has just ended (its boundary is still to come), `INC-2093` while digits
//! may follow. Text before the earliest such start is settled, moved back to
//! where a window starts as the whole text does (after a character that is not
//! a word character, for rules with `\b`). Plain text goes out as it comes; a
//! rule with no pattern matches by scope alone and holds nothing.
//!
//! The rules' scopes of model, key and metadata are not known here (no call
//! context); every rule that may run on responses and covers the segment's
//! role and kind counts, which can only hold more.
//!
//! Limit: the offset this plugin gives starts a window alike, but the gateway
//! cuts at the smallest offset over all its plugins (or where another
//! plugin's redaction begins), which may be mid-word; a rule that looks
//! behind its match start (`\B…`, or `\b` before a non-word character, as in
//! `\b-\d+` on `x-123`) can then judge the next window differently from the
//! whole text. Plain keywords and patterns that start with a word character
//! after `\b` are not affected.

use crate::rule::Rule;
use sluice_plugin_sdk::open_match::OpenMatches;
use sluice_plugin_sdk::{Phase, Segment, default_settled};

/// The patterns of the rules that may run on responses.
#[derive(Debug, Default)]
pub struct Settled {
    /// Indices of those rules.
    rules: Vec<usize>,
    /// Their patterns; `None` if the DFA could not be built (then the rules
    /// hold their `max-match-len`, the SDK's default).
    open: Option<OpenMatches>,
}

impl Settled {
    /// The settled offsets of `rules`.
    pub fn new(rules: &[Rule]) -> Settled {
        let streamed: Vec<usize> = (0..rules.len())
            .filter(|&r| rules[r].pattern.is_some() && rules[r].scope.covers_phase(Phase::Response))
            .collect();
        let patterns: Vec<&str> = streamed
            .iter()
            .filter_map(|&r| rules[r].pattern.as_ref().map(|p| p.as_str()))
            .collect();
        Settled {
            open: OpenMatches::new(&patterns).ok(),
            rules: streamed,
        }
    }

    /// The settled offset of `segment` (`rules` are the ones [`new`](Settled::new)
    /// was given; `max_match_len` is the plugin's).
    pub fn offset(&self, rules: &[Rule], segment: &Segment, max_match_len: u32) -> usize {
        let text = &segment.text;
        if !self
            .rules
            .iter()
            .any(|&r| rules[r].scope.covers_segment(segment))
        {
            return text.len();
        }
        let floor = default_settled(text, max_match_len);
        match &self.open {
            Some(open) => open.settled(text, floor),
            None => floor,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::OrgRules;
    use sluice_plugin_sdk::Guardrail;
    use sluice_plugin_sdk::testing::Harness;

    const RULES: &str = r#"{"rules": [
        {"id": "codename", "keywords": ["Project Falcon", "Osprey", "猎鹰计划"], "action": "redact"},
        {"id": "gpl", "regex": "GNU (Affero |Lesser )?General Public License", "action": "redact"},
        {"id": "tickets", "regex": "\\bINC-\\d{4,}\\b", "action": "redact", "replacement": "[TICKET]"},
        {"id": "exact", "keywords": ["c++"], "whole_words": false, "case_sensitive": true, "action": "redact"},
        {"id": "no-opus", "models": ["*opus*"], "action": "block"}
    ]}"#;

    fn plugin() -> Harness<OrgRules> {
        Harness::configure(RULES).unwrap()
    }

    #[test]
    fn words_are_released_as_they_complete() {
        let rules = plugin();
        let words = ["The ", "parser ", "reads ", "each ", "line ", "once."];
        let releases = rules.stream_releases(&words);
        assert_eq!(releases[..6], words);
        assert_eq!(releases.concat(), words.concat());
        // Text with no word boundary rule nearby goes out whole.
        let only_gpl = Harness::<OrgRules>::configure(
            r#"{"rules": [{"id": "gpl", "regex": "GNU General Public License"}]}"#,
        )
        .unwrap();
        assert_eq!(
            only_gpl.stream_releases(&["plain ", "text"])[..2],
            ["plain ", "text"]
        );
    }

    #[test]
    fn a_match_that_may_still_come_is_held_from_its_start() {
        let rules = plugin();
        for (text, held) in [
            ("we call it project fal", "project fal"),
            ("we call it PROJECT  FALCON", "PROJECT  FALCON"),
            ("see INC-2093", "INC-2093"),
            ("licensed under the GNU Lesser Gen", "GNU Lesser Gen"),
            ("licensed under the GNU", "GNU"),
            ("written in c+", "c+"),
            // a window may not start after a word character: `\b` would read
            // differently there, so the whole run of them is held
            ("a peregrinefalc", "peregrinefalc"),
            ("关于猎鹰", "关于猎鹰"),
        ] {
            assert_eq!(rules.settled(text), text.len() - held.len(), "{text}");
        }
        // decided: the match ended, or cannot happen
        for text in [
            "we call it project falcon.",
            "see INC-2093, then ",
            "INC-20x ",
            "project falconry ",
        ] {
            assert_eq!(rules.settled(text), text.len(), "{text}");
        }
    }

    #[test]
    fn a_match_split_at_any_byte_never_reaches_the_client() {
        let rules = plugin();
        for text in [
            "Status of Project Falcon: on track, see INC-20931 for details.",
            "A peregrinefalcon is no codename; project\n falcon is.",
            "Code under the GNU Affero General Public License, in c++ and 猎鹰计划.",
            "osprey INC-123 INC-4567x xINC-4567 INC-45678",
            "Ünïcode «Osprey» — ÖSPREY and o\u{17F}prey",
        ] {
            let whole = rules.assert_any_split_streams_alike(text);
            assert_ne!(whole, text, "the case has something to redact: {text}");
        }
    }

    #[test]
    fn a_rule_for_requests_only_or_another_role_holds_nothing() {
        let rules = Harness::<OrgRules>::configure(
            r#"{"rules": [
                {"id": "codename", "keywords": ["Project Falcon"], "phases": ["request"]},
                {"id": "tools", "keywords": ["Osprey"], "roles": ["tool"]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(rules.settled("we call it project fal"), 22);
        assert_eq!(rules.settled("we call it ospr"), 15);
    }

    #[test]
    fn the_bound_is_the_max_match_len() {
        let rules = plugin();
        let text = "INC-".to_string() + &"1".repeat(400);
        let floor = text.len() - OrgRules::MAX_MATCH_LEN as usize;
        assert_eq!(rules.settled(&text), floor);
    }
}
