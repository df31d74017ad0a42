//! The MCP gateway (`/mcp`): test MCP servers (rmcp's server, see
//! [`crate::mock_mcp`]) behind the gateway, and the official SDK's client
//! (rmcp) in front of it, speaking Streamable HTTP with a gateway key.

use crate::gateway::{Harness, KEY, start};
use crate::mock_mcp::{EMAIL, MockMcp, SECRET, UPSTREAM_TOKEN};
use crate::sdk::{assert_ok, available, python_has, run};
use axum::http::{HeaderName, HeaderValue};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig, ReadResourceRequestParams};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;

/// A second key, of another team, that no `[[mcp_access]]` entry names.
const OTHER_KEY: &str = "gw-key-other-team-0123456789";

const OTHER: &str = "[[keys]]\nid = \"other\"\nkey = \"gw-key-other-team-0123456789\"\nmetadata = { team = \"b\" }\n";

const GUARDRAILS: &str = r#"
[[guardrails]]
plugin = "secrets"

[[guardrails]]
plugin = "pii"

[[guardrails]]
plugin = "org-rules"
settings.rules = [
  { id = "codename", keywords = ["Project Falcon"], action = "block", message = "Project names stay inside." },
]
"#;

type Client = RunningService<RoleClient, ClientConfig>;

/// An MCP client of the gateway with gateway key `key`.
async fn client(h: &Harness, key: &str) -> Client {
    let mut headers = HashMap::new();
    headers.insert(
        HeaderName::from_static("authorization"),
        HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
    );
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", h.base))
        .custom_headers(headers);
    ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("the gateway's MCP endpoint initializes")
}

async fn call(
    client: &Client,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let arguments = arguments.as_object().unwrap().clone();
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
}

/// A bare `initialize` POST to the gateway's `/mcp` (an older protocol
/// version, which keeps a session), with `key` if any.
async fn initialize(h: &Harness, key: Option<&str>) -> reqwest::Response {
    let mut request = h
        .client
        .post(format!("{}/mcp", h.base))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "1"}}
        }));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// The message of a JSON-RPC error answer.
async fn error_message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["message"].as_str().unwrap().to_string()
}

/// The names of the tools `client` is shown, sorted.
async fn tool_names(client: &Client) -> Vec<String> {
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<String> = tools.into_iter().map(|t| t.name.to_string()).collect();
    names.sort();
    names
}

