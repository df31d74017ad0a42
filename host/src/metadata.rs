//! Per-request metadata: the `x-sluice-metadata` header, a JSON object of string
//! values, merged with the gateway key's own tags.
//!
//! The merged tags reach the guardrails (their context), the audit trail,
//! usage totals, budgets and rate limits. A trace id (`x-sluice-trace-id` or
//! W3C `traceparent`) joins them as the tag `trace_id`. A key's own tags cannot be
//! changed by a request: a client may repeat `team = "a"`, but not claim
//! another team. Any other tag a request sets must be one the config lets
//! requests set ([`MetadataConfig`]); `team` never is, so a key without a team
//! cannot claim one.
//!
//! Claude Code's session and agent headers become the tags
//! `claude_code_session` and `claude_code_agent` ([`HEADER_TAGS`]).

use crate::api::error::{ApiError, ErrorKind};
use crate::config::MetadataConfig;
use axum::http::{HeaderMap, HeaderValue};
use std::sync::Arc;

/// The request header.
pub const METADATA_HEADER: &str = "x-sluice-metadata";
/// The most tags one request may add.
pub const MAX_TAGS: usize = 32;
/// The longest tag name, in bytes.
pub const MAX_NAME: usize = 64;
/// The longest tag value, in bytes.
pub const MAX_VALUE: usize = 256;

/// Headers a coding agent sends with every call, and the tag each becomes:
/// Claude Code's session and agent ids, so that usage and the audit trail can
/// be grouped by agent session. See [`MetadataConfig::header_may_set`] for
/// when they are recorded.
pub const HEADER_TAGS: [(&str, &str); 2] = [
    ("x-claude-code-session-id", "claude_code_session"),
    ("x-claude-code-agent-id", "claude_code_agent"),
];

/// The key's tags, then the request's new ones from `x-sluice-metadata`, then
/// those of [`HEADER_TAGS`]; a 400 that says what is wrong with a header, or a
/// 403 naming a tag the request may not set (`policy` says which it may).
///
/// A tag from [`HEADER_TAGS`] is left out, silently (the agent sends it on
/// every call and cannot be told to stop), when the key or `x-sluice-metadata`
/// already set it, or when `policy` does not let requests set it (a budget,
/// rate limit or routing condition selects on it and `request_tags` does not
/// list it).
pub fn merge(
    key_tags: Tags,
    headers: &HeaderMap,
    policy: &MetadataConfig,
) -> Result<Tags, ApiError> {
    let mut tags = key_tags;
    if let Some(header) = headers.get(METADATA_HEADER) {
        let key_tags = Arc::clone(&tags);
        merge_metadata(Arc::make_mut(&mut tags), &key_tags, header, policy)?;
    }
    for (header, tag) in HEADER_TAGS {
        let Some(value) = headers.get(header) else {
            continue;
        };
        if tags.iter().any(|(name, _)| name == tag) || !policy.header_may_set(tag) {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| "printable ASCII expected".to_string())
            .and_then(|v| check_tag_value(tag, v).map(|()| v))
            .map_err(|why| ApiError::new(ErrorKind::InvalidRequest, format!("{header}: {why}")))?;
        Arc::make_mut(&mut tags).push((tag.to_string(), value.to_string()));
    }
    Ok(tags)
}

/// A request's tags (name, value), in order: shared, and copied only when a
/// request adds to its key's.
pub type Tags = Arc<Vec<(String, String)>>;

