//! Usage reports: the hourly totals of the state store, filtered and grouped
//! by key, team, model, provider, metadata tag, hour or day. Shared by
//! `sluice usage` and `GET /admin/usage`.

use super::state::{Totals, UsageKey};
use crate::clock::format_time;
use std::collections::BTreeMap;

/// One dimension to group by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// The gateway key's id.
    Key,
    /// The `team` tag.
    Team,
    /// `@provider/model`.
    Model,
    /// The provider's slug.
    Provider,
    /// The value of one metadata tag.
    Tag(String),
}

impl Dimension {
    /// Parses `key`, `team`, `model`, `provider` or `tag:NAME`.
    pub fn parse(text: &str) -> Result<Dimension, String> {
        match text.trim() {
            "key" => Ok(Dimension::Key),
            "team" => Ok(Dimension::Team),
            "model" => Ok(Dimension::Model),
            "provider" => Ok(Dimension::Provider),
            other => match other.strip_prefix("tag:") {
                Some(name) if !name.is_empty() => Ok(Dimension::Tag(name.to_string())),
                _ => Err(format!(
                    "`{other}`: group by key, team, model, provider or tag:NAME"
                )),
            },
        }
    }

    /// The column name.
    pub fn name(&self) -> String {
        match self {
            Dimension::Key => "key".into(),
            Dimension::Team => "team".into(),
            Dimension::Model => "model".into(),
            Dimension::Provider => "provider".into(),
            Dimension::Tag(name) => format!("tag:{name}"),
        }
    }

    fn value_of(&self, key: &UsageKey) -> String {
        match self {
            Dimension::Key => key.key_id.clone(),
            Dimension::Team => key.team.clone(),
            Dimension::Model => key.model.clone(),
            Dimension::Provider => key.provider.clone(),
            Dimension::Tag(name) => key.tags.get(name).cloned().unwrap_or_default(),
        }
    }
}

/// Time buckets of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One row per hour.
    Hour,
    /// One row per UTC day.
    Day,
    /// One row for the whole range.
    All,
}

impl Bucket {
    /// Parses `hour`, `day` or `all`.
    pub fn parse(text: &str) -> Result<Bucket, String> {
        match text {
            "hour" => Ok(Bucket::Hour),
            "day" => Ok(Bucket::Day),
            "all" => Ok(Bucket::All),
            other => Err(format!("`{other}`: per hour, day or all")),
        }
    }
}

/// What to report.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    /// From this time (ms since the epoch, rounded down to its hour).
    pub since_ms: i64,
    /// Up to this time (exclusive).
    pub until_ms: i64,
    /// Group by these, in this order.
    pub by: Vec<Dimension>,
    /// Time buckets.
    pub per: Bucket,
    /// Only rows where each dimension has this value.
    pub only: Vec<(Dimension, String)>,
}

impl UsageQuery {
    /// The query of `pairs` (`since`, `until`, `by`, `per`, `key`, `team`,
    /// `model`, `provider`, `tag`), as the CLI and the admin API give them.
    /// Defaults: the last 7 days, grouped by key and model, per day.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: i64,
    ) -> Result<UsageQuery, String> {
        let mut query = UsageQuery {
            since_ms: now_ms - 7 * 86_400_000,
            until_ms: now_ms + 1,
            by: vec![Dimension::Key, Dimension::Model],
            per: Bucket::Day,
            only: Vec::new(),
        };
        for (name, value) in pairs {
            let time =
                |v: &str| crate::clock::parse_time(v, now_ms).map_err(|e| format!("`{name}`: {e}"));
            match name {
                "since" => query.since_ms = time(value)?,
                "until" => query.until_ms = time(value)?,
                "by" => {
                    query.by = value
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(Dimension::parse)
                        .collect::<Result<_, _>>()?;
                }
                "per" => query.per = Bucket::parse(value)?,
                "key" | "team" | "model" | "provider" => {
                    query
                        .only
                        .push((Dimension::parse(name)?, value.to_string()));
                }
                "tag" => {
                    let Some((tag, wanted)) = value.split_once('=') else {
                        return Err(format!("`tag`: `{value}` must be written name=value"));
                    };
                    query
                        .only
                        .push((Dimension::Tag(tag.to_string()), wanted.to_string()));
                }
                // Output options belong to the caller.
                "format" => {}
                other => {
                    return Err(format!(
                        "unknown parameter `{other}` (expected since, until, by, per, key, team, model, provider, tag, format)"
                    ));
                }
            }
        }
        if query.since_ms >= query.until_ms {
            return Err("`since` must be before `until`".into());
        }
        Ok(query)
    }

    /// The hour range to read from the store: `[from, to)`.
    pub fn hours(&self) -> (i64, i64) {
        (
            self.since_ms - self.since_ms.rem_euclid(3_600_000),
            self.until_ms,
        )
    }
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The bucket's start (`None` with [`Bucket::All`]).
    pub period_ms: Option<i64>,
    /// The values of the query's dimensions, in its order.
    pub group: Vec<String>,
    /// The totals.
    pub totals: Totals,
}

