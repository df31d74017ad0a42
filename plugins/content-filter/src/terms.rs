//! The word lists: the built-in ones from `lists.toml`, and term templates.
//!
//! A term may hold `{a|b|c}` groups; [`expand`] turns it into every phrase it
//! stands for. That is how phrase variations are covered: the prompt-injection
//! term
//!
//! ```text
//! {ignore|disregard|forget} {|all|the|your|...} {previous|prior|above|...} {instructions|rules|...}
//! ```
//!
//! becomes "ignore previous instructions", "disregard all prior rules",
//! "forget your earlier prompts" and so on, each one pattern of the single
//! automaton. Generating the combinations once, at configure time, keeps the
//! scan itself one pass of one automaton, with no second matcher for phrases,
//! and keeps every phrase that can match spelled out and testable.

use crate::category::Category;
use serde::Deserialize;

/// The built-in lists, embedded.
pub const LISTS_TOML: &str = include_str!("../lists.toml");

/// The most phrases one term may stand for.
pub const MAX_EXPANSION: usize = 4096;

/// `lists.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListsFile {
    version: u32,
    profanity: List,
    hate: List,
    violence: List,
    #[serde(rename = "self-harm")]
    self_harm: List,
    sexual: List,
    #[serde(rename = "prompt-injection")]
    prompt_injection: List,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    terms: Vec<String>,
}

/// The built-in word lists.
#[derive(Debug, Clone)]
pub struct BuiltinLists {
    /// The lists' `version`, raised on every change.
    pub version: u32,
    /// The terms (templates) of each word category, in the order of
    /// [`Category::WORDS`].
    pub terms: [Vec<String>; 6],
}

impl BuiltinLists {
    /// Parses the embedded `lists.toml`.
    pub fn load() -> Result<Self, String> {
        let file: ListsFile = toml::from_str(LISTS_TOML)
            .map_err(|e| format!("the built-in lists.toml is invalid: {e}"))?;
        Ok(BuiltinLists {
            version: file.version,
            terms: [
                file.profanity.terms,
                file.hate.terms,
                file.violence.terms,
                file.self_harm.terms,
                file.sexual.terms,
                file.prompt_injection.terms,
            ],
        })
    }

    /// The terms of word category `category`.
    pub fn of(&self, category: Category) -> &[String] {
        let index = Category::WORDS
            .iter()
            .position(|&c| c == category)
            .expect("a word category");
        &self.terms[index]
    }
}

/// Every phrase `template` stands for, with spaces trimmed and doubled spaces
/// (left by empty alternatives) made single. Groups do not nest.
pub fn expand(template: &str) -> Result<Vec<String>, String> {
    let mut phrases = vec![String::new()];
    let mut rest = template;
    while !rest.is_empty() {
        let literal_end = rest.find(['{', '}', '|']).unwrap_or(rest.len());
        for phrase in &mut phrases {
            phrase.push_str(&rest[..literal_end]);
        }
        rest = &rest[literal_end..];
        if rest.is_empty() {
            break;
        }
        if !rest.starts_with('{') {
            return Err(format!(
                "{template:?}: `{}` outside a {{...}} group",
                &rest[..1]
            ));
        }
        let Some(close) = rest.find('}') else {
            return Err(format!("{template:?}: a {{ group is not closed"));
        };
        let group = &rest[1..close];
        if group.contains('{') {
            return Err(format!("{template:?}: groups cannot nest"));
        }
        let alternatives: Vec<&str> = group.split('|').collect();
        if phrases.len() * alternatives.len() > MAX_EXPANSION {
            return Err(format!(
                "{template:?} stands for more than {MAX_EXPANSION} phrases; split it"
            ));
        }
        phrases = phrases
            .iter()
            .flat_map(|p| alternatives.iter().map(move |a| format!("{p}{a}")))
            .collect();
        rest = &rest[close + 1..];
    }
    Ok(phrases
        .into_iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect())
}

/// The characters that stand for a masked letter: `f*ck`, `sh#t`.
pub const MASKS: [char; 2] = ['*', '#'];

/// Masked spellings of a single word of four letters or more: each vowel in
/// turn written as each of [`MASKS`] (`fuck` → `f*ck`, `f#ck`;
/// `asshole` → `*sshole`, `assh*le`, ...). Self-censored spellings that
/// people write to swear anyway; the normaliser keeps the mask as
/// punctuation, so the variants are ordinary terms.
pub fn masked(phrase: &str) -> Vec<String> {
    let word = phrase.trim().to_lowercase();
    if word.len() < 4 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return Vec::new();
    }
    let mut variants = Vec::new();
    for (i, b) in word.bytes().enumerate() {
        if matches!(b, b'a' | b'e' | b'i' | b'o' | b'u') {
            for mask in MASKS {
                let mut variant = word.clone();
                variant.replace_range(i..i + 1, mask.encode_utf8(&mut [0; 4]));
                variants.push(variant);
            }
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_lists_load() {
        let lists = BuiltinLists::load().unwrap();
        assert!(lists.version >= 1);
        for category in Category::WORDS {
            assert!(!lists.of(category).is_empty(), "{}", category.name());
        }
    }

    #[test]
    fn templates_expand_to_every_combination() {
        assert_eq!(expand("fuck{|s|ed}").unwrap(), ["fuck", "fucks", "fucked"]);
        assert_eq!(
            expand("{ignore|forget} {|all} {previous|prior} rules").unwrap(),
            [
                "ignore previous rules",
                "ignore prior rules",
                "ignore all previous rules",
                "ignore all prior rules",
                "forget previous rules",
                "forget prior rules",
                "forget all previous rules",
                "forget all prior rules",
            ]
        );
        assert_eq!(expand("  plain term ").unwrap(), ["plain term"]);
    }

    #[test]
    fn masked_spellings_replace_one_vowel() {
        assert_eq!(masked("fuck"), ["f*ck", "f#ck"]);
        assert_eq!(masked("Shite").len(), 4);
        assert!(masked("ass").is_empty());
        assert!(masked("son of a bitch").is_empty());
        assert!(masked("scheiße").is_empty());
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["a{b", "a}b", "a|b", "{a{b}}", "x{a|b"] {
            assert!(expand(bad).is_err(), "{bad:?}");
        }
        let huge = "{a|b|c|d|e|f|g|h}".repeat(5);
        assert!(expand(&huge).unwrap_err().contains("4096"));
    }
}
