//! Wire compatibility, proven with official clients as they are used: the
//! `openai` and `anthropic` Python packages, Claude Code and the Pi coding agent,
//! each against the gateway in front of the mock upstream.
//!
//! The clients are not part of the Rust toolchain. `.ci/run` installs them and
//! sets `SLUICE_REQUIRE_CLIENTS=1`, which makes a missing client a failure; a
//! developer without them sees each such test report what it needs instead.
//! `SLUICE_TEST_OFFLINE=1` makes every client count as absent (`.ci/run` runs
//! the suite that way first, as a fresh machine would).

use crate::gateway::{Harness, KEY, start, start_with_models};
use crate::support::offline;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GUARDRAILS: &str = "[[guardrails]]\nplugin = \"pii\"\n";

/// Whether a missing client fails the test (CI) or is reported (elsewhere).
fn required() -> bool {
    std::env::var("SLUICE_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// Whether `present` counts: not when every client is forced absent
/// ([`offline`]).
fn installed(present: impl FnOnce() -> bool) -> bool {
    !offline() && present()
}

/// Returns false (after saying why) when `what` is missing outside CI.
pub fn available(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        !required(),
        "{what} is required (SLUICE_REQUIRE_CLIENTS=1) but not installed"
    );
    if offline() {
        eprintln!("NOT RUN: {what} (SLUICE_TEST_OFFLINE=1)");
    } else {
        eprintln!("NOT RUN: {what} is not installed (.ci/run installs it)");
    }
    false
}

/// Whether Python package `module` is installed (never when [`offline`]).
pub fn python_has(module: &str) -> bool {
    installed(|| {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// An npm-installed agent: on PATH, or under `$SLUICE_AGENTS_DIR/node_modules/.bin`.
pub fn agent(bin: &str) -> Option<PathBuf> {
    if offline() {
        return None;
    }
    if let Some(dir) = std::env::var_os("SLUICE_AGENTS_DIR") {
        let path = Path::new(&dir).join("node_modules/.bin").join(bin);
        if path.exists() {
            return Some(path);
        }
    }
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .ok()?;
    found
        .status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
}

pub async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("client runs"))
        .await
        .unwrap()
}

pub fn assert_ok(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

async fn python_script(script: &str, module: &str) {
    python_script_with(script, module, GUARDRAILS).await;
}

async fn python_script_with(script: &str, module: &str, config: &str) {
    if !available(
        python_has(module),
        &format!("the `{module}` Python package"),
    ) {
        return;
    }
    let h = start(config).await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/sdk")
        .join(script);
    let mut command = Command::new("python3");
    command.arg(&path).arg(&h.base).arg(KEY);
    let output = run(command).await;
    assert_ok(script, &output);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_python_sdk_works_unchanged() {
    python_script("openai_client.py", "openai").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_python_sdks_responses_api_works() {
    python_script("responses_client.py", "openai").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_anthropic_python_sdk_works_unchanged() {
    python_script("anthropic_client.py", "anthropic").await;
}

/// Routing configs over the harness's providers and the mock's failing models.
const ROUTING: &str = r#"
[routing.on-500]
strategy = "fallback"
targets = [{ model = "@oa/status-500" }, { model = "@an/echo-last" }]

[routing.on-timeout]
strategy = "fallback"
targets = [{ model = "@oa/slow", timeout_s = 1 }, { model = "@an/echo-last" }]

[routing.on-malformed]
strategy = "fallback"
targets = [{ model = "@oa/not-json" }, { model = "@oa/dies-before-first-event" }, { model = "@an/echo-last" }]

[routing.retry-flaky]
strategy = "single"
retry = { attempts = 3, backoff_ms = 10 }
targets = [{ model = "@oa/flaky-2-sdk" }]

[routing.split]
strategy = "loadbalance"
targets = [{ model = "@oa/echo-last" }, { model = "@an/echo-last" }]

[routing.by-temperature]
strategy = "conditional"
conditions = [{ when = { "params.temperature" = { gt = 0.5 } }, then = "creative" }]
default = "careful"
targets = [{ name = "creative", model = "@oa/echo-last" }, { name = "careful", model = "@an/echo-last" }]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn every_routing_strategy_works_through_the_python_sdks() {
    if !available(python_has("openai"), "the `openai` Python package") {
        return;
    }
    python_script_with("routing_client.py", "anthropic", ROUTING).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn budgets_and_rate_limits_reach_the_python_sdks_as_their_own_errors() {
    let limits = r#"
[[rate_limits]]
id = "daily"
key = "*"
per = "day"
requests = 3

[[budgets]]
id = "capped-tokens"
tag = "project=capped"
period = "day"
tokens = 15

[metadata]
request_tags = ["project"]
"#;
    if !available(python_has("openai"), "the `openai` Python package") {
        return;
    }
    python_script_with("governance_client.py", "anthropic", limits).await;
}

/// What the mock received from an agent: the last user text it saw.
fn last_user_texts(h: &Harness) -> Vec<String> {
    h.mock
        .received()
        .iter()
        .filter(|r| r.path.ends_with("/messages") || r.path.ends_with("/completions"))
        .map(|r| r.body["messages"].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_completes_a_chat_through_sluice() {
    claude_code_on("claude-test", "/v1/messages").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_works_on_an_openai_model_through_translation() {
    claude_code_on("claude-on-openai", "/v1/chat/completions").await;
}

/// Runs `claude -p` with `model` (an alias) and checks the mock got the calls on `path`.
async fn claude_code_on(model: &str, path: &str) {
    let Some(claude) = agent("claude") else {
        available(false, "Claude Code (npm @anthropic-ai/claude-code)");
        return;
    };
    let h = start(GUARDRAILS).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(claude);
    command
        .args(["-p", "say hi to jane.doe@example.com", "--model", model])
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", &h.base)
        .env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_SMALL_FAST_MODEL", model)
        .env("ANTHROPIC_DEFAULT_HAIKU_MODEL", model)
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env_remove("ANTHROPIC_AUTH_TOKEN");
    let output = run(command).await;
    let stdout = assert_ok("claude -p", &output);
    assert!(
        stdout.contains("you said:"),
        "the mock's answer reaches the user: {stdout}"
    );
    assert!(stdout.contains("say hi to [EMAIL_1]"), "{stdout}");
    let sent = last_user_texts(&h);
    assert!(!sent.is_empty(), "Claude Code called the gateway");
    assert!(
        sent.iter().all(|m| !m.contains("jane.doe@example.com")),
        "the address never went upstream"
    );
    let received = h.mock.received();
    let first = &received[0];
    let seen: Vec<(&str, &Value)> = received
        .iter()
        .map(|r| (r.path.as_str(), &r.body["model"]))
        .collect();
    assert_eq!(first.path, path, "calls: {seen:?}");
    assert!(first.body["stream"] == true, "Claude Code streams");
}

/// As a new user runs it: no `--model`, so Claude Code asks for its own
/// default, which only the README's pattern (`"claude-*" = "@anthropic/*"`)
/// covers; its session header reaches the audit record of the redaction.
#[tokio::test(flavor = "multi_thread")]
async fn claude_code_with_no_model_flag_works_through_the_readmes_pattern() {
    let Some(claude) = agent("claude") else {
        available(false, "Claude Code (npm @anthropic-ai/claude-code)");
        return;
    };
    let h = start_with_models("\"claude-*\" = \"@an/*\"\n", GUARDRAILS).await;
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(claude);
    command
        .args(["-p", "say hi to jane.doe@example.com"])
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", &h.base)
        .env("ANTHROPIC_API_KEY", KEY)
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .env_remove("ANTHROPIC_MODEL")
        .env_remove("ANTHROPIC_SMALL_FAST_MODEL")
        .env_remove("ANTHROPIC_DEFAULT_HAIKU_MODEL");
    let output = run(command).await;
    let stdout = assert_ok("claude -p", &output);
    assert!(stdout.contains("say hi to [EMAIL_1]"), "{stdout}");
    let received = h.mock.received();
    let models: Vec<&Value> = received.iter().map(|r| &r.body["model"]).collect();
    assert!(!received.is_empty(), "Claude Code called the gateway");
    assert!(
        received.iter().all(|r| r.path == "/v1/messages"
            && r.body["model"]
                .as_str()
                .is_some_and(|m| m.starts_with("claude-") && m != "claude-test")),
        "its own default model names, as they are: {models:?}"
    );
    let records = h.audit_records(1).await;
    assert!(
        records.iter().any(|r| r
            .metadata
            .iter()
            .any(|(name, value)| name == "claude_code_session" && !value.is_empty())),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pi_completes_a_chat_through_sluice() {
    pi_on("@oa/echo-last", "/v1/chat/completions").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pi_works_on_an_anthropic_model_through_translation() {
    pi_on("@an/echo-last", "/v1/messages").await;
}

/// Runs `pi -p` on `model` and checks the mock got the calls on `path`.
async fn pi_on(model: &str, path: &str) {
    let Some(pi) = agent("pi") else {
        available(
            false,
            "the Pi coding agent (npm @mariozechner/pi-coding-agent)",
        );
        return;
    };
    let h = start(&format!("{GUARDRAILS}\n")).await;
    let home = tempfile::tempdir().unwrap();
    let agent_dir = home.path().join(".pi/agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    let models = serde_json::json!({"providers": {"gw": {
        "api": "openai-completions", "baseUrl": format!("{}/v1", h.base), "apiKey": KEY,
        "models": [{"id": model, "name": "mock via sluice"}]
    }}});
    std::fs::write(agent_dir.join("models.json"), models.to_string()).unwrap();
    let mut command = Command::new(pi);
    command
        .args([
            "-p",
            "--no-session",
            "--provider",
            "gw",
            "--model",
            model,
            "say hi to jane.doe@example.com",
        ])
        .env("HOME", home.path());
    let output = run(command).await;
    let stdout = assert_ok("pi -p", &output);
    assert!(
        stdout.contains("you said:") && stdout.contains("[EMAIL_1]"),
        "{stdout}"
    );
    let sent = last_user_texts(&h);
    assert!(!sent.is_empty(), "Pi called the gateway");
    assert!(
        h.mock.received().iter().all(|r| r.path == path),
        "Pi's calls went to {path}"
    );
    assert!(
        sent.iter().all(|m| !m.contains("jane.doe@example.com")),
        "the address never went upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_runs_a_tool_round_trip_through_the_responses_api() {
    codex_on("@oa/codex-agent", "/v1/responses").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_runs_a_tool_round_trip_on_a_chat_completions_model() {
    codex_on("@oc/codex-agent", "/v1/chat/completions").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_runs_a_tool_round_trip_on_an_anthropic_model() {
    codex_on("@an/codex-agent", "/v1/messages").await;
}

/// Runs `codex exec` on `model` (a mock that calls `exec_command`, then
/// answers with its output) and checks the mock got the calls on `path`.
async fn codex_on(model: &str, path: &str) {
    let Some(codex) = agent("codex") else {
        available(false, "Codex CLI (npm @openai/codex)");
        return;
    };
    let h = start(&format!("{GUARDRAILS}\n")).await;
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // Codex's own web search and sub-agents run only at OpenAI's Responses
    // API; off, every tool it sends is a function this target can call.
    let config = format!(
        r#"model = "{model}"
model_provider = "sluice"
web_search = "disabled"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.sluice]
name = "sluice"
base_url = "{}/v1"
env_key = "SLUICE_TEST_KEY"
wire_api = "responses"

[features]
multi_agent = false
web_search_request = false
"#,
        h.base
    );
    std::fs::write(home.path().join("config.toml"), config).unwrap();
    let mut command = Command::new(codex);
    command
        .args([
            "exec",
            "--skip-git-repo-check",
            "run the check, mail jane.doe@example.com",
        ])
        .current_dir(work.path())
        .env("CODEX_HOME", home.path())
        .env("SLUICE_TEST_KEY", KEY);
    let output = run(command).await;
    let stdout = assert_ok("codex exec", &output);
    assert!(
        stdout.contains("all done: ") && stdout.contains("sluice-agent-ran-this"),
        "Codex ran the command and got the answer: {stdout}"
    );
    let received = h.mock.received();
    assert!(received.len() >= 2, "a tool call and the answer after it");
    assert!(
        received.iter().all(|r| r.path == path),
        "calls went to {path}"
    );
    let last = received.last().unwrap().body.to_string();
    assert!(
        last.contains("sluice-agent-ran-this"),
        "the tool's output went back: {last}"
    );
    assert!(
        received
            .iter()
            .all(|r| !r.body.to_string().contains("jane.doe@example.com")),
        "the address never went upstream"
    );
}
