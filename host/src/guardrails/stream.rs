//! Response guardrails on a stream: tokens reach the client as they come, with
//! only text a match could still be open in held back, and redactions applied in the stream.
//!
//! Each channel (a choice's content, a tool call's arguments, a content block)
//! keeps the text not yet sent: its window. After each delta the guardrails
//! check the window, and everything before the release point goes out, redacted:
//!
//! ```text
//! release point = min over the guardrails that checked the window of
//!                   max(settled offset the plugin reported,   (verdict.settled)
//!                       len - its max-match-len)              (never more held)
//!                 a plugin that failed, or said nothing: len - its max-match-len
//!               ─► moved back to the start of any redaction straddling it, or
//!                  reaching the end of the window (it may still grow), until
//!                  none does
//! ```
//!
//! A plugin's settled offset says no match can begin before it and still be
//! open, so a match that starts before the point is complete when it is found,
//! and what is kept is checked again from the point on with the next delta.
//! A match is never split between what was sent and what was kept. A plugin
//! that knows nothing better gets `len - max-match-len`: a match is at most that
//! long. A complete redaction found in the kept text stays with the channel
//! until its text goes out: the point may have passed the context that found
//! it (the word before a phone number, the name before a password), which the
//! next check no longer sees.
//!
//! The segment cache ([`super::cache`]) plays no part here: it caches the request
//! phase only. A window is the channel's unreleased text, which changes with
//! every delta, so the same window is almost never seen twice; caching windows
//! would cost a hash and an entry per delta and save nothing. What a stream
//! writes comes back as request text in the next turn, and is cached there.

use super::{Guardrails, StopAt, redact};
use crate::audit::AuditSink;
use crate::sandbox::{Action, Context, Segment, SegmentKind};
use crate::telemetry::Observed;
use std::collections::HashMap;

/// What to do with a delta.
#[derive(Debug, PartialEq, Eq)]
pub enum Release {
    /// Send this text now (possibly empty).
    Text(String),
    /// End the stream with this error message.
    Block(String),
}

/// The guard for one streamed response.
pub struct StreamGuard {
    guardrails: Guardrails,
    ctx: Context,
    /// Per guardrail of the phase (id, max-match-len): the most each holds back.
    holdbacks: Vec<(String, usize)>,
    channels: HashMap<String, Channel>,
    /// The call's numbering, shared with its request check.
    placeholders: redact::SharedPlaceholders,
    audit: Option<AuditSink>,
    /// The request's metrics and log line, told of every check.
    observed: Option<Observed>,
    /// Set once a redaction was applied to released text.
    redacted: bool,
}

struct Channel {
    pending: String,
    kind: SegmentKind,
    /// Bytes of the channel's text already released: where `pending` starts.
    released: usize,
    /// Complete redactions found in `pending` by an earlier check, in offsets
    /// of the channel's whole text: applied when their text goes out, even if
    /// the window that releases it no longer holds the context that found
    /// them (the word before a phone number, the name before a password).
    found: Vec<redact::Redaction>,
}

impl StreamGuard {
    /// A guard running `guardrails` (already filtered to the response phase).
    pub fn new(
        guardrails: Guardrails,
        ctx: Context,
        audit: Option<AuditSink>,
        placeholders: redact::SharedPlaceholders,
    ) -> Self {
        let holdbacks = guardrails
            .iter()
            .filter(|g| g.phases.contains(&ctx.phase))
            .map(|g| (g.id.clone(), g.plugin.info().max_match_len as usize))
            .collect();
        StreamGuard {
            guardrails,
            ctx,
            holdbacks,
            channels: HashMap::new(),
            placeholders,
            audit,
            observed: None,
            redacted: false,
        }
    }

    /// The guard, telling `observed` of each check's decisions.
    pub fn observed_by(mut self, observed: Observed) -> Self {
        self.observed = Some(observed);
        self
    }

    /// Whether any released text was redacted.
    pub fn redacted(&self) -> bool {
        self.redacted
    }

    /// True when no guardrail runs on responses: the stream can pass as is.
    pub fn is_idle(&self) -> bool {
        self.guardrails
            .iter()
            .all(|g| !g.phases.contains(&self.ctx.phase))
    }

    /// Adds `text` to `channel`; returns what may be sent now.
    pub fn push(&mut self, channel: &str, kind: SegmentKind, text: &str) -> Release {
        if self.is_idle() {
            return Release::Text(text.to_string());
        }
        if text.is_empty() {
            return Release::Text(String::new());
        }
        let entry = self
            .channels
            .entry(channel.to_string())
            .or_insert_with(|| Channel {
                pending: String::new(),
                kind,
                released: 0,
                found: Vec::new(),
            });
        entry.pending.push_str(text);
        self.release(channel, false)
    }

