//! Rules as data: the shape of a rule, the embedded rule file, and compiling a rule
//! (lazily, the first time one of its keywords occurs in a text).

use crate::fragments;
use crate::validate::Validator;
use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_syntax::hir::{Class, Hir, HirKind};
use serde::Deserialize;
use sluice_plugin_sdk::open_match::OpenMatches;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The built-in rule file, `plugins/secrets/rules.toml`.
pub const RULES_TOML: &str = include_str!("../rules.toml");

/// The longest text, in bytes, a rule that runs near its keywords may match
/// (context included). Matches of longer rules would not fit the bytes the gateway
/// holds back in a streamed response; see the crate documentation.
pub const MAX_WINDOWED_MATCH: usize = 512;

/// How much of a match's line before it an `allow_match` regex sees, in bytes.
pub const ALLOW_MATCH_LOOKBEHIND: usize = 64;

/// A parsed rule file: `version`, an `[allow]` section and `[[rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The rule set's version, reported in the crate documentation and changelog.
    pub version: String,
    /// Values that are never secrets, whatever rule matched them.
    pub allow: AllowDef,
    /// Named regex pieces the rules' regexes use as `(?&name)` (see [`fragments`]);
    /// [`parse`] puts them in.
    #[serde(default)]
    pub fragments: BTreeMap<String, String>,
    /// The rules, in priority order (an earlier rule wins a tie between overlapping
    /// findings of the same specificity).
    pub rules: Vec<RuleDef>,
}

/// The `[allow]` section of a rule file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowDef {
    /// A secret containing one of these words is a placeholder. Matched in
    /// consistent case only (`example`, `EXAMPLE` or `Example`), so that long random
    /// strings rarely contain one by chance.
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// Regexes; a secret in which one matches is a placeholder (anchor them with
    /// `^...$` to test the whole secret).
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// The action a rule file may give a rule as its default (a ceiling on the
/// plugin's `action` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Record only.
    Flag,
    /// Replace the secret.
    Redact,
    /// Refuse the text.
    Block,
}

/// One rule, as written in `rules.toml` or in the `extra_rules` setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Kebab-case id, unique in the rule set: `aws-access-key-id`.
    pub id: String,
    /// What the rule finds, for people.
    pub title: String,
    /// Lowercase strings; the regex runs only near an occurrence of one of them
    /// (matched ASCII case-insensitively). Every match must contain one; when every
    /// match begins with one, the scan is faster (see [`starts_with_keyword`]).
    pub keywords: Vec<String>,
    /// A `regex` crate pattern (no look-around, no backreferences).
    pub regex: String,
    /// The capture group that is the secret. Without it: the first group that took
    /// part in the match, or the whole match when the regex has no groups.
    #[serde(default)]
    pub secret_group: Option<usize>,
    /// The minimum Shannon entropy of the secret, in bits per byte.
    #[serde(default)]
    pub entropy: Option<f64>,
    /// A loose rule keyed on variable names (`password = ...`): loses to any
    /// specific rule on an overlapping span, and `disable_generic` turns it off.
    #[serde(default)]
    pub generic: bool,
    /// The most this rule does by default (`flag` for low-risk credentials such as
    /// test-mode keys); an explicit `rules` setting overrides it.
    #[serde(default)]
    pub action: Option<RuleAction>,
    /// A structural check on the secret.
    #[serde(default)]
    pub validate: Option<Validator>,
    /// Regexes; a secret in which one matches is not reported.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Regexes tried on the match (context included) together with what precedes it
    /// on its line, up to [`ALLOW_MATCH_LOOKBEHIND`] bytes; when one matches, the
    /// match is not reported (`next_page_token = "..."` is not a secret).
    #[serde(default)]
    pub allow_match: Vec<String>,
    /// Texts the rule must find a secret in (fake values only).
    #[serde(default)]
    pub examples: Vec<String>,
    /// Texts the rule must find nothing in.
    #[serde(default)]
    pub negatives: Vec<String>,
}

/// Parses a rule file.
/// Parses a rule file, with the `(?&name)` fragment references of its rules' regexes
/// put in.
pub fn parse(toml_text: &str) -> Result<RuleFile, String> {
    let mut file: RuleFile =
        toml::from_str(toml_text).map_err(|e| format!("invalid rule file: {e}"))?;
    for rule in &mut file.rules {
        rule.regex = fragments::expand(&rule.regex, &file.fragments)
            .map_err(|e| format!("rule {:?}: regex: {e}", rule.id))?;
    }
    Ok(file)
}

