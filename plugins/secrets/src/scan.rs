//! The scan: one keyword pass over the text, then each triggered rule's regex at or
//! around its keywords, then the checks that tell secrets from look-alikes.
//!
//! A text without any keyword costs one pass of [`Keywords::find`] and nothing
//! else. Then, per rule:
//!
//! - when every match of the rule begins with one of its keywords (proved from the
//!   regex when it is compiled, [`Compiled::keyword_first`]), the regex is tried
//!   anchored at each keyword occurrence: one short attempt per occurrence, which is
//!   what keeps frequent words such as `token` or `password` cheap;
//! - otherwise a rule whose regex can match at most `L` bytes searches `L` bytes
//!   either side of its keyword occurrences (overlapping windows merged, so no byte
//!   is searched twice by one rule); since every match contains a keyword, no match
//!   can lie outside those windows. A rule with an unbounded regex (PEM blocks, JWTs)
//!   searches the whole text once.
//!
//! Regexes run with the whole text as context, so `\b`, `^` and `$` see the real
//! neighbours and spans are exact byte offsets into the text.

use crate::allow::Allow;
use crate::entropy::shannon;
use crate::keywords::Keywords;
use crate::rules::{ALLOW_MATCH_LOOKBEHIND, Compiled, Rule};
use regex_automata::{Anchored, Input};
use std::collections::HashSet;
use std::ops::Range;

/// A secret one rule found, before overlaps between rules are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the rule in [`Scanner::rules`].
    pub rule: usize,
    /// The secret's byte span in the text.
    pub span: Range<usize>,
}

/// Rules, ready to scan texts.
#[derive(Debug)]
pub struct Scanner {
    rules: Vec<Rule>,
    /// Per rule, whether it runs.
    enabled: Vec<bool>,
    /// The keywords of all enabled rules.
    keywords: Keywords,
    /// For each keyword, the enabled rules that use it.
    keyword_rules: Vec<Vec<u32>>,
    allow: Allow,
    allow_values: HashSet<String>,
}

impl Scanner {
    /// Compiles every enabled rule's regexes now. `configure` calls this, so
    /// that no `check` pays for compiling (a text with many kinds of secret
    /// would otherwise compile dozens of rules inside one call's deadline).
    pub fn compile_enabled(&self) {
        for rules in &self.keyword_rules {
            for &rule in rules {
                if let Some(compiled) = self.rules[rule as usize].compiled() {
                    compiled.compile_allows();
                }
            }
        }
    }

