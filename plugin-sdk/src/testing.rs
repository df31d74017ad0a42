//! Native unit tests for a plugin: plain `cargo test`, no wasm, same types.
//!
//! ```
//! # use sluice_plugin_sdk::{testing::Harness, *};
//! # #[derive(Default)] struct Shouty;
//! # impl Guardrail for Shouty {
//! #     fn check(&self, _: &Context, s: &[Segment]) -> Verdict {
//! #         let f = s[0].text.find("HEY").map(|i| Finding::new(0, i..i + 3, "shout", "hey", Action::Redact));
//! #         Verdict::from_findings(f.into_iter().collect())
//! #     }
//! # }
//! let plugin = Harness::<Shouty>::configure("{}").unwrap();
//! assert_eq!(plugin.redact("oh HEY there"), "oh [SHOUT] there");
//! ```

use crate::{Action, Context, Finding, Guardrail, Phase, Segment, Settings, Verdict};

/// Runs a plugin the way the gateway does: configure once, then check, with the
/// gateway's validation of the returned spans.
pub struct Harness<G> {
    plugin: G,
}

impl<G: Guardrail> Harness<G> {
    /// Configures the plugin from a JSON settings document, as the gateway would.
    pub fn configure(settings_json: &str) -> Result<Self, String> {
        Ok(Harness {
            plugin: G::configure(&Settings::new(settings_json))?,
        })
    }

    /// The plugin configured with no settings.
    pub fn with_defaults() -> Self {
        Self::configure("{}").expect("plugin refused empty settings")
    }

    /// Checks segments in the given context.
    ///
    /// # Panics
    /// When a finding's span is out of range or not on a character boundary: the
    /// gateway would treat that as a plugin failure.
    pub fn check(&self, ctx: &Context, segments: &[Segment]) -> Verdict {
        let verdict = self.plugin.check(ctx, segments);
        for finding in &verdict.findings {
            assert_valid_span(finding, segments);
        }
        verdict
    }

    /// Checks one text as a user message in the request phase.
    pub fn check_text(&self, text: &str) -> Verdict {
        self.check_text_in(Phase::Request, text)
    }

    /// Checks one text in the given phase.
    pub fn check_text_in(&self, phase: Phase, text: &str) -> Verdict {
        let mut ctx = Context::request("@test/model");
        ctx.phase = phase;
        self.check(&ctx, &[Segment::user(text)])
    }

    /// The text as the upstream would receive it after the plugin's redactions, in
    /// the request phase.
    pub fn redact(&self, text: &str) -> String {
        let verdict = self.check_text(text);
        apply_redactions(text, &verdict.findings)
    }

    /// The plugin's settled offset for `text` as a streamed response so far,
    /// checked to be on a character boundary within it.
    ///
    /// # Panics
    /// When the offset is past the end or splits a character.
    pub fn settled(&self, text: &str) -> usize {
        let at = self.plugin.settled(&Segment::assistant(text));
        assert!(
            at <= text.len() && text.is_char_boundary(at),
            "settled offset {at} is not a character boundary of a {}-byte text",
            text.len()
        );
        at
    }

    /// What a client would receive of a response streamed in `chunks`, released
    /// the way the gateway releases it with this plugin alone: after each chunk,
    /// the pending text is checked and sent up to the settled offset (never
    /// holding back more than `MAX_MATCH_LEN`), moved back to the start of any
    /// redaction that straddles it or reaches the end; the end of the stream
    /// sends the rest.
    pub fn stream(&self, chunks: &[&str]) -> String {
        self.stream_releases(chunks).concat()
    }