    /// Checks complete text that is not part of a channel (a provider's error
    /// event): all of it at once, nothing held back. Returns the outcome, for
    /// the caller to apply its redactions with [`StreamGuard::placeholders`],
    /// or the message of a block.
    pub fn check_whole(&mut self, segments: &[Segment]) -> Result<super::Outcome, String> {
        let outcome = self
            .guardrails
            .check(&self.ctx, segments, StopAt::FirstBlock);
        outcome.log_failures();
        if let Some(observed) = &self.observed {
            observed.guardrails(&outcome, self.ctx.phase);
        }
        self.audit(&outcome, segments, 0, usize::MAX);
        if outcome.action() == Action::Block {
            return Err(outcome.block_message().unwrap_or_default());
        }
        self.redacted |= (0..segments.len()).any(|i| !outcome.redactions(i).is_empty());
        Ok(outcome)
    }

    /// The call's placeholder numbering.
    pub fn placeholders(&self) -> &redact::SharedPlaceholders {
        &self.placeholders
    }

    /// Ends `channel`: checks and returns all its remaining text.
    pub fn finish(&mut self, channel: &str) -> Release {
        if !self.channels.contains_key(channel) {
            return Release::Text(String::new());
        }
        let release = self.release(channel, true);
        self.channels.remove(channel);
        release
    }

    /// The kind of text `channel` carries, if it is open.
    pub fn channel_kind(&self, channel: &str) -> Option<SegmentKind> {
        self.channels.get(channel).map(|c| c.kind)
    }

    /// The open channels (to finish them all at the end of a stream).
    pub fn open_channels(&self) -> Vec<String> {
        let mut names: Vec<String> = self.channels.keys().cloned().collect();
        names.sort();
        names
    }

    fn release(&mut self, channel: &str, all: bool) -> Release {
        let entry = self.channels.get_mut(channel).expect("channel exists");
        let segment = Segment {
            path: channel.to_string(),
            role: "assistant".into(),
            kind: entry.kind,
            text: std::mem::take(&mut entry.pending),
        };
        let segments = [segment];
        let outcome = self
            .guardrails
            .check(&self.ctx, &segments, StopAt::FirstBlock);
        outcome.log_failures();
        if let Some(observed) = &self.observed {
            observed.guardrails(&outcome, self.ctx.phase);
        }
        let released_before = entry.released;
        if outcome.action() == Action::Block {
            self.audit(&outcome, &segments, released_before, usize::MAX);
            return Release::Block(outcome.block_message().unwrap_or_default());
        }
        let text = &segments[0].text;
        let mut cut = if all {
            text.len()
        } else {
            self.settled(&outcome, text)
        };
        let len = text.len();
        let mut redactions = outcome.redactions(0);
        // Complete ones (not reaching the end, which may grow) are kept until
        // released; earlier ones join this window's.
        let complete: Vec<redact::Redaction> = redactions
            .iter()
            .filter(|r| r.span.end < len)
            .map(|r| shifted(r, released_before, true))
            .collect();
        redactions.extend(
            self.channels[channel]
                .found
                .iter()
                .map(|r| shifted(r, released_before, false)),
        );
        if !all {
            cut = back_from_open_redactions(cut, &redactions, len);
        }
        // Findings in the held-back tail are checked again with the next delta:
        // record each once, when its text is released.
        self.audit(&outcome, &segments, released_before, cut);
        let released: Vec<redact::Redaction> = redactions
            .into_iter()
            .filter(|r| r.span.end <= cut)
            .collect();
        let entry = self.channels.get_mut(channel).expect("channel exists");
        entry.found.extend(complete);
        entry
            .found
            .retain(|r| r.span.start >= released_before + cut);
        entry.found.sort_by_key(|r| (r.span.start, r.span.end));
        entry.found.dedup_by(|a, b| a.span == b.span);
        let [segment] = segments;
        let text = segment.text;
        self.redacted |= !released.is_empty();
        let mut placeholders = self
            .placeholders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let out = redact::apply(&text[..cut], &released, &mut placeholders);
        drop(placeholders);
        let entry = self.channels.get_mut(channel).expect("channel exists");
        entry.pending = text[cut..].to_string();
        entry.released += cut;
        Release::Text(out)
    }

    /// Where the window `text` is settled for every guardrail that checked it:
    /// the smallest of their settled offsets, each no earlier than the
    /// guardrail's max-match-len before the end. Always a character boundary.
    fn settled(&self, outcome: &super::Outcome, text: &str) -> usize {
        let len = text.len();
        let mut settled = len;
        for decision in &outcome.decisions {
            let holdback = self
                .holdbacks
                .iter()
                .find(|(id, _)| *id == decision.guardrail)
                .map_or(len, |(_, holdback)| *holdback);
            let floor = text.floor_char_boundary(len.saturating_sub(holdback));
            // Validated by the sandbox: within the text, on a character boundary.
            let said = match &decision.result {
                Ok(verdict) => verdict.settled.first().map(|&at| at as usize),
                Err(_) => None,
            };
            settled = settled.min(said.map_or(floor, |at| at.max(floor)));
        }
        settled
    }

