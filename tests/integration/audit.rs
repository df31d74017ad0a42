//! The audit trail through the gateway: what a security team would look for
//! after a redacted, a blocked and a streamed request.

use crate::gateway::{KEY, start, start_with_audit};
use crate::mock_upstream::LEAKED_EMAIL;
use crate::support::{PostgresSchema, sluice, spawn_serve, text};
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

const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
const GITHUB_TOKEN: &str = "ghp_FaKeA01yFdxCN4ki6E2UVnj4dfxo5NAPN5WY";

#[tokio::test(flavor = "multi_thread")]
async fn postgres_keeps_the_trail_and_the_admin_api_serves_it_to_the_admin_key_only() {
    let Some(schema) = PostgresSchema::create() else {
        return;
    };
    let h = start_with_audit(
        Some(&format!(
            "url = {:?}\nhash_key = \"test-audit-hash-key\"\n",
            schema.url
        )),
        &format!(
            "[admin]\nkey = \"{ADMIN_KEY}\"\n\n\
             [[guardrails]]\nplugin = \"secrets\"\n\n[[guardrails]]\nplugin = \"pii\"\n\n\
             [[guardrails]]\nplugin = \"org-rules\"\n\
             settings.rules = [{{ id = \"codename\", keywords = [\"Project Falcon\"], action = \"block\" }}]\n"
        ),
    )
    .await;
    let prompt = format!("mail jane.doe@example.com, token {GITHUB_TOKEN}");
    let response = h
        .openai(
            json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": prompt}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer = response.text().await.unwrap();
    let response = h
        .openai(json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": "Project Falcon?"}]}))
        .await;
    assert_eq!(response.status(), 400);
    let blocked_body = response.text().await.unwrap();

    // The admin API: off to everyone but the admin key.
    let admin = |query: &str, key: Option<&str>| {
        let mut request = h.client.get(format!("{}/admin/audit{query}", h.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(admin("", None).await.unwrap().status(), 401);
    let refused = admin("", Some(KEY)).await.unwrap();
    assert_eq!(refused.status(), 401, "a gateway key is not an admin key");
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["type"], "authentication_error");
    let bad = admin("?action=delete", Some(ADMIN_KEY)).await.unwrap();
    assert_eq!(bad.status(), 400);

    // Wait for the writer, then read every record, a page at a time.
    let mut all = Vec::new();
    for _ in 0..100 {
        let page: Value = admin("", Some(ADMIN_KEY))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all = page["data"].as_array().unwrap().clone();
        if all.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rules: Vec<&str> = all.iter().filter_map(|r| r["rule"].as_str()).collect();
    assert!(rules.contains(&"pii.email"), "{all:?}");
    assert!(rules.contains(&"secrets.github-pat"), "{all:?}");
    assert!(rules.contains(&"org-rules.codename"), "{all:?}");
    let email = all.iter().find(|r| r["rule"] == "pii.email").unwrap();
    assert_eq!(email["key_id"], "team-a");
    assert_eq!(email["outcome"], "redact");
    let start = prompt.find("jane").unwrap();
    assert_eq!(email["span"], json!([start, start + 20]));
    let block = all
        .iter()
        .find(|r| r["rule"] == "org-rules.codename")
        .unwrap();
    assert_eq!(block["outcome"], "block");

    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = admin(&format!("?limit=1&after={after}"), Some(ADMIN_KEY))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["seq"].clone()),
        );
        if page["has_more"] == false {
            break;
        }
        after = page["next_after"].as_i64().unwrap();
    }
    let every: Vec<Value> = all.iter().map(|r| r["seq"].clone()).collect();
    assert_eq!(seen, every, "pages of one add up to the whole trail");
    let filtered: Value = admin("?action=block&key=team-a&tag=team%3Da", Some(ADMIN_KEY))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1, "{filtered}");

    // The CLI reads and verifies the same trail.
    let output = sluice()
        .args(["audit", "verify", "--db", &schema.url])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok: {} records", all.len())),
        "{stdout}"
    );

    // Nothing the client sent is in the database, the answers or the error.
    let rows = schema.query_text("SELECT row_to_json(t)::text FROM sluice_audit t");
    assert_eq!(rows.len(), all.len());
    let dump = rows.join("\n");
    for secret in [
        "jane.doe",
        "example.com",
        GITHUB_TOKEN,
        "FaKeA01y",
        "Project Falcon",
    ] {
        assert!(!dump.contains(secret), "`{secret}` is in the database");
        assert!(!answer.contains(secret), "`{secret}` reached the answer");
        assert!(!blocked_body.contains(secret), "`{secret}` is in the error");
    }
}

