//! Sign-in with the admin key, and sign-out.

use crate::audit::admin::{Actor, record};
use crate::clock::now_ms;
use crate::console::form::{Form, same_origin};
use crate::console::layout;
use crate::console::session::{self, Session};
use crate::gateway::Gateway;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// `GET /console/login`.
pub async fn form(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if !gateway.admin_key.is_set() {
        return layout::off();
    }
    if session::current(&gateway, &headers, now_ms()).is_some() {
        return Redirect::to("/console").into_response();
    }
    sign_in_page(StatusCode::OK, None)
}

fn sign_in_page(status: StatusCode, problem: Option<&str>) -> Response {
    layout::bare(
        status,
        "Sign in",
        html! {
            @if let Some(problem) = problem {
                p.error #login-error role="alert" { (problem) }
            }
            form.login method="post" action="/console/login" {
                label for="admin_key" { "Admin key" }
                input #admin_key type="password" name="admin_key" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
            p.hint { "The admin key is the gateway's " code { "[admin] key" } " (or " code { "SLUICE_ADMIN_KEY" } "). A session lasts 8 hours." }
        },
    )
}

/// The client's address (the socket's; `0.0.0.0` in-process, without one).
fn client(connect: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    connect.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// `POST /console/login`: the admin key, in exchange for a session.
pub async fn submit(
    State(gateway): State<Arc<Gateway>>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !gateway.admin_key.is_set() {
        return layout::off();
    }
    if !same_origin(&headers) {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            Some("This sign-in came from another site."),
        );
    }
    let now = now_ms();
    let client = client(connect.as_ref().map(|c| &c.0));
    if let Err(seconds) = gateway.console.logins.check(client, now) {
        let mut response = sign_in_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many wrong admin keys from this address; try again in {seconds} s."
            )),
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let form = Form::parse(&body);
    let presented = form.get("admin_key").unwrap_or("");
    if !gateway.admin_key.matches(presented) {
        gateway.console.logins.failed(client, now);
        tracing::warn!(%client, "console sign-in refused: wrong admin key");
        return sign_in_page(StatusCode::UNAUTHORIZED, Some("That is not the admin key."));
    }
    gateway.console.logins.succeeded(client);
    let key = gateway
        .admin_key
        .session_key()
        .expect("an admin key is set");
    let (session, token) = match Session::issue(key, now) {
        Ok(issued) => issued,
        Err(e) => {
            tracing::error!(error = %e, "no random source for a console session");
            return sign_in_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("The gateway could not start a session; its log says why."),
            );
        }
    };
    audit(
        &gateway,
        &Actor::Session(session.id.clone()),
        "console.sign-in",
        client,
        now,
    );
    let mut response = Redirect::to("/console").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&token, &headers)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /console/logout`.
pub async fn logout(
    State(gateway): State<Arc<Gateway>>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = now_ms();
    if let Some(session) = session::current(&gateway, &headers, now) {
        let form = Form::parse(&body);
        if !crate::console::form::may_change(&session, &headers, &form) {
            return (
                StatusCode::FORBIDDEN,
                "sign-out refused: wrong or missing CSRF token\n",
            )
                .into_response();
        }
        gateway.console.ended.end(&session, now);
        let client = client(connect.as_ref().map(|c| &c.0));
        audit(
            &gateway,
            &Actor::Session(session.id),
            "console.sign-out",
            client,
            now,
        );
    }
    let mut response = Redirect::to("/console/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie(&headers)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn audit(gateway: &Gateway, actor: &Actor, action: &str, client: IpAddr, now: i64) {
    if let Some(log) = &gateway.audit {
        log.append(vec![record(actor, action, None, Some(client), now)]);
    }
}