/// Filters and groups `rows` as `query` asks; sorted by period, then group.
pub fn group(query: &UsageQuery, rows: Vec<(UsageKey, Totals)>) -> Vec<ReportRow> {
    let mut grouped: BTreeMap<(Option<i64>, Vec<String>), Totals> = BTreeMap::new();
    for (key, totals) in rows {
        if key.hour_ms < query.hours().0 || key.hour_ms >= query.until_ms {
            continue;
        }
        if query
            .only
            .iter()
            .any(|(d, wanted)| d.value_of(&key) != *wanted)
        {
            continue;
        }
        let period = match query.per {
            Bucket::Hour => Some(key.hour_ms),
            Bucket::Day => Some(key.hour_ms - key.hour_ms.rem_euclid(86_400_000)),
            Bucket::All => None,
        };
        let group = query.by.iter().map(|d| d.value_of(&key)).collect();
        grouped.entry((period, group)).or_default().add(&totals);
    }
    grouped
        .into_iter()
        .map(|((period_ms, group), totals)| ReportRow {
            period_ms,
            group,
            totals,
        })
        .collect()
}

/// The column names of a report.
pub fn header(query: &UsageQuery) -> Vec<String> {
    let mut names = Vec::new();
    if query.per != Bucket::All {
        names.push("period".to_string());
    }
    names.extend(query.by.iter().map(Dimension::name));
    names.extend(
        [
            "requests",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
            "unpriced_requests",
        ]
        .map(String::from),
    );
    names
}

/// The cells of a row, in the order of [`header`].
pub fn cells(query: &UsageQuery, row: &ReportRow) -> Vec<String> {
    let mut cells = Vec::new();
    if let Some(period) = row.period_ms {
        let text = format_time(period);
        cells.push(match query.per {
            Bucket::Day => text[..10].to_string(),
            _ => text[..16].to_string() + "Z",
        });
    }
    cells.extend(row.group.iter().cloned());
    let t = &row.totals;
    cells.extend([
        t.requests.to_string(),
        t.input_tokens.to_string(),
        t.output_tokens.to_string(),
        t.cache_read_tokens.to_string(),
        t.cache_write_tokens.to_string(),
        format!("{:.6}", t.cost_nanos as f64 / 1e9),
        t.unpriced_requests.to_string(),
    ]);
    cells
}

/// The report as CSV (RFC 4180 quoting), header first.
pub fn to_csv(query: &UsageQuery, rows: &[ReportRow]) -> String {
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| crate::audit::report::csv_cell(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n"
    };
    let mut out = line(header(query));
    for row in rows {
        out.push_str(&line(cells(query, row)));
    }
    out
}

/// The report as JSON: `{"columns": [...], "rows": [[...], ...]}` with numbers
/// as numbers.
pub fn to_json(query: &UsageQuery, rows: &[ReportRow]) -> serde_json::Value {
    let columns = header(query);
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let object: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .zip(cells(query, row))
                .map(|(name, cell)| {
                    let value = match name.as_str() {
                        "cost_usd" => serde_json::json!(row.totals.cost_nanos as f64 / 1e9),
                        _ if name.ends_with("tokens") || name.ends_with("requests") => {
                            serde_json::json!(cell.parse::<i64>().unwrap_or(0))
                        }
                        _ => serde_json::json!(cell),
                    };
                    (name.clone(), value)
                })
                .collect();
            serde_json::Value::Object(object)
        })
        .collect();
    serde_json::json!({ "columns": columns, "rows": rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        hour_ms: i64,
        key: &str,
        team: &str,
        project: &str,
        cost_nanos: i64,
    ) -> (UsageKey, Totals) {
        (
            UsageKey {
                hour_ms,
                key_id: key.into(),
                team: team.into(),
                model: "@openai/gpt-4o".into(),
                provider: "openai".into(),
                tags: [("project".to_string(), project.to_string())].into(),
            },
            Totals {
                requests: 1,
                input_tokens: 100,
                output_tokens: 10,
                cost_nanos,
                ..Totals::default()
            },
        )
    }

    #[test]
    fn rows_group_by_team_and_tag_per_day() {
        let hour = 3_600_000;
        let rows = vec![
            row(0, "alice", "research", "apollo", 1_000_000),
            row(hour, "bob", "research", "apollo", 2_000_000),
            row(hour, "carol", "sales", "zeus", 4_000_000),
            row(25 * hour, "alice", "research", "apollo", 8_000_000),
        ];
        let query = UsageQuery::from_pairs(
            [
                ("since", "1970-01-01"),
                ("until", "1970-01-03"),
                ("by", "team,tag:project"),
            ],
            0,
        )
        .unwrap();
        let report = group(&query, rows);
        let lines: Vec<Vec<String>> = report.iter().map(|r| cells(&query, r)).collect();
        assert_eq!(lines[0][..4], ["1970-01-01", "research", "apollo", "2"]);
        assert_eq!(lines[0][8], "0.003000");
        assert_eq!(lines[1][..4], ["1970-01-01", "sales", "zeus", "1"]);
        assert_eq!(lines[2][..4], ["1970-01-02", "research", "apollo", "1"]);
        assert_eq!(report.len(), 3);
    }

    #[test]
    fn filters_keep_only_matching_rows() {
        let rows = vec![
            row(0, "alice", "research", "apollo", 1),
            row(0, "bob", "sales", "zeus", 2),
        ];
        let query = UsageQuery::from_pairs(
            [
                ("since", "1970-01-01"),
                ("until", "1970-01-02"),
                ("tag", "project=zeus"),
                ("per", "all"),
                ("by", "key"),
            ],
            0,
        )
        .unwrap();
        let report = group(&query, rows);
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].group, ["bob"]);
        let csv = to_csv(&query, &report);
        assert!(csv.starts_with("key,requests,input_tokens,"), "{csv}");
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = UsageQuery::from_pairs([("by", "colour")], 0).unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let err = UsageQuery::from_pairs([("limit", "3")], 0).unwrap_err();
        assert!(err.contains("unknown parameter `limit`"), "{err}");
    }
}
