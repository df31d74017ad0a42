//! `GET /admin/budgets`: every budget and rate limit with its counters in the
//! current window: spent or counted against the limit, and when it resets.

use super::admin_query::read_view;
use super::error::{ApiError, ErrorKind};
use crate::clock::{format_time, now_ms};
use crate::gateway::Gateway;
use crate::governance::limits::Kind;
use crate::governance::window::Window;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// `GET /admin/budgets`.
pub async fn budgets(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    read_view(&gateway, &headers, None, async |_| {
        budgets_json(&gateway, now_ms()).await
    })
    .await
}

/// A counter's value in the limit's unit: dollars for cost, else a count.
fn amount(metric: &str, value: i64) -> Value {
    if metric == "cost" {
        json!(value as f64 / 1e9)
    } else {
        json!(value)
    }
}

/// Every limit, with the counters of its current window (a limit on one
/// value shows it even at zero).
pub async fn budgets_json(gateway: &Gateway, now: i64) -> Result<Value, ApiError> {
    let mut data = Vec::new();
    for limit in gateway.governance.limits().iter() {
        let window = Window::of(limit.period, now);
        let (prefix, suffix) = limit.counter_parts(&window);
        let mut counters = gateway
            .governance
            .state()
            .counters(&prefix, &suffix)
            .await
            .map_err(|error| {
                tracing::error!(error = %format!("{error:#}"), "cannot read counters");
                ApiError::new(
                    ErrorKind::Internal,
                    "cannot read the budget counters; the gateway's log says why",
                )
            })?;
        if let Some(only) = limit.only_value() {
            let name = format!("{prefix}{only}{suffix}");
            if !counters.iter().any(|(n, _)| *n == name) {
                counters.push((name, 0));
            }
        }
        let metric = limit.metric_name();
        let values: Vec<Value> = counters
            .iter()
            .map(|(name, value)| {
                let of = &name[prefix.len()..name.len() - suffix.len()];
                json!({
                    "value": of,
                    "used": amount(metric, *value),
                    "fraction": if limit.max > 0 { *value as f64 / limit.max as f64 } else { 1.0 },
                })
            })
            .collect();
        data.push(json!({
            "id": limit.id,
            "kind": match limit.kind { Kind::Budget => "budget", Kind::RateLimit => "rate_limit" },
            "applies_to": limit.describe_scope(),
            "metric": metric,
            "limit": amount(metric, limit.max),
            "period": limit.period.as_str(),
            "window_start": format_time(window.start_ms),
            "resets_at": format_time(window.end_ms),
            "resets_in_s": window.seconds_left(now),
            "counters": values,
        }));
    }
    Ok(json!({"object": "list", "data": data}))
}
