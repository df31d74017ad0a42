//! One rule: what it looks for, what it does, and where it applies.

use crate::prefilter::Prefilter;
use crate::scope::{Scope, ScopeSpec};
use regex::Regex;
use serde::Deserialize;
use sluice_plugin_sdk::Action;

/// A rule as written in the config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Names the rule in findings, the audit trail and block messages.
    pub id: String,
    /// A regular expression (Rust `regex` syntax) to look for.
    #[serde(default)]
    pub regex: Option<String>,
    /// Words or phrases to look for.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Match letter case exactly (default: ignore case).
    #[serde(default)]
    pub case_sensitive: bool,
    /// Keywords match only as whole words (default: yes).
    #[serde(default = "whole_words_default")]
    pub whole_words: bool,
    /// `flag` (default), `redact` or `block`.
    #[serde(default)]
    pub action: Mode,
    /// Shown to the client when the rule blocks.
    #[serde(default)]
    pub message: Option<String>,
    /// Replaces a match when the rule redacts (default `[REDACTED]`).
    #[serde(default)]
    pub replacement: Option<String>,
    /// The finding kind reported for matches (default `org-rule`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Phases: `request`, `response`; both when absent.
    #[serde(default)]
    pub phases: Vec<crate::scope::PhaseName>,
    /// Message roles; all when absent.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Segment kinds; all when absent.
    #[serde(default)]
    pub segments: Vec<crate::scope::SegmentName>,
    /// Model patterns (`*` wildcards); all when absent.
    #[serde(default)]
    pub models: Vec<String>,
    /// Gateway key ids; all when absent.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Metadata tags the call must carry.
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, crate::scope::OneOrMany>,
}

fn whole_words_default() -> bool {
    true
}

/// What a rule does with a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Let it through; record it.
    #[default]
    Flag,
    /// Replace the match.
    Redact,
    /// Refuse the request or end the response.
    Block,
}

/// The longest client message a rule may carry.
const MAX_MESSAGE_LEN: usize = 500;

/// A rule ready to run.
#[derive(Debug)]
pub struct Rule {
    /// The id from the config.
    pub id: String,
    /// The finding kind.
    pub kind: String,
    /// What a match does.
    pub action: Action,
    /// The client's message on block.
    pub message: String,
    /// The redaction replacement.
    pub replacement: String,
    /// The pattern: the regex and the keywords as alternatives of one regex;
    /// `None` for a rule that matches by scope alone.
    pub pattern: Option<Regex>,
    /// Where it applies.
    pub scope: Scope,
    /// A quick test that the pattern cannot match, for rules of keywords alone.
    pub prefilter: Option<Prefilter>,
}

impl Rule {
    /// Validates `spec` and builds the rule. Errors name the rule and the field.
    pub fn new(spec: RuleSpec) -> Result<Rule, String> {
        let pattern = pattern_source(&spec);
        let keyword_prefilter = match spec.regex {
            None => Prefilter::new(&spec.keywords, spec.case_sensitive),
            Some(_) => None,
        };
        let id = spec.id;
        let fail = |message: String| format!("rule `{id}`: {message}");
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(format!(
                "rule id {id:?}: use letters, digits, `-`, `_` and `.` only"
            ));
        }
        let pattern = pattern.map_err(fail)?;
        let prefilter = keyword_prefilter.or_else(|| {
            pattern
                .as_ref()
                .and_then(|p| Prefilter::from_prefix(p.as_str()))
        });
        let kind = spec.kind.unwrap_or_else(|| "org-rule".into());
        if kind.is_empty()
            || !kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(fail(format!(
                "kind {kind:?}: use lowercase letters, digits and `-`"
            )));
        }
        let action = match spec.action {
            Mode::Flag => Action::Flag,
            Mode::Redact => Action::Redact,
            Mode::Block => Action::Block,
        };
        let message = spec
            .message
            .unwrap_or_else(|| format!("the content is not allowed by organisation rule `{id}`"));
        if message.len() > MAX_MESSAGE_LEN {
            return Err(fail(format!(
                "message: at most {MAX_MESSAGE_LEN} bytes, please"
            )));
        }
        let scope = Scope::new(ScopeSpec {
            phases: spec.phases,
            roles: spec.roles,
            segments: spec.segments,
            models: spec.models,
            keys: spec.keys,
            metadata: spec.metadata,
        })
        .map_err(fail)?;
        if pattern.is_none() {
            if action == Action::Redact {
                return Err(fail(
                    "`redact` needs something to redact: give a `regex` or `keywords`".into(),
                ));
            }
            if !scope.narrows_calls() {
                return Err(fail(
                    "with no `regex` or `keywords` and no `models`, `keys` or `metadata`, it would match every call"
                        .into(),
                ));
            }
        }
        Ok(Rule {
            kind,
            action,
            message,
            replacement: spec.replacement.unwrap_or_else(|| "[REDACTED]".into()),
            pattern,
            scope,
            prefilter,
            id,
        })
    }
}

