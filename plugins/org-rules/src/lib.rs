//! sluice's built-in `org-rules` guardrail: an organisation's own rules, written
//! in the gateway config instead of as a plugin.
//!
//! A rule looks for a regex or a keyword list (or, with neither, matches every
//! call in its scope), does one thing with a match (`flag`, `redact` or
//! `block`, with a message for the client), and applies within a scope: phases,
//! message roles, segment kinds, models, gateway keys and metadata tags.
//!
//! ```toml
//! [[guardrails]]
//! plugin = "org-rules"
//! settings.rules = [
//!   # Never send the internal codename upstream.
//!   { id = "codename", keywords = ["Project Falcon", "猎鹰计划"], action = "block",
//!     message = "Project Falcon is confidential; describe the work without its name.",
//!     phases = ["request"] },
//!   # Record answers that carry a GPL licence header.
//!   { id = "gpl-header", regex = 'GNU (Affero |Lesser )?General Public License',
//!     phases = ["response"] },
//!   # Interns use the smaller models.
//!   { id = "no-opus-for-interns", models = ["*opus*"], metadata = { team = "interns" },
//!     action = "block", message = "Opus models are not enabled for your team." },
//! ]
//! ```
//!
//! Fields of a rule: `id` (required), `regex`, `keywords`, `case_sensitive`
//! (default false), `whole_words` (keywords only, default true), `action`
//! (`flag` by default), `message` (on block), `replacement` (on redact, default
//! `[REDACTED]`), `kind` (default `org-rule`), and the scope: `phases`, `roles`,
//! `segments`, `models` (`*` wildcards; a pattern without `@provider/` matches the
//! model name under any provider), `keys` (gateway key ids), `metadata` (tag =
//! value or list of values; every tag must match). Empty scope fields mean "any".
//!
//! A rule without `regex` or `keywords` must narrow the calls (models, keys or
//! metadata); it reports an empty-span finding on every segment in scope, so that
//! per-segment caching gives the same result as a full check.
//!
//! # Speed
//!
//! A rule of keywords, or one whose pattern's matches all start with one
//! literal, is prefiltered: its regex runs only on a segment that holds one of
//! its pieces (`prefilter.rs`), and the pieces of all such rules are looked
//! for in one pass over the segment, sixteen positions at a time (past 32
//! pieces, with Aho-Corasick automata; `pieces.rs`). The other rules share
//! one `RegexSet`, a lazy DFA that reads every byte once. In the gateway's
//! sandbox, the three sample rules of the benchmarks check 32 KB of
//! coding-agent text in about 21 µs on a 2.8 GHz Xeon (`cargo bench -p sluice
//! --bench sandbox`, `call/org-rules/varied`; docs/benchmarks.md has the
//! history).

mod pieces;
mod prefilter;
pub mod rule;
pub mod scope;
mod settled;

use regex::RegexSet;
use rule::{Rule, RuleSpec};
use serde::Deserialize;
use sluice_plugin_sdk::{
    Action, CacheScope, Context, Finding, Guardrail, Segment, Settings, Verdict,
};
use std::collections::HashSet;

/// The plugin's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRulesSettings {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

/// The `org-rules` guardrail.
#[derive(Debug, Default)]
pub struct OrgRules {
    rules: Vec<Rule>,
    /// The patterns of the rules without a prefilter, in one set, so a segment
    /// is scanned once to learn which of them match at all.
    patterns: Option<RegexSet>,
    /// Rule index → its position in `patterns`.
    set_index: Vec<Option<usize>>,
    /// The pieces of every prefilter, looked for in one pass per segment.
    pieces: pieces::Pieces,
    /// Rule index → its prefilter's pieces in `pieces` (none without one).
    rule_pieces: Vec<Vec<usize>>,
    /// Where a streamed answer is settled for the rules with a pattern.
    settled: settled::Settled,
}

