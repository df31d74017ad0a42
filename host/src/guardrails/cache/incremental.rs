//! One guardrail check through the segment cache: look up every segment, call
//! the plugin on the misses only, and put the verdict back together so that it
//! is, finding for finding and in the same order, the one a call over every
//! segment returns.
//!
//! ```text
//! segments ─► SegmentDigest each (once per check, shared by every guardrail)
//! for a guardrail whose plugin declares a cache scope:
//!     SegmentKey per segment ─► look up ─► hits: stored findings
//!                                      └► misses ─► plugin.check(ctx, misses only)
//!     the misses' verdict splits per segment?  (see `split`)
//!         yes ─► store each missed segment's findings; merge them with the
//!                hits in segment order; action = the strongest finding's
//!         no  ─► plugin.check(ctx, every segment), returned as is (a fallback)
//! ```
//!
//! A verdict splits per segment when everything in it is explained by its
//! findings, one segment at a time: no reason, an action equal to the strongest
//! finding's (allow with none), no finding that blocks, and findings in segment
//! order. The built-in plugins' verdicts always do, except when they block. What
//! does not split is never stored, and never served:
//!
//! - a **block** (its reason names every rule or kind that blocked, across all
//!   segments, in words the host cannot rebuild): the request is refused anyway,
//!   so a full call costs nothing that matters;
//! - a **reason**, or an **action no finding explains**: they belong to the
//!   whole call, not to a segment;
//! - findings **out of segment order**: the merge could not give the plugin's order;
//! - a **failure** (trap, timeout, error, bad output): never cached. A timeout
//!   or memory cap on the misses alone is returned as is (the whole text would
//!   not have done better); any other failure is redone over every segment, so
//!   that its message (which may count findings or segments) is the uncached one;
//! - a merged verdict with **more findings than the plugin's limit** (or close to
//!   its output limit): redone in full, so that the limit fails the call exactly
//!   as it would without the cache.
//!
//! Plugins that declare cache scope `none` are always called with every segment.

use super::SegmentCache;
use super::key::{CallKey, SegmentDigest, SegmentKey};
use crate::sandbox::{
    Action, CacheScope, Context, Finding, Fingerprint, Plugin, PluginFailure, Segment, Verdict,
};
use std::cell::OnceCell;

/// The bytes a finding is assumed to take in a plugin's output besides its
/// labels (offsets, action, string headers), to keep a merged verdict well
/// inside the output limit an uncached call would run under.
const FINDING_OUTPUT_BYTES: usize = 64;

/// One check's segments, looked up in the cache for each guardrail in turn.
pub struct CachedRun<'a> {
    cache: &'a SegmentCache,
    ctx: &'a Context,
    segments: &'a [Segment],
    digests: OnceCell<Vec<SegmentDigest>>,
}

/// What a run needs to know about the plugin it checks with.
#[derive(Debug, Clone, Copy)]
pub struct PluginFacts {
    /// Its component and settings, hashed.
    pub fingerprint: Fingerprint,
    /// What it allows to be cached.
    pub scope: CacheScope,
    /// The most findings a verdict of it may carry.
    pub max_findings: usize,
    /// The most bytes one call of it may return.
    pub max_output_bytes: usize,
}

impl PluginFacts {
    /// The facts of a loaded plugin.
    pub fn of(plugin: &Plugin) -> Self {
        PluginFacts {
            fingerprint: plugin.fingerprint(),
            scope: plugin.info().cache_scope,
            max_findings: plugin.limits().max_findings,
            max_output_bytes: plugin.limits().max_output_bytes,
        }
    }
}

impl<'a> CachedRun<'a> {
    /// A run over `segments` in `ctx`. Nothing is hashed until a cacheable
    /// guardrail asks.
    pub fn new(cache: &'a SegmentCache, ctx: &'a Context, segments: &'a [Segment]) -> Self {
        CachedRun {
            cache,
            ctx,
            segments,
            digests: OnceCell::new(),
        }
    }

