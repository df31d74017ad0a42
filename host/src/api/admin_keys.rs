//! The admin API for managed gateway keys, behind the admin key. Errors use
//! the OpenAI error shape; a bad field is a 400 that names it, an unknown id a 404.
//!
//! | route | what |
//! |---|---|
//! | `POST /admin/keys` | create a key; the answer holds its secret, the only time it is shown |
//! | `GET /admin/keys` | every key, revoked ones included (never a secret or hash) |
//! | `GET /admin/keys/{id}` | one key |
//! | `PATCH /admin/keys/{id}` | change fields; `null` clears one, `metadata` merges |
//! | `POST /admin/keys/{id}/rotate` | a new secret for the same id; the old one stops working |
//! | `DELETE /admin/keys/{id}` | revoke the key, for good |
//!
//! A key's JSON is [`KeyRecord::to_json`]; the body of a create or a change
//! has the same field names (see docs/keys.md). Every change is recorded in
//! the audit trail ([`crate::audit::admin`]).

use super::error::{Api, ApiError, ErrorKind};
use crate::audit::admin::Actor;
use crate::audit::now_ms;
use crate::config::Config;
use crate::console::session::{Access, authorize};
use crate::gateway::Gateway;
use crate::keys::{Invalid, KeyChanges, KeyError, KeyRecord, KeyStore, parse_expiry, report};
use crate::secret::Secret;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `POST /admin/keys`: creates a key from a JSON body (every field optional).
pub async fn create(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&gateway, &headers, Op::Create(body)).await
}

/// `GET /admin/keys`.
pub async fn list(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    handle(&gateway, &headers, Op::List).await
}

/// `GET /admin/keys/{id}`.
pub async fn show(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    handle(&gateway, &headers, Op::Show(id)).await
}

/// `PATCH /admin/keys/{id}`.
pub async fn update(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    handle(&gateway, &headers, Op::Update(id, body)).await
}

/// `POST /admin/keys/{id}/rotate`.
pub async fn rotate(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    handle(&gateway, &headers, Op::Rotate(id)).await
}

/// `DELETE /admin/keys/{id}`: revokes the key (its record stays, for the audit
/// trail and so that its id is never given to another key).
pub async fn revoke(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    handle(&gateway, &headers, Op::Revoke(id)).await
}

/// One key operation, as the admin API and the console ask for it.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create a key from a JSON body.
    Create(Bytes),
    /// Every key.
    List,
    /// One key.
    Show(String),
    /// Change a key's fields from a JSON body.
    Update(String, Bytes),
    /// A new secret for a key.
    Rotate(String),
    /// Revoke a key.
    Revoke(String),
}

impl Op {
    /// Whether it changes the store.
    fn writes(&self) -> bool {
        !matches!(self, Op::List | Op::Show(_))
    }

    /// The audit trail's name for it (`keys.create`).
    fn action(&self) -> &'static str {
        match self {
            Op::Create(_) => "keys.create",
            Op::List => "keys.list",
            Op::Show(_) => "keys.show",
            Op::Update(..) => "keys.update",
            Op::Rotate(_) => "keys.rotate",
            Op::Revoke(_) => "keys.revoke",
        }
    }
}

/// What a key operation answers: a status, the JSON, and whether it holds a
/// new secret (which no cache may keep, and which the console shows once).
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub json: Value,
    /// Whether `json` holds a new secret.
    pub secret: bool,
}

async fn handle(gateway: &Arc<Gateway>, headers: &HeaderMap, op: Op) -> Response {
    let access = if op.writes() {
        Access::Write
    } else {
        Access::Read
    };
    let actor = match authorize(gateway, headers, access) {
        Ok(actor) => actor,
        Err(error) => return error.render(Api::OpenAi),
    };
    match run(gateway, &actor, None, op).await {
        Ok(answer) => {
            let mut response = (answer.status, Json(answer.json)).into_response();
            if answer.secret {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            response
        }
        Err(error) => error.render(Api::OpenAi),
    }
}

/// Runs `op` for `actor` (already authorized) on the key store, off the async
/// workers. A change marks the gateway's snapshot stale, so it counts for the
/// next request, and is recorded in the audit trail.
pub async fn run(
    gateway: &Arc<Gateway>,
    actor: &Actor,
    client: Option<std::net::IpAddr>,
    op: Op,
) -> Result<Answer, ApiError> {
    let Some(managed) = gateway.keys.managed() else {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "managed gateway keys are not available with [state] redis",
        ));
    };
    let store = managed.store().clone();
    let config = gateway.config.clone();
    let now = now_ms();
    let writes = op.writes();
    let action = op.action();
    let result = tokio::task::spawn_blocking(move || apply(&*store, &config, now, op))
        .await
        .unwrap_or_else(|e| {
            Err(to_api_error(KeyError::Storage {
                where_: "admin API".into(),
                message: e.to_string(),
            }))
        });
    if writes {
        managed.mark_stale();
    }
    let applied = result?;
    if writes
        && let Some(audit) = &gateway.audit
        && let Applied::One(_, key, _) = &applied
    {
        audit.append(vec![crate::audit::admin::record(
            actor,
            action,
            Some(&key.id),
            client,
            now,
        )]);
    }
    Ok(match applied {
        Applied::One(status, key, Some(secret)) => Answer {
            status,
            json: report::with_secret(&key, &secret, now),
            secret: true,
        },
        Applied::One(status, key, None) => Answer {
            status,
            json: key.to_json(now),
            secret: false,
        },
        Applied::List(keys) => Answer {
            status: StatusCode::OK,
            json: json!({"object": "list", "data": keys.iter().map(|k| k.to_json(now)).collect::<Vec<_>>()}),
            secret: false,
        },
    })
}

