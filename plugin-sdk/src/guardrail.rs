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
    /// streamed, the gateway holds back this many bytes so that a match split across
    /// two chunks is still caught before it reaches the client. Keep it honest and
    /// small: it is latency added to every streamed response.
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
}