    /// `plugin.check(ctx, segments)`, with the misses alone going to the plugin.
    pub fn check(&self, plugin: &Plugin) -> Result<Verdict, PluginFailure> {
        self.check_with(PluginFacts::of(plugin), |segments| {
            plugin.check(self.ctx, segments)
        })
    }

    /// [`CachedRun::check`] with `call` standing for the plugin's `check`.
    pub fn check_with(
        &self,
        facts: PluginFacts,
        call: impl Fn(&[Segment]) -> Result<Verdict, PluginFailure>,
    ) -> Result<Verdict, PluginFailure> {
        if facts.scope == CacheScope::None || self.segments.is_empty() {
            return call(self.segments);
        }
        let call_key = CallKey::new(facts.fingerprint, facts.scope, self.ctx, self.cache.per_key);
        let keys: Vec<SegmentKey> = self
            .digests()
            .iter()
            .map(|digest| call_key.segment(digest))
            .collect();
        let stored: Vec<Option<super::Findings>> =
            keys.iter().map(|key| self.cache.get(key)).collect();
        let missed: Vec<usize> = (0..stored.len()).filter(|&i| stored[i].is_none()).collect();
        if missed.len() == self.segments.len() {
            return self.check_all(&keys, &call);
        }
        let fresh = if missed.is_empty() {
            Vec::new()
        } else {
            let subset: Vec<Segment> = missed.iter().map(|&i| self.segments[i].clone()).collect();
            self.cache.count_scanned(subset.len(), text_bytes(&subset));
            let verdict = match call(&subset) {
                Ok(verdict) => verdict,
                Err(failure @ (PluginFailure::Timeout(_) | PluginFailure::MemoryLimit(_))) => {
                    return Err(failure);
                }
                Err(_) => return self.fall_back(&keys, &call),
            };
            let Some(groups) = split(verdict, subset.len()) else {
                return self.fall_back(&keys, &call);
            };
            for (&i, findings) in missed.iter().zip(&groups) {
                self.cache.insert(keys[i], findings.clone());
            }
            groups
        };
        let merged = merge(&stored, fresh);
        if !within_limits(&merged, facts) {
            return self.fall_back(&keys, &call);
        }
        let hits: Vec<usize> = (0..stored.len()).filter(|&i| stored[i].is_some()).collect();
        let hit_bytes = hits.iter().map(|&i| self.segments[i].text.len()).sum();
        self.cache.count_skipped(hits.len(), hit_bytes);
        tracing::debug!(
            hits = hits.len(),
            misses = missed.len(),
            bytes_skipped = hit_bytes,
            "guardrail segment cache"
        );
        Ok(merged)
    }

    /// The segments' digests, computed on first use.
    fn digests(&self) -> &[SegmentDigest] {
        self.digests
            .get_or_init(|| self.segments.iter().map(SegmentDigest::new).collect())
    }

    /// Calls the plugin on every segment (the uncached call), and stores the
    /// findings per segment when the verdict splits.
    fn check_all(
        &self,
        keys: &[SegmentKey],
        call: &impl Fn(&[Segment]) -> Result<Verdict, PluginFailure>,
    ) -> Result<Verdict, PluginFailure> {
        self.cache
            .count_scanned(self.segments.len(), text_bytes(self.segments));
        let result = call(self.segments);
        if let Ok(verdict) = &result
            && let Some(groups) = split(verdict.clone(), self.segments.len())
        {
            for (key, findings) in keys.iter().zip(groups) {
                self.cache.insert(*key, findings);
            }
        }
        result
    }

    /// [`CachedRun::check_all`], counted as a fallback.
    fn fall_back(
        &self,
        keys: &[SegmentKey],
        call: &impl Fn(&[Segment]) -> Result<Verdict, PluginFailure>,
    ) -> Result<Verdict, PluginFailure> {
        self.cache.count_fallback();
        self.check_all(keys, call)
    }
}