/// What a load run saw: each answered request's id and when its answer was
/// complete, and when the signal was sent.
struct LoadRun {
    answered: Vec<(String, std::time::Instant)>,
    signalled_at: std::time::Instant,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Sixteen clients send requests with a new e-mail address each (one redaction
/// record per request) to a `sluice serve` process, which gets `signal` after a
/// second of it.
async fn load_then_signal(signal: &str) -> LoadRun {
    let mock = crate::mock_upstream::MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::pii_config(&mock, dir.path());
    let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    // Debug logs, to check that none of them holds an address.
    let mut served = spawn_serve(&config, log.into(), &[("SLUICE_LOG", "debug")]).await;
    let base = served.base.clone();
    let client = reqwest::Client::new();
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let (client, base, answered) = (client.clone(), base.clone(), answered.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let body = json!({"model": "@oa/echo-last", "messages": [
                        {"role": "user", "content": format!("write to user{c}x{i}@corp.io")}]});
                    let Ok(response) = client
                        .post(format!("{base}/v1/chat/completions"))
                        .json(&body)
                        .send()
                        .await
                    else {
                        return;
                    };
                    let id = response.headers()["x-request-id"]
                        .to_str()
                        .unwrap()
                        .to_string();
                    if response.status() != 200 || response.bytes().await.is_err() {
                        return;
                    }
                    answered
                        .lock()
                        .unwrap()
                        .push((id, std::time::Instant::now()));
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let signalled_at = std::time::Instant::now();
    served.signal(signal);
    for client in clients {
        client.await.unwrap();
    }
    let mut child = served.child.take().unwrap();
    tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    LoadRun {
        answered,
        signalled_at,
        db: dir.path().join("audit.db"),
        _dir: dir,
    }
}

impl LoadRun {
    /// The gateway's log, checked to hold none of the addresses it redacted.
    fn check_log(&self) {
        let log = std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap();
        assert!(log.lines().count() > 1, "the gateway logged: {log}");
        assert!(!log.contains("@corp.io"), "an address is in the log");
    }

    /// The request ids in the trail, after checking that its chain holds.
    fn recorded(&self) -> std::collections::HashSet<String> {
        use sluice::audit::Store;
        let mut store = sluice::audit::sqlite::SqliteStore::open(&self.db).unwrap();
        assert!(store.verify().unwrap().is_ok(), "the chain holds");
        let records = store.query(&sluice::audit::Filter::default()).unwrap();
        records.into_iter().map(|(_, r)| r.request_id).collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_loses_no_record_of_an_answered_request() {
    let run = load_then_signal("-TERM").await;
    run.check_log();
    let recorded = run.recorded();
    assert!(run.answered.len() > 50, "load: {}", run.answered.len());
    let missing: Vec<_> = run
        .answered
        .iter()
        .filter(|(id, _)| !recorded.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests have no record",
        missing.len(),
        run.answered.len()
    );
}

/// A crash loses at most the records queued in the last moments (docs/audit.md
/// says 50 ms plus one commit; the test allows 500 ms for a loaded machine).
#[tokio::test(flavor = "multi_thread")]
async fn a_kill_under_load_loses_only_the_last_moments() {
    let run = load_then_signal("-KILL").await;
    let recorded = run.recorded();
    let window = std::time::Duration::from_millis(500);
    let settled: Vec<_> = run
        .answered
        .iter()
        .filter(|(_, at)| *at + window < run.signalled_at)
        .collect();
    assert!(settled.len() > 50, "load: {}", settled.len());
    let lost: Vec<_> = settled
        .iter()
        .filter(|(id, _)| !recorded.contains(id))
        .collect();
    let unrecorded: Vec<_> = run
        .answered
        .iter()
        .filter(|(id, _)| !recorded.contains(id))
        .collect();
    let oldest = unrecorded
        .iter()
        .map(|(_, at)| run.signalled_at.saturating_duration_since(*at))
        .max()
        .unwrap_or_default();
    eprintln!(
        "kill under load: {} answered, {} recorded, {} answered without a record, the oldest answered {oldest:?} before the kill",
        run.answered.len(),
        recorded.len(),
        unrecorded.len(),
    );
    assert!(
        lost.is_empty(),
        "{} requests answered over {window:?} before the kill have no record",
        lost.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_metadata_reaches_guardrails_and_the_trail_and_cannot_change_the_team() {
    let h = start(
        "[[guardrails]]\nplugin = \"pii\"\n\n[[guardrails]]\nplugin = \"org-rules\"\n\
         settings.rules = [{ id = \"no-ci\", metadata = { app = \"ci\" }, action = \"block\", message = \"CI may not call models.\" }]\n",
    )
    .await;
    let send = |metadata: &str, content: &str| {
        h.client
            .post(format!("{}/v1/chat/completions", h.base))
            .bearer_auth(KEY)
            .header("x-sluice-metadata", metadata)
            .json(&json!({"model": "@oa/echo-last", "messages": [{"role": "user", "content": content}]}))
            .send()
    };
    let response = send(r#"{"app": "cli", "session": "s-42"}"#, "mail ann@corp.io")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let records = h.audit_records(1).await;
    assert_eq!(
        records[0].metadata,
        [
            ("team".to_string(), "a".to_string()),
            ("app".into(), "cli".into()),
            ("session".into(), "s-42".into())
        ]
    );
    let output = sluice()
        .args(["audit", "--db", h.audit_db.to_str().unwrap()])
        .args(["--tag", "session=s-42", "--format", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(text(&output).0.lines().count(), 1, "{:?}", text(&output));

    // A guardrail scoped to a request tag sees it.
    let response = send(r#"{"app": "ci"}"#, "hello").await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CI may not call models."),
        "{body}"
    );

    // The key's own tags win, and a malformed header is a clear error.
    let response = send(r#"{"team": "b"}"#, "hello").await.unwrap();
    assert_eq!(response.status(), 403);
    let response = h
        .client
        .post(format!("{}/v1/messages", h.base))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .header("x-sluice-metadata", "app=cli")
        .json(&json!({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-sluice-metadata"),
        "{body}"
    );
    assert!(
        h.mock
            .received()
            .iter()
            .all(|r| !r.headers.contains_key("x-sluice-metadata")),
        "the header is not sent upstream"
    );
}
