//! `sluice scan`: run the configured guardrails over text, without an upstream.
//!
//! Two modes: a whole text (a file or stdin) reported as a list of findings or
//! printed with its redactions applied; and JSON lines, one `{"id", "text"}` in and
//! one `{"id", "findings"}` out per line, with exact UTF-8 byte offsets.

use crate::guardrails::{Guardrails, Outcome, StopAt};
use crate::sandbox::{Action, Context, Phase, Segment};
use serde::Serialize;
use std::io::{self, BufRead, Write};

/// The context a scan runs in: no key, no model, the chosen phase.
pub fn scan_context(phase: Phase) -> Context {
    Context {
        phase,
        api: "scan".into(),
        model: String::new(),
        key_id: None,
        metadata: Vec::new(),
    }
}

/// Runs every guardrail of `phase` over `text` as one segment.
pub fn scan(guardrails: &Guardrails, phase: Phase, text: String) -> (Outcome, Vec<Segment>) {
    let segments = vec![Segment::user("input", text)];
    let outcome = guardrails.check(&scan_context(phase), &segments, StopAt::Never);
    (outcome, segments)
}

/// Writes a human-readable report of `outcome` over `text`:
/// one line per finding (`guardrail rule kind action line:col bytes`), then one
/// per failure. Returns the number of findings.
pub fn write_report(out: &mut impl Write, outcome: &Outcome, text: &str) -> io::Result<usize> {
    let mut count = 0;
    for decision in &outcome.decisions {
        let Ok(verdict) = &decision.result else {
            continue;
        };
        for finding in &verdict.findings {
            let (line, column) = line_column(text, finding.start as usize);
            writeln!(
                out,
                "{:<12} {:<24} {:<16} {:<7} {line}:{column}\tbytes {}..{}",
                decision.guardrail,
                finding.rule,
                finding.kind,
                finding.action.as_str(),
                finding.start,
                finding.end,
            )?;
            count += 1;
        }
    }
    for (decision, failure) in outcome.failures() {
        writeln!(
            out,
            "{:<12} FAILED: {failure} (on_failure = {})",
            decision.guardrail,
            match decision.on_failure {
                crate::config::FailurePolicy::Block => "block",
                crate::config::FailurePolicy::Allow => "allow",
            }
        )?;
    }
    if let Some(message) = outcome.block_message() {
        writeln!(out, "verdict: block: {message}")?;
    } else {
        writeln!(
            out,
            "verdict: {} ({count} findings)",
            outcome.action().as_str()
        )?;
    }
    Ok(count)
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// One finding in JSON-lines output.
#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    /// The guardrail id.
    pub plugin: &'a str,
    /// The rule that matched.
    pub rule: &'a str,
    /// What was found.
    pub kind: &'a str,
    /// UTF-8 byte offset of the start, into `text`.
    pub start: u32,
    /// UTF-8 byte offset of the end (exclusive).
    pub end: u32,
    /// `flag`, `redact` or `block`.
    pub action: &'static str,
}

#[derive(Debug, Serialize)]
struct JsonFailure<'a> {
    plugin: &'a str,
    failure: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct JsonOutput<'a> {
    id: &'a serde_json::Value,
    findings: Vec<JsonFinding<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<JsonFailure<'a>>,
}

#[derive(Debug, serde::Deserialize)]
struct JsonInput {
    #[serde(default)]
    id: serde_json::Value,
    text: String,
}

/// Reads `{"id": ..., "text": ...}` lines from `input` and writes one
/// `{"id": ..., "findings": [...]}` line per input line to `out`. A line that is
/// not such an object gets `{"id": ..., "error": "..."}`; blank lines are skipped.
/// Returns the number of lines that could not be scanned.
pub fn scan_jsonl(
    guardrails: &Guardrails,
    phase: Phase,
    input: impl BufRead,
    out: &mut impl Write,
) -> io::Result<usize> {
    let mut bad = 0;
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: JsonInput = match serde_json::from_str(&line) {
            Ok(parsed) => parsed,
            Err(e) => {
                bad += 1;
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                let error = format!(
                    "line {}: expected {{\"id\": ..., \"text\": \"...\"}}: {e}",
                    number + 1
                );
                serde_json::to_writer(&mut *out, &serde_json::json!({ "id": id, "error": error }))?;
                out.write_all(b"\n")?;
                continue;
            }
        };
        let (outcome, _) = scan(guardrails, phase, parsed.text);
        let mut findings = Vec::new();
        for decision in &outcome.decisions {
            let Ok(verdict) = &decision.result else {
                continue;
            };
            for f in &verdict.findings {
                findings.push(JsonFinding {
                    plugin: &decision.guardrail,
                    rule: &f.rule,
                    kind: &f.kind,
                    start: f.start,
                    end: f.end,
                    action: f.action.as_str(),
                });
            }
        }
        findings.sort_by_key(|f| (f.start, f.end));
        let failures = outcome
            .failures()
            .map(|(decision, failure)| JsonFailure {
                plugin: &decision.guardrail,
                failure: failure.kind(),
                message: failure.to_string(),
            })
            .collect();
        serde_json::to_writer(
            &mut *out,
            &JsonOutput {
                id: &parsed.id,
                findings,
                failures,
            },
        )?;
        out.write_all(b"\n")?;
    }
    Ok(bad)
}

/// The exit status of `sluice scan` for an outcome, so scripts can gate on it:
/// 0 when nothing was found, 1 for flags and redactions, 2 for a block.
pub fn exit_code(outcome: &Outcome) -> i32 {
    match outcome.action() {
        Action::Allow => 0,
        Action::Block => 2,
        Action::Flag | Action::Redact => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "first\nsecond ünï x";
        let at = text.find('x').unwrap();
        assert_eq!(line_column(text, at), (2, 12));
        assert_eq!(line_column(text, 0), (1, 1));
    }
}
