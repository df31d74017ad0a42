//! The request log, live: the last requests of this process, with their route,
//! retries, fallback, guardrail decisions and timings, and their bodies (as
//! redacted) when body logging is on. The console's script asks
//! `/admin/requests?after=LAST` every two seconds and adds new lines on top.

use crate::api::admin_requests::requests_json;
use crate::console::layout::{self, SignedIn};
use crate::gateway::Gateway;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use std::sync::Arc;

/// Lines shown when the page opens.
const SHOWN: usize = 100;

/// `GET /console/requests`.
pub async fn page(State(gateway): State<Arc<Gateway>>, SignedIn(session): SignedIn) -> Response {
    let view = requests_json(&gateway, 0, SHOWN);
    let lines: Vec<Value> = view["data"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p.source {
            "This gateway process's last requests, newest first; new ones appear as they finish. "
            @if view["bodies"].as_bool() == Some(true) {
                "Bodies are logged ([request_log] bodies = true) and shown as sent upstream, after redaction."
            } @else {
                "Bodies are not logged ([request_log] bodies = false)."
            }
        }
        table #requests-table data-last=(view["last"].as_u64().unwrap_or(0)) {
            thead { tr { th { "time" } th { "request" } th { "key" } th { "team" } th { "model" } th { "status" } th { "tokens" } th { "duration" } th { "overhead" } th { "guardrails" } } }
            tbody #requests-body {
                @for line in lines.iter().rev() {
                    (row(line))
                }
            }
        }
    };
    layout::page("Requests", "/console/requests", &session, body)
}

/// The text of a JSON field, or `–`.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One line as a table row and its details (the script builds the same shape).
fn row(line: &Value) -> Markup {
    let guardrails: Vec<String> = line["guardrails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["action"].as_str() != Some("allow"))
        .map(|g| {
            format!(
                "{} {} ({})",
                text(&g["guardrail"]),
                text(&g["action"]),
                text(&g["phase"])
            )
        })
        .collect();
    let tokens = match (
        line["input_tokens"].as_u64(),
        line["output_tokens"].as_u64(),
    ) {
        (Some(i), Some(o)) => format!("{i} / {o}"),
        _ => "–".into(),
    };
    html! {
        tr.request data-request=(text(&line["request_id"])) data-status=(text(&line["status"])) {
            td { (text(&line["time"]).get(11..19).unwrap_or("")) }
            td { code { (text(&line["request_id"])) } }
            td { (text(&line["key_id"])) }
            td { (text(&line["team"])) }
            td { (text(&line["model"])) }
            td.num { (text(&line["status"])) }
            td.num { (tokens) }
            td.num { (format!("{:.1} ms", line["duration_ms"].as_f64().unwrap_or(0.0))) }
            td.num { (format!("{:.2} ms", line["overhead_ms"].as_f64().unwrap_or(0.0))) }
            td { (if guardrails.is_empty() { "–".to_string() } else { guardrails.join(", ") }) }
        }
        tr.details {
            td colspan="10" {
                details {
                    summary { "route, retries, guardrails, timings" }
                    pre { (serde_json::to_string_pretty(line).unwrap_or_default()) }
                }
            }
        }
    }
}
