//! Guardrails and providers: hits per guardrail and rule over time (from the
//! audit trail, `/admin/guardrails`), and per provider its latency, errors and
//! circuit state (`/admin/providers`).

use super::overview::series;
use super::range_links;
use crate::api::admin_guardrails::guardrails_json;
use crate::api::admin_overview::providers_json;
use crate::api::admin_query::{Range, pairs, param};
use crate::clock::now_ms;
use crate::console::chart;
use crate::console::layout::{self, SignedIn, count, millis};
use crate::gateway::Gateway;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// `GET /console/guardrails?range=24h`.
pub async fn page(
    State(gateway): State<Arc<Gateway>>,
    SignedIn(session): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let range = match Range::parse(param(&pairs(query.as_deref()), "range")) {
        Ok(range) => range,
        Err(error) => {
            return layout::page(
                "Guardrails & providers",
                "/console/guardrails",
                &session,
                layout::error(&error),
            );
        }
    };
    let now = now_ms();
    let hits = guardrails_json(&gateway, range, now).await;
    let providers = providers_json(&gateway, range, now);
    let body = html! {
        (range_links("/console/guardrails", range))
        h2 { "Guardrails" }
        @match &hits {
            Ok(view) => (guardrails(view, range)),
            Err(error) => (layout::error(error)),
        }
        h2 { "Providers" }
        (provider_table(&providers))
    };
    layout::page(
        "Guardrails & providers",
        "/console/guardrails",
        &session,
        body,
    )
}

fn guardrails(view: &Value, range: Range) -> Markup {
    let per_guardrail: Vec<(&str, Vec<chart::Point>)> = view["guardrails"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["guardrail"].as_str().unwrap_or(""),
                series(&g["series"], "hits", range),
            )
        })
        .collect();
    let rules = view["rules"].as_array().cloned().unwrap_or_default();
    html! {
        (chart::lines("guardrail-hits", "Hits per guardrail", &per_guardrail, &|v| count(v)))
        table #rules-table {
            thead { tr { th { "guardrail" } th { "rule" } th { "hits" } th { "flag" } th { "redact" } th { "block" } th { "failures" } } }
            tbody {
                @for r in &rules {
                    @let o = &r["outcomes"];
                    tr {
                        td { (r["guardrail"].as_str().unwrap_or("")) }
                        td { code { (r["rule"].as_str().unwrap_or("")) } }
                        td.num { (r["hits"]) }
                        td.num { (o["flag"].as_u64().unwrap_or(0)) }
                        td.num { (o["redact"].as_u64().unwrap_or(0)) }
                        td.num { (o["block"].as_u64().unwrap_or(0)) }
                        td.num { (o["fail-open"].as_u64().unwrap_or(0) + o["fail-closed"].as_u64().unwrap_or(0)) }
                    }
                }
                @if rules.is_empty() {
                    tr { td colspan="7" { "Nothing caught in this range." } }
                }
            }
        }
        @if view["truncated"].as_bool() == Some(true) {
            p.notice { "More events than one view reads: counts are of the first 200,000." }
        }
    }
}

fn provider_table(view: &Value) -> Markup {
    let providers = view["data"].as_array().cloned().unwrap_or_default();
    html! {
        p.source { "Latency and errors: this gateway process since it started." }
        table #providers-table {
            thead { tr { th { "provider" } th { "requests" } th { "errors" } th { "p50" } th { "p99" } th { "circuit" } } }
            tbody {
                @for p in &providers {
                    tr data-provider=(p["provider"].as_str().unwrap_or("")) {
                        td { (p["provider"].as_str().unwrap_or("")) }
                        td.num { (p["requests"]) }
                        td.num { (p["errors"]) }
                        td.num { (millis(p["p50_ms"].as_f64())) }
                        td.num { (millis(p["p99_ms"].as_f64())) }
                        td {
                            @if p["circuit"].as_str() == Some("open") {
                                span.action.block { "open: " (p["open_circuits"].as_array().map(|a| a.iter().filter_map(|t| t.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                            } @else {
                                "closed"
                            }
                        }
                    }
                }
            }
        }
    }
}