/// What a store operation gave.
enum Applied {
    /// One key, with its new secret when it got one.
    One(StatusCode, Box<KeyRecord>, Option<Secret>),
    /// Every key.
    List(Vec<KeyRecord>),
}

/// The store operation.
fn apply(store: &dyn KeyStore, config: &Config, now: i64, op: Op) -> Result<Applied, ApiError> {
    Ok(match op {
        Op::Create(body) => {
            let (id, changes) = parse_changes(&body, true, now)?;
            let (key, secret) = store.create(id.as_deref(), &changes, Some(config), now)?;
            Applied::One(StatusCode::CREATED, Box::new(key), Some(secret))
        }
        Op::List => Applied::List(store.list()?),
        Op::Show(id) => Applied::One(
            StatusCode::OK,
            Box::new(store.get(&id)?.ok_or(KeyError::NotFound(id))?),
            None,
        ),
        Op::Update(id, body) => {
            let (_, changes) = parse_changes(&body, false, now)?;
            Applied::One(
                StatusCode::OK,
                Box::new(store.update(&id, &changes, Some(config))?),
                None,
            )
        }
        Op::Rotate(id) => {
            let (key, secret) = store.rotate(&id, now)?;
            Applied::One(StatusCode::OK, Box::new(key), Some(secret))
        }
        Op::Revoke(id) => Applied::One(StatusCode::OK, Box::new(store.revoke(&id, now)?), None),
    })
}

impl From<KeyError> for ApiError {
    /// A key store error as the admin API answers it.
    fn from(error: KeyError) -> ApiError {
        to_api_error(error)
    }
}

fn to_api_error(error: KeyError) -> ApiError {
    let kind = match &error {
        KeyError::NotFound(_) => ErrorKind::NotFound,
        KeyError::Exists(_) | KeyError::Revoked { .. } | KeyError::Invalid(_) => {
            ErrorKind::InvalidRequest
        }
        KeyError::Random(_) | KeyError::Storage { .. } => {
            tracing::error!(%error, "admin API: key store failure");
            return ApiError::new(
                ErrorKind::Internal,
                "the key store failed; the gateway's log says why",
            );
        }
    };
    ApiError::new(kind, error.to_string())
}

/// The fields of a create (`creating`: `id` too) or a change.
const FIELDS: &[&str] = &[
    "id",
    "name",
    "team",
    "metadata",
    "default_model",
    "guardrails",
    "allowed_models",
    "allowed_providers",
    "expires_at",
    "routing_config",
];

/// Reads a create or change body: the id (when creating) and the changes.
fn parse_changes(
    body: &[u8],
    creating: bool,
    now: i64,
) -> Result<(Option<String>, KeyChanges), ApiError> {
    let invalid = |e: Invalid| ApiError::new(ErrorKind::InvalidRequest, e.to_string());
    let object: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) && creating {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(invalid(Invalid::new("body", "must be a JSON object"))),
            Err(e) => {
                return Err(invalid(Invalid::new(
                    "body",
                    format!("is not valid JSON: {e}"),
                )));
            }
        }
    };
    let mut id = None;
    let mut changes = KeyChanges::default();
    for (field, value) in &object {
        let f = field.as_str();
        match f {
            "id" if creating => id = Some(string(f, value)?),
            "name" => changes.name = Some(string(f, value)?),
            "team" => changes.team = Some(nullable(value, |v| string(f, v))?),
            "metadata" => changes.tags = tags(value)?,
            "default_model" => changes.default_model = Some(nullable(value, |v| string(f, v))?),
            "guardrails" => changes.guardrails = Some(nullable(value, |v| strings(f, v))?),
            "allowed_models" => changes.allowed_models = Some(nullable_list(f, value)?),
            "allowed_providers" => changes.allowed_providers = Some(nullable_list(f, value)?),
            "routing_config" => changes.routing_config = Some(nullable(value, |v| string(f, v))?),
            "expires_at" => {
                changes.expires_at = Some(nullable(value, |v| {
                    parse_expiry(&string(f, v)?, now).map_err(invalid)
                })?);
            }
            _ => {
                let known: Vec<&str> = FIELDS
                    .iter()
                    .copied()
                    .filter(|k| creating || *k != "id")
                    .collect();
                return Err(invalid(Invalid::new(
                    f,
                    format!("unknown field (known: {})", known.join(", ")),
                )));
            }
        }
    }
    Ok((id, changes))
}

fn string(field: &str, value: &Value) -> Result<String, ApiError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| field_error(field, "must be a string"))
}

fn strings(field: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    let Some(items) = value.as_array() else {
        return Err(field_error(field, "must be an array of strings"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| string(&format!("{field}[{i}]"), item))
        .collect()
}

/// A list where `null` means the same as `[]`: no limit.
fn nullable_list(field: &str, value: &Value) -> Result<Vec<String>, ApiError> {
    Ok(nullable(value, |v| strings(field, v))?.unwrap_or_default())
}

/// `null` is `None`; anything else is read by `read`.
fn nullable<T>(
    value: &Value,
    read: impl FnOnce(&Value) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    match value {
        Value::Null => Ok(None),
        value => read(value).map(Some),
    }
}

/// `metadata`: an object whose string values set tags and whose `null`s remove them.
fn tags(value: &Value) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let Some(object) = value.as_object() else {
        return Err(field_error(
            "metadata",
            "must be an object of strings (null removes a tag)",
        ));
    };
    object
        .iter()
        .map(|(name, value)| {
            let field = format!("metadata.{name}");
            Ok((name.clone(), nullable(value, |v| string(&field, v))?))
        })
        .collect()
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidRequest,
        Invalid::new(field, message).to_string(),
    )
}
