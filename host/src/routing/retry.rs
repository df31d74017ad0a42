//! Retries of one target: which failures are worth another try, how long to
//! wait (exponential backoff with full jitter, or the provider's
//! `Retry-After`), and when to give up.

use crate::config::{DEFAULT_FAILURE_CODES, RetryConfig};
use std::time::Duration;

/// The retry policy of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: u32,
    /// Statuses worth retrying.
    pub on_status_codes: Vec<u16>,
    /// The first backoff.
    pub backoff: Duration,
    /// The longest backoff, and the longest `Retry-After` honoured.
    pub max_backoff: Duration,
    /// The most time all tries may take.
    pub max_total: Duration,
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 0,
            on_status_codes: Vec::new(),
            backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            max_total: Duration::ZERO,
        }
    }

    /// The policy `config` describes.
    pub fn from_config(config: &RetryConfig) -> Self {
        RetryPolicy {
            attempts: config.attempts,
            on_status_codes: config
                .on_status_codes
                .clone()
                .unwrap_or_else(|| DEFAULT_FAILURE_CODES.to_vec()),
            backoff: Duration::from_millis(config.backoff_ms.unwrap_or(250)),
            max_backoff: Duration::from_millis(config.max_backoff_ms.unwrap_or(8000)),
            max_total: Duration::from_secs(config.max_total_s.unwrap_or(120)),
        }
    }

    /// How long to wait before retry number `retry` (0 for the first), given
    /// the provider's `Retry-After`; `None` when the wait is longer than this
    /// policy allows. `random` is a number in `[0, 1)`.
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>, random: f64) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_backoff).then_some(after);
        }
        let ceiling = self
            .backoff
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_backoff);
        // Full jitter: anywhere up to the ceiling, so clients that failed
        // together do not come back together.
        Some(ceiling.mul_f64(random.clamp(0.0, 1.0)))
    }
}

/// The longest `Retry-After` read; longer ones (`1e20`, a date years ahead)
/// count as this, which is past any retry policy's wait.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A `Retry-After` header: seconds, or an HTTP date (read as seconds from now),
/// at most [`MAX_RETRY_AFTER`]; `None` when it is neither (negative, NaN,
/// infinite, text).
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        return Some(Duration::from_secs_f64(
            seconds.min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    // `Sun, 22 Nov 2026 14:03:07 GMT`
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Digits of the sizes the format has, so the date arithmetic cannot overflow.
    let digits = |text: &str, sizes: &[usize]| {
        sizes.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
    };
    let clock_ok = time.split(':').all(|part| digits(part, &[2]));
    if !digits(year, &[4]) || !digits(day, &[1, 2]) || !clock_ok {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let at =
        crate::clock::parse_time(&format!("{year}-{month:02}-{day:0>2}T{time}Z"), now_ms).ok()?;
    let wait = Duration::from_millis(at.saturating_sub(now_ms).max(0) as u64);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A random number in `[0, 1)` for jitter and load balancing (not a secret).
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(crate::clock::now_ms() as u64);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::from_config(&RetryConfig {
            attempts: 3,
            on_status_codes: None,
            backoff_ms: Some(100),
            max_backoff_ms: Some(1000),
            max_total_s: None,
        })
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_jitter() {
        let p = policy();
        assert_eq!(p.wait(0, None, 0.999_999).unwrap().as_millis(), 99);
        assert_eq!(p.wait(2, None, 0.5).unwrap(), Duration::from_millis(200));
        assert_eq!(p.wait(9, None, 0.5).unwrap(), Duration::from_millis(500));
        assert_eq!(p.wait(3, None, 0.0).unwrap(), Duration::ZERO);
        assert_eq!(p.on_status_codes, DEFAULT_FAILURE_CODES);
    }

    #[test]
    fn retry_after_is_honoured_unless_too_long() {
        let p = policy();
        assert_eq!(
            p.wait(0, Some(Duration::from_millis(700)), 0.1),
            Some(Duration::from_millis(700))
        );
        assert_eq!(p.wait(0, Some(Duration::from_secs(5)), 0.1), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("2", 0), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("0.5", 0),
            Some(Duration::from_millis(500))
        );
        let now = crate::clock::parse_time("2026-11-22T14:03:00Z", 0).unwrap();
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 14:03:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-1", 0), None);
    }

    #[test]
    fn hostile_retry_after_values_are_clamped_or_ignored() {
        for huge in ["1e20", "1e308", "18446744073709551616", "99999999999"] {
            assert_eq!(parse_retry_after(huge, 0), Some(MAX_RETRY_AFTER), "{huge}");
        }
        for bad in ["NaN", "inf", "-inf", "-0.5", "1e", ""] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad}");
        }
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 0),
            Some(MAX_RETRY_AFTER)
        );
        for bad_date in [
            "Sun, 22 Nov 9223372036854775807 14:03:07 GMT",
            "Sun, -22 Nov 2026 14:03:07 GMT",
            "Sun, 22 Nov 2026 14:-3:07 GMT",
        ] {
            assert_eq!(parse_retry_after(bad_date, 0), None, "{bad_date}");
        }
        let now = crate::clock::parse_time("2026-11-22T14:03:00Z", 0).unwrap();
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2020 14:03:07 GMT", now),
            Some(Duration::ZERO),
            "a date in the past: retry now"
        );
        assert_eq!(policy().wait(0, parse_retry_after("1e20", 0), 0.5), None);
    }

    #[test]
    fn random_numbers_stay_in_range() {
        for _ in 0..1000 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r), "{r}");
        }
    }
}
