//! The audit trail: flagged, redacted and blocked events and administrators'
//! actions, with the filters of `sluice audit` (`/admin/audit`), a request's
//! events together, and the hash chain's status (`/admin/audit/verify`). The
//! trail holds no matched text; neither does this page.

use super::{Fields, filter_form, filters_of};
use crate::api::admin::{audit_page, verify_json};
use crate::console::layout::{self, SignedIn};
use crate::gateway::Gateway;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// The filters, as `sluice audit` names them.
const FILTERS: Fields = &[
    ("since", "since", "1h, 7d, 2026-11-22"),
    ("until", "until", "now"),
    ("key", "key", "key id"),
    ("team", "team", "team"),
    ("tag", "tag", "name=value"),
    ("plugin", "plugin", "guardrail id"),
    ("rule", "rule", "secrets.github-pat"),
    ("kind", "kind", "email, secret"),
    (
        "action",
        "action",
        "flag, redact, block, fail-open, fail-closed, admin",
    ),
    ("request", "request", "request id"),
];

/// `GET /console/audit?action=block&since=1h`.
pub async fn page(
    State(gateway): State<Arc<Gateway>>,
    SignedIn(session): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let (wanted, query) = filters_of(query, &[("since", "7d")]);
    let verified = verify_json(&gateway).await;
    let body = html! {
        @match &verified {
            Ok(v) if v["ok"].as_bool() == Some(true) => {
                p.notice #chain-status data-ok="true" { "Hash chain verified: " (v["records"]) " records, every link holds." }
            },
            Ok(v) => {
                p.error #chain-status data-ok="false" role="alert" { "The hash chain is broken at record " (v["broken_at"]) ": " (v["what"].as_str().unwrap_or("")) }
            },
            Err(error) => (layout::error(error)),
        }
        (filter_form("audit-filters", "/console/audit", FILTERS, &wanted, "Filter"))
        @match audit_page(&gateway, &query).await {
            Ok(page) => (table(&page, &wanted)),
            Err(error) => (layout::error(&error)),
        }
    };
    layout::page("Audit", "/console/audit", &session, body)
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(page: &Value, pairs: &[(String, String)]) -> Markup {
    let records = page["data"].as_array().cloned().unwrap_or_default();
    let next: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "after")
        .cloned()
        .chain(
            page["next_after"]
                .as_i64()
                .map(|n| ("after".to_string(), n.to_string())),
        )
        .collect();
    html! {
        table #audit-table {
            thead { tr { th { "time" } th { "request" } th { "key" } th { "team" } th { "phase" } th { "guardrail" } th { "rule" } th { "kind" } th { "action" } th { "where" } th { "match" } } }
            tbody {
                @for r in &records {
                    @let request = cell(&r["request_id"]);
                    tr data-action=(cell(&r["outcome"])) data-request=(request) {
                        td { (cell(&r["time"]).get(..19).unwrap_or("")) }
                        td { a href={ "/console/audit?request=" (request) } { code { (request) } } }
                        td { (cell(&r["key_id"])) }
                        td { (cell(&r["team"])) }
                        td { (cell(&r["phase"])) }
                        td { (cell(&r["guardrail"])) }
                        td { (cell(&r["rule"])) }
                        td { (cell(&r["kind"])) }
                        td { span class={ "action " (cell(&r["outcome"])) } { (cell(&r["outcome"])) } }
                        td { (cell(&r["segment"])) }
                        td {
                            @if let Some(chars) = r["excerpt"]["chars"].as_u64() {
                                (chars) " chars, hash " code { (cell(&r["excerpt"]["hash"])) }
                            } @else {
                                (cell(&r["failure"]))
                            }
                        }
                    }
                }
                @if records.is_empty() {
                    tr { td colspan="11" { "No events match." } }
                }
            }
        }
        @if page["has_more"].as_bool() == Some(true) {
            p { a href={ "/console/audit?" (form_urlencoded::Serializer::new(String::new()).extend_pairs(&next).finish()) } { "Next page →" } }
        }
    }
}
