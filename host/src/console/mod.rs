//! The web console (`/console`): what the gateway served, spent and caught, in
//! the browser, for platform and security teams.
//!
//! Pages are HTML rendered here, from the same JSON the admin API answers
//! (`/admin/overview`, `/admin/usage`, `/admin/keys`, ...), so every number on
//! a page is scriptable. Charts are SVG drawn on the server ([`chart`]); the
//! one script ([`assets`]) only adds new lines to the live request log. The
//! files are embedded in the binary: `cargo build` is the only build step.
//!
//! Security, in the order a request meets it:
//!
//! 1. [`security_headers`]: a Content-Security-Policy with no inline script
//!    or style, no framing, no referrer to other sites, nothing cached.
//! 2. [`session`]: sign-in with the admin key gives a signed, `HttpOnly`,
//!    `SameSite=Strict` cookie; every form that changes something carries the
//!    session's CSRF token and must come from the console's own origin.
//! 3. [`login_limit`]: wrong admin keys are limited per client address.
//!
//! No page shows a secret: provider keys never reach the console, a gateway
//! key's secret is shown once in the answer that created or rotated it, and
//! the audit trail holds no matched text. Every change made here (and through
//! the admin API) is an `admin` record in the audit trail.
//! Without an admin key the console is off and says how to turn it on.

pub mod assets;
pub mod chart;
mod form;
mod layout;
pub mod login_limit;
mod pages;
pub mod session;

use crate::gateway::Gateway;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// The console's state that outlives a config reload.
#[derive(Debug, Default)]
pub struct State {
    /// Sessions signed out in this process.
    pub ended: session::Ended,
    /// Failed sign-ins per client address.
    pub logins: login_limit::LoginLimit,
}

/// The Content-Security-Policy of every console answer: the console's own
/// script and style files, nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes.
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/console", get(pages::overview::page))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route(
            "/console/login",
            get(pages::login::form).post(pages::login::submit),
        )
        .route("/console/logout", post(pages::login::logout))
        .route("/console/usage", get(pages::usage::page))
        .route("/console/budgets", get(pages::budgets::page))
        .route(
            "/console/keys",
            get(pages::keys::page).post(pages::keys::create),
        )
        .route("/console/keys/{id}/{action}", post(pages::keys::act))
        .route("/console/audit", get(pages::audit::page))
        .route("/console/requests", get(pages::requests::page))
        .route("/console/guardrails", get(pages::guardrails::page))
        .route("/console/assets/{name}", get(assets::serve))
        .layer(middleware::from_fn(security_headers))
}

/// Adds the console's security headers to every answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send
    // `Origin: null` with the console's own forms, which the origin check refuses.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
