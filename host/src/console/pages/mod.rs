//! One module per console page.

pub mod audit;
pub mod budgets;
pub mod guardrails;
pub mod keys;
pub mod login;
pub mod overview;
pub mod requests;
pub mod usage;

use crate::api::admin_range::Range;
use maud::{Markup, html};

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
