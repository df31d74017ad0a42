//! The segment cache: guardrail findings remembered per text segment, so that a
//! conversation resent whole every turn (as coding agents do) is scanned only
//! where it is new, and guardrail cost grows with what a turn adds instead of
//! with the length of the session.
//!
//! An entry maps a [`SegmentKey`] (see [`key`]: the plugin's fingerprint, the
//! phase, the segment's path, role, kind and text and, for a plugin whose cache
//! scope is `segment-and-context`, the call's context) to the findings the
//! plugin reported for that segment, with spans relative to it. Entries hold
//! findings (span, kind, rule, action, replacement label), never text, and a hit
//! serves exactly the findings a call would have returned: it tells a caller
//! nothing a miss would not. How one check uses the cache, and what it never
//! caches, is in [`incremental`].
//!
//! Only the request phase is cached. A response is text the model has just
//! written, new by construction; it comes back as request text in the next turn,
//! and is cached there. Streamed responses are not cached either (see
//! [`crate::guardrails::stream`]).
//!
//! Memory is bounded by weight: each entry counts an estimate of the bytes it
//! takes (table slot, key, findings and their labels), and the cache evicts
//! (CLOCK-Pro, close to LRU but scan-resistant; `quick_cache`) to stay under its
//! capacity. Lookups and inserts lock one shard of many, so the many tokio
//! workers that check requests at once rarely wait on each other.

pub mod incremental;
pub mod key;

pub use incremental::CachedRun;
use key::DigestHash;
pub use key::SegmentKey;

use crate::sandbox::Finding;
use quick_cache::Weighter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

/// What an entry holds: the findings of one segment, spans relative to it.
type Findings = Arc<[Finding]>;

/// The estimated bytes of an entry besides its findings: the table slot with
/// its key and pointer (quick_cache's own estimate: (32 + 16 + 21) × 1.5).
const ENTRY_OVERHEAD: u64 = 112;

/// The findings' shared allocation header, when there are findings (entries
/// without any share one allocation, see [`SegmentCache::insert`]).
const FINDINGS_HEADER: u64 = 16;

/// Guardrail findings per segment, shared by every request (and, unless
/// `per_key`, every gateway key). Cheap to share: wrap it in an `Arc`.
pub struct SegmentCache {
    entries: quick_cache::sync::Cache<SegmentKey, Findings, ByWeight, DigestHash>,
    per_key: bool,
    counters: Counters,
}

/// Counts since the cache was made, for logs and (later) metrics.
#[derive(Debug, Default)]
struct Counters {
    /// Segments (and their bytes) given to a plugin: the misses.
    scanned: Tally,
    /// Segments (and their bytes) served from the cache: the hits.
    skipped: Tally,
    fallbacks: AtomicU64,
}

/// A number of segments and their bytes.
#[derive(Debug, Default)]
struct Tally {
    segments: AtomicU64,
    bytes: AtomicU64,
}

