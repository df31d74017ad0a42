//! `GET /v1/models`: the models the caller's key may use, in the OpenAI or
//! the Anthropic list format (by the client's headers), from the config
//! alone: no upstream is asked, so the answer is immediate (Claude Code gives
//! this call 3 s).
//!
//! The list is the exact aliases of `[models]` and what they stand for
//! ([`crate::providers::Providers::listed_models`]), sorted by id. Paging
//! follows Anthropic's parameters, in both formats: `limit` (a whole number
//! from 1; default: the whole list), and `after_id` or `before_id` (the page
//! just after or before that id, in id order). Both formats answer
//! `has_more`; Anthropic's also `first_id` and `last_id`.

use super::api_of;
use super::error::{Api, ApiError, ErrorKind};
use crate::gateway::Gateway;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// `GET /v1/models[?limit=N&after_id=ID|before_id=ID]`.
pub async fn list(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let api = api_of(&headers);
    let caller = match gateway.keys.authenticate(&headers).await {
        Ok(caller) => caller,
        Err(error) => return error.render(api),
    };
    let page = match Page::parse(query.as_deref().unwrap_or("")) {
        Ok(page) => page,
        Err(message) => {
            return ApiError::new(ErrorKind::InvalidRequest, message).render(api);
        }
    };
    // Only the models the caller's key may use.
    let mut models = gateway.providers.listed_models();
    models.retain(|name| {
        gateway
            .providers
            .resolve(Some(name), None)
            .is_ok_and(|route| {
                caller
                    .check_scope(&route, Some(name), &gateway.providers)
                    .is_ok()
            })
    });
    let (models, has_more) = page.of(&models);
    let body = match api {
        Api::OpenAi | Api::Responses => json!({
            "object": "list",
            "data": models.iter().map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "sluice"})).collect::<Vec<_>>(),
            "has_more": has_more,
        }),
        Api::Anthropic => json!({
            "data": models.iter().map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"})).collect::<Vec<_>>(),
            "has_more": has_more,
            "first_id": models.first(),
            "last_id": models.last(),
        }),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Which part of the list a request asks for.
#[derive(Debug, Default, PartialEq)]
struct Page {
    limit: Option<usize>,
    after_id: Option<String>,
    before_id: Option<String>,
}

impl Page {
    /// From the query string; other parameters are ignored. Says what is wrong.
    fn parse(query: &str) -> Result<Page, String> {
        let mut page = Page::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => {
                    let limit = value.parse().ok().filter(|&n: &usize| n >= 1);
                    page.limit =
                        Some(limit.ok_or_else(|| {
                            format!("`limit`: a whole number from 1, got `{value}`")
                        })?);
                }
                "after_id" => page.after_id = Some(value.into_owned()),
                "before_id" => page.before_id = Some(value.into_owned()),
                _ => {}
            }
        }
        if page.after_id.is_some() && page.before_id.is_some() {
            return Err("give `after_id` or `before_id`, not both".into());
        }
        Ok(page)
    }

    /// The page of `ids` (sorted) and whether more lie beyond it, in the
    /// direction it was asked for.
    fn of<'a>(&self, ids: &'a [String]) -> (&'a [String], bool) {
        let limit = self.limit.unwrap_or(usize::MAX);
        if let Some(before) = &self.before_id {
            let end = ids.partition_point(|id| id < before);
            let start = end.saturating_sub(limit);
            return (&ids[start..end], start > 0);
        }
        let start = self
            .after_id
            .as_ref()
            .map_or(0, |after| ids.partition_point(|id| id <= after));
        let end = start.saturating_add(limit).min(ids.len());
        (&ids[start..end], end < ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["a", "b", "c", "d"].map(String::from).to_vec()
    }

    fn page(query: &str) -> (Vec<String>, bool) {
        let ids = ids();
        let (page, more) = Page::parse(query).unwrap().of(&ids);
        (page.to_vec(), more)
    }

    #[test]
    fn limit_after_and_before_pick_a_page() {
        let all = (ids(), false);
        assert_eq!(page(""), all);
        assert_eq!(page("limit=1000"), all);
        assert_eq!(page("limit=2"), (vec!["a".into(), "b".into()], true));
        assert_eq!(
            page("limit=2&after_id=b"),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(page("after_id=d"), (vec![], false));
        assert_eq!(
            page("limit=2&before_id=d"),
            (vec!["b".into(), "c".into()], true)
        );
        assert_eq!(page("before_id=b"), (vec!["a".into()], false));
        // An id no longer listed still places the page.
        assert_eq!(page("after_id=bb"), (vec!["c".into(), "d".into()], false));
    }

    #[test]
    fn bad_paging_is_refused_saying_why() {
        for (query, says) in [
            ("limit=0", "`limit`"),
            ("limit=-1", "`limit`"),
            ("limit=ten", "`limit`"),
            ("after_id=a&before_id=c", "not both"),
        ] {
            let error = Page::parse(query).unwrap_err();
            assert!(error.contains(says), "{query}: {error}");
        }
        assert_eq!(Page::parse("beta=true"), Ok(Page::default()));
    }
}
