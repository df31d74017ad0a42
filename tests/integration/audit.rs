//! The audit trail through the gateway: what a security team would look for
//! after a redacted, a blocked and a streamed request.

use crate::gateway::start;
use crate::mock_upstream::LEAKED_EMAIL;
use crate::support::{sluice, text};
use serde_json::Value;
use serde_json::json;
use sluice::audit::RecordOutcome;

#[tokio::test(flavor = "multi_thread")]
async fn a_redaction_and_a_block_are_recorded_with_key_rule_and_span_and_no_secret() {
    let h = start(
        "[[guardrails]]\nplugin = \"pii\"\n\n[[guardrails]]\nplugin = \"org-rules\"\n\
         settings.rules = [{ id = \"codename\", keywords = [\"Project Falcon\"], action = \"block\" }]\n",
    )
    .await;
    let prompt = "mail jane.doe@example.com please";
    let response = h
        .openai(json!({"model": "@oa/echo-last", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": prompt}]}))
        .await;
    assert_eq!(response.status(), 200);
    let response = h
        .openai(json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "Project Falcon?"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let blocked_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

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
    let start = prompt.find("jane").unwrap() as u32;
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
    assert_eq!(
        block.request_id, blocked_id,
        "the client sees the id its records carry"
    );

    // The CLI shows the same records, filtered, and the chain verifies.
    let db = h.audit_db.to_str().unwrap();
    let output = sluice()
        .args([
            "audit",
            "--db",
            db,
            "--rule",
            "pii.email",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["key_id"], "team-a");
    assert_eq!(lines[0]["span"], json!([start, start + 20]));
    let output = sluice()
        .args(["audit", "--db", db, "--action", "block", "--since", "1h"])
        .output()
        .unwrap();
    let (table, _) = text(&output);
    assert_eq!(table.lines().count(), 2, "header and one row: {table}");
    assert!(table.contains("org-rules.codename"), "{table}");
    let output = sluice()
        .args(["audit", "verify", "--db", db])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));

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

#[tokio::test(flavor = "multi_thread")]
async fn verify_names_the_first_record_that_was_tampered_with() {
    let h = start("[[guardrails]]\nplugin = \"pii\"\n").await;
    for i in 0..3 {
        let response = h
            .openai(json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": format!("user{i}@corp.io")}]}))
            .await;
        assert_eq!(response.status(), 200);
    }
    // Three request redactions and three response ones (the echo repeats the placeholder only).
    let records = h.audit_records(3).await;
    assert!(records.len() >= 3);
    let store = sluice::audit::sqlite::SqliteStore::open(&h.audit_db).unwrap();
    store
        .connection()
        .execute("UPDATE audit SET key_id = 'someone-else' WHERE seq = 2", [])
        .unwrap();
    let output = sluice()
        .args(["audit", "verify", "--db", h.audit_db.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("broken at record 2"), "{stdout}");
}
