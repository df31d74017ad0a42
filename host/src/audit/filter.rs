//! Which records a query selects, and the SQL `WHERE` clause that selects them,
//! written once for both stores (they differ only in how a parameter is spelled).

/// Which records a query returns. Empty fields select everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only records after this sequence number (for paging and follow mode).
    pub after_seq: i64,
    /// From this time (ms since the epoch), inclusive.
    pub since_ms: Option<i64>,
    /// Before this time, exclusive.
    pub until_ms: Option<i64>,
    /// Gateway key id.
    pub key: Option<String>,
    /// The key's team.
    pub team: Option<String>,
    /// Guardrail id.
    pub plugin: Option<String>,
    /// Rule id (`secrets.github-pat`).
    pub rule: Option<String>,
    /// Finding kind.
    pub kind: Option<String>,
    /// `flag`, `redact`, `block`, `fail-open`, `fail-closed` or `admin`.
    pub action: Option<String>,
    /// One request's records.
    pub request: Option<String>,
    /// Metadata tags that must all be present.
    pub tags: Vec<(String, String)>,
    /// At most this many records.
    pub limit: Option<u64>,
}

/// A query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// An integer column's value.
    Int(i64),
    /// A text column's value.
    Text(String),
}

/// How a store's SQL spells what differs between databases.
pub struct Dialect {
    /// The `n`th parameter (1-based): `?1` or `$1`.
    pub placeholder: fn(usize) -> String,
    /// A condition that the record carries the tag whose key and value are
    /// parameters `k` and `v`.
    pub has_tag: fn(k: &str, v: &str) -> String,
}

/// The names [`Filter::from_pairs`] accepts: the `sluice audit` options and the
/// `/admin/audit` query parameters.
pub const FILTER_NAMES: [&str; 12] = [
    "since", "until", "key", "team", "tag", "plugin", "rule", "kind", "action", "request", "after",
    "limit",
];

impl Filter {
    /// A filter from `name=value` pairs (see [`FILTER_NAMES`]); times are UTC
    /// dates or ages relative to `now_ms`, `tag` is `NAME=VALUE` and repeats.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: i64,
    ) -> Result<Filter, String> {
        let mut filter = Filter::default();
        for (name, value) in pairs {
            let text = || Some(value.to_string());
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("`{name}`: expected a whole number, got `{value}`"))
            };
            match name {
                "since" => filter.since_ms = Some(parse_time_arg(name, value, now_ms)?),
                "until" => filter.until_ms = Some(parse_time_arg(name, value, now_ms)?),
                "key" => filter.key = text(),
                "team" => filter.team = text(),
                "plugin" => filter.plugin = text(),
                "rule" => filter.rule = text(),
                "kind" => filter.kind = text(),
                "action" => {
                    super::record::Outcome::parse(value).map_err(|_| {
                        format!(
                            "`action`: expected flag, redact, block, fail-open, fail-closed or admin, got `{value}`"
                        )
                    })?;
                    filter.action = text();
                }
                "request" => filter.request = text(),
                "tag" => {
                    let Some((k, v)) = value.split_once('=') else {
                        return Err(format!("`tag`: expected NAME=VALUE, got `{value}`"));
                    };
                    filter.tags.push((k.to_string(), v.to_string()));
                }
                "after" => filter.after_seq = number()?.min(i64::MAX as u64) as i64,
                "limit" => filter.limit = Some(number()?),
                _ => {
                    return Err(format!(
                        "unknown filter `{name}` (known: {})",
                        FILTER_NAMES.join(", ")
                    ));
                }
            }
        }
        Ok(filter)
    }

    /// `WHERE ...` (without `ORDER BY` or `LIMIT`) and its parameters.
    pub fn where_clause(&self, dialect: &Dialect) -> (String, Vec<Param>) {
        let mut sql = String::from(" WHERE seq > ");
        let mut params = Vec::new();
        let next = |params: &mut Vec<Param>, value: Param| {
            params.push(value);
            (dialect.placeholder)(params.len())
        };
        sql.push_str(&next(&mut params, Param::Int(self.after_seq)));
        if let Some(since) = self.since_ms {
            sql.push_str(&format!(
                " AND time_ms >= {}",
                next(&mut params, Param::Int(since))
            ));
        }
        if let Some(until) = self.until_ms {
            sql.push_str(&format!(
                " AND time_ms < {}",
                next(&mut params, Param::Int(until))
            ));
        }
        for (column, value) in [
            ("key_id", &self.key),
            ("team", &self.team),
            ("guardrail", &self.plugin),
            ("rule", &self.rule),
            ("kind", &self.kind),
            ("outcome", &self.action),
            ("request_id", &self.request),
        ] {
            if let Some(value) = value {
                let p = next(&mut params, Param::Text(value.clone()));
                sql.push_str(&format!(" AND {column} = {p}"));
            }
        }
        for (key, value) in &self.tags {
            let k = next(&mut params, Param::Text(key.clone()));
            let v = next(&mut params, Param::Text(value.clone()));
            sql.push_str(&format!(" AND {}", (dialect.has_tag)(&k, &v)));
        }
        (sql, params)
    }

    /// `ORDER BY seq`, and `LIMIT` when there is one.
    pub fn order_and_limit(&self) -> String {
        match self.limit {
            Some(limit) => format!(" ORDER BY seq LIMIT {limit}"),
            None => " ORDER BY seq".into(),
        }
    }
}