    /// A scanner running the rules for which `enabled` is true. Keywords are
    /// matched ASCII case-insensitively; regexes compile on first use.
    pub fn new(
        rules: Vec<Rule>,
        enabled: &[bool],
        allow: Allow,
        allow_values: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<u32>> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if !enabled[index] {
                continue;
            }
            for keyword in &rule.def.keywords {
                let keyword = keyword.to_ascii_lowercase();
                let slot = match words.iter().position(|w| *w == keyword) {
                    Some(slot) => slot,
                    None => {
                        words.push(keyword);
                        keyword_rules.push(Vec::new());
                        words.len() - 1
                    }
                };
                if !keyword_rules[slot].contains(&(index as u32)) {
                    keyword_rules[slot].push(index as u32);
                }
            }
        }
        Scanner {
            rules,
            enabled: enabled.to_vec(),
            keywords: Keywords::new(&words),
            keyword_rules,
            allow,
            allow_values: allow_values.into_iter().collect(),
        }
    }

    /// The rules, enabled or not, in priority order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Per rule of [`Scanner::rules`], whether it runs.
    pub fn enabled(&self) -> &[bool] {
        &self.enabled
    }

    /// The secrets in `text`: at most one per span, the most specific rule's.
    pub fn scan(&self, text: &str) -> Vec<Candidate> {
        self.resolve(self.candidates(text))
    }

    /// Every rule's secrets in `text`, overlaps between rules included.
    pub fn candidates(&self, text: &str) -> Vec<Candidate> {
        let mut out = Vec::new();
        let mut hits = Vec::new();
        self.keywords.find(text.as_bytes(), &mut hits);
        // (rule, start, end) windows; per rule they stay sorted and disjoint because
        // keyword occurrences arrive in order of their start.
        let mut windows: Vec<(u32, usize, usize)> = Vec::new();
        let mut last_window: Vec<u32> = Vec::new();
        // Per keyword-first rule: where its last anchored attempt started, and the
        // span of its last reported match (a keyword inside it starts nothing new).
        let mut last_anchor: Vec<(usize, Range<usize>)> = Vec::new();
        for hit in &hits {
            for &rule in &self.keyword_rules[hit.keyword as usize] {
                let Some(compiled) = self.rules[rule as usize].compiled() else {
                    continue;
                };
                if compiled.keyword_first {
                    if last_anchor.is_empty() {
                        last_anchor = vec![(usize::MAX, 0..0); self.rules.len()];
                    }
                    let (last_start, reported) = &mut last_anchor[rule as usize];
                    if hit.start == *last_start || reported.contains(&hit.start) {
                        continue;
                    }
                    *last_start = hit.start;
                    if let Some(end) =
                        self.anchored(rule as usize, compiled, text, hit.start, &mut out)
                    {
                        *reported = hit.start..end;
                    }
                    continue;
                }
                let (start, end) = match compiled.max_len {
                    Some(len) => (
                        hit.start.saturating_sub(len),
                        hit.end.saturating_add(len).min(text.len()),
                    ),
                    None => (0, text.len()),
                };
                if last_window.is_empty() {
                    last_window = vec![u32::MAX; self.rules.len()];
                }
                let last = last_window[rule as usize];
                if last != u32::MAX {
                    let window = &mut windows[last as usize];
                    if start <= window.2 {
                        window.1 = window.1.min(start);
                        window.2 = window.2.max(end);
                        continue;
                    }
                }
                last_window[rule as usize] = windows.len() as u32;
                windows.push((rule, start, end));
            }
        }
        for (rule, start, end) in windows {
            self.run(rule as usize, text, start..end, &mut out);
        }
        out
    }

    /// Tries one keyword-first rule's regex anchored at `start`; returns where the
    /// match ends if it was reported.
    fn anchored(
        &self,
        rule: usize,
        compiled: &Compiled,
        text: &str,
        start: usize,
        out: &mut Vec<Candidate>,
    ) -> Option<usize> {
        let end = match compiled.max_len {
            Some(len) => text.ceil_char_boundary(start.saturating_add(len).min(text.len())),
            None => text.len(),
        };
        // Most attempts fail within a few bytes; a plain search (a DFA) says so
        // cheaply, and the capture groups are resolved only on an actual match.
        let input = Input::new(text).range(start..end).anchored(Anchored::Yes);
        let found = compiled.regex.search_half(&input)?;
        let mut caps = compiled.regex.create_captures();
        compiled
            .regex
            .search_captures(&input.range(start..found.offset()), &mut caps);
        let whole = caps.get_match()?;
        self.accept_captures(rule, compiled, text, &caps, out)
            .then_some(whole.end())
    }

    /// Runs one rule's regex over `window` of `text`.
    fn run(&self, rule: usize, text: &str, window: Range<usize>, out: &mut Vec<Candidate>) {
        let Some(compiled) = self.rules[rule].compiled() else {
            return;
        };
        let window = text.floor_char_boundary(window.start)..text.ceil_char_boundary(window.end);
        for caps in compiled.regex.captures_iter(Input::new(text).span(window)) {
            self.accept_captures(rule, compiled, text, &caps, out);
        }
    }

    /// Takes the secret out of a match and keeps it if it passes the checks; true
    /// when it was kept.
    fn accept_captures(
        &self,
        rule: usize,
        compiled: &Compiled,
        text: &str,
        caps: &regex_automata::util::captures::Captures,
        out: &mut Vec<Candidate>,
    ) -> bool {
        let def = &self.rules[rule].def;
        let Some(whole) = caps.get_match() else {
            return false;
        };
        let secret = match def.secret_group {
            Some(group) => caps.get_group(group),
            None => (1..caps.group_len())
                .find_map(|group| caps.get_group(group))
                .or(Some(whole.span())),
        };
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return false;
        };
        // `allow_match` also sees what precedes the match on its line.
        let mut context_start =
            text.floor_char_boundary(whole.start().saturating_sub(ALLOW_MATCH_LOOKBEHIND));
        if let Some(newline) = text[context_start..whole.start()].rfind('\n') {
            context_start += newline + 1;
        }
        let accepted = self.accepts(
            rule,
            compiled,
            &text[secret.range()],
            &text[context_start..whole.end()],
        );
        if accepted {
            out.push(Candidate {
                rule,
                span: secret.range(),
            });
        }
        accepted
    }

    /// The checks after a regex match: entropy, structure, allowlists.
    fn accepts(&self, rule: usize, compiled: &Compiled, secret: &str, matched: &str) -> bool {
        let def = &self.rules[rule].def;
        if def.entropy.is_some_and(|min| shannon(secret) < min) {
            return false;
        }
        if def.validate.is_some_and(|v| !v.accepts(secret)) {
            return false;
        }
        !(self.allow_values.contains(secret)
            || self.allow.allows(secret)
            || compiled.allows_secret(secret)
            || compiled.allows_match(matched))
    }

    /// Keeps one candidate per group of overlapping spans: a specific rule over a
    /// generic one, then the longer span, then the rule listed first.
    pub fn resolve(&self, mut candidates: Vec<Candidate>) -> Vec<Candidate> {
        candidates.sort_by_key(|c| (c.span.start, std::cmp::Reverse(c.span.end), c.rule));
        let mut kept: Vec<Candidate> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            if let Some(last) = kept.last_mut()
                && candidate.span.start < last.span.end
            {
                if self.rank(&candidate) > self.rank(last) {
                    *last = candidate;
                }
                continue;
            }
            kept.push(candidate);
        }
        kept
    }

    fn rank(&self, candidate: &Candidate) -> (bool, usize, std::cmp::Reverse<usize>) {
        (
            !self.rules[candidate.rule].def.generic,
            candidate.span.len(),
            std::cmp::Reverse(candidate.rule),
        )
    }
}
