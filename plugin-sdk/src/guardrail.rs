//! The one trait a plugin implements.

use crate::{CacheScope, Context, Phase, Segment, Settings, Verdict};

/// A guardrail: looks at text segments and says what it found.
///
/// Only [`check`](Guardrail::check) is required. `Default` is the plugin as
/// configured with no settings; override [`configure`](Guardrail::configure) to take
/// settings, and the associated constants to describe the plugin more precisely.
///
/// One value of the type serves many `check` calls, one after another, for
/// different requests and gateway keys: keep no per-request state in it.
pub trait Guardrail: Default + 'static {
    /// The phases the plugin handles; the gateway never calls it for others.
    const PHASES: &'static [Phase] = &[Phase::Request, Phase::Response];

    /// The longest text, in bytes, a single finding can span. When a response is
    /// streamed, the gateway holds back at most this many bytes so that a match
    /// split across two chunks is still caught before it reaches the client. Keep
    /// it honest and small: unless [`settled`](Guardrail::settled) says better, it
    /// is latency added to every streamed response.
    const MAX_MATCH_LEN: u32 = 256;

    /// Whether the gateway may cache findings per segment. Leave at `None` unless a
    /// segment's findings depend only on that segment (its text, path, role and
    /// kind) and, for `SegmentAndContext`, on the context; never on the other
    /// segments of the call. The gateway then scans only segments it has not seen
    /// before. A verdict built with [`Verdict::from_findings`](crate::Verdict::from_findings)
    /// (no reason, unless it blocks) is what it can cache; a verdict with a reason
    /// or an action no finding explains is used as is, and not cached.
    const CACHE_SCOPE: CacheScope = CacheScope::None;

    /// Builds the plugin from the gateway config's settings for it. Called once per
    /// instance, before any `check`. An error stops the gateway from starting and
    /// is shown to the operator, so make it say what is wrong.
    ///
    /// The default takes no settings and returns `Self::default()`.
    fn configure(settings: &Settings) -> Result<Self, String> {
        settings.expect_none()?;
        Ok(Self::default())
    }

    /// Inspects the segments of one request or response.
    ///
    /// Return findings as byte spans into `segments[i].text`; the gateway validates
    /// them and applies redactions and blocks itself.
    fn check(&self, ctx: &Context, segments: &[Segment]) -> Verdict;

    /// How much of a streamed response's text is settled: a byte offset into
    /// `segment.text` (on a character boundary, at most its length) such that no
    /// match starts before it and is still open, waiting for text yet to come,
    /// and no finding in the rest will need text before it. The gateway sends
    /// the client everything before the smallest settled offset of its
    /// guardrails, and checks the rest again, from there, with the next chunk.
    ///
    /// Called after [`check`](Guardrail::check) for each segment of the response
    /// phase only. The default, `len - MAX_MATCH_LEN` (the most a match can reach
    /// back), is always right; override it to release text sooner, for example
    /// up to the start of a trailing word that could still grow into a match.
    /// Returning less than the default changes nothing: the gateway never holds
    /// back more than `MAX_MATCH_LEN` bytes. When in doubt, return less.
    ///
    /// It runs on every response check, whole answers included (a plugin
    /// cannot tell them from a stream's window), and on every chunk of a
    /// stream: keep it to a few microseconds, as cheap as `check` on the same
    /// text. Look only at the text's tail, and find words with one pass rather
    /// than one search per word (the built-ins' `settled` took 2 to 6 µs on a
    /// 300-byte answer, up to 26 times their check, until they did).
    fn settled(&self, segment: &Segment) -> usize {
        default_settled(&segment.text, Self::MAX_MATCH_LEN)
    }
}

/// The settled offset a plugin gets without saying anything: `MAX_MATCH_LEN`
/// bytes before the end, moved back to a character boundary.
pub fn default_settled(text: &str, max_match_len: u32) -> usize {
    text.floor_char_boundary(text.len().saturating_sub(max_match_len as usize))
}

/// Where the run of non-whitespace (ASCII whitespace) that ends at `at`
/// begins: a settled offset that keeps a trailing word together.
pub fn run_start(bytes: &[u8], at: usize) -> usize {
    bytes[..at]
        .iter()
        .rposition(u8::is_ascii_whitespace)
        .map_or(0, |i| i + 1)
}

/// Where a match still open at the end of `bytes` may begin, for a plugin whose
/// matches hold no whitespace before the part that decides them: the start of
/// the trailing run of non-whitespace ([`run_start`]), or the end of the text
/// when that run is one word of ASCII letters closed by bytes of `closing`
/// (`Hello!`, `Sure,`).
///
/// Pass as `closing` only punctuation that none of the plugin's matches can
/// contain after letters, so that the word and its punctuation end any match
/// that began in them, and that reads, before what comes next, as the start of
/// a window does: a non-word byte, not part of what follows. A stream's words
/// then go out as their punctuation arrives instead of waiting for the next
/// word.
pub fn open_run_start(bytes: &[u8], closing: &[u8]) -> usize {
    let run = run_start(bytes, bytes.len());
    let tail = &bytes[run..];
    let word = tail.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let closed = word > 0 && word < tail.len() && tail[word..].iter().all(|b| closing.contains(b));
    if closed { bytes.len() } else { run }
}

#[cfg(test)]
mod tests {
    use super::{open_run_start, run_start};

    #[test]
    fn a_word_closed_by_the_plugins_punctuation_is_settled_whole() {
        assert_eq!(open_run_start(b"Hello!", b"!,"), 6);
        assert_eq!(open_run_start(b"Well. Sure,", b"!,"), 11);
        assert_eq!(open_run_start(b"What?!!", b"!?"), 7);
    }

    #[test]
    fn any_other_trailing_run_is_held_from_its_start() {
        for (text, held_from) in [
            ("Hello", 0),
            ("say Hello", 4),
            ("Hello.", 0),  // `.` is not among the closing bytes
            ("x2!", 0),     // not a word of letters
            ("a:b!", 0),    // nor is this
            ("!", 0),       // no word before the punctuation
            ("Hi! ", 4),    // nothing after the space yet
            ("Hello!x", 0), // the run goes on past the punctuation
            ("Grüße!", 0),  // letters outside ASCII are not judged
        ] {
            assert_eq!(
                open_run_start(text.as_bytes(), b"!,"),
                held_from,
                "{text:?}"
            );
            assert_eq!(
                held_from,
                run_start(text.as_bytes(), text.len()),
                "{text:?}"
            );
        }
    }
}