impl Tally {
    fn add(&self, segments: usize, bytes: usize) {
        self.segments.fetch_add(segments as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// A snapshot of the cache's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Segments whose findings came from the cache instead of a plugin.
    pub hits: u64,
    /// Segments a cacheable plugin was called on.
    pub misses: u64,
    /// Bytes of text given to cacheable plugins.
    pub bytes_scanned: u64,
    /// Bytes of text whose findings came from the cache instead.
    pub bytes_skipped: u64,
    /// Checks whose result could not be put together from segments (a block, a
    /// verdict-level reason, a failure on part of the text...) and were redone
    /// over every segment.
    pub fallbacks: u64,
    /// Entries held now.
    pub entries: u64,
    /// Their estimated size in bytes.
    pub weight: u64,
    /// The most bytes the cache holds.
    pub capacity: u64,
}

impl CacheStats {
    /// Hits as a fraction of all segment lookups (0 when there were none).
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MB: f64 = (1 << 20) as f64;
        write!(
            f,
            "{} hits, {} misses ({:.1}% hit rate), {:.1} MB scanned, {:.1} MB skipped, \
             {} fallbacks; {} entries, {:.1} of {:.0} MB",
            self.hits,
            self.misses,
            100.0 * self.hit_rate(),
            self.bytes_scanned as f64 / MB,
            self.bytes_skipped as f64 / MB,
            self.fallbacks,
            self.entries,
            self.weight as f64 / MB,
            self.capacity as f64 / MB,
        )
    }
}

impl SegmentCache {
    /// A cache that holds at most about `max_bytes`. With `per_key`, each gateway
    /// key gets entries of its own, so that no key can tell from a faster answer
    /// that another key sent the same text.
    pub fn new(max_bytes: u64, per_key: bool) -> Self {
        let estimated_items = (max_bytes / (ENTRY_OVERHEAD * 2)).max(16) as usize;
        SegmentCache {
            entries: quick_cache::sync::Cache::with(
                estimated_items,
                max_bytes,
                ByWeight,
                DigestHash,
                Default::default(),
            ),
            per_key,
            counters: Counters::default(),
        }
    }

    /// Whether each gateway key has entries of its own.
    pub fn per_key(&self) -> bool {
        self.per_key
    }

