//! The audit trail through the gateway: what a security team would look for
//! after a redacted, a blocked and a streamed request.

use crate::gateway::start;
use crate::mock_upstream::LEAKED_EMAIL;
use serde_json::json;
use sluice::audit::RecordOutcome;

#[tokio::test(flavor = "multi_thread")]
async fn a_redaction_and_a_block_are_recorded_with_key_rule_and_span_and_no_secret() {
    let h = start(
        "[[guardrails]]\nplugin = \"pii\"\n\n[[guardrails]]\nplugin = \"org-rules\"\n\
         settings.rules = [{ id = \"codename\", keywords = [\"Project Falcon\"], action = \"block\" }]\n",
    )
    .await;
    let text = "mail jane.doe@example.com please";
    let response = h
        .openai(json!({"model": "@oa/echo-last", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": text}]}))
        .await;
    assert_eq!(response.status(), 200);
    let response = h
        .openai(json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "Project Falcon?"}]}))
        .await;
    assert_eq!(response.status(), 400);

    let records = h.audit_records(2).await;
    let redaction = records
        .iter()
        .find(|r| r.outcome == RecordOutcome::Redact && r.phase == "request")
        .expect("the redaction is recorded");
    assert_eq!(redaction.key_id.as_deref(), Some("team-a"));
    assert_eq!(redaction.team.as_deref(), Some("a"));
    assert_eq!(redaction.guardrail, "pii");
    assert_eq!(redaction.rule.as_deref(), Some("pii.email"));
    assert_eq!(redaction.kind.as_deref(), Some("email"));
    assert_eq!(redaction.model, "@oa/echo-last");
    assert_eq!(redaction.segment.as_deref(), Some("messages[1].content"));
    let start = text.find("jane").unwrap() as u32;
    assert_eq!(
        redaction.span,
        Some((start, start + "jane.doe@example.com".len() as u32))
    );
    assert_eq!(redaction.excerpt.as_ref().unwrap().chars, 20);

    let block = records
        .iter()
        .find(|r| r.outcome == RecordOutcome::Block)
        .expect("the block is recorded");
    assert_eq!(block.rule.as_deref(), Some("org-rules.codename"));
    assert_ne!(block.request_id, redaction.request_id);

    // Neither the address nor the codename is anywhere in the trail's files.
    for suffix in ["", "-wal"] {
        let mut path = h.audit_db.clone().into_os_string();
        path.push(suffix);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let haystack = String::from_utf8_lossy(&bytes);
        for secret in ["jane.doe", "example.com", "Project Falcon", "Falcon"] {
            assert!(!haystack.contains(secret), "`{secret}` found in {path:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_redactions_are_recorded_once_with_spans_in_the_whole_answer() {
    let h = start("[[guardrails]]\nplugin = \"pii\"\n").await;
    let body = h
        .openai_text(json!({"model": "@oa/leak-email", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert!(!body.contains(LEAKED_EMAIL));
    let records = h.audit_records(1).await;
    // Give a duplicate (the same finding recorded from two windows) time to land.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let records_later = h.audit_records(1).await;
    assert_eq!(records.len(), records_later.len(), "{records_later:?}");
    let responses: Vec<_> = records_later
        .iter()
        .filter(|r| r.phase == "response")
        .collect();
    assert_eq!(responses.len(), 1, "{responses:?}");
    let r = responses[0];
    assert_eq!(r.outcome, RecordOutcome::Redact);
    let full = "Sure. You can reach me at ";
    let start = full.len() as u32;
    assert_eq!(r.span, Some((start, start + LEAKED_EMAIL.len() as u32)));
}
