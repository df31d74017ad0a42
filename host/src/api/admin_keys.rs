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
//! has the same field names (see docs/keys.md).

use super::error::{Api, ApiError, ErrorKind};
use crate::audit::now_ms;
use crate::config::Config;
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
    answer(
        &gateway,
        &headers,
        Writes::Yes,
        move |store, config, now| {
            let (id, changes) = parse_changes(&body, true, now)?;
            let (key, secret) = store.create(id.as_deref(), &changes, Some(config), now)?;
            Ok(Answer::Secret(StatusCode::CREATED, key, secret))
        },
    )
    .await
}

/// `GET /admin/keys`.
pub async fn list(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    answer(&gateway, &headers, Writes::No, |store, _, _| {
        Ok(Answer::List(store.list()?))
    })
    .await
}

/// `GET /admin/keys/{id}`.
pub async fn show(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    answer(&gateway, &headers, Writes::No, move |store, _, _| {
        Ok(Answer::Key(store.get(&id)?.ok_or(KeyError::NotFound(id))?))
    })
    .await
}

/// `PATCH /admin/keys/{id}`.
pub async fn update(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer(
        &gateway,
        &headers,
        Writes::Yes,
        move |store, config, now| {
            let (_, changes) = parse_changes(&body, false, now)?;
            Ok(Answer::Key(store.update(&id, &changes, Some(config))?))
        },
    )
    .await
}

/// `POST /admin/keys/{id}/rotate`.
pub async fn rotate(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    answer(&gateway, &headers, Writes::Yes, move |store, _, now| {
        let (key, secret) = store.rotate(&id, now)?;
        Ok(Answer::Secret(StatusCode::OK, key, secret))
    })
    .await
}

/// `DELETE /admin/keys/{id}`: revokes the key (its record stays, for the audit
/// trail and so that its id is never given to another key).
pub async fn revoke(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    answer(&gateway, &headers, Writes::Yes, move |store, _, now| {
        Ok(Answer::Key(store.revoke(&id, now)?))
    })
    .await
}

/// What a route answers with.
enum Answer {
    /// One key.
    Key(KeyRecord),
    /// Every key.
    List(Vec<KeyRecord>),
    /// A key with its new secret, which no cache may keep.
    Secret(StatusCode, KeyRecord, Secret),
}

/// Whether a route changes the store.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writes {
    Yes,
    No,
}

/// Checks the admin key, then runs `f` on the key store on the blocking pool
/// (with the config and the time). After a write the gateway's own snapshot is
/// marked stale, so the change counts for the next request.
async fn answer(
    gateway: &Arc<Gateway>,
    headers: &HeaderMap,
    writes: Writes,
    f: impl FnOnce(&dyn KeyStore, &Config, i64) -> Result<Answer, ApiError> + Send + 'static,
) -> Response {
    if let Err(error) = gateway.admin_key.authorize(headers) {
        return error.render(Api::OpenAi);
    }
    let Some(managed) = gateway.keys.managed() else {
        return ApiError::new(
            ErrorKind::NotFound,
            "managed gateway keys are not available with [state] redis",
        )
        .render(Api::OpenAi);
    };
    let store = managed.store().clone();
    let config = gateway.config.clone();
    let now = now_ms();
    let result = tokio::task::spawn_blocking(move || f(&*store, &config, now))
        .await
        .unwrap_or_else(|e| {
            Err(to_api_error(KeyError::Storage {
                where_: "admin API".into(),
                message: e.to_string(),
            }))
        });
    if writes == Writes::Yes {
        managed.mark_stale();
    }
    match result {
        Ok(Answer::Key(key)) => Json(key.to_json(now)).into_response(),
        Ok(Answer::List(keys)) => {
            let data: Vec<Value> = keys.iter().map(|k| k.to_json(now)).collect();
            Json(json!({"object": "list", "data": data})).into_response()
        }
        Ok(Answer::Secret(status, key, secret)) => {
            let mut response =
                (status, Json(report::with_secret(&key, &secret, now))).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => error.render(Api::OpenAi),
    }
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
