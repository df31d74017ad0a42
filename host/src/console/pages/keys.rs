//! Managed gateway keys: list, create (the secret shown once), rotate, revoke,
//! and change a key's team and scopes, through the operations of
//! `/admin/keys` (the same checks, and an `admin` audit record for each change).

use crate::api::admin_keys::{Answer, Op, run};
use crate::api::error::ApiError;
use crate::audit::admin::Actor;
use crate::console::form::{Form, may_change};
use crate::console::layout::{self, SignedIn};
use crate::console::session::Session;
use crate::gateway::Gateway;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

type Connect = Option<axum::Extension<ConnectInfo<SocketAddr>>>;

/// What to show above the list after an action.
enum Notice {
    None,
    /// A new secret (create, rotate): shown this once.
    Secret(Value),
    /// A change went through.
    Done(String),
    /// It did not.
    Failed(ApiError),
}

/// `GET /console/keys`.
pub async fn page(State(gateway): State<Arc<Gateway>>, SignedIn(session): SignedIn) -> Response {
    render(&gateway, &session, Notice::None).await
}

async fn render(gateway: &Arc<Gateway>, session: &Session, notice: Notice) -> Response {
    let actor = Actor::Session(session.id.clone());
    let list = run(gateway, &actor, None, Op::List).await;
    let body = html! {
        @match &notice {
            Notice::None => {},
            Notice::Secret(key) => {
                div.notice #new-secret role="status" {
                    p { "Gateway key " strong { (key["id"].as_str().unwrap_or("")) } "'s secret. It is shown this once: copy it now." }
                    pre #secret-value { (key["secret"].as_str().unwrap_or("")) }
                }
            },
            Notice::Done(message) => { p.notice role="status" { (message) } },
            Notice::Failed(error) => { (layout::error(error)) },
        }
        (create_form(session))
        @match &list {
            Ok(Answer { json, .. }) => (table(session, json)),
            Err(error) => (layout::error(error)),
        }
    };
    layout::page("Keys", "/console/keys", session, body)
}

fn create_form(session: &Session) -> Markup {
    html! {
        details.create open {
            summary { "Create a key" }
            form #create-key method="post" action="/console/keys" {
                input type="hidden" name="csrf" value=(session.csrf());
                label { "id" input type="text" name="id" placeholder="ci-bot (optional)"; }
                label { "name" input type="text" name="name" placeholder="CI bot"; }
                label { "team" input type="text" name="team" placeholder="platform"; }
                label { "allowed models" input type="text" name="allowed_models" placeholder="@openai/*, claude-* (all when empty)"; }
                label { "allowed providers" input type="text" name="allowed_providers" placeholder="openai (all when empty)"; }
                label { "guardrails" input type="text" name="guardrails" placeholder="pii, secrets (all when empty)"; }
                label { "expires" input type="text" name="expires_at" placeholder="30d or 2027-01-01"; }
                button type="submit" { "Create" }
            }
        }
    }
}

