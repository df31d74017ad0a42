//! What this process saw lately, for the console and `/admin/overview`,
//! `/admin/requests` and `/admin/providers`: the last [`KEEP_LINES`] request
//! lines (at most [`KEEP_BYTES`] of them), and per-minute and per-hour counts
//! of requests, errors and latencies (whole time and the gateway's own),
//! overall and per provider.
//!
//! These live in memory: they start empty when the process starts, and each
//! gateway process has its own. Usage and cost, which must survive restarts
//! and add up over processes, come from the state store instead.
//! Latency percentiles come from histograms with buckets a factor of 2^(1/4)
//! apart, so a percentile is the upper bound of its bucket (at most 19% high).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Request lines kept for `/admin/requests`.
pub const KEEP_LINES: usize = 2000;
/// The most bytes of request lines kept (lines with logged bodies are large):
/// past it, the oldest lines go first.
pub const KEEP_BYTES: usize = 64 << 20;
/// Per-minute buckets kept: a day.
const MINUTES: usize = 24 * 60;
/// Per-hour buckets kept: 31 days.
const HOURS: usize = 31 * 24;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// Histogram buckets: from 50 µs up by 2^(1/4), 80 of them (to about 52 s).
const BUCKETS: usize = 80;
const FIRST_BOUND_US: f64 = 50.0;

/// A latency histogram.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: [u32; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: [0; BUCKETS],
        }
    }
}

impl Histogram {
    fn bound_us(index: usize) -> f64 {
        FIRST_BOUND_US * 2f64.powf(index as f64 / 4.0)
    }

    /// Counts one sample.
    pub fn add(&mut self, time: Duration) {
        let us = time.as_secs_f64() * 1e6;
        let index = if us <= FIRST_BOUND_US {
            0
        } else {
            ((us / FIRST_BOUND_US).log2() * 4.0).ceil() as usize
        };
        self.counts[index.min(BUCKETS - 1)] += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The `q` quantile (0..=1) in milliseconds, `None` without samples.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= rank {
                return Some(Self::bound_us(index) / 1000.0);
            }
        }
        Some(Self::bound_us(BUCKETS - 1) / 1000.0)
    }
}

/// Counts of one time bucket (or of a range of them, merged).
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Requests finished.
    pub requests: u64,
    /// Of them, answered with an error.
    pub errors: u64,
    /// Whole time in the gateway.
    pub latency: Histogram,
    /// The gateway's own time.
    pub overhead: Histogram,
}

impl Counts {
    fn add(&mut self, sample: &Sample<'_>) {
        self.requests += 1;
        self.errors += u64::from(sample.error);
        self.latency.add(sample.total);
        self.overhead.add(sample.overhead);
    }

    /// Adds another bucket's counts.
    pub fn merge(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
        self.overhead.merge(&other.overhead);
    }
}

/// One time bucket: overall and per provider (`none` when none was called).
#[derive(Debug, Clone, Default)]
struct Bucket {
    start_ms: i64,
    all: Counts,
    providers: BTreeMap<String, Counts>,
}

/// A ring of buckets of `len_ms` each.
#[derive(Debug)]
struct Series {
    len_ms: i64,
    buckets: Vec<Bucket>,
}

impl Series {
    fn new(len_ms: i64, count: usize) -> Series {
        Series {
            len_ms,
            buckets: vec![
                Bucket {
                    start_ms: i64::MIN,
                    ..Bucket::default()
                };
                count
            ],
        }
    }

    fn add(&mut self, now_ms: i64, sample: &Sample<'_>) {
        let start_ms = now_ms - now_ms.rem_euclid(self.len_ms);
        let slot = (now_ms.div_euclid(self.len_ms)).rem_euclid(self.buckets.len() as i64) as usize;
        let bucket = &mut self.buckets[slot];
        if bucket.start_ms != start_ms {
            *bucket = Bucket {
                start_ms,
                ..Bucket::default()
            };
        }
        bucket.all.add(sample);
        match bucket.providers.get_mut(sample.provider) {
            Some(counts) => counts.add(sample),
            None => {
                let mut counts = Counts::default();
                counts.add(sample);
                bucket.providers.insert(sample.provider.to_string(), counts);
            }
        }
    }

