//! What the admin API's views share: reading a query (`range=1h|24h|30d` and
//! its bucket width, other parameters), and the door of a read-only view
//! ([`read_view`]).

use crate::api::error::{Api, ApiError, ErrorKind};
use crate::console::session::{Access, authorize};
use crate::gateway::Gateway;
use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A view's range: the last hour, day or 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// The last hour, per minute.
    Hour,
    /// The last 24 hours, per hour.
    Day,
    /// The last 30 days, per day.
    Month,
}

impl Range {
    /// Every range, in the order the console offers them.
    pub const ALL: [Range; 3] = [Range::Hour, Range::Day, Range::Month];

    /// From the `range` parameter (default `24h`).
    pub fn parse(text: Option<&str>) -> Result<Range, ApiError> {
        match text {
            None | Some("24h") => Ok(Range::Day),
            Some("1h") => Ok(Range::Hour),
            Some("30d") => Ok(Range::Month),
            Some(other) => Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!("`range`: 1h, 24h or 30d, got `{other}`"),
            )),
        }
    }

    /// `1h`, `24h` or `30d`.
    pub fn as_str(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::Day => "24h",
            Range::Month => "30d",
        }
    }

    /// The range's length.
    pub fn len_ms(self) -> i64 {
        match self {
            Range::Hour => HOUR_MS,
            Range::Day => DAY_MS,
            Range::Month => 30 * DAY_MS,
        }
    }

    /// The width of a series' bucket.
    pub fn bucket_ms(self) -> i64 {
        match self {
            Range::Hour => MINUTE_MS,
            Range::Day => HOUR_MS,
            Range::Month => DAY_MS,
        }
    }

    /// `minute`, `hour` or `day`.
    pub fn bucket_name(self) -> &'static str {
        match self {
            Range::Hour => "minute",
            Range::Day => "hour",
            Range::Month => "day",
        }
    }

    /// `[from, to)`: the buckets of the range, the last one the bucket of
    /// `now_ms` (so far): 60 minutes, 24 hours or 30 days.
    pub fn bounds(self, now_ms: i64) -> (i64, i64) {
        let bucket = self.bucket_ms();
        let current = now_ms - now_ms.rem_euclid(bucket);
        (current - (self.len_ms() / bucket - 1) * bucket, now_ms + 1)
    }
}

/// Lets a read in (the admin key or a console session), then answers with the
/// JSON that `view` makes of the query's `name=value` pairs; an error in the
/// OpenAI shape.
pub async fn read_view<F>(
    gateway: &Gateway,
    headers: &HeaderMap,
    query: Option<&str>,
    view: F,
) -> Response
where
    F: AsyncFnOnce(Vec<(String, String)>) -> Result<Value, ApiError>,
{
    let result = match authorize(gateway, headers, Access::Read) {
        Ok(_) => view(pairs(query)).await,
        Err(error) => Err(error),
    };
    respond(result)
}

/// A JSON answer, or the error in the OpenAI shape.
fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.render(Api::OpenAi),
    }
}

/// The range a query's `range` parameter names.
pub fn range_of(pairs: &[(String, String)]) -> Result<Range, ApiError> {
    Range::parse(param(pairs, "range"))
}

/// The query's `name=value` pairs.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The value of parameter `name`, if given.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_start_on_a_bucket() {
        assert_eq!(Range::parse(None).unwrap(), Range::Day);
        assert_eq!(Range::parse(Some("30d")).unwrap(), Range::Month);
        assert!(Range::parse(Some("week")).is_err());
        let now = 100 * DAY_MS + 5 * HOUR_MS + 7;
        let (from, to) = Range::Day.bounds(now);
        assert_eq!(from % HOUR_MS, 0);
        assert!(to - from > DAY_MS - HOUR_MS && to - from <= DAY_MS);
        let (from, to) = Range::Hour.bounds(now);
        assert_eq!((to - 1 - from) / MINUTE_MS + 1, 60);
    }
}
