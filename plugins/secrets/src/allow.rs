//! The rule file's `[allow]` section: placeholders and documentation values that
//! are never reported, whichever rule matched them.

use crate::rules::{AllowDef, compile, compile_any};
use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;
use std::sync::OnceLock;

/// Stopwords and patterns, compiled the first time a candidate secret is checked.
#[derive(Debug)]
pub struct Allow {
    def: AllowDef,
    compiled: OnceLock<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    stopwords: Option<AhoCorasick>,
    /// All patterns as one regex.
    patterns: Option<Regex>,
}

impl Allow {
    /// Wraps the section; nothing is compiled yet.
    pub fn new(def: AllowDef) -> Self {
        Allow {
            def,
            compiled: OnceLock::new(),
        }
    }

    /// Checks that every pattern compiles (for rule files under test).
    pub fn validate(def: &AllowDef) -> Result<(), String> {
        for pattern in &def.patterns {
            compile(pattern).map_err(|e| format!("allow.patterns: {pattern:?}: {e}"))?;
        }
        for word in &def.stopwords {
            if word.is_empty() || *word != word.to_lowercase() {
                return Err(format!(
                    "allow.stopwords: {word:?} must be non-empty and lowercase"
                ));
            }
        }
        Ok(())
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            // Each stopword in lower case, upper case and capitalised: a placeholder is
            // written in one case, while a random token mixes cases and would contain a
            // short word in some mix of cases far more often.
            let mut variants = Vec::with_capacity(self.def.stopwords.len() * 3);
            for word in &self.def.stopwords {
                let lower = word.to_lowercase();
                let mut chars = lower.chars();
                let capitalised: String = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default();
                variants.push(lower.to_uppercase());
                variants.push(capitalised);
                variants.push(lower);
            }
            variants.sort();
            variants.dedup();
            Compiled {
                stopwords: AhoCorasick::new(&variants).ok(),
                // Checked by `validate` (unit tests, `configure`); a pattern that
                // does not compile disables the patterns rather than failing a scan.
                patterns: compile_any("allow.patterns", &self.def.patterns)
                    .ok()
                    .flatten(),
            }
        })
    }

    /// True when `secret` is a placeholder: it contains a stopword or matches an
    /// allow pattern.
    pub fn allows(&self, secret: &str) -> bool {
        let compiled = self.compiled();
        compiled
            .stopwords
            .as_ref()
            .is_some_and(|ac| ac.is_match(secret))
            || compiled
                .patterns
                .as_ref()
                .is_some_and(|p| p.is_match(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Allow {
        Allow::new(AllowDef {
            stopwords: vec!["example".into(), "xxxx".into()],
            patterns: vec![r"^\$\{[^}]*\}$".into()],
        })
    }

    #[test]
    fn stopwords_match_in_consistent_case() {
        let allow = allow();
        assert!(allow.allows("AKIAIOSFODNN7EXAMPLE"));
        assert!(allow.allows("my-example-key"));
        assert!(allow.allows("Example123"));
        assert!(allow.allows("sk-xxxxxxxxxxxx"));
        assert!(!allow.allows("q8ExAmPlEz0"));
        assert!(!allow.allows("a8Fk2Lq0"));
    }

    #[test]
    fn patterns_match() {
        assert!(allow().allows("${DB_PASSWORD}"));
        assert!(!allow().allows("$DB_PASSWORD}"));
    }

    #[test]
    fn validation_names_the_bad_entry() {
        let bad = AllowDef {
            stopwords: vec![],
            patterns: vec!["(".into()],
        };
        assert!(
            Allow::validate(&bad)
                .unwrap_err()
                .contains("allow.patterns")
        );
        let upper = AllowDef {
            stopwords: vec!["Example".into()],
            patterns: vec![],
        };
        assert!(Allow::validate(&upper).unwrap_err().contains("Example"));
    }
}
