//! Real clients on the clouds, through the gateway in front of the strict
//! fakes ([`super::clouds`]): Claude Code on Bedrock-served and
//! Vertex-served Claude (its prompt-caching blocks arrive intact), Pi on a
//! Gemini API model and on Gemini on Vertex AI, and the `openai` Python
//! package on Azure deployments (a tool round trip, streams, a throttled
//! deployment), the PII guardrail redacting on the way in and out. Like
//! `sdk.rs`, a missing client is reported (or fails under
//! `SLUICE_REQUIRE_CLIENTS=1`).

use super::clouds::{Clouds, start_with_models};
use super::fake_bedrock;
use super::gateway::KEY;
use super::mock_upstream::Received;
use super::sdk::{agent, assert_ok, available, claude_code, pi_command, python_has, run};
use std::path::Path;
use std::process::Command;

/// Claude Code's model names, served by the clouds.
const CLAUDE_MODELS: &str = r#""claude-on-bedrock" = "@bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
"claude-on-vertex" = "@vertex/claude-sonnet-4-5@20250929"
"#;

/// Starts the clouds with Claude Code's model names.
async fn clouds() -> Clouds {
    start_with_models(fake_bedrock::SECRET_ACCESS_KEY, CLAUDE_MODELS).await
}

/// Checks what a fake received from a client: something, never the address.
fn nothing_leaked(received: &[Received]) {
    assert!(!received.is_empty(), "the client reached the cloud");
    for request in received {
        let body = request.body.to_string();
        assert!(!body.contains("jane.doe@example.com"), "{body}");
    }
}

/// Runs `claude -p` on `model` (a `[models]` name); the fake's requests.
async fn claude_code_on(model: &str, received: impl Fn(&Clouds) -> Vec<Received>) {
    let Some(claude) = agent("claude") else {
        available(false, "Claude Code (npm @anthropic-ai/claude-code)");
        return;
    };
    let clouds = clouds().await;
    let home = tempfile::tempdir().unwrap();
    let command = claude_code(&claude, home.path(), &clouds.gateway.base, model);
    let output = run(command).await;
    let stdout = assert_ok("claude -p", &output);
    assert!(stdout.contains("you said:"), "{stdout}");
    assert!(stdout.contains("say hi to [EMAIL_1]"), "{stdout}");
    let received = received(&clouds);
    nothing_leaked(&received);
    assert!(
        received
            .iter()
            .any(|r| r.body.to_string().contains("\"cache_control\"")),
        "Claude Code's prompt-caching blocks arrive intact"
    );
    assert!(
        received.iter().any(|r| r.body["tools"].is_array()),
        "its tools arrive"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_works_on_bedrock_served_claude() {
    claude_code_on("claude-on-bedrock", |clouds| {
        let received = clouds.bedrock.received();
        for request in &received {
            assert!(
                request.path.ends_with("/invoke-with-response-stream")
                    || request.path.ends_with("/invoke"),
                "{}",
                request.path
            );
            assert_eq!(request.body["anthropic_version"], "bedrock-2023-05-31");
        }
        received
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_works_on_vertex_served_claude() {
    claude_code_on("claude-on-vertex", |clouds| {
        let received = clouds.vertex.received();
        for request in &received {
            assert!(
                request.path.contains("/publishers/anthropic/models/"),
                "{}",
                request.path
            );
            assert_eq!(request.body["anthropic_version"], "vertex-2023-10-16");
        }
        received
    })
    .await;
}

/// Runs `pi -p` on `model`; the fake's requests.
async fn pi_on(model: &str, received: impl Fn(&Clouds) -> Vec<Received>) {
    let Some(pi) = agent("pi") else {
        available(
            false,
            "the Pi coding agent (npm @mariozechner/pi-coding-agent)",
        );
        return;
    };
    let clouds = clouds().await;
    let home = tempfile::tempdir().unwrap();
    let command = pi_command(&pi, home.path(), &clouds.gateway.base, model);
    let output = run(command).await;
    let stdout = assert_ok("pi -p", &output);
    assert!(
        stdout.contains("you said:") && stdout.contains("[EMAIL_1]"),
        "{stdout}"
    );
    let received = received(&clouds);
    nothing_leaked(&received);
    for request in &received {
        assert!(
            request.body["contents"].is_array(),
            "Gemini's own body: {}",
            request.body
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pi_works_on_a_gemini_api_model() {
    pi_on("@gemini/gemini-2.5-pro", |clouds| clouds.gemini.received()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pi_works_on_gemini_on_vertex() {
    pi_on("@vertex/gemini-2.5-pro", |clouds| clouds.vertex.received()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_python_sdk_works_on_azure_deployments() {
    if !available(python_has("openai"), "the `openai` Python package") {
        return;
    }
    let clouds = clouds().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/sdk/azure_client.py");
    let mut command = Command::new("python3");
    command.arg(&script).arg(&clouds.gateway.base).arg(KEY);
    let output = run(command).await;
    assert_ok("azure_client.py", &output);
    nothing_leaked(&clouds.azure.received());
}