/// The text of a result's content blocks.
fn text(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

/// Two test servers as `alpha` and `beta`, team a granted all of `alpha` and
/// `beta__echo`, and `extra` (TOML) after them.
async fn two_servers(extra: &str) -> (Harness, MockMcp, MockMcp) {
    let alpha = MockMcp::start("alpha").await;
    let beta = MockMcp::start("beta").await;
    let config = format!(
        "{}{}{OTHER}\n[[mcp_access]]\nteam = \"a\"\nservers = [\"alpha\"]\ntools = [\"beta__echo\"]\n{extra}",
        alpha.config("alpha"),
        beta.config("beta"),
    );
    (start(&config).await, alpha, beta)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_are_one_and_each_key_sees_only_what_it_may_use() {
    let (h, alpha, beta) = two_servers("").await;
    let mcp = client(&h, KEY).await;
    assert_eq!(
        tool_names(&mcp).await,
        [
            "alpha__echo",
            "alpha__email",
            "alpha__fail",
            "alpha__hang",
            "alpha__progress",
            "alpha__secret",
            "beta__echo"
        ]
    );
    let answer = call(&mcp, "beta__echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert!(text(&answer).contains("beta: hi"), "{answer:?}");
    let answer = call(&mcp, "alpha__echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert!(text(&answer).contains("alpha: hi"), "{answer:?}");
    assert_eq!(beta.received().len(), 1);
    assert_eq!(alpha.received().len(), 1);

    // a tool of beta's that team a was not granted
    let refused = call(&mcp, "beta__secret", json!({})).await.unwrap_err();
    assert!(
        refused.to_string().contains("may not use `beta__secret`"),
        "{refused}"
    );
    assert_eq!(
        beta.received().len(),
        1,
        "the refused call never went upstream"
    );

    // prompts and resources of the whole server granted, prefixed
    let prompts = mcp.list_all_prompts().await.unwrap();
    let prompts: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(prompts, ["alpha__greet"]);
    let resources = mcp.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0].uri, "alpha+file:///notes.txt");

    // a key no [[mcp_access]] entry names sees nothing and may call nothing
    let other = client(&h, OTHER_KEY).await;
    assert!(other.list_all_tools().await.unwrap().is_empty());
    assert!(other.list_all_prompts().await.unwrap().is_empty());
    let refused = call(&other, "alpha__echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("may not use"), "{refused}");
    assert_eq!(alpha.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_valid_gateway_key_the_endpoint_answers_401_and_never_the_upstream_credential() {
    let (h, alpha, _beta) = two_servers("").await;
    for key in [None, Some("wrong-key-0123456789")] {
        let response = initialize(&h, key).await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert!(error_message(response).await.contains("gateway key"));
    }
    // a session is the key's that opened it
    let response = initialize(&h, Some(KEY)).await;
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let stolen = h
        .client
        .post(format!("{}/mcp", h.base))
        .bearer_auth(OTHER_KEY)
        .header("mcp-session-id", &session)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 404);
    let body = stolen.text().await.unwrap();
    assert!(!body.contains(UPSTREAM_TOKEN));
    assert!(alpha.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn guardrails_redact_tool_results_and_arguments_and_a_block_is_a_tool_error() {
    let (h, alpha, _beta) = two_servers(GUARDRAILS).await;
    let mcp = client(&h, KEY).await;

    // a result carrying a token and one carrying an e-mail address: redacted
    let answer = call(&mcp, "alpha__secret", json!({})).await.unwrap();
    let shown = text(&answer);
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("GITHUB_TOKEN="), "{shown}");
    assert_ne!(answer.is_error, Some(true));
    let answer = call(&mcp, "alpha__email", json!({})).await.unwrap();
    assert!(!text(&answer).contains(EMAIL), "{answer:?}");

    // arguments are checked before they go upstream
    let answer = call(
        &mcp,
        "alpha__echo",
        json!({"text": format!("mail {EMAIL}")}),
    )
    .await
    .unwrap();
    let (tool, arguments) = alpha.received().pop().unwrap();
    assert_eq!(tool, "echo");
    let sent = arguments["text"].as_str().unwrap();
    assert!(sent.starts_with("mail ") && !sent.contains(EMAIL), "{sent}");
    assert!(!text(&answer).contains(EMAIL));

    // a block is an isError result with the rule's message, never the match
    let before = alpha.received().len();
    let blocked = call(&mcp, "alpha__echo", json!({"text": "about Project Falcon"}))
        .await
        .unwrap();
    assert_eq!(blocked.is_error, Some(true));
    let shown = text(&blocked);
    assert!(shown.contains("Project names stay inside."), "{shown}");
    assert!(!shown.contains("Falcon"), "{shown}");
    assert_eq!(
        alpha.received().len(),
        before,
        "the blocked call never went upstream"
    );

    // a resource and a prompt are checked too
    let read = mcp
        .read_resource(ReadResourceRequestParams::new("alpha+file:///notes.txt"))
        .await
        .unwrap();
    let read = serde_json::to_string(&read).unwrap();
    assert!(!read.contains(SECRET), "{read}");
    assert!(read.contains("alpha+file:///notes.txt"), "{read}");

    // the audit trail has each finding, as a model call's, naming server and tool
    let records = h.audit_records(4).await;
    let secret = records
        .iter()
        .find(|r| r.model == "@alpha/secret")
        .expect("an audit record of the secret tool's result");
    assert_eq!(secret.api, "mcp");
    assert_eq!(secret.phase, "response");
    assert_eq!(secret.key_id.as_deref(), Some("team-a"));
    assert_eq!(secret.team.as_deref(), Some("a"));
    assert!(
        records
            .iter()
            .any(|r| r.model == "@alpha/echo" && r.phase == "request")
    );
    for record in &records {
        let json = serde_json::to_string(record).unwrap();
        assert!(!json.contains(SECRET) && !json.contains(EMAIL), "{json}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_hangs_fails_is_down_or_speaks_no_mcp_gives_a_clear_error_and_the_rest_carry_on()
 {
    // a server that answers every request with a web page
    let junk = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let junk_addr = junk.local_addr().unwrap();
    let page = axum::Router::new().fallback(|| async { "<html>surprise</html>" });
    tokio::spawn(async move { axum::serve(junk, page).await });
    let broken = format!(
        "[[mcp_servers]]\nid = \"dead\"\nurl = \"http://127.0.0.1:9/mcp\"\n\
         [[mcp_servers]]\nid = \"junk\"\nurl = \"http://{junk_addr}/mcp\"\n\
         [[mcp_access]]\nkey = \"team-a\"\nservers = [\"dead\", \"junk\"]\n"
    );
    let (h, _alpha, _beta) = two_servers(&broken).await;
    let mcp = client(&h, KEY).await;

    // the dead server is left out of the list; the others are there
    let tools = mcp.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "alpha__echo"));
    assert!(!tools.iter().any(|t| t.name.starts_with("dead__")));
    let error = call(&mcp, "dead__anything", json!({})).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("MCP server `dead` is unavailable"),
        "{error}"
    );
    assert!(!tools.iter().any(|t| t.name.starts_with("junk__")));
    let error = call(&mcp, "junk__anything", json!({})).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("MCP server `junk` is unavailable"),
        "{error}"
    );

    // a hung tool times out (timeout_s = 2) while another call is served
    let (hung, served) = tokio::join!(
        call(&mcp, "alpha__hang", json!({})),
        call(&mcp, "beta__echo", json!({"text": "still here"}))
    );
    let hung = hung.unwrap_err();
    assert!(
        hung.to_string()
            .contains("MCP server `alpha` did not answer within 2 s"),
        "{hung}"
    );
    assert!(text(&served.unwrap()).contains("still here"));
    // and the server's connection still serves after the timeout
    let answer = call(&mcp, "alpha__echo", json!({"text": "again"}))
        .await
        .unwrap();
    assert!(text(&answer).contains("alpha: again"));

    // a tool's own error passes through as its isError result
    let failed = call(&mcp, "alpha__fail", json!({})).await.unwrap();
    assert_eq!(failed.is_error, Some(true));
    assert!(text(&failed).contains("the tool failed"));

    // an unknown name
    let error = call(&mcp, "nosuch", json!({})).await.unwrap_err();
    assert!(error.to_string().contains("no tool `nosuch`"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_are_rate_limited_per_tool_and_in_the_metrics_and_request_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let limit = format!(
        "[[mcp_rate_limits]]\nid = \"echo-calls\"\ntool = \"alpha__echo\"\nper = \"minute\"\nrequests = 2\n\
         [request_log]\nmode = \"always\"\npath = {:?}\n",
        log.display().to_string()
    );
    let (h, alpha, _beta) = two_servers(&limit).await;
    let mcp = client(&h, KEY).await;
    crate::support::clear_of_a_minute_edge().await;
    for _ in 0..2 {
        call(&mcp, "alpha__echo", json!({"text": "x"}))
            .await
            .unwrap();
    }
    let refused = call(&mcp, "alpha__echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("rate limit `echo-calls`"),
        "{refused}"
    );
    assert_eq!(alpha.received().len(), 2);
    // another tool is not limited
    call(&mcp, "beta__echo", json!({"text": "x"}))
        .await
        .unwrap();

    // one request-log line per tool call: server, tool, key, team, outcome, latency
    let lines = crate::observability::log_lines(&log, 4).await;
    let calls: Vec<&Value> = lines.iter().filter(|l| l["api"] == "mcp").collect();
    assert_eq!(calls.len(), 4, "{lines:?}");
    let refused = calls
        .iter()
        .find(|l| l["status"] == 429)
        .expect("the refused call is logged");
    assert_eq!(refused["provider"], "alpha");
    assert_eq!(refused["model"], "@alpha/echo");
    assert_eq!(refused["key_id"], "team-a");
    assert_eq!(refused["team"], "a");
    assert_eq!(refused["error"]["class"], "rate_limited");
    let served = calls.iter().find(|l| l["status"] == 200).unwrap();
    assert!(served["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(served["upstream_ms"].as_f64().is_some());
    let metrics = h.metrics().await;
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("sluice_requests_total") && l.contains("api=\"mcp\""))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("provider=\"alpha\"") && l.contains("status=\"429\"")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("model=\"@alpha/echo\"") && l.contains("status=\"200\"")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_bounded_in_number() {
    let (h, _alpha, _beta) = two_servers("[mcp]\nmax_sessions = 1\n").await;
    let first = initialize(&h, Some(KEY)).await;
    assert_eq!(first.status(), 200);
    let session = first.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let response = initialize(&h, Some(KEY)).await;
    assert_eq!(response.status(), 503);
    assert!(error_message(response).await.contains("max_sessions"));
    // once the session is closed, a new one may open
    let closed = h
        .client
        .delete(format!("{}/mcp", h.base))
        .bearer_auth(KEY)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(closed.status().is_success(), "{}", closed.status());
    assert_eq!(initialize(&h, Some(KEY)).await.status(), 200);
}

/// The process id the stdio test server answers `pid` with.
async fn stdio_pid(mcp: &Client) -> Result<String, String> {
    let answer = call(mcp, "local__pid", json!({}))
        .await
        .map_err(|e| e.to_string())?;
    let content = serde_json::to_value(&answer.content).unwrap();
    Ok(content[0]["text"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdio_server_is_started_by_the_gateway_and_restarted_when_it_dies() {
    if !available(python_has("mcp"), "the `mcp` Python package") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sdk/mcp_stdio_server.py");
    let config = format!(
        "[[mcp_servers]]\nid = \"local\"\ncommand = \"python3\"\nargs = [{:?}]\n\
         [[mcp_access]]\nkey = \"*\"\nservers = [\"local\"]\n",
        script.display().to_string()
    );
    let h = start(&config).await;
    let mcp = client(&h, KEY).await;
    assert_eq!(tool_names(&mcp).await, ["local__echo", "local__pid"]);
    let first = stdio_pid(&mcp).await.unwrap();
    assert!(first.parse::<u32>().is_ok(), "{first}");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first])
        .status()
        .unwrap();
    assert!(killed.success());
    // Calls fail while it is down (clearly, naming the server), and answer
    // again from a new process once the gateway has restarted it.
    let mut restarted = None;
    for _ in 0..200 {
        match stdio_pid(&mcp).await {
            Ok(pid) if pid != first => {
                restarted = Some(pid);
                break;
            }
            Ok(_) => {}
            Err(error) => assert!(error.contains("MCP server `local`"), "{error}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let restarted = restarted.expect("the stdio server was restarted");
    assert_ne!(restarted, first);
    let answer = call(&mcp, "local__echo", json!({"text": "back"}))
        .await
        .unwrap();
    assert!(text(&answer).contains("stdio: back"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_mcp_sdks_streamable_http_client_works_unchanged() {
    if !available(python_has("mcp"), "the `mcp` Python package") {
        return;
    }
    let (h, _alpha, _beta) = two_servers(GUARDRAILS).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sdk/mcp_client.py");
    let mut command = std::process::Command::new("python3");
    command
        .arg(&script)
        .arg(&h.base)
        .arg(KEY)
        .arg(SECRET)
        .arg(EMAIL);
    let output = run(command).await;
    assert_ok("mcp_client.py", &output);
}

/// Claude Code with the gateway's `/mcp` added as an HTTP MCP server, and a
/// model (the mock's `mcp-agent`) that calls the test server's `secret` tool:
/// the call goes through sluice, the token in the result reaches the model
/// redacted, the audit trail has the call, and a key without the tool never
/// gets to call it.
#[tokio::test(flavor = "multi_thread")]
async fn claude_code_calls_a_tool_through_the_gateway() {
    let Some(claude) = crate::sdk::agent("claude") else {
        available(false, "Claude Code (npm @anthropic-ai/claude-code)");
        return;
    };
    let alpha = MockMcp::start("alpha").await;
    let config = format!(
        "{}{OTHER}\n[[mcp_access]]\nkey = \"team-a\"\nservers = [\"alpha\"]\n{GUARDRAILS}",
        alpha.config("alpha")
    );
    let h = crate::gateway::start_with_models("\"mcp-agent\" = \"@an/mcp-agent\"\n", &config).await;
    for (key, allowed) in [(KEY, true), (OTHER_KEY, false)] {
        let home = tempfile::tempdir().unwrap();
        let claude_env = |command: &mut std::process::Command| {
            command
                .current_dir(home.path())
                .env("HOME", home.path())
                .env("ANTHROPIC_BASE_URL", &h.base)
                .env("ANTHROPIC_API_KEY", key)
                .env("ANTHROPIC_SMALL_FAST_MODEL", "claude-test")
                .env("ANTHROPIC_DEFAULT_HAIKU_MODEL", "claude-test")
                .env("DISABLE_TELEMETRY", "1")
                .env("DISABLE_AUTOUPDATER", "1")
                .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
                .env_remove("ANTHROPIC_AUTH_TOKEN");
        };
        let mut add = std::process::Command::new(&claude);
        add.args(["mcp", "add", "--transport", "http", "sluice"])
            .arg(format!("{}/mcp", h.base))
            .args(["--header", &format!("Authorization: Bearer {key}")]);
        claude_env(&mut add);
        assert_ok("claude mcp add", &run(add).await);
        let before = h.mock.received().len();
        let mut ask = std::process::Command::new(&claude);
        ask.args(["-p", "read the secret file", "--model", "mcp-agent"])
            .args(["--allowedTools", crate::mock_upstream::MCP_AGENT_TOOL]);
        claude_env(&mut ask);
        let stdout = assert_ok("claude -p", &run(ask).await);
        assert!(stdout.contains("the tool has answered"), "{stdout}");
        // what the model was sent after the tool ran
        let received = h.mock.received();
        let results: Vec<String> = received[before..]
            .iter()
            .filter(|r| r.body["model"] == "mcp-agent")
            .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .filter(|b| b["type"] == "tool_result")
            .map(|b| b["content"].to_string())
            .collect();
        assert!(!results.is_empty(), "Claude Code sent the tool's result");
        assert!(results.iter().all(|r| !r.contains(SECRET)), "{results:?}");
        if allowed {
            assert!(
                results.iter().any(|r| r.contains("GITHUB_TOKEN=")),
                "{results:?}"
            );
            assert_eq!(
                alpha.received().len(),
                1,
                "the tool ran once, through sluice"
            );
            let records = h.audit_records(1).await;
            assert!(
                records.iter().any(|r| r.api == "mcp"
                    && r.model == "@alpha/secret"
                    && r.key_id.as_deref() == Some("team-a")),
                "{records:?}"
            );
        } else {
            assert_eq!(
                alpha.received().len(),
                1,
                "a key without the tool never ran it"
            );
        }
    }
}