    /// The counters now.
    pub fn stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            hits: c.skipped.segments.load(Ordering::Relaxed),
            misses: c.scanned.segments.load(Ordering::Relaxed),
            bytes_scanned: c.scanned.bytes.load(Ordering::Relaxed),
            bytes_skipped: c.skipped.bytes.load(Ordering::Relaxed),
            fallbacks: c.fallbacks.load(Ordering::Relaxed),
            entries: self.entries.len() as u64,
            weight: self.entries.weight(),
            capacity: self.entries.capacity(),
        }
    }

    /// The findings stored for `key`.
    fn get(&self, key: &SegmentKey) -> Option<Findings> {
        self.entries.get(key)
    }

    /// Stores the findings of one segment. Most segments have none, and all of
    /// those share one allocation.
    fn insert(&self, key: SegmentKey, findings: Vec<Finding>) {
        static NONE: LazyLock<Findings> = LazyLock::new(|| Arc::from(Vec::new()));
        let findings = if findings.is_empty() {
            NONE.clone()
        } else {
            findings.into()
        };
        self.entries.insert(key, findings);
    }

    /// Counts `segments` segments of `bytes` bytes given to a plugin.
    fn count_scanned(&self, segments: usize, bytes: usize) {
        self.counters.scanned.add(segments, bytes);
    }

    /// Counts `segments` segments of `bytes` bytes served from the cache.
    fn count_skipped(&self, segments: usize, bytes: usize) {
        self.counters.skipped.add(segments, bytes);
    }

    /// Counts a check redone over every segment.
    fn count_fallback(&self) {
        self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Weighs an entry by its estimated size in bytes.
#[derive(Debug, Clone, Copy)]
struct ByWeight;

impl Weighter<SegmentKey, Findings> for ByWeight {
    fn weight(&self, _key: &SegmentKey, findings: &Findings) -> u64 {
        if findings.is_empty() {
            return ENTRY_OVERHEAD;
        }
        ENTRY_OVERHEAD
            + FINDINGS_HEADER
            + findings
                .iter()
                .map(|f| {
                    (std::mem::size_of::<Finding>()
                        + f.kind.len()
                        + f.rule.len()
                        + f.replacement.as_ref().map_or(0, String::len)) as u64
                })
                .sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Action, CacheScope, Fingerprint, Phase, Segment};
    use crate::scan::scan_context;
    use key::{CallKey, SegmentDigest};

    fn key(n: usize) -> SegmentKey {
        let segment = Segment::user(format!("messages[{n}].content"), format!("text {n}"));
        let ctx = scan_context(Phase::Request);
        CallKey::new(
            Fingerprint::new(b"plugin", "{}"),
            CacheScope::Segment,
            &ctx,
            false,
        )
        .segment(&SegmentDigest::new(&segment))
    }

    fn email_at(start: u32) -> Finding {
        Finding {
            segment: 0,
            start,
            end: start + 10,
            kind: "email".into(),
            rule: "pii.email".into(),
            action: Action::Redact,
            replacement: Some("[EMAIL]".into()),
        }
    }

    #[test]
    fn stores_findings_and_counts_what_it_saved() {
        let cache = SegmentCache::new(1 << 20, false);
        assert_eq!(cache.get(&key(1)), None);
        cache.insert(key(1), vec![email_at(3)]);
        cache.insert(key(2), Vec::new());
        assert_eq!(cache.get(&key(1)).unwrap().as_ref(), &[email_at(3)]);
        assert_eq!(cache.get(&key(2)).unwrap().len(), 0);
        cache.count_scanned(2, 1000);
        cache.count_skipped(6, 3000);
        cache.count_fallback();
        let stats = cache.stats();
        assert_eq!(
            (
                stats.hits,
                stats.misses,
                stats.bytes_scanned,
                stats.bytes_skipped
            ),
            (6, 2, 1000, 3000)
        );
        assert_eq!((stats.fallbacks, stats.entries), (1, 2));
        assert_eq!(stats.hit_rate(), 0.75);
        assert!(stats.weight >= 2 * ENTRY_OVERHEAD, "{stats:?}");
        let line = stats.to_string();
        assert!(line.contains("6 hits, 2 misses (75.0% hit rate)"), "{line}");
    }

    #[test]
    fn keys_that_hash_alike_are_still_told_apart() {
        // the table's hash is a key's first eight bytes: equal for these two
        let (mut a, mut b) = ([7u8; 32], [7u8; 32]);
        a[31] = 1;
        b[31] = 2;
        let (a, b) = (
            key::SegmentKey::from_digest(a),
            key::SegmentKey::from_digest(b),
        );
        let cache = SegmentCache::new(1 << 20, false);
        cache.insert(a, vec![email_at(1)]);
        cache.insert(b, vec![email_at(2)]);
        assert_eq!(cache.get(&a).unwrap().as_ref(), &[email_at(1)]);
        assert_eq!(cache.get(&b).unwrap().as_ref(), &[email_at(2)]);
    }

    #[test]
    fn memory_stays_under_the_bound() {
        let capacity = 64 << 10;
        let cache = SegmentCache::new(capacity, false);
        for n in 0..10_000 {
            cache.insert(key(n), vec![email_at(n as u32)]);
        }
        let stats = cache.stats();
        assert!(stats.weight <= capacity, "{stats:?}");
        assert!(stats.entries < 10_000 && stats.entries > 100, "{stats:?}");
        assert_eq!(stats.capacity, capacity);
        // The newest entries are the ones kept.
        assert!(cache.get(&key(9_999)).is_some());
    }

    #[test]
    fn entries_without_findings_share_one_allocation() {
        let cache = SegmentCache::new(1 << 20, false);
        cache.insert(key(1), Vec::new());
        cache.insert(key(2), Vec::new());
        cache.insert(key(3), vec![email_at(0)]);
        let (one, two) = (cache.get(&key(1)).unwrap(), cache.get(&key(2)).unwrap());
        assert!(one.is_empty() && Arc::ptr_eq(&one, &two));
        assert_eq!(cache.get(&key(3)).unwrap().len(), 1);
        let weight = cache.stats().weight;
        assert!(weight > 3 * ENTRY_OVERHEAD + FINDINGS_HEADER, "{weight}");
    }

    #[test]
    fn an_empty_cache_reports_no_hit_rate() {
        let stats = SegmentCache::new(1 << 20, true).stats();
        assert_eq!(stats.hit_rate(), 0.0);
        assert_eq!(stats.entries, 0);
    }
}
