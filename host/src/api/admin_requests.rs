//! `GET /admin/requests?after=SEQ&limit=N`: the request log of this process,
//! live: the last requests' lines (the shape of the request log, bodies only
//! when `[request_log] bodies` is on, and then as redacted), oldest first. A
//! script polls with the `last` of one answer as the next `after`.

use super::admin_query::{param, read_view};
use super::error::{ApiError, ErrorKind};
use crate::gateway::Gateway;
use crate::telemetry::recent::KEEP_LINES;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// Lines per answer when the query gives no `limit`.
const DEFAULT_LIMIT: usize = 100;

/// `GET /admin/requests`.
pub async fn requests(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    read_view(&gateway, &headers, query.as_deref(), async |pairs| {
        let number = |name: &str, default: u64| -> Result<u64, ApiError> {
            param(&pairs, name).map_or(Ok(default), |v| {
                v.parse().map_err(|_| {
                    ApiError::new(
                        ErrorKind::InvalidRequest,
                        format!("`{name}`: expected a whole number, got `{v}`"),
                    )
                })
            })
        };
        let after = number("after", 0)?;
        let limit = number("limit", DEFAULT_LIMIT as u64)?.clamp(1, KEEP_LINES as u64) as usize;
        Ok(requests_json(&gateway, after, limit))
    })
    .await
}

/// The lines after `after`, at most `limit`.
pub fn requests_json(gateway: &Gateway, after: u64, limit: usize) -> Value {
    let lines = gateway.recent.lines_after(after, limit);
    let last = lines.last().map_or(after, |(seq, _)| *seq);
    let data: Vec<Value> = lines
        .into_iter()
        .filter_map(|(seq, line)| {
            let mut value: Value = serde_json::from_str(&line).ok()?;
            value["seq"] = json!(seq);
            Some(value)
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "last": last,
        "bodies": gateway.request_log.as_ref().is_some_and(|l| l.bodies()),
        "source": "this gateway process, since it started",
    })
}
