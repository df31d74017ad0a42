//! The overview: requests, errors, latency and gateway overhead, tokens and
//! cost over time, and the top teams, keys and models (`/admin/overview`).

use super::range_links;
use crate::api::admin_overview::overview_json;
use crate::api::admin_query::{Range, pairs, param};
use crate::clock::now_ms;
use crate::console::chart::{self, Point};
use crate::console::layout::{self, SignedIn, count, dollars, millis};
use crate::gateway::Gateway;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// `GET /console`.
pub async fn page(
    State(gateway): State<Arc<Gateway>>,
    SignedIn(session): SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let body = match Range::parse(param(&pairs(query.as_deref()), "range")) {
        Err(error) => layout::error(&error),
        Ok(range) => match overview_json(&gateway, range, now_ms()).await {
            Ok(view) => render(range, &view),
            Err(error) => layout::error(&error),
        },
    };
    layout::page("Overview", "/console", &session, body)
}

/// A series of one field of `points`, labelled by time (`HH:MM` or the date);
/// a missing value (a percentile of an empty bucket) is NaN, which charts skip.
pub(crate) fn series(points: &Value, field: &str, range: Range) -> Vec<Point> {
    points
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let time = p["time"].as_str().unwrap_or("");
            let label = match range {
                Range::Month => time.get(..10).unwrap_or(time),
                _ => time.get(11..16).unwrap_or(time),
            };
            (label.to_string(), p[field].as_f64().unwrap_or(f64::NAN))
        })
        .collect()
}

fn tile(id: &str, label: &str, value: String) -> Markup {
    html! {
        div.tile id=(id) {
            span.label { (label) }
            span.value { (value) }
        }
    }
}

fn ranking(name: &str, title: &str, entries: &Value) -> Markup {
    let items: Vec<(String, f64, String)> = entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let cost = e["cost_usd"].as_f64().unwrap_or(0.0);
            let requests = e["requests"].as_f64().unwrap_or(0.0);
            (
                e["name"].as_str().unwrap_or("").to_string(),
                if cost > 0.0 { cost } else { requests },
                format!("{} · {} req", dollars(cost), count(requests)),
            )
        })
        .collect();
    chart::ranking(name, title, &items)
}

fn render(range: Range, view: &Value) -> Markup {
    let traffic = &view["traffic"];
    let usage = &view["usage"];
    let requests = traffic["requests"].as_f64().unwrap_or(0.0);
    let errors = traffic["errors"].as_f64().unwrap_or(0.0);
    let error_rate = if requests > 0.0 {
        errors / requests * 100.0
    } else {
        0.0
    };
    let number = |v: f64| count(v);
    let ms = |v: f64| millis(Some(v));
    html! {
        (range_links("/console", range))
        section.tiles {
            (tile("tile-requests", "Requests", count(requests)))
            (tile("tile-errors", "Errors", format!("{} ({error_rate:.1}%)", count(errors))))
            (tile("tile-p50", "Latency p50", millis(traffic["p50_ms"].as_f64())))
            (tile("tile-p99", "Latency p99", millis(traffic["p99_ms"].as_f64())))
            (tile("tile-overhead", "Gateway overhead p99", millis(traffic["overhead_p99_ms"].as_f64())))
            (tile("tile-tokens", "Tokens", count(usage["tokens"].as_f64().unwrap_or(0.0))))
            (tile("tile-cost", "Cost", dollars(usage["cost_usd"].as_f64().unwrap_or(0.0))))
        }
        p.source { "Requests, errors and latency: this gateway process since it started. Tokens and cost: the state store. Times in UTC, per " (view["bucket"].as_str().unwrap_or("")) "." }
        section.grid {
            (chart::columns("requests", "Requests", &series(&traffic["series"], "requests", range), &number))
            (chart::columns("errors", "Errors", &series(&traffic["series"], "errors", range), &number))
            (chart::lines("latency", "Latency", &[
                ("p50", series(&traffic["series"], "p50_ms", range)),
                ("p99", series(&traffic["series"], "p99_ms", range)),
                ("overhead p99", series(&traffic["series"], "overhead_p99_ms", range)),
            ], &ms))
            (chart::columns("tokens", "Tokens", &series(&usage["series"], "tokens", range), &number))
            (chart::columns("cost", "Cost", &series(&usage["series"], "cost_usd", range), &|v| dollars(v)))
        }
        section.grid {
            (ranking("top-teams", "Top teams", &usage["top_teams"]))
            (ranking("top-keys", "Top keys", &usage["top_keys"]))
            (ranking("top-models", "Top models", &usage["top_models"]))
        }
    }
}