/// One regex for the rule's regex and keywords, case flags applied, or `None`
/// when it has neither.
fn pattern_source(spec: &RuleSpec) -> Result<Option<Regex>, String> {
    let mut alternatives = Vec::new();
    if let Some(regex) = spec.regex.as_deref() {
        if regex.is_empty() {
            return Err("regex: an empty regex matches everywhere".into());
        }
        let compiled = Regex::new(regex).map_err(|e| format!("regex: {e}"))?;
        if compiled.is_match("") {
            return Err(format!(
                "regex {regex:?} matches the empty string, so it would match everywhere"
            ));
        }
        alternatives.push(format!("(?:{regex})"));
    }
    for keyword in &spec.keywords {
        let keyword = keyword.trim();
        if keyword.is_empty() {
            return Err("keywords: an empty keyword matches everywhere".into());
        }
        alternatives.push(keyword_source(keyword, spec.whole_words));
    }
    if alternatives.is_empty() {
        return Ok(None);
    }
    let flags = if spec.case_sensitive { "" } else { "(?i)" };
    let source = format!("{flags}{}", alternatives.join("|"));
    Regex::new(&source)
        .map(Some)
        .map_err(|e| format!("the rule's pattern does not compile: {e}"))
}

/// A keyword as a regex: escaped, with word boundaries at edges that are
/// letters or digits of a script that separates words with spaces. Chinese,
/// Japanese, Korean and Thai are written without spaces, so a keyword edge in
/// those scripts needs no boundary; whitespace inside a phrase matches any
/// run of whitespace.
fn keyword_source(keyword: &str, whole_words: bool) -> String {
    let body = keyword
        .split_whitespace()
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"\s+");
    let bounded = |c: Option<char>| {
        whole_words && c.is_some_and(|c| c.is_alphanumeric() && !unspaced_script(c))
    };
    let start = if bounded(keyword.chars().next()) {
        r"\b"
    } else {
        ""
    };
    let end = if bounded(keyword.chars().last()) {
        r"\b"
    } else {
        ""
    };
    format!("(?:{start}{body}{end})")
}

/// Letters of scripts written without spaces between words.
fn unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0E7F       // Thai
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> Result<Rule, String> {
        Rule::new(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn keywords_become_bounded_escaped_alternatives() {
        let r = rule(r#"{"id": "k", "keywords": ["a.b", "project  falcon", "猎鹰"]}"#).unwrap();
        assert_eq!(
            r.pattern.unwrap().as_str(),
            r"(?i)(?:\ba\.b\b)|(?:\bproject\s+falcon\b)|(?:猎鹰)"
        );
        let r = rule(
            r#"{"id": "k", "keywords": ["c++"], "whole_words": false, "case_sensitive": true}"#,
        )
        .unwrap();
        assert_eq!(r.pattern.unwrap().as_str(), r"(?:c\+\+)");
    }

    #[test]
    fn defaults_are_flag_with_a_generic_message() {
        let r = rule(r#"{"id": "gpl", "regex": "GNU General Public"}"#).unwrap();
        assert_eq!(r.action, Action::Flag);
        assert_eq!(r.kind, "org-rule");
        assert_eq!(r.replacement, "[REDACTED]");
        assert!(r.message.contains("`gpl`"));
    }

    #[test]
    fn mistakes_are_refused_naming_the_rule_and_field() {
        let err = |json: &str| rule(json).unwrap_err();
        assert!(err(r#"{"id": "x", "regex": "("}"#).contains("rule `x`: regex"));
        assert!(err(r#"{"id": "x", "regex": "a*"}"#).contains("empty string"));
        assert!(err(r#"{"id": "x", "keywords": [" "]}"#).contains("empty keyword"));
        assert!(err(r#"{"id": "x"}"#).contains("every call"));
        assert!(err(r#"{"id": "x", "models": ["gpt-4*"], "action": "redact"}"#).contains("redact"));
        assert!(err(r#"{"id": "a b", "keywords": ["x"]}"#).contains("rule id"));
        assert!(err(r#"{"id": "x", "keywords": ["x"], "kind": "Bad Kind"}"#).contains("kind"));
        assert!(err(r#"{"id": "x", "keywords": ["x"], "acton": "block"}"#).contains("acton"));
        assert!(err(r#"{"id": "x", "keywords": ["x"], "action": "shred"}"#).contains("shred"));
    }

    #[test]
    fn a_scope_only_rule_needs_a_narrowing_scope() {
        let r = rule(r#"{"id": "no-opus", "models": ["*opus*"], "metadata": {"team": "interns"}, "action": "block"}"#)
            .unwrap();
        assert!(r.pattern.is_none());
        assert_eq!(r.action, Action::Block);
    }
}
