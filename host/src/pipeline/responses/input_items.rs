//! `GET /v1/responses/{id}/input_items` for a response sluice kept: its input
//! items (the earlier turns' included, as checked by the request guardrails),
//! in the shape and pages OpenAI gives them.
//!
//! Items are returned as OpenAI lists them: each with an `id` (the client's
//! own, else one made from the response's id and the item's place, the same
//! on every read so that `after` works), messages with `type: "message"` and
//! their text as content parts (`input_text`, or `output_text` for the
//! assistant's).

use crate::api::error::{ApiError, ErrorKind};
use crate::stored_responses::StoredResponse;
use serde_json::{Value, json};

/// The most items one page may hold, and how many it holds unless asked.
const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 20;

/// Which page the query asks for.
#[derive(Debug, PartialEq)]
pub struct Page {
    limit: usize,
    /// Oldest first (`order=asc`); OpenAI's default is newest first.
    oldest_first: bool,
    after: Option<String>,
}

impl Page {
    /// The page a query string asks for (`limit`, `order`, `after`; `include`
    /// is accepted and has nothing to add here); a 400 naming a bad value.
    pub fn parse(query: Option<&str>) -> Result<Page, ApiError> {
        let invalid = |message: String| ApiError::new(ErrorKind::InvalidRequest, message);
        let mut page = Page {
            limit: DEFAULT_LIMIT,
            oldest_first: false,
            after: None,
        };
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "limit" => {
                    page.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| invalid(format!("`limit` must be from 1 to {MAX_LIMIT}")))?
                }
                "order" => {
                    page.oldest_first = match value.as_ref() {
                        "asc" => true,
                        "desc" => false,
                        _ => return Err(invalid("`order` must be `asc` or `desc`".into())),
                    }
                }
                "after" => page.after = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(page)
    }

    /// This page of `stored`'s input items, as an OpenAI list; a 400 when
    /// `after` names no item of it.
    pub fn of(&self, stored: &StoredResponse) -> Result<Value, ApiError> {
        let mut items: Vec<Value> = stored
            .input
            .iter()
            .enumerate()
            .map(|(index, item)| listed(&stored.id, index, item))
            .collect();
        if !self.oldest_first {
            items.reverse();
        }
        let start = match &self.after {
            None => 0,
            Some(after) => {
                let at = items.iter().position(|item| item["id"] == after.as_str());
                at.map(|at| at + 1).ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::InvalidRequest,
                        format!("`after`: no input item `{after}` in this response"),
                    )
                })?
            }
        };
        let rest = &items[start..];
        let data = &rest[..rest.len().min(self.limit)];
        Ok(json!({
            "object": "list",
            "data": data,
            "first_id": data.first().map(|item| item["id"].clone()),
            "last_id": data.last().map(|item| item["id"].clone()),
            "has_more": rest.len() > data.len(),
        }))
    }
}

/// Input item `index` of response `response_id`, as OpenAI lists it.
fn listed(response_id: &str, index: usize, item: &Value) -> Value {
    let mut item = match item {
        Value::Object(object) => object.clone(),
        other => return json!({"id": made_id("item", response_id, index), "content": other}),
    };
    let kind = match item.get("type").and_then(Value::as_str) {
        Some(kind) => kind.to_string(),
        None if item.contains_key("role") => {
            item.insert("type".into(), json!("message"));
            "message".to_string()
        }
        None => "item".to_string(),
    };
    if kind == "message" {
        let part = match item.get("role").and_then(Value::as_str) {
            Some("assistant") => "output_text",
            _ => "input_text",
        };
        if let Some(Value::String(text)) = item.get("content") {
            let parts = json!([{"type": part, "text": text}]);
            item.insert("content".into(), parts);
        }
        item.entry("status").or_insert(json!("completed"));
    }
    if !item.get("id").is_some_and(Value::is_string) {
        let prefix = match kind.as_str() {
            "message" => "msg",
            "function_call" => "fc",
            "function_call_output" => "fco",
            "reasoning" => "rs",
            _ => "item",
        };
        item.insert("id".into(), json!(made_id(prefix, response_id, index)));
    }
    Value::Object(item)
}

/// An id for an item that came without one: the same for the same item of
/// the same response on every read.
fn made_id(prefix: &str, response_id: &str, index: usize) -> String {
    let response = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{response}_{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(input: Vec<Value>) -> StoredResponse {
        StoredResponse {
            id: "resp_abc".into(),
            key_id: "k".into(),
            expires_ms: i64::MAX,
            input,
            response: json!({}),
        }
    }

    fn ids(list: &Value) -> Vec<&str> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn items_are_listed_as_openai_lists_them_newest_first() {
        let response = stored(vec![
            json!({"role": "user", "content": "hi"}),
            json!({"role": "assistant", "content": "hello"}),
            json!({"type": "function_call_output", "call_id": "c1", "output": "42", "id": "own"}),
        ]);
        let list = Page::parse(None).unwrap().of(&response).unwrap();
        assert_eq!(list["object"], "list");
        assert_eq!(ids(&list), ["own", "msg_abc_1", "msg_abc_0"]);
        assert_eq!(
            list["data"][2],
            json!({"id": "msg_abc_0", "type": "message", "role": "user", "status": "completed",
                   "content": [{"type": "input_text", "text": "hi"}]})
        );
        assert_eq!(list["data"][1]["content"][0]["type"], "output_text");
        assert_eq!(list["first_id"], "own");
        assert_eq!(list["last_id"], "msg_abc_0");
        assert_eq!(list["has_more"], false);
    }

    #[test]
    fn pages_follow_limit_order_and_after() {
        let response = stored(
            (0..5)
                .map(|i| json!({"role": "user", "content": i.to_string()}))
                .collect(),
        );
        let page = |query: &str| Page::parse(Some(query)).unwrap().of(&response).unwrap();
        let first = page("limit=2&order=asc");
        assert_eq!(ids(&first), ["msg_abc_0", "msg_abc_1"]);
        assert_eq!(first["has_more"], true);
        let next = page("limit=2&order=asc&after=msg_abc_1");
        assert_eq!(ids(&next), ["msg_abc_2", "msg_abc_3"]);
        let last = page("limit=2&order=asc&after=msg_abc_3");
        assert_eq!(ids(&last), ["msg_abc_4"]);
        assert_eq!(last["has_more"], false);
        let empty = page("order=asc&after=msg_abc_4");
        assert_eq!(empty["data"], json!([]));
        assert_eq!(empty["first_id"], Value::Null);
        assert_eq!(ids(&page("limit=1")), ["msg_abc_4"]);
    }

    #[test]
    fn bad_queries_are_named() {
        for query in ["limit=0", "limit=101", "limit=x", "order=up"] {
            let error = Page::parse(Some(query)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidRequest, "{query}");
        }
        let error = Page::parse(Some("after=nope"))
            .unwrap()
            .of(&stored(vec![json!({"role": "user", "content": "x"})]))
            .unwrap_err();
        assert!(error.message.contains("`nope`"), "{}", error.message);
        assert_eq!(
            Page::parse(Some("include=message.input_image.image_url")).unwrap(),
            Page::parse(None).unwrap()
        );
    }
}
