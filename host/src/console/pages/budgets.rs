//! Budgets and rate limits: each one's spend or count in its current window
//! against its limit, its period and when it resets (`/admin/budgets`).

use crate::api::admin_budgets::budgets_json;
use crate::clock::now_ms;
use crate::console::chart::meter;
use crate::console::layout::{self, SignedIn, count, dollars};
use crate::gateway::Gateway;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// `GET /console/budgets`.
pub async fn page(State(gateway): State<Arc<Gateway>>, SignedIn(session): SignedIn) -> Response {
    let body = match budgets_json(&gateway, now_ms()).await {
        Ok(view) => render(&view),
        Err(error) => layout::error(&error),
    };
    layout::page("Budgets & limits", "/console/budgets", &session, body)
}

fn amount(metric: &str, value: &Value) -> String {
    let v = value.as_f64().unwrap_or(0.0);
    if metric == "cost" {
        dollars(v)
    } else {
        format!("{} {metric}", count(v))
    }
}

fn render(view: &Value) -> Markup {
    let limits = view["data"].as_array().cloned().unwrap_or_default();
    html! {
        @if limits.is_empty() {
            p { "No budgets or rate limits are configured ([[budgets]], [[rate_limits]] in the config; see docs/governance.md)." }
        } @else {
            table #budgets-table {
                thead { tr { th { "id" } th { "kind" } th { "applies to" } th { "counts" } th { "used" } th { "of" } th {} th { "period" } th { "resets" } } }
                tbody {
                    @for limit in &limits {
                        @let metric = limit["metric"].as_str().unwrap_or("");
                        @let counters = limit["counters"].as_array().cloned().unwrap_or_default();
                        @if counters.is_empty() {
                            tr data-limit=(limit["id"].as_str().unwrap_or("")) {
                                td { (limit["id"].as_str().unwrap_or("")) }
                                td { (limit["kind"].as_str().unwrap_or("").replace('_', " ")) }
                                td { (limit["applies_to"].as_str().unwrap_or("")) }
                                td { (metric) }
                                td.num { "nothing yet" }
                                td.num { (amount(metric, &limit["limit"])) }
                                td { (meter(0.0)) }
                                td { (limit["period"].as_str().unwrap_or("")) }
                                td { (limit["resets_at"].as_str().unwrap_or("").get(..16).unwrap_or("")) "Z" }
                            }
                        }
                        @for c in &counters {
                            tr data-limit=(limit["id"].as_str().unwrap_or("")) {
                                td { (limit["id"].as_str().unwrap_or("")) }
                                td { (limit["kind"].as_str().unwrap_or("").replace('_', " ")) }
                                td {
                                    @let applies = limit["applies_to"].as_str().unwrap_or("");
                                    @if applies.starts_with("each") {
                                        (applies) ": " strong { (c["value"].as_str().unwrap_or("")) }
                                    } @else {
                                        (applies)
                                    }
                                }
                                td { (metric) }
                                td.num { (amount(metric, &c["used"])) }
                                td.num { (amount(metric, &limit["limit"])) }
                                td { (meter(c["fraction"].as_f64().unwrap_or(0.0))) }
                                td { (limit["period"].as_str().unwrap_or("")) }
                                td { (limit["resets_at"].as_str().unwrap_or("").get(..16).unwrap_or("")) "Z" }
                            }
                        }
                    }
                }
            }
        }
    }
}