/// Adds the tags of an `x-sluice-metadata` header to `tags`.
fn merge_metadata(
    tags: &mut Vec<(String, String)>,
    key_tags: &[(String, String)],
    header: &HeaderValue,
    policy: &MetadataConfig,
) -> Result<(), ApiError> {
    let invalid = |why: String| {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("{METADATA_HEADER}: {why}"),
        )
    };
    let object: serde_json::Map<String, serde_json::Value> = header
        .to_str()
        .ok()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| {
            invalid(
                r#"expected a JSON object of strings, such as {"app": "cli", "session": "s1"}"#
                    .into(),
            )
        })?;
    if object.len() > MAX_TAGS {
        return Err(invalid(format!(
            "at most {MAX_TAGS} tags, got {}",
            object.len()
        )));
    }
    let forbidden =
        |why: String| ApiError::new(ErrorKind::Permission, format!("{METADATA_HEADER}: {why}"));
    for (name, value) in object {
        check_tag_name(&name).map_err(invalid)?;
        let Some(value) = value.as_str() else {
            return Err(invalid(format!("the value of `{name}` must be a string")));
        };
        check_tag_value(&name, value).map_err(invalid)?;
        match key_tags.iter().find(|(k, _)| *k == name) {
            Some((_, own)) if own == value => {}
            Some(_) => {
                return Err(forbidden(format!(
                    "`{name}` is set by the gateway key and cannot be changed by a request"
                )));
            }
            None if policy.request_may_set(&name) => tags.push((name, value.to_string())),
            None => return Err(forbidden(policy.refusal(&name))),
        }
    }
    Ok(())
}

/// The request header that carries a trace id; it is echoed in the response.
pub const TRACE_ID_HEADER: &str = "x-sluice-trace-id";
/// The tag the trace id is kept under.
pub const TRACE_ID_TAG: &str = "trace_id";

/// The request's trace id: `x-sluice-trace-id`, else the trace id of a W3C
/// `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`). It becomes the tag
/// `trace_id`, so guardrails, routing and the audit trail see it (usage totals
/// leave it out: it is unique per request).
pub fn trace_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if let Some(value) = headers.get(TRACE_ID_HEADER) {
        let id = value.to_str().unwrap_or_default();
        let valid = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !valid {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{TRACE_ID_HEADER}: 1 to 128 letters, digits, '_', '-', '.' or ':' expected"
                ),
            ));
        }
        return Ok(Some(id.to_string()));
    }
    // A malformed traceparent is ignored, as the W3C spec asks of receivers.
    Ok(headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let parts: Vec<&str> = v.trim().split('-').collect();
            match parts[..] {
                [_, id, _, _]
                    if id.len() == 32
                        && id.bytes().all(|b| b.is_ascii_hexdigit())
                        && id.bytes().any(|b| b != b'0') =>
                {
                    Some(id.to_ascii_lowercase())
                }
                _ => None,
            }
        }))
}

/// Checks a tag name (of a request or of a gateway key); says what is wrong.
pub fn check_tag_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag names are 1 to {MAX_NAME} letters, digits, '_', '-' or '.'; `{}` is not",
            name.chars().take(MAX_NAME).collect::<String>()
        ))
    }
}