    fn range(&self, from_ms: i64, to_ms: i64) -> Vec<&Bucket> {
        let mut found: Vec<&Bucket> = self
            .buckets
            .iter()
            .filter(|b| b.start_ms >= from_ms && b.start_ms < to_ms)
            .collect();
        found.sort_by_key(|b| b.start_ms);
        found
    }
}

/// One finished request, as the recorder counts it.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The provider that served (or was tried last), or `none`.
    pub provider: &'a str,
    /// Whether it ended in an error.
    pub error: bool,
    /// Whole time in the gateway.
    pub total: Duration,
    /// The gateway's own time.
    pub overhead: Duration,
}

/// A point of a time series: a bucket's start and its counts.
#[derive(Debug, Clone)]
pub struct Point {
    /// The bucket's first millisecond.
    pub start_ms: i64,
    /// Its counts.
    pub counts: Counts,
}

/// A kept request line: its text is made when it is read.
pub trait KeptLine: Send {
    /// The line (the JSON of a request-log line), if it can be made.
    fn text(&self) -> Option<String>;
    /// About how many bytes it holds (for [`KEEP_BYTES`]).
    fn weight(&self) -> usize;
}

/// A line already made (the tests' lines).
#[cfg(test)]
impl KeptLine for String {
    fn text(&self) -> Option<String> {
        Some(self.clone())
    }

    fn weight(&self) -> usize {
        self.len()
    }
}

/// The recorder.
pub struct Recent {
    lines: Mutex<Lines>,
    minutes: Mutex<Series>,
    hours: Mutex<Series>,
}

