//! Detection-quality floors for the built-in guardrails, on the labelled corpus
//! in `eval/` (what it contains and how it is labelled: `eval/README.md`).
//!
//! A change that makes a plugin miss what it used to find, or flag what it used
//! to leave alone, fails here. The matching is simpler than `eval/score.py`'s
//! (a label is found when a finding of its kind overlaps it; a finding is right
//! when it overlaps a label of its kind), so the numbers can differ slightly
//! from the report in `docs/guardrails.md`; the floors sit just under both.

use serde::Deserialize;
use sluice::config::Config;
use sluice::guardrails::Guardrails;
use sluice::sandbox::{Phase, Sandbox};
use std::collections::BTreeMap;
use std::ops::Range;

/// (kind, minimum precision, minimum recall), as measured minus a small margin.
/// Raise a floor when a plugin gets better; never lower one to make a change pass
/// without saying why in the commit.
const FLOORS: &[(&str, f64, f64)] = &[
    ("email", 0.99, 0.99),
    ("phone", 0.99, 0.88),
    ("card", 0.99, 0.99),
    ("iban", 0.99, 0.99),
    ("ssn", 0.99, 0.96),
    ("ip", 0.96, 0.99),
    ("secret", 0.99, 0.99),
    ("prompt-injection", 0.99, 0.88),
    ("hidden-text", 0.99, 0.99),
    ("profanity", 0.99, 0.97),
    // Hate, violence, self-harm and sexual have 20-30 labels each: one miss is
    // 3-5 points of recall.
    ("hate", 0.99, 0.90),
    ("violence", 0.99, 0.85),
    ("self-harm", 0.99, 0.90),
    ("sexual", 0.99, 0.99),
];

#[derive(Deserialize)]
struct Document {
    text: String,
    labels: Vec<Label>,
}

#[derive(Deserialize)]
struct Label {
    kind: String,
    start: usize,
    end: usize,
    #[serde(default)]
    optional: bool,
}

#[derive(Default, Debug)]
struct Tally {
    labels: usize,
    found: usize,
    findings: usize,
    right: usize,
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

#[test]
fn builtin_guardrails_keep_their_precision_and_recall_on_the_corpus() {
    let corpus =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../eval/corpus.jsonl"))
            .expect("eval/corpus.jsonl (regenerate with `python3 eval/generate.py`)");
    let config = Config::embedded_default();
    let sandbox = Sandbox::new(None).unwrap();
    let guardrails = Guardrails::load(&sandbox, &config.guardrails).unwrap();

    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let doc: Document = serde_json::from_str(line).unwrap();
        let (outcome, _) = sluice::scan::scan(&guardrails, Phase::Request, doc.text.clone());
        let failures: Vec<_> = outcome
            .decisions
            .iter()
            .filter_map(|d| d.result.as_ref().err())
            .collect();
        assert!(failures.is_empty(), "a plugin failed: {failures:?}");
        let findings: Vec<(String, Range<usize>)> = outcome
            .decisions
            .iter()
            .filter_map(|d| d.result.as_ref().ok())
            .flat_map(|v| v.findings.iter())
            .map(|f| (f.kind.clone(), f.start as usize..f.end as usize))
            .collect();
        for &(kind, _, _) in FLOORS {
            let tally = tallies.entry(kind).or_default();
            let labels: Vec<(&Label, Range<usize>)> = doc
                .labels
                .iter()
                .filter(|l| l.kind == kind)
                .map(|l| (l, l.start..l.end))
                .collect();
            for (label, span) in &labels {
                if label.optional {
                    continue;
                }
                tally.labels += 1;
                if findings.iter().any(|(k, f)| k == kind && overlaps(f, span)) {
                    tally.found += 1;
                }
            }
            for (_, span) in findings.iter().filter(|(k, _)| k == kind) {
                let hit: Vec<&&Label> = labels
                    .iter()
                    .filter(|(_, l)| overlaps(l, span))
                    .map(|(label, _)| label)
                    .collect();
                if !hit.is_empty() && hit.iter().all(|l| l.optional) {
                    continue; // an ambiguous case: neither right nor wrong
                }
                tally.findings += 1;
                tally.right += usize::from(!hit.is_empty());
            }
        }
    }

    let mut below = Vec::new();
    for &(kind, min_precision, min_recall) in FLOORS {
        let t = &tallies[kind];
        assert!(t.labels > 0, "the corpus has no `{kind}` labels");
        let precision = t.right as f64 / t.findings.max(1) as f64;
        let recall = t.found as f64 / t.labels as f64;
        println!("{kind:18} precision {precision:.3} recall {recall:.3} ({t:?})");
        if precision < min_precision || recall < min_recall {
            below.push(format!(
                "{kind}: precision {precision:.3} (floor {min_precision}), recall {recall:.3} (floor {min_recall})"
            ));
        }
    }
    assert!(below.is_empty(), "below the floor:\n{}", below.join("\n"));
}