fn list_text(value: &Value) -> String {
    match value.as_array() {
        Some(items) if !items.is_empty() => items
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

fn table(session: &Session, list: &Value) -> Markup {
    let keys = list["data"].as_array().cloned().unwrap_or_default();
    html! {
        table #keys-table {
            thead { tr { th { "id" } th { "name" } th { "team" } th { "status" } th { "secret" } th { "models" } th { "providers" } th { "expires" } th { "actions" } } }
            tbody {
                @for key in &keys {
                    @let id = key["id"].as_str().unwrap_or("");
                    @let status = key["status"].as_str().unwrap_or("");
                    tr data-key=(id) data-status=(status) {
                        td { code { (id) } }
                        td { (key["name"].as_str().unwrap_or("")) }
                        td { (key["team"].as_str().unwrap_or("")) }
                        td { (status) }
                        td { code { (key["prefix"].as_str().unwrap_or("")) "…" } }
                        td { (list_text(&key["allowed_models"])) }
                        td { (list_text(&key["allowed_providers"])) }
                        td { (key["expires_at"].as_str().unwrap_or("never")) }
                        td.actions {
                            @if status == "active" {
                                form method="post" action={ "/console/keys/" (id) "/rotate" } {
                                    input type="hidden" name="csrf" value=(session.csrf());
                                    button type="submit" data-confirm={ "Rotate " (id) "? Its current secret stops working." } { "Rotate" }
                                }
                                form method="post" action={ "/console/keys/" (id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(session.csrf());
                                    button.danger type="submit" name="revoke" value=(id) data-confirm={ "Revoke " (id) " for good?" } { "Revoke" }
                                }
                                details.edit {
                                    summary { "Edit" }
                                    form method="post" action={ "/console/keys/" (id) "/update" } {
                                        input type="hidden" name="csrf" value=(session.csrf());
                                        label { "team" input type="text" name="team" value=(key["team"].as_str().unwrap_or("")); }
                                        label { "allowed models" input type="text" name="allowed_models" value=(list_text(&key["allowed_models"])); }
                                        label { "allowed providers" input type="text" name="allowed_providers" value=(list_text(&key["allowed_providers"])); }
                                        button type="submit" { "Save" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if keys.is_empty() {
                    tr { td colspan="9" { "No managed keys yet (keys in the config's [[keys]] are not listed here)." } }
                }
            }
        }
    }
}

/// A list field as JSON: `null` (no limit) when empty.
fn list_or_null(form: &Form, name: &str) -> Value {
    let items = form.list(name);
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}

/// A form that changes keys, with the request's facts: who, from where, and
/// the headers the origin check reads.
struct Change {
    session: Session,
    headers: HeaderMap,
    client: Option<std::net::IpAddr>,
    form: Form,
}

impl Change {
    fn new(session: Session, headers: HeaderMap, connect: Connect, body: &[u8]) -> Change {
        Change {
            session,
            headers,
            client: connect.map(|c| c.0.0.ip()),
            form: Form::parse(body),
        }
    }

    /// Checks the form (same origin, the session's CSRF token), runs `op` and
    /// shows the list with what happened, as `done` says it.
    async fn run(
        self,
        gateway: &Arc<Gateway>,
        op: Op,
        done: impl FnOnce(&Value) -> Notice,
    ) -> Response {
        if !may_change(&self.session, &self.headers, &self.form) {
            return (
                StatusCode::FORBIDDEN,
                "refused: the form's CSRF token is wrong or missing, or it came from another site\n",
            )
                .into_response();
        }
        let actor = Actor::Session(self.session.id.clone());
        let notice = match run(gateway, &actor, self.client, op).await {
            Ok(answer) => done(&answer.json),
            Err(error) => Notice::Failed(error),
        };
        render(gateway, &self.session, notice).await
    }
}

/// `POST /console/keys`: creates a key.
pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    SignedIn(session): SignedIn,
    connect: Connect,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let change = Change::new(session, headers, connect, &body);
    let form = &change.form;
    let mut fields = Map::new();
    for name in ["id", "name", "team", "expires_at"] {
        if let Some(value) = form.get(name) {
            fields.insert(name.into(), json!(value));
        }
    }
    for name in ["allowed_models", "allowed_providers", "guardrails"] {
        if form.get(name).is_some() {
            fields.insert(name.into(), list_or_null(form, name));
        }
    }
    let op = Op::Create(Bytes::from(Value::Object(fields).to_string()));
    change
        .run(&gateway, op, |key| Notice::Secret(key.clone()))
        .await
}

/// `POST /console/keys/{id}/{action}`: `rotate`, `revoke`, or `update` (the
/// key's team and scopes).
pub async fn act(
    State(gateway): State<Arc<Gateway>>,
    SignedIn(session): SignedIn,
    connect: Connect,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let change = Change::new(session, headers, connect, &body);
    let said = |verb: &'static str| {
        move |key: &Value| Notice::Done(format!("{verb} {}.", key["id"].as_str().unwrap_or("")))
    };
    match action.as_str() {
        "rotate" => {
            change
                .run(&gateway, Op::Rotate(id), |key| Notice::Secret(key.clone()))
                .await
        }
        "revoke" => change.run(&gateway, Op::Revoke(id), said("Revoked")).await,
        "update" => {
            let form = &change.form;
            let fields = json!({
                "team": form.get("team"),
                "allowed_models": list_or_null(form, "allowed_models"),
                "allowed_providers": list_or_null(form, "allowed_providers"),
            });
            let op = Op::Update(id, Bytes::from(fields.to_string()));
            change.run(&gateway, op, said("Saved")).await
        }
        _ => (StatusCode::NOT_FOUND, "no such key action\n").into_response(),
    }
}