/// Checks the value of tag `name`; says what is wrong.
pub fn check_tag_value(name: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE || value.chars().any(char::is_control) {
        return Err(format!(
            "the value of `{name}` must be at most {MAX_VALUE} bytes, without control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(METADATA_HEADER, value.parse().unwrap());
        headers
    }

    fn key() -> Tags {
        Arc::new(vec![("team".into(), "a".into())])
    }

    fn merge(key_tags: &[(String, String)], headers: &HeaderMap) -> Result<Tags, ApiError> {
        super::merge(
            Arc::new(key_tags.to_vec()),
            headers,
            &MetadataConfig::default(),
        )
    }

    #[test]
    fn request_tags_follow_the_keys_own() {
        let tags = merge(&key(), &headers(r#"{"app": "cli", "team": "a"}"#)).unwrap();
        assert_eq!(
            *tags,
            [("team".into(), "a".into()), ("app".into(), "cli".into())]
        );
        assert_eq!(merge(&key(), &HeaderMap::new()).unwrap(), key());
    }

    #[test]
    fn a_bad_header_is_refused_saying_why() {
        for (header, says, status) in [
            ("not json", "JSON object", 400),
            (r#"["a"]"#, "JSON object", 400),
            (r#"{"n": 1}"#, "`n` must be a string", 400),
            (r#"{"": "x"}"#, "tag names", 400),
            (r#"{"a b": "x"}"#, "tag names", 400),
            (r#"{"v": "a\nb"}"#, "control characters", 400),
            (r#"{"team": "b"}"#, "set by the gateway key", 403),
        ] {
            let error = merge(&key(), &headers(header)).unwrap_err();
            assert!(error.message.contains(says), "{header}: {}", error.message);
            assert_eq!(error.kind.status().as_u16(), status, "{header}");
        }
        let many: serde_json::Map<String, serde_json::Value> = (0..=MAX_TAGS)
            .map(|i| (format!("t{i}"), "v".into()))
            .collect();
        let header = serde_json::Value::Object(many).to_string();
        let error = merge(&key(), &headers(&header)).unwrap_err();
        assert!(error.message.contains("at most"), "{}", error.message);
    }

    #[test]
    fn a_key_without_a_team_cannot_claim_one() {
        for policy in [MetadataConfig::default(), MetadataConfig::listing(&["app"])] {
            let error = super::merge(Tags::default(), &headers(r#"{"team": "victim"}"#), &policy)
                .unwrap_err();
            assert_eq!(error.kind, ErrorKind::Permission);
            assert!(
                error
                    .message
                    .contains("`team` is set only by a gateway key"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn only_the_tags_the_config_lists_may_be_set() {
        let policy = MetadataConfig::listing(&["project"]);
        let tags = super::merge(key(), &headers(r#"{"project": "apollo"}"#), &policy).unwrap();
        assert_eq!(tags[1], ("project".into(), "apollo".into()));
        let error = super::merge(
            key(),
            &headers(r#"{"project": "apollo", "cost_center": "x"}"#),
            &policy,
        )
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Permission);
        assert!(error.message.contains("`cost_center`"), "{}", error.message);
        assert!(
            error.message.contains("[metadata] request_tags"),
            "{}",
            error.message
        );
        // By default: `app`, `session` and `user`, nothing else.
        let error = merge(&key(), &headers(r#"{"project": "apollo"}"#)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Permission);
    }

    #[test]
    fn claude_codes_session_headers_become_tags() {
        let mut headers = HeaderMap::new();
        headers.insert("x-claude-code-session-id", "s-1".parse().unwrap());
        headers.insert("x-claude-code-agent-id", "agent-7".parse().unwrap());
        let tags = merge(&key(), &headers).unwrap();
        assert_eq!(
            *tags,
            [
                ("team".into(), "a".into()),
                ("claude_code_session".into(), "s-1".into()),
                ("claude_code_agent".into(), "agent-7".into()),
            ]
        );
        // The key's own tag stays; so does one a listed metadata tag set.
        let own = vec![("claude_code_session".to_string(), "k".to_string())];
        let tags = merge(&own, &headers).unwrap();
        assert_eq!(tags[0], ("claude_code_session".into(), "k".into()));
        assert_eq!(tags.len(), 2);
        // Not recorded when the policy does not let requests set it.
        let config = crate::config::Config::parse(
            "[[budgets]]\nid = \"b\"\ntag = \"claude_code_session=*\"\nperiod = \"day\"\ntokens = 10\n",
            std::path::Path::new("."),
            &|_| None,
        )
        .unwrap();
        let tags = super::merge(key(), &headers, &config.metadata).unwrap();
        assert!(
            !tags.iter().any(|(name, _)| name == "claude_code_session"),
            "{tags:?}"
        );
        assert!(tags.iter().any(|(name, _)| name == "claude_code_agent"));
        // A value too long is named.
        headers.insert(
            "x-claude-code-agent-id",
            "x".repeat(MAX_VALUE + 1).parse().unwrap(),
        );
        let error = merge(&key(), &headers).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        assert!(
            error.message.starts_with("x-claude-code-agent-id: "),
            "{}",
            error.message
        );
    }

    #[test]
    fn the_trace_id_comes_from_its_header_or_traceparent() {
        let mut headers = HeaderMap::new();
        assert_eq!(trace_id(&headers).unwrap(), None);
        headers.insert(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            trace_id(&headers).unwrap().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        headers.insert(TRACE_ID_HEADER, "run-42:step-7".parse().unwrap());
        assert_eq!(
            trace_id(&headers).unwrap().as_deref(),
            Some("run-42:step-7")
        );
        headers.insert(TRACE_ID_HEADER, "two words".parse().unwrap());
        let error = trace_id(&headers).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
    }
}
