//! The calendar windows that budgets and rate limits count in.

use crate::clock::{civil_from_days, days_from_civil};
use crate::config::Period;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// One window: `[start_ms, end_ms)` in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first millisecond of the window.
    pub start_ms: i64,
    /// The first millisecond after it: when the count resets.
    pub end_ms: i64,
}

impl Window {
    /// The window of `period` that holds `now_ms`.
    pub fn of(period: Period, now_ms: i64) -> Window {
        let fixed = |len: i64| {
            let start_ms = now_ms - now_ms.rem_euclid(len);
            Window {
                start_ms,
                end_ms: start_ms + len,
            }
        };
        match period {
            Period::Minute => fixed(MINUTE_MS),
            Period::Hour => fixed(HOUR_MS),
            Period::Day => fixed(DAY_MS),
            Period::Week => {
                let days = now_ms.div_euclid(DAY_MS);
                // 1970-01-01 was a Thursday: Monday is 3 days before it.
                let monday = days - (days + 3).rem_euclid(7);
                Window {
                    start_ms: monday * DAY_MS,
                    end_ms: (monday + 7) * DAY_MS,
                }
            }
            Period::Month => {
                let (y, m, _) = civil_from_days(now_ms.div_euclid(DAY_MS));
                let (next_y, next_m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Window {
                    start_ms: days_from_civil(y, m, 1) * DAY_MS,
                    end_ms: days_from_civil(next_y, next_m, 1) * DAY_MS,
                }
            }
        }
    }

    /// Whole seconds until the window ends, rounded up (for `Retry-After`).
    pub fn seconds_left(&self, now_ms: i64) -> u64 {
        ((self.end_ms - now_ms).max(0) as u64).div_ceil(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{format_time, parse_time};

    fn window(period: Period, at: &str) -> (String, String) {
        let w = Window::of(period, parse_time(at, 0).unwrap());
        (format_time(w.start_ms), format_time(w.end_ms))
    }

    #[test]
    fn windows_follow_the_calendar() {
        let at = "2026-11-22T14:03:07Z"; // a Sunday
        assert_eq!(
            window(Period::Minute, at),
            (
                "2026-11-22T14:03:00.000Z".into(),
                "2026-11-22T14:04:00.000Z".into()
            )
        );
        assert_eq!(
            window(Period::Day, at),
            (
                "2026-11-22T00:00:00.000Z".into(),
                "2026-11-23T00:00:00.000Z".into()
            )
        );
        assert_eq!(
            window(Period::Week, at),
            (
                "2026-11-16T00:00:00.000Z".into(),
                "2026-11-23T00:00:00.000Z".into()
            )
        );
        assert_eq!(
            window(Period::Month, "2026-12-31T23:59:59Z"),
            (
                "2026-12-01T00:00:00.000Z".into(),
                "2027-01-01T00:00:00.000Z".into()
            )
        );
        assert_eq!(
            window(Period::Month, "2028-02-29T12:00:00Z"),
            (
                "2028-02-01T00:00:00.000Z".into(),
                "2028-03-01T00:00:00.000Z".into()
            )
        );
    }

    #[test]
    fn a_monday_starts_its_own_week() {
        let (start, _) = window(Period::Week, "2026-11-23T00:00:00Z");
        assert_eq!(start, "2026-11-23T00:00:00.000Z");
    }

    #[test]
    fn seconds_left_round_up() {
        let w = Window::of(Period::Minute, 59_001);
        assert_eq!(w.seconds_left(59_001), 1);
        assert_eq!(w.seconds_left(0), 60);
    }
}
