//! `GET /admin/overview` and `GET /admin/providers`: what the gateway served
//! over the last hour, day or 30 days (`range=1h|24h|30d`).
//!
//! Two sources, named in the answer: requests, errors and latencies are what
//! this process saw since it started ([`crate::telemetry::recent`]); tokens,
//! cost and the top teams, keys and models come from the state store, so they
//! survive restarts and add up over every process that shares it.

use super::admin_query::{Range, range_of, read_view};
use super::error::{ApiError, ErrorKind};
use crate::clock::{format_time, now_ms};
use crate::gateway::Gateway;
use crate::governance::state::Totals;
use crate::governance::summary::Summary;
use crate::telemetry::recent::Counts;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How many teams, keys and models the overview ranks.
const TOP: usize = 8;

/// `GET /admin/overview?range=24h`.
pub async fn overview(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    read_view(&gateway, &headers, query.as_deref(), async |pairs| {
        overview_json(&gateway, range_of(&pairs)?, now_ms()).await
    })
    .await
}

/// `GET /admin/providers?range=24h`.
pub async fn providers(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    read_view(&gateway, &headers, query.as_deref(), async |pairs| {
        Ok(providers_json(&gateway, range_of(&pairs)?, now_ms()))
    })
    .await
}

fn ms(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!((v * 1000.0).round() / 1000.0))
}

/// Requests, errors and percentiles of `counts`.
fn traffic(counts: &Counts) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    out.insert("requests".into(), json!(counts.requests));
    out.insert("errors".into(), json!(counts.errors));
    out.insert("p50_ms".into(), ms(counts.latency.quantile_ms(0.5)));
    out.insert("p99_ms".into(), ms(counts.latency.quantile_ms(0.99)));
    out.insert(
        "overhead_p50_ms".into(),
        ms(counts.overhead.quantile_ms(0.5)),
    );
    out.insert(
        "overhead_p99_ms".into(),
        ms(counts.overhead.quantile_ms(0.99)),
    );
    out
}

fn usd(nanos: i64) -> Value {
    json!(nanos as f64 / 1e9)
}

fn usage_entry(totals: &Totals) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    out.insert("requests".into(), json!(totals.requests));
    out.insert("input_tokens".into(), json!(totals.input_tokens));
    out.insert("output_tokens".into(), json!(totals.output_tokens));
    out.insert(
        "tokens".into(),
        json!(
            totals.input_tokens
                + totals.output_tokens
                + totals.cache_read_tokens
                + totals.cache_write_tokens
        ),
    );
    out.insert("cost_usd".into(), usd(totals.cost_nanos));
    out
}

/// The start of every bucket of `bucket_ms` in `[from, to)` (`from` starts one).
fn buckets(from: i64, to: i64, bucket_ms: i64) -> impl Iterator<Item = i64> {
    (0..)
        .map(move |i| from + i * bucket_ms)
        .take_while(move |start| *start < to)
}

/// The overview of `range` ending at `now`.
pub async fn overview_json(gateway: &Gateway, range: Range, now: i64) -> Result<Value, ApiError> {
    let (from, to) = range.bounds(now);
    let bucket = range.bucket_ms();
    let points: BTreeMap<i64, Counts> = gateway
        .recent
        .series(from, to, bucket, None)
        .into_iter()
        .map(|p| (p.start_ms, p.counts))
        .collect();
    let mut all = Counts::default();
    let series: Vec<Value> = buckets(from, to, bucket)
        .map(|start| {
            let counts = points.get(&start).cloned().unwrap_or_default();
            all.merge(&counts);
            let mut entry = traffic(&counts);
            entry.insert("time".into(), json!(format_time(start)));
            Value::Object(entry)
        })
        .collect();
    let mut traffic_json = traffic(&all);
    traffic_json.insert("series".into(), Value::Array(series));
    traffic_json.insert(
        "source".into(),
        json!("this gateway process, since it started"),
    );
    let summary = gateway
        .governance
        .usage_summary(from, to, bucket)
        .await
        .map_err(|error| {
            tracing::error!(error = %format!("{error:#}"), "cannot read usage");
            ApiError::new(
                ErrorKind::Internal,
                "cannot read usage; the gateway's log says why",
            )
        })?;
    Ok(json!({
        "range": range.as_str(),
        "bucket": range.bucket_name(),
        "from": format_time(from),
        "to": format_time(to),
        "traffic": traffic_json,
        "usage": usage_json(&summary, from, to),
    }))
}

/// Usage totals, per bucket, and the top teams, keys and models by cost.
fn usage_json(summary: &Summary, from: i64, to: i64) -> Value {
    let top = |map: &HashMap<String, Totals>| -> Value {
        let mut ranked: Vec<(&String, &Totals)> = map.iter().collect();
        ranked.sort_by(|a, b| {
            (b.1.cost_nanos, b.1.requests, a.0).cmp(&(a.1.cost_nanos, a.1.requests, b.0))
        });
        ranked
            .into_iter()
            .take(TOP)
            .map(|(name, totals)| {
                let mut entry = usage_entry(totals);
                entry.insert("name".into(), json!(name));
                Value::Object(entry)
            })
            .collect()
    };
    let series: Vec<Value> = buckets(from, to, summary.bucket_ms)
        .map(|start| {
            let totals = summary.per_bucket.get(&start).copied().unwrap_or_default();
            let mut entry = usage_entry(&totals);
            entry.insert("time".into(), json!(format_time(start)));
            Value::Object(entry)
        })
        .collect();
    let mut out = usage_entry(&summary.total);
    out.insert("series".into(), Value::Array(series));
    out.insert("top_teams".into(), top(&summary.teams));
    out.insert("top_keys".into(), top(&summary.keys));
    out.insert("top_models".into(), top(&summary.models));
    out.insert("source".into(), json!("the state store"));
    Value::Object(out)
}

/// Per provider: its traffic over `range` (this process) and its targets
/// whose circuit is open now.
pub fn providers_json(gateway: &Gateway, range: Range, now: i64) -> Value {
    let (from, to) = range.bounds(now);
    let open = gateway.routing.breakers.open_circuits();
    let mut names: Vec<String> = gateway
        .config
        .providers
        .iter()
        .map(|p| p.slug.clone())
        .collect();
    let seen = gateway.recent.providers(from, to);
    for name in seen.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let data: Vec<Value> = names
        .iter()
        .map(|name| {
            let counts = seen.get(name).cloned().unwrap_or_default();
            let mut entry = traffic(&counts);
            entry.insert("provider".into(), json!(name));
            let open_targets: Vec<&String> = open
                .iter()
                .filter(|t| t.trim_start_matches('@').split('/').next() == Some(name.as_str()))
                .collect();
            entry.insert("open_circuits".into(), json!(open_targets));
            entry.insert(
                "circuit".into(),
                json!(if open_targets.is_empty() {
                    "closed"
                } else {
                    "open"
                }),
            );
            let series: Vec<Value> = gateway
                .recent
                .series(from, to, range.bucket_ms(), Some(name))
                .iter()
                .map(|p| {
                    let mut point = traffic(&p.counts);
                    point.insert("time".into(), json!(format_time(p.start_ms)));
                    Value::Object(point)
                })
                .collect();
            entry.insert("series".into(), Value::Array(series));
            Value::Object(entry)
        })
        .collect();
    json!({
        "range": range.as_str(),
        "bucket": range.bucket_name(),
        "source": "this gateway process, since it started",
        "data": data,
    })
}
