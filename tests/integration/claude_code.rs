//! Claude Code as a new user runs it, and other Anthropic clients: its
//! default model through a `[models]` pattern, its model discovery
//! (`GET /v1/models?limit=1000`), its `HEAD /` probe, `/messages` at the root
//! URL (Vercel AI SDK clients), and its session headers as usage and audit
//! dimensions. The real Claude Code runs in `sdk.rs`.

use crate::gateway::{Harness, KEY, start, start_with_models};
use serde_json::{Value, json};

/// The README's pattern, at the harness's Anthropic provider.
const PATTERN: &str = "\"claude-*\" = \"@an/*\"\n\"claude-haiku-*\" = \"@oa/*\"\n";

const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

async fn messages(
    h: &Harness,
    path: &str,
    model: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = h
        .client
        .post(format!("{}{path}", h.base))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .json(&json!({"model": model, "max_tokens": 16,
            "messages": [{"role": "user", "content": "hi, I am jane.doe@example.com"}]}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_codes_default_model_goes_through_a_pattern() {
    let h = start_with_models(PATTERN, "").await;
    // Claude Code 2.1's default, which no exact alias names.
    let response = messages(&h, "/v1/messages", "claude-opus-4-8", &[]).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(
        sent.body["model"], "claude-opus-4-8",
        "the whole name goes upstream"
    );
    // The longest prefix wins (here: translated to the OpenAI provider).
    let response = messages(&h, "/v1/messages", "claude-haiku-4-5", &[]).await;
    assert_eq!(response.status(), 200);
    let sent = h.mock.last();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.body["model"], "claude-haiku-4-5");
    // An exact alias wins over every pattern.
    let response = messages(&h, "/v1/messages", "claude-test", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(h.mock.last().body["model"], "echo-last");
    // A name no entry covers is still a 400 naming it.
    let response = messages(&h, "/v1/messages", "gpt-9", &[]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`gpt-9`"),
        "{body}"
    );
}

async fn anthropic_models(h: &Harness, query: &str) -> (u16, Value) {
    let response = h
        .client
        .get(format!("{}/v1/models{query}", h.base))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn model_discovery_lists_the_claude_aliases_and_pages() {
    let h = start_with_models(PATTERN, "").await;
    // Claude Code's discovery call, and what it keeps.
    let (status, list) = anthropic_models(&h, "?limit=1000").await;
    assert_eq!(status, 200, "{list}");
    let all = ids(&list);
    let claude: Vec<&String> = all.iter().filter(|id| id.starts_with("claude")).collect();
    assert_eq!(claude, ["claude-on-openai", "claude-test"], "{list}");
    assert!(
        !all.iter().any(|id| id.contains('*')),
        "patterns are not models: {all:?}"
    );
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], all[0].as_str());
    assert_eq!(list["last_id"], all[all.len() - 1].as_str());
    // `limit` is honoured; `after_id` walks the rest, `before_id` goes back.
    let mut walked = Vec::new();
    let mut query = "?limit=1".to_string();
    loop {
        let (status, page) = anthropic_models(&h, &query).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page).len(), 1, "{page}");
        walked.extend(ids(&page));
        if page["has_more"] == false {
            break;
        }
        query = format!("?limit=1&after_id={}", page["last_id"].as_str().unwrap());
    }
    assert_eq!(walked, all);
    let (_, page) = anthropic_models(&h, &format!("?before_id={}", all[1])).await;
    assert_eq!(ids(&page), [all[0].clone()]);
    // OpenAI's format honours `limit` too.
    let list: Value = h
        .client
        .get(format!("{}/v1/models?limit=1", h.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(ids(&list), [all[0].clone()]);
    assert_eq!(list["has_more"], true);
    // A bad `limit` is a 400 in the caller's format.
    let (status, error) = anthropic_models(&h, "?limit=0").await;
    assert_eq!(status, 400);
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_clients_given_the_root_url_post_to_messages() {
    let h = start("").await;
    let response = messages(&h, "/messages", "claude-test", &[]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message", "{body}");
    assert_eq!(h.mock.last().path, "/v1/messages");
    let response = messages(&h, "/messages/count_tokens", "claude-test", &[]).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // Unauthenticated, it is refused in Anthropic's format.
    let response = h
        .client
        .post(format!("{}/messages", h.base))
        .json(&json!({"model": "claude-test", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    // Claude Code's probe needs no key.
    let response = h.client.head(&h.base).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_sessions_group_usage_and_audit() {
    let h = start(&format!(
        "[admin]\nkey = \"{ADMIN_KEY}\"\n\n[[guardrails]]\nplugin = \"pii\"\n"
    ))
    .await;
    for session in ["sess-1", "sess-1", "sess-2"] {
        let headers = [
            ("x-claude-code-session-id", session),
            ("x-claude-code-agent-id", "main"),
        ];
        let response = messages(&h, "/v1/messages", "claude-test", &headers).await;
        assert_eq!(response.status(), 200);
    }
    // The redaction's audit record carries the session.
    let records = h.audit_records(3).await;
    let sessions: Vec<&str> = records
        .iter()
        .filter_map(|r| {
            r.metadata
                .iter()
                .find(|(name, _)| name == "claude_code_session")
                .map(|(_, value)| value.as_str())
        })
        .collect();
    assert_eq!(sessions.len(), records.len(), "{records:?}");
    assert!(sessions.contains(&"sess-2"), "{sessions:?}");
    assert!(records.iter().all(|r| {
        r.metadata
            .contains(&("claude_code_agent".to_string(), "main".to_string()))
    }));
    // Usage, grouped by session.
    let rows = h
        .usage_rows(ADMIN_KEY, "by=tag:claude_code_session&per=all", 3)
        .await;
    let count = |session: &str| {
        rows.iter()
            .find(|r| r["tag:claude_code_session"] == session)
            .map(|r| r["requests"].clone())
    };
    assert_eq!(count("sess-1"), Some(json!(2)), "{rows:?}");
    assert_eq!(count("sess-2"), Some(json!(1)), "{rows:?}");
}
