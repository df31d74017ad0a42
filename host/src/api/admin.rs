//! The admin API, for operators and security teams, behind the admin key (never
//! a gateway key) or a console session ([`crate::console::session::authorize`]).
//! Errors use the OpenAI error shape.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/audit` | audit records, filtered like `sluice audit`, oldest first, paginated |
//! | `GET /admin/audit/verify` | the hash chain's status, like `sluice audit verify` |
//! | `GET /admin/usage` | usage and cost totals, grouped like `sluice usage`, as JSON or CSV |

use super::error::{Api, ApiError, ErrorKind};
use crate::audit::{AuditLog, Filter, now_ms, report};
use crate::console::session::{Access, authorize};
use crate::gateway::Gateway;
use crate::governance::report::{self as usage_report, UsageQuery};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// Records per page when the query gives no `limit`.
const DEFAULT_PAGE: u64 = 100;
/// The largest `limit` a page may ask for.
const MAX_PAGE: u64 = 1000;

/// `GET /admin/audit?since=1h&rule=secrets.github-pat&tag=team=a&after=120&limit=50`
///
/// Answers `{"object": "list", "data": [record, ...], "has_more": bool,
/// "next_after": seq}`; pass `next_after` as `after` for the next page.
pub async fn audit(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let page = match authorize(&gateway, &headers, Access::Read) {
        Ok(_) => audit_page(&gateway, query.as_deref().unwrap_or("")).await,
        Err(error) => Err(error),
    };
    match page {
        Ok(page) => Json(page).into_response(),
        Err(error) => error.render(Api::OpenAi),
    }
}

/// The page of audit records that `query` (the `/admin/audit` parameters) selects.
pub async fn audit_page(gateway: &Gateway, query: &str) -> Result<serde_json::Value, ApiError> {
    let invalid = |message: String| ApiError::new(ErrorKind::InvalidRequest, message);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut filter = Filter::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        now_ms(),
    )
    .map_err(invalid)?;
    let page = filter.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(invalid(format!(
            "`limit`: between 1 and {MAX_PAGE}, got {page}"
        )));
    }
    // One more than the page, to know whether another page follows.
    filter.limit = Some(page + 1);
    let mut rows = read_trail(gateway, move |log| log.query(&filter)).await?;
    let has_more = rows.len() as u64 > page;
    rows.truncate(page as usize);
    Ok(json!({
        "object": "list",
        "data": rows.iter().map(|(seq, r)| report::to_json(*seq, r)).collect::<Vec<_>>(),
        "has_more": has_more,
        "next_after": rows.last().map(|(seq, _)| *seq),
    }))
}

/// `GET /admin/usage?since=7d&by=team,tag:project&per=day&format=csv`
///
/// Answers `{"columns": [...], "rows": [{column: value, ...}, ...]}`, or CSV
/// with `format=csv`. Parameters are those of `sluice usage`.
pub async fn usage(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let report = match authorize(&gateway, &headers, Access::Read) {
        Ok(_) => usage_report_response(&gateway, query.as_deref().unwrap_or("")).await,
        Err(error) => Err(error),
    };
    match report {
        Ok(response) => response,
        Err(error) => error.render(Api::OpenAi),
    }
}

/// `GET /admin/audit/verify`: `{"ok": true, "records": N}`, or `{"ok": false,
/// "broken_at": seq, "what": "..."}` naming the first record whose link does
/// not hold.
pub async fn audit_verify(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    super::admin_query::read_view(&gateway, &headers, None, async |_| {
        verify_json(&gateway).await
    })
    .await
}

/// The chain's status, as `/admin/audit/verify` answers it.
pub async fn verify_json(gateway: &Gateway) -> Result<serde_json::Value, ApiError> {
    Ok(match read_trail(gateway, |log| log.verify()).await? {
        Ok(records) => json!({"ok": true, "records": records}),
        Err(problem) => json!({"ok": false, "broken_at": problem.seq, "what": problem.what}),
    })
}

/// Runs `read` on the audit trail off the async workers; a 404 when the trail
/// is off, a 500 (the cause in the log) when it cannot be read.
pub async fn read_trail<T: Send + 'static>(
    gateway: &Gateway,
    read: impl FnOnce(&AuditLog) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let Some(log) = gateway.audit.clone() else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "the audit trail is off ([audit] enabled = false)",
        ));
    };
    tokio::task::spawn_blocking(move || read(&log))
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .and_then(|r| r)
        .map_err(|error| {
            tracing::error!(error = %format!("{error:#}"), "cannot read the audit trail");
            ApiError::new(
                ErrorKind::Internal,
                "cannot read the audit trail; the gateway's log says why",
            )
        })
}

/// The usage report that `query` (the `/admin/usage` parameters) asks for, as
/// JSON or CSV.
pub async fn usage_report_response(gateway: &Gateway, query: &str) -> Result<Response, ApiError> {
    let invalid = |message: String| ApiError::new(ErrorKind::InvalidRequest, message);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let csv = match pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(invalid(format!("`format`: json or csv, got `{other}`"))),
    };
    let query = UsageQuery::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        now_ms(),
    )
    .map_err(invalid)?;
    let (from, to) = query.hours();
    let rows = gateway.governance.usage(from, to).await.map_err(|error| {
        tracing::error!(error = %format!("{error:#}"), "cannot read usage");
        ApiError::new(
            ErrorKind::Internal,
            "cannot read usage; the gateway's log says why",
        )
    })?;
    let report = usage_report::group(&query, rows);
    if csv {
        let mut response = usage_report::to_csv(&query, &report).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(response);
    }
    Ok(Json(usage_report::to_json(&query, &report)).into_response())
}