struct Lines {
    next_seq: u64,
    kept: VecDeque<(u64, Box<dyn KeptLine>)>,
    /// The bytes of the lines in `kept`.
    bytes: usize,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            lines: Mutex::new(Lines {
                next_seq: 1,
                kept: VecDeque::with_capacity(KEEP_LINES),
                bytes: 0,
            }),
            minutes: Mutex::new(Series::new(MINUTE_MS, MINUTES)),
            hours: Mutex::new(Series::new(HOUR_MS, HOURS)),
        }
    }
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Recent {
    /// Counts a finished request at `now_ms`.
    pub fn count(&self, now_ms: i64, sample: &Sample<'_>) {
        locked(&self.minutes).add(now_ms, sample);
        locked(&self.hours).add(now_ms, sample);
    }

    /// Keeps a finished request's line (made when it is read).
    pub fn keep(&self, line: Box<dyn KeptLine>) {
        let mut lines = locked(&self.lines);
        let seq = lines.next_seq;
        lines.next_seq += 1;
        lines.bytes += line.weight();
        lines.kept.push_back((seq, line));
        while lines.kept.len() > KEEP_LINES || (lines.bytes > KEEP_BYTES && lines.kept.len() > 1) {
            if let Some((_, old)) = lines.kept.pop_front() {
                lines.bytes -= old.weight();
            }
        }
    }

    /// The kept lines after sequence number `after`, oldest first, at most
    /// `limit` (the newest ones when there are more).
    pub fn lines_after(&self, after: u64, limit: usize) -> Vec<(u64, String)> {
        let lines = locked(&self.lines);
        let newer: Vec<&(u64, Box<dyn KeptLine>)> =
            lines.kept.iter().filter(|(s, _)| *s > after).collect();
        let skip = newer.len().saturating_sub(limit);
        newer
            .into_iter()
            .skip(skip)
            .filter_map(|(seq, line)| Some((*seq, line.text()?)))
            .collect()
    }

    /// Per-`bucket_ms` points from `from_ms` to `to_ms` (per minute when
    /// `bucket_ms` is under an hour, else per hour, merged into `bucket_ms`),
    /// overall (`provider` `None`) or for one provider. Empty buckets are
    /// left out.
    pub fn series(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
        provider: Option<&str>,
    ) -> Vec<Point> {
        let source = if bucket_ms < HOUR_MS {
            locked(&self.minutes)
        } else {
            locked(&self.hours)
        };
        let mut points: BTreeMap<i64, Counts> = BTreeMap::new();
        for bucket in source.range(from_ms, to_ms) {
            let counts = match provider {
                None => Some(&bucket.all),
                Some(p) => bucket.providers.get(p),
            };
            if let Some(counts) = counts {
                let start = bucket.start_ms - bucket.start_ms.rem_euclid(bucket_ms);
                points.entry(start).or_default().merge(counts);
            }
        }
        points
            .into_iter()
            .map(|(start_ms, counts)| Point { start_ms, counts })
            .collect()
    }

    /// Every provider seen from `from_ms` to `to_ms`, with its counts.
    pub fn providers(&self, from_ms: i64, to_ms: i64) -> BTreeMap<String, Counts> {
        let source = if to_ms - from_ms <= 24 * HOUR_MS {
            locked(&self.minutes)
        } else {
            locked(&self.hours)
        };
        let mut all: BTreeMap<String, Counts> = BTreeMap::new();
        for bucket in source.range(from_ms, to_ms) {
            for (name, counts) in &bucket.providers {
                all.entry(name.clone()).or_default().merge(counts);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(provider: &str, error: bool, ms: u64) -> Sample<'_> {
        Sample {
            provider,
            error,
            total: Duration::from_millis(ms),
            overhead: Duration::from_micros(300),
        }
    }

    #[test]
    fn quantiles_fall_in_the_right_bucket() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.add(Duration::from_millis(ms));
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((50.0..=50.0 * 1.19).contains(&p50), "{p50}");
        assert!((99.0..=99.0 * 1.19).contains(&p99), "{p99}");
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
    }

    #[test]
    fn series_count_per_bucket_and_provider() {
        let recent = Recent::default();
        let t0 = 1_000 * HOUR_MS;
        recent.count(t0 + 1, &sample("oa", false, 10));
        recent.keep(Box::new("{}".to_string()));
        recent.count(t0 + 2, &sample("oa", true, 20));
        recent.keep(Box::new("{}".to_string()));
        recent.count(t0 + MINUTE_MS, &sample("an", false, 30));
        recent.keep(Box::new("{}".to_string()));
        let minutes = recent.series(t0, t0 + HOUR_MS, MINUTE_MS, None);
        assert_eq!(minutes.len(), 2);
        assert_eq!(
            (minutes[0].counts.requests, minutes[0].counts.errors),
            (2, 1)
        );
        let hours = recent.series(t0, t0 + HOUR_MS, HOUR_MS, Some("oa"));
        assert_eq!(hours.len(), 1);
        assert_eq!(hours[0].counts.requests, 2);
        let providers = recent.providers(t0, t0 + HOUR_MS);
        assert_eq!(providers["an"].requests, 1);
        // A day later the minute slots are reused, the old counts gone.
        recent.count(t0 + 24 * HOUR_MS + 1, &sample("oa", false, 1));
        recent.keep(Box::new("{}".to_string()));
        let old = recent.series(t0, t0 + MINUTE_MS, MINUTE_MS, None);
        assert!(old.is_empty(), "{old:?}");
    }

    #[test]
    fn lines_are_kept_up_to_the_limit_and_read_after_a_sequence() {
        let recent = Recent::default();
        for i in 0..KEEP_LINES + 5 {
            recent.count(0, &sample("oa", false, 1));
            recent.keep(Box::new(format!("{i}")));
        }
        let last = recent.lines_after(0, 3);
        assert_eq!(last.len(), 3);
        assert_eq!(last[2].1, format!("{}", KEEP_LINES + 4));
        let after = recent.lines_after(last[1].0, 100);
        assert_eq!(after.len(), 1);
        assert_eq!(recent.lines_after(0, usize::MAX).len(), KEEP_LINES);
    }

    #[test]
    fn large_lines_are_kept_up_to_a_byte_budget() {
        let recent = Recent::default();
        let big = "x".repeat(KEEP_BYTES / 4 + 1);
        for _ in 0..10 {
            recent.count(0, &sample("oa", false, 1));
            recent.keep(Box::new(big.clone()));
        }
        assert_eq!(recent.lines_after(0, usize::MAX).len(), 3);
    }
}
