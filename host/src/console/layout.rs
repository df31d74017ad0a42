//! The frame of every console page: the navigation, the sign-out form, the
//! page that says the console is off, and the door every page passes.

use super::session::{self, Session};
use crate::api::error::ApiError;
use crate::gateway::Gateway;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use std::sync::Arc;

/// The pages, as the navigation lists them: path, title.
const PAGES: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/usage", "Usage & cost"),
    ("/console/budgets", "Budgets & limits"),
    ("/console/keys", "Keys"),
    ("/console/audit", "Audit"),
    ("/console/requests", "Requests"),
    ("/console/guardrails", "Guardrails & providers"),
];

/// The session of a page's request: every console page takes it. Without
/// one, the page answers with the sign-in page, or, without an admin key, with
/// the page that says the console is off.
pub struct SignedIn(pub Session);

impl FromRequestParts<Arc<Gateway>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, Response> {
        if !gateway.admin_key.is_set() {
            return Err(off());
        }
        session::current(gateway, &parts.headers, crate::clock::now_ms())
            .map(SignedIn)
            .ok_or_else(|| Redirect::to("/console/login").into_response())
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · sluice" }
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/console.js" defer {}
        }
    }
}

/// A page of the signed-in console.
pub fn page(title: &str, path: &str, session: &Session, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
        (head(title))
        body {
            header.top {
                a.brand href="/console" { "sluice" }
                nav {
                    @for (href, name) in PAGES {
                        @if *href == path {
                            a.active href=(href) aria-current="page" { (name) }
                        } @else {
                            a href=(href) { (name) }
                        }
                    }
                }
                form.signout method="post" action="/console/logout" {
                    input type="hidden" name="csrf" value=(session.csrf());
                    button type="submit" { "Sign out" }
                }
            }
            main data-csrf=(session.csrf()) {
                h1 { (title) }
                (body)
            }
        }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page outside the signed-in console (sign-in, console off).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main.narrow {
                    h1 { "sluice console" }
                    (body)
                }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

/// The console without an admin key: off, and how to turn it on.
pub fn off() -> Response {
    bare(
        StatusCode::NOT_FOUND,
        "Console off",
        html! {
            p #console-off { "The console is off: this gateway has no admin key." }
            p { "Turn it on with an admin key of at least 16 characters, then sign in with it here:" }
            pre { "export SLUICE_ADMIN_KEY=$(openssl rand -hex 24)\necho $SLUICE_ADMIN_KEY   # keep it: you sign in with it\ncargo run --release -- serve" }
            p { "or, in the config file:" }
            pre { "[admin]\nkey = \"${SLUICE_ADMIN_KEY}\"" }
            p { "See docs/console.md." }
        },
    )
}

/// An error from the admin API, shown on a page.
pub fn error(error: &ApiError) -> Markup {
    html! { p.error role="alert" { (error.message) } }
}

/// A number with thousands separators.
pub fn count(n: f64) -> String {
    let whole = n.round() as i64;
    let digits = whole.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if whole < 0 { format!("-{out}") } else { out }
}

/// Dollars: `$12.34`, or more digits for small amounts.
pub fn dollars(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 0.01 {
        format!("${usd:.6}")
    } else {
        format!("${usd:.2}")
    }
}

/// Milliseconds, or `–` when unknown.
pub fn millis(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms >= 1000.0 => format!("{:.2} s", ms / 1000.0),
        Some(ms) if ms >= 10.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{ms:.2} ms"),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(1234567.0), "1,234,567");
        assert_eq!(count(12.0), "12");
        assert_eq!(dollars(0.00105), "$0.001050");
        assert_eq!(dollars(12.5), "$12.50");
        assert_eq!(millis(Some(0.42)), "0.42 ms");
        assert_eq!(millis(None), "–");
    }
}
