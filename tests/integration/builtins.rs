//! The built-in guardrails through the gateway, configured as a user would.

use crate::gateway::start;
use serde_json::{Value, json};

const ORG_RULES: &str = r#"
[[guardrails]]
plugin = "org-rules"
settings.rules = [
  { id = "codename", keywords = ["Project Falcon"], action = "block", phases = ["request"],
    message = "Project Falcon is confidential; describe the work without its name." },
  { id = "tickets", regex = 'INC-\d{4,}', action = "redact", replacement = "[TICKET]" },
  { id = "no-openai-for-team-a", models = ["@oa/*"], metadata = { team = "a" }, action = "block",
    message = "Team A uses Anthropic models only." },
]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn org_rules_block_with_their_message_and_redact_in_both_directions() {
    let h = start(ORG_RULES).await;

    let response = h
        .anthropic(json!({"model": "claude-test", "max_tokens": 50,
            "messages": [{"role": "user", "content": "Status of project falcon?"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("org-rules.codename")
            && message
                .contains("Project Falcon is confidential; describe the work without its name."),
        "{message}"
    );
    assert!(h.mock.received().is_empty(), "nothing went upstream");

    let text = h
        .anthropic_text(json!({"model": "claude-test", "max_tokens": 50,
            "messages": [{"role": "user", "content": "Close INC-20931 and INC-20932, then INC-20931 again"}]}))
        .await;
    let sent = h.mock.last();
    assert_eq!(
        sent.body["messages"][0]["content"],
        "Close [TICKET_1] and [TICKET_2], then [TICKET_1] again"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["content"][0]["text"],
        "you said: Close [TICKET_1] and [TICKET_2], then [TICKET_1] again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_org_rule_without_a_pattern_forbids_a_provider_for_a_team() {
    let h = start(ORG_RULES).await;
    // The harness's key carries `team = "a"`.
    let response = h
        .openai(json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "content_blocked");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Team A uses Anthropic models only."),
        "{message}"
    );
    assert!(h.mock.received().is_empty());

    // The same team on an Anthropic model passes, whichever API it speaks.
    let response = h
        .openai(json!({"model": "@an/echo-last", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 200);
}