/// The built-in rule file, parsed.
///
/// # Panics
/// Never for the shipped file: the unit tests parse and check it.
pub fn builtin() -> RuleFile {
    parse(RULES_TOML).expect("the built-in rules.toml parses (checked by the unit tests)")
}

/// True for `lowercase-words-with-dashes`.
pub fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Compiles a pattern the way rules are compiled.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| e.to_string())
}

/// Compiles a list of patterns into one regex that matches where any of them does
/// (one pass instead of one per pattern); `None` for an empty list. An error names
/// the `field` and the pattern that does not compile.
pub fn compile_any(field: &str, patterns: &[String]) -> Result<Option<Regex>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for pattern in patterns {
        compile(pattern).map_err(|e| format!("{field}: {pattern:?}: {e}"))?;
    }
    // Tried on short strings only: no prefilter or one-pass DFA, which would cost
    // more to build than they save.
    meta::Builder::new()
        .configure(meta::Config::new().auto_prefilter(false).onepass(false))
        .build_many(patterns)
        .map(Some)
        .map_err(|e| format!("{field}: {e}"))
}

/// A rule's regexes, compiled.
#[derive(Debug)]
pub struct Compiled {
    /// The rule's regex.
    pub regex: Regex,
    /// The longest match in bytes, `None` when unbounded.
    pub max_len: Option<usize>,
    /// True when every match begins with one of the rule's keywords (proved from the
    /// regex, see [`starts_with_keyword`]): the scan then tries the regex anchored at
    /// each keyword instead of searching the text around it.
    pub keyword_first: bool,
    /// The `allow` and `allow_match` patterns, compiled when a match first needs
    /// them (most rules that run never match).
    allow: Vec<String>,
    allow_match: Vec<String>,
    allows: OnceLock<Allows>,
}

/// A rule's `allow` and `allow_match` lists, each as one regex that matches where
/// any of its patterns does.
#[derive(Debug)]
struct Allows {
    allow: Option<Regex>,
    allow_match: Option<Regex>,
}

impl Compiled {
    /// Compiles a rule's regex, or says what is wrong with it. Its `allow` and
    /// `allow_match` patterns are compiled on first use; [`check_allows`] checks them.
    pub fn new(def: &RuleDef) -> Result<Self, String> {
        let hir = syntax::parse(&def.regex).map_err(|e| format!("regex: {e}"))?;
        let max_len = hir.properties().maximum_len();
        let keyword_first = starts_with_keyword(&hir, &def.keywords);
        // A keyword-first rule is only ever run anchored, where a prefilter is of no
        // use; building one (literal extraction over case-insensitive alternations)
        // is most of the compile time. The one-pass DFA only speeds up capture groups,
        // which are resolved on a few short matches: not worth its build time either.
        let config = meta::Config::new()
            .auto_prefilter(!keyword_first)
            .onepass(false);
        let regex = meta::Builder::new()
            .configure(config)
            .build_from_hir(&hir)
            .map_err(|e| format!("regex: {e}"))?;
        if let Some(group) = def.secret_group
            && (group == 0
                || group
                    >= regex
                        .group_info()
                        .group_len(regex_automata::PatternID::ZERO))
        {
            return Err(format!(
                "secret_group: the regex has no capture group {group} (groups are numbered from 1)"
            ));
        }
        Ok(Compiled {
            regex,
            max_len,
            keyword_first,
            allow: def.allow.clone(),
            allow_match: def.allow_match.clone(),
            allows: OnceLock::new(),
        })
    }

    fn allows(&self) -> &Allows {
        // Patterns that do not compile were refused by `check_allows` (built-in rules:
        // by the unit tests); here they would only disable the list.
        self.allows.get_or_init(|| Allows {
            allow: compile_any("allow", &self.allow).ok().flatten(),
            allow_match: compile_any("allow_match", &self.allow_match).ok().flatten(),
        })
    }

    /// Compiles the `allow` and `allow_match` lists now rather than on first use.
    pub fn compile_allows(&self) {
        self.allows();
    }

    /// True when one of the rule's `allow` patterns matches in `secret`.
    pub fn allows_secret(&self, secret: &str) -> bool {
        self.allows()
            .allow
            .as_ref()
            .is_some_and(|re| re.is_match(secret))
    }

    /// True when one of the rule's `allow_match` patterns matches in `context` (the
    /// match and what precedes it on its line).
    pub fn allows_match(&self, context: &str) -> bool {
        self.allows()
            .allow_match
            .as_ref()
            .is_some_and(|re| re.is_match(context))
    }
}