impl OrgRules {
    fn findings_in(
        &self,
        index: usize,
        segment: &Segment,
        active: &[usize],
        out: &mut Vec<Finding>,
    ) {
        let covered: Vec<usize> = active
            .iter()
            .copied()
            .filter(|&r| self.rules[r].scope.covers_segment(segment))
            .collect();
        if covered.is_empty() {
            return;
        }
        let needs_scan = covered.iter().any(|&r| self.set_index[r].is_some());
        let matched = match (&self.patterns, needs_scan) {
            (Some(set), true) => Some(set.matches(&segment.text)),
            _ => None,
        };
        // The pieces of the covered rules' prefilters, looked for on first need.
        let mut found = None;
        for &r in &covered {
            let rule = &self.rules[r];
            let finding = |span| {
                Finding::new(
                    index,
                    span,
                    &rule.kind,
                    format!("org-rules.{}", rule.id),
                    rule.action,
                )
                .with_replacement(&rule.replacement)
            };
            let Some(pattern) = &rule.pattern else {
                out.push(finding(0..0));
                continue;
            };
            let may_match = match (self.set_index[r], &rule.prefilter) {
                (Some(position), _) => matched.as_ref().is_some_and(|m| m.matched(position)),
                (None, Some(_)) => {
                    let found = found.get_or_insert_with(|| {
                        let mut wanted: Vec<usize> = covered
                            .iter()
                            .flat_map(|&r| self.rule_pieces[r].iter().copied())
                            .collect();
                        wanted.sort_unstable();
                        wanted.dedup();
                        self.pieces.find(segment.text.as_bytes(), &wanted)
                    });
                    self.rule_pieces[r].iter().any(|&p| found[p])
                }
                (None, None) => true,
            };
            if may_match {
                out.extend(
                    pattern
                        .find_iter(&segment.text)
                        .filter(|m| !m.is_empty())
                        .map(|m| finding(m.range())),
                );
            }
        }
    }
}

impl OrgRules {
    /// The plugin with these rules: the patterns of the rules without a
    /// prefilter go into one set.
    fn assemble(rules: Vec<Rule>) -> Result<OrgRules, String> {
        let mut set_index = Vec::with_capacity(rules.len());
        let mut sources = Vec::new();
        let mut pieces = pieces::PiecesBuilder::default();
        let rule_pieces = rules
            .iter()
            .map(|rule| match &rule.prefilter {
                Some(prefilter) => prefilter
                    .pieces
                    .iter()
                    .map(|piece| pieces.add(piece, prefilter.case_sensitive))
                    .collect(),
                None => Vec::new(),
            })
            .collect();
        for rule in &rules {
            // Prefiltered rules run their own regex, and only where they may match.
            let in_set = rule.pattern.as_ref().filter(|_| rule.prefilter.is_none());
            set_index.push(in_set.map(|pattern| {
                sources.push(pattern.as_str().to_string());
                sources.len() - 1
            }));
        }
        let patterns = if sources.is_empty() {
            None
        } else {
            Some(RegexSet::new(&sources).map_err(|e| format!("rules: {e}"))?)
        };
        Ok(OrgRules {
            settled: settled::Settled::new(&rules),
            rules,
            patterns,
            set_index,
            pieces: pieces.build()?,
            rule_pieces,
        })
    }
}

impl Guardrail for OrgRules {
    const CACHE_SCOPE: CacheScope = CacheScope::SegmentAndContext;

    fn configure(settings: &Settings) -> Result<Self, String> {
        let settings: OrgRulesSettings = settings.parse()?;
        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(settings.rules.len());
        for spec in settings.rules {
            if !seen.insert(spec.id.clone()) {
                return Err(format!("rules: the id `{}` is used twice", spec.id));
            }
            rules.push(Rule::new(spec)?);
        }
        OrgRules::assemble(rules)
    }