    /// Streams `text` in one chunk, split into two chunks at every character
    /// boundary, and one character at a time, and checks that the client gets
    /// what checking the whole text at once gives: a match split anywhere is
    /// still caught, and released context changes nothing. Returns that output.
    ///
    /// # Panics
    /// At the first split whose output differs, naming it.
    pub fn assert_any_split_streams_alike(&self, text: &str) -> String {
        let whole = self.release(
            &mut Window {
                pending: text.to_string(),
                found: Vec::new(),
            },
            true,
        );
        assert_eq!(self.stream(&[text]), whole, "one chunk: {text:?}");
        for cut in (1..text.len()).filter(|&c| text.is_char_boundary(c)) {
            let streamed = self.stream(&[&text[..cut], &text[cut..]]);
            assert_eq!(streamed, whole, "split at byte {cut} of {text:?}");
        }
        let mut characters: Vec<&str> = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            characters.push(&rest[..c.len_utf8()]);
            rest = &rest[c.len_utf8()..];
        }
        assert_eq!(
            self.stream(&characters),
            whole,
            "one character at a time: {text:?}"
        );
        whole
    }

    /// Like [`stream`](Harness::stream), but what each chunk released, one entry
    /// per chunk plus one for the end of the stream.
    pub fn stream_releases(&self, chunks: &[&str]) -> Vec<String> {
        let mut window = Window::default();
        let mut releases = Vec::with_capacity(chunks.len() + 1);
        for (i, chunk) in chunks.iter().enumerate() {
            window.pending.push_str(chunk);
            releases.push(self.release(&mut window, false));
            if i + 1 == chunks.len() {
                releases.push(self.release(&mut window, true));
            }
        }
        releases
    }

    /// Checks the window and sends what may go, as the gateway does.
    fn release(&self, window: &mut Window, all: bool) -> String {
        let pending = &window.pending;
        let mut ctx = Context::request("@test/model");
        ctx.phase = Phase::Response;
        let verdict = self.check(&ctx, &[Segment::assistant(pending.as_str())]);
        let len = pending.len();
        let mut redactions: Vec<Finding> = verdict
            .findings
            .into_iter()
            .filter(|f| f.action == Action::Redact)
            .collect();
        // Complete ones (not reaching the end, which may grow) are kept until
        // their text goes out, even if a later window loses their context.
        let complete: Vec<Finding> = redactions
            .iter()
            .filter(|f| f.span.end < len)
            .cloned()
            .collect();
        let earlier = std::mem::take(&mut window.found);
        redactions.extend(earlier.iter().cloned());
        let mut cut = if all {
            len
        } else {
            let floor = crate::default_settled(pending, G::MAX_MATCH_LEN);
            self.settled(pending).max(floor)
        };
        // Back to the start of any redaction that straddles the point or
        // reaches the end (it may grow), until none does.
        while let Some(start) = redactions
            .iter()
            .filter(|f| !all && f.span.start < cut && (cut < f.span.end || f.span.end == len))
            .map(|f| f.span.start)
            .min()
        {
            cut = start;
        }
        let out = apply_redactions(
            &pending[..cut],
            &redactions
                .iter()
                .filter(|f| f.span.end <= cut)
                .cloned()
                .collect::<Vec<_>>(),
        );
        window.found = complete
            .into_iter()
            .chain(earlier)
            .filter(|f| f.span.start >= cut)
            .map(|mut f| {
                f.span = f.span.start - cut..f.span.end - cut;
                f
            })
            .collect();
        window.found.sort_by_key(|f| (f.span.start, f.span.end));
        window.found.dedup_by(|a, b| a.span == b.span);
        window.pending.replace_range(..cut, "");
        out
    }
}

/// A stream's text not yet sent, and the complete redactions found in it.
#[derive(Default)]
struct Window {
    pending: String,
    found: Vec<Finding>,
}

/// Applies the `Redact` findings to `text` (all findings must be for one segment).
/// Overlapping spans are merged; the earliest-starting finding's replacement wins.
pub fn apply_redactions(text: &str, findings: &[Finding]) -> String {
    let mut spans: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.action == Action::Redact)
        .collect();
    spans.sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.span.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for finding in spans {
        if finding.span.end <= at {
            continue;
        }
        if finding.span.start >= at {
            out.push_str(&text[at..finding.span.start]);
            out.push_str(&finding.effective_replacement());
        }
        at = finding.span.end;
    }
    out.push_str(&text[at..]);
    out
}

fn assert_valid_span(finding: &Finding, segments: &[Segment]) {
    let Some(segment) = segments.get(finding.segment) else {
        panic!(
            "finding {finding:?} names segment {} of {}",
            finding.segment,
            segments.len()
        );
    };
    let text = &segment.text;
    let span = &finding.span;
    assert!(
        span.start <= span.end && span.end <= text.len(),
        "finding {finding:?} is outside its segment's {} bytes",
        text.len()
    );
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "finding {finding:?} splits a UTF-8 character"
    );
}

/// `count` pseudo-random texts, each `length` pieces drawn from `pieces` (an
/// xorshift sequence from `seed`, so a failing text is the same on every
/// run). For differential tests: a fast path against the straightforward
/// one, over texts made of the pieces that make them differ.
pub fn texts_from(pieces: &[&str], count: usize, length: usize, seed: u64) -> Vec<String> {
    let mut seed = seed;
    (0..count)
        .map(|_| {
            let mut text = String::new();
            for _ in 0..length {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            text
        })
        .collect()
}

/// Coding-agent-like text of about `len` bytes with no personal data or
/// secret in it: six lines of code, a compiler error, a test log and a JSON
/// request, repeated. The input of the sandbox benchmark
/// (`host/benches/sandbox.rs`) and of the plugins' native throughput examples,
/// so that their numbers compare.
pub fn agent_text(len: usize) -> String {
    let lines = [
        "fn handle(req: Request) -> Result<Response, Error> {",
        "    let user = db.find_user(req.user_id).await?; // see issue #4411",
        "    tracing::info!(elapsed_ms = 12, \"loaded {} rows\", rows.len());",
        "error[E0382]: borrow of moved value: `config` at src/main.rs:88:17",
        "The test `routing::fallback_on_503` failed: expected 200, got 503 after 3 retries.",
        "{\"model\":\"gpt-4o\",\"temperature\":0.2,\"max_tokens\":1024,\"stream\":true}",
    ];
    let mut text = String::with_capacity(len + 100);
    let mut i = 0;
    while text.len() < len {
        text.push_str(lines[i % lines.len()]);
        text.push('\n');
        i += 1;
    }
    text.truncate(len);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(span: std::ops::Range<usize>) -> Finding {
        Finding::new(0, span, "x", "r", Action::Redact)
    }

    #[test]
    fn overlapping_redactions_merge() {
        let text = "0123456789";
        let out = apply_redactions(text, &[redact(2..5), redact(4..7), redact(8..9)]);
        assert_eq!(out, "01[X]7[X]9");
    }

    #[test]
    fn flags_do_not_change_text() {
        let flag = Finding::new(0, 0..3, "x", "r", Action::Flag);
        assert_eq!(apply_redactions("abcdef", &[flag]), "abcdef");
    }
}