    /// Records the findings of a check that end at or before `up_to` (spans made
    /// relative to the channel's whole text), and every plugin failure.
    fn audit(&self, outcome: &super::Outcome, segments: &[Segment], offset: usize, up_to: usize) {
        let Some(audit) = &self.audit else {
            return;
        };
        let anything = outcome.decisions.iter().any(|d| match &d.result {
            Ok(verdict) => {
                !verdict.findings.is_empty() || verdict.effective_action() == Action::Block
            }
            Err(_) => true,
        });
        if !anything {
            return; // the common case: nothing to record, nothing to copy
        }
        let mut released = outcome.clone();
        for decision in &mut released.decisions {
            if let Ok(verdict) = &mut decision.result {
                verdict.findings.retain(|f| f.end as usize <= up_to);
            }
        }
        audit.record(&released, &self.ctx, segments, &[offset]);
    }
}

/// `redaction` with its span moved from window offsets to the channel's
/// (`forward`), or back, the window starting at `window_start`.
fn shifted(redaction: &redact::Redaction, window_start: usize, forward: bool) -> redact::Redaction {
    let span = &redaction.span;
    let span = if forward {
        span.start + window_start..span.end + window_start
    } else {
        span.start - window_start..span.end - window_start
    };
    redact::Redaction {
        span,
        replacement: redaction.replacement.clone(),
    }
}

/// The release point `cut` moved back to the start of every redaction that
/// straddles it or reaches the end of the window (an unfinished private key
/// matches up to what has arrived, and grows with the next delta), again until
/// none does: a moved point may fall inside another.
fn back_from_open_redactions(
    mut cut: usize,
    redactions: &[redact::Redaction],
    len: usize,
) -> usize {
    while let Some(start) = redactions
        .iter()
        .filter(|r| r.span.start < cut && (cut < r.span.end || r.span.end == len))
        .map(|r| r.span.start)
        .min()
    {
        cut = start;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FailurePolicy;
    use crate::guardrails::{Decision, Outcome};
    use crate::sandbox::{Phase, PluginFailure, Verdict};

    /// A guard whose guardrails hold back at most the given bytes each.
    fn guard(holdbacks: &[(&str, usize)]) -> StreamGuard {
        let mut guard = StreamGuard::new(
            Guardrails::default(),
            crate::scan::scan_context(Phase::Response),
            None,
            redact::SharedPlaceholders::default(),
        );
        guard.holdbacks = holdbacks
            .iter()
            .map(|(id, n)| (id.to_string(), *n))
            .collect();
        guard
    }

    fn decision(id: &str, result: Result<Verdict, PluginFailure>) -> Decision {
        Decision {
            guardrail: id.into(),
            plugin: id.into(),
            version: "1".into(),
            on_failure: FailurePolicy::Allow,
            result,
            elapsed: std::time::Duration::ZERO,
        }
    }

    fn settled_at(offsets: Vec<u32>) -> Result<Verdict, PluginFailure> {
        Ok(Verdict {
            action: Action::Allow,
            reason: None,
            findings: Vec::new(),
            settled: offsets,
        })
    }

    #[test]
    fn the_smallest_settled_offset_wins_within_each_holdback() {
        let text = "a".repeat(100);
        let guard = guard(&[("words", 256), ("silent", 30), ("eager", 8)]);
        let outcome = |decisions| Outcome { decisions };
        // each plugin says where it is settled: the smallest wins
        let both = outcome(vec![
            decision("words", settled_at(vec![95])),
            decision("eager", settled_at(vec![97])),
        ]);
        assert_eq!(guard.settled(&both, &text), 95);
        // one that says nothing holds back its max-match-len
        let silent = outcome(vec![
            decision("words", settled_at(vec![95])),
            decision("silent", settled_at(vec![])),
        ]);
        assert_eq!(guard.settled(&silent, &text), 70);
        // so does one that failed open
        let failed = outcome(vec![
            decision("words", settled_at(vec![99])),
            decision("silent", Err(PluginFailure::Panic("boom".into()))),
        ]);
        assert_eq!(guard.settled(&failed, &text), 70);
        // and none holds back more than its max-match-len, whatever it says
        let cautious = outcome(vec![decision("eager", settled_at(vec![0]))]);
        assert_eq!(guard.settled(&cautious, &text), 92);
    }

    #[test]
    fn redactions_that_straddle_or_reach_the_end_are_held_whole() {
        let redaction = |span: std::ops::Range<usize>| redact::Redaction {
            span,
            replacement: "[X]".into(),
        };
        // reaching the end of the window: it may still grow
        assert_eq!(
            back_from_open_redactions(100, &[redaction(60..100)], 100),
            60
        );
        // straddling, then the moved point inside another
        let overlapping = [redaction(50..70), redaction(65..90)];
        assert_eq!(back_from_open_redactions(80, &overlapping, 100), 50);
        // complete and before the point: released
        assert_eq!(back_from_open_redactions(80, &[redaction(10..20)], 100), 80);
    }

    #[test]
    fn the_holdback_never_splits_a_character() {
        let text = "ééééé"; // 10 bytes
        let guard = guard(&[("silent", 3)]);
        let outcome = Outcome {
            decisions: vec![decision("silent", settled_at(vec![]))],
        };
        assert_eq!(guard.settled(&outcome, text), 6);
    }
}