/// Checks that a rule's `allow` and `allow_match` patterns compile.
pub fn check_allows(def: &RuleDef) -> Result<(), String> {
    compile_any("allow", &def.allow)?;
    compile_any("allow_match", &def.allow_match)?;
    Ok(())
}

/// A rule ready to run: its definition and, once needed, its compiled regexes.
#[derive(Debug)]
pub struct Rule {
    /// The definition.
    pub def: RuleDef,
    compiled: OnceLock<Option<Compiled>>,
    /// The regex as a lazy DFA that tells an open match from a decided one,
    /// built when a streamed answer first needs it.
    open: OnceLock<Option<OpenMatches>>,
}

impl Rule {
    /// A rule whose regexes are compiled on first use.
    pub fn new(def: RuleDef) -> Self {
        Rule {
            def,
            compiled: OnceLock::new(),
            open: OnceLock::new(),
        }
    }

    /// A rule with its regexes already compiled.
    pub fn precompiled(def: RuleDef, compiled: Compiled) -> Self {
        Rule {
            def,
            compiled: OnceLock::from(Some(compiled)),
            open: OnceLock::new(),
        }
    }

    /// The compiled regexes, compiling them on first call. `None` when they do not
    /// compile, which the unit tests rule out for built-in rules and `configure`
    /// rules out for extra rules.
    pub fn compiled(&self) -> Option<&Compiled> {
        self.compiled
            .get_or_init(|| Compiled::new(&self.def).ok())
            .as_ref()
    }

    /// The regex, ready to say whether a match beginning at an offset of a
    /// streamed text is decided; `None` if it does not compile.
    pub fn open_matches(&self) -> Option<&OpenMatches> {
        self.open
            .get_or_init(|| OpenMatches::new(&[&self.def.regex]).ok())
            .as_ref()
    }
}

/// True when every match of `hir` begins with one of `keywords` (compared ASCII
/// case-insensitively, as keywords are found). `false` when that cannot be shown,
/// which is always safe: it only makes the scan search around keywords rather than
/// from them.
///
/// Zero-width assertions (`\b`, `^`) are skipped, and small classes are expanded
/// (`[Ss]`, what `(?i)` makes of a letter, is one character in either case; the
/// non-ASCII case variants `(?i)` adds, the Kelvin sign and the long s, cannot be
/// part of a keyword occurrence anyway).
pub fn starts_with_keyword(hir: &Hir, keywords: &[String]) -> bool {
    let keywords: Vec<String> = keywords.iter().map(|k| k.to_ascii_lowercase()).collect();
    match beginnings(hir, &keywords) {
        Some(starts) => starts
            .iter()
            .all(|(start, _)| keywords.iter().any(|k| start.starts_with(k.as_str()))),
        None => false,
    }
}

/// The most beginnings [`beginnings`] tracks before giving up.
const MAX_BEGINNINGS: usize = 512;
/// How long a beginning [`beginnings`] tracks (longer than any keyword).
const MAX_BEGINNING_LEN: usize = 48;

/// What every match of `hir` can begin with, lower-cased: `(text, complete)`, where
/// `complete` means that the expression matched exactly `text`, so that what follows
/// it in a concatenation continues the beginning (a beginning that starts with one
/// of `keywords` is not continued: it is settled). `None` when there are too many.
fn beginnings(hir: &Hir, keywords: &[String]) -> Option<Vec<(String, bool)>> {
    let open = |text: String| vec![(text, false)];
    Some(match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![(String::new(), true)],
        HirKind::Literal(literal) => match std::str::from_utf8(&literal.0) {
            Ok(text) => vec![(text.to_ascii_lowercase(), true)],
            Err(_) => open(String::new()),
        },
        HirKind::Class(class) => match class_chars(class) {
            Some(chars) => chars.into_iter().map(|c| (c.to_string(), true)).collect(),
            None => open(String::new()),
        },
        HirKind::Capture(capture) => beginnings(&capture.sub, keywords)?,
        HirKind::Repetition(rep) => match (rep.min, rep.max) {
            (1, Some(1)) => beginnings(&rep.sub, keywords)?,
            (0, Some(1)) => {
                let mut starts = beginnings(&rep.sub, keywords)?;
                starts.push((String::new(), true));
                starts
            }
            (0, _) => open(String::new()),
            _ => beginnings(&rep.sub, keywords)?
                .into_iter()
                .map(|(text, _)| (text, false))
                .collect(),
        },
        HirKind::Alternation(subs) => {
            let mut starts = Vec::new();
            for sub in subs {
                starts.extend(beginnings(sub, keywords)?);
                if starts.len() > MAX_BEGINNINGS {
                    return None;
                }
            }
            starts
        }
        HirKind::Concat(subs) => {
            let mut starts = vec![(String::new(), true)];
            for sub in subs {
                if starts.iter().all(|(_, complete)| !complete) {
                    break;
                }
                let next = beginnings(sub, keywords)?;
                let mut joined = Vec::new();
                for (text, complete) in starts {
                    let settled = keywords.iter().any(|k| text.starts_with(k.as_str()));
                    if !complete || settled || text.len() >= MAX_BEGINNING_LEN {
                        joined.push((text, false));
                        continue;
                    }
                    for (more, more_complete) in &next {
                        joined.push((format!("{text}{more}"), *more_complete));
                    }
                }
                if joined.len() > MAX_BEGINNINGS {
                    return None;
                }
                starts = joined;
            }
            starts
        }
    })
}