fn parse_time_arg(name: &str, value: &str, now_ms: i64) -> Result<i64, String> {
    super::report::parse_time(value, now_ms).map_err(|e| format!("`{name}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBERED: Dialect = Dialect {
        placeholder: |n| format!("${n}"),
        has_tag: |k, v| format!("tag({k}, {v})"),
    };

    #[test]
    fn every_field_becomes_a_parameter_never_text_in_the_sql() {
        let filter = Filter {
            after_seq: 7,
            since_ms: Some(1),
            key: Some("k'; DROP TABLE audit; --".into()),
            tags: vec![("team".into(), "a".into())],
            limit: Some(5),
            ..Filter::default()
        };
        let (sql, params) = filter.where_clause(&NUMBERED);
        assert_eq!(
            sql,
            " WHERE seq > $1 AND time_ms >= $2 AND key_id = $3 AND tag($4, $5)"
        );
        assert_eq!(
            params,
            [
                Param::Int(7),
                Param::Int(1),
                Param::Text("k'; DROP TABLE audit; --".into()),
                Param::Text("team".into()),
                Param::Text("a".into()),
            ]
        );
        assert_eq!(filter.order_and_limit(), " ORDER BY seq LIMIT 5");
    }

    #[test]
    fn pairs_make_a_filter_and_mistakes_are_named() {
        let filter = Filter::from_pairs(
            [
                ("since", "2h"),
                ("tag", "team=a"),
                ("tag", "app=cli=x"),
                ("action", "redact"),
                ("after", "12"),
                ("limit", "50"),
            ],
            10_000_000,
        )
        .unwrap();
        assert_eq!(filter.since_ms, Some(10_000_000 - 7_200_000));
        assert_eq!(
            filter.tags,
            [("team".into(), "a".into()), ("app".into(), "cli=x".into())]
        );
        assert_eq!(filter.action.as_deref(), Some("redact"));
        assert_eq!((filter.after_seq, filter.limit), (12, Some(50)));
        for (pair, says) in [
            (("colour", "red"), "unknown filter `colour`"),
            (("tag", "team"), "NAME=VALUE"),
            (("action", "delete"), "expected flag, redact"),
            (("limit", "-1"), "whole number"),
            (("since", "yesterday"), "`since`"),
        ] {
            let error = Filter::from_pairs([pair], 0).unwrap_err();
            assert!(error.contains(says), "{pair:?}: {error}");
        }
    }
}
