//! `GET /admin/guardrails?range=24h`: what the guardrails caught, from the
//! audit trail: hits per guardrail and rule, by outcome, and per guardrail
//! over time. Administrators' actions are left out.

use super::admin_query::{Range, range_of, read_view};
use super::error::ApiError;
use crate::audit::{Filter, RecordOutcome};
use crate::clock::{format_time, now_ms};
use crate::gateway::Gateway;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most records one answer reads; past it, `truncated` is true.
const MAX_RECORDS: u64 = 200_000;

/// `GET /admin/guardrails`.
pub async fn guardrails(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    read_view(&gateway, &headers, query.as_deref(), async |pairs| {
        guardrails_json(&gateway, range_of(&pairs)?, now_ms()).await
    })
    .await
}

/// Hits over `range` ending at `now`.
pub async fn guardrails_json(gateway: &Gateway, range: Range, now: i64) -> Result<Value, ApiError> {
    let (from, to) = range.bounds(now);
    let filter = Filter {
        since_ms: Some(from),
        until_ms: Some(to),
        limit: Some(MAX_RECORDS + 1),
        ..Filter::default()
    };
    let records = super::admin::read_trail(gateway, move |log| log.query(&filter)).await?;
    let truncated = records.len() as u64 > MAX_RECORDS;
    let bucket = range.bucket_ms();
    let mut rules: BTreeMap<(String, String), BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut series: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for (_, r) in records.iter().take(MAX_RECORDS as usize) {
        if r.outcome == RecordOutcome::Admin {
            continue;
        }
        let rule = r
            .rule
            .clone()
            .or_else(|| r.failure.as_ref().map(|f| format!("failure: {f}")))
            .unwrap_or_default();
        *rules
            .entry((r.guardrail.clone(), rule))
            .or_default()
            .entry(r.outcome.as_str())
            .or_default() += 1;
        *series
            .entry(r.guardrail.clone())
            .or_default()
            .entry(r.time_ms - r.time_ms.rem_euclid(bucket))
            .or_default() += 1;
    }
    let mut by_rule: Vec<Value> = rules
        .into_iter()
        .map(|((guardrail, rule), outcomes)| {
            let hits: u64 = outcomes.values().sum();
            json!({"guardrail": guardrail, "rule": rule, "hits": hits, "outcomes": outcomes})
        })
        .collect();
    by_rule.sort_by_key(|v| std::cmp::Reverse(v["hits"].as_u64().unwrap_or(0)));
    let by_guardrail: Vec<Value> = series
        .into_iter()
        .map(|(guardrail, points)| {
            let hits: u64 = points.values().sum();
            let points: Vec<Value> = points
                .into_iter()
                .map(|(start, hits)| json!({"time": format_time(start), "hits": hits}))
                .collect();
            json!({"guardrail": guardrail, "hits": hits, "series": points})
        })
        .collect();
    Ok(json!({
        "range": range.as_str(),
        "bucket": range.bucket_name(),
        "from": format_time(from),
        "to": format_time(to),
        "rules": by_rule,
        "guardrails": by_guardrail,
        "truncated": truncated,
    }))
}
