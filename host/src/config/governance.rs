//! `[[budgets]]`, `[[rate_limits]]` and `[pricing]`: what a key, team, model or
//! metadata tag may spend, how fast, and what tokens cost. What the gateway does
//! with them is in `crate::governance`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A calendar window in UTC. Minutes, hours and days start on the clock; weeks
/// on Monday 00:00; months on the 1st at 00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// 60 seconds from :00.
    Minute,
    /// 60 minutes from :00:00.
    Hour,
    /// From 00:00 UTC.
    Day,
    /// From Monday 00:00 UTC.
    Week,
    /// From the 1st, 00:00 UTC.
    Month,
}

impl Period {
    /// The name used in config, errors and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// One `[[budgets]]` entry: cost and/or tokens per period, for one key, team or
/// metadata tag (or each of them, with `*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Names the budget in errors, headers and counters.
    pub id: String,
    /// A key id, or `*` for each key.
    pub key: Option<String>,
    /// A team, or `*` for each team.
    pub team: Option<String>,
    /// `name=value`, or `name=*` (or `name`) for each value of the tag.
    pub tag: Option<String>,
    /// `day`, `week` or `month`.
    pub period: Period,
    /// The most it may cost in the period, in US dollars.
    pub cost_usd: Option<f64>,
    /// The most tokens (input + output) in the period.
    pub tokens: Option<u64>,
}

/// One `[[rate_limits]]` entry: requests and/or tokens per minute, hour or day,
/// for one key, team, model or metadata tag (or each of them, with `*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Names the limit in errors and counters.
    pub id: String,
    /// A key id, or `*` for each key.
    pub key: Option<String>,
    /// A team, or `*` for each team.
    pub team: Option<String>,
    /// A model as routed (`@provider/model`), or `*` for each model.
    pub model: Option<String>,
    /// `name=value`, or `name=*` (or `name`) for each value of the tag.
    pub tag: Option<String>,
    /// `minute`, `hour` or `day`.
    pub per: Period,
    /// The most requests in the window.
    pub requests: Option<u64>,
    /// The most tokens (input + output) in the window.
    pub tokens: Option<u64>,
}

/// The price of a model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Input tokens that were not read from the provider's prompt cache.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Input tokens read from the prompt cache (default: the input price).
    pub cache_read: Option<f64>,
    /// Input tokens written to the prompt cache (default: the input price).
    pub cache_write: Option<f64>,
}

/// The selectors of a budget or rate limit, for validation: `(field, value)`.
fn selectors<'a>(fields: [(&'a str, &'a Option<String>); 4]) -> Vec<(&'a str, &'a str)> {
    fields
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
}

/// Checks budgets, rate limits and prices; returns the offending field and why.
pub fn validate(
    budgets: &[BudgetConfig],
    rate_limits: &[RateLimitConfig],
    pricing: &BTreeMap<String, PriceConfig>,
) -> Result<(), (String, String)> {
    let mut ids = std::collections::HashSet::new();
    for (i, b) in budgets.iter().enumerate() {
        let field = |name: &str| format!("budgets[{i}].{name}");
        check_id(&b.id, &mut ids).map_err(|m| (field("id"), m))?;
        let chosen = selectors([
            ("key", &b.key),
            ("team", &b.team),
            ("tag", &b.tag),
            ("model", &None),
        ]);
        check_selectors(&chosen, "key, team or tag").map_err(|m| (field("key"), m))?;
        if matches!(b.period, Period::Minute | Period::Hour) {
            return Err((
                field("period"),
                "must be day, week or month (use [[rate_limits]] for shorter windows)".into(),
            ));
        }
        if b.cost_usd.is_none() && b.tokens.is_none() {
            return Err((field("cost_usd"), "set cost_usd, tokens or both".into()));
        }
        if let Some(cost) = b.cost_usd
            && !(cost.is_finite() && (0.0..1e9).contains(&cost))
        {
            return Err((
                field("cost_usd"),
                "must be a number of dollars from 0 to 1e9".into(),
            ));
        }
    }
    for (i, r) in rate_limits.iter().enumerate() {
        let field = |name: &str| format!("rate_limits[{i}].{name}");
        check_id(&r.id, &mut ids).map_err(|m| (field("id"), m))?;
        let chosen = selectors([
            ("key", &r.key),
            ("team", &r.team),
            ("model", &r.model),
            ("tag", &r.tag),
        ]);
        check_selectors(&chosen, "key, team, model or tag").map_err(|m| (field("key"), m))?;
        if matches!(r.per, Period::Week | Period::Month) {
            return Err((
                field("per"),
                "must be minute, hour or day (use [[budgets]] for longer periods)".into(),
            ));
        }
        if r.requests.is_none() && r.tokens.is_none() {
            return Err((field("requests"), "set requests, tokens or both".into()));
        }
    }
    for (model, price) in pricing {
        let prices = [
            Some(price.input),
            Some(price.output),
            price.cache_read,
            price.cache_write,
        ];
        if prices
            .into_iter()
            .flatten()
            .any(|p| !(p.is_finite() && (0.0..1e6).contains(&p)))
        {
            return Err((
                format!("pricing.\"{model}\""),
                "prices are dollars per million tokens, from 0 to 1e6".into(),
            ));
        }
    }
    Ok(())
}

fn check_id<'a>(id: &'a str, seen: &mut std::collections::HashSet<&'a str>) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!(
            "{id:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
        ));
    }
    if !seen.insert(id) {
        return Err(format!(
            "`{id}` is used twice (budget and rate-limit ids are shared)"
        ));
    }
    Ok(())
}

fn check_selectors(chosen: &[(&str, &str)], allowed: &str) -> Result<(), String> {
    match chosen {
        [] => Err(format!("set one of {allowed}")),
        [(name, "")] => Err(format!("`{name}` is empty (use \"*\" for each {name})")),
        [(name, value)] if *name == "tag" && value.starts_with('=') => {
            Err("`tag` is written name=value, name=* or name".into())
        }
        [_] => Ok(()),
        _ => Err(format!("set only one of {allowed}")),
    }
}