/// The findings of each of `count` segments, spans relative to the segment and
/// `segment` set to 0, when the verdict splits per segment (see the module
/// doc); `None` when it does not.
fn split(verdict: Verdict, count: usize) -> Option<Vec<Vec<Finding>>> {
    let strongest = verdict.strongest_finding();
    let in_order = verdict
        .findings
        .windows(2)
        .all(|pair| pair[0].segment <= pair[1].segment);
    let splits = verdict.reason.is_none()
        && verdict.action == strongest
        && strongest != Action::Block
        && in_order;
    if !splits {
        return None;
    }
    let mut groups: Vec<Vec<Finding>> = vec![Vec::new(); count];
    for mut finding in verdict.findings {
        let index = finding.segment as usize;
        finding.segment = 0;
        groups.get_mut(index)?.push(finding);
    }
    Some(groups)
}

/// The verdict over every segment: for each in order, its stored findings or
/// (for the misses, in order) its fresh ones, re-indexed to the segment.
fn merge(stored: &[Option<super::Findings>], fresh: Vec<Vec<Finding>>) -> Verdict {
    let mut fresh = fresh.into_iter();
    let mut findings = Vec::new();
    for (index, entry) in stored.iter().enumerate() {
        let segment_findings = match entry {
            Some(stored) => stored.to_vec(),
            None => fresh.next().unwrap_or_default(),
        };
        findings.extend(segment_findings.into_iter().map(|mut finding| {
            finding.segment = index as u32;
            finding
        }));
    }
    let mut verdict = Verdict {
        action: Action::Allow,
        reason: None,
        findings,
        settled: Vec::new(),
    };
    verdict.action = verdict.strongest_finding();
    verdict
}

/// Whether an uncached call returning `verdict` would have stayed within the
/// plugin's limits on findings and output (the latter estimated, with room).
fn within_limits(verdict: &Verdict, facts: PluginFacts) -> bool {
    let output: usize = verdict
        .findings
        .iter()
        .map(|f| {
            FINDING_OUTPUT_BYTES
                + f.kind.len()
                + f.rule.len()
                + f.replacement.as_ref().map_or(0, String::len)
        })
        .sum();
    verdict.findings.len() <= facts.max_findings && output <= facts.max_output_bytes / 2
}

