//! Usage and cost by team, key, model, provider or metadata tag over a chosen
//! range (`/admin/usage`, the numbers of `sluice usage`), with CSV export.

use super::{Fields, filter_form, filters_of};
use crate::api::admin::usage_report_response;
use crate::console::chart;
use crate::console::layout::{self, SignedIn, dollars};
use crate::gateway::Gateway;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http_body_util::BodyExt;
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// The fields of the form, all passed on to `/admin/usage` as they are.
const FIELDS: Fields = &[
    ("since", "Since", "2026-11-22 or 7d"),
    ("until", "Until", "now"),
    ("by", "Group by", "team, key, model, provider, tag:NAME"),
    ("per", "Per", "hour, day or all"),
    ("team", "Team", "any"),
    ("key", "Key", "any"),
    ("model", "Model", "any"),
    ("provider", "Provider", "any"),
    ("tag", "Tag", "name=value"),
];

/// `GET /console/usage?since=...&by=team&per=day`.
pub async fn page(
    State(gateway): State<Arc<Gateway>>,
    SignedIn(session): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    // The defaults: today (UTC), by team, per day.
    let today = crate::clock::format_time(crate::clock::now_ms())[..10].to_string();
    let (pairs, query) = filters_of(query, &[("since", &today), ("by", "team"), ("per", "day")]);
    let report = match usage_report_response(&gateway, &query).await {
        Ok(response) => {
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
        }
        Err(error) => {
            return layout::page(
                "Usage & cost",
                "/console/usage",
                &session,
                html! {
                    (filter_form("usage-filters", "/console/usage", FIELDS, &pairs, "Show")) (layout::error(&error))
                },
            );
        }
    };
    let body = html! {
        (filter_form("usage-filters", "/console/usage", FIELDS, &pairs, "Show"))
        p { a.button #csv-export href={ "/admin/usage?" (query) "&format=csv" } download="usage.csv" { "Export CSV" } }
        (table_and_chart(&report))
    };
    layout::page("Usage & cost", "/console/usage", &session, body)
}

fn table_and_chart(report: &Value) -> Markup {
    let columns: Vec<String> = report["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    let rows = report["rows"].as_array().cloned().unwrap_or_default();
    let groups: Vec<&String> = columns
        .iter()
        .filter(|c| {
            !matches!(c.as_str(), "period")
                && !c.ends_with("tokens")
                && !c.ends_with("requests")
                && *c != "cost_usd"
        })
        .collect();
    let mut by_group: Vec<(String, f64, String)> = Vec::new();
    for row in &rows {
        let name: Vec<String> = groups
            .iter()
            .map(|g| {
                row[g.as_str()]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("(none)")
                    .to_string()
            })
            .collect();
        let name = name.join(" · ");
        let cost = row["cost_usd"].as_f64().unwrap_or(0.0);
        match by_group.iter_mut().find(|g| g.0 == name) {
            Some(entry) => entry.1 += cost,
            None => by_group.push((name, cost, String::new())),
        }
    }
    by_group.sort_by(|a, b| b.1.total_cmp(&a.1));
    for entry in &mut by_group {
        entry.2 = dollars(entry.1);
    }
    html! {
        (chart::ranking("cost-by-group", "Cost by group", &by_group))
        table #usage-table {
            thead { tr { @for c in &columns { th { (c) } } } }
            tbody {
                @for row in &rows {
                    tr {
                        @for c in &columns {
                            @let cell = &row[c.as_str()];
                            @if c == "cost_usd" {
                                td.num { (dollars(cell.as_f64().unwrap_or(0.0))) }
                            } @else if let Some(text) = cell.as_str() {
                                td { (text) }
                            } @else {
                                td.num { (cell.to_string()) }
                            }
                        }
                    }
                }
                @if rows.is_empty() {
                    tr { td colspan=(columns.len().max(1)) { "No usage in this range." } }
                }
            }
        }
    }
}
