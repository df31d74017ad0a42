//! A quick test that a keyword rule cannot match a text, before its regex runs.
//!
//! A rule made of keywords alone matches only where one of its keywords
//! occurs, and each keyword holds a word that must then occur too, in one of
//! the spellings case folding allows. For each keyword the prefilter keeps the
//! longest run of characters of one word that case folding leaves alone, or
//! maps only between the two cases of an ASCII letter (not `k` or `s`, which
//! also match the Kelvin sign and the long s; the folds are the regex crate's
//! own, from `regex-syntax`). Such a piece, lowercased, is looked for in the
//! text lowercased ASCII-wise, with every other rule's pieces in one pass
//! ([`crate::pieces`]); the rule's regex, a lazy DFA reading every byte, runs
//! only if some keyword's piece is there. When no piece is there the regex
//! could not have matched, so findings are the same with and without the
//! prefilter (a test checks that on varied texts).
//!
//! A rule with a `regex` is prefiltered when every match of its pattern starts
//! with one literal ([`Prefilter::from_prefix`]), as most ticket ids, codenames
//! and licence headers do. Rules with many keywords, a keyword with no piece
//! (`sks`), or a pattern with no common literal prefix (`(?i)gnu`, `\d+`) are
//! left to the set of patterns that one pass of a lazy DFA reads.

use regex_syntax::hir::literal::{Extractor, Seq};
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

/// Rules with more keywords than this are left to the set of patterns. Chosen
/// when each keyword's piece was a search of its own, which past eight cost
/// more than one pass of the regex; now that all pieces share one pass a
/// higher limit may pay (not measured yet).
const MAX_KEYWORDS: usize = 8;

/// The pieces one of which a rule's match must contain.
#[derive(Debug, Clone)]
pub struct Prefilter {
    /// Looked for in the text lowercased ASCII-wise when the rule ignores
    /// case (and then lowercased themselves), else in the text.
    pub pieces: Vec<Vec<u8>>,
    pub case_sensitive: bool,
}

impl Prefilter {
    /// The prefilter of a rule with these keywords and no regex, if every
    /// keyword has a piece and there are not too many of them.
    pub fn new(keywords: &[String], case_sensitive: bool) -> Option<Prefilter> {
        if keywords.is_empty() || keywords.len() > MAX_KEYWORDS {
            return None;
        }
        let pieces = keywords
            .iter()
            .map(|keyword| piece(keyword, case_sensitive))
            .collect::<Option<Vec<String>>>()?;
        Some(Prefilter {
            pieces: pieces.into_iter().map(String::into_bytes).collect(),
            case_sensitive,
        })
    }

    /// The prefilter of a pattern whose matches all start with one literal of
    /// three bytes or more (`GNU ` in `GNU (Affero |Lesser )?General Public
    /// License`, `INC-` in `\bINC-\d{4,}\b`), by regex-syntax's prefix
    /// extraction, which lists literals one of which starts every match. When
    /// the pattern ignores case, the literals are its spellings (`GNU `, `gNu `,
    /// ...): lowercased ASCII-wise, as the text will be, they share the prefix.
    pub fn from_prefix(pattern: &str) -> Option<Prefilter> {
        let hir = regex_syntax::parse(pattern).ok()?;
        let prefixes = Extractor::new().extract(&hir);
        let long = |prefix: &&[u8]| prefix.len() >= 3;
        let prefilter = |prefix: &[u8], case_sensitive| Prefilter {
            pieces: vec![prefix.to_vec()],
            case_sensitive,
        };
        if let Some(prefix) = prefixes.longest_common_prefix().filter(long) {
            return Some(prefilter(prefix, true));
        }
        let lowercased = Seq::new(
            prefixes
                .literals()?
                .iter()
                .map(|literal| literal.as_bytes().to_ascii_lowercase()),
        );
        let prefix = lowercased.longest_common_prefix().filter(long)?;
        Some(prefilter(prefix, false))
    }
}

/// The longest piece of `keyword` that any match of it must contain, as it
/// reads in the text lowercased ASCII-wise (or as it is, `case_sensitive`).
fn piece(keyword: &str, case_sensitive: bool) -> Option<String> {
    let mut best = String::new();
    for word in keyword.split_whitespace() {
        let mut current = String::new();
        for c in word.chars() {
            if case_sensitive {
                current.push(c);
            } else if folds_at_most_ascii_case(c) {
                current.push(c.to_ascii_lowercase());
            } else {
                current.clear();
            }
            if current.len() > best.len() {
                best.clone_from(&current);
            }
        }
    }
    (!best.is_empty()).then_some(best)
}

/// Whether case-insensitive matching lets `c` match only itself, or only the
/// two cases of an ASCII letter.
fn folds_at_most_ascii_case(c: char) -> bool {
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    let (lower, upper) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
    class
        .iter()
        .all(|range| (range.start()..=range.end()).all(|m| m == lower || m == upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_avoid_letters_that_fold_outside_ascii() {
        let piece = |k: &str| piece(k, false);
        assert_eq!(piece("Project Falcon").as_deref(), Some("project"));
        assert_eq!(piece("Osprey").as_deref(), Some("prey"));
        assert_eq!(piece("猎鹰计划").as_deref(), Some("猎鹰计划"));
        assert_eq!(piece("Straße").as_deref(), Some("tra"));
        assert_eq!(piece("sks"), None);
        assert_eq!(super::piece("Osprey", true).as_deref(), Some("Osprey"));
        assert!(!folds_at_most_ascii_case('k') && !folds_at_most_ascii_case('S'));
        assert!(folds_at_most_ascii_case('P') && folds_at_most_ascii_case('-'));
    }

    #[test]
    fn prefixes_are_the_literal_that_starts_every_match() {
        let prefix = |p: &str| {
            Prefilter::from_prefix(p).map(|f| {
                let needle = String::from_utf8(f.pieces[0].clone()).unwrap();
                (needle, f.case_sensitive)
            })
        };
        let found = |needle: &str, case_sensitive| Some((needle.to_string(), case_sensitive));
        assert_eq!(prefix(r"\bINC-\d{4,}\b"), found("INC-", true));
        assert_eq!(prefix(r"(?i)\bINC-\d{4,}\b"), found("inc-", false));
        assert_eq!(
            prefix("GNU (Affero |Lesser )?General Public License"),
            found("GNU ", true)
        );
        assert_eq!(
            prefix("(?i)(?:GNU (Affero |Lesser )?General Public License)"),
            found("gnu ", false)
        );
        // The Kelvin sign is a spelling of `k` that lowercasing leaves alone.
        assert_eq!(prefix("(?i)ok computer"), None);
        assert_eq!(prefix(r"\d{4}-\d{4}"), None);
        assert_eq!(prefix("ab|abc"), None);
    }
}
