//! The host never trusts a verdict: every span and label is checked here before
//! anything is applied to a body.

use super::bindings::{Action, Segment, Verdict};
use super::limits::Limits;
use super::store::truncate;

/// The longest block reason passed on to a client; longer ones are cut.
const MAX_REASON: usize = 1024;

/// Checks `verdict` against the segments it was computed for. On success the
/// verdict is returned with its reason trimmed to a sane length.
pub fn validate(
    mut verdict: Verdict,
    segments: &[Segment],
    limits: &Limits,
) -> Result<Verdict, String> {
    if verdict.findings.len() > limits.max_findings {
        return Err(format!(
            "{} findings, more than the limit of {}",
            verdict.findings.len(),
            limits.max_findings
        ));
    }
    for (i, finding) in verdict.findings.iter().enumerate() {
        let Some(segment) = segments.get(finding.segment as usize) else {
            return Err(format!(
                "finding {i} names segment {} but there are {}",
                finding.segment,
                segments.len()
            ));
        };
        let text = &segment.text;
        let (start, end) = (finding.start as usize, finding.end as usize);
        if start > end || end > text.len() {
            return Err(format!(
                "finding {i} spans bytes {start}..{end} of a {}-byte segment",
                text.len()
            ));
        }
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return Err(format!(
                "finding {i} spans bytes {start}..{end}, which splits a UTF-8 character"
            ));
        }
        if finding.kind.is_empty() {
            return Err(format!("finding {i} has an empty kind"));
        }
        let labels = [
            ("kind", finding.kind.as_str()),
            ("rule", finding.rule.as_str()),
            ("replacement", finding.replacement.as_deref().unwrap_or("")),
        ];
        for (name, value) in labels {
            if value.len() > limits.max_label_len {
                return Err(format!(
                    "finding {i} has a {}-byte {name}, more than the limit of {}",
                    value.len(),
                    limits.max_label_len
                ));
            }
        }
    }
    check_settled(&verdict.settled, segments)?;
    if let Some(reason) = &verdict.reason
        && reason.len() > MAX_REASON
    {
        verdict.reason = Some(truncate(reason, MAX_REASON).to_string());
    }
    if verdict.action == Action::Redact && verdict.findings.is_empty() {
        return Err("the verdict says redact but names nothing to redact".into());
    }
    Ok(verdict)
}

/// Settled offsets are either absent or one per segment, each on a character
/// boundary of its segment's text.
fn check_settled(settled: &[u32], segments: &[Segment]) -> Result<(), String> {
    if settled.is_empty() {
        return Ok(());
    }
    if settled.len() != segments.len() {
        return Err(format!(
            "{} settled offsets for {} segments",
            settled.len(),
            segments.len()
        ));
    }
    for (i, (&offset, segment)) in settled.iter().zip(segments).enumerate() {
        let text = &segment.text;
        if offset as usize > text.len() || !text.is_char_boundary(offset as usize) {
            return Err(format!(
                "settled offset {offset} of a {}-byte segment (segment {i}) is past its end or splits a UTF-8 character",
                text.len()
            ));
        }
    }
    Ok(())
}