/// The lower-case ASCII characters a small class stands for (`[Ss]`, `[_-]`), or
/// `None` for a larger class or one with other non-ASCII members than the Kelvin
/// sign and the long s, which `(?i)` adds to `k` and `s`.
fn class_chars(class: &Class) -> Option<Vec<char>> {
    let mut members: Vec<u32> = Vec::new();
    let mut add = |start: u32, end: u32| {
        if end - start > 8 || members.len() > 8 {
            return false;
        }
        members.extend(start..=end);
        true
    };
    let small = match class {
        Class::Unicode(class) => class
            .ranges()
            .iter()
            .all(|r| add(u32::from(r.start()), u32::from(r.end()))),
        Class::Bytes(class) => class
            .ranges()
            .iter()
            .all(|r| add(u32::from(r.start()), u32::from(r.end()))),
    };
    if !small || members.len() > 8 {
        return None;
    }
    let mut chars = Vec::new();
    for member in members {
        match char::from_u32(member)? {
            c if c.is_ascii() => chars.push(c.to_ascii_lowercase()),
            '\u{212A}' | '\u{017F}' => {}
            _ => return None,
        }
    }
    chars.sort_unstable();
    chars.dedup();
    Some(chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyword_first(regex: &str, keywords: &[&str]) -> bool {
        let hir = syntax::parse(regex).unwrap();
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        starts_with_keyword(&hir, &keywords)
    }

    #[test]
    fn proves_that_matches_start_with_a_keyword() {
        assert!(keyword_first(r"\b(ghp_[A-Za-z0-9]{36})\b", &["ghp_"]));
        assert!(keyword_first(r"(?i:vault)[ ]{0,3}=", &["vault"]));
        assert!(keyword_first(
            r"\b((?:sk|rk)_live_[A-Za-z0-9]{20})",
            &["sk_live_", "rk_live_"]
        ));
        assert!(keyword_first(
            r"(?i:secret(?:[_\-]?key)?|token)\s*=",
            &["secret", "token"]
        ));
        assert!(keyword_first(r"(?-u:\b)(eyJ[A-Za-z0-9]{10,})", &["eyj"]));
        assert!(keyword_first(r"EAA[A-Z][a-z]+", &["eaa"]));
    }

    #[test]
    fn does_not_claim_it_when_context_comes_first() {
        // A keyword in the middle, a class or an optional prefix before it, or a
        // keyword longer than what the regex is sure to begin with.
        assert!(!keyword_first(r"[0-9]{8}:AA[A-Za-z]{33}", &[":aa"]));
        assert!(!keyword_first(r"(?:^|[^0-9])(ghp_[a-z]+)", &["ghp_"]));
        assert!(!keyword_first(r"(?:next_)?token=", &["token"]));
        assert!(!keyword_first(r"hv[a-z]\.[a-z]+", &["hvs.", "hvb."]));
        assert!(keyword_first(r"hv[sb]\.[a-z]+", &["hvs.", "hvb."]));
        assert!(!keyword_first(r"[a-z]*token", &["token"]));
        assert!(!keyword_first(r"tok(?:en)?", &["token"]));
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err =
            parse("version = \"1\"\n[allow]\n[[rules]]\nid = \"x\"\nbogus = 1\n").unwrap_err();
        assert!(err.contains("bogus"), "{err}");
    }
}