    fn check(&self, ctx: &Context, segments: &[Segment]) -> Verdict {
        let active: Vec<usize> = (0..self.rules.len())
            .filter(|&r| self.rules[r].scope.covers_call(ctx))
            .collect();
        if active.is_empty() {
            return Verdict::allow();
        }
        let mut findings = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            self.findings_in(index, segment, &active, &mut findings);
        }
        let blocking_rule = findings
            .iter()
            .find(|f| f.action == Action::Block)
            .and_then(|f| {
                self.rules
                    .iter()
                    .find(|r| f.rule.strip_prefix("org-rules.") == Some(&r.id))
            });
        let reason = blocking_rule.map(|rule| rule.message.clone());
        let verdict = Verdict::from_findings(findings);
        match reason {
            Some(reason) => verdict.with_reason(reason),
            None => verdict,
        }
    }

    fn settled(&self, segment: &Segment) -> usize {
        self.settled
            .offset(&self.rules, segment, Self::MAX_MATCH_LEN)
    }
}

sluice_plugin_sdk::register!(OrgRules, name = "org-rules");

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_sdk::testing::Harness;
    use sluice_plugin_sdk::{Phase, SegmentKind};

    const EXAMPLE: &str = r#"{"rules": [
        {"id": "codename", "keywords": ["Project Falcon", "猎鹰计划"], "action": "block",
         "message": "Project Falcon is confidential.", "phases": ["request"]},
        {"id": "gpl-header", "regex": "GNU (Affero |Lesser )?General Public License", "phases": ["response"]},
        {"id": "no-opus-for-interns", "models": ["*opus*"], "metadata": {"team": "interns"},
         "action": "block", "message": "Opus models are not enabled for your team."},
        {"id": "tickets", "regex": "\\bINC-\\d{4,}\\b", "action": "redact", "replacement": "[TICKET]",
         "roles": ["user"], "case_sensitive": true}
    ]}"#;

    fn plugin() -> Harness<OrgRules> {
        Harness::configure(EXAMPLE).unwrap()
    }

    #[test]
    fn no_rules_means_no_findings() {
        let none = Harness::<OrgRules>::with_defaults();
        assert_eq!(
            none.check_text("Project Falcon").effective_action(),
            Action::Allow
        );
    }

    #[test]
    fn a_keyword_blocks_with_the_rules_message_in_any_case_and_script() {
        let p = plugin();
        for (text, found) in [
            ("status of project  FALCON?", "project  FALCON"),
            ("关于猎鹰计划的进展", "猎鹰计划"),
        ] {
            let verdict = p.check_text(text);
            assert_eq!(verdict.effective_action(), Action::Block, "{text}");
            assert_eq!(
                verdict.reason.as_deref(),
                Some("Project Falcon is confidential.")
            );
            let f = &verdict.findings[0];
            assert_eq!(f.rule, "org-rules.codename");
            assert_eq!(&text[f.span.clone()], found);
        }
        assert!(
            p.check_text("projectfalcons and falconry")
                .findings
                .is_empty()
        );
        // Request phase only.
        assert!(
            p.check_text_in(Phase::Response, "Project Falcon")
                .findings
                .is_empty()
        );
    }

    #[test]
    fn a_regex_flags_in_its_phase() {
        let p = plugin();
        let text = "// This program is free software under the GNU General Public License v3";
        let verdict = p.check_text_in(Phase::Response, text);
        assert_eq!(verdict.effective_action(), Action::Flag);
        assert_eq!(
            &text[verdict.findings[0].span.clone()],
            "GNU General Public License"
        );
        assert!(p.check_text_in(Phase::Request, text).findings.is_empty());
    }

    #[test]
    fn redaction_respects_role_and_case() {
        let p = plugin();
        assert_eq!(
            p.redact("see INC-20931 and inc-20932"),
            "see [TICKET] and inc-20932"
        );
        let mut assistant = Segment::user("see INC-20931");
        assistant.role = "assistant".into();
        assert!(
            p.check(&Context::request("@oa/gpt-4o"), &[assistant])
                .findings
                .is_empty()
        );
    }

    #[test]
    fn a_scope_only_rule_blocks_the_model_for_the_team() {
        let p = plugin();
        let mut ctx = Context::request("@an/claude-opus-4-1");
        let segments = [
            Segment::user("hello"),
            Segment {
                kind: SegmentKind::System,
                role: "system".into(),
                ..Segment::user("be brief")
            },
        ];
        assert_eq!(p.check(&ctx, &segments).effective_action(), Action::Allow);
        ctx.metadata.push(("team".into(), "interns".into()));
        let verdict = p.check(&ctx, &segments);
        assert_eq!(verdict.effective_action(), Action::Block);
        assert_eq!(
            verdict.reason.as_deref(),
            Some("Opus models are not enabled for your team.")
        );
        assert_eq!(
            verdict.findings.len(),
            2,
            "one empty-span finding per segment"
        );
        assert!(verdict.findings.iter().all(|f| f.span == (0..0)));
        ctx.model = "@an/claude-sonnet-4".into();
        assert_eq!(p.check(&ctx, &segments).effective_action(), Action::Allow);
    }

    #[test]
    fn duplicate_ids_and_bad_rules_are_refused() {
        let err = Harness::<OrgRules>::configure(
            r#"{"rules": [{"id": "a", "keywords": ["x"]}, {"id": "a", "keywords": ["y"]}]}"#,
        )
        .err()
        .unwrap();
        assert!(err.contains("`a` is used twice"), "{err}");
        let err = Harness::<OrgRules>::configure(r#"{"rule": []}"#)
            .err()
            .unwrap();
        assert!(err.contains("rule"), "{err}");
    }

    #[test]
    fn spans_stay_exact_around_non_ascii_text() {
        let p = plugin();
        let text = "Übersicht: «INC-4711» — erledigt";
        let verdict = p.check_text(text);
        assert_eq!(&text[verdict.findings[0].span.clone()], "INC-4711");
    }

    #[test]
    fn prefilters_change_no_finding() {
        let rules = r#"{"rules": [
            {"id": "codename", "keywords": ["Project Falcon", "Osprey", "猎鹰计划"]},
            {"id": "kelvin", "keywords": ["kelvin scale", "Straße"], "whole_words": false},
            {"id": "exact", "keywords": ["Falcon", "INC-"], "case_sensitive": true},
            {"id": "gpl", "regex": "GNU (Affero |Lesser )?General Public License"},
            {"id": "tickets", "regex": "\\bINC-\\d{4,}\\b"},
            {"id": "digits", "regex": "\\d{3}-\\d{2}"}
        ]}"#;
        let with = OrgRules::configure(&Settings::new(rules)).unwrap();
        let without = OrgRules::assemble(
            serde_json::from_str::<OrgRulesSettings>(rules)
                .unwrap()
                .rules
                .into_iter()
                .map(|spec| Rule {
                    prefilter: None,
                    ..Rule::new(spec).unwrap()
                })
                .collect(),
        )
        .unwrap();
        let prefiltered: Vec<bool> = with.rules.iter().map(|r| r.prefilter.is_some()).collect();
        assert_eq!(prefiltered, [true, true, true, true, true, false]);
        let pieces = [
            "Project",
            "PROJECT",
            " ",
            "\t",
            "Falcon",
            "falcon",
            "FALCON",
            "Osprey",
            "OSPREY",
            "O\u{17F}prey",
            "o\u{17F}PREY",
            "\u{212A}elvin",
            "Kelvin",
            " scale",
            "SCALE",
            "Straße",
            "STRASSE",
            "stra\u{17F}\u{17F}e",
            "猎鹰计划",
            "猎鹰",
            "INC-",
            "inc-",
            "GNU General Public License",
            "x",
            "é",
            "-",
            "\n",
            "prey",
        ];
        let seed = 0x9e37_79b9_7f4a_7c15;
        for text in sluice_plugin_sdk::testing::texts_from(&pieces, 3000, 8, seed) {
            let found = |p: &OrgRules| {
                let segments = [Segment::user(text.as_str())];
                p.check(&Context::request("@m/m"), &segments).findings
            };
            assert_eq!(found(&with), found(&without), "{text:?}");
        }
    }
}