fn text_bytes(segments: &[Segment]) -> usize {
    segments.iter().map(|s| s.text.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Phase;
    use std::cell::RefCell;

    /// A stand-in plugin: flags every `TODO` and redacts every `secret`, per
    /// segment; blocks (with a reason naming the count) on `forbidden`.
    fn detector(segments: &[Segment]) -> Verdict {
        let mut findings = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            for (word, action) in [
                ("TODO", Action::Flag),
                ("secret", Action::Redact),
                ("forbidden", Action::Block),
            ] {
                for (start, _) in segment.text.match_indices(word) {
                    findings.push(Finding {
                        segment: index as u32,
                        start: start as u32,
                        end: (start + word.len()) as u32,
                        kind: word.to_lowercase(),
                        rule: format!("test.{}", word.to_lowercase()),
                        action,
                        replacement: None,
                    });
                }
            }
        }
        let blocks = findings
            .iter()
            .filter(|f| f.action == Action::Block)
            .count();
        let mut verdict = Verdict {
            action: Action::Allow,
            reason: (blocks > 0).then(|| format!("{blocks} forbidden words")),
            findings,
            settled: Vec::new(),
        };
        verdict.action = verdict.strongest_finding();
        verdict
    }

    fn segments(texts: &[&str]) -> Vec<Segment> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| Segment::user(format!("messages[{i}].content"), *text))
            .collect()
    }

    fn context() -> Context {
        Context {
            key_id: Some("a".into()),
            ..crate::scan::scan_context(Phase::Request)
        }
    }

    fn facts(scope: CacheScope) -> PluginFacts {
        PluginFacts {
            fingerprint: Fingerprint::new(b"detector", "{}"),
            scope,
            max_findings: 100,
            max_output_bytes: 1 << 20,
        }
    }

    /// Checks `segs` through `cache` with `plugin` standing for the plugin;
    /// returns the result and the number of segments of each call it got.
    fn run_with(
        cache: &SegmentCache,
        facts: PluginFacts,
        segs: &[Segment],
        plugin: impl Fn(&[Segment]) -> Result<Verdict, PluginFailure>,
    ) -> (Result<Verdict, PluginFailure>, Vec<usize>) {
        let calls = RefCell::new(Vec::new());
        let ctx = context();
        let result = CachedRun::new(cache, &ctx, segs).check_with(facts, |s| {
            calls.borrow_mut().push(s.len());
            plugin(s)
        });
        (result, calls.into_inner())
    }

    /// Checks `texts` with `detector` through `cache`, asserts that the verdict
    /// is the one an uncached call gives, and returns the calls' segment counts.
    fn scan(cache: &SegmentCache, scope: CacheScope, texts: &[&str]) -> Vec<usize> {
        let segs = segments(texts);
        let (result, calls) = run_with(cache, facts(scope), &segs, |s| Ok(detector(s)));
        assert_eq!(result, Ok(detector(&segs)), "{texts:?}");
        calls
    }

    #[test]
    fn a_growing_conversation_scans_only_its_new_segments_with_the_same_verdict() {
        let cache = SegmentCache::new(1 << 20, false);
        let conversation = [
            "fix the TODO in main.rs",
            "done; the secret is in .env",
            "no secret here, and no TODO either... TODO",
        ];
        for turn in 1..=conversation.len() {
            let calls = scan(&cache, CacheScope::Segment, &conversation[..turn]);
            assert_eq!(calls, vec![1], "turn {turn}: only the new segment");
        }
        // The same conversation again: nothing to scan.
        assert!(scan(&cache, CacheScope::Segment, &conversation).is_empty());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.fallbacks), (6, 3, 0));
        assert_eq!(
            stats.bytes_scanned,
            conversation.iter().map(|t| t.len() as u64).sum::<u64>()
        );
    }

    #[test]
    fn a_hit_between_misses_keeps_the_plugins_order() {
        let cache = SegmentCache::new(1 << 20, false);
        scan(&cache, CacheScope::Segment, &["", "a secret TODO"]);
        // Segment 1 has the same path and text: a hit between misses.
        let texts = ["TODO one", "a secret TODO", "secret two", "TODO secret"];
        assert_eq!(scan(&cache, CacheScope::Segment, &texts), vec![3]);
    }

    #[test]
    fn a_block_is_never_stored_and_is_answered_by_a_full_call() {
        let cache = SegmentCache::new(1 << 20, false);
        scan(&cache, CacheScope::Segment, &["a secret", "fine"]);
        let blocked = ["a secret", "fine", "forbidden and forbidden"];
        // The misses, then every segment (the reason counts both blocks).
        assert_eq!(scan(&cache, CacheScope::Segment, &blocked), vec![1, 3]);
        // Nothing about the blocking segment was stored: the next try asks again.
        assert_eq!(scan(&cache, CacheScope::Segment, &blocked), vec![1, 3]);
        assert_eq!(cache.stats().fallbacks, 2);
    }

    #[test]
    fn plugins_without_a_cache_scope_see_every_segment_every_time() {
        let cache = SegmentCache::new(1 << 20, false);
        for _ in 0..2 {
            assert_eq!(
                scan(&cache, CacheScope::None, &["a secret", "TODO"]),
                vec![2]
            );
        }
        assert_eq!(cache.stats(), SegmentCache::new(1 << 20, false).stats());
    }

    #[test]
    fn a_failure_is_never_stored() {
        let cache = SegmentCache::new(1 << 20, false);
        let texts = ["a secret", "TODO"];
        let trap = PluginFailure::Trap("unreachable".into());
        let (result, _) = run_with(
            &cache,
            facts(CacheScope::Segment),
            &segments(&texts),
            |_| Err(trap.clone()),
        );
        assert_eq!(result, Err(trap));
        assert_eq!(scan(&cache, CacheScope::Segment, &texts), vec![2]);
    }

    #[test]
    fn a_failure_on_the_misses_is_the_failure_of_the_whole_call() {
        let cache = SegmentCache::new(1 << 20, false);
        scan(&cache, CacheScope::Segment, &["a secret"]);
        let segs = segments(&["a secret", "TODO"]);
        let (result, calls) = run_with(&cache, facts(CacheScope::Segment), &segs, |s| {
            Err(PluginFailure::Error(format!("{} segments", s.len())))
        });
        assert_eq!(result, Err(PluginFailure::Error("2 segments".into())));
        assert_eq!(calls, vec![1, 2]);

        let timeout = PluginFailure::Timeout(std::time::Duration::from_millis(100));
        let (result, calls) = run_with(&cache, facts(CacheScope::Segment), &segs, |_| {
            Err(timeout.clone())
        });
        assert_eq!(result, Err(timeout));
        assert_eq!(calls, vec![1], "not repeated over the whole text");
    }

    #[test]
    fn a_merge_past_the_findings_limit_is_redone_in_full() {
        let cache = SegmentCache::new(1 << 20, false);
        let many = "TODO ".repeat(60);
        let limited = PluginFacts {
            max_findings: 100,
            ..facts(CacheScope::Segment)
        };
        // The sandbox refuses a verdict with more findings than the limit.
        let plugin = |s: &[Segment]| {
            let verdict = detector(s);
            if verdict.findings.len() > 100 {
                return Err(PluginFailure::BadOutput("too many findings".into()));
            }
            Ok(verdict)
        };
        let (stored, _) = run_with(&cache, limited, &segments(&[&many]), plugin);
        assert_eq!(stored.unwrap().findings.len(), 60);
        let (result, calls) = run_with(&cache, limited, &segments(&[&many, &many]), plugin);
        assert_eq!(
            result,
            Err(PluginFailure::BadOutput("too many findings".into()))
        );
        assert_eq!(calls, vec![1, 2]);
    }

    #[test]
    fn only_verdicts_explained_by_their_findings_split() {
        let plain = detector(&segments(&["a secret", "TODO"]));
        let groups = split(plain.clone(), 2).unwrap();
        assert_eq!(groups[0][0].segment, 0);
        assert_eq!(groups[1][0].kind, "todo");
        let with_reason = Verdict {
            reason: Some("because".into()),
            ..plain.clone()
        };
        let unexplained = Verdict {
            action: Action::Flag,
            reason: None,
            findings: Vec::new(),
            settled: Vec::new(),
        };
        let left_at_allow = Verdict {
            action: Action::Allow,
            ..plain.clone()
        };
        let mut reversed = plain.clone();
        reversed.findings.reverse();
        for verdict in [with_reason, unexplained, left_at_allow, reversed] {
            assert_eq!(split(verdict.clone(), 2), None, "{verdict:?}");
        }
        let nothing = detector(&segments(&["", "", ""]));
        assert_eq!(split(nothing, 3), Some(vec![Vec::new(); 3]));
    }

    #[test]
    fn context_scoped_plugins_share_nothing_across_keys() {
        let cache = SegmentCache::new(1 << 20, false);
        let segs = segments(&["a secret"]);
        let a = context();
        let b = Context {
            key_id: Some("b".into()),
            ..a.clone()
        };
        let calls = RefCell::new(0);
        for ctx in [&a, &b, &a] {
            let verdict = CachedRun::new(&cache, ctx, &segs).check_with(
                facts(CacheScope::SegmentAndContext),
                |s| {
                    *calls.borrow_mut() += 1;
                    Ok(detector(s))
                },
            );
            assert_eq!(verdict, Ok(detector(&segs)));
        }
        assert_eq!(calls.into_inner(), 2, "a, then b; a again is a hit");
    }
}
