//! One module per console page.

pub mod audit;
pub mod budgets;
pub mod guardrails;
pub mod keys;
pub mod login;
pub mod overview;
pub mod requests;
pub mod usage;

use crate::api::admin_query::Range;
use maud::{Markup, html};

/// A filter form's fields: name, label, hint.
type Fields = &'static [(&'static str, &'static str, &'static str)];

/// A page's filters: the query's non-empty fields (but `format`), with
/// `defaults` for those not given, and the same as a query string for the
/// admin API.
fn filters_of(query: Option<String>, defaults: &[(&str, &str)]) -> (Vec<(String, String)>, String) {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .filter(|(k, v)| !v.trim().is_empty() && k != "format")
            .collect();
    for (name, default) in defaults {
        if !pairs.iter().any(|(k, _)| k == name) {
            pairs.push((name.to_string(), default.to_string()));
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    (pairs, query)
}

/// A form of text fields that reloads page `action` (a GET) with them, filled
/// in from `pairs`.
fn filter_form(
    id: &str,
    action: &str,
    fields: Fields,
    pairs: &[(String, String)],
    button: &str,
) -> Markup {
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    html! {
        form.filters id=(id) method="get" action=(action) {
            @for (name, label, hint) in fields {
                label { (label) input type="text" name=(name) value=(value(name)) placeholder=(hint); }
            }
            button type="submit" { (button) }
            a href=(action) { "clear" }
        }
    }
}

/// The range links of a page at `path`, `current` marked.
fn range_links(path: &str, current: Range) -> Markup {
    html! {
        nav.ranges aria-label="range" {
            @for range in Range::ALL {
                @if range == current {
                    a.active href={ (path) "?range=" (range.as_str()) } { "last " (range.as_str()) }
                } @else {
                    a href={ (path) "?range=" (range.as_str()) } { "last " (range.as_str()) }
                }
            }
        }
    }
}
